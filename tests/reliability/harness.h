/*
 * Shared pieces of the reliability tests, over the shared fixture
 * (tests/common/fixture.h: counting allocator failing the Nth allocation,
 * recording storage failing the Nth write/remove, fake clock, transport,
 * snapshots of a log or of the storage): a scripted marketplace choosing
 * the transport's answers, a host wiring them into log options, and
 * comparisons of entries and snapshots field by field.
 */
#ifndef STG_RELIABILITY_HARNESS_H
#define STG_RELIABILITY_HARNESS_H

#include <stockguard.h>

#include "fixture.h"

#include <stddef.h>
#include <stdint.h>

/*
 * The hooks are the shared fixture's (tests/common/fixture.h): fx_alloc,
 * fx_storage, fx_clock, fx_snap; the transport is an fx_transport whose
 * answers are chosen by this suite's marketplace (rh_transport below). What
 * stays here is what only this suite needs: the marketplace's answers, a
 * host that wires the fixture into log options, and entry comparisons.
 */

/* A storage that treats a record that does not decode as a test failure. */
void rh_store_init(fx_storage *s);

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
	RH_CONFLICT,   /* 409, classified by the log's built-in rules: conflict */
	RH_NOTCAT_TEXT,/* 400 with Carrefour's "not catalogued" text, no class: the rules say so */
	RH_BROKEN      /* the transport itself fails (returns -8) */
};

/* The fixture transport with this suite's answer chooser. */
typedef struct rh_transport {
	fx_transport fx;      /* what it saw: fx.sent, fx.nsent, fx.acks, fx.nacks */
	/* Answer chooser: by default `fixed`, or by the SKU's number mod 7
	 * through `by_sku` when `use_by_sku` is set. */
	int fixed;
	int use_by_sku;
	int by_sku[7];
} rh_transport;

void rh_transport_init(rh_transport *t, int fixed);
/* Answer every job with a (RH_*), or by SKU through by_sku. */
void rh_answer(rh_transport *t, int a);
void rh_mixed(rh_transport *t);
int rh_answer_of(const rh_transport *t, const char *sku);
void rh_result_for(int answer, stg_job_result *r);

/* ----------------------------------------------------------------- host */

/* The fixture wired into log options: a counting allocator, a recording
 * storage, a clock at T0 and the transport (with send_batch) answering OK,
 * by_sku set to the mixed table; success_max_count 3. */
typedef struct rh_host {
	fx_alloc alloc;
	fx_storage store;
	fx_clock clock;
	rh_transport tr;
	stg_storage sh;
	stg_clock ch;
	stg_transport th;
	stg_log_options opt;
} rh_host;

/* ok, 400, not catalogued, 500, ok, 429, async */
extern const int rh_mixed_answers[7];

void rh_host_init(rh_host *h);
void rh_host_free(rh_host *h);

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
int rh_snap_diff(const fx_snap *a, const fx_snap *b, int mode, char *why, size_t cap);
/* Entries equal under mode except those whose key is listed in skip. */
int rh_snap_diff_except(const fx_snap *a, const fx_snap *b, int mode,
                        const char *const *skip_integ, const char *const *skip_sku, size_t nskip,
                        char *why, size_t cap);

/* --------------------------------------------------------------- helpers */

/* Submit a change with sequence (*seq)++, asserting STG_OK (a prefix step). */
void rh_submit(stg_log *log, int64_t *seq, const char *integration, const char *sku, int64_t available);

/* Failed expectations of the fault loops are counted in rh_bad; the first
 * five are reported in full (cr_expect), so a broken loop does not print
 * thousands. */
extern long rh_bad;
#define CHECK(cond, ...)                                                 \
	do {                                                             \
		if (!(cond)) {                                           \
			rh_bad++;                                        \
			if (rh_bad <= 5)                                 \
				cr_expect((cond), __VA_ARGS__);          \
		}                                                        \
	} while (0)

stg_submit rh_change(const char *integration, const char *sku, int64_t available, int64_t seq);
/* Make the log's message a known sentinel (a harmless failing call). */
void rh_prime_errmsg(stg_log *log);
int rh_errmsg_fresh(stg_log *log, const char *keyword);
void rh_prime_last_error(void);
int rh_last_error_fresh(const char *keyword);

#endif
