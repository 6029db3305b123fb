/*
 * Submitting changes: each is validated, its entry located, the policy and
 * the filter decide, the job is planned, everything that could fail is
 * reserved, the entry is written through, then committed. The batch form
 * prefetches ahead to hide memory latency.
 */
#include "explained.h"
#include "durable.h"
#include "entries.h"
#include "host.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "problems.h"
#include "txn.h"
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

/* Why a change failed the checks of change_ok(): the message, out of line. */
static STG__COLD int submit_refused(stg_log *log, const stg_submit *s)
{
	size_t len;

	if (STG__VERSION_BAD(s->version, STG_SUBMIT_VERSION))
		return stg__version_fail(log->errmsg, "stg_log_submit", &stg__v_submit, s->version);
	if (!stg__key_ok(s->integration, &len) || !stg__key_ok(s->sku, &len))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_submit: integration and sku must be 1 to %d bytes", STG_KEY_MAX);
	if (s->flags & ~(unsigned)STG_CHANGE_NON_STOCK)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: unknown flags 0x%x", s->flags);
	if (s->category && !stg__key_ok(s->category, NULL))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_submit: category must be NULL or 1 to %d bytes", STG_KEY_MAX);
	return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: changed_at %lld is negative",
	                 (long long)s->changed_at);
}

/*
 * One change on its way through submit_one(): the entry as it will be (a
 * copy, `e`), its job record as it will be when that changes (`j`, viewed
 * through `jview`), and the decision. Nothing of the log changes until
 * commit().
 */
typedef struct change {
	const stg_submit *s;
	int64_t *nowp;
	stg__key k;
	size_t slen;
	uint32_t integ, idx;
	const stg_policy *pol;
	stg__ent e, *ent;       /* the copy; the entry itself when found */
	stg__job j, *jold;      /* the new or changed job record; the waiting one */
	const stg__job *jview;  /* what storage sees of the job */
	int found, decision, reason, fresh_warning, new_job, resched, source;
	int64_t min, changed_at, pub;
	unsigned warn;
} change;

/* Validate (unless a batch prepared the key) and find the entry. */
static int locate(stg_log *log, change *c, const stg__key *pre, uint32_t hint)
{
	const stg_submit *s = c->s;
	size_t ilen;
	int rc;

	if (pre) {
		c->k = *pre;
		c->integ = c->k.integ;
		c->slen = c->k.len;
	} else {
		if (STG__UNLIKELY(!change_ok(s, &ilen, &c->slen)))
			return submit_refused(log, s);
		if ((rc = stg__log_get_integ(log, "stg_log_submit", s->integration, ilen, &c->integ)))
			return rc;
		stg__key_make(&c->k, c->integ, s->sku, c->slen);
	}
	c->pol = stg__log_policy(log, c->integ);
	/* A batch's prefetch already walked the probe: when the entry it found
	 * holds this key, it is this key's entry (keys are unique). */
	if (hint != UINT32_MAX && stg__index_is(log, &c->k, hint)) {
		c->found = 1;
		c->idx = hint;
	} else {
		c->found = stg__index_find(log, &c->k, &c->idx);
	}
	return STG_OK;
}

/* A change older than the one applied: counted, answered, nothing kept. */
static void answer_stale(const change *c, stg__counters *cnt, stg_submit_result *res)
{
	cnt->changes++;
	cnt->stale++;
	res->decision = STG_DECISION_STALE;
	res->reason = STG_REASON_STALE;
	res->priority = STG_PRIORITY_NORMAL;
	res->published = c->ent->published;
}

/* A waiting or in-flight job: one job per SKU, the newest quantity rides on it. */
static void plan_coalesce(stg_log *log, change *c, int js)
{
	int prio;

	c->decision = STG_DECISION_COALESCED;
	c->reason = STG_REASON_COALESCED;
	c->jold = &log->jobs.v[c->e.job - 1];
	c->jview = c->jold;
	/* The latency of a follow-up job starts at its oldest change. */
	if (js == STG_JOB_IN_FLIGHT && c->e.published == c->jold->sent && c->pub != c->jold->sent) {
		c->j = *c->jold;
		c->j.follow_since = c->changed_at;
		c->jview = &c->j;
	}
	prio = job_priority(c->pol, (c->e.flags & STG_ENTRY_HAS_ACKED) != 0, c->e.acked, c->pub, c->warn);
	c->resched = js != STG_JOB_IN_FLIGHT && prio != c->e.priority;
	c->e.priority = (unsigned)prio;
}

/* No job: the filter decides on published values; an export plans a job. */
static void plan_decide(stg_log *log, change *c)
{
	const stg_policy *pol = c->pol;
	int has_p0 = 0;
	int64_t p0 = 0;

	if (c->found && c->e.status == STG_ENTRY_ERROR) {
		/* The marketplace holds what it last acknowledged, not our last change. */
		has_p0 = (c->e.flags & STG_ENTRY_HAS_ACKED) != 0;
		p0 = c->e.acked;
	} else if (c->found) {
		unsigned w0;
		has_p0 = 1;
		p0 = stg__policy_pub(pol, c->min, c->e.available, &w0);
	}
	if (c->found && c->e.status == STG_ENTRY_ERROR && !has_p0) {
		c->decision = STG_DECISION_EXPORT;
		c->reason = STG_REASON_AFTER_ERROR;
	} else {
		/* p0 may be an acknowledged quantity with no available behind
		 * it, so the table is applied to published values directly.
		 * The time since the last export matters to the heartbeat only. */
		int64_t since = pol->heartbeat_ms && (c->e.flags & STG_ENTRY_HAS_ACKED)
		                ? now_of(log, c->nowp) - c->e.acked_at : -1;
		c->decision = stg__filter_table(pol, has_p0, (c->s->flags & STG_CHANGE_NON_STOCK) != 0,
		                                p0, c->pub, since, &c->reason);
	}
	if (c->decision != STG_DECISION_EXPORT)
		return;
	c->new_job = 1;
	memset(&c->j, 0, sizeof c->j);
	c->j.since = c->changed_at;
	c->j.due = now_of(log, c->nowp);
	/* Read before job_id takes the place of the acked_at gap. */
	c->j.last_attempt = stg__ent_last_attempt(&c->e, NULL, c->found ? stg__prob_of(log, c->ent) : NULL);
	c->j.ent = c->found ? c->idx : stg__ents_next(log);
	c->j.used = 1;
	c->jview = &c->j;
	c->e.job_id = stg__log_new_job_id(log);
	c->e.status = STG_ENTRY_PENDING;
	stg__ent_set_job_state(&c->e, STG_JOB_QUEUED);
	c->e.priority = (unsigned)job_priority(pol, has_p0, p0, c->pub, c->warn);
}

/* The entry as it will be: the newest evaluation is what a job, or a reprocess, sends. */
static void plan_entry(stg_log *log, change *c)
{
	const stg_submit *s = c->s;

	stg_evaluation ev;

	stg__policy_resolve(c->pol, s->sku, s->category, &c->min, &c->source);
	/* The whole evaluation, not only the quantity: the entry keeps where
	 * its minimum came from and which rule set it (stg_entry_explain()). */
	stg__policy_eval(c->pol, c->min, c->source, s->available, &ev);
	c->pub = ev.published;
	c->warn = ev.warnings;
	c->e.explain = stg__explain_pack(ev.min_source, ev.rule);
	c->fresh_warning = c->warn && !(c->e.flags & STG_ENTRY_MIN_STOCK_REACHED);
	c->changed_at = s->changed_at ? s->changed_at : now_of(log, c->nowp);
	if (stg__ent_job_state(&c->e) != STG_JOB_NONE)
		plan_coalesce(log, c, stg__ent_job_state(&c->e));
	else
		plan_decide(log, c);
	if (c->decision != STG_DECISION_SKIP && (s->flags & STG_CHANGE_NON_STOCK))
		c->e.flags |= STG_ENTRY_NON_STOCK;
	c->e.published = c->pub;
	c->e.available = s->available;
	c->e.sequence = s->sequence;
	c->e.changed_at = c->changed_at;
	c->e.reason = (unsigned)c->reason;
	if (c->warn)
		c->e.flags |= STG_ENTRY_MIN_STOCK_REACHED;
	else
		c->e.flags &= ~STG_ENTRY_MIN_STOCK_REACHED;
}

/* Everything that could fail, before storage sees the change; then the write. */
static int reserve_and_write(stg_log *log, change *c)
{
	int rc;

	if (!c->found && (rc = stg__ent_set_sku(log, &c->e, c->s->sku, c->slen)))
		return stg__fail(log->errmsg, rc, "stg_log_submit: out of memory");
	/* A new job record may move the records: jold is not used after this. */
	if ((c->new_job && stg__jobs_reserve(&log->jobs, &log->alloc, 1)) ||
	    ((c->new_job || c->resched) && stg__sched_reserve(log, c->integ, c->e.priority, 1))) {
		rc = stg__fail(log->errmsg, STG_ENOMEM, "stg_log_submit: out of memory");
		goto undo;
	}
	if (log->has_storage &&
	    (rc = stg__log_write_view(log, c->found ? c->idx : STG__TXN_NEW, &c->e, c->jview,
	                              c->found ? stg__prob_of(log, c->ent) : NULL)))
		goto undo;
	return STG_OK;
undo:
	if (!c->found)
		stg__ent_free_sku(log, &c->e);
	return rc;
}

/* Nothing below can fail: the change takes its place in the log. */
static void commit(stg_log *log, change *c, stg__counters *cnt, stg_submit_result *res)
{
	uint32_t idx;

	if (!c->found) {
		c->idx = stg__ents_take(log);
		stg__index_insert(log, c->k.hash, c->idx);
		c->e.bits |= stg__txn_new_bits(log);
	} else {
		stg__txn_carry(c->ent, &c->e);
	}
	idx = c->idx;
	if (c->new_job) {
		uint32_t kj = stg__jobs_take(&log->jobs, idx);
		c->j.ent = idx;
		log->jobs.v[kj] = c->j;
		c->e.job = kj + 1;
	} else if (c->jview == &c->j) {
		*c->jold = c->j;
	}
	c->ent = stg__ent_at(log, idx);
	*c->ent = c->e;
	stg__log_clear_dirty(log, idx);
	if (c->new_job || c->resched)
		stg__sched_push(log, idx, now_of(log, c->nowp));

	cnt->changes++;
	if (c->decision == STG_DECISION_EXPORT)
		cnt->exports++;
	else if (c->decision == STG_DECISION_COALESCED)
		cnt->coalesced++;
	else
		cnt->skips[c->reason]++;
	if (c->warn)
		cnt->warnings++;
	res->decision = c->decision;
	res->reason = c->reason;
	res->published = c->pub;
	res->warnings = c->warn;
	res->priority = c->decision == STG_DECISION_SKIP ? STG_PRIORITY_NORMAL : c->e.priority;
	res->job_id = c->decision == STG_DECISION_SKIP ? 0 : (uint64_t)c->e.job_id << 32 | idx;
}

/* The merchant is told once, when a SKU's stock first reaches the minimum. */
static void warn_min_stock(stg_log *log, const change *c)
{
	stg_event ev;

	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_MIN_STOCK_REACHED;
	ev.integration = log->integs[c->integ].name;
	ev.sku = stg__ent_sku(c->ent);
	ev.available = c->s->available;
	ev.min_stock = c->min;
	ev.time = now_of(log, c->nowp);
	stg__log_event(log, &ev);
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
	change c;
	stg__counters *cnt;
	int rc;

	c.s = s;
	c.nowp = nowp;
	c.idx = 0;
	c.ent = NULL;
	c.jold = NULL;
	c.jview = NULL;
	c.new_job = c.resched = 0;
	if ((rc = locate(log, &c, pre, hint)) || (rc = stg__txn_count(log, c.integ)))
		return rc;
	cnt = &log->integs[c.integ].counters;
	memset(res, 0, sizeof *res);
	if (c.found) {
		c.ent = stg__ent_at(log, c.idx);
		if (s->sequence < c.ent->sequence) {
			answer_stale(&c, cnt, res);
			return STG_OK;
		}
		c.e = *c.ent;
	} else {
		if ((rc = stg__ents_reserve(log)))
			return stg__fail(log->errmsg, rc, "stg_log_submit: out of memory");
		memset(&c.e, 0, sizeof c.e);
		c.e.integ = (uint16_t)c.integ;
		stg__ent_set_latency(&c.e, -1);
		c.e.priority = STG_PRIORITY_NORMAL;
		c.e.bits = STG__B_LIVE;
	}
	plan_entry(log, &c);
	if ((rc = reserve_and_write(log, &c)))
		return rc;
	commit(log, &c, cnt, res);
	if (c.fresh_warning)
		warn_min_stock(log, &c);
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
	stg__index_prefetch(log, p->k.hash);
}

static void prefetch_entry(const stg_log *log, prep *p)
{
	const char *e;

	if (!p->ok || (p->ent = stg__index_candidate(log, p->k.hash)) == UINT32_MAX)
		return;
	e = (const char *)stg__ent_at(log, p->ent);
	STG__PREFETCH(e);
	STG__PREFETCH(e + 64);
	STG__PREFETCH(e + sizeof(stg__ent) - 1);
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
	int rc = STG_OK, pf, own;

	if (done)
		*done = 0;
	STG__ENTER(log, "stg_log_submit_batch");
	if (n && !s)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit_batch: NULL changes");
	stg__log_flush_owed(log);
	/* One storage commit for the batch; the prefix that went in is its. */
	own = stg__txn_start(log, STG__TXN_UNDO);
	/* A batch larger than the log (a first feed, a new integration) would
	 * grow the index a doubling at a time, each rehash reading every entry
	 * again: size it once for all the changes. When most of them turn out
	 * to be updates (one SKU many times), that wastes up to about 21 bytes
	 * of slots per change of the batch, a fifth of the caller's own arrays;
	 * without the memory, growth goes on a doubling at a time. */
	if (n > log->live)
		(void)stg__index_reserve_for(log, n);
	pf = stg__index_capacity(log) >= PF_MIN_SLOTS && n > PF_AHEAD;
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
	if (own && stg__txn_end(log, "stg_log_submit_batch", &rc))
		i = 0; /* undone: none of it is applied */
	if (done)
		*done = i;
	return rc;
}
