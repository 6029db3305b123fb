/*
 * What a transport result does: a success acknowledges the entry; each
 * error class has its own rule (see entry.h and docs/contract.md).
 */
#include "backoff.h"
#include "cooldown.h"
#include "durable.h"
#include "host.h"
#include "integ.h"
#include "lifecycle.h"
#include "market.h"
#include "problems.h"
#include "results.h"
#include "versions.h"

/* A newer change came while the job was out: it follows at once, as a job
 * of its own (own id, latency from its oldest change). */
static void follow_up(stg_log *log, stg__ent *e, stg__job *j, int64_t now)
{
	stg__ent_set_job_state(e, STG_JOB_QUEUED);
	e->status = STG_ENTRY_PENDING;
	j->due = now;
	j->since = j->follow_since ? j->follow_since : e->changed_at;
	e->job_id = stg__log_new_job_id(log);
	/* The one call the changes merged while in flight cost (stg_stats
	 * saved_by_coalescing is coalesced less these). */
	log->integs[e->integ].counters.followups++;
}

/* The latency of an acknowledgement: kept, counted, flagged when abnormal. */
static void record_latency(stg_log *log, uint32_t idx, stg__integ *in, int64_t latency, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg_event ev;

	if (stg__latency_fits(latency)) {
		stg__ent_set_latency(e, latency);
	} else {
		stg__prob_need(log, idx)->latency_ms = latency;
		stg__ent_set_latency(e, STG__LAT_WIDE);
	}
	stg__counters_latency(&log->alloc, &in->counters, latency);
	if (latency <= log->latency_limit) {
		e->flags &= ~STG_ENTRY_ABNORMAL;
		return;
	}
	e->flags |= STG_ENTRY_ABNORMAL;
	in->counters.abnormal++;
	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_ABNORMAL_LATENCY;
	ev.integration = in->name;
	ev.sku = stg__ent_sku(e);
	ev.latency_ms = latency;
	ev.time = now;
	stg__log_event(log, &ev);
}

/* The marketplace acknowledged the job. */
static void acknowledge(stg_log *log, uint32_t idx, stg__integ *in, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__job *j = stg__job_of(log, e);
	stg__prob *p;
	int64_t latency = now - j->since;

	in->counters.successes++;
	stg__notice_take(log, idx); /* catalogued beyond doubt: a remembered notice is moot */
	e->acked = j->sent;
	e->acked_at = now;
	e->flags |= STG_ENTRY_HAS_ACKED;
	record_latency(log, idx, in, latency < 0 ? 0 : latency, now);
	e->error_class = STG_ERRCLASS_NONE;
	if ((p = stg__prob_of(log, e))) {
		/* The problem is over; the record goes unless it holds a wide value. */
		stg__msg_release(&log->msgs, &log->alloc, p->msg);
		p->msg = 0;
		p->http_status = 0;
		p->attempts = 0;
		p->first_failed_at = 0;
	}
	j->attempts = j->transient = 0;
	if (e->published != j->sent) {
		follow_up(log, e, j, now);
	} else {
		stg__ent_set_job_state(e, STG_JOB_NONE);
		e->status = STG_ENTRY_SUCCESS;
		e->flags &= ~STG_ENTRY_NON_STOCK;
	}
}

/* What the error class does with the job (queued again, held, or ended). */
static void by_class(stg_log *log, stg__ent *e, stg__job *j, const stg__prob *p, int cls,
                     const stg_job_result *r, const char *msg, int64_t now)
{
	int64_t retry_after = r->retry_after_ms > 0 ? r->retry_after_ms : 0;

	/* Every class by name and no default: with -Wswitch (-Wall) and
	 * -Werror, a class added to the enum and not handled here stops
	 * the build instead of behaving as one of the others. */
	switch ((stg_error_class)cls) {
	case STG_ERRCLASS_AUTH:
		j->due = now;
		stg__integ_pause(log, e->integ, r->http_status, msg, now);
		break;
	case STG_ERRCLASS_NOT_CATALOGUED:
		stg__ent_set_job_state(e, STG_JOB_HELD);
		j->due = stg__later(now, log->catalogue_retry);
		break;
	case STG_ERRCLASS_RATE_LIMITED:
		/* The limit is the scope's, not the job's: the scope cools down
		 * (the other jobs wait, untouched) and this job is due when the
		 * cool-down it started or met ends. */
		stg__cool_start(log, e->integ, retry_after, now);
		j->due = stg__integ_cool(log, &log->integs[e->integ])->until;
		break;
	case STG_ERRCLASS_TRANSIENT:
	case STG_ERRCLASS_CONFLICT:
		/* The budget is the job's: a reprocess or a new change starts
		 * afresh. A conflict (a stale stock version) spends it too, so
		 * that it is retried a bounded number of times; it goes again at
		 * once, since the transport reads the new version as it sends. */
		if (++j->transient >= log->max_transient) {
			stg__ent_set_job_state(e, STG_JOB_NONE);
			e->status = STG_ENTRY_ERROR;
		} else {
			j->due = cls == STG_ERRCLASS_CONFLICT ? now
			         : stg__later(now, stg__backoff(log, p->attempts, retry_after));
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
}

/* The job failed with class @cls: the failure is kept, the class decides. */
static void record_failure(stg_log *log, uint32_t idx, stg__integ *in, int cls,
                           const stg_job_result *r, const char *msg, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__job *j = stg__job_of(log, e);
	stg__prob *p = stg__prob_need(log, idx);
	uint32_t m = stg__msg_intern(&log->msgs, &log->alloc, msg); /* out of memory only loses the text */

	in->counters.errors[cls]++;
	p->attempts++;
	if (j->attempts < UINT32_MAX)
		j->attempts++;
	if (!p->first_failed_at)
		p->first_failed_at = now;
	e->error_class = (unsigned)cls;
	p->http_status = (uint16_t)(r->http_status >= 0 && r->http_status <= 999 ? r->http_status : 0);
	stg__msg_release(&log->msgs, &log->alloc, p->msg);
	p->msg = m;
	e->status = STG_ENTRY_PENDING;
	stg__ent_set_job_state(e, STG_JOB_QUEUED);
	by_class(log, e, j, p, cls, r, stg__msg_text(&log->msgs, m), now);
	if (cls == STG_ERRCLASS_NOT_CATALOGUED && stg__notice_take(log, idx)) {
		/* The marketplace said it catalogued the SKU before it was first
		 * sent: that notice releases this hold once, at once. */
		stg__ent_set_job_state(e, STG_JOB_QUEUED);
		j->due = now;
	}
	if (stg__ent_job_state(e) == STG_JOB_NONE && e->published != j->sent) {
		/* The job failed for good, but a newer change came while it was
		 * out: that change is a job of its own and still goes out. */
		follow_up(log, e, j, now);
		j->attempts = j->transient = 0;
	}
}

/*
 * Record one result on an in-flight entry. Memory is updated whatever
 * storage does: an acknowledgement must never be forgotten. The caller
 * reserved a queue item and a problem record for it.
 */
int stg__apply_result(stg_log *log, uint32_t idx, const stg_job_result *r, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__integ *in = &log->integs[e->integ];
	int rc = STG_OK, cls, outcome = r->outcome;
	const char *msg = r->message;
	int64_t key_due = stg__job_of(log, e)->due; /* its place in the queue */

	if (STG__VERSION_BAD(r->version, STG_JOB_RESULT_VERSION) || (outcome != STG_OUTCOME_OK &&
	    outcome != STG_OUTCOME_ERROR && outcome != STG_OUTCOME_ASYNC) ||
	    r->error_class < 0 || r->error_class >= STG_ERRCLASS_COUNT || !stg__quota_ok(r)) {
		/* A broken result is a failed attempt, never a silent success. */
		rc = stg__fail(log->errmsg, STG_EINVAL,
		               "transport result for (%.100s, %.100s) is invalid (version %u, outcome %d, class %d)",
		               in->name, stg__ent_sku(e), r->version, outcome, r->error_class);
		outcome = STG_OUTCOME_ERROR;
		cls = STG_ERRCLASS_TRANSIENT;
		msg = "invalid transport result";
	} else {
		/* The host's class wins; else the integration's message rules,
		 * then the status. */
		cls = r->error_class != STG_ERRCLASS_NONE ? r->error_class
		      : stg__rules_classify(log, e->integ, r->http_status, msg);
		stg__bucket_quota(&in->bucket, r, now);
	}
	if (outcome == STG_OUTCOME_ASYNC)
		return STG_OK;
	if (outcome == STG_OUTCOME_OK) {
		acknowledge(log, idx, in, now);
		stg__cool_success(log, e->integ);
	} else {
		record_failure(log, idx, in, cls, r, msg, now);
	}
	if (stg__ent_job_state(e) == STG_JOB_NONE) {
		stg__log_end_job(log, idx);
	} else {
		stg__job_of(log, e)->follow_since = 0;
		/* Room was reserved when it went out. A rate-limited job keeps
		 * its place: the cool-down holds it, not its new due time. */
		if (outcome == STG_OUTCOME_ERROR && cls == STG_ERRCLASS_RATE_LIMITED)
			stg__sched_push_back(log, idx, now, key_due);
		else
			stg__sched_push(log, idx, now);
	}
	if (outcome == STG_OUTCOME_OK)
		stg__prob_settle(log, idx);
	if (stg__log_write(log, idx) != STG_OK) {
		stg__log_mark_dirty(log, idx);
		return stg__storage_rc(log, STG_OK);
	}
	return rc;
}
