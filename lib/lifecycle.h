/*
 * What happens to one entry across its records: a job ends, the entry is
 * deleted, unused records are given back. Never installed.
 */
#ifndef STOCKGUARD_LIFECYCLE_H
#define STOCKGUARD_LIFECYCLE_H

#include "log_state.h"

/* a - b into *out when it fits in 32 bits (times are kept as such gaps). */
static inline int stg__gap32(int64_t a, int64_t b, int32_t *out)
{
	int64_t d;

	if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b))
		return 0;
	d = a - b;
	if (d < INT32_MIN || d > INT32_MAX)
		return 0;
	*out = (int32_t)d;
	return 1;
}

/* The high half of a new job id. */
static inline uint32_t stg__log_new_job_id(stg_log *log)
{
	return (uint32_t)++log->job_counter;
}
/* Release the entry's job record; last_attempt_at moves to where it is kept
 * without a job (needs a reserved problem record when it does not fit). */
void stg__log_end_job(stg_log *log, uint32_t idx);
/* Delete entry idx from memory: index, queue, records, owed write. */
/* Take the entry's job, queue item, problem record and owed write away; it
 * keeps its slot, index place and SKU. */
void stg__log_strip_entry(stg_log *log, uint32_t idx);
void stg__log_delete_entry(stg_log *log, uint32_t idx);
/* The entry's problem record, taking a reserved one if it has none. */
stg__prob *stg__prob_need(stg_log *log, uint32_t idx);
/* Drop the entry's problem record (the message is released). */
void stg__prob_drop(stg_log *log, uint32_t idx);
/* Drop it when it holds nothing (no failure, no wide value): after a success. */
void stg__prob_settle(stg_log *log, uint32_t idx);
/* Give back what finished jobs and problems leave unused (after calls that end them). */
void stg__log_trim(stg_log *log);

#endif
