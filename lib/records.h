/*
 * The records of one (integration, SKU) line, and the accessors that need
 * only the record: the hot entry (88 bytes, what every entry has), the job
 * record (only while the entry has a job), the problem record (only while
 * there is failure information or a value too wide for the hot record) and
 * the interned marketplace messages. Never installed.
 *
 * Layout, and why: memory per entry is the figure that matters at millions
 * of SKUs, and most entries are settled (success, no job, no failure), so
 * what only some entries have lives in side records that exist only while
 * needed.
 */
#ifndef STOCKGUARD_RECORDS_H
#define STOCKGUARD_RECORDS_H

#include "internal.h"
#include "stockguard/log.h"

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
#define STG__B_TXN 0x40u            /* its records as they were are kept by the open transaction */
#define STG__B_JOB_SHIFT 4          /* 2 bits: ::stg_job_state (kept here, not in the job
                                     * record, so a coalescing submit reads one record) */
#define STG__B_JOB_MASK (3u << STG__B_JOB_SHIFT)

/* latency_ms is kept in 40 bits (exact to +-17 years); this value says it
 * did not fit and is in the problem record. */
#define STG__LAT_WIDE (-(INT64_C(1) << 39))

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
	/* Where the newest change's minimum came from and which rule set its
	 * quantity (explained.h), 0: not recorded (a 1.0 entry).
	 * In what was padding: the entry stays 88 bytes. */
	uint8_t explain;
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

/* The problem records of a log: dense (a removed one takes the last one's place). */
typedef struct stg__probs {
	stg__prob *v;
	uint32_t len, cap;
} stg__probs;

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


#define STG__NO_FREE UINT32_MAX

/* A record store moved the record of entry @ent to index @rec: the owner of
 * the entries updates its link (stores never write into other records). */
typedef void (*stg__moved_fn)(void *ctx, uint32_t ent, uint32_t rec);

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

/* last_attempt_at of an entry, wherever it is kept. */
static inline int64_t stg__ent_last_attempt(const stg__ent *e, const stg__job *j, const stg__prob *p)
{
	if (j)
		return j->last_attempt;
	if (p)
		return p->last_attempt_at;
	return e->acked_at - e->ack_delay; /* stored only when it fits (stg__gap32) */
}

#endif
