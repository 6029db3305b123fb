/*
 * What the marketplace really shows (issue 14, section 3) and the entry's
 * own explanation (section 4): observations reported by the host queue a
 * correction when the marketplace differs, hold a SKU it does not list,
 * ignore stale reads; entries record where their minimum came from and
 * which rule set their quantity, through stg_log_get() and a reopen.
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

TestSuite(observe, .init = setup, .fini = teardown);

static int observe_rc(const char *integ, const char *sku, int64_t qty, int64_t at, unsigned flags,
                      int *outcome)
{
	stg_observation o = STG_OBSERVATION_INIT;

	o.integration = integ;
	o.sku = sku;
	o.quantity = qty;
	o.observed_at = at;
	o.flags = flags;
	return stg_log_observe(H.log, &o, outcome);
}

static int observe(const char *integ, const char *sku, int64_t qty, unsigned flags)
{
	int outcome = -1;

	cr_assert_eq(observe_rc(integ, sku, qty, 0, flags, &outcome), STG_OK, "%s", stg_log_errmsg(H.log));
	return outcome;
}

/* A SKU at 8, acknowledged. */
static void settled(const char *sku)
{
	h_submit("amz", sku, 8, 1);
	h_pump();
	cr_assert_eq(h_get("amz", sku).status, STG_ENTRY_SUCCESS);
}

Test(observe, a_difference_queues_a_correction)
{
	stg_entry e;
	stg_stats s;
	const h_event *ev;

	H.with_storage = 1;
	h_open();
	settled("A");
	h_advance(1000);
	cr_assert_eq(observe("amz", "A", 8, 0), STG_OBSERVED_IN_SYNC);
	cr_assert_eq(h_event_count(STG_EVENT_OUT_OF_SYNC), 0u);

	/* Amazon accepted the 8 but shows 0: the 8 goes again. */
	cr_assert_eq(observe("amz", "A", 0, 0), STG_OBSERVED_CORRECTED);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_eq(e.reason, STG_REASON_OUT_OF_SYNC);
	cr_assert_eq(e.job_since, H.clock.now, "latency runs from the observation");
	cr_assert_str_eq(stg_reason_name(STG_REASON_OUT_OF_SYNC), "out_of_sync");
	/* Written through. */
	cr_assert_eq(h_store_get("amz", "A").reason, STG_REASON_OUT_OF_SYNC);
	cr_assert_eq(h_store_get("amz", "A").job_state, STG_JOB_QUEUED);
	/* Counted, and the host is told. */
	s = h_stats(NULL);
	cr_assert_eq(s.corrections, 1u);
	cr_assert_eq(h_stats("amz").corrections, 1u);
	cr_assert_eq(h_event_count(STG_EVENT_OUT_OF_SYNC), 1u);
	ev = h_last_event(STG_EVENT_OUT_OF_SYNC);
	cr_assert_str_eq(ev->integration, "amz");
	cr_assert_str_eq(ev->sku, "A");
	cr_assert_eq(ev->observed, 0);
	cr_assert_eq(ev->available, 8);
	/* While the correction waits, another read changes nothing. */
	cr_assert_eq(observe("amz", "A", 3, 0), STG_OBSERVED_PENDING);
	cr_assert_eq(h_stats(NULL).corrections, 1u);
	/* It goes out with the published quantity. */
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 8);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "A").flags & STG_ENTRY_ABNORMAL, 0u);
}

Test(observe, a_quantity_the_filter_left_there_is_in_sync)
{
	h_open();
	h_submit("amz", "A", 100, 1);
	h_pump();
	/* 100 -> 90 is outside the window: skipped, the marketplace keeps 100. */
	cr_assert_eq(h_submit("amz", "A", 90, 2).decision, STG_DECISION_SKIP);
	cr_assert_eq(observe("amz", "A", 100, 0), STG_OBSERVED_IN_SYNC);
	cr_assert_eq(observe("amz", "A", 90, 0), STG_OBSERVED_IN_SYNC);
	cr_assert_eq(observe("amz", "A", 40, 0), STG_OBSERVED_CORRECTED);
	h_pump();
	cr_assert_eq(h_last()->published, 90, "the newest published quantity");
}

Test(observe, stale_reads_are_ignored)
{
	int out = -1;

	h_open();
	h_advance(5000);
	settled("A");
	/* Read before the acknowledgement: it may show the old value. */
	cr_assert_eq(observe_rc("amz", "A", 2, T0 + 4999, 0, &out), STG_OK);
	cr_assert_eq(out, STG_OBSERVED_STALE);
	cr_assert_eq(observe_rc("amz", "A", 2, T0 + 1, STG_OBSERVE_MISSING, &out), STG_OK);
	cr_assert_eq(out, STG_OBSERVED_STALE);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_stats(NULL).corrections, 0u);
	/* Read at the acknowledgement or later counts. */
	cr_assert_eq(observe_rc("amz", "A", 2, T0 + 5000, 0, &out), STG_OK);
	cr_assert_eq(out, STG_OBSERVED_CORRECTED);
}

Test(observe, a_missing_sku_is_held_as_not_catalogued)
{
	stg_entry e;

	H.with_storage = 1;
	h_open();
	settled("A");
	/* Amazon said ACCEPTED, but the listing does not exist. */
	cr_assert_eq(observe("amz", "A", 0, STG_OBSERVE_MISSING), STG_OBSERVED_NOT_CATALOGUED);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	cr_assert_eq(e.job_state, STG_JOB_HELD);
	cr_assert_eq(e.error_class, STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(e.attempts, 0u, "nothing was sent");
	cr_assert_eq(h_stats(NULL).corrections, 1u);
	cr_assert_eq(h_last_event(STG_EVENT_OUT_OF_SYNC)->observed, 0);
	cr_assert_eq(h_pump(), 0u, "held");
	cr_assert_eq(observe("amz", "A", 0, STG_OBSERVE_MISSING), STG_OBSERVED_PENDING, "held already");
	/* Survives a reopen, and goes out once catalogued. */
	h_reopen();
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_HELD);
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	/* A waiting job is held instead of sent. */
	h_submit("amz", "A", 3, 2);
	cr_assert_eq(observe("amz", "A", 0, STG_OBSERVE_MISSING), STG_OBSERVED_NOT_CATALOGUED);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_HELD);
	cr_assert_eq(h_pump(), 0u);
}

Test(observe, an_auth_pause_keeps_its_failure)
{
	h_open();
	h_submit("amz", "A", 3, 1);
	h_push_http(401);
	h_pump();
	cr_assert_eq(observe("amz", "A", 0, STG_OBSERVE_MISSING), STG_OBSERVED_PENDING);
	cr_assert_eq(h_get("amz", "A").error_class, STG_ERRCLASS_AUTH);
}

Test(observe, an_error_entry_is_corrected_too)
{
	h_open();
	h_submit("amz", "A", 8, 1);
	h_push_http(400);
	h_pump();
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);
	cr_assert_eq(observe("amz", "A", 5, 0), STG_OBSERVED_CORRECTED);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
}

Test(observe, bad_observations_change_nothing)
{
	stg_observation o = STG_OBSERVATION_INIT;
	int out = 77;

	H.with_storage = 1;
	h_open();
	settled("A");
	cr_assert_eq(observe_rc("amz", "A", -1, 0, 0, &out), STG_EINVAL);
	cr_assert(strstr(stg_log_errmsg(H.log), "quantity -1 is negative"));
	cr_assert_eq(observe_rc("amz", "A", 1, -5, 0, &out), STG_EINVAL);
	cr_assert(strstr(stg_log_errmsg(H.log), "observed_at -5 is negative"));
	cr_assert_eq(observe_rc("amz", "A", 1, 0, 0x10, &out), STG_EINVAL);
	cr_assert(strstr(stg_log_errmsg(H.log), "unknown flags"));
	cr_assert_eq(observe_rc("amz", "", 1, 0, 0, &out), STG_EINVAL);
	cr_assert_eq(observe_rc(NULL, "A", 1, 0, 0, &out), STG_EINVAL);
	cr_assert_eq(observe_rc("amz", "nope", 1, 0, 0, &out), STG_ENOTFOUND);
	cr_assert(strstr(stg_log_errmsg(H.log), "no entry (amz, nope)"));
	cr_assert_eq(observe_rc("nope", "A", 1, 0, 0, &out), STG_ENOTFOUND);
	cr_assert_eq(stg_log_observe(H.log, NULL, &out), STG_EINVAL);
	o.version = 2;
	o.integration = "amz";
	o.sku = "A";
	cr_assert_eq(stg_log_observe(H.log, &o, &out), STG_EVERSION);
	cr_assert_eq(out, 77, "no outcome on failure");
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_stats(NULL).corrections, 0u);
	cr_assert_eq(h_event_count(STG_EVENT_OUT_OF_SYNC), 0u);
	cr_assert_not(h_exists("amz", "nope"));
}

Test(observe, a_failed_write_changes_nothing)
{
	H.with_storage = 1;
	h_open();
	settled("A");
	H.st.write_fail = 1;
	cr_assert_eq(observe_rc("amz", "A", 0, 0, 0, NULL), STG_ESTORAGE);
	H.st.write_fail = 0;
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_NONE);
	cr_assert_eq(h_stats(NULL).corrections, 0u);
	cr_assert_eq(h_event_count(STG_EVENT_OUT_OF_SYNC), 0u);
	cr_assert_eq(observe("amz", "A", 0, 0), STG_OBSERVED_CORRECTED, "and works once storage does");
}

/* ------------------------------------------------------------- explanation */

static const char *explain(const stg_entry *e, char *buf, size_t cap)
{
	cr_assert_eq(stg_entry_explain(e, buf, cap, NULL), STG_OK, "%s", stg_last_error());
	return buf;
}

Test(observe, entries_record_why)
{
	stg_policy *p;
	stg_entry e;
	char buf[256];

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 2), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "A", 10), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "shoes", 4), STG_OK);
	H.with_storage = 1;
	h_open();
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);

	h_submit("amz", "A", 7, 1);
	e = h_get("amz", "A");
	cr_assert_eq(e.version, STG_ENTRY_VERSION);
	cr_assert_eq(e.published, 0);
	cr_assert_eq(e.min_source, STG_MIN_SKU);
	cr_assert_eq(e.rule, STG_RULE_CUTOFF);
	cr_assert_str_eq(explain(&e, buf, sizeof buf),
	                 "publishes 0: available 7 is at or below the minimum stock (the SKU's minimum); "
	                 "warning: min_stock_reached");
	cr_assert_eq(h_submit_rc("amz", "B", 3, 1, 0, 0, "shoes", NULL), STG_OK);
	e = h_get("amz", "B");
	cr_assert_eq(e.min_source, STG_MIN_CATEGORY);
	cr_assert_eq(e.rule, STG_RULE_CUTOFF);
	h_submit("amz", "C", -2, 1);
	e = h_get("amz", "C");
	cr_assert_eq(e.min_source, STG_MIN_DEFAULT);
	cr_assert_eq(e.rule, STG_RULE_NEGATIVE);
	cr_assert_str_eq(explain(&e, buf, sizeof buf), "publishes 0: available -2 is negative (oversold)");
	h_submit("amz", "D", 30, 1);
	e = h_get("amz", "D");
	cr_assert_eq(e.rule, STG_RULE_AVAILABLE);
	/* Stored, and back after a reopen (the policy is not needed for it). */
	cr_assert_eq(h_store_get("amz", "A").rule, STG_RULE_CUTOFF);
	h_reopen();
	e = h_get("amz", "A");
	cr_assert_eq(e.min_source, STG_MIN_SKU);
	cr_assert_eq(e.rule, STG_RULE_CUTOFF);
	cr_assert_eq(h_get("amz", "B").min_source, STG_MIN_CATEGORY);
}

Test(observe, reserve_and_allocation_explained_and_warned)
{
	stg_policy *p;
	stg_entry e;
	char buf[256];

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 5), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 50), STG_OK);
	h_open();
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);
	/* Reserve publishing 0 from a positive stock: the minimum did it, warned. */
	h_submit("amz", "A", 4, 1);
	e = h_get("amz", "A");
	cr_assert_eq(e.rule, STG_RULE_RESERVE);
	cr_assert(e.flags & STG_ENTRY_MIN_STOCK_REACHED);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 1u);
	/* The allocation rounding 6 - 5 = 1 down to 0: not the minimum, no warning. */
	h_submit("amz", "B", 6, 1);
	e = h_get("amz", "B");
	cr_assert_eq(e.published, 0);
	cr_assert_eq(e.rule, STG_RULE_ALLOCATION);
	cr_assert_eq(e.flags & STG_ENTRY_MIN_STOCK_REACHED, 0u);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 1u);
	cr_assert_str_eq(explain(&e, buf, sizeof buf),
	                 "publishes 0: only the integration's allocation share of available 6 is offered");
}

Test(observe, explaining_an_entry_of_1_0)
{
	stg_entry e = STG_ENTRY_INIT, old;
	char buf[256];
	size_t len = 0;

	e.available = 3;
	e.published = 0;
	cr_assert_eq(e.min_source, -1);
	cr_assert_eq(e.rule, -1);
	cr_assert(strstr(explain(&e, buf, sizeof buf), "has not recorded why"));
	/* A version-1 struct has reserved words there: not read. */
	cr_assert_eq(stg_entry_init(&old, 1), STG_OK);
	old.rule = STG_RULE_CAP; /* what a 1.0 host could leave in a reserved word */
	cr_assert(strstr(explain(&old, buf, sizeof buf), "has not recorded why"));
	cr_assert_eq(stg_entry_explain(&e, NULL, 0, &len), STG_EOVERFLOW);
	cr_assert_gt(len, 10u);
	cr_assert_eq(stg_entry_explain(&e, buf, 8, NULL), STG_EOVERFLOW);
	cr_assert_eq(strlen(buf), 7u);
	cr_assert_eq(stg_entry_explain(NULL, buf, sizeof buf, NULL), STG_EINVAL);
	cr_assert_eq(stg_entry_explain(&e, NULL, 5, NULL), STG_EINVAL);
	e.version = 9;
	cr_assert_eq(stg_entry_explain(&e, buf, sizeof buf, NULL), STG_EVERSION);
}

Test(observe, a_1_0_entry_loads_and_learns_why_at_its_next_change)
{
	stg_entry e = STG_ENTRY_INIT;

	/* What a 1.0 host stored: a version-1 entry. */
	cr_assert_eq(stg_entry_init(&e, 1), STG_OK);
	e.integration = "amz";
	e.sku = "A";
	e.status = STG_ENTRY_SUCCESS;
	e.available = e.published = e.acked = 9;
	e.flags = STG_ENTRY_HAS_ACKED;
	H.with_storage = 1;
	h_store_put(&e);
	h_open();
	e = h_get("amz", "A");
	cr_assert_eq(e.version, STG_ENTRY_VERSION);
	cr_assert_eq(e.min_source, -1);
	cr_assert_eq(e.rule, -1);
	h_submit("amz", "A", 8, 1);
	cr_assert_eq(h_get("amz", "A").rule, STG_RULE_AVAILABLE);
	cr_assert_eq(h_get("amz", "A").min_source, STG_MIN_DEFAULT);
}
