/*
 * Merchant actions, side by side: remove and reprocess (one entry or by
 * query), catalogued, pause and resume.
 */
#include "durable.h"
#include "host.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "market.h"
#include "match.h"
#include "problems.h"
#include "txn.h"

STG_EXTERN int stg_log_remove(stg_log *log, const char *integration, const char *sku,
                              unsigned int flags)
{
	size_t ilen, slen;
	uint32_t integ, idx;
	int rc;

	STG__ENTER(log, "stg_log_remove");
	if (!stg__key_ok(integration, &ilen) || !stg__key_ok(sku, &slen))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_remove: integration and sku must be 1 to %d bytes", STG_KEY_MAX);
	if (flags & ~(unsigned)STG_REMOVE_FORCE)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_remove: unknown flags 0x%x", flags);
	if (!stg__log_find_integ(log, integration, ilen, &integ) ||
	    !stg__log_find(log, integ, sku, slen, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "stg_log_remove: no entry (%.100s, %.100s)",
		                 integration, sku);
	stg__log_flush_owed(log);
	rc = stg__log_remove_entry(log, idx, flags);
	stg__log_trim(log);
	return rc;
}

/* How many entries a remove_matching removes: what its transaction keeps. */
static uint64_t removable(stg_log *log, const stg_query *q, unsigned flags, int64_t now)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; log->txn.kind == STG__TXN_UNDO && i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		n += stg__ent_live(e) && (!e->job || (flags & STG_REMOVE_FORCE)) &&
		     stg__query_match(log, q, e, now);
	}
	return n;
}

STG_EXTERN int stg_log_remove_matching(stg_log *log, const stg_query *q, unsigned int flags,
                                       size_t *count)
{
	uint32_t i;
	size_t n = 0;
	int64_t now;
	int rc, own;

	if (count)
		*count = 0;
	STG__ENTER(log, "stg_log_remove_matching");
	if ((rc = stg__query_check(log, q, "stg_log_remove_matching")))
		return rc;
	if (flags & ~(unsigned)STG_REMOVE_FORCE)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_remove_matching: unknown flags 0x%x",
		                 flags);
	stg__log_flush_owed(log);
	own = stg__txn_start(log, STG__TXN_UNDO);
	now = stg__log_now(log);
	rc = stg__txn_reserve(log, "stg_log_remove_matching", removable(log, q, flags, now));
	for (i = 0; i < log->nents && rc == STG_OK; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		if (!stg__ent_live(e) || !stg__query_match(log, q, e, now))
			continue;
		if (e->job && !(flags & STG_REMOVE_FORCE))
			continue;
		if ((rc = stg__log_remove_entry(log, i, flags)))
			break;
		n++;
	}
	if (own && stg__txn_end(log, "stg_log_remove_matching", &rc))
		n = 0;
	stg__log_trim(log);
	if (count)
		*count = n;
	return rc;
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
	if ((fresh && (rc = stg__jobs_reserve(&log->jobs, &log->alloc, 1))) ||
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
	return stg__log_requeue_commit(log, idx, &ec, &jc, fresh, now);
}

STG_EXTERN int stg_log_set_catalogued(stg_log *log, const char *integration, const char *sku)
{
	uint32_t idx;
	int rc;

	STG__ENTER(log, "stg_log_set_catalogued");
	/* A notice ahead of the SKU's first change is remembered (market.h). */
	if ((rc = stg__notice_unseen(log, "stg_log_set_catalogued", integration, sku)) != 1)
		return rc;
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

/* How many entries a reprocess_matching queues: what its transaction keeps. */
static uint64_t reprocessable(stg_log *log, const stg_query *q, int64_t now)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; log->txn.kind == STG__TXN_UNDO && i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		n += stg__ent_live(e) && stg__ent_job_state(e) != STG_JOB_IN_FLIGHT &&
		     stg__query_match(log, q, e, now);
	}
	return n;
}

STG_EXTERN int stg_log_reprocess_matching(stg_log *log, const stg_query *q, size_t *count)
{
	uint32_t i;
	size_t n = 0;
	int64_t now;
	int rc = STG_OK, own;

	if (count)
		*count = 0;
	STG__ENTER(log, "stg_log_reprocess_matching");
	if ((rc = stg__query_check(log, q, "stg_log_reprocess_matching")))
		return rc;
	stg__log_flush_owed(log);
	own = stg__txn_start(log, STG__TXN_UNDO);
	now = stg__log_now(log);
	rc = stg__txn_reserve(log, "stg_log_reprocess_matching", reprocessable(log, q, now));
	for (i = 0; i < log->nents && rc == STG_OK; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		if (!stg__ent_live(e) || stg__ent_job_state(e) == STG_JOB_IN_FLIGHT ||
		    !stg__query_match(log, q, e, now))
			continue;
		if ((rc = reprocess_idx(log, i, now)))
			break;
		n++;
	}
	if (own && stg__txn_end(log, "stg_log_reprocess_matching", &rc))
		n = 0;
	if (count)
		*count = n;
	return rc;
}

STG_EXTERN int stg_log_pause(stg_log *log, const char *integration)
{
	uint32_t integ;
	int64_t now;
	int rc;

	STG__ENTER(log, "stg_log_pause");
	if (log->txn.host)
		return stg__txn_refuse(log, "stg_log_pause");
	if ((rc = stg__integ_arg(log, "stg_log_pause", integration, &integ, 1)))
		return rc;
	now = stg__log_now(log);
	/* Written first: a pause storage does not hold would not survive a reopen. */
	if (!log->integs[integ].paused_by_host && (rc = stg__integ_store_pause(log, integ, 1, now)))
		return rc;
	log->integs[integ].paused_by_host = 1;
	stg__integ_pause(log, integ, 0, NULL, now);
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
	int rc, p, own;
	stg_event ev;

	STG__ENTER(log, "stg_log_resume");
	if (log->txn.host)
		return stg__txn_refuse(log, "stg_log_resume");
	if ((rc = stg__integ_arg(log, "stg_log_resume", integration, &integ, 0)))
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
	/* Clear the auth failures first: a stored auth failure pauses again at
	 * open. One storage commit for them all; the pause ends once it is made. */
	own = stg__txn_start(log, STG__TXN_UNDO);
	rc = stg__txn_reserve(log, "stg_log_resume", (uint64_t)need[0] + need[1] + need[2]);
	for (i = 0; i < log->nents && rc == STG_OK; i++) {
		stg__ent *e = stg__ent_at(log, i), ec;
		stg__job jc;
		if (!held_by_auth(e, integ))
			continue;
		ec = *e;
		jc = *stg__job_of(log, e);
		ec.error_class = STG_ERRCLASS_NONE;
		jc.due = now;
		if ((rc = stg__log_write_view(log, i, &ec, &jc, stg__prob_of(log, e))))
			break;
		stg__txn_carry(e, &ec);
		*e = ec;
		*stg__job_of(log, e) = jc;
		stg__log_clear_dirty(log, i);
		stg__sched_push(log, i, now);
	}
	if ((own && stg__txn_end(log, "stg_log_resume", &rc)) || rc)
		return rc;
	/* The stored pause goes last, once the entries' commit is made (outside
	 * any transaction: the record write is durable when it returns). It
	 * stays until the entries are clear. */
	if (log->integs[integ].paused_by_host && (rc = stg__integ_store_pause(log, integ, 0, now)))
		return rc;
	log->integs[integ].paused_by_host = 0;
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
