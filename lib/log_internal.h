/*
 * The log's in-memory state, shared by the files that make up the log:
 *
 *   log.c      open/load/close, integrations, write-through, submit, remove,
 *              expire, flush
 *   entries.c  the entry table (chunks, inline SKUs) and what an entry reports
 *   index.c    the (integration, SKU) hash index
 *   jobs.c     job records (only while an entry has a job)
 *   problems.c problem records and interned marketplace messages
 *   sched.c    the due-job queues
 *   queue.c    pump, results, backoff, pause/resume, catalogued, reprocess
 *   query.c    reads and stats
 *
 * Layout, and why: memory per entry is the figure that matters at millions
 * of SKUs, and most entries are settled (success, no job, no failure). So an
 * entry is a compact "hot" record of 88 bytes holding what every entry has;
 * what only some entries have lives in side records that exist only while
 * needed: a job record while a job exists, a problem record while there is
 * failure information (or a value too wide for the hot record). Never
 * installed.
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

/* ------------------------------------------------------------ due queues */

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
	stg__queue q[STG__PRIORITIES]; /* by ::stg_priority: the pump takes the lowest due first */
	stg__counters counters;
} stg__integ;

/* ------------------------------------------------------------------ entry */

/* The SKU, inline when it is short (most are): no allocation, and the key
 * compare stays in the entry's first cache line. */
typedef union stg__sku {
	char in[16];                                /* <= 15 bytes, zero-padded */
	struct { char *ptr; uint32_t len; } out;    /* longer: on the heap */
} stg__sku;

#define STG__SKU_INLINE_MAX 15

/* stg__ent.bits */
#define STG__B_LIVE 0x01u
#define STG__B_DIRTY 0x02u          /* its storage write is owed, listed in log->dirty */
#define STG__B_DIRTY_UNLISTED 0x04u /* owed, but the list could not grow: found by scan */
#define STG__B_SKU_HEAP 0x08u
#define STG__B_JOB_SHIFT 4          /* 2 bits: ::stg_job_state (kept here, not in the job
                                     * record, so a coalescing submit reads one record) */
#define STG__B_JOB_MASK (3u << STG__B_JOB_SHIFT)

/* latency_ms is kept in 40 bits (exact to +-17 years); this value says it
 * did not fit and is in the problem record. */
#define STG__LAT_WIDE (-(INT64_C(1) << 39))

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

/*
 * One (integration, SKU) line: 88 bytes. Reported fields not here come
 * from the job record (job_since, next_attempt_at, job_id, job_attempts,
 * job_transient, last_attempt_at while a job exists) or the problem record
 * (message, http_status, attempts, first_failed_at); without those records
 * they read as 0 / NULL. last_attempt_at of an entry without either is
 * acked_at - ack_delay: after a success the two are close, so 4 bytes do.
 */
typedef struct stg__ent {
	stg__sku sku;
	int64_t available, published, acked, sequence, changed_at, acked_at;
	uint32_t job;        /* job record + 1, 0: none; the free-list link of a dead entry */
	uint32_t prob;       /* problem record + 1, 0: none */
	uint32_t latency_lo; /* low 32 bits of latency_ms (see stg__ent_latency()) */
	union {
		/* With a job: the high half of its id, so that a submit result and
		 * stg_log_complete() need not read the job record. */
		uint32_t job_id;
		/* Without a job or problem record: acked_at - last_attempt_at. */
		int32_t ack_delay;
	};
	uint16_t integ;
	/* The small fields share one word with latency_ms's high bits, so that
	 * latency_ms fits in 40 bits without growing the entry. */
	unsigned latency_hi : 8;
	unsigned status : 2;
	unsigned error_class : 3;
	unsigned priority : 2;
	unsigned reason : 4;
	unsigned flags : 5;  /* STG_ENTRY_* (higher bits of foreign data: problem record) */
	unsigned bits : 8;   /* STG__B_* */
} stg__ent;

/* Entry flag bits the entry holds itself. */
#define STG__FLAGS_MASK 0x1fu

/* Entries live in chunks of fixed size, so the table grows without moving
 * (or doubling) what it holds; only chunk 0 grows by realloc while small. */
#define STG__CHUNK_SHIFT 10
#define STG__CHUNK (1u << STG__CHUNK_SHIFT)

/* ------------------------------------------------------------ job record */

typedef struct stg__job {
	int64_t since;        /* job_since: the oldest change it carries */
	int64_t due;          /* next_attempt_at */
	int64_t last_attempt; /* last_attempt_at (carried over from before the job) */
	int64_t sent;         /* the quantity handed out, while in flight */
	int64_t follow_since; /* oldest change that arrived while in flight, 0 if none */
	uint32_t ent;         /* its entry; the free-list link when free */
	uint32_t order;       /* order of its live queue item */
	uint32_t attempts;    /* job_attempts */
	uint32_t transient;   /* job_transient: the retry budget used */
	uint32_t used;        /* 0 when on the free list */
	uint32_t qslot;       /* where its live item is: 1 + 2 * priority + (1 if in the heap), 0: none */
} stg__job;

typedef struct stg__jobs {
	stg__job *v;
	uint32_t len, cap, live, free_head;
} stg__jobs;

/* -------------------------------------------------------- problem record */

typedef struct stg__prob {
	int64_t first_failed_at;
	int64_t last_attempt_at; /* authoritative while the entry has no job */
	int64_t latency_ms;      /* when the entry says STG__LAT_WIDE */
	uint32_t ent;            /* its entry (records are kept dense) */
	uint32_t msg;            /* interned message + 1, 0: none */
	uint32_t attempts;
	uint32_t xflags;         /* flag bits above the entry's byte (foreign stored data) */
	uint16_t http_status;
} stg__prob;

typedef struct stg__msg {
	char *text;              /* NULL: free slot */
	uint32_t len, refs;
	uint64_t hash;
} stg__msg;

/* Marketplace messages, interned: many SKUs fail with the same text. */
typedef struct stg__msgs {
	stg__msg *v;
	uint32_t len, cap, free_head, count;
	uint32_t *slots;         /* open addressing: message index + 1, 0 empty */
	uint32_t slots_cap;
} stg__msgs;

/* -------------------------------------------------------------------- log */

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
	uint32_t ninteg, integ_cap, last_integ;
	stg__strmap integ_names;  /* name -> index, once there are more than a few */

	stg__ent **chunks;
	uint32_t nchunks, chunks_cap;
	uint32_t nents, ents_cap, free_head, live;
	uint32_t *slots;          /* hash index: tag | entry index + 1, 0 empty (index.c) */
	uint32_t slots_cap, slot_idx_mask;

	stg__jobs jobs;
	stg__prob *probs;
	uint32_t nprobs, probs_cap;
	stg__msgs msgs;

	uint32_t *dirty;          /* entries whose storage write is owed */
	size_t ndirty, dirty_cap;
	size_t dirty_unlisted;    /* owed entries not in the list (it could not grow) */

	uint64_t job_counter;
	uint32_t order_counter;
	int in_hook;
	int load_rc;              /* the sink's verdict during a load, 0 if none */
	char errmsg[STG__ERRMSG_LEN];
};

#define STG__NO_FREE UINT32_MAX
/* Integration ids are 16 bits in the entry: marketplace connections per log. */
#define STG__MAX_INTEG 65535u
/* Up to this many integrations, finding one by name is a scan. */
#define STG__INTEG_SCAN 8u

/* Guard of every public entry point: refuses calls from inside a hook. */
#define STG__ENTER(log, fn)                                                              \
	do {                                                                             \
		if (!(log))                                                              \
			return stg__fail(NULL, STG_EINVAL, fn ": NULL log");             \
		if ((log)->in_hook)                                                      \
			return stg__fail(NULL, STG_ERECURSIVE,                           \
			                 fn ": called from inside one of the log's hooks");\
	} while (0)

/* ---------------------------------------------------------------- entries */

static inline stg__ent *stg__ent_at(const stg_log *log, uint32_t idx)
{
	return &log->chunks[idx >> STG__CHUNK_SHIFT][idx & (STG__CHUNK - 1)];
}

static inline int stg__ent_live(const stg__ent *e)
{
	return (e->bits & STG__B_LIVE) != 0;
}

static inline int stg__ent_job_state(const stg__ent *e)
{
	return (e->bits & STG__B_JOB_MASK) >> STG__B_JOB_SHIFT;
}

static inline void stg__ent_set_job_state(stg__ent *e, int state)
{
	e->bits = (e->bits & ~STG__B_JOB_MASK) | ((unsigned)state << STG__B_JOB_SHIFT);
}

/* latency_ms as kept: -1 none, STG__LAT_WIDE: in the problem record. */
static inline int64_t stg__ent_latency(const stg__ent *e)
{
	int64_t v = (int64_t)((uint64_t)e->latency_hi << 32 | e->latency_lo);
	return (e->latency_hi & 0x80u) ? v - (INT64_C(1) << 40) : v;
}

static inline int stg__latency_fits(int64_t v)
{
	return v > STG__LAT_WIDE && v < -STG__LAT_WIDE;
}

/* Keep v, which fits or is STG__LAT_WIDE. */
static inline void stg__ent_set_latency(stg__ent *e, int64_t v)
{
	uint64_t u = (uint64_t)v;
	e->latency_lo = (uint32_t)u;
	e->latency_hi = (unsigned)(u >> 32) & 0xffu;
}

static inline const char *stg__ent_sku(const stg__ent *e)
{
	return (e->bits & STG__B_SKU_HEAP) ? e->sku.out.ptr : e->sku.in;
}

static inline stg__job *stg__job_of(const stg_log *log, const stg__ent *e)
{
	return e->job ? &log->jobs.v[e->job - 1] : NULL;
}

static inline stg__prob *stg__prob_of(const stg_log *log, const stg__ent *e)
{
	return e->prob ? &log->probs[e->prob - 1] : NULL;
}

size_t stg__ent_sku_len(const stg__ent *e);
/* Set a fresh entry's SKU (allocates when long). */
int stg__ent_set_sku(stg_log *log, stg__ent *e, const char *sku, size_t len);
void stg__ent_free_sku(stg_log *log, stg__ent *e);
/* Room for one more entry: a slot in the table and in the index. */
int stg__ents_reserve(stg_log *log);
/* Room for one more entry in the table only (the load indexes at the end). */
int stg__ents_reserve_unindexed(stg_log *log);
/* The index the next stg__ents_take() returns. */
static inline uint32_t stg__ents_next(const stg_log *log)
{
	return log->free_head != STG__NO_FREE ? log->free_head : log->nents;
}

/* Take the reserved slot (cannot fail after stg__ents_reserve()). */
static inline uint32_t stg__ents_take(stg_log *log)
{
	uint32_t idx;

	if (log->free_head != STG__NO_FREE) {
		idx = log->free_head;
		log->free_head = stg__ent_at(log, idx)->job;
	} else {
		idx = log->nents++;
	}
	log->live++;
	return idx;
}

void stg__ents_release(stg_log *log, uint32_t idx);
void stg__ents_free(stg_log *log);

/* last_attempt_at of an entry, wherever it is kept. */
static inline int64_t stg__ent_last_attempt(const stg__ent *e, const stg__job *j, const stg__prob *p)
{
	if (j)
		return j->last_attempt;
	if (p)
		return p->last_attempt_at;
	return e->acked_at - e->ack_delay; /* stored only when it fits (stg__gap32) */
}
/* What the entry reports: the hot record with its job and problem records. */
void stg__ent_view(const stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p,
                   int64_t now, stg_entry *out);
void stg__log_to_entry(const stg_log *log, uint32_t idx, int64_t now, stg_entry *out);

/* ------------------------------------------------------------------ index */

/* A lookup key: the SKU zero-padded to 16 bytes when it is short. */
typedef struct stg__key {
	const char *sku;
	uint32_t len, integ;
	uint64_t w[2];
	uint64_t hash;
} stg__key;

void stg__key_make(stg__key *k, uint32_t integ, const char *sku, size_t len);
int stg__index_find(const stg_log *log, const stg__key *k, uint32_t *idx);
/* Whether live entry idx holds key k, so is its entry: a check of a
 * candidate, without a probe. */
int stg__index_is(const stg_log *log, const stg__key *k, uint32_t idx);
/* Room for log->live + 1 entries at a load of at most 3/4. */
int stg__index_reserve(stg_log *log);
void stg__index_insert(stg_log *log, uint64_t hash, uint32_t idx);
/*
 * Index every live entry at once, into a table sized for them (the load:
 * entries are appended unindexed, then indexed here). STG_ECORRUPT when two
 * entries have the same key, *dup then the later one; STG_ENOMEM.
 */
int stg__index_build(stg_log *log, uint32_t *dup);
void stg__index_delete(stg_log *log, uint32_t idx);
uint64_t stg__ent_hash(const stg__ent *e);

/* ------------------------------------------------------------------- jobs */

/* Room for n more job records. */
int stg__jobs_reserve(stg_log *log, uint32_t n);
/* Take a reserved record (cannot fail), owned by entry idx. */
uint32_t stg__jobs_take(stg_log *log, uint32_t ent);
void stg__jobs_release(stg_log *log, uint32_t job);
/* Give memory back when few records are used (after calls that end jobs). */
void stg__jobs_trim(stg_log *log);
void stg__jobs_free(stg_log *log);

/* --------------------------------------------------------------- problems */

int stg__probs_reserve(stg_log *log, uint32_t n);
/* The entry's problem record, taking a reserved one if it has none. */
stg__prob *stg__prob_need(stg_log *log, uint32_t idx);
/* Drop the entry's problem record (the message is released). */
void stg__prob_drop(stg_log *log, uint32_t idx);
/* Drop it when it holds nothing (no failure, no wide value): after a success. */
void stg__prob_settle(stg_log *log, uint32_t idx);
void stg__probs_trim(stg_log *log);
void stg__probs_free(stg_log *log);
/* Intern a message (cut at STG_MESSAGE_MAX): its id, or 0 for NULL, "" or no memory. */
uint32_t stg__msg_intern(stg_log *log, const char *text);
void stg__msg_release(stg_log *log, uint32_t id);
static inline const char *stg__msg_text(const stg_log *log, uint32_t id)
{
	return id ? log->msgs.v[id - 1].text : NULL;
}
void stg__msgs_free(stg_log *log);

/* ------------------------------------------------------------------ sched */

/* Room for n more items in the queue of (integ, priority); prio -1: all. */
int stg__sched_reserve_slow(stg_log *log, uint32_t integ, int prio, uint32_t n);
static inline int stg__sched_reserve(stg_log *log, uint32_t integ, int prio, uint32_t n)
{
	const stg__queue *q = &log->integs[integ].q[prio < 0 ? 0 : prio];

	/* Nearly always there is room already (each submit asks). */
	if (prio >= 0 && q->cap - q->len >= n && q->hcap - q->hlen >= n)
		return STG_OK;
	return stg__sched_reserve_slow(log, integ, prio, n);
}
/* Queue the entry's job (queued or held) at its due time; needs a reserve. */
void stg__sched_push(stg_log *log, uint32_t idx, int64_t now);
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

/* -------------------------------------------------------------------- log */

int64_t stg__log_now(stg_log *log);
void stg__log_event(stg_log *log, stg_event *ev);
int stg__log_find_integ(const stg_log *log, const char *name, size_t len, uint32_t *out);
int stg__log_get_integ(stg_log *log, const char *fn, const char *name, size_t len, uint32_t *out);
int stg__log_find(const stg_log *log, uint32_t integ, const char *sku, size_t len, uint32_t *out);
const stg_policy *stg__log_policy(const stg_log *log, uint32_t integ);
/* Write a prospective state of an entry through the storage hook. */
int stg__log_write_view(stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p);
int stg__log_write(stg_log *log, uint32_t idx);
void stg__log_mark_dirty(stg_log *log, uint32_t idx);
void stg__log_clear_dirty(stg_log *log, uint32_t idx);
int stg__log_flush_owed_slow(stg_log *log);
/* Write what is owed; cheap when nothing is. */
static inline int stg__log_flush_owed(stg_log *log)
{
	return (log->ndirty || log->dirty_unlisted) ? stg__log_flush_owed_slow(log) : STG_OK;
}
/* Release the entry's job record; last_attempt_at moves to where it is kept
 * without a job (needs a reserved problem record when it does not fit). */
void stg__log_end_job(stg_log *log, uint32_t idx);
/* The high half of a new job id. */
uint32_t stg__log_new_job_id(stg_log *log);
/* Give back what finished jobs and problems leave unused (after calls that end them). */
void stg__log_trim(stg_log *log);
int stg__query_match(const stg_log *log, const stg_query *q, const stg__ent *e, int64_t now);
int stg__query_check(stg_log *log, const stg_query *q, const char *fn);
void stg__counters_latency(stg_log *log, stg__counters *c, int64_t ms);
void stg__counters_free(stg_log *log, stg__counters *c);

#endif
