/*
 * Error classes end to end (SPEC 3, "error classes and what each does"):
 * auth pauses the integration, not_catalogued holds the job, rate_limited
 * and transient back off, rejected fails at once; classification from the
 * HTTP status when the transport leaves it to the log.
 */
#include <criterion/criterion.h>

#include "harness.h"

#include <string.h>

static void setup(void)
{
	h_reset();
}

static void teardown(void)
{
	h_close();
}

TestSuite(errors, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ auth */

Test(errors, auth_pauses_holds_and_resumes)
{
	stg_entry e;
	stg_counts c;
	int paused = -1;
	int64_t wait = 99;
	const h_event *ev;

	h_open();
	h_submit("amz", "A", 3, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 401, 0, "token expired");
	cr_assert_eq(h_pump(), 1u);

	/* Paused, with an event carrying the status and the message. */
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 1);
	cr_assert_eq(h_event_count(STG_EVENT_INTEGRATION_PAUSED), 1u);
	ev = h_last_event(STG_EVENT_INTEGRATION_PAUSED);
	cr_assert_str_eq(ev->integration, "amz");
	cr_assert_eq(ev->http, 401);
	cr_assert(ev->has_message);
	cr_assert_str_eq(ev->message, "token expired");
	cr_assert_not(ev->has_sku);

	/* The job is held: still pending, not lost, with the auth error on it. */
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	cr_assert_neq(e.job_state, STG_JOB_NONE);
	cr_assert_eq(e.error_class, STG_ERRCLASS_AUTH);
	cr_assert_eq(e.http_status, 401);
	cr_assert_eq(e.attempts, 1u);
	cr_assert_str_eq(e.message, "token expired");

	/* Nothing goes out while paused, whatever the time; new jobs wait too. */
	h_submit("amz", "B", 2, 1);
	h_advance(24 * 3600 * 1000LL);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(H.tr.nsent, 1u);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, -1, "paused jobs do not count for next_due, got %lld", (long long)wait);
	c = h_counts("amz");
	cr_assert_eq(c.pending, 2u);
	cr_assert_eq(c.held, 2u);

	/* Other integrations are not affected. */
	h_submit("meli", "A", 1, 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->integration, "meli");

	/* Resume: event, both go out, success clears the error. */
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(h_event_count(STG_EVENT_INTEGRATION_RESUMED), 1u);
	cr_assert_str_eq(h_last_event(STG_EVENT_INTEGRATION_RESUMED)->integration, "amz");
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 0);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_sent_count("amz", "A"), 2u);
	cr_assert_eq(h_last_for("amz", "A")->attempt, 2u);
	cr_assert_eq(h_last_for("amz", "A")->published, 3);
	cr_assert_eq(h_sent_count("amz", "B"), 1u);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS);
	cr_assert_eq(e.job_state, STG_JOB_NONE);
	cr_assert_eq(e.error_class, STG_ERRCLASS_NONE);
	cr_assert_eq(e.attempts, 0u);
	cr_assert_null(e.message);
	cr_assert(e.flags & STG_ENTRY_HAS_ACKED);
	cr_assert_eq(e.acked, 3);
	cr_assert_eq(h_get("amz", "B").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_stats("amz").errors[STG_ERRCLASS_AUTH], 1u);
}

Test(errors, auth_403_and_one_event_per_pause)
{
	int paused = 0;

	H.with_batch = 1;
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 3, 0, 0), STG_OK);
	h_submit("amz", "A", 1, 1);
	h_submit("amz", "B", 1, 1);
	h_submit("amz", "C", 1, 1);
	h_push_http(403);
	h_push_http(403);
	h_push_ok();
	cr_assert_eq(h_pump(), 3u);
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 1);
	/* Two auth failures in one batch: one pause, one event. */
	cr_assert_eq(h_event_count(STG_EVENT_INTEGRATION_PAUSED), 1u);
	cr_assert_eq(h_get("amz", "A").error_class, STG_ERRCLASS_AUTH);
	cr_assert_eq(h_get("amz", "B").error_class, STG_ERRCLASS_AUTH);
	cr_assert_eq(h_get("amz", "C").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "B").status, STG_ENTRY_SUCCESS);
}

Test(errors, manual_pause_and_resume)
{
	int paused = 0;

	h_open();
	cr_assert_eq(stg_log_resume(H.log, "nobody"), STG_ENOTFOUND);
	h_submit("amz", "A", 1, 1);
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_OK);
	cr_assert_eq(h_event_count(STG_EVENT_INTEGRATION_PAUSED), 1u);
	cr_assert_eq(h_last_event(STG_EVENT_INTEGRATION_PAUSED)->http, 0);
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 1);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	/* Resuming an integration that is not paused: no event. */
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(h_event_count(STG_EVENT_INTEGRATION_RESUMED), 1u);
	/* Unknown integration is simply not paused. */
	cr_assert_eq(stg_log_is_paused(H.log, "zzz", &paused), STG_OK);
	cr_assert_eq(paused, 0);
}

/* -------------------------------------------------------- not catalogued */

Test(errors, not_catalogued_held_until_catalogued)
{
	stg_entry e;
	stg_counts c;

	H.opts.catalogue_retry_ms = 60000;
	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NOT_CATALOGUED, 404, 0, "unknown sku");
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	cr_assert_eq(e.job_state, STG_JOB_HELD);
	cr_assert_eq(e.error_class, STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(e.next_attempt_at, T0 + 60000);
	c = h_counts(NULL);
	cr_assert_eq(c.held, 1u);
	cr_assert_eq(c.pending, 1u);

	/* Not retried before the slow retry. */
	h_advance(59999);
	cr_assert_eq(h_pump(), 0u);
	/* Catalogued: goes out at the next pump without a reprocess. */
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_QUEUED);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 2u);
	cr_assert_eq(h_last()->attempt, 2u);
	cr_assert_eq(h_last()->published, 4);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS);
	cr_assert_eq(e.error_class, STG_ERRCLASS_NONE);
	/* Nothing is held any more. */
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "A"), STG_ESTATE);
	/* 1.1: a notice for a SKU without an entry is remembered (test_rules.c). */
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "nope"), STG_OK);
	cr_assert_eq(stg_log_set_catalogued(H.log, "nope", "A"), STG_OK);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_NOT_CATALOGUED], 1u);
}

Test(errors, not_catalogued_slow_periodic_retry)
{
	H.opts.catalogue_retry_ms = 3600000;
	h_open();
	h_submit("amz", "A", 4, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	cr_assert_eq(h_pump(), 1u);
	h_advance(3600000 - 1);
	cr_assert_eq(h_pump(), 0u);
	h_advance(1);
	cr_assert_eq(h_pump(), 1u, "the slow retry is due after catalogue_retry_ms");
	cr_assert_eq(h_last()->attempt, 2u);
	/* Still not catalogued: held again for another period. */
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_HELD);
	cr_assert_eq(h_get("amz", "A").attempts, 2u);
	cr_assert_eq(h_get("amz", "A").next_attempt_at, H.clock.now + 3600000);
	h_advance(3600000 - 1);
	cr_assert_eq(h_pump(), 0u);
	h_advance(1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(H.tr.nsent, 3u);
}

Test(errors, not_catalogued_default_retry_is_six_hours)
{
	h_open();
	h_submit("amz", "A", 4, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 0);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").next_attempt_at, T0 + 6 * 3600000LL);
}

/* --------------------------------------------------------- rate limited */

Test(errors, rate_limited_honours_retry_after)
{
	stg_entry e;
	int64_t wait = -5;

	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 30000, "slow down");
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_eq(e.error_class, STG_ERRCLASS_RATE_LIMITED);
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	/* The backoff (at most 1 s here) is below the retry-after: it wins. */
	cr_assert_eq(e.next_attempt_at, T0 + 30000);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 30000);
	h_advance(29999);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 1);
	h_advance(1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->attempt, 2u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_RATE_LIMITED], 1u);
}

Test(errors, rate_limited_backoff_grows_with_jitter_and_caps)
{
	int64_t base = 1000, max = 16000, prev_lo = 0;
	uint32_t i;

	H.opts.backoff_base_ms = base;
	H.opts.backoff_max_ms = max;
	H.opts.jitter_seed = 42;
	h_open();
	h_submit("amz", "A", 4, 1);
	for (i = 1; i <= 8; i++) {
		stg_entry e;
		int64_t d, full = base;
		uint32_t k;
		h_push_http(429);
		cr_assert_eq(h_pump(), 1u, "attempt %u", i);
		cr_assert_eq(h_last()->attempt, i);
		e = h_get("amz", "A");
		cr_assert_eq(e.attempts, i);
		d = e.next_attempt_at - H.clock.now;
		for (k = 1; k < i; k++)
			full = full * 2 > max ? max : full * 2;
		/* "Equal jitter": within [full/2, full]. */
		cr_assert(d >= full / 2 && d <= full, "attempt %u: delay %lld not in [%lld, %lld]", i,
		          (long long)d, (long long)(full / 2), (long long)full);
		cr_assert(full / 2 >= prev_lo, "the lower bound never shrinks");
		prev_lo = full / 2;
		/* Not before the delay. */
		h_advance(d - 1);
		cr_assert_eq(h_pump(), 0u, "attempt %u went out early", i);
		h_advance(1);
	}
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_RATE_LIMITED], 8u);
}

/* The same seed gives the same delays: runs are reproducible. */
static void delays(uint64_t seed, int64_t *out, int n)
{
	int i;

	h_reset();
	H.opts.jitter_seed = seed;
	H.opts.backoff_base_ms = 100000;
	h_open();
	h_submit("amz", "A", 4, 1);
	for (i = 0; i < n; i++) {
		h_push_http(429);
		cr_assert_eq(h_pump(), 1u);
		out[i] = h_get("amz", "A").next_attempt_at - H.clock.now;
		H.clock.now = h_get("amz", "A").next_attempt_at;
	}
	h_close();
}

Test(errors, jitter_is_seeded)
{
	int64_t a[4], b[4], c[4];

	delays(7, a, 4);
	delays(7, b, 4);
	delays(8, c, 4);
	cr_assert_arr_eq(a, b, sizeof a);
	cr_assert(memcmp(a, c, sizeof a) != 0, "different seeds should give different jitter");
}

/* -------------------------------------------------------------- transient */

Test(errors, transient_retries_then_error_then_reprocess)
{
	stg_entry e;
	uint32_t i;
	uint64_t first_id;

	H.opts.max_transient_attempts = 3;
	H.opts.backoff_base_ms = 1000;
	h_open();
	first_id = h_submit("amz", "A", 4, 1).job_id;
	for (i = 1; i <= 3; i++) {
		h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 503, 0, "unavailable");
		cr_assert_eq(h_pump(), 1u, "attempt %u", i);
		cr_assert_eq(h_last()->attempt, i);
		cr_assert_eq(h_last()->id, first_id, "retries carry the same job id");
		e = h_get("amz", "A");
		cr_assert_eq(e.attempts, i);
		cr_assert_eq(e.error_class, STG_ERRCLASS_TRANSIENT);
		cr_assert_eq(e.http_status, 503);
		cr_assert_eq(e.first_failed_at, T0);
		if (i < 3) {
			cr_assert_eq(e.status, STG_ENTRY_PENDING);
			cr_assert_eq(e.job_state, STG_JOB_QUEUED);
			cr_assert_gt(e.next_attempt_at, H.clock.now);
			cr_assert_eq(h_pump(), 0u, "no retry before the backoff");
			H.clock.now = e.next_attempt_at;
		}
	}
	/* Bound reached: error, waiting for a reprocess, nothing more goes out. */
	cr_assert_eq(e.status, STG_ENTRY_ERROR);
	cr_assert_eq(e.job_state, STG_JOB_NONE);
	cr_assert_str_eq(e.message, "unavailable");
	cr_assert_eq(e.first_failed_at, T0);
	cr_assert_eq(e.last_attempt_at, H.clock.now);
	h_advance(24 * 3600000LL);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(H.tr.nsent, 3u);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_TRANSIENT], 3u);
	cr_assert_eq(h_counts(NULL).error, 1u);

	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING, "reprocess queues, never instant");
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_neq(e.job_id, first_id, "a reprocess is a new job");
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 4);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS);
	cr_assert_eq(e.error_class, STG_ERRCLASS_NONE);
	cr_assert_eq(e.attempts, 0u);
	cr_assert_eq(e.first_failed_at, 0);
	cr_assert_null(e.message);
}

Test(errors, transient_default_bound_is_five)
{
	uint32_t i;

	H.opts.backoff_base_ms = 10;
	H.opts.backoff_max_ms = 10;
	h_open();
	h_submit("amz", "A", 4, 1);
	for (i = 0; i < 5; i++) {
		h_push_http(500);
		cr_assert_eq(h_pump(), 1u);
		h_advance(10);
	}
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);
	cr_assert_eq(h_pump(), 0u);
}

Test(errors, transient_honours_retry_after)
{
	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_TRANSIENT, 503, 120000, NULL);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").next_attempt_at, T0 + 120000);
	cr_assert_null(h_get("amz", "A").message);
}

/* --------------------------------------------------------------- rejected */

Test(errors, rejected_is_error_at_once)
{
	stg_entry e;

	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 400, 0, "invalid quantity");
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_ERROR);
	cr_assert_eq(e.job_state, STG_JOB_NONE);
	cr_assert_eq(e.error_class, STG_ERRCLASS_REJECTED);
	cr_assert_eq(e.http_status, 400);
	cr_assert_eq(e.attempts, 1u);
	cr_assert_str_eq(e.message, "invalid quantity");
	h_advance(24 * 3600000LL);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_REJECTED], 1u);
}

Test(errors, long_message_is_cut)
{
	static char msg[STG_MESSAGE_MAX + 500];
	stg_entry e;

	memset(msg, 'm', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_REJECTED, 422, 0, msg);
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_not_null(e.message);
	cr_assert_eq(strlen(e.message), (size_t)STG_MESSAGE_MAX);
}

/* --------------------------------------------------------- classification */

Test(errors, classify_http_table)
{
	static const struct { int http, cls; } t[] = {
		{ 401, STG_ERRCLASS_AUTH }, { 403, STG_ERRCLASS_AUTH },
		{ 429, STG_ERRCLASS_RATE_LIMITED },
		{ 408, STG_ERRCLASS_TRANSIENT }, { 425, STG_ERRCLASS_TRANSIENT },
		{ 400, STG_ERRCLASS_REJECTED }, { 404, STG_ERRCLASS_REJECTED },
		{ 409, STG_ERRCLASS_REJECTED }, { 422, STG_ERRCLASS_REJECTED },
		{ 499, STG_ERRCLASS_REJECTED },
		{ 500, STG_ERRCLASS_TRANSIENT }, { 502, STG_ERRCLASS_TRANSIENT },
		{ 503, STG_ERRCLASS_TRANSIENT }, { 504, STG_ERRCLASS_TRANSIENT },
		{ 599, STG_ERRCLASS_TRANSIENT }, { 0, STG_ERRCLASS_TRANSIENT },
		{ 200, STG_ERRCLASS_TRANSIENT }, { 302, STG_ERRCLASS_TRANSIENT },
		{ -1, STG_ERRCLASS_TRANSIENT }, { 1000, STG_ERRCLASS_TRANSIENT },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		cr_assert_eq(stg_classify_http(t[i].http), t[i].cls, "HTTP %d: %s, expected %s",
		             t[i].http, stg_error_class_name(stg_classify_http(t[i].http)),
		             stg_error_class_name(t[i].cls));
}

/* Through the log: the class of the entry comes from the HTTP status. */
Test(errors, classification_through_the_log)
{
	static const struct { int http, cls, status; } t[] = {
		{ 429, STG_ERRCLASS_RATE_LIMITED, STG_ENTRY_PENDING },
		{ 408, STG_ERRCLASS_TRANSIENT, STG_ENTRY_PENDING },
		{ 502, STG_ERRCLASS_TRANSIENT, STG_ENTRY_PENDING },
		{ 0, STG_ERRCLASS_TRANSIENT, STG_ENTRY_PENDING },
		{ 404, STG_ERRCLASS_REJECTED, STG_ENTRY_ERROR },
		{ 422, STG_ERRCLASS_REJECTED, STG_ENTRY_ERROR },
		{ 401, STG_ERRCLASS_AUTH, STG_ENTRY_PENDING },
	};
	char sku[16], integ[16];
	size_t i;

	h_open();
	/* One integration per status: a 429 cools its integration down, and an
	 * auth failure pauses it. */
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		stg_entry e;
		snprintf(sku, sizeof sku, "S%zu", i);
		snprintf(integ, sizeof integ, "amz%zu", i);
		h_submit(integ, sku, 4, 1);
		h_push_http(t[i].http);
		cr_assert_eq(h_pump(), 1u, "HTTP %d", t[i].http);
		e = h_get(integ, sku);
		cr_assert_eq(e.error_class, t[i].cls, "HTTP %d", t[i].http);
		cr_assert_eq(e.status, t[i].status, "HTTP %d", t[i].http);
		cr_assert_eq(e.http_status, t[i].http);
	}
	/* An explicit class wins over the status. */
	h_submit("x", "A", 4, 1);
	h_push_class(STG_ERRCLASS_REJECTED, 503);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("x", "A").error_class, STG_ERRCLASS_REJECTED);
	cr_assert_eq(h_get("x", "A").status, STG_ENTRY_ERROR);
}

/* A transport that breaks its contract: a failed attempt, never a success. */
Test(errors, invalid_result_is_a_transient_failure)
{
	size_t sent = 0;

	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(7, STG_ERRCLASS_NONE, 200, 0, NULL);
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_EINVAL);
	cr_assert_eq(sent, 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_PENDING);
	cr_assert_eq(h_get("amz", "A").error_class, STG_ERRCLASS_TRANSIENT);
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_HAS_ACKED, 0u);
	h_push(STG_OUTCOME_ERROR, 99, 200, 0, NULL);
	H.clock.now = h_get("amz", "A").next_attempt_at;
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_EINVAL);
	cr_assert_eq(h_get("amz", "A").attempts, 2u);
}

/* The transport itself fails: jobs stay queued, no attempt counted. */
Test(errors, transport_failure_keeps_jobs)
{
	size_t sent = 99;
	stg_entry before, after;

	h_open();
	h_submit("amz", "A", 4, 1);
	before = h_get("amz", "A");
	h_push_transport_failure(-1);
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_ETRANSPORT);
	cr_assert_eq(sent, 0u);
	after = h_get("amz", "A");
	h_assert_entry_eq(&before, &after, "after a transport failure");
	cr_assert_eq(h_stats(NULL).attempts, 0u);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->attempt, 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
}

/*
 * A new change after a transient error is a new job: its first hand-off is
 * attempt 1 (stg_job.attempt: "1 for the first try") and it gets the full
 * bound of transient retries, not one attempt before going back to error.
 */
Test(errors, new_job_after_transient_error_gets_its_own_retries)
{
	stg_entry e;

	H.opts.max_transient_attempts = 2;
	H.opts.backoff_base_ms = 10;
	H.opts.backoff_max_ms = 10;
	h_open();
	h_submit("amz", "A", 50, 1);
	h_push_http(503);
	h_push_http(503);
	cr_assert_eq(h_pump(), 1u);
	h_advance(10);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);

	/* The stock drops to 0 an hour later: a new export. */
	h_advance(3600000);
	cr_assert_eq(h_submit("amz", "A", 0, 2).decision, STG_DECISION_EXPORT);
	h_push_http(503);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->attempt, 1u, "the new job's first try is attempt %u",
	             h_last()->attempt);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING,
	             "one 503 put the new job (to 0) straight back to error, no retry");
	H.clock.now = e.next_attempt_at;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
}

/*
 * Huge delays (a retry-after or a catalogue retry meaning "much later")
 * must not overflow the due time into the past: the job is not resent at
 * once, and next_due stays non-negative.
 */
Test(errors, huge_retry_after_does_not_wrap)
{
	int64_t wait = -7;
	stg_entry e;

	h_open();
	h_submit("amz", "A", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, INT64_MAX, NULL);
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_geq(e.next_attempt_at, H.clock.now, "due time %lld is in the past",
	              (long long)e.next_attempt_at);
	h_advance(1000);
	cr_assert_eq(h_pump(), 0u, "resent at once after a retry-after of INT64_MAX");
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_gt(wait, 0);
}

Test(errors, huge_catalogue_retry_does_not_wrap)
{
	H.opts.catalogue_retry_ms = INT64_MAX;
	h_open();
	h_submit("amz", "A", 4, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_geq(h_get("amz", "A").next_attempt_at, H.clock.now);
	h_advance(1000);
	cr_assert_eq(h_pump(), 0u, "the held job was retried at once");
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
}

Test(errors, huge_backoff_max_does_not_wrap)
{
	int i;

	/* No practical cap: the delay doubles until it saturates. */
	H.opts.backoff_base_ms = 1000;
	H.opts.backoff_max_ms = INT64_MAX;
	h_open();
	h_submit("amz", "A", 4, 1);
	for (i = 0; i < 70; i++) {
		stg_entry e;
		cr_assert_lt(i, 69, "the cool-down never saturated");
		h_push_http(429);
		cr_assert_eq(h_pump(), 1u, "attempt %d at %lld (due %lld, status %d, class %d, jobs %zu)", i + 1,
		             (long long)H.clock.now, (long long)h_get("amz", "A").next_attempt_at,
		             h_get("amz", "A").status, h_get("amz", "A").error_class, H.tr.nsent);
		e = h_get("amz", "A");
		cr_assert_geq(e.next_attempt_at, H.clock.now, "attempt %d: due %lld is in the past", i + 1,
		              (long long)e.next_attempt_at);
		/* The cool-down doubles with each 429 in a row: wait it out, up to
		 * the end of time, where it saturates instead of wrapping. */
		if (e.next_attempt_at == INT64_MAX)
			break;
		H.clock.now = e.next_attempt_at;
	}
}
