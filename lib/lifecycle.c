/*
 * One entry across its records: job ids, the end of a job, deleting an
 * entry, giving back unused records.
 */
#include "entries.h"
#include "owed.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "problems.h"

void stg__log_end_job(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	int64_t last = log->jobs.v[e->job - 1].last_attempt;
	int32_t gap;

	stg__jobs_release(&log->jobs, e->job - 1);
	e->job = 0;
	stg__ent_set_job_state(e, STG_JOB_NONE);
	if (!e->prob && stg__gap32(e->acked_at, last, &gap)) {
		e->ack_delay = gap;
		return;
	}
	stg__prob_need(log, idx)->last_attempt_at = last;
}

void stg__log_strip_entry(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	stg__sched_forget(log, idx);
	if (e->job)
		stg__jobs_release(&log->jobs, e->job - 1);
	e->job = 0;
	stg__prob_drop(log, idx);
	stg__log_clear_dirty(log, idx);
}

void stg__log_delete_entry(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	stg__index_delete(log, idx);
	stg__log_strip_entry(log, idx);
	stg__ent_free_sku(log, e);
	stg__ents_release(log, idx);
}

static void job_moved(void *ctx, uint32_t ent, uint32_t rec)
{
	stg__ent_at(ctx, ent)->job = rec + 1;
}

void stg__log_trim(stg_log *log)
{
	uint32_t i;

	/* Not while an UNDO transaction is open: undoing it needs the room. */
	if (log->txn.kind == STG__TXN_UNDO)
		return;
	stg__jobs_trim(&log->jobs, &log->alloc, job_moved, log);
	stg__probs_trim(&log->probs, &log->alloc);
	for (i = 0; i < log->ninteg; i++)
		stg__sched_trim(log, &log->integs[i]);
}

/* ---------------------------------------------------------- problem record */

stg__prob *stg__prob_need(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__prob *p;

	if (e->prob)
		return &log->probs.v[e->prob - 1];
	e->prob = stg__probs_add(&log->probs, idx) + 1;
	p = &log->probs.v[e->prob - 1];
	if (!e->job) {
		/* last_attempt_at was kept as a gap from acked_at; the record has it now. */
		p->last_attempt_at = stg__ent_last_attempt(e, NULL, NULL);
		e->ack_delay = 0;
	}
	return p;
}

static void prob_moved(void *ctx, uint32_t ent, uint32_t rec)
{
	stg__ent_at(ctx, ent)->prob = rec + 1;
}

void stg__prob_drop(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	if (!e->prob)
		return;
	stg__msg_release(&log->msgs, &log->alloc, log->probs.v[e->prob - 1].msg);
	stg__probs_remove(&log->probs, e->prob - 1, prob_moved, log);
	e->prob = 0;
}

void stg__prob_settle(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	const stg__prob *p;
	int32_t gap = 0;

	if (!e->prob)
		return;
	p = &log->probs.v[e->prob - 1];
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
