/*
 * Latency and counters (SPEC 3, "latency / SLA", "stats", "query: counts"):
 * the abnormal limit to the millisecond, late pending jobs, stg_log_counts,
 * and stg_log_stats with its percentiles checked against known latencies.
 */
#include <criterion/criterion.h>

#include "harness.h"

static void setup(void)
{
	h_reset();
}

static void teardown(void)
{
	h_close();
}

TestSuite(latency, .init = setup, .fini = teardown);

Test(latency, acknowledged_at_the_limit_is_normal_one_ms_above_abnormal)
{
	stg_entry e;
	const h_event *ev;
	stg_query q;
	uint64_t cursor = 0;
	stg_entry page[4];
	size_t count;

	H.opts.latency_limit_ms = 60000;
	h_open();
	h_submit("amz", "AT", 3, 1);
	h_submit("amz", "OVER", 3, 1);
	h_advance(60000);
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert_str_eq(h_last()->sku, "AT");
	e = h_get("amz", "AT");
	cr_assert_eq(e.latency_ms, 60000);
	cr_assert_eq(e.flags & STG_ENTRY_ABNORMAL, 0u);
	cr_assert_eq(h_event_count(STG_EVENT_ABNORMAL_LATENCY), 0u);
	cr_assert_eq(h_stats(NULL).abnormal, 0u);

	h_advance(1);
	cr_assert_eq(h_pump_n(1), 1u);
	e = h_get("amz", "OVER");
	cr_assert_eq(e.latency_ms, 60001);
	cr_assert(e.flags & STG_ENTRY_ABNORMAL);
	cr_assert_eq(e.acked_at, T0 + 60001);
	cr_assert_eq(h_stats(NULL).abnormal, 1u);
	cr_assert_eq(h_stats("amz").abnormal, 1u);
	cr_assert_eq(h_counts(NULL).abnormal, 1u);
	cr_assert_eq(h_event_count(STG_EVENT_ABNORMAL_LATENCY), 1u);
	ev = h_last_event(STG_EVENT_ABNORMAL_LATENCY);
	cr_assert_str_eq(ev->integration, "amz");
	cr_assert_str_eq(ev->sku, "OVER");
	cr_assert_eq(ev->latency_ms, 60001);
	cr_assert_eq(ev->time, T0 + 60001);

	cr_assert_eq(stg_query_init(&q, STG_QUERY_VERSION), STG_OK);
	q.flags = STG_QUERY_ABNORMAL;
	cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 4, &count), STG_OK);
	cr_assert_eq(count, 1u);
	cr_assert_str_eq(page[0].sku, "OVER");

	/* A later export in time clears the flag; the count stays. */
	h_submit("amz", "OVER", 2, 2);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "OVER").flags & STG_ENTRY_ABNORMAL, 0u);
	cr_assert_eq(h_stats(NULL).abnormal, 1u);
}

/* Latency runs from the stock change, through retries, to the ack. */
Test(latency, latency_counts_from_the_change_through_retries)
{
	H.opts.latency_limit_ms = 10000;
	H.opts.backoff_base_ms = 4000;
	H.opts.backoff_max_ms = 4000;
	h_open();
	cr_assert_eq(h_submit_rc("amz", "A", 3, 1, 0, T0 - 3000, NULL, NULL), STG_OK);
	h_push_http(503);
	h_push_http(503);
	cr_assert_eq(h_pump(), 1u);
	H.clock.now = h_get("amz", "A").next_attempt_at;
	cr_assert_eq(h_pump(), 1u);
	H.clock.now = h_get("amz", "A").next_attempt_at;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").latency_ms, H.clock.now - (T0 - 3000));
	cr_assert_eq(!!(h_get("amz", "A").flags & STG_ENTRY_ABNORMAL),
	             H.clock.now - (T0 - 3000) > 10000);
}

Test(latency, default_limit_is_one_hour)
{
	h_open();
	h_submit("amz", "A", 3, 1);
	h_submit("amz", "B", 3, 1);
	h_advance(3600000);
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_ABNORMAL, 0u);
	h_advance(1);
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert(h_get("amz", "B").flags & STG_ENTRY_ABNORMAL);
}

static size_t count_matching(unsigned flags, const char *integ)
{
	stg_query q;
	stg_entry page[8];
	uint64_t cursor = 0;
	size_t count, total = 0;

	cr_assert_eq(stg_query_init(&q, STG_QUERY_VERSION), STG_OK);
	q.flags = flags;
	q.integration = integ;
	do {
		cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 8, &count), STG_OK);
		total += count;
	} while (count);
	return total;
}

Test(latency, pending_jobs_older_than_the_limit_are_late)
{
	stg_counts c;

	H.opts.latency_limit_ms = 1000;
	H.opts.backoff_base_ms = 3600000;
	H.opts.backoff_max_ms = 3600000;
	h_open();
	h_submit("amz", "Q", 3, 1);                    /* will be retrying */
	h_submit("amz", "OK", 3, 1);                   /* success: never late */
	h_push_http(503);
	h_push_ok();
	cr_assert_eq(h_pump(), 2u);
	h_submit("meli", "P", 3, 1);                   /* paused */
	cr_assert_eq(stg_log_pause(H.log, "meli"), STG_OK);

	h_advance(1000);
	cr_assert_eq(h_get("amz", "Q").flags & STG_ENTRY_LATE, 0u, "exactly at the limit: not late");
	cr_assert_eq(count_matching(STG_QUERY_LATE, NULL), 0u);
	cr_assert_eq(h_counts(NULL).late, 0u);

	h_advance(1);
	cr_assert(h_get("amz", "Q").flags & STG_ENTRY_LATE);
	cr_assert(h_get("meli", "P").flags & STG_ENTRY_LATE);
	cr_assert_eq(h_get("amz", "OK").flags & STG_ENTRY_LATE, 0u);
	cr_assert_eq(count_matching(STG_QUERY_LATE, NULL), 2u);
	cr_assert_eq(count_matching(STG_QUERY_LATE, "amz"), 1u);
	c = h_counts(NULL);
	cr_assert_eq(c.late, 2u);
	cr_assert_eq(c.pending, 2u);
	cr_assert_eq(c.success, 1u);
	cr_assert_eq(c.held, 1u, "the paused one");
	c = h_counts("amz");
	cr_assert_eq(c.late, 1u);
	cr_assert_eq(c.held, 0u);
	/* LATE is computed, never stored. */
	cr_assert_eq(h_get("amz", "Q").flags & ~(unsigned)(STG_ENTRY_LATE | STG_ENTRY_HAS_ACKED), 0u);
}

Test(latency, counts_per_status_and_integration)
{
	stg_counts c;

	h_open();
	h_submit("amz", "S1", 3, 1);
	h_submit("amz", "S2", 3, 1);
	h_submit("amz", "E1", 3, 1);
	h_submit("amz", "H1", 3, 1);
	h_submit("meli", "S1", 3, 1);
	h_submit("meli", "E1", 3, 1);
	h_push_ok();
	h_push_ok();
	h_push_http(400);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	h_push_ok();
	h_push_http(422);
	cr_assert_eq(h_pump(), 6u);
	h_submit("meli", "Q1", 3, 1);
	c = h_counts(NULL);
	cr_assert_eq(c.pending, 2u);
	cr_assert_eq(c.success, 3u);
	cr_assert_eq(c.error, 2u);
	cr_assert_eq(c.held, 1u);
	cr_assert_eq(c.late, 0u);
	cr_assert_eq(c.abnormal, 0u);
	cr_assert_eq(c.reserved_[0] | c.reserved_[1] | c.reserved_[2] | c.reserved_[3], 0u);
	c = h_counts("amz");
	cr_assert_eq(c.pending, 1u);
	cr_assert_eq(c.success, 2u);
	cr_assert_eq(c.error, 1u);
	cr_assert_eq(c.held, 1u);
	c = h_counts("meli");
	cr_assert_eq(c.pending, 1u);
	cr_assert_eq(c.success, 1u);
	cr_assert_eq(c.error, 1u);
	cr_assert_eq(c.held, 0u);
	c = h_counts("nobody");
	cr_assert_eq(c.pending + c.success + c.error + c.held + c.late + c.abnormal, 0u);
}

/* ------------------------------------------------------------------ stats */

static void ack_with_latency(const char *integ, const char *sku, int64_t ms)
{
	cr_assert_eq(h_submit_rc(integ, sku, 3, 1, 0, H.clock.now - ms, NULL, NULL), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get(integ, sku).latency_ms, ms);
}

static void within(int64_t got, int64_t want, const char *what)
{
	double tol = 0.07 * (double)want, d = (double)(got - want);

	if (d < 0)
		d = -d;
	cr_assert(d <= tol, "%s: %lld, true value %lld (7%% is %.1f)", what,
	          (long long)got, (long long)want, tol);
}

Test(latency, percentiles_of_known_latencies)
{
	stg_stats s;
	char sku[16];
	int i;

	h_open();
	s = h_stats(NULL);
	cr_assert_eq(s.latency_p50_ms, -1);
	cr_assert_eq(s.latency_p95_ms, -1);
	cr_assert_eq(s.latency_p99_ms, -1);
	cr_assert_eq(s.latency_max_ms, -1);
	/* 100, 200, ..., 10000 ms, in a shuffled order. */
	for (i = 0; i < 100; i++) {
		int k = (i * 37) % 100 + 1;
		snprintf(sku, sizeof sku, "S%d", k);
		ack_with_latency("amz", sku, (int64_t)k * 100);
	}
	s = h_stats(NULL);
	within(s.latency_p50_ms, 5000, "p50");
	within(s.latency_p95_ms, 9500, "p95");
	within(s.latency_p99_ms, 9900, "p99");
	cr_assert_eq(s.latency_max_ms, 10000);
	cr_assert_eq(s.successes, 100u);
	cr_assert(s.latency_p50_ms <= s.latency_p95_ms && s.latency_p95_ms <= s.latency_p99_ms &&
	          s.latency_p99_ms <= s.latency_max_ms);
}

Test(latency, percentiles_skewed_and_per_integration)
{
	stg_stats s;
	char sku[16];
	int i;

	h_open();
	for (i = 0; i < 90; i++) {
		snprintf(sku, sizeof sku, "F%d", i);
		ack_with_latency("amz", sku, 10);
	}
	for (i = 0; i < 10; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		ack_with_latency("amz", sku, 5000);
	}
	for (i = 0; i < 4; i++) {
		snprintf(sku, sizeof sku, "M%d", i);
		ack_with_latency("meli", sku, 200000);
	}
	s = h_stats("amz");
	within(s.latency_p50_ms, 10, "amz p50");
	within(s.latency_p95_ms, 5000, "amz p95");
	within(s.latency_p99_ms, 5000, "amz p99");
	cr_assert_eq(s.latency_max_ms, 5000);
	s = h_stats("meli");
	within(s.latency_p50_ms, 200000, "meli p50");
	cr_assert_eq(s.latency_max_ms, 200000);
	/* All: 104 values, the top 4 at 200 s. */
	s = h_stats(NULL);
	within(s.latency_p50_ms, 10, "all p50");
	within(s.latency_p95_ms, 5000, "all p95");
	within(s.latency_p99_ms, 200000, "all p99");
	cr_assert_eq(s.latency_max_ms, 200000);
	cr_assert_eq(s.successes, 104u);
	cr_assert_eq(stg_log_stats(H.log, "nobody", &s), STG_ENOTFOUND);
}

Test(latency, small_latencies_are_exact)
{
	stg_stats s;

	h_open();
	ack_with_latency("amz", "A", 0);
	s = h_stats(NULL);
	cr_assert_eq(s.latency_p50_ms, 0);
	cr_assert_eq(s.latency_max_ms, 0);
	ack_with_latency("amz", "B", 7);
	ack_with_latency("amz", "C", 7);
	s = h_stats(NULL);
	cr_assert_eq(s.latency_p50_ms, 7);
	cr_assert_eq(s.latency_p99_ms, 7);
}

/* Every counter of stg_stats in one scripted run. */
Test(latency, counters)
{
	stg_stats s, a, m;
	stg_policy *p = NULL;
	size_t k;

	H.opts.max_transient_attempts = 2;
	H.opts.backoff_base_ms = 10;
	H.opts.backoff_max_ms = 10;
	H.opts.latency_limit_ms = 1000;
	h_open();
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 2), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);

	h_submit("amz", "A", 50, 1);        /* change 1: export (first seen) */
	h_submit("amz", "A", 40, 2);        /* change 2: coalesced */
	h_submit("amz", "A", 30, 1);        /* change 3: stale */
	h_push_http(429);                   /* attempt 1: rate limited */
	cr_assert_eq(h_pump(), 1u);
	h_advance(10);
	cr_assert_eq(h_pump(), 1u);         /* attempt 2: ok */
	h_submit("amz", "A", 30, 3);        /* change 4: skip outside_window */
	h_submit("amz", "A", 30, 4);        /* change 5: skip no_change */
	h_submit("amz", "A", 1, 5);         /* change 6: export, min stock warning */
	h_push_http(503);                   /* attempt 3: transient */
	h_push_http(503);                   /* attempt 4: transient -> error */
	cr_assert_eq(h_pump(), 1u);
	h_advance(10);
	cr_assert_eq(h_pump(), 1u);
	h_submit("meli", "B", 3, 1);        /* change 7: export */
	h_push_http(401);                   /* attempt 5: auth */
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(stg_log_resume(H.log, "meli"), STG_OK);
	h_advance(2000);
	cr_assert_eq(h_pump(), 1u);         /* attempt 6: ok, abnormal */
	h_submit("meli", "C", 3, 1);        /* change 8: export */
	h_push_http(400);                   /* attempt 7: rejected */
	h_submit("meli", "D", 3, 1);        /* change 9: export */
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404); /* attempt 8 */
	cr_assert_eq(h_pump(), 2u);

	s = h_stats(NULL);
	cr_assert_eq(s.changes, 9u);
	cr_assert_eq(s.exports, 5u);
	cr_assert_eq(s.coalesced, 1u);
	cr_assert_eq(s.stale, 1u);
	cr_assert_eq(s.skips[STG_REASON_OUTSIDE_WINDOW], 1u);
	cr_assert_eq(s.skips[STG_REASON_NO_CHANGE], 1u);
	for (k = 0; k < STG_REASON_COUNT; k++)
		if (k != STG_REASON_OUTSIDE_WINDOW && k != STG_REASON_NO_CHANGE)
			cr_assert_eq(s.skips[k], 0u, "skips[%s]", stg_reason_name((int)k));
	cr_assert_eq(s.attempts, 8u);
	cr_assert_eq(s.successes, 2u);
	cr_assert_eq(s.errors[STG_ERRCLASS_NONE], 0u);
	cr_assert_eq(s.errors[STG_ERRCLASS_AUTH], 1u);
	cr_assert_eq(s.errors[STG_ERRCLASS_NOT_CATALOGUED], 1u);
	cr_assert_eq(s.errors[STG_ERRCLASS_RATE_LIMITED], 1u);
	cr_assert_eq(s.errors[STG_ERRCLASS_TRANSIENT], 2u);
	cr_assert_eq(s.errors[STG_ERRCLASS_REJECTED], 1u);
	cr_assert_eq(s.abnormal, 1u);
	cr_assert_eq(s.warnings, 1u);
	cr_assert_eq(s.latency_max_ms, 2000);
	cr_assert_eq(s.corrections, 0u, "no observation: no correction");
	for (k = 0; k < 5; k++)
		cr_assert_eq(s.reserved_[k], 0u);
	cr_assert_eq(s.cooldowns, 1u, "the one 429 cooled its integration down");

	/* Per integration, and the sum of the parts is the whole. */
	a = h_stats("amz");
	m = h_stats("meli");
	cr_assert_eq(a.changes, 6u);
	cr_assert_eq(m.changes, 3u);
	cr_assert_eq(a.attempts + m.attempts, s.attempts);
	cr_assert_eq(a.successes + m.successes, s.successes);
	cr_assert_eq(a.errors[STG_ERRCLASS_TRANSIENT], 2u);
	cr_assert_eq(m.errors[STG_ERRCLASS_TRANSIENT], 0u);
	cr_assert_eq(a.abnormal, 0u);
	cr_assert_eq(m.abnormal, 1u);
	cr_assert_eq(a.latency_max_ms, 10);
}
