/*
 * Test harness for the integration log (SPEC sections 3 and 4): a fake
 * clock, a scripted fake transport that records every job it is handed, an
 * event recorder and a recording storage hook that keeps entries encoded
 * with stg_entry_encode() and loads them with stg_entry_decode().
 *
 * Criterion runs every test in its own process, so the harness is one
 * global, H, reset by h_reset() at the start of each test.
 */
#ifndef STOCKGUARD_TESTS_LOG_HARNESS_H
#define STOCKGUARD_TESTS_LOG_HARNESS_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fake clock starts here (a real-looking epoch time, never 0). */
#define T0 INT64_C(1700000000000)

#define H_NAME 80
#define H_MAX_SCRIPT 512
#define H_MAX_EVENTS 512
#define H_MAX_RECORDS 512

/* One scripted transport answer. */
typedef struct h_script {
	int outcome;
	int error_class;
	int http;
	int64_t retry_after;
	const char *message;
	int transport_rc; /* non-zero: the hook itself fails (no result) */
} h_script;

/* One job as the transport saw it. */
typedef struct h_sent {
	uint64_t id;
	char integration[H_NAME];
	char sku[H_NAME];
	int64_t published, available, changed_at;
	uint32_t attempt;
	int priority;
	unsigned flags;
	int64_t at;      /* fake clock at hand-off */
	size_t call;     /* transport call number (0-based) */
	size_t batch_n;  /* jobs in that call */
	int batched;     /* came through send_batch */
} h_sent;

/* One recorded event (strings copied). */
typedef struct h_event {
	int type, http;
	char integration[H_NAME];
	char sku[H_NAME];
	int has_sku;
	char message[256];
	int has_message;
	int64_t available, min_stock, latency_ms, time;
} h_event;

/* One stored entry: its key and its encoding. */
typedef struct h_record {
	int live;
	char integration[H_NAME];
	char sku[H_NAME];
	unsigned char *buf;
	size_t len;
} h_record;

/* Where a hook is running, for the re-entry tests. */
enum h_where { H_IN_SEND = 1, H_IN_BATCH, H_IN_WRITE, H_IN_REMOVE, H_IN_CLOCK, H_IN_EVENT };

typedef struct harness {
	stg_log *log;
	stg_log_options opts;   /* numeric options; hooks are filled by h_open() */
	int64_t now;
	int64_t clock_calls;

	/* transport */
	int with_transport;     /* default 1 */
	int with_batch;         /* give the transport a send_batch */
	h_script script[H_MAX_SCRIPT];
	size_t script_len, script_pos;
	h_script dflt;          /* answer once the script runs out (OK) */
	h_sent *sent;
	size_t nsent, sent_cap;
	size_t calls;

	/* events */
	h_event events[H_MAX_EVENTS];
	size_t nevents;

	/* storage */
	int with_storage;
	h_record records[H_MAX_RECORDS];
	size_t writes, removes, loads;
	int write_fail;         /* write returns this (0: succeed) */
	int remove_fail;
	int load_fail;          /* load returns this before streaming */
	int load_duplicate;     /* stream the first record twice */
	int load_ignore_sink;   /* go on (and return 0) whatever the sink says */

	/* re-entry: called from inside the hooks when set */
	void (*in_hook)(int where);

	stg_storage storage_hook;
	stg_transport transport_hook;
	stg_clock clock_hook;
	stg_events events_hook;
} harness;

extern harness H;

void h_reset(void);
int h_open_rc(void);
void h_open(void);
void h_close(void);
void h_reopen(void);
void h_advance(int64_t ms);

/* Script transport answers, consumed one per job in hand-off order. */
void h_push(int outcome, int error_class, int http, int64_t retry_after, const char *message);
void h_push_ok(void);
void h_push_async(void);
void h_push_http(int http);                         /* error, classified by the log */
void h_push_class(int error_class, int http);       /* error with an explicit class */
void h_push_transport_failure(int rc);

/* Submit helpers. */
int h_submit_rc(const char *integ, const char *sku, int64_t available, int64_t seq,
                unsigned flags, int64_t changed_at, const char *category, stg_submit_result *out);
stg_submit_result h_submit(const char *integ, const char *sku, int64_t available, int64_t seq);

size_t h_pump(void);        /* asserts STG_OK; returns jobs handed out */
size_t h_pump_n(size_t max); /* same, with a max */
stg_entry h_get(const char *integ, const char *sku);
int h_exists(const char *integ, const char *sku);
stg_stats h_stats(const char *integ);
stg_counts h_counts(const char *integ);

/* Recorded jobs. */
size_t h_sent_count(const char *integ, const char *sku);
const h_sent *h_last(void);
const h_sent *h_last_for(const char *integ, const char *sku);

/* Recorded events. */
size_t h_event_count(int type);
const h_event *h_last_event(int type);

/* Storage table. */
size_t h_records_live(void);
h_record *h_record_find(const char *integ, const char *sku);
void h_store_put(const stg_entry *e);   /* as if the log had written it */
stg_entry h_store_get(const char *integ, const char *sku); /* decoded; strings live in the record */

/* All entries of the log, in query order (strings copied into a pool). */
typedef struct h_snapshot {
	stg_entry *e;
	size_t n;
	char *pool;
} h_snapshot;
h_snapshot h_snapshot_take(void);
void h_snapshot_free(h_snapshot *s);
const stg_entry *h_snapshot_find(const h_snapshot *s, const char *integ, const char *sku);

/* Compare two entries field by field (strings by content). */
void h_assert_entry_eq(const stg_entry *a, const stg_entry *b, const char *what);

#endif
