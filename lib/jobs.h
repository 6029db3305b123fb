/*
 * Job records: one per entry that has a job. Never installed.
 */
#ifndef STOCKGUARD_JOBS_H
#define STOCKGUARD_JOBS_H

#include "log_state.h"

/* Room for n more job records. */
int stg__jobs_reserve(stg_log *log, uint32_t n);
/* Take a reserved record (cannot fail), owned by entry idx. */
uint32_t stg__jobs_take(stg_log *log, uint32_t ent);
void stg__jobs_release(stg_log *log, uint32_t job);
/* Give memory back when few records are used (after calls that end jobs). */
void stg__jobs_trim(stg_log *log);
void stg__jobs_free(stg_log *log);

#endif
