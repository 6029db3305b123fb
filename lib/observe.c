/*
 * Observations: what the marketplace really shows for a SKU (a read-back,
 * a notification, an inventory report). Some marketplaces accept now and
 * judge later, or report success for a SKU they do not have; a difference
 * the log did not expect queues a correction, a SKU the marketplace does
 * not list is held as not catalogued. Like every host call, the new state
 * is prepared on copies, written, and committed only when the write
 * succeeded.
 */
#include "durable.h"
#include "host.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "market.h"
#include "txn.h"
#include "versions.h"

/* a + b for times and delays >= 0, held at INT64_MAX instead of wrapping. */
static int64_t later(int64_t a, int64_t b)
{
	return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static STG__COLD int observation_refused(stg_log *log, const stg_observation *o)
{
	if (STG__VERSION_BAD(o->version, STG_OBSERVATION_VERSION))
		return stg__version_fail(log->errmsg, "stg_log_observe", &stg__v_observation, o->version);
	if (!stg__key_ok(o->integration, NULL) || !stg__key_ok(o->sku, NULL))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_observe: integration and sku must be 1 to %d bytes", STG_KEY_MAX);
	if (o->flags & ~(unsigned)STG_OBSERVE_MISSING)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_observe: unknown flags 0x%x", o->flags);
	if (o->quantity < 0)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_observe: quantity %lld is negative",
		                 (long long)o->quantity);
	return stg__fail(log->errmsg, STG_EINVAL, "stg_log_observe: observed_at %lld is negative",
	                 (long long)o->observed_at);
}

static int observation_ok(const stg_observation *o, size_t *ilen, size_t *slen)
{
	return !STG__VERSION_BAD(o->version, STG_OBSERVATION_VERSION) &&
	       stg__key_ok(o->integration, ilen) && stg__key_ok(o->sku, slen) &&
	       !(o->flags & ~(unsigned)STG_OBSERVE_MISSING) && o->quantity >= 0 && o->observed_at >= 0;
}

/* The priority of a job that sends the entry's published quantity again
 * (the rule of a reprocess: to zero or from zero is urgent). */
static unsigned resend_priority(const stg_log *log, const stg__ent *e)
{
	const stg_policy *pol = stg__log_policy(log, e->integ);

	if (e->published == 0 || (e->flags & STG_ENTRY_MIN_STOCK_REACHED) ||
	    ((e->flags & STG_ENTRY_HAS_ACKED) && e->acked == 0))
		return STG_PRIORITY_URGENT;
	return e->published <= pol->window ? STG_PRIORITY_LOW_STOCK : STG_PRIORITY_NORMAL;
}

/* What an observation does to an entry without touching it: the outcome,
 * and for a correction or hold, whether it needs a new job. */
static int plan(const stg__ent *e, const stg_observation *o, int64_t at, int *fresh)
{
	int js = stg__ent_job_state(e);

	*fresh = js == STG_JOB_NONE;
	if (at < e->acked_at)
		return STG_OBSERVED_STALE;
	if (o->flags & STG_OBSERVE_MISSING) {
		/* A job in flight will be answered; a held one is held already;
		 * a job held by an auth pause keeps its auth failure, which is
		 * what pauses the integration again after a reopen. */
		if (js == STG_JOB_IN_FLIGHT || js == STG_JOB_HELD ||
		    (js == STG_JOB_QUEUED && e->error_class == STG_ERRCLASS_AUTH))
			return STG_OBSERVED_PENDING;
		return STG_OBSERVED_NOT_CATALOGUED;
	}
	if (js != STG_JOB_NONE)
		return STG_OBSERVED_PENDING;
	if (o->quantity == e->published || ((e->flags & STG_ENTRY_HAS_ACKED) && o->quantity == e->acked))
		return STG_OBSERVED_IN_SYNC;
	return STG_OBSERVED_CORRECTED;
}

/* Queue (or hold) the entry's correction: copies, write, commit. */
static int correct(stg_log *log, uint32_t idx, int outcome, int fresh, int64_t at, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx), ec = *e;
	stg__job jc;
	int rc;

	if (fresh)
		ec.priority = resend_priority(log, e);
	if ((fresh && (rc = stg__jobs_reserve(&log->jobs, &log->alloc, 1))) ||
	    (rc = stg__sched_reserve(log, e->integ, ec.priority, 1)))
		return stg__fail(log->errmsg, rc, "stg_log_observe: out of memory");
	if (fresh) {
		memset(&jc, 0, sizeof jc);
		jc.last_attempt = stg__ent_last_attempt(e, NULL, stg__prob_of(log, e));
		/* Latency runs from when the difference was seen: the change
		 * itself did reach the marketplace, in time or not, before. */
		jc.since = at;
		jc.ent = idx;
		jc.used = 1;
		ec.job_id = stg__log_new_job_id(log);
		ec.status = STG_ENTRY_PENDING;
	} else {
		jc = *stg__job_of(log, e);
	}
	ec.reason = STG_REASON_OUT_OF_SYNC;
	if (outcome == STG_OBSERVED_NOT_CATALOGUED) {
		/* As if the marketplace had answered "not catalogued": released by
		 * stg_log_set_catalogued(), the slow retry meanwhile. */
		stg__ent_set_job_state(&ec, STG_JOB_HELD);
		ec.error_class = STG_ERRCLASS_NOT_CATALOGUED;
		jc.due = later(now, log->catalogue_retry);
	} else {
		stg__ent_set_job_state(&ec, STG_JOB_QUEUED);
		jc.due = now;
	}
	return stg__log_requeue_commit(log, idx, &ec, &jc, fresh, now);
}

static void report(stg_log *log, uint32_t idx, const stg_observation *o, int64_t now)
{
	const stg__ent *e = stg__ent_at(log, idx);
	stg_event ev;

	log->integs[e->integ].counters.corrections++;
	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_OUT_OF_SYNC;
	ev.integration = log->integs[e->integ].name;
	ev.sku = stg__ent_sku(e);
	ev.available = e->available;
	ev.observed = (o->flags & STG_OBSERVE_MISSING) ? 0 : o->quantity;
	ev.time = now;
	stg__log_event(log, &ev);
}

STG_EXTERN int stg_log_observe(stg_log *log, const stg_observation *o, int *outcome)
{
	size_t ilen, slen;
	uint32_t integ, idx;
	int64_t now, at;
	int rc, what, fresh;

	STG__ENTER(log, "stg_log_observe");
	if (!o)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_observe: NULL observation");
	if (!observation_ok(o, &ilen, &slen))
		return observation_refused(log, o);
	if (!stg__log_find_integ(log, o->integration, ilen, &integ) ||
	    !stg__log_find(log, integ, o->sku, slen, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "stg_log_observe: no entry (%.100s, %.100s)",
		                 o->integration, o->sku);
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	at = o->observed_at ? o->observed_at : now;
	what = plan(stg__ent_at(log, idx), o, at, &fresh);
	if (what == STG_OBSERVED_CORRECTED || what == STG_OBSERVED_NOT_CATALOGUED) {
		/* The correction is counted: a failed commit must take that back too. */
		if ((rc = stg__txn_count(log, integ)) ||
		    (rc = correct(log, idx, what, fresh, at < now ? at : now, now)))
			return rc;
		report(log, idx, o, now);
	}
	if (outcome)
		*outcome = what;
	return STG_OK;
}
