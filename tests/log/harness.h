/*
 * Test harness for the integration log (SPEC sections 3 and 4): the shared
 * fixture (tests/common/fixture.h: a fake clock, a scripted transport that
 * records every job it is handed, an event recorder, a recording storage
 * that keeps entries as stg_entry_encode() bytes) and helpers that call the
 * log and assert its status.
 *
 * Criterion runs every test in its own process, so the harness is one
 * global, H, reset by h_reset() at the start of each test: a thin layer of
 * this suite over the fixture structs.
 */
#ifndef STOCKGUARD_TESTS_LOG_HARNESS_H
#define STOCKGUARD_TESTS_LOG_HARNESS_H

#include <stockguard.h>

#include "fixture.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fake clock starts here (a real-looking epoch time, never 0). */
#define T0 INT64_C(1700000000000)

/* The longest names this suite stores: H_NAME - 1 (a longer key written to
 * the storage fails the test). */
#define H_NAME 80

typedef fx_sent h_sent;     /* one job as the transport saw it */
typedef fx_event h_event;   /* one recorded event */
typedef fx_record h_record; /* one stored entry: its key and its encoding */

/* Where a hook is running, for the re-entry tests. */
enum h_where {
	H_IN_SEND = FX_IN_SEND,
	H_IN_BATCH = FX_IN_BATCH,
	H_IN_WRITE = FX_IN_WRITE,
	H_IN_REMOVE = FX_IN_REMOVE,
	H_IN_CLOCK = FX_IN_CLOCK,
	H_IN_EVENT = FX_IN_EVENT
};

/* The fixture pieces of one test (tests/common/fixture.h), and its log. */
typedef struct harness {
	stg_log *log;
	stg_log_options opts;   /* numeric options; hooks are filled by h_open() */
	fx_clock clock;         /* clock.now starts at T0 */
	int with_transport;     /* default 1 */
	int with_batch;         /* give the transport a send_batch */
	fx_transport tr;        /* answers pushed with h_push*(); OK once they run out */
	fx_events ev;
	int with_storage;
	int storage_v2;         /* the storage hook has the integration records */
	fx_storage st;          /* st.write_fail, st.load_duplicate ... make it misbehave */

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

/* All entries of the log, in query order (the fixture's fx_snap: .v, .n). */
typedef fx_snap h_snapshot;
h_snapshot h_snapshot_take(void);
void h_snapshot_free(h_snapshot *s);
const stg_entry *h_snapshot_find(const h_snapshot *s, const char *integ, const char *sku);

/* Compare two entries field by field (strings by content). */
void h_assert_entry_eq(const stg_entry *a, const stg_entry *b, const char *what);

#endif
