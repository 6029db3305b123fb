/*
 * The log's in-memory state, shared by log.c (host calls that change
 * entries), pump.c (scheduling and results) and query.c (reads and stats).
 * Never installed.
 */
#ifndef STOCKGUARD_LOG_INTERNAL_H
#define STOCKGUARD_LOG_INTERNAL_H

#include "internal.h"
#include "policy_internal.h"
#include "stockguard/log.h"

/* Latency histogram: 16 sub-buckets per power of two, so a bucket's middle
 * is within 1/32 (3.2%) of any value in it. */
#define STG__HIST_SUB 16
#define STG__HIST_BUCKETS (64 * STG__HIST_SUB)

typedef struct stg__counters {
	uint64_t changes, exports, coalesced, stale, attempts, successes, abnormal, warnings;
	uint64_t skips[STG_REASON_COUNT];
	uint64_t errors[STG_ERRCLASS_COUNT];
	uint64_t latency_max;
	int has_latency;
	uint64_t *hist; /* STG__HIST_BUCKETS counters, allocated on first latency */
} stg__counters;

/* A scheduled job in one of an integration's heaps. Stale when the entry's
 * generation moved on (the job changed, went out, or the entry was removed). */
typedef struct stg__heap_item {
	int64_t due;
	uint64_t order;  /* FIFO among equals */
	uint32_t idx;
	uint32_t gen;
	int priority;
} stg__heap_item;

typedef struct stg__heap {
	stg__heap_item *items;
	size_t len, cap;
} stg__heap;

typedef struct stg__integ {
	char *name;
	size_t len;
	stg_policy *policy;       /* NULL: the log's default policy */
	uint32_t batch_size;
	uint32_t max_jobs;        /* rate limit, 0: none */
	int64_t per_ms;
	int64_t tokens;           /* in units of 1/per_ms job: budget * per_ms */
	int64_t refilled_at;
	int paused;
	stg__heap waiting;        /* by due time */
	stg__heap ready;          /* due: by priority, due, order */
	stg__counters counters;
} stg__integ;

typedef struct stg__ent {
	char *sku;
	char *message;
	int64_t available, published, acked, sequence, changed_at, job_since;
	int64_t first_failed_at, last_attempt_at, acked_at, next_attempt_at, latency_ms;
	int64_t sent;             /* quantity handed out while in flight */
	int64_t follow_since;     /* oldest change that arrived while in flight, 0 if none */
	uint64_t job_id;
	uint64_t hash;
	uint32_t integ;
	uint32_t sku_len;
	uint32_t attempts;
	uint32_t job_attempts;    /* failed attempts of the current job */
	uint32_t job_transient;   /* its transient failures: the retry budget */
	uint32_t gen;
	uint32_t next_free;       /* free list link when not live */
	uint16_t http_status;
	uint8_t status, job_state, error_class, priority, reason;
	uint8_t live, dirty;
	unsigned flags;
} stg__ent;

struct stg_log {
	stg__alloc alloc;
	stg_storage storage;
	stg_transport transport;
	stg_clock clock;
	stg_events events;
	int has_storage, has_transport;
	int64_t latency_limit, backoff_base, backoff_max, catalogue_retry, success_max_age;
	uint64_t success_max_count;
	uint32_t max_transient;
	uint64_t rng;

	stg_policy *default_policy;
	stg__integ *integs;
	uint32_t ninteg, integ_cap;

	stg__ent *ents;
	uint32_t nents, ents_cap, free_head, live;
	uint32_t *slots;          /* hash index: entry index + 1, 0 empty */
	size_t slots_cap;

	uint32_t *dirty;          /* entries whose storage write is owed */
	size_t ndirty, dirty_cap;
	size_t dirty_unlisted;    /* owed entries not in the list (it could not grow) */

	uint64_t job_counter;
	uint64_t order_counter;
	int in_hook;
	int load_rc;              /* the sink's verdict during a load, 0 if none */
	char errmsg[STG__ERRMSG_LEN];
};

#define STG__NO_FREE UINT32_MAX

/* Guard of every public entry point: refuses calls from inside a hook. */
#define STG__ENTER(log, fn)                                                              \
	do {                                                                             \
		if (!(log))                                                              \
			return stg__fail(NULL, STG_EINVAL, fn ": NULL log");             \
		if ((log)->in_hook)                                                      \
			return stg__fail(NULL, STG_ERECURSIVE,                           \
			                 fn ": called from inside one of the log's hooks");\
	} while (0)

int64_t stg__log_now(stg_log *log);
void stg__log_event(stg_log *log, stg_event *ev);
int stg__log_find_integ(const stg_log *log, const char *name, size_t len, uint32_t *out);
int stg__log_get_integ(stg_log *log, const char *name, uint32_t *out);
int stg__log_find(const stg_log *log, uint32_t integ, const char *sku, size_t len, uint32_t *out);
const stg_policy *stg__log_policy(const stg_log *log, uint32_t integ);
void stg__log_to_entry(const stg_log *log, const stg__ent *e, int64_t now, stg_entry *out);
int stg__log_write(stg_log *log, uint32_t idx);
void stg__log_mark_dirty(stg_log *log, uint32_t idx);
void stg__log_clear_dirty(stg_log *log, uint32_t idx);
int stg__log_flush_owed(stg_log *log);
/* Make room in an integration's heaps for one more job (may compact). */
int stg__log_schedule_reserve(stg_log *log, uint32_t integ);
/* Push the entry's job (queued or held) by its due time; needs a reserve. */
void stg__log_schedule(stg_log *log, uint32_t idx);
int stg__query_match(const stg_log *log, const stg_query *q, const stg__ent *e, int64_t now);
int stg__query_check(stg_log *log, const stg_query *q, const char *fn);
void stg__counters_latency(stg_log *log, stg__counters *c, int64_t ms);
void stg__counters_free(stg_log *log, stg__counters *c);

#endif
