/*
 * Submitting changes (SPEC 3, "submit"): coalescing onto a waiting job, a
 * change while a job is in flight, stale and equal sequences, and the
 * export-change filter as the log applies it (first seen, low stock,
 * outside the window, no change, non-stock change, after an error).
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

TestSuite(changes, .init = setup, .fini = teardown);

static void expect_result(const stg_submit_result *r, int decision, int reason, int64_t published)
{
	cr_assert_eq(r->decision, decision, "decision %s, expected %s", stg_decision_name(r->decision),
	             stg_decision_name(decision));
	cr_assert_eq(r->reason, reason, "reason %s, expected %s", stg_reason_name(r->reason),
	             stg_reason_name(reason));
	cr_assert_eq(r->published, published, "published %lld, expected %lld",
	             (long long)r->published, (long long)published);
	cr_assert_eq(r->reserved_[0] | r->reserved_[1] | r->reserved_[2] | r->reserved_[3], 0u);
}

/* ------------------------------------------------------------ coalescing */

Test(changes, coalesce_while_queued)
{
	stg_submit_result r1, r2, r3;
	stg_stats s;

	h_open();
	r1 = h_submit("amz", "A", 3, 1);
	expect_result(&r1, STG_DECISION_EXPORT, STG_REASON_FIRST_SEEN, 3);
	cr_assert_neq(r1.job_id, 0u);
	r2 = h_submit("amz", "A", 2, 2);
	expect_result(&r2, STG_DECISION_COALESCED, STG_REASON_COALESCED, 2);
	cr_assert_eq(r2.job_id, r1.job_id, "never two jobs for one SKU");
	/* A change that the filter would skip is not filtered: it rides along. */
	r3 = h_submit("amz", "A", 100, 3);
	expect_result(&r3, STG_DECISION_COALESCED, STG_REASON_COALESCED, 100);
	cr_assert_eq(r3.job_id, r1.job_id);
	cr_assert_eq(h_get("amz", "A").published, 100);
	cr_assert_eq(h_get("amz", "A").reason, STG_REASON_COALESCED);

	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 1u);
	cr_assert_eq(h_last()->published, 100, "the newest quantity wins");
	cr_assert_eq(h_last()->available, 100);
	cr_assert_eq(h_last()->id, r1.job_id);
	cr_assert_eq(h_get("amz", "A").acked, 100);
	cr_assert_eq(h_pump(), 0u);
	s = h_stats(NULL);
	cr_assert_eq(s.changes, 3u);
	cr_assert_eq(s.exports, 1u);
	cr_assert_eq(s.coalesced, 2u);
	cr_assert_eq(s.attempts, 1u);
	cr_assert_eq(s.successes, 1u);
}

Test(changes, coalesce_while_retrying)
{
	stg_submit_result r;
	uint64_t id;

	h_open();
	id = h_submit("amz", "A", 3, 1).job_id;
	h_push_http(503);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_QUEUED);
	r = h_submit("amz", "A", 1, 2);
	expect_result(&r, STG_DECISION_COALESCED, STG_REASON_COALESCED, 1);
	cr_assert_eq(r.job_id, id);
	/* Still waiting for its backoff. */
	cr_assert_eq(h_pump(), 0u);
	H.clock.now = h_get("amz", "A").next_attempt_at;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 2u);
	cr_assert_eq(h_last()->published, 1);
	cr_assert_eq(h_last()->attempt, 2u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "A").acked, 1);
}

Test(changes, coalesce_while_held)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "A", 3, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	cr_assert_eq(h_pump(), 1u);
	r = h_submit("amz", "A", 8, 2);
	expect_result(&r, STG_DECISION_COALESCED, STG_REASON_COALESCED, 8);
	r = h_submit("amz", "A", 9, 3);
	expect_result(&r, STG_DECISION_COALESCED, STG_REASON_COALESCED, 9);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_HELD, "a change does not lift the hold");
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 2u);
	cr_assert_eq(h_last()->published, 9);
}

Test(changes, coalesce_while_paused)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "A", 3, 1);
	h_submit("amz", "B", 3, 1);
	h_push_http(401);
	cr_assert_eq(h_pump(), 1u); /* A fails, amz paused before B goes */
	r = h_submit("amz", "A", 0, 2);
	expect_result(&r, STG_DECISION_COALESCED, STG_REASON_COALESCED, 0);
	cr_assert_eq(r.priority, STG_PRIORITY_URGENT, "to zero is urgent");
	r = h_submit("amz", "B", 1, 2);
	expect_result(&r, STG_DECISION_COALESCED, STG_REASON_COALESCED, 1);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_last_for("amz", "A")->published, 0);
	cr_assert_eq(h_last_for("amz", "B")->published, 1);
	cr_assert_eq(h_sent_count("amz", "B"), 1u);
}

/*
 * A change while the job is in flight (asynchronous transport): after the
 * completion, the newer quantity goes out.
 */
Test(changes, change_while_in_flight_follows)
{
	stg_submit_result r;
	stg_job_result res;
	uint64_t first;
	stg_entry e;

	h_open();
	first = h_submit("amz", "A", 30, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_IN_FLIGHT);
	cr_assert_eq(h_last()->published, 30);
	cr_assert_eq(h_last()->id, first);

	h_advance(100);
	r = h_submit("amz", "A", 2, 2);
	cr_assert_eq(r.decision, STG_DECISION_COALESCED);
	cr_assert_eq(r.published, 2);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_IN_FLIGHT);
	/* Not handed out twice while in flight. */
	cr_assert_eq(h_pump(), 0u);

	h_advance(100);
	cr_assert_eq(stg_job_result_init(&res, STG_JOB_RESULT_VERSION), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, first, &res), STG_OK);
	e = h_get("amz", "A");
	cr_assert_eq(e.acked, 30, "the marketplace acknowledged what it was sent");
	cr_assert(e.flags & STG_ENTRY_HAS_ACKED);
	cr_assert_eq(e.status, STG_ENTRY_PENDING, "the newer quantity still has to go");
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_eq(e.published, 2);

	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 2u);
	cr_assert_eq(h_last()->published, 2);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS);
	cr_assert_eq(e.acked, 2);
	/* Completing again: done already. */
	cr_assert_eq(stg_log_complete(H.log, first, &res), STG_ENOTFOUND);
}

/* A change in flight that fails: the retry carries the newer quantity. */
Test(changes, change_while_in_flight_then_failure)
{
	stg_job_result res;
	uint64_t id;

	h_open();
	id = h_submit("amz", "A", 30, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "A", 3, 2);
	cr_assert_eq(stg_job_result_init(&res, STG_JOB_RESULT_VERSION), STG_OK);
	res.outcome = STG_OUTCOME_ERROR;
	res.http_status = 503;
	cr_assert_eq(stg_log_complete(H.log, id, &res), STG_OK);
	cr_assert_eq(h_get("amz", "A").error_class, STG_ERRCLASS_TRANSIENT);
	H.clock.now = h_get("amz", "A").next_attempt_at;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 3);
	cr_assert_eq(h_get("amz", "A").acked, 3);
}

/*
 * The follow-up job that carries a change made while another job was in
 * flight is a new job: its id differs, and a second (duplicate) completion
 * of the first job cannot acknowledge the newer quantity.
 *
 * stg_job.id is "unique within the log"; stg_log_complete() returns
 * STG_ENOTFOUND for a job "completed already".
 */
Test(changes, follow_up_job_has_its_own_id)
{
	stg_job_result ok;
	uint64_t first;
	stg_entry e;

	h_open();
	first = h_submit("amz", "A", 30, 1).job_id;
	h_push_async();
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "A", 0, 2);
	cr_assert_eq(stg_job_result_init(&ok, STG_JOB_RESULT_VERSION), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, first, &ok), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 0);
	/* The host's HTTP layer delivers the first answer twice. */
	cr_assert_eq(stg_log_complete(H.log, first, &ok), STG_ENOTFOUND,
	             "job %llu was completed already, yet its second completion was accepted "
	             "as the acknowledgement of the follow-up job (id %llu)",
	             (unsigned long long)first, (unsigned long long)h_last()->id);
	e = h_get("amz", "A");
	cr_assert_eq(e.job_state, STG_JOB_IN_FLIGHT, "the follow-up (published 0) is not acknowledged");
	cr_assert_neq(h_last()->id, first);
}

/*
 * stg_entry.job_since is "the time of the oldest change the job carries
 * (latency start)". A follow-up job carrying two changes made while its
 * predecessor was in flight starts at the older one.
 */
Test(changes, follow_up_job_latency_starts_at_oldest_change)
{
	stg_job_result ok;
	uint64_t first;

	H.opts.latency_limit_ms = 1000;
	h_open();
	first = h_submit("amz", "A", 30, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_advance(10);
	h_submit("amz", "A", 3, 2);   /* at T0 + 10 */
	h_advance(390);
	h_submit("amz", "A", 2, 3);   /* at T0 + 400 */
	h_advance(100);
	cr_assert_eq(stg_job_result_init(&ok, STG_JOB_RESULT_VERSION), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, first, &ok), STG_OK); /* 500 ms: normal */
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_ABNORMAL, 0u);
	h_advance(700);
	cr_assert_eq(h_get("amz", "A").job_since, T0 + 10,
	             "job_since %lld is not the oldest change carried (T0 + 10)",
	             (long long)(h_get("amz", "A").job_since - T0));
	/* Acknowledged at T0 + 1200: the change of T0 + 10 waited 1190 ms > 1000. */
	cr_assert_eq(h_pump(), 1u);
	cr_assert(h_get("amz", "A").flags & STG_ENTRY_ABNORMAL);
}

/* Coalescing onto a waiting job keeps the oldest change as latency start. */
Test(changes, coalesced_job_keeps_oldest_change_time)
{
	h_open();
	h_submit("amz", "A", 3, 1);
	h_advance(5000);
	h_submit("amz", "A", 2, 2);
	cr_assert_eq(h_get("amz", "A").job_since, T0);
	cr_assert_eq(h_get("amz", "A").changed_at, T0 + 5000);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->changed_at, T0 + 5000, "job.changed_at: the newest change");
	cr_assert_eq(h_get("amz", "A").latency_ms, 5000);
}

/* ---------------------------------------------------------------- stale */

Test(changes, stale_changes_are_ignored)
{
	stg_submit_result r;
	stg_entry before, after;

	h_open();
	h_submit("amz", "A", 3, 10);
	cr_assert_eq(h_pump(), 1u);
	before = h_get("amz", "A");
	r = h_submit("amz", "A", 0, 9);
	expect_result(&r, STG_DECISION_STALE, STG_REASON_STALE, 3);
	cr_assert_eq(r.job_id, 0u);
	after = h_get("amz", "A");
	h_assert_entry_eq(&before, &after, "after a stale change");
	cr_assert_eq(h_pump(), 0u);

	/* Also while a job waits: the waiting job keeps the newer quantity. */
	h_submit("amz", "A", 4, 11);
	r = h_submit("amz", "A", 0, 5);
	cr_assert_eq(r.decision, STG_DECISION_STALE);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 4);
	cr_assert_eq(h_stats(NULL).stale, 2u);
	cr_assert_eq(h_stats(NULL).changes, 4u);
}

Test(changes, equal_sequence_is_applied)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "A", 30, 5);
	r = h_submit("amz", "A", 20, 5);
	cr_assert_eq(r.decision, STG_DECISION_COALESCED);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 20);
	r = h_submit("amz", "A", 2, 5);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_LOW_STOCK, 2);
	cr_assert_eq(h_get("amz", "A").sequence, 5);
	/* Sequences may be negative or large; order is all that counts. */
	h_submit("amz", "B", 1, INT64_MIN + 1);
	r = h_submit("amz", "B", 2, INT64_MIN);
	cr_assert_eq(r.decision, STG_DECISION_STALE);
}

/* --------------------------------------------------------------- filter */

Test(changes, filter_reasons_through_the_log)
{
	stg_submit_result r;
	stg_stats s;

	h_open();
	r = h_submit("amz", "A", 20, 1);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_FIRST_SEEN, 20);
	cr_assert_eq(r.priority, STG_PRIORITY_NORMAL);
	cr_assert_eq(h_pump(), 1u);

	r = h_submit("amz", "A", 15, 2);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_OUTSIDE_WINDOW, 15);
	cr_assert_eq(r.job_id, 0u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "A").available, 15, "a skipped change is still the previous one");
	cr_assert_eq(h_get("amz", "A").reason, STG_REASON_OUTSIDE_WINDOW);

	r = h_submit("amz", "A", 15, 3);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_NO_CHANGE, 15);

	/* Judged against the previous change (15), not the acknowledged 20. */
	r = h_submit("amz", "A", 6, 4);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_OUTSIDE_WINDOW, 6);
	r = h_submit("amz", "A", 5, 5);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_LOW_STOCK, 5);
	cr_assert_eq(r.priority, STG_PRIORITY_LOW_STOCK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 5);

	/* From within the window to above it: still low stock. */
	r = h_submit("amz", "A", 50, 6);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_LOW_STOCK, 50);
	cr_assert_eq(h_pump(), 1u);

	/* Non-stock change: exported even with the same quantity, job flagged. */
	cr_assert_eq(h_submit_rc("amz", "A", 50, 7, STG_CHANGE_NON_STOCK, 0, NULL, &r), STG_OK);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_NON_STOCK_CHANGE, 50);
	cr_assert(h_get("amz", "A").flags & STG_ENTRY_NON_STOCK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert(h_last()->flags & STG_JOB_FLAG_NON_STOCK);
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_NON_STOCK, 0u, "cleared once sent");
	r = h_submit("amz", "A", 40, 8);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_OUTSIDE_WINDOW, 40);

	s = h_stats(NULL);
	cr_assert_eq(s.changes, 8u);
	cr_assert_eq(s.exports, 4u);
	cr_assert_eq(s.skips[STG_REASON_OUTSIDE_WINDOW], 3u);
	cr_assert_eq(s.skips[STG_REASON_NO_CHANGE], 1u);
	cr_assert_eq(s.skips[STG_REASON_FIRST_SEEN] + s.skips[STG_REASON_LOW_STOCK] +
	             s.skips[STG_REASON_NON_STOCK_CHANGE], 0u);
}

/* A non-stock change coalesced onto a waiting job flags that job. */
Test(changes, non_stock_rides_on_waiting_job)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "A", 30, 1);
	cr_assert_eq(h_submit_rc("amz", "A", 31, 2, STG_CHANGE_NON_STOCK, 0, NULL, &r), STG_OK);
	cr_assert_eq(r.decision, STG_DECISION_COALESCED);
	cr_assert_eq(h_pump(), 1u);
	cr_assert(h_last()->flags & STG_JOB_FLAG_NON_STOCK);
	cr_assert_eq(h_last()->published, 31);
}

/* The minimum can never be hidden by the filter (SPEC 2: 12 -> 9, m = 10). */
Test(changes, cutoff_is_exported_and_warned)
{
	stg_policy *p = NULL;
	stg_submit_result r;
	const h_event *ev;

	h_open();
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p); /* the log keeps its own copy */

	r = h_submit("amz", "A", 12, 1);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_FIRST_SEEN, 12);
	cr_assert_eq(h_pump(), 1u);
	r = h_submit("amz", "A", 9, 2);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_LOW_STOCK, 0);
	cr_assert_eq(r.warnings, STG_WARN_MIN_STOCK_REACHED);
	cr_assert_eq(r.priority, STG_PRIORITY_URGENT);
	cr_assert(h_get("amz", "A").flags & STG_ENTRY_MIN_STOCK_REACHED);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 1u);
	ev = h_last_event(STG_EVENT_MIN_STOCK_REACHED);
	cr_assert_str_eq(ev->integration, "amz");
	cr_assert_str_eq(ev->sku, "A");
	cr_assert_eq(ev->available, 9);
	cr_assert_eq(ev->min_stock, 10);
	cr_assert_eq(ev->time, H.clock.now);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 0);
	cr_assert(h_last()->flags & STG_JOB_FLAG_MIN_STOCK_REACHED);

	/* Still at the minimum: no new event (only a newly raised warning). */
	r = h_submit("amz", "A", 8, 3);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_NO_CHANGE, 0);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 1u);
	/* Back above: the flag clears; falling again warns again. */
	h_submit("amz", "A", 11, 4);
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_MIN_STOCK_REACHED, 0u);
	h_submit("amz", "A", 10, 5);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 2u);
	cr_assert_eq(h_stats(NULL).warnings, 3u);
}

/* Category minimums come with the change. */
Test(changes, category_minimum_applies)
{
	stg_policy *p = NULL;
	stg_submit_result r;

	h_open();
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "shoes", 10), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);
	cr_assert_eq(h_submit_rc("amz", "A", 8, 1, 0, 0, "shoes", &r), STG_OK);
	cr_assert_eq(r.published, 0);
	cr_assert_eq(r.warnings, STG_WARN_MIN_STOCK_REACHED);
	cr_assert_eq(h_submit_rc("amz", "B", 8, 1, 0, 0, "shirts", &r), STG_OK);
	cr_assert_eq(r.published, 8);
}

/*
 * After an export failed for good, the next change is judged against what
 * the marketplace last acknowledged, not against the failed change.
 */
Test(changes, after_error_judged_against_acknowledged)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "A", 50, 1);
	cr_assert_eq(h_pump(), 1u);                 /* acked 50 */
	h_submit("amz", "A", 3, 2);                 /* low stock */
	h_push_http(400);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);
	cr_assert_eq(h_get("amz", "A").acked, 50);

	/* Same 3 again: against the previous change it would be no_change, but
	 * the marketplace still shows 50: export. */
	r = h_submit("amz", "A", 3, 3);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_LOW_STOCK, 3);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").acked, 3);

	/* Fail 60 for good; then 3 is no change against the acknowledged 3, and
	 * 40 is low stock (from 3), not outside the window (from 60). */
	h_submit("amz", "A", 60, 4);
	h_push_http(422);
	cr_assert_eq(h_pump(), 1u);
	r = h_submit("amz", "A", 3, 5);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_NO_CHANGE, 3);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR, "a skip leaves the error");
	r = h_submit("amz", "A", 40, 6);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_LOW_STOCK, 40);
}

Test(changes, after_error_with_nothing_acknowledged)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "A", 50, 1);
	h_push_http(400);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_HAS_ACKED, 0u);
	/* Outside the window and unchanged, yet the marketplace has nothing. */
	r = h_submit("amz", "A", 50, 2);
	expect_result(&r, STG_DECISION_EXPORT, STG_REASON_AFTER_ERROR, 50);
	cr_assert_neq(r.job_id, 0u);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	r = h_submit("amz", "A", 40, 3);
	expect_result(&r, STG_DECISION_SKIP, STG_REASON_OUTSIDE_WINDOW, 40);
}

Test(changes, submit_batch_applies_in_order)
{
	stg_submit s[4];
	stg_submit_result res[4];
	size_t done = 99, i;

	h_open();
	for (i = 0; i < 4; i++) {
		cr_assert_eq(stg_submit_init(&s[i], STG_SUBMIT_VERSION), STG_OK);
		s[i].integration = "amz";
		s[i].sku = i < 3 ? "A" : "B";
		s[i].available = (int64_t)(10 - i);
		s[i].sequence = (int64_t)i;
	}
	s[2].sequence = -1; /* stale */
	cr_assert_eq(stg_log_submit_batch(H.log, s, 4, res, &done), STG_OK);
	cr_assert_eq(done, 4u);
	cr_assert_eq(res[0].decision, STG_DECISION_EXPORT);
	cr_assert_eq(res[1].decision, STG_DECISION_COALESCED);
	cr_assert_eq(res[2].decision, STG_DECISION_STALE);
	cr_assert_eq(res[3].decision, STG_DECISION_EXPORT);
	/* Stops at the first failure; the ones before stay applied. */
	s[1].sku = "";
	s[0].sku = "C";
	cr_assert_eq(stg_log_submit_batch(H.log, s, 4, NULL, &done), STG_EINVAL);
	cr_assert_eq(done, 1u);
	cr_assert(h_exists("amz", "C"));
	cr_assert_eq(stg_log_submit_batch(H.log, NULL, 0, NULL, &done), STG_OK);
	cr_assert_eq(done, 0u);
}

/* changed_at given by the host is the latency start; 0 means now. */
Test(changes, changed_at_from_the_host)
{
	h_open();
	cr_assert_eq(h_submit_rc("amz", "A", 3, 1, 0, T0 - 4000, NULL, NULL), STG_OK);
	cr_assert_eq(h_get("amz", "A").changed_at, T0 - 4000);
	cr_assert_eq(h_get("amz", "A").job_since, T0 - 4000);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").latency_ms, 4000);
	cr_assert_eq(h_submit_rc("amz", "B", 3, 1, 0, 0, NULL, NULL), STG_OK);
	cr_assert_eq(h_get("amz", "B").changed_at, T0);
}

/*
 * A change made while a job is in flight "is queued to follow it" (log.h).
 * When the in-flight job then fails for good (rejected, or its last
 * transient retry), the newer change must still go out: the marketplace
 * never saw it, and here it is a change to 0 (oversell risk).
 */
static void follow_up_after_final_failure(int http, uint32_t max_transient)
{
	stg_job_result res;
	uint64_t id;
	stg_entry e;

	h_reset();
	H.opts.max_transient_attempts = max_transient;
	h_open();
	h_submit("amz", "A", 50, 1);
	cr_assert_eq(h_pump(), 1u);                  /* acked 50 */
	id = h_submit("amz", "A", 3, 2).job_id;      /* low stock */
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_submit("amz", "A", 0, 3).decision, STG_DECISION_COALESCED);
	cr_assert_eq(stg_job_result_init(&res, STG_JOB_RESULT_VERSION), STG_OK);
	res.outcome = STG_OUTCOME_ERROR;
	res.http_status = http;
	cr_assert_eq(stg_log_complete(H.log, id, &res), STG_OK);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING,
	             "HTTP %d on the job for 3: status %s, job %s; the change to 0 that followed "
	             "it is never sent", http, stg_entry_status_name(e.status),
	             stg_job_state_name(e.job_state));
	H.clock.now += 3600000;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 0);
	h_close();
}

Test(changes, follow_up_survives_rejection_of_in_flight_job)
{
	follow_up_after_final_failure(400, 5);
}

Test(changes, follow_up_survives_last_transient_failure)
{
	follow_up_after_final_failure(503, 1);
}

/*
 * A non-stock change whose export failed for good never reached the
 * marketplace; the next export must still carry it (STG_JOB_FLAG_NON_STOCK),
 * as the next quantity is judged against what was acknowledged.
 */
Test(changes, failed_non_stock_change_rides_on_next_export)
{
	h_open();
	h_submit("amz", "A", 50, 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_submit_rc("amz", "A", 50, 2, STG_CHANGE_NON_STOCK, 0, NULL, NULL), STG_OK);
	h_push_http(422);
	cr_assert_eq(h_pump(), 1u);
	cr_assert(h_last()->flags & STG_JOB_FLAG_NON_STOCK);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);
	cr_assert_eq(h_submit("amz", "A", 3, 3).decision, STG_DECISION_EXPORT);
	cr_assert_eq(h_pump(), 1u);
	cr_assert(h_last()->flags & STG_JOB_FLAG_NON_STOCK,
	          "the failed non-stock update (price, catalog ...) is silently dropped");
}

/* Drift and heartbeat (off by default) as the log applies them. */
Test(changes, drift_and_heartbeat_through_the_log)
{
	stg_policy *p = NULL;
	stg_submit_result r;

	h_open();
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 50), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, 3600000), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);

	h_submit("amz", "A", 100, 1);
	cr_assert_eq(h_pump(), 1u);                  /* acked 100 at T0 */
	r = h_submit("amz", "A", 40, 2);             /* moved 60%: drift */
	cr_assert_eq(r.decision, STG_DECISION_EXPORT);
	cr_assert_eq(r.reason, STG_REASON_DRIFT);
	cr_assert_eq(h_pump(), 1u);                  /* acked 40 at T0 */
	r = h_submit("amz", "A", 30, 3);             /* 25%: skip */
	cr_assert_eq(r.reason, STG_REASON_OUTSIDE_WINDOW);
	/* The heartbeat counts from the last acknowledgement, not the last change. */
	h_advance(3600000);
	r = h_submit("amz", "A", 31, 4);
	cr_assert_eq(r.reason, STG_REASON_OUTSIDE_WINDOW, "exactly the heartbeat age: not older");
	h_advance(1);
	r = h_submit("amz", "A", 32, 5);
	cr_assert_eq(r.decision, STG_DECISION_EXPORT);
	cr_assert_eq(r.reason, STG_REASON_HEARTBEAT);
	cr_assert_eq(h_pump(), 1u);
	r = h_submit("amz", "A", 33, 6);
	cr_assert_eq(r.reason, STG_REASON_OUTSIDE_WINDOW, "heartbeat restarts at the new ack");
}
