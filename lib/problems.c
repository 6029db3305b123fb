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
 *
 * Both stores know only their own arrays and the allocator: a record that
 * moves is reported to the caller, which owns the entries that point at it
 * (lifecycle.c: stg__prob_need(), stg__prob_drop(), stg__prob_settle()).
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

static int msg_room(stg__msgs *m, const stg__alloc *a)
{
	if ((uint64_t)(m->count + 1) * 4 > (uint64_t)m->slots_cap * 3) {
		uint32_t ncap = m->slots_cap ? m->slots_cap * 2 : 16, i;
		uint32_t *ns;
		if (m->slots_cap >= (UINT32_C(1) << 30))
			return STG_ENOMEM;
		ns = stg__calloc(a, ncap, sizeof *ns);
		if (!ns)
			return STG_ENOMEM;
		for (i = 0; i < m->len; i++)
			if (m->v[i].text)
				msg_place(ns, ncap - 1, m->v[i].hash, i + 1);
		stg__free(a, m->slots);
		m->slots = ns;
		m->slots_cap = ncap;
	}
	if (m->free_head == STG__NO_FREE && m->len == m->cap) {
		stg__msg *n = stg__grow(a, m->v, &m->cap, (uint64_t)m->len + 1, sizeof *n, 8);
		if (!n)
			return STG_ENOMEM;
		m->v = n;
	}
	return STG_OK;
}

uint32_t stg__msg_intern(stg__msgs *m, const stg__alloc *a, const char *text)
{
	uint32_t len = 0, id;
	unsigned cut;
	uint64_t h;
	char *copy;

	if (!text)
		return 0;
	while (len < STG_MESSAGE_MAX && text[len])
		len++;
	/* A cut message ends on a UTF-8 character boundary: a lead byte whose
	 * continuation bytes are cut off would make the text invalid UTF-8 (a
	 * lone surrogate in Python, which print() refuses). text[len] is the
	 * first byte left out; while it continues a character, that character
	 * goes whole. Text that is not UTF-8 loses at most three bytes more. */
	if (len == STG_MESSAGE_MAX && text[len])
		for (cut = 0; cut < 3 && len > 0 && ((unsigned char)text[len] & 0xc0u) == 0x80u; cut++)
			len--;
	if (!len)
		return 0;
	h = stg__hash(text, len, 0);
	if ((id = msg_find(m, text, len, h)) != 0) {
		m->v[id - 1].refs++;
		return id;
	}
	if (msg_room(m, a))
		return 0;
	copy = stg__strdup(a, text, len);
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

void stg__msg_release(stg__msgs *m, const stg__alloc *a, uint32_t id)
{	stg__msg *g;
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
	t = (stg__table){ m->slots, sizeof *m->slots, mask, slot_home, m };
	stg__table_delete(&t, i);
	stg__free(a, g->text);
	g->text = NULL;
	g->refs = m->free_head;
	m->free_head = id - 1;
	m->count--;
}

void stg__msgs_free(stg__msgs *m, const stg__alloc *a)
{	uint32_t i;

	for (i = 0; i < m->len; i++)
		stg__free(a, m->v[i].text);
	stg__free(a, m->v);
	stg__free(a, m->slots);
	memset(m, 0, sizeof *m);
	m->free_head = STG__NO_FREE;
}

/* --------------------------------------------------------------- records */

int stg__probs_reserve(stg__probs *ps, const stg__alloc *a, uint32_t n)
{
	stg__prob *v;

	if (ps->cap - ps->len >= n)
		return STG_OK;
	if (!(v = stg__grow(a, ps->v, &ps->cap, (uint64_t)ps->len + n, sizeof *v, 8)))
		return STG_ENOMEM;
	ps->v = v;
	return STG_OK;
}

uint32_t stg__probs_add(stg__probs *ps, uint32_t ent)
{
	stg__prob *p = &ps->v[ps->len];

	memset(p, 0, sizeof *p);
	p->ent = ent;
	return ps->len++;
}

void stg__probs_remove(stg__probs *ps, uint32_t k, stg__moved_fn moved, void *ctx)
{
	uint32_t last = --ps->len;

	if (k != last) {
		ps->v[k] = ps->v[last];
		moved(ctx, ps->v[k].ent, k);
	}
}

void stg__probs_trim(stg__probs *ps, const stg__alloc *a)
{
	ps->v = stg__shrink(a, ps->v, &ps->cap, ps->len, sizeof *ps->v);
}

void stg__probs_free(stg__probs *ps, const stg__alloc *a)
{
	stg__free(a, ps->v);
	memset(ps, 0, sizeof *ps);
}
