/*
 * Submitting changes: each is validated, its entry located, the policy and
 * the filter decide, the job is planned, everything that could fail is
 * reserved, the entry is written through, then committed. The batch form
 * prefetches ahead to hide memory latency.
 */
#include "durable.h"
#include "entries.h"
#include "host.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "problems.h"
#include "versions.h"

/*
 * Priority of a job publishing p1, the marketplace last having p0 (or not).
 * Crossing the cutoff either way is urgent: down, an oversell risk; up, a
 * restocked SKU that cannot be sold until the marketplace hears of it.
 */
static int job_priority(const stg_policy *p, int has_p0, int64_t p0, int64_t p1, unsigned warn)
{
	if (p1 == 0 || warn || (has_p0 && p0 == 0))
		return STG_PRIORITY_URGENT;
	if (p1 <= p->window || (has_p0 && p0 <= p->window))
		return STG_PRIORITY_LOW_STOCK;
	return STG_PRIORITY_NORMAL;
}

/* The clock, read at most once per call and only when a change needs it
 * (a coalescing change with its own time does not). */
static int64_t now_of(stg_log *log, int64_t *now)
{
	if (*now < 0)
		*now = stg__log_now(log);
	return *now;
}

/* The checks of a change, without side effects: 0 when it is not
 * acceptable. change_rest_ok() leaves out the integration name, which a
 * batch may have checked already for the previous change. */
static int change_rest_ok(const stg_submit *s, size_t *slen)
{
	return !STG__VERSION_BAD(s->version, STG_SUBMIT_VERSION) && stg__key_ok(s->sku, slen) &&
	       !(s->flags & ~(unsigned)STG_CHANGE_NON_STOCK) &&
	       (!s->category || stg__key_ok(s->category, NULL)) && s->changed_at >= 0;
}

static int change_ok(const stg_submit *s, size_t *ilen, size_t *slen)
{
	/* The version first (in change_rest_ok): it says how to read the rest. */
	return change_rest_ok(s, slen) && stg__key_ok(s->integration, ilen);
}

/*
 * One change. @pre is its key when the batch prepared it (checked, its
 * integration known), else NULL. Works on copies of the entry (and of its
 * job record when that changes), writes them through, then commits them:
 * everything that could fail (memory for a new entry, job record or queue
 * item) is reserved before storage sees the change, so after a successful
 * write nothing can fail any more. A change to an existing SKU allocates
 * nothing unless a table has to grow.
 */
static int submit_one(stg_log *log, const stg_submit *s, stg_submit_result *res, int64_t *nowp,
                      const stg__key *pre, uint32_t hint)
{
	size_t ilen, slen;
	uint32_t integ, idx = 0;
	const stg_policy *pol;
	stg__counters *c;
	stg__ent e, *ent = NULL;
	stg__job j, *jold = NULL;
	const stg__job *jview = NULL;
	stg__key k;
	int found, rc, decision, reason, fresh_warning, js, new_job = 0, resched = 0;
	int64_t min, changed_at, pub;
	unsigned warn;
	int source;

	if (pre) {
		k = *pre;
		integ = k.integ;
		slen = k.len;
	} else {
		if (STG__UNLIKELY(!change_ok(s, &ilen, &slen))) {
			if (STG__VERSION_BAD(s->version, STG_SUBMIT_VERSION))
				return stg__version_fail(log->errmsg, "stg_log_submit", &stg__v_submit,
				                         s->version);
			if (!stg__key_ok(s->integration, &ilen) || !stg__key_ok(s->sku, &slen))
				return stg__fail(log->errmsg, STG_EINVAL,
				                 "stg_log_submit: integration and sku must be 1 to %d bytes",
				                 STG_KEY_MAX);
			if (s->flags & ~(unsigned)STG_CHANGE_NON_STOCK)
				return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: unknown flags 0x%x",
				                 s->flags);
			if (s->category && !stg__key_ok(s->category, NULL))
				return stg__fail(log->errmsg, STG_EINVAL,
				                 "stg_log_submit: category must be NULL or 1 to %d bytes",
				                 STG_KEY_MAX);
			return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: changed_at %lld is negative",
			                 (long long)s->changed_at);
		}
		if ((rc = stg__log_get_integ(log, "stg_log_submit", s->integration, ilen, &integ)))
			return rc;
		stg__key_make(&k, integ, s->sku, slen);
	}
	pol = stg__log_policy(log, integ);
	c = &log->integs[integ].counters;
	/* A batch's prefetch already walked the probe: when the entry it found
	 * holds this key, it is this key's entry (keys are unique). */
	if (hint != UINT32_MAX && stg__index_is(log, &k, hint)) {
		found = 1;
		idx = hint;
	} else {
		found = stg__index_find(log, &k, &idx);
	}
	memset(res, 0, sizeof *res);

	if (found) {
		ent = stg__ent_at(log, idx);
		if (s->sequence < ent->sequence) {
			c->changes++;
			c->stale++;
			res->decision = STG_DECISION_STALE;
			res->reason = STG_REASON_STALE;
			res->priority = STG_PRIORITY_NORMAL;
			res->published = ent->published;
			return STG_OK;
		}
		e = *ent;
	} else {
		if ((rc = stg__ents_reserve(log)))
			return stg__fail(log->errmsg, rc, "stg_log_submit: out of memory");
		memset(&e, 0, sizeof e);
		e.integ = (uint16_t)integ;
		stg__ent_set_latency(&e, -1);
		e.priority = STG_PRIORITY_NORMAL;
		e.bits = STG__B_LIVE;
	}
	stg__policy_resolve(pol, s->sku, s->category, &min, &source);
	pub = stg__policy_pub(pol, min, s->available, &warn);
	fresh_warning = warn && !(e.flags & STG_ENTRY_MIN_STOCK_REACHED);
	changed_at = s->changed_at ? s->changed_at : now_of(log, nowp);
	js = stg__ent_job_state(&e);

	if (js != STG_JOB_NONE) {
		int prio;
		/* One job per SKU: the newest quantity rides on the waiting one. */
		decision = STG_DECISION_COALESCED;
		reason = STG_REASON_COALESCED;
		jold = &log->jobs.v[e.job - 1];
		jview = jold;
		/* The latency of a follow-up job starts at its oldest change. */
		if (js == STG_JOB_IN_FLIGHT && e.published == jold->sent && pub != jold->sent) {
			j = *jold;
			j.follow_since = changed_at;
			jview = &j;
		}
		prio = job_priority(pol, (e.flags & STG_ENTRY_HAS_ACKED) != 0, e.acked, pub, warn);
		resched = js != STG_JOB_IN_FLIGHT && prio != e.priority;
		e.priority = (unsigned)prio;
	} else {
		int has_p0 = 0;
		int64_t p0 = 0;
		if (found && e.status == STG_ENTRY_ERROR) {
			/* The marketplace holds what it last acknowledged, not our last change. */
			has_p0 = (e.flags & STG_ENTRY_HAS_ACKED) != 0;
			p0 = e.acked;
		} else if (found) {
			unsigned w0;
			has_p0 = 1;
			p0 = stg__policy_pub(pol, min, e.available, &w0);
		}
		if (found && e.status == STG_ENTRY_ERROR && !has_p0) {
			decision = STG_DECISION_EXPORT;
			reason = STG_REASON_AFTER_ERROR;
		} else {
			/* p0 may be an acknowledged quantity with no available behind
			 * it, so the table is applied to published values directly.
			 * The time since the last export matters to the heartbeat only. */
			int64_t since = pol->heartbeat_ms && (e.flags & STG_ENTRY_HAS_ACKED)
			                ? now_of(log, nowp) - e.acked_at : -1;
			decision = stg__filter_table(pol, has_p0, (s->flags & STG_CHANGE_NON_STOCK) != 0,
			                             p0, pub, since, &reason);
		}
		if (decision == STG_DECISION_EXPORT) {
			new_job = 1;
			memset(&j, 0, sizeof j);
			j.since = changed_at;
			j.due = now_of(log, nowp);
			/* Read before job_id takes the place of the acked_at gap. */
			j.last_attempt = stg__ent_last_attempt(&e, NULL, found ? stg__prob_of(log, ent) : NULL);
			j.ent = found ? idx : stg__ents_next(log);
			j.used = 1;
			jview = &j;
			e.job_id = stg__log_new_job_id(log);
			e.status = STG_ENTRY_PENDING;
			stg__ent_set_job_state(&e, STG_JOB_QUEUED);
			e.priority = (unsigned)job_priority(pol, has_p0, p0, pub, warn);
		}
	}
	if (decision != STG_DECISION_SKIP && (s->flags & STG_CHANGE_NON_STOCK))
		e.flags |= STG_ENTRY_NON_STOCK;
	/* Always the newest evaluation: what a job, or a reprocess, sends. */
	e.published = pub;
	e.available = s->available;
	e.sequence = s->sequence;
	e.changed_at = changed_at;
	e.reason = (unsigned)reason;
	if (warn)
		e.flags |= STG_ENTRY_MIN_STOCK_REACHED;
	else
		e.flags &= ~STG_ENTRY_MIN_STOCK_REACHED;

	if (!found && (rc = stg__ent_set_sku(log, &e, s->sku, slen)))
		return stg__fail(log->errmsg, rc, "stg_log_submit: out of memory");
	/* A new job record may move the records: jold is not used after this. */
	if ((new_job && stg__jobs_reserve(log, 1)) ||
	    ((new_job || resched) && stg__sched_reserve(log, integ, e.priority, 1))) {
		if (!found)
			stg__ent_free_sku(log, &e);
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_submit: out of memory");
	}
	if (log->has_storage &&
	    (rc = stg__log_write_view(log, &e, jview, found ? stg__prob_of(log, ent) : NULL))) {
		if (!found)
			stg__ent_free_sku(log, &e);
		return rc;
	}

	/* Commit: nothing below can fail. */
	if (!found) {
		idx = stg__ents_take(log);
		stg__index_insert(log, k.hash, idx);
	}
	if (new_job) {
		uint32_t kj = stg__jobs_take(log, idx);
		j.ent = idx;
		log->jobs.v[kj] = j;
		e.job = kj + 1;
	} else if (jview == &j) {
		*jold = j;
	}
	ent = stg__ent_at(log, idx);
	*ent = e;
	stg__log_clear_dirty(log, idx);
	if (new_job || resched)
		stg__sched_push(log, idx, now_of(log, nowp));

	c->changes++;
	if (decision == STG_DECISION_EXPORT)
		c->exports++;
	else if (decision == STG_DECISION_COALESCED)
		c->coalesced++;
	else
		c->skips[reason]++;
	if (warn)
		c->warnings++;
	res->decision = decision;
	res->reason = reason;
	res->published = pub;
	res->warnings = warn;
	res->priority = decision == STG_DECISION_SKIP ? STG_PRIORITY_NORMAL : e.priority;
	res->job_id = decision == STG_DECISION_SKIP ? 0 : (uint64_t)e.job_id << 32 | idx;
	if (fresh_warning) {
		stg_event ev;
		memset(&ev, 0, sizeof ev);
		ev.type = STG_EVENT_MIN_STOCK_REACHED;
		ev.integration = log->integs[integ].name;
		ev.sku = stg__ent_sku(ent);
		ev.available = s->available;
		ev.min_stock = min;
		ev.time = now_of(log, nowp);
		stg__log_event(log, &ev);
	}
	return STG_OK;
}

STG_EXTERN int stg_log_submit(stg_log *log, const stg_submit *s, stg_submit_result *out)
{
	stg_submit_result tmp;
	int64_t now = -1;

	STG__ENTER(log, "stg_log_submit");
	if (!s)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: NULL change");
	stg__log_flush_owed(log);
	return submit_one(log, s, out ? out : &tmp, &now, NULL, UINT32_MAX);
}

/*
 * Batches hide memory latency. In a large log each change costs two cache
 * misses in a row (its index slot, then its entry), far more than the work
 * on it. A batch overlaps them: change i + PF_AHEAD is checked, hashed and
 * its slot fetched; at i + PF_AHEAD / 2 the entry that slot points to is
 * fetched, and at i + PF_AHEAD / 4 its job record; change i then finds
 * them in cache and, when the entry found holds its key, skips the probe.
 * The caller's SKU text is fetched before prepare() hashes it (a host's
 * strings are scattered too). A change whose integration does not exist
 * yet, or that fails a check, is not prepared and goes the ordinary way
 * (creating the integration, or failing, in order).
 */
#define PF_AHEAD 16
#define PF_MIN_SLOTS (UINT32_C(1) << 17) /* smaller logs stay in cache: no need */

typedef struct prep {
	stg__key k;
	uint32_t ent; /* the entry prefetch_entry() found, UINT32_MAX: none */
	int ok;
} prep;

/* The integration of the last prepared change: a batch is mostly for one
 * integration, passed as one pointer, whose id then needs no lookup. Ids
 * never change, and the text behind the pointer is the caller's, constant
 * for the call (as the SKU text prepare() hashes ahead). */
typedef struct prep_integ {
	const char *name; /* NULL: none yet */
	uint32_t integ;
} prep_integ;

static void prepare(const stg_log *log, const stg_submit *s, prep *p, prep_integ *last)
{
	size_t ilen, slen;
	uint32_t integ = 0;

	p->ent = UINT32_MAX;
	if (s->integration && s->integration == last->name) {
		p->ok = change_rest_ok(s, &slen);
		integ = last->integ;
	} else {
		p->ok = change_ok(s, &ilen, &slen) &&
		        stg__log_find_integ(log, s->integration, ilen, &integ);
		if (p->ok) {
			last->name = s->integration;
			last->integ = integ;
		}
	}
	if (!p->ok)
		return;
	stg__key_make(&p->k, integ, s->sku, slen);
	STG__PREFETCH(&log->slots[(uint32_t)p->k.hash & (log->slots_cap - 1)]);
}

static void prefetch_entry(const stg_log *log, prep *p)
{
	uint32_t mask = log->slots_cap - 1, imask = log->slot_idx_mask, i, sl;
	uint32_t tag = (uint32_t)(p->k.hash >> 32) & ~imask;

	if (!p->ok)
		return;
	/* The first slot with the key's tag is nearly always its entry. */
	for (i = (uint32_t)p->k.hash & mask; (sl = log->slots[i]) != 0; i = (i + 1) & mask) {
		if ((sl & ~imask) == tag && (sl & imask) - 1 < log->nents) {
			const char *e = (const char *)stg__ent_at(log, (sl & imask) - 1);
			p->ent = (sl & imask) - 1;
			STG__PREFETCH(e);
			STG__PREFETCH(e + 64);
			STG__PREFETCH(e + sizeof(stg__ent) - 1);
			return;
		}
	}
}

/* A change to a SKU with a waiting job may move that job to another queue,
 * which reads and writes its record: fetch it once the entry is in. */
static void prefetch_job(const stg_log *log, const prep *p)
{
	const stg__ent *e;

	if (p->ent == UINT32_MAX)
		return;
	e = stg__ent_at(log, p->ent);
	if (e->job)
		STG__PREFETCH(&log->jobs.v[e->job - 1]);
}

STG_EXTERN int stg_log_submit_batch(stg_log *log, const stg_submit *s, size_t n,
                                    stg_submit_result *results, size_t *done)
{
	stg_submit_result tmp;
	prep ring[PF_AHEAD];
	prep_integ last = { NULL, 0 };
	int64_t now = -1;
	size_t i;
	int rc = STG_OK, pf;

	if (done)
		*done = 0;
	STG__ENTER(log, "stg_log_submit_batch");
	if (n && !s)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit_batch: NULL changes");
	stg__log_flush_owed(log);
	pf = log->slots_cap >= PF_MIN_SLOTS && n > PF_AHEAD;
	for (i = 0; pf && i < PF_AHEAD; i++)
		prepare(log, &s[i], &ring[i], &last);
	for (i = 0; i < n; i++) {
		prep *p = &ring[i % PF_AHEAD];
		if (pf && i + PF_AHEAD / 2 < n)
			prefetch_entry(log, &ring[(i + PF_AHEAD / 2) % PF_AHEAD]);
		if (pf && i + PF_AHEAD / 4 < n)
			prefetch_job(log, &ring[(i + PF_AHEAD / 4) % PF_AHEAD]);
		/* A prepared key stays right whatever happened since: the hash
		 * depends on the key alone, the integration ids never change. */
		rc = submit_one(log, &s[i], results ? &results[i] : &tmp, &now, pf && p->ok ? &p->k : NULL,
		                pf && p->ok ? p->ent : UINT32_MAX);
		if (rc)
			break;
		if (pf && i + PF_AHEAD < n)
			prepare(log, &s[i + PF_AHEAD], p, &last);
		/* The caller's SKU text, read by prepare() PF_AHEAD / 2 changes later. */
		if (pf && i + PF_AHEAD + PF_AHEAD / 2 < n && s[i + PF_AHEAD + PF_AHEAD / 2].sku)
			STG__PREFETCH(s[i + PF_AHEAD + PF_AHEAD / 2].sku);
	}
	if (done)
		*done = i;
	return rc;
}
