/*
 * Sending jobs: the pump picks the most urgent due jobs across
 * integrations under their limits, hands them to the transport in
 * batches and applies the results; completions of asynchronous jobs;
 * when the next job is due.
 */
#include "cooldown.h"
#include "durable.h"
#include "host.h"
#include "integ.h"
#include "lifecycle.h"
#include "problems.h"
#include "results.h"
#include "txn.h"
#include "versions.h"

static void fill_job(const stg_log *log, uint32_t idx, const stg__ent *e, const stg__job *j,
                     stg_job *out)
{
	memset(out, 0, sizeof *out);
	out->id = (uint64_t)e->job_id << 32 | idx;
	out->integration = log->integs[e->integ].name;
	out->sku = stg__ent_sku(e);
	out->published = e->published;
	out->available = e->available;
	out->changed_at = e->changed_at;
	out->attempt = j->attempts + 1;
	out->priority = e->priority;
	out->flags = ((e->flags & STG_ENTRY_MIN_STOCK_REACHED) ? STG_JOB_FLAG_MIN_STOCK_REACHED : 0) |
	             ((e->flags & STG_ENTRY_NON_STOCK) ? STG_JOB_FLAG_NON_STOCK : 0);
}

#define PUMP_CHUNK 64

/* a before b in the pump's order: priority, then due time, then age. */
static int more_urgent(const stg__pick *a, const stg__pick *b)
{
	if (a->prio != b->prio)
		return a->prio < b->prio;
	if (a->it.due != b->it.due)
		return a->it.due < b->it.due;
	return a->it.order < b->it.order;
}

/* One transport batch: the jobs handed out, and what to restore if the
 * transport fails as a whole. */
typedef struct batch {
	stg_job jobs[PUMP_CHUNK];
	stg_job_result results[PUMP_CHUNK];
	uint32_t idxs[PUMP_CHUNK];
	int64_t last_attempt[PUMP_CHUNK];
	int prev_state[PUMP_CHUNK];       /* queued or held: restored if the transport fails */
	size_t n;
} batch;

/* The most urgent due job among integrations that may send now (not
 * paused, scope not cooling down, rate budget left): 1 and its
 * integration, or 0 when none is due. */
static int most_urgent(stg_log *log, int64_t now, stg__pick *best, uint32_t *bi)
{
	stg__pick pk;
	uint32_t i;
	int have = 0;

	for (i = 0; i < log->ninteg; i++) {
		stg__integ *x = &log->integs[i];
		if (x->paused || stg__integ_budget(x) == 0 || stg__integ_cooling(log, x, now) ||
		    !stg__sched_best(log, x, now, &pk))
			continue;
		if (!have || more_urgent(&pk, best)) {
			*best = pk;
			*bi = i;
			have = 1;
		}
	}
	return have;
}

/* How many jobs the next batch of integration @bi may hold. */
static size_t batch_cap(const stg_log *log, const stg__integ *in, size_t max_jobs, size_t total)
{
	size_t cap = log->transport.send_batch ? in->batch_size : 1;

	if (cap > PUMP_CHUNK)
		cap = PUMP_CHUNK;
	if (cap > stg__integ_budget(in))
		cap = stg__integ_budget(in);
	if (max_jobs && cap > max_jobs - total)
		cap = max_jobs - total;
	return cap;
}

/* The batch: the job chosen, then the next ones of its integration, in flight. */
static void take_batch(stg_log *log, stg__integ *in, const stg__pick *first, size_t cap,
                       int64_t now, batch *b)
{
	stg__pick pk = *first;

	b->n = 0;
	while (b->n < cap && (b->n == 0 || stg__sched_best(log, in, now, &pk))) {
		size_t n = b->n;
		stg__ent *e = stg__ent_at(log, pk.it.ent);
		stg__job *j = stg__job_of(log, e);
		stg__sched_take(log, in, &pk);
		b->idxs[n] = pk.it.ent;
		b->prev_state[n] = stg__ent_job_state(e);
		stg__ent_set_job_state(e, STG_JOB_IN_FLIGHT);
		j->sent = e->published;
		b->last_attempt[n] = j->last_attempt;
		j->last_attempt = now;
		fill_job(log, pk.it.ent, e, j, &b->jobs[n]);
		stg_job_result_init(&b->results[n], STG_JOB_RESULT_VERSION);
		b->n++;
	}
}

/* The transport failed as a whole: the jobs go back untouched, and so do
 * their tokens. */
static void give_back(stg_log *log, stg__integ *in, const batch *b, int64_t now)
{
	size_t k;

	stg__bucket_give(&in->bucket, b->n);
	for (k = 0; k < b->n; k++) {
		stg__ent *e = stg__ent_at(log, b->idxs[k]);
		if (stg__ent_live(e) && stg__ent_job_state(e) == STG_JOB_IN_FLIGHT) {
			stg__ent_set_job_state(e, b->prev_state[k]);
			stg__job_of(log, e)->last_attempt = b->last_attempt[k];
			stg__sched_push_back(log, b->idxs[k], now, stg__job_of(log, e)->due);
		}
	}
}

/* Send one batch of integration @bi and apply its results: STG_OK, the
 * first result's failure (STG_ESTORAGE: its write is owed), or
 * STG_ETRANSPORT / STG_ENOMEM, which stop the pump. */
static int pump_batch(stg_log *log, uint32_t bi, const stg__pick *first, size_t cap, int64_t now,
                      batch *b)
{
	stg__integ *in = &log->integs[bi];
	int rc = STG_OK, trc;
	size_t k;

	/* Room to queue every job of the batch again, and a problem record
	 * for each result, reserved before any goes out. */
	if (stg__sched_reserve(log, bi, -1, (uint32_t)cap) || stg__probs_reserve(&log->probs, &log->alloc, (uint32_t)cap) ||
	    stg__txn_reserve(log, "stg_log_pump", cap))
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_pump: out of memory");
	take_batch(log, in, first, cap, now, b);
	/* Tokens leave before the call: a quota the results announce (the
	 * requests remaining) then counts these jobs as spent already. */
	stg__bucket_take(&in->bucket, b->n);
	if ((trc = stg__host_send(log, b->jobs, b->n, b->results))) {
		give_back(log, in, b, now);
		return stg__fail(log->errmsg, STG_ETRANSPORT,
		                 "stg_log_pump: transport for %.100s failed: hook returned %d", in->name, trc);
	}
	for (k = 0; k < b->n; k++) {
		int arc;
		in->counters.attempts++;
		arc = stg__apply_result(log, b->idxs[k], &b->results[k], now);
		if (arc && rc == STG_OK)
			rc = arc;
	}
	return rc;
}

/* Send batches until @max_jobs, nothing is due, or storage or the transport
 * fails; the pump's status so far. */
static int pump_all(stg_log *log, size_t max_jobs, size_t *total)
{
	batch b;
	int64_t now;
	int rc = STG_OK;
	uint32_t i;

	if (log->fenced)
		return stg__fail(log->errmsg, STG_EFENCED,
		                 "stg_log_pump: this log lost its storage ownership (fenced): nothing is sent");
	if (stg__log_flush_owed(log))
		rc = stg__storage_rc(log, STG_OK);
	if (rc == STG_EFENCED)
		return rc; /* another instance owns these jobs now: send none */
	now = stg__log_now(log);
	for (i = 0; i < log->ninteg; i++)
		if (!log->integs[i].paused)
			stg__integ_refill(&log->integs[i], now);
	while (!max_jobs || *total < max_jobs) {
		stg__pick best;
		uint32_t bi = 0;
		int brc;

		if (!most_urgent(log, now, &best, &bi))
			break;
		brc = pump_batch(log, bi, &best, batch_cap(log, &log->integs[bi], max_jobs, *total), now, &b);
		if (brc == STG_ENOMEM || brc == STG_ETRANSPORT)
			return brc;
		if (brc && rc == STG_OK)
			rc = brc;
		*total += b.n;
		if (rc == STG_ESTORAGE || rc == STG_EFENCED)
			break; /* storage is failing: send no more until it recovers */
	}
	if (rc == STG_ESTORAGE) {
		/* The write's own message says which entry; say which call, too. */
		char why[STG__ERRMSG_LEN];
		memcpy(why, log->errmsg, sizeof why);
		stg__fail(log->errmsg, rc, "stg_log_pump: %.200s; the write is owed and retried", why);
	}
	return rc;
}

STG_EXTERN int stg_log_pump(stg_log *log, size_t max_jobs, size_t *sent)
{
	size_t total = 0;
	int rc, own;

	if (sent)
		*sent = 0;
	STG__ENTER(log, "stg_log_pump");
	if (!log->has_transport)
		return stg__fail(log->errmsg, STG_ESTATE, "stg_log_pump: no transport set");
	if (log->txn.host)
		return stg__txn_refuse(log, "stg_log_pump");
	/* One storage commit for the whole pump: its results are acknowledgements,
	 * kept in memory (and owed) whatever the commit does. */
	own = stg__txn_start(log, STG__TXN_OWED);
	rc = pump_all(log, max_jobs, &total);
	if (own)
		stg__txn_end(log, "stg_log_pump", &rc);
	stg__log_trim(log);
	if (sent)
		*sent = total;
	return rc;
}

static int find_in_flight(stg_log *log, uint64_t job_id, uint32_t *idx)
{
	uint32_t i = (uint32_t)job_id;
	const stg__ent *e;

	if (i >= log->nents)
		return 0;
	e = stg__ent_at(log, i);
	if (!stg__ent_live(e) || !e->job || stg__ent_job_state(e) != STG_JOB_IN_FLIGHT ||
	    e->job_id != (uint32_t)(job_id >> 32))
		return 0;
	*idx = i;
	return 1;
}

STG_EXTERN int stg_log_complete(stg_log *log, uint64_t job_id, const stg_job_result *r)
{
	uint32_t idx;
	int64_t now;
	int rc, own;

	STG__ENTER(log, "stg_log_complete");
	if (log->txn.host)
		return stg__txn_refuse(log, "stg_log_complete");
	if (!r)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_complete: NULL result");
	if (STG__VERSION_BAD(r->version, STG_JOB_RESULT_VERSION))
		return stg__version_fail(log->errmsg, "stg_log_complete", &stg__v_result, r->version);
	if (r->outcome != STG_OUTCOME_OK && r->outcome != STG_OUTCOME_ERROR)
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_complete: outcome must be OK or ERROR, got %d", r->outcome);
	if (r->error_class < 0 || r->error_class >= STG_ERRCLASS_COUNT)
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_complete: error class %d unknown", r->error_class);
	if (!stg__quota_ok(r))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_complete: quota out of range (limit %lld >= 0, window %lld and reset "
		                 "%lld in 0..86400000, remaining %lld >= -1)",
		                 (long long)r->quota_limit, (long long)r->quota_window_ms,
		                 (long long)r->quota_reset_ms, (long long)r->quota_remaining);
	if (!find_in_flight(log, job_id, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND,
		                 "stg_log_complete: no job %llu in flight", (unsigned long long)job_id);
	if ((rc = stg__sched_reserve(log, stg__ent_at(log, idx)->integ, stg__ent_at(log, idx)->priority, 1)) ||
	    (rc = stg__probs_reserve(&log->probs, &log->alloc, 1)))
		return stg__fail(log->errmsg, rc, "stg_log_complete: out of memory");
	/* One commit for the owed writes and the result. */
	own = stg__txn_start(log, STG__TXN_OWED);
	stg__log_flush_owed(log);
	if ((rc = stg__txn_reserve(log, "stg_log_complete", 1))) {
		if (own)
			stg__txn_end(log, "stg_log_complete", &rc);
		return rc;
	}
	now = stg__log_now(log);
	rc = stg__apply_result(log, idx, r, now);
	if (rc == STG_ESTORAGE)
		stg__fail(log->errmsg, rc, "stg_log_complete: result kept, its storage write failed; it is retried");
	if (own)
		stg__txn_end(log, "stg_log_complete", &rc);
	stg__log_trim(log);
	return rc;
}

STG_EXTERN int stg_log_next_due(stg_log *log, int64_t *wait_ms)
{
	int64_t now, best = -1;
	uint32_t i;

	STG__ENTER(log, "stg_log_next_due");
	if (!wait_ms)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_next_due: NULL wait_ms");
	now = stg__log_now(log);
	for (i = 0; i < log->ninteg; i++) {
		stg__integ *in = &log->integs[i];
		int64_t due, w, cool, token;
		if (in->paused)
			continue;
		stg__integ_refill(in, now);
		if ((due = stg__sched_earliest(log, in)) < 0)
			continue;
		/* Due, then not before the scope's cool-down ends nor before the
		 * bucket has a token: the latest of the three. */
		w = due > now ? due - now : 0;
		cool = stg__integ_cool(log, in)->until - now;
		token = stg__bucket_wait(&in->bucket, now);
		if (cool > w)
			w = cool;
		if (token > w)
			w = token;
		if (best < 0 || w < best)
			best = w;
		if (best == 0)
			break;
	}
	*wait_ms = best;
	return STG_OK;
}
