/*
 * The reprocess queue: the pump that hands due jobs to the transport,
 * results and their error classes, backoff, rate limits, pause/resume,
 * catalogued, and reprocess. The queues themselves are in sched.c.
 */
#include "log_internal.h"
#include "versions.h"

/* --------------------------------------------------------------- backoff */

/* a + b for times and delays >= 0, held at INT64_MAX instead of wrapping. */
static int64_t later(int64_t a, int64_t b)
{
	return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static uint64_t next_random(stg_log *log)
{
	/* splitmix64: cheap, seedable, good enough for jitter */
	uint64_t z = (log->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Exponential backoff with "equal jitter": a delay in [d/2, d]. */
static int64_t backoff(stg_log *log, uint32_t attempts, int64_t retry_after)
{
	int64_t d = log->backoff_base;
	uint32_t i;

	for (i = 1; i < attempts && d < log->backoff_max; i++)
		d = d > log->backoff_max / 2 ? log->backoff_max : d * 2;
	if (d > log->backoff_max)
		d = log->backoff_max;
	d = d / 2 + (int64_t)(next_random(log) % (uint64_t)(d / 2 + 1));
	return d > retry_after ? d : retry_after;
}

/* ------------------------------------------------------------ rate limit */

static void refill(stg__integ *in, int64_t now)
{
	int64_t full, add;

	if (!in->max_jobs)
		return;
	full = (int64_t)in->max_jobs * in->per_ms;
	if (in->refilled_at == 0 || now < in->refilled_at) {
		in->refilled_at = now;
		return;
	}
	add = now - in->refilled_at;
	if (add > in->per_ms)
		add = in->per_ms; /* a full period refills everything */
	in->tokens += add * in->max_jobs;
	if (in->tokens > full)
		in->tokens = full;
	in->refilled_at = now;
}

static size_t budget(const stg__integ *in)
{
	if (!in->max_jobs)
		return SIZE_MAX;
	return (size_t)(in->tokens / in->per_ms);
}

/* --------------------------------------------------------------- results */

static void pause_integ(stg_log *log, uint32_t integ, int http, const char *msg, int64_t now)
{
	stg__integ *in = &log->integs[integ];
	stg_event ev;

	if (in->paused)
		return;
	in->paused = 1;
	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_INTEGRATION_PAUSED;
	ev.integration = in->name;
	ev.http_status = http;
	ev.message = msg;
	ev.time = now;
	stg__log_event(log, &ev);
}

/*
 * Record one result on an in-flight entry. Memory is updated whatever
 * storage does: an acknowledgement must never be forgotten. The caller
 * reserved a queue item and a problem record for it.
 */
static int apply_result(stg_log *log, uint32_t idx, const stg_job_result *r, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__job *j = stg__job_of(log, e);
	stg__integ *in = &log->integs[e->integ];
	stg__counters *c = &in->counters;
	int rc = STG_OK, cls, outcome = r->outcome;
	const char *msg = r->message;

	if (STG__VERSION_BAD(r->version, STG_JOB_RESULT_VERSION) || (outcome != STG_OUTCOME_OK &&
	    outcome != STG_OUTCOME_ERROR && outcome != STG_OUTCOME_ASYNC) ||
	    r->error_class < 0 || r->error_class >= STG_ERRCLASS_COUNT) {
		/* A broken result is a failed attempt, never a silent success. */
		rc = stg__fail(log->errmsg, STG_EINVAL,
		               "transport result for (%.100s, %.100s) is invalid (version %u, outcome %d, class %d)",
		               in->name, stg__ent_sku(e), r->version, outcome, r->error_class);
		outcome = STG_OUTCOME_ERROR;
		cls = STG_ERRCLASS_TRANSIENT;
		msg = "invalid transport result";
	} else {
		cls = r->error_class != STG_ERRCLASS_NONE ? r->error_class : stg_classify_http(r->http_status);
	}
	if (outcome == STG_OUTCOME_ASYNC)
		return STG_OK;
	if (outcome == STG_OUTCOME_OK) {
		int64_t latency = now - j->since;
		stg__prob *p = stg__prob_of(log, e);
		if (latency < 0)
			latency = 0;
		c->successes++;
		e->acked = j->sent;
		e->acked_at = now;
		e->flags |= STG_ENTRY_HAS_ACKED;
		if (stg__latency_fits(latency)) {
			stg__ent_set_latency(e, latency);
		} else {
			p = stg__prob_need(log, idx);
			p->latency_ms = latency;
			stg__ent_set_latency(e, STG__LAT_WIDE);
		}
		stg__counters_latency(log, c, latency);
		if (latency > log->latency_limit) {
			stg_event ev;
			e->flags |= STG_ENTRY_ABNORMAL;
			c->abnormal++;
			memset(&ev, 0, sizeof ev);
			ev.type = STG_EVENT_ABNORMAL_LATENCY;
			ev.integration = in->name;
			ev.sku = stg__ent_sku(e);
			ev.latency_ms = latency;
			ev.time = now;
			stg__log_event(log, &ev);
		} else {
			e->flags &= ~STG_ENTRY_ABNORMAL;
		}
		e->error_class = STG_ERRCLASS_NONE;
		if (p) {
			/* The problem is over; the record goes unless it holds a wide value. */
			stg__msg_release(log, p->msg);
			p->msg = 0;
			p->http_status = 0;
			p->attempts = 0;
			p->first_failed_at = 0;
		}
		j->attempts = j->transient = 0;
		if (e->published != j->sent) {
			/* A newer change came while this one was out: it follows at once,
			 * as a job of its own. */
			stg__ent_set_job_state(e, STG_JOB_QUEUED);
			e->status = STG_ENTRY_PENDING;
			j->due = now;
			j->since = j->follow_since ? j->follow_since : e->changed_at;
			e->job_id = stg__log_new_job_id(log);
		} else {
			stg__ent_set_job_state(e, STG_JOB_NONE);
			e->status = STG_ENTRY_SUCCESS;
			e->flags &= ~STG_ENTRY_NON_STOCK;
		}
	} else {
		stg__prob *p = stg__prob_need(log, idx);
		uint32_t m = stg__msg_intern(log, msg); /* out of memory only loses the text */
		c->errors[cls]++;
		p->attempts++;
		if (j->attempts < UINT32_MAX)
			j->attempts++;
		if (!p->first_failed_at)
			p->first_failed_at = now;
		e->error_class = (unsigned)cls;
		p->http_status = (uint16_t)(r->http_status >= 0 && r->http_status <= 999 ? r->http_status : 0);
		stg__msg_release(log, p->msg);
		p->msg = m;
		e->status = STG_ENTRY_PENDING;
		stg__ent_set_job_state(e, STG_JOB_QUEUED);
		/* Every class by name and no default: with -Wswitch (-Wall) and
		 * -Werror, a class added to the enum and not handled here stops
		 * the build instead of behaving as one of the others. */
		switch ((stg_error_class)cls) {
		case STG_ERRCLASS_AUTH:
			j->due = now;
			pause_integ(log, e->integ, r->http_status, stg__msg_text(log, m), now);
			break;
		case STG_ERRCLASS_NOT_CATALOGUED:
			stg__ent_set_job_state(e, STG_JOB_HELD);
			j->due = later(now, log->catalogue_retry);
			break;
		case STG_ERRCLASS_RATE_LIMITED:
			j->due = later(now, backoff(log, p->attempts,
			                            r->retry_after_ms > 0 ? r->retry_after_ms : 0));
			break;
		case STG_ERRCLASS_TRANSIENT:
			/* The budget is the job's: a reprocess or a new change starts afresh. */
			if (++j->transient >= log->max_transient) {
				stg__ent_set_job_state(e, STG_JOB_NONE);
				e->status = STG_ENTRY_ERROR;
			} else {
				j->due = later(now, backoff(log, p->attempts,
				                            r->retry_after_ms > 0 ? r->retry_after_ms : 0));
			}
			break;
		case STG_ERRCLASS_NONE:
			/* Not reached: a failed result's class was resolved above, and
			 * stg_classify_http() never answers NONE. Should it ever, the
			 * failure must not be retried forever: it ends as rejected. */
		case STG_ERRCLASS_REJECTED:
			stg__ent_set_job_state(e, STG_JOB_NONE);
			e->status = STG_ENTRY_ERROR;
			break;
		}
		if (stg__ent_job_state(e) == STG_JOB_NONE && e->published != j->sent) {
			/* The job failed for good, but a newer change came while it was
			 * out: that change is a job of its own and still goes out. */
			stg__ent_set_job_state(e, STG_JOB_QUEUED);
			e->status = STG_ENTRY_PENDING;
			j->due = now;
			j->since = j->follow_since ? j->follow_since : e->changed_at;
			e->job_id = stg__log_new_job_id(log);
			j->attempts = j->transient = 0;
		}
	}
	if (stg__ent_job_state(e) == STG_JOB_NONE) {
		stg__log_end_job(log, idx);
	} else {
		j->follow_since = 0;
		stg__sched_push(log, idx, now); /* room was reserved when it went out */
	}
	if (outcome == STG_OUTCOME_OK)
		stg__prob_settle(log, idx);
	if (stg__log_write(log, idx) != STG_OK) {
		stg__log_mark_dirty(log, idx);
		return STG_ESTORAGE;
	}
	return rc;
}

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

/* ------------------------------------------------------------------ pump */

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

STG_EXTERN int stg_log_pump(stg_log *log, size_t max_jobs, size_t *sent)
{
	stg_job jobs[PUMP_CHUNK];
	stg_job_result results[PUMP_CHUNK];
	uint32_t idxs[PUMP_CHUNK];
	int64_t last_attempt[PUMP_CHUNK];
	int prev_state[PUMP_CHUNK];       /* queued or held: restored if the transport fails */
	size_t total = 0;
	int64_t now;
	int rc = STG_OK;
	uint32_t i;

	if (sent)
		*sent = 0;
	STG__ENTER(log, "stg_log_pump");
	if (!log->has_transport)
		return stg__fail(log->errmsg, STG_ESTATE, "stg_log_pump: no transport set");
	if (stg__log_flush_owed(log))
		rc = STG_ESTORAGE;
	now = stg__log_now(log);
	for (i = 0; i < log->ninteg; i++)
		if (!log->integs[i].paused)
			refill(&log->integs[i], now);
	while (!max_jobs || total < max_jobs) {
		stg__pick best, pk;
		int have = 0;
		uint32_t bi = 0;
		stg__integ *in;
		size_t n = 0, k, cap;
		int trc;

		/* The most urgent due job among integrations that may send now. */
		for (i = 0; i < log->ninteg; i++) {
			stg__integ *x = &log->integs[i];
			if (x->paused || budget(x) == 0 || !stg__sched_best(log, x, now, &pk))
				continue;
			if (!have || more_urgent(&pk, &best)) {
				best = pk;
				bi = i;
				have = 1;
			}
		}
		if (!have)
			break;
		in = &log->integs[bi];
		cap = log->transport.send_batch ? in->batch_size : 1;
		if (cap > PUMP_CHUNK)
			cap = PUMP_CHUNK;
		if (cap > budget(in))
			cap = budget(in);
		if (max_jobs && cap > max_jobs - total)
			cap = max_jobs - total;
		/* Room to queue every job of the batch again, and a problem record
		 * for each result, reserved before any goes out. */
		if (stg__sched_reserve(log, bi, -1, (uint32_t)cap) || stg__probs_reserve(log, (uint32_t)cap)) {
			if (sent)
				*sent = total;
			return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_pump: out of memory");
		}
		/* The batch: the job chosen above, then the next ones of its integration. */
		pk = best;
		while (n < cap && (n == 0 || stg__sched_best(log, in, now, &pk))) {
			stg__ent *e = stg__ent_at(log, pk.it.ent);
			stg__job *j = stg__job_of(log, e);
			stg__sched_take(log, in, &pk);
			idxs[n] = pk.it.ent;
			prev_state[n] = stg__ent_job_state(e);
			stg__ent_set_job_state(e, STG_JOB_IN_FLIGHT);
			j->sent = e->published;
			last_attempt[n] = j->last_attempt;
			j->last_attempt = now;
			fill_job(log, pk.it.ent, e, j, &jobs[n]);
			stg_job_result_init(&results[n], STG_JOB_RESULT_VERSION);
			n++;
		}
		log->in_hook++;
		if (n == 1 || !log->transport.send_batch)
			for (k = 0, trc = 0; k < n && !trc; k++)
				trc = log->transport.send(&jobs[k], &results[k], log->transport.payload);
		else
			trc = log->transport.send_batch(jobs, n, results, log->transport.payload);
		log->in_hook--;
		if (trc) {
			/* The transport failed as a whole: the jobs go back untouched. */
			for (k = 0; k < n; k++) {
				stg__ent *e = stg__ent_at(log, idxs[k]);
				if (stg__ent_live(e) && stg__ent_job_state(e) == STG_JOB_IN_FLIGHT) {
					stg__ent_set_job_state(e, prev_state[k]);
					stg__job_of(log, e)->last_attempt = last_attempt[k];
					stg__sched_push(log, idxs[k], now);
				}
			}
			if (sent)
				*sent = total;
			return stg__fail(log->errmsg, STG_ETRANSPORT,
			                 "stg_log_pump: transport for %.100s failed: hook returned %d",
			                 in->name, trc);
		}
		for (k = 0; k < n; k++) {
			int arc;
			in->counters.attempts++;
			arc = apply_result(log, idxs[k], &results[k], now);
			if (arc && rc == STG_OK)
				rc = arc;
		}
		if (in->max_jobs)
			in->tokens -= (int64_t)n * in->per_ms;
		total += n;
		if (rc == STG_ESTORAGE)
			break; /* storage is failing: send no more until it recovers */
	}
	stg__log_trim(log);
	if (sent)
		*sent = total;
	if (rc == STG_ESTORAGE) {
		/* The write's own message says which entry; say which call, too. */
		char why[STG__ERRMSG_LEN];
		memcpy(why, log->errmsg, sizeof why);
		stg__fail(log->errmsg, rc, "stg_log_pump: %.200s; the write is owed and retried", why);
	}
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
	int rc;

	STG__ENTER(log, "stg_log_complete");
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
	if (!find_in_flight(log, job_id, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND,
		                 "stg_log_complete: no job %llu in flight", (unsigned long long)job_id);
	stg__log_flush_owed(log);
	if ((rc = stg__sched_reserve(log, stg__ent_at(log, idx)->integ, stg__ent_at(log, idx)->priority, 1)) ||
	    (rc = stg__probs_reserve(log, 1)))
		return stg__fail(log->errmsg, rc, "stg_log_complete: out of memory");
	now = stg__log_now(log);
	rc = apply_result(log, idx, r, now);
	stg__log_trim(log);
	if (rc == STG_ESTORAGE)
		return stg__fail(log->errmsg, rc, "stg_log_complete: result kept, its storage write failed; it is retried");
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
		int64_t due, w = 0;
		if (in->paused)
			continue;
		refill(in, now);
		if ((due = stg__sched_earliest(log, in)) < 0)
			continue;
		if (due > now) {
			w = due - now;
		} else if (budget(in) == 0) {
			/* Due, but the rate limit holds it: wait for the next token. */
			int64_t need = in->per_ms - in->tokens;
			w = (need + in->max_jobs - 1) / in->max_jobs;
		}
		if (best < 0 || w < best)
			best = w;
		if (best == 0)
			break;
	}
	*wait_ms = best;
	return STG_OK;
}

/* ------------------------------------------------------- pause and resume */

static int integ_arg(stg_log *log, const char *fn, const char *name, uint32_t *integ, int create)
{
	size_t len;

	if (!stg__key_ok(name, &len))
		return stg__fail(log->errmsg, STG_EINVAL, "%s: integration must be 1 to %d bytes", fn,
		                 STG_KEY_MAX);
	if (stg__log_find_integ(log, name, len, integ))
		return STG_OK;
	if (!create)
		return stg__fail(log->errmsg, STG_ENOTFOUND, "%s: no integration '%.100s'", fn, name);
	return stg__log_get_integ(log, fn, name, len, integ);
	return STG_OK;
}

STG_EXTERN int stg_log_pause(stg_log *log, const char *integration)
{
	uint32_t integ;
	int rc;

	STG__ENTER(log, "stg_log_pause");
	if ((rc = integ_arg(log, "stg_log_pause", integration, &integ, 1)))
		return rc;
	pause_integ(log, integ, 0, NULL, stg__log_now(log));
	return STG_OK;
}

static int held_by_auth(const stg__ent *e, uint32_t integ)
{
	return stg__ent_live(e) && e->integ == integ && stg__ent_job_state(e) == STG_JOB_QUEUED &&
	       e->error_class == STG_ERRCLASS_AUTH;
}

STG_EXTERN int stg_log_resume(stg_log *log, const char *integration)
{
	uint32_t integ, i, need[STG__PRIORITIES] = { 0 };
	int64_t now;
	int rc, p;
	stg_event ev;

	STG__ENTER(log, "stg_log_resume");
	if ((rc = integ_arg(log, "stg_log_resume", integration, &integ, 0)))
		return rc;
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	/* Room for every job it queues again, first: out of memory changes nothing. */
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		if (held_by_auth(e, integ))
			need[e->priority]++;
	}
	for (p = 0; p < STG__PRIORITIES; p++)
		if (need[p] && (rc = stg__sched_reserve(log, integ, p, need[p])))
			return stg__fail(log->errmsg, rc, "stg_log_resume: out of memory");
	/* Clear the auth failures first: a stored auth failure pauses again at open. */
	for (i = 0; i < log->nents; i++) {
		stg__ent *e = stg__ent_at(log, i), ec;
		stg__job jc;
		if (!held_by_auth(e, integ))
			continue;
		ec = *e;
		jc = *stg__job_of(log, e);
		ec.error_class = STG_ERRCLASS_NONE;
		jc.due = now;
		if ((rc = stg__log_write_view(log, &ec, &jc, stg__prob_of(log, e))))
			return rc;
		*e = ec;
		*stg__job_of(log, e) = jc;
		stg__log_clear_dirty(log, i);
		stg__sched_push(log, i, now);
	}
	if (!log->integs[integ].paused)
		return STG_OK;
	log->integs[integ].paused = 0;
	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_INTEGRATION_RESUMED;
	ev.integration = log->integs[integ].name;
	ev.time = now;
	stg__log_event(log, &ev);
	return STG_OK;
}

STG_EXTERN int stg_log_is_paused(stg_log *log, const char *integration, int *paused)
{
	uint32_t integ;
	size_t len;

	STG__ENTER(log, "stg_log_is_paused");
	if (!paused || !stg__key_ok(integration, &len))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_is_paused: bad argument");
	*paused = stg__log_find_integ(log, integration, len, &integ) && log->integs[integ].paused;
	return STG_OK;
}

static int entry_arg(stg_log *log, const char *fn, const char *integration, const char *sku,
                     uint32_t *idx)
{
	size_t ilen, slen;
	uint32_t integ;

	if (!stg__key_ok(integration, &ilen) || !stg__key_ok(sku, &slen))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "%s: integration and sku must be 1 to %d bytes", fn, STG_KEY_MAX);
	if (!stg__log_find_integ(log, integration, ilen, &integ) ||
	    !stg__log_find(log, integ, sku, slen, idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "%s: no entry (%.100s, %.100s)", fn,
		                 integration, sku);
	return STG_OK;
}

/*
 * Queue an entry's job (again), due now: a fresh job when it has none
 * (reprocess of a settled entry), else its waiting or held job. Works on
 * copies, writes them, and commits only when the write succeeded.
 */
static int requeue(stg_log *log, uint32_t idx, int64_t now, int fresh)
{
	stg__ent *e = stg__ent_at(log, idx), ec = *e;
	stg__job jc;
	int rc;

	if (fresh) {
		/* The newest change's evaluation, made with its category, goes again. */
		const stg_policy *pol = stg__log_policy(log, e->integ);
		ec.priority = (unsigned)(e->published == 0 || (e->flags & STG_ENTRY_MIN_STOCK_REACHED) ||
		                        ((e->flags & STG_ENTRY_HAS_ACKED) && e->acked == 0)
		                        ? STG_PRIORITY_URGENT
		                        : e->published <= pol->window ? STG_PRIORITY_LOW_STOCK
		                        : STG_PRIORITY_NORMAL);
	}
	if ((fresh && (rc = stg__jobs_reserve(log, 1))) ||
	    (rc = stg__sched_reserve(log, e->integ, ec.priority, 1)))
		return stg__fail(log->errmsg, rc, "out of memory");
	if (fresh) {
		memset(&jc, 0, sizeof jc);
		jc.last_attempt = stg__ent_last_attempt(e, NULL, stg__prob_of(log, e));
		/* Latency is measured from the stock change, however late the reprocess. */
		jc.since = e->changed_at;
		jc.ent = idx;
		jc.used = 1;
		ec.job_id = stg__log_new_job_id(log);
		ec.status = STG_ENTRY_PENDING;
	} else {
		jc = *stg__job_of(log, e);
	}
	stg__ent_set_job_state(&ec, STG_JOB_QUEUED);
	jc.due = now;
	if ((rc = stg__log_write_view(log, &ec, &jc, stg__prob_of(log, e))))
		return rc;
	if (fresh)
		ec.job = stg__jobs_take(log, idx) + 1;
	log->jobs.v[ec.job - 1] = jc;
	*e = ec;
	stg__log_clear_dirty(log, idx);
	stg__sched_push(log, idx, now);
	return STG_OK;
}

STG_EXTERN int stg_log_set_catalogued(stg_log *log, const char *integration, const char *sku)
{
	uint32_t idx;
	int rc;

	STG__ENTER(log, "stg_log_set_catalogued");
	if ((rc = entry_arg(log, "stg_log_set_catalogued", integration, sku, &idx)))
		return rc;
	if (stg__ent_job_state(stg__ent_at(log, idx)) != STG_JOB_HELD)
		return stg__fail(log->errmsg, STG_ESTATE,
		                 "stg_log_set_catalogued: (%.100s, %.100s) has no held job", integration, sku);
	stg__log_flush_owed(log);
	return requeue(log, idx, stg__log_now(log), 0);
}

static int reprocess_idx(stg_log *log, uint32_t idx, int64_t now)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int js = stg__ent_job_state(e);

	if (js == STG_JOB_IN_FLIGHT)
		return stg__fail(log->errmsg, STG_EBUSY, "stg_log_reprocess: (%.100s, %.100s) is in flight",
		                 log->integs[e->integ].name, stg__ent_sku(e));
	return requeue(log, idx, now, js == STG_JOB_NONE);
}

STG_EXTERN int stg_log_reprocess(stg_log *log, const char *integration, const char *sku)
{
	uint32_t idx;
	int rc;

	STG__ENTER(log, "stg_log_reprocess");
	if ((rc = entry_arg(log, "stg_log_reprocess", integration, sku, &idx)))
		return rc;
	stg__log_flush_owed(log);
	return reprocess_idx(log, idx, stg__log_now(log));
}

STG_EXTERN int stg_log_reprocess_matching(stg_log *log, const stg_query *q, size_t *count)
{
	uint32_t i;
	size_t n = 0;
	int64_t now;
	int rc = STG_OK;

	if (count)
		*count = 0;
	STG__ENTER(log, "stg_log_reprocess_matching");
	if ((rc = stg__query_check(log, q, "stg_log_reprocess_matching")))
		return rc;
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		if (!stg__ent_live(e) || stg__ent_job_state(e) == STG_JOB_IN_FLIGHT ||
		    !stg__query_match(log, q, e, now))
			continue;
		if ((rc = reprocess_idx(log, i, now)))
			break;
		n++;
	}
	if (count)
		*count = n;
	return rc;
}
