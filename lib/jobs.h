/*
 * Job records: one per entry that has a job. The store knows only its own
 * array and the allocator; where a record moves, it tells the caller.
 * Never installed.
 */
#ifndef STOCKGUARD_JOBS_H
#define STOCKGUARD_JOBS_H

#include "records.h"

/* Room for n more job records. */
int stg__jobs_reserve(stg__jobs *js, const stg__alloc *a, uint32_t n);
/* Take a reserved record (cannot fail), owned by entry @ent. */
uint32_t stg__jobs_take(stg__jobs *js, uint32_t ent);
void stg__jobs_release(stg__jobs *js, uint32_t job);
/* Give memory back when few records are used (after calls that end jobs):
 * live records are packed down, and each move is reported to @moved. */
void stg__jobs_trim(stg__jobs *js, const stg__alloc *a, stg__moved_fn moved, void *ctx);
void stg__jobs_free(stg__jobs *js, const stg__alloc *a);

#endif
