/*
 * The due-job queues of an integration, one per priority. Never installed.
 */
#ifndef STOCKGUARD_SCHED_H
#define STOCKGUARD_SCHED_H

#include "log_state.h"

/*
 * A scheduled job. Items are deleted lazily: an item is live only while its
 * entry's job is queued or held and the job's `order` is the item's (every
 * reschedule takes a new order, so older items of the job go stale).
 */
typedef struct stg__item {
	int64_t due;    /* next_attempt_at when scheduled */
	uint32_t ent;   /* entry index */
	uint32_t order; /* FIFO among equal due times; unique while live (see sched.c) */
} stg__item;

/*
 * The jobs of one (integration, priority), in (due, order) order. Jobs due
 * when they are scheduled (new exports, follow-ups, reprocess) arrive in that
 * order already, so they go to `run`, a FIFO: O(1) in and out, read
 * sequentially. The others (retries, holds, a clock that went back) go to a
 * binary heap. The queue's head is the smaller of the two heads.
 */
typedef struct stg__queue {
	stg__item *run;   /* run[head..len): sorted */
	uint32_t head, len, cap;
	stg__item *heap;  /* min-heap by (due, order) */
	uint32_t hlen, hcap;
	uint32_t run_live, heap_live; /* live items (the rest are stale) */
	uint32_t rn_run, rn_heap;     /* cursors while renumbering (sched.c) */
} stg__queue;

#define STG__PRIORITIES 3

/* Room for n more items in the queue of (integ, priority); prio -1: all.
 * stg__sched_reserve() (integ.h) is the cheap check in front of it. */
int stg__sched_reserve_slow(stg_log *log, uint32_t integ, int prio, uint32_t n);
/* Queue the entry's job (queued or held) at its due time; needs a reserve. */
void stg__sched_push(stg_log *log, uint32_t idx, int64_t now);
/* Queue a job that was taken out again in the place it had: its order and
 * @key_due (the due time it was queued with), whatever its due time is now
 * (a rate-limited job is due when the cool-down ends, but the cool-down,
 * not its due time, holds it: it goes first again when it ends). */
void stg__sched_push_back(stg_log *log, uint32_t idx, int64_t now, int64_t key_due);
/* The entry's job goes away with its queue item (a forced remove). */
void stg__sched_forget(stg_log *log, uint32_t idx);
/* A due item and where it is. */
typedef struct stg__pick {
	stg__item it;
	int prio, from_heap;
} stg__pick;

/* The most urgent due item of an integration (lowest priority, then due,
 * then order); 0 when none is due. Drops stale heads on the way. */
int stg__sched_best(stg_log *log, stg__integ *in, int64_t now, stg__pick *out);
/* Remove the item stg__sched_best() returned (a reserve in between may
 * compact the queue: the item stays its head). */
void stg__sched_take(stg_log *log, stg__integ *in, const stg__pick *pk);
/* Earliest due time among the integration's live items, -1 if none. */
int64_t stg__sched_earliest(stg_log *log, stg__integ *in);
void stg__sched_trim(stg_log *log, stg__integ *in);
void stg__sched_free(stg_log *log, stg__integ *in);

#endif
