/*
 * Problem records and interned messages.
 *
 * A problem record holds an entry's failure information (message, HTTP
 * status, attempts, first failure, last attempt) and the rare values too
 * wide for the hot entry (a last-attempt gap beyond 24 days, a latency
 * beyond 17 years, flag bits of foreign stored data). It exists from the first failure to
 * the next success, so settled entries do not pay for it. Records are kept
 * dense (a freed one takes the last one's place): they are few, and the
 * array never holds more than the entries with problems.
 *
 * Messages are interned with a reference count: a marketplace answers many
 * SKUs with the same text ("token expired", "offer not found"), kept once.
 */
#include "hashtab.h"
#include "problems.h"

/* -------------------------------------------------------------- messages */

static uint32_t msg_find(const stg__msgs *m, const char *text, uint32_t len, uint64_t h)
{
	uint32_t mask, i;

	if (!m->slots_cap)
		return 0;
	mask = m->slots_cap - 1;
	for (i = (uint32_t)h & mask; m->slots[i]; i = (i + 1) & mask) {
		const stg__msg *g = &m->v[m->slots[i] - 1];
		if (g->hash == h && g->len == len && memcmp(g->text, text, len) == 0)
			return m->slots[i];
	}
	return 0;
}

/* A slot's home from the stored hash of the message it names. */
static size_t slot_home(const void *slot, void *ctx)
{
	const stg__msgs *m = ctx;
	uint32_t id;

	memcpy(&id, slot, sizeof id);
	return id ? (size_t)m->v[id - 1].hash & (m->slots_cap - 1) : SIZE_MAX;
}

static void msg_place(uint32_t *slots, uint32_t mask, uint64_t h, uint32_t id)
{
	uint32_t i;

	for (i = (uint32_t)h & mask; slots[i]; i = (i + 1) & mask)
		;
	slots[i] = id;
}

static int msg_room(stg_log *log)
{
	stg__msgs *m = &log->msgs;

	if ((uint64_t)(m->count + 1) * 4 > (uint64_t)m->slots_cap * 3) {
		uint32_t ncap = m->slots_cap ? m->slots_cap * 2 : 16, i;
		uint32_t *ns;
		if (m->slots_cap >= (UINT32_C(1) << 30))
			return STG_ENOMEM;
		ns = stg__calloc(&log->alloc, ncap, sizeof *ns);
		if (!ns)
			return STG_ENOMEM;
		for (i = 0; i < m->len; i++)
			if (m->v[i].text)
				msg_place(ns, ncap - 1, m->v[i].hash, i + 1);
		stg__free(&log->alloc, m->slots);
		m->slots = ns;
		m->slots_cap = ncap;
	}
	if (m->free_head == STG__NO_FREE && m->len == m->cap) {
		stg__msg *n = stg__grow(&log->alloc, m->v, &m->cap, (uint64_t)m->len + 1, sizeof *n, 8);
		if (!n)
			return STG_ENOMEM;
		m->v = n;
	}
	return STG_OK;
}

uint32_t stg__msg_intern(stg_log *log, const char *text)
{
	stg__msgs *m = &log->msgs;
	uint32_t len = 0, id;
	uint64_t h;
	char *copy;

	if (!text)
		return 0;
	while (len < STG_MESSAGE_MAX && text[len])
		len++;
	if (!len)
		return 0;
	h = stg__hash(text, len, 0);
	if ((id = msg_find(m, text, len, h)) != 0) {
		m->v[id - 1].refs++;
		return id;
	}
	if (msg_room(log))
		return 0;
	copy = stg__strdup(&log->alloc, text, len);
	if (!copy)
		return 0;
	if (m->free_head != STG__NO_FREE) {
		id = m->free_head + 1;
		m->free_head = m->v[m->free_head].refs; /* the link of a free slot */
	} else {
		id = ++m->len;
	}
	m->v[id - 1].text = copy;
	m->v[id - 1].len = len;
	m->v[id - 1].refs = 1;
	m->v[id - 1].hash = h;
	msg_place(m->slots, m->slots_cap - 1, h, id);
	m->count++;
	return id;
}

void stg__msg_release(stg_log *log, uint32_t id)
{
	stg__msgs *m = &log->msgs;
	stg__msg *g;
	stg__table t;
	uint32_t mask, i;

	if (!id)
		return;
	g = &m->v[id - 1];
	if (--g->refs)
		return;
	mask = m->slots_cap - 1;
	for (i = (uint32_t)g->hash & mask; m->slots[i] != id; i = (i + 1) & mask)
		;
	t.slots = m->slots;
	t.size = sizeof *m->slots;
	t.mask = mask;
	t.home = slot_home;
	t.ctx = m;
	stg__table_delete(&t, i);
	stg__free(&log->alloc, g->text);
	g->text = NULL;
	g->refs = m->free_head;
	m->free_head = id - 1;
	m->count--;
}

void stg__msgs_free(stg_log *log)
{
	stg__msgs *m = &log->msgs;
	uint32_t i;

	for (i = 0; i < m->len; i++)
		stg__free(&log->alloc, m->v[i].text);
	stg__free(&log->alloc, m->v);
	stg__free(&log->alloc, m->slots);
	memset(m, 0, sizeof *m);
	m->free_head = STG__NO_FREE;
}

/* --------------------------------------------------------------- records */

int stg__probs_reserve(stg_log *log, uint32_t n)
{
	stg__prob *v;

	if (log->probs_cap - log->nprobs >= n)
		return STG_OK;
	if (!(v = stg__grow(&log->alloc, log->probs, &log->probs_cap, (uint64_t)log->nprobs + n, sizeof *v, 8)))
		return STG_ENOMEM;
	log->probs = v;
	return STG_OK;
}

stg__prob *stg__prob_need(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__prob *p;

	if (e->prob)
		return &log->probs[e->prob - 1];
	p = &log->probs[log->nprobs++];
	memset(p, 0, sizeof *p);
	p->ent = idx;
	if (!e->job) {
		/* last_attempt_at was kept as a gap from acked_at; the record has it now. */
		p->last_attempt_at = stg__ent_last_attempt(e, NULL, NULL);
		e->ack_delay = 0;
	}
	e->prob = log->nprobs;
	return p;
}

void stg__prob_drop(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	uint32_t k, last;

	if (!e->prob)
		return;
	k = e->prob - 1;
	stg__msg_release(log, log->probs[k].msg);
	last = --log->nprobs;
	if (k != last) {
		log->probs[k] = log->probs[last];
		stg__ent_at(log, log->probs[k].ent)->prob = k + 1;
	}
	e->prob = 0;
}

void stg__prob_settle(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	const stg__prob *p;
	int32_t gap = 0;

	if (!e->prob)
		return;
	p = &log->probs[e->prob - 1];
	if (p->msg || p->http_status || p->attempts || p->first_failed_at || p->xflags ||
	    stg__ent_latency(e) == STG__LAT_WIDE)
		return;
	/* Without a job, last_attempt_at goes back into the entry if the gap fits
	 * (with one, the job record has it). */
	if (!e->job && !stg__gap32(e->acked_at, p->last_attempt_at, &gap))
		return;
	stg__prob_drop(log, idx);
	if (!e->job)
		e->ack_delay = gap;
}

void stg__probs_trim(stg_log *log)
{
	log->probs = stg__shrink(&log->alloc, log->probs, &log->probs_cap, log->nprobs, sizeof *log->probs);
}

void stg__probs_free(stg_log *log)
{
	uint32_t i;

	for (i = 0; i < log->nprobs; i++)
		stg__msg_release(log, log->probs[i].msg);
	stg__free(&log->alloc, log->probs);
	log->probs = NULL;
	log->nprobs = log->probs_cap = 0;
}
