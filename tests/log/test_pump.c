/*
 * The pump (SPEC 3, "pump"): priority order under a rate limit (to zero and
 * cutoff crossings first, then low stock, then the rest), batches through
 * send_batch, the token bucket refilled by the fake clock, max_jobs.
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

TestSuite(pump, .init = setup, .fini = teardown);

/* A minimum for one SKU of an integration. */
static void set_sku_min(const char *integ, const char *sku, int64_t min)
{
	stg_policy *p = NULL;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, sku, min), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, integ, p), STG_OK);
	stg_policy_free(p);
}

Test(pump, priority_order_under_rate_limit)
{
	static const char *const order[] = { "Z", "C", "U", "L", "N", "M" };
	stg_submit_result r;
	size_t i;

	h_open();
	set_sku_min("amz", "C", 10);
	/* Acknowledged starting points, sent before any limit. */
	h_submit("amz", "Z", 100, 1);
	h_submit("amz", "C", 100, 1);
	h_submit("amz", "L", 100, 1);
	h_submit("amz", "U", 3, 1);
	cr_assert_eq(h_pump(), 4u);
	fx_transport_forget_sent(&H.tr);

	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 1000), STG_OK);
	/* Submitted least urgent first. */
	r = h_submit("amz", "N", 100, 1);                              /* first seen, normal */
	cr_assert_eq(r.priority, STG_PRIORITY_NORMAL);
	cr_assert_eq(h_submit_rc("amz", "M", 200, 1, STG_CHANGE_NON_STOCK, 0, NULL, &r), STG_OK);
	cr_assert_eq(r.priority, STG_PRIORITY_NORMAL);
	r = h_submit("amz", "U", 50, 2);                               /* from the window */
	cr_assert_eq(r.decision, STG_DECISION_EXPORT);
	cr_assert_eq(r.priority, STG_PRIORITY_LOW_STOCK);
	r = h_submit("amz", "L", 4, 2);                                /* into the window */
	cr_assert_eq(r.priority, STG_PRIORITY_LOW_STOCK);
	r = h_submit("amz", "Z", 0, 2);                                /* to zero */
	cr_assert_eq(r.priority, STG_PRIORITY_URGENT);
	r = h_submit("amz", "C", 9, 2);                                /* cutoff crossing */
	cr_assert_eq(r.priority, STG_PRIORITY_URGENT);
	cr_assert_eq(r.published, 0);
	/* Within one priority: first come, first served. */
	for (i = 0; i < 6; i++) {
		cr_assert_eq(h_pump(), 1u, "step %zu", i);
		cr_assert_eq(h_pump(), 0u, "rate limit: one job per second (step %zu)", i);
		cr_assert_str_eq(h_last()->sku, order[i], "step %zu: sent %s, expected %s", i,
		                 h_last()->sku, order[i]);
		h_advance(1000);
	}
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(H.tr.sent[0].priority, STG_PRIORITY_URGENT);
	cr_assert_eq(H.tr.sent[2].priority, STG_PRIORITY_LOW_STOCK);
	cr_assert_eq(H.tr.sent[5].priority, STG_PRIORITY_NORMAL);
}

/* A change that raises a waiting job's urgency moves it forward. */
Test(pump, coalesced_change_reprioritises)
{
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 1000), STG_OK);
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "B", 100, 1);
	cr_assert_eq(h_submit("amz", "B", 0, 2).priority, STG_PRIORITY_URGENT);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->sku, "B");
	cr_assert_eq(h_last()->published, 0);
	h_advance(1000);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->sku, "A");
}

/* The most urgent job goes first across integrations too. */
Test(pump, priority_across_integrations)
{
	h_open();
	h_submit("amz", "A", 100, 1);
	h_submit("meli", "B", 4, 1);
	h_submit("magalu", "C", 0, 1);
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert_str_eq(h_last()->integration, "magalu");
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert_str_eq(h_last()->integration, "meli");
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert_str_eq(h_last()->integration, "amz");
	cr_assert_eq(h_pump_n(1), 0u);
}

/* The rate limit of one integration does not hold back another. */
Test(pump, rate_limit_is_per_integration)
{
	char sku[8];
	int i;

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 60000), STG_OK);
	for (i = 0; i < 3; i++) {
		snprintf(sku, sizeof sku, "A%d", i);
		h_submit("amz", sku, 0, 1);
		h_submit("meli", sku, 100, 1);
	}
	cr_assert_eq(h_pump(), 4u);
	cr_assert_eq(h_sent_count("amz", NULL), 1u);
	cr_assert_eq(h_sent_count("meli", NULL), 3u);
}

Test(pump, token_bucket_refills_with_the_clock)
{
	char sku[8];
	int i;

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 2, 1000), STG_OK);
	for (i = 0; i < 9; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		h_submit("amz", sku, 100, 1);
	}
	cr_assert_eq(h_pump(), 2u, "starts with a full bucket");
	cr_assert_eq(h_pump(), 0u);
	h_advance(499);
	cr_assert_eq(h_pump(), 0u, "999/1000 of a job is not a job");
	h_advance(1);
	cr_assert_eq(h_pump(), 1u, "half a period: one job of two");
	h_advance(250);
	cr_assert_eq(h_pump(), 0u);
	h_advance(250);
	cr_assert_eq(h_pump(), 1u);
	h_advance(3600000);
	cr_assert_eq(h_pump(), 2u, "the bucket holds at most max_jobs");
	h_advance(1000);
	cr_assert_eq(h_pump(), 2u);
	h_advance(1000);
	cr_assert_eq(h_pump(), 1u, "only one job left");
	cr_assert_eq(H.tr.nsent, 9u);
}

/*
 * A clock that starts at 0 (a replay, a test's clock) refills like any
 * other: time 0 is a time, not "never refilled" (found by the replay tool's
 * simulated marketplace, whose feeds may start at the epoch).
 */
Test(pump, token_bucket_refills_from_time_zero)
{
	char sku[8];
	int i;

	h_open();
	H.clock.now = 0;
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 1000), STG_OK);
	for (i = 0; i < 3; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		h_submit("amz", sku, 100, 1);
	}
	cr_assert_eq(h_pump(), 1u, "a full bucket at time 0");
	cr_assert_eq(h_pump(), 0u);
	h_advance(1000);
	cr_assert_eq(h_pump(), 1u, "one period after time 0: one more job");
	h_advance(1000);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 3u);
}

/* Budget is spent on attempts, failed ones included. */
Test(pump, failed_attempts_spend_budget)
{
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 1000), STG_OK);
	h_submit("amz", "A", 1, 1);
	h_submit("amz", "B", 1, 1);
	h_push_http(400);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_pump(), 0u);
	h_advance(1000);
	cr_assert_eq(h_pump(), 1u);
}

Test(pump, batches_through_send_batch)
{
	char sku[8];
	size_t i, calls_amz, in_call[32] = { 0 };
	int i2;

	H.with_batch = 1;
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 3, 0, 0), STG_OK);
	for (i2 = 0; i2 < 7; i2++) {
		snprintf(sku, sizeof sku, "A%d", i2);
		h_submit("amz", sku, 100, 1);
	}
	h_submit("meli", "B0", 100, 1);
	h_submit("meli", "B1", 100, 1);
	cr_assert_eq(h_pump(), 9u);
	cr_assert_lt(H.tr.calls, 32u);
	for (i = 0; i < H.tr.nsent; i++) {
		const h_sent *s = &H.tr.sent[i];
		in_call[s->call]++;
		cr_assert_leq(s->batch_n, 3u);
		if (strcmp(s->integration, "meli") == 0) {
			/* Batch size 1 (the default): one job per send. */
			cr_assert_not(s->batched);
			cr_assert_eq(s->batch_n, 1u);
		} else if (s->batch_n > 1) {
			cr_assert(s->batched);
		}
	}
	/* amz: 7 jobs in calls of at most 3: 3 calls (3 + 3 + 1); meli: 2 calls. */
	calls_amz = 0;
	for (i = 0; i < H.tr.nsent; i++)
		if (strcmp(H.tr.sent[i].integration, "amz") == 0 &&
		    (i == 0 || H.tr.sent[i - 1].call != H.tr.sent[i].call))
			calls_amz++;
	cr_assert_eq(calls_amz, 3u);
	cr_assert_eq(H.tr.calls, 5u);
	for (i = 0; i < H.tr.calls; i++)
		cr_assert(in_call[i] >= 1 && in_call[i] <= 3);
	cr_assert_eq(h_stats("amz").attempts, 7u);
	cr_assert_eq(h_stats("amz").successes, 7u);
	cr_assert_eq(h_counts(NULL).success, 9u);
}

/* A batch never exceeds the rate budget. */
Test(pump, batch_limited_by_rate_budget)
{
	char sku[8];
	int i;

	H.with_batch = 1;
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 10, 4, 1000), STG_OK);
	for (i = 0; i < 6; i++) {
		snprintf(sku, sizeof sku, "A%d", i);
		h_submit("amz", sku, 100, 1);
	}
	cr_assert_eq(h_pump(), 4u);
	cr_assert_eq(H.tr.calls, 1u);
	cr_assert_eq(H.tr.sent[0].batch_n, 4u);
	h_advance(500);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(H.tr.calls, 2u);
}

/* Without send_batch, a batch size above 1 still sends one job per call. */
Test(pump, batch_size_without_send_batch)
{
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 5, 0, 0), STG_OK);
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "B", 100, 1);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(H.tr.calls, 2u);
	cr_assert_not(H.tr.sent[0].batched);
}

/* A failing send_batch leaves every job of the batch queued, unchanged. */
Test(pump, batch_transport_failure)
{
	size_t sent = 9;

	H.with_batch = 1;
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 5, 0, 0), STG_OK);
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "B", 100, 1);
	h_push_transport_failure(5);
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_ETRANSPORT);
	cr_assert_eq(sent, 0u);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_QUEUED);
	cr_assert_eq(h_get("amz", "B").job_state, STG_JOB_QUEUED);
	cr_assert_eq(h_get("amz", "A").last_attempt_at, 0);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(H.tr.sent[0].attempt, 1u);
}

Test(pump, max_jobs_and_next_due)
{
	int64_t wait = 77;
	size_t sent = 0;

	h_open();
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, -1);
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "B", 100, 1);
	h_submit("amz", "C", 100, 1);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 0);
	cr_assert_eq(stg_log_pump(H.log, 2, &sent), STG_OK);
	cr_assert_eq(sent, 2u);
	cr_assert_eq(stg_log_pump(H.log, 2, NULL), STG_OK);
	cr_assert_eq(H.tr.nsent, 3u);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, -1);
}

/*
 * next_due: held jobs count at their slow-retry time, next to queued jobs
 * waiting for a cool-down in another integration; paused ones do not count.
 * (In one integration the 429's cool-down would hold the held job too:
 * see next_due_waits_for_the_cool_down.)
 */
static void next_due_case(int64_t catalogue_retry, int64_t expect)
{
	int64_t wait = 77;

	h_reset();
	H.opts.catalogue_retry_ms = catalogue_retry;
	h_open();
	h_submit("ml", "H", 1, 1);
	h_submit("amz", "R", 1, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404); /* H held for catalogue_retry */
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 5000, NULL); /* amz cools until T0 + 5000 */
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_get("ml", "H").job_state, STG_JOB_HELD);
	cr_assert_eq(h_get("amz", "R").next_attempt_at, T0 + 5000);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, expect, "catalogue retry %lld: next_due %lld, expected %lld",
	             (long long)catalogue_retry, (long long)wait, (long long)expect);
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_OK);
	cr_assert_eq(stg_log_pause(H.log, "ml"), STG_OK);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, -1);
	h_close();
}

Test(pump, next_due_counts_held_and_queued)
{
	next_due_case(1000, 1000);
	next_due_case(10000, 5000);
}

/*
 * Under a rate limit, next_due tells when the pump can send again: a host
 * that sleeps next_due and pumps must not spin while the bucket refills.
 */
Test(pump, next_due_respects_rate_limit)
{
	int64_t wait = 77;

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 60000), STG_OK);
	h_submit("amz", "A", 3, 1);
	h_submit("amz", "B", 3, 1);
	cr_assert_eq(h_pump(), 1u);
	h_advance(1000);
	cr_assert_eq(h_pump(), 0u, "no budget yet");
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 59000, "next_due %lld while the pump cannot send for 59000 ms "
	             "(a host loop would spin)", (long long)wait);
	h_advance(59000);
	cr_assert_eq(h_pump(), 1u);
}
