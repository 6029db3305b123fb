/* The log test harness, a thin layer over tests/common/fixture.h; see harness.h. */
#include "harness.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

harness H;

/* A broken expectation inside a fixture hook fails the test with its message. */
static void fail_test(const char *message)
{
	cr_assert_fail("%s", message);
}

/* Every fixture hook calls into H.in_hook, which a test may set at any time. */
static void reenter(int where, void *ctx)
{
	(void)ctx;
	if (H.in_hook)
		H.in_hook(where);
}

void h_advance(int64_t ms)
{
	H.clock.now += ms;
}

/* -------------------------------------------------------------- transport */

void h_push(int outcome, int error_class, int http, int64_t retry_after, const char *message)
{
	fx_answer a;

	memset(&a, 0, sizeof a);
	a.outcome = outcome;
	a.error_class = error_class;
	a.http = http;
	a.retry_after = retry_after;
	a.message = message;
	fx_transport_push(&H.tr, &a);
}

void h_push_ok(void) { h_push(STG_OUTCOME_OK, STG_ERRCLASS_NONE, 200, 0, NULL); }
void h_push_async(void) { h_push(STG_OUTCOME_ASYNC, STG_ERRCLASS_NONE, 0, 0, NULL); }
void h_push_http(int http) { h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, http, 0, "http error"); }
void h_push_class(int error_class, int http)
{
	h_push(STG_OUTCOME_ERROR, error_class, http, 0, "class error");
}

void h_push_transport_failure(int rc)
{
	fx_answer a;

	memset(&a, 0, sizeof a);
	a.transport_rc = rc;
	fx_transport_push(&H.tr, &a);
}

/* ----------------------------------------------------------------- events */

size_t h_event_count(int type)
{
	return fx_events_count(&H.ev, type);
}

const h_event *h_last_event(int type)
{
	return fx_events_last(&H.ev, type);
}

/* ---------------------------------------------------------------- storage */

h_record *h_record_find(const char *integ, const char *sku)
{
	return fx_storage_find(&H.st, integ, sku);
}

size_t h_records_live(void)
{
	return H.st.n;
}

void h_store_put(const stg_entry *e)
{
	cr_assert_lt(strlen(e->integration), (size_t)H_NAME);
	cr_assert_lt(strlen(e->sku), (size_t)H_NAME);
	fx_storage_put(&H.st, e);
}

stg_entry h_store_get(const char *integ, const char *sku)
{
	h_record *r = h_record_find(integ, sku);
	stg_entry e;
	int rc;

	cr_assert_not_null(r, "(%s, %s) is not stored", integ, sku);
	rc = stg_entry_decode(r->buf, r->len, &e);
	cr_assert_eq(rc, STG_OK, "stored (%s, %s) does not decode: %s", integ, sku, stg_strerror(rc));
	return e;
}

/* --------------------------------------------------------------- open/close */

void h_reset(void)
{
	fx_transport_free(&H.tr);
	fx_events_free(&H.ev);
	fx_storage_free(&H.st);
	memset(&H, 0, sizeof H);
	fx_set_failure_handler(fail_test);
	cr_assert_eq(stg_log_options_init(&H.opts, STG_LOG_OPTIONS_VERSION), STG_OK);
	fx_clock_init(&H.clock, T0);
	H.clock.in_hook = reenter;
	fx_transport_init(&H.tr);
	H.tr.clock = &H.clock;
	H.tr.in_hook = reenter;
	fx_events_init(&H.ev);
	H.ev.in_hook = reenter;
	fx_storage_init(&H.st);
	H.st.in_hook = reenter;
	H.st.max_name = H_NAME;
	H.st.size_query = 1;
	H.with_transport = 1;
}

int h_open_rc(void)
{
	cr_assert_null(H.log, "h_open with a log open");
	H.clock_hook = fx_clock_hook(&H.clock);
	H.events_hook = fx_events_hook(&H.ev);
	H.transport_hook = fx_transport_hook(&H.tr, H.with_batch);
	H.storage_hook = H.storage_v2 ? fx_storage_hook_v2(&H.st) : fx_storage_hook(&H.st);

	H.opts.clock = &H.clock_hook;
	H.opts.events = &H.events_hook;
	H.opts.transport = H.with_transport ? &H.transport_hook : NULL;
	H.opts.storage = H.with_storage ? &H.storage_hook : NULL;
	return stg_log_open(&H.log, &H.opts);
}

void h_open(void)
{
	int rc = h_open_rc();

	cr_assert_eq(rc, STG_OK, "stg_log_open: %s (%s)", stg_strerror(rc), stg_last_error());
	cr_assert_not_null(H.log);
}

void h_close(void)
{
	stg_log_close(H.log);
	H.log = NULL;
}

void h_reopen(void)
{
	h_close();
	h_open();
}

/* ----------------------------------------------------------------- calls */

int h_submit_rc(const char *integ, const char *sku, int64_t available, int64_t seq,
                unsigned flags, int64_t changed_at, const char *category, stg_submit_result *out)
{
	stg_submit s;

	cr_assert_eq(stg_submit_init(&s, STG_SUBMIT_VERSION), STG_OK);
	s.integration = integ;
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	s.flags = flags;
	s.changed_at = changed_at;
	s.category = category;
	return stg_log_submit(H.log, &s, out);
}

stg_submit_result h_submit(const char *integ, const char *sku, int64_t available, int64_t seq)
{
	stg_submit_result r;
	int rc;

	memset(&r, 0xa5, sizeof r);
	rc = h_submit_rc(integ, sku, available, seq, 0, 0, NULL, &r);
	cr_assert_eq(rc, STG_OK, "submit (%s, %s): %s (%s)", integ, sku, stg_strerror(rc),
	             stg_log_errmsg(H.log));
	return r;
}

size_t h_pump_n(size_t max)
{
	size_t sent = 12345;
	int rc = stg_log_pump(H.log, max, &sent);

	cr_assert_eq(rc, STG_OK, "pump: %s (%s)", stg_strerror(rc), stg_log_errmsg(H.log));
	return sent;
}

size_t h_pump(void)
{
	return h_pump_n(0);
}

stg_entry h_get(const char *integ, const char *sku)
{
	stg_entry e;
	int rc;

	memset(&e, 0xa5, sizeof e);
	rc = stg_log_get(H.log, integ, sku, &e);
	cr_assert_eq(rc, STG_OK, "get (%s, %s): %s", integ, sku, stg_strerror(rc));
	return e;
}

int h_exists(const char *integ, const char *sku)
{
	stg_entry e;
	int rc = stg_log_get(H.log, integ, sku, &e);

	cr_assert(rc == STG_OK || rc == STG_ENOTFOUND, "get: %s", stg_strerror(rc));
	return rc == STG_OK;
}

stg_stats h_stats(const char *integ)
{
	stg_stats s;
	int rc;

	memset(&s, 0xa5, sizeof s);
	rc = stg_log_stats(H.log, integ, &s);
	cr_assert_eq(rc, STG_OK, "stats: %s", stg_strerror(rc));
	return s;
}

stg_counts h_counts(const char *integ)
{
	stg_counts c;
	int rc;

	memset(&c, 0xa5, sizeof c);
	rc = stg_log_counts(H.log, integ, &c);
	cr_assert_eq(rc, STG_OK, "counts: %s", stg_strerror(rc));
	return c;
}

size_t h_sent_count(const char *integ, const char *sku)
{
	return fx_transport_count(&H.tr, integ, sku);
}

const h_sent *h_last(void)
{
	cr_assert_gt(H.tr.nsent, 0u, "nothing was sent");
	return &H.tr.sent[H.tr.nsent - 1];
}

const h_sent *h_last_for(const char *integ, const char *sku)
{
	const h_sent *s = fx_transport_last(&H.tr, integ, sku);

	if (!s)
		cr_assert_fail("(%s, %s) was never sent", integ, sku);
	return s;
}

/* --------------------------------------------------------------- snapshot */

h_snapshot h_snapshot_take(void)
{
	h_snapshot s;

	fx_snap_log(H.log, &s);
	return s;
}

void h_snapshot_free(h_snapshot *s)
{
	fx_snap_free(s);
}

const stg_entry *h_snapshot_find(const h_snapshot *s, const char *integ, const char *sku)
{
	return fx_snap_find(s, integ, sku);
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

void h_assert_entry_eq(const stg_entry *a, const stg_entry *b, const char *what)
{
#define F(f) cr_assert_eq(a->f, b->f, "%s: field " #f " differs: %lld vs %lld", what, \
                          (long long)a->f, (long long)b->f)
	F(version);
	F(status);
	cr_assert(str_eq(a->integration, b->integration), "%s: integration differs", what);
	cr_assert(str_eq(a->sku, b->sku), "%s: sku differs", what);
	cr_assert(str_eq(a->message, b->message), "%s: message differs: '%s' vs '%s'", what,
	          a->message ? a->message : "(null)", b->message ? b->message : "(null)");
	F(available);
	F(published);
	F(acked);
	F(sequence);
	F(changed_at);
	F(job_since);
	F(first_failed_at);
	F(last_attempt_at);
	F(acked_at);
	F(next_attempt_at);
	F(latency_ms);
	F(job_id);
	F(attempts);
	F(job_state);
	F(error_class);
	F(http_status);
	F(priority);
	F(reason);
	F(flags);
	F(min_source);
	F(rule);
#undef F
}
