/*
 * Shared pieces of the reliability tests: a counting allocator that can fail
 * the Nth allocation, an in-memory storage hook (stg_entry_encode bytes keyed
 * by integration and SKU) that can fail the Nth write/remove, a fake clock, a
 * scripted transport that plays the marketplace, and snapshots of a log's
 * entries (through stg_log_query) or of the storage (by decoding its table)
 * compared field by field.
 */
#ifndef STG_RELIABILITY_HARNESS_H
#define STG_RELIABILITY_HARNESS_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ allocator */

#define RH_SITE_MAX 512

typedef struct rh_alloc {
	stg_allocator hook;
	long attempts;        /* malloc and realloc calls since armed */
	long fail_at;         /* fail this attempt (1-based); 0 = never */
	int persistent;       /* and every attempt after it */
	long failures;        /* failed attempts since armed */
	long live_blocks;
	long long live_bytes;
	int record_sites;     /* hash the call stack of each failed attempt */
	uint64_t last_site;   /* stack hash of the last failure */
	uint64_t sites[RH_SITE_MAX];
	size_t nsites;        /* distinct failure stacks seen (by the caller's choice) */
} rh_alloc;

void rh_alloc_init(rh_alloc *a);
void rh_alloc_arm(rh_alloc *a, long fail_at, int persistent);
void rh_alloc_disarm(rh_alloc *a);
/* Remember a stack hash as one distinct failure point; returns 1 if new. */
int rh_site_add(uint64_t *sites, size_t *n, uint64_t site);

/* -------------------------------------------------------------- storage */

typedef struct rh_rec {
	char *integration;
	char *sku;
	unsigned char *bytes;
	size_t len;
} rh_rec;

typedef struct rh_store {
	rh_rec *recs;
	size_t n, cap;
	long calls;           /* write + remove calls since armed */
	long fail_at;         /* fail this call (1-based); 0 = never */
	int persistent;
	long failures;
	int fail_load;        /* load returns this when non-zero */
	long writes, removes; /* totals */
} rh_store;

void rh_store_init(rh_store *s);
void rh_store_free(rh_store *s);
void rh_store_arm(rh_store *s, long fail_at, int persistent);
void rh_store_disarm(rh_store *s);
stg_storage rh_store_hook(rh_store *s);
/* Deep copy of the table (for "storage as it was" reopen checks). */
void rh_store_copy(rh_store *dst, const rh_store *src);

/* ---------------------------------------------------------------- clock */

typedef struct rh_clock {
	int64_t now;
} rh_clock;

stg_clock rh_clock_hook(rh_clock *c);

/* ------------------------------------------------------------- transport */

/* What the scripted marketplace answers. */
enum rh_answer {
	RH_OK = 0,
	RH_REJECT,     /* 400 with a message */
	RH_NOTCAT,     /* not catalogued (explicit class) with a message */
	RH_TRANSIENT,  /* 500 with a message */
	RH_AUTH,       /* 401 with a message */
	RH_RATE,       /* 429, retry-after 2 s */
	RH_ASYNC,      /* completed later */
	RH_BROKEN      /* the transport itself fails (returns non-zero) */
};

#define RH_MAX_SENT 4096
#define RH_MAX_ACKS 1024

typedef struct rh_sent {
	uint64_t id;
	char integration[32];
	char sku[32];
	int64_t published;
	int answer;
} rh_sent;

typedef struct rh_ack {
	char integration[32];
	char sku[32];
	int64_t qty;
} rh_ack;

typedef struct rh_transport {
	/* Answer chooser: by default `fixed`, or by the SKU's number mod 7
	 * through `by_sku` when `use_by_sku` is set. */
	int fixed;
	int use_by_sku;
	int by_sku[7];
	long calls;           /* send / send_batch calls since armed */
	long fail_at;         /* make this call fail as a whole; 0 = never */
	int persistent;
	long failures;
	rh_sent sent[RH_MAX_SENT];
	size_t nsent;         /* jobs handed out (not counting failed calls) */
	rh_ack acks[RH_MAX_ACKS];
	size_t nacks;         /* last acknowledged quantity per key */
} rh_transport;

void rh_transport_init(rh_transport *t, int fixed);
stg_transport rh_transport_hook(rh_transport *t, int with_batch);
void rh_transport_arm(rh_transport *t, long fail_at, int persistent);
/* Record an acknowledgement (also used for async completions). */
void rh_transport_ack(rh_transport *t, const char *integration, const char *sku, int64_t qty);
const rh_ack *rh_transport_find_ack(const rh_transport *t, const char *integration, const char *sku);
int rh_answer_of(const rh_transport *t, const char *sku);
void rh_result_for(int answer, stg_job_result *r);

/* ------------------------------------------------------------- snapshots */

typedef struct rh_snap {
	stg_entry *v;   /* strings owned by the snapshot */
	size_t n;
} rh_snap;

/* Every entry of the log (query with NULL filter, pages of 7). */
void rh_snap_log(stg_log *log, rh_snap *out);
/* Every entry of the storage table (decoded). */
void rh_snap_store(const rh_store *s, rh_snap *out);
void rh_snap_free(rh_snap *s);
const stg_entry *rh_snap_find(const rh_snap *s, const char *integration, const char *sku);

/* How two entries are compared. */
enum {
	RH_CMP_EXACT = 0,
	RH_CMP_MEM_STORE = 1,  /* a: memory, b: storage: in flight is stored as queued */
	RH_CMP_RELOADED = 2,   /* a: memory, b: after a reopen: in flight is queued, ids new */
	RH_CMP_NO_JOB_ID = 4   /* ignore job ids */
};

/* 0 when equal; otherwise writes the first difference into why. */
int rh_entry_diff(const stg_entry *a, const stg_entry *b, int mode, char *why, size_t cap);
/* 0 when equal (same keys, entries equal under mode). */
int rh_snap_diff(const rh_snap *a, const rh_snap *b, int mode, char *why, size_t cap);
/* Entries equal under mode except those whose key is listed in skip. */
int rh_snap_diff_except(const rh_snap *a, const rh_snap *b, int mode,
                        const char *const *skip_integ, const char *const *skip_sku, size_t nskip,
                        char *why, size_t cap);

/* --------------------------------------------------------------- helpers */

stg_submit rh_change(const char *integration, const char *sku, int64_t available, int64_t seq);
/* Make the log's message a known sentinel (a harmless failing call). */
void rh_prime_errmsg(stg_log *log);
int rh_errmsg_fresh(stg_log *log, const char *keyword);
void rh_prime_last_error(void);
int rh_last_error_fresh(const char *keyword);

#endif
