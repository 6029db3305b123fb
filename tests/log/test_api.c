/*
 * The log's API edges (SPEC 4 and 5): hooks that call back into the log get
 * STG_ERECURSIVE and change nothing; bad arguments (NULL log or strings,
 * empty or over-long keys, unknown struct versions, out-of-range limits)
 * are refused with a message; pump without a transport is STG_ESTATE.
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

TestSuite(api, .init = setup, .fini = teardown);

/* ------------------------------------------------------------- re-entry */

static int armed;           /* which hook tries to call back */
static int rcs[64];
static size_t nrcs;
static uint64_t job_in_hand;

static void note(int rc)
{
	cr_assert_lt(nrcs, 64u);
	rcs[nrcs++] = rc;
}

/* Everything a confused host might call from inside a hook. */
static void call_back(int where)
{
	stg_submit s = STG_SUBMIT_INIT;
	stg_job_result r = STG_JOB_RESULT_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_query q = STG_QUERY_INIT;
	stg_entry e, page[2];
	stg_counts c;
	stg_stats st;
	stg_policy *p = NULL;
	uint64_t cursor = 0;
	size_t n;
	int64_t w;
	int paused;

	if (where != armed)
		return;
	armed = 0; /* once is enough */
	s.integration = "amz";
	s.sku = "INTRUDER";
	s.available = 1;
	note(stg_log_submit(H.log, &s, NULL));
	note(stg_log_submit_batch(H.log, &s, 1, NULL, NULL));
	note(stg_log_pump(H.log, 0, NULL));
	note(stg_log_complete(H.log, job_in_hand, &r));
	note(stg_log_next_due(H.log, &w));
	note(stg_log_pause(H.log, "amz"));
	note(stg_log_resume(H.log, "amz"));
	note(stg_log_is_paused(H.log, "amz", &paused));
	note(stg_log_set_catalogued(H.log, "amz", "A"));
	note(stg_log_get(H.log, "amz", "A", &e));
	note(stg_log_query(H.log, &q, &cursor, page, 2, &n));
	note(stg_log_counts(H.log, NULL, &c));
	note(stg_log_stats(H.log, NULL, &st));
	note(stg_log_reprocess(H.log, "amz", "A"));
	note(stg_log_reprocess_matching(H.log, NULL, &n));
	note(stg_log_remove(H.log, "amz", "A", STG_REMOVE_FORCE));
	note(stg_log_remove_matching(H.log, NULL, STG_REMOVE_FORCE, &n));
	note(stg_log_expire(H.log, &n));
	note(stg_log_flush(H.log, &n));
	t.send = NULL;
	note(stg_log_set_transport(H.log, &t));
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	note(stg_log_set_policy(H.log, "amz", p));
	stg_policy_free(p);
	note(stg_log_set_limits(H.log, "amz", 0, 0, 0));
}

static void expect_all_recursive(void)
{
	size_t i;

	cr_assert_eq(armed, 0, "the hook was never called");
	cr_assert_eq(nrcs, 22u);
	for (i = 0; i < nrcs; i++)
		cr_assert_eq(rcs[i], STG_ERECURSIVE, "call %zu from inside a hook: %s", i,
		             stg_strerror(rcs[i]));
}

static void reentry_setup(int where)
{
	armed = where;
	nrcs = 0;
	H.in_hook = call_back;
	H.with_storage = 1;
}

/* The log looks as if no hook had called back. */
static void expect_untouched(void)
{
	int paused = 1;

	H.in_hook = NULL;
	cr_assert_not(h_exists("amz", "INTRUDER"));
	cr_assert(h_exists("amz", "A"));
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 0);
	cr_assert_null(h_record_find("amz", "INTRUDER"));
}

Test(api, transport_send_calls_back)
{
	reentry_setup(H_IN_SEND);
	h_open();
	job_in_hand = h_submit("amz", "A", 3, 1).job_id;
	cr_assert_eq(h_pump(), 1u);
	expect_all_recursive();
	expect_untouched();
	/* The result the hook gave still counts. */
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_stats(NULL).changes, 1u);
	cr_assert_eq(h_stats(NULL).attempts, 1u);
}

Test(api, transport_send_batch_calls_back)
{
	reentry_setup(H_IN_BATCH);
	H.with_batch = 1;
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 4, 0, 0), STG_OK);
	job_in_hand = h_submit("amz", "A", 3, 1).job_id;
	h_submit("amz", "B", 3, 1);
	cr_assert_eq(h_pump(), 2u);
	expect_all_recursive();
	expect_untouched();
	cr_assert_eq(h_counts(NULL).success, 2u);
}

Test(api, storage_write_calls_back)
{
	reentry_setup(H_IN_WRITE);
	h_open();
	H.in_hook = NULL;
	h_submit("amz", "A", 3, 1);
	cr_assert_eq(h_pump(), 1u);
	H.in_hook = call_back;
	h_submit("amz", "A", 2, 2);
	expect_all_recursive();
	expect_untouched();
	cr_assert_eq(h_get("amz", "A").available, 2, "the outer submit went through");
	cr_assert_eq(h_store_get("amz", "A").available, 2);
}

Test(api, storage_remove_calls_back)
{
	reentry_setup(H_IN_REMOVE);
	h_open();
	H.in_hook = NULL;
	h_submit("amz", "A", 3, 1);
	h_submit("amz", "B", 3, 1);
	cr_assert_eq(h_pump(), 2u);
	H.in_hook = call_back;
	cr_assert_eq(stg_log_remove(H.log, "amz", "B", 0), STG_OK);
	expect_all_recursive();
	expect_untouched();
	cr_assert_not(h_exists("amz", "B"));
}

Test(api, clock_calls_back)
{
	stg_entry e;

	reentry_setup(H_IN_CLOCK);
	h_open();
	H.in_hook = NULL;
	h_submit("amz", "A", 3, 1);
	H.in_hook = call_back;
	cr_assert_eq(stg_log_get(H.log, "amz", "A", &e), STG_OK);
	expect_all_recursive();
	expect_untouched();
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_QUEUED);
}

Test(api, event_calls_back)
{
	stg_policy *p = NULL;

	reentry_setup(H_IN_EVENT);
	h_open();
	H.in_hook = NULL;
	h_submit("amz", "A", 3, 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 5), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);
	H.in_hook = call_back;
	h_submit("amz", "A", 4, 2); /* min_stock_reached event */
	expect_all_recursive();
	expect_untouched();
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 1u);
	cr_assert_eq(h_get("amz", "A").published, 0);
}

/* An event raised inside the pump (pause after a 401) calling back. */
Test(api, pause_event_calls_back)
{
	int paused = 0;

	reentry_setup(H_IN_EVENT);
	h_open();
	h_submit("amz", "A", 3, 1);
	h_push_http(401);
	cr_assert_eq(h_pump(), 1u);
	expect_all_recursive();
	H.in_hook = NULL;
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 1, "the resume from inside the event did nothing");
	cr_assert_not(h_exists("amz", "INTRUDER"));
}

/* ------------------------------------------------------------ arguments */

Test(api, null_log)
{
	stg_submit s = STG_SUBMIT_INIT;
	stg_job_result r = STG_JOB_RESULT_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_entry e, page[1];
	stg_counts c;
	stg_stats st;
	uint64_t cursor = 0;
	size_t n;
	int64_t w;
	int paused;

	stg_log_close(NULL);
	cr_assert_str_eq(stg_log_errmsg(NULL), "");
	cr_assert_eq(stg_log_open(NULL, NULL), STG_EINVAL);
	cr_assert_eq(stg_log_set_transport(NULL, &t), STG_EINVAL);
	cr_assert_eq(stg_log_set_policy(NULL, "a", NULL), STG_EINVAL);
	cr_assert_eq(stg_log_set_limits(NULL, "a", 1, 0, 0), STG_EINVAL);
	cr_assert_eq(stg_log_submit(NULL, &s, NULL), STG_EINVAL);
	cr_assert_eq(stg_log_submit_batch(NULL, &s, 1, NULL, &n), STG_EINVAL);
	cr_assert_eq(stg_log_pump(NULL, 0, &n), STG_EINVAL);
	cr_assert_eq(stg_log_complete(NULL, 1, &r), STG_EINVAL);
	cr_assert_eq(stg_log_next_due(NULL, &w), STG_EINVAL);
	cr_assert_eq(stg_log_pause(NULL, "a"), STG_EINVAL);
	cr_assert_eq(stg_log_resume(NULL, "a"), STG_EINVAL);
	cr_assert_eq(stg_log_is_paused(NULL, "a", &paused), STG_EINVAL);
	cr_assert_eq(stg_log_set_catalogued(NULL, "a", "b"), STG_EINVAL);
	cr_assert_eq(stg_log_get(NULL, "a", "b", &e), STG_EINVAL);
	cr_assert_eq(stg_log_query(NULL, NULL, &cursor, page, 1, &n), STG_EINVAL);
	cr_assert_eq(stg_log_counts(NULL, NULL, &c), STG_EINVAL);
	cr_assert_eq(stg_log_stats(NULL, NULL, &st), STG_EINVAL);
	cr_assert_eq(stg_log_reprocess(NULL, "a", "b"), STG_EINVAL);
	cr_assert_eq(stg_log_reprocess_matching(NULL, NULL, &n), STG_EINVAL);
	cr_assert_eq(stg_log_remove(NULL, "a", "b", 0), STG_EINVAL);
	cr_assert_eq(stg_log_remove_matching(NULL, NULL, 0, &n), STG_EINVAL);
	cr_assert_eq(stg_log_expire(NULL, &n), STG_EINVAL);
	cr_assert_eq(stg_log_flush(NULL, &n), STG_EINVAL);
	cr_assert_eq(stg_last_error_code(), STG_EINVAL);
	cr_assert_neq(stg_last_error()[0], '\0');
}

/* Every call that takes (integration, sku) refuses NULL, empty, over-long. */
Test(api, bad_keys)
{
	static char longkey[STG_KEY_MAX + 2], maxkey[STG_KEY_MAX + 1];
	const char *bad[3];
	stg_entry e;
	int paused, i;

	memset(longkey, 'k', STG_KEY_MAX + 1);
	memset(maxkey, 'k', STG_KEY_MAX);
	bad[0] = NULL;
	bad[1] = "";
	bad[2] = longkey;
	h_open();
	h_submit("amz", "A", 3, 1);
	for (i = 0; i < 3; i++) {
		const char *k = bad[i];
		stg_policy *p = NULL;
		cr_assert_eq(h_submit_rc(k, "A", 1, 2, 0, 0, NULL, NULL), STG_EINVAL, "key %d", i);
		cr_assert_eq(h_submit_rc("amz", k, 1, 2, 0, 0, NULL, NULL), STG_EINVAL, "key %d", i);
		cr_assert_eq(stg_log_get(H.log, k, "A", &e), STG_EINVAL);
		cr_assert_eq(stg_log_get(H.log, "amz", k, &e), STG_EINVAL);
		cr_assert_eq(stg_log_reprocess(H.log, k, "A"), STG_EINVAL);
		cr_assert_eq(stg_log_reprocess(H.log, "amz", k), STG_EINVAL);
		cr_assert_eq(stg_log_remove(H.log, k, "A", 0), STG_EINVAL);
		cr_assert_eq(stg_log_remove(H.log, "amz", k, 0), STG_EINVAL);
		cr_assert_eq(stg_log_set_catalogued(H.log, k, "A"), STG_EINVAL);
		cr_assert_eq(stg_log_set_catalogued(H.log, "amz", k), STG_EINVAL);
		cr_assert_eq(stg_log_pause(H.log, k), STG_EINVAL);
		cr_assert_eq(stg_log_resume(H.log, k), STG_EINVAL);
		cr_assert_eq(stg_log_is_paused(H.log, k, &paused), STG_EINVAL);
		cr_assert_eq(stg_log_set_limits(H.log, k, 1, 0, 0), STG_EINVAL);
		cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
		cr_assert_eq(stg_log_set_policy(H.log, k, p), STG_EINVAL);
		stg_policy_free(p);
		if (k) {
			stg_counts c;
			stg_stats s;
			cr_assert_eq(stg_log_counts(H.log, k, &c), STG_EINVAL);
			cr_assert_eq(stg_log_stats(H.log, k, &s), STG_EINVAL);
		}
	}
	cr_assert_neq(stg_log_errmsg(H.log)[0], '\0');
	/* The log is still fine, and keys of exactly STG_KEY_MAX bytes work. */
	cr_assert_eq(h_counts(NULL).pending, 1u);
	cr_assert_eq(h_submit_rc(maxkey, maxkey, 3, 1, 0, 0, NULL, NULL), STG_OK);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_get(maxkey, maxkey).status, STG_ENTRY_SUCCESS);
}

/* Strings given to the log are copied. */
Test(api, strings_are_copied)
{
	char integ[8], sku[8];

	h_open();
	strcpy(integ, "amz");
	strcpy(sku, "A");
	cr_assert_eq(h_submit_rc(integ, sku, 3, 1, 0, 0, NULL, NULL), STG_OK);
	memset(integ, 'x', sizeof integ - 1);
	memset(sku, 'y', sizeof sku - 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->integration, "amz");
	cr_assert_str_eq(h_last()->sku, "A");
	cr_assert(h_exists("amz", "A"));
}

Test(api, open_versions_and_half_set_hooks)
{
	stg_log *log = NULL;
	stg_log_options o;
	stg_storage s = STG_STORAGE_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_clock c = STG_CLOCK_INIT;
	stg_events ev = STG_EVENTS_INIT;
	stg_allocator a = STG_ALLOCATOR_INIT;

#define OPEN_FAILS(expect)                                                             \
	do {                                                                           \
		int rc_ = stg_log_open(&log, &o);                                      \
		cr_assert_eq(rc_, expect, "open: %s", stg_strerror(rc_));               \
		cr_assert_null(log);                                                   \
		cr_assert_eq(stg_last_error_code(), expect);                           \
	} while (0)

	cr_assert_eq(stg_log_options_init(&o, STG_LOG_OPTIONS_VERSION), STG_OK);
	o.version = 2;
	OPEN_FAILS(STG_EVERSION);
	o.version = 0;
	OPEN_FAILS(STG_EVERSION);

	cr_assert_eq(stg_log_options_init(&o, STG_LOG_OPTIONS_VERSION), STG_OK);
	s.version = 9;
	o.storage = &s;
	OPEN_FAILS(STG_EVERSION);
	s.version = STG_STORAGE_VERSION;
	OPEN_FAILS(STG_EINVAL);                      /* no write, no remove */
	o.storage = NULL;

	t.version = 9;
	o.transport = &t;
	OPEN_FAILS(STG_EVERSION);
	t.version = STG_TRANSPORT_VERSION;
	OPEN_FAILS(STG_EINVAL);                      /* no send */
	o.transport = NULL;

	c.version = 9;
	o.clock = &c;
	OPEN_FAILS(STG_EVERSION);
	o.clock = NULL;
	ev.version = 9;
	o.events = &ev;
	OPEN_FAILS(STG_EVERSION);
	o.events = NULL;
	a.version = 9;
	o.allocator = &a;
	OPEN_FAILS(STG_EVERSION);
	a.version = STG_ALLOCATOR_VERSION;
	a.malloc_fn = NULL;
	a.free_fn = NULL;
	a.realloc_fn = NULL;
	cr_assert_eq(stg_log_open(&log, &o), STG_OK, "all three NULL: libc");
	stg_log_close(log);
	log = NULL;
	o.allocator = NULL;

	o.latency_limit_ms = -1;
	OPEN_FAILS(STG_EINVAL);
	o.latency_limit_ms = 0;
	o.backoff_base_ms = -1;
	OPEN_FAILS(STG_EINVAL);
	o.backoff_base_ms = 0;
	o.catalogue_retry_ms = -5;
	OPEN_FAILS(STG_EINVAL);
	o.catalogue_retry_ms = 0;
	o.success_max_age_ms = -5;
	OPEN_FAILS(STG_EINVAL);
	o.success_max_age_ms = 0;
#undef OPEN_FAILS

	/* NULL options: all defaults, a working log without any hook. */
	cr_assert_eq(stg_log_open(&log, NULL), STG_OK);
	cr_assert_str_eq(stg_log_errmsg(log), "");
	stg_log_close(log);
}

Test(api, pump_without_transport)
{
	stg_transport t;
	size_t sent = 5;

	H.with_transport = 0;
	h_open();
	h_submit("amz", "A", 3, 1);
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_ESTATE);
	cr_assert_eq(sent, 0u);
	cr_assert_neq(stg_log_errmsg(H.log)[0], '\0');
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_QUEUED);

	cr_assert_eq(stg_log_set_transport(H.log, NULL), STG_EINVAL);
	cr_assert_eq(stg_transport_init(&t, STG_TRANSPORT_VERSION), STG_OK);
	cr_assert_eq(stg_log_set_transport(H.log, &t), STG_EINVAL, "send is required");
	t = H.transport_hook;
	t.version = 2;
	cr_assert_eq(stg_log_set_transport(H.log, &t), STG_EVERSION);
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_ESTATE);
	t.version = STG_TRANSPORT_VERSION;
	cr_assert_eq(stg_log_set_transport(H.log, &t), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
}

Test(api, submit_arguments)
{
	stg_submit s;
	stg_submit_result r;

	h_open();
	cr_assert_eq(stg_log_submit(H.log, NULL, &r), STG_EINVAL);
	cr_assert_eq(stg_submit_init(&s, STG_SUBMIT_VERSION), STG_OK);
	s.integration = "amz";
	s.sku = "A";
	s.version = 2;
	cr_assert_eq(stg_log_submit(H.log, &s, &r), STG_EVERSION);
	s.version = STG_SUBMIT_VERSION;
	s.flags = 0x4;
	cr_assert_eq(stg_log_submit(H.log, &s, &r), STG_EINVAL);
	s.flags = STG_CHANGE_HAS_FROM; /* a filter flag, not a submit flag */
	cr_assert_eq(stg_log_submit(H.log, &s, &r), STG_EINVAL);
	s.flags = 0;
	s.changed_at = -1;
	cr_assert_eq(stg_log_submit(H.log, &s, &r), STG_EINVAL);
	s.changed_at = 0;
	cr_assert_eq(stg_log_submit_batch(H.log, NULL, 2, NULL, NULL), STG_EINVAL);
	cr_assert_not(h_exists("amz", "A"), "refused changes leave no entry");
	cr_assert_eq(h_stats(NULL).changes, 0u);
	/* Output may be NULL. */
	cr_assert_eq(stg_log_submit(H.log, &s, NULL), STG_OK);
	cr_assert(h_exists("amz", "A"));
}

Test(api, limits_ranges)
{
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 0, 0, 0), STG_ERANGE);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 10001, 0, 0), STG_ERANGE);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 10000, 0, 0), STG_OK);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 0), STG_ERANGE);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 0, 1000), STG_ERANGE);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, -1), STG_ERANGE);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 86400001), STG_ERANGE);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 86400000), STG_OK);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, UINT32_MAX, 86400000), STG_OK);
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 0, 0), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", NULL), STG_EINVAL);
}

/* A huge rate (max_jobs * per_ms near the int64 range) still works. */
Test(api, extreme_rate_limit)
{
	char sku[8];
	int i;

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, UINT32_MAX, 86400000), STG_OK);
	for (i = 0; i < 5; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		h_submit("amz", sku, 3, 1);
	}
	cr_assert_eq(h_pump(), 5u);
	h_advance(86400000);
	h_submit("amz", "S0", 0, 2);
	cr_assert_eq(h_pump(), 1u);
}

Test(api, complete_arguments)
{
	stg_job_result r;
	uint64_t id;

	h_open();
	id = h_submit("amz", "A", 3, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(stg_log_complete(H.log, id, NULL), STG_EINVAL);
	cr_assert_eq(stg_job_result_init(&r, STG_JOB_RESULT_VERSION), STG_OK);
	r.version = 3;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_EVERSION);
	r.version = STG_JOB_RESULT_VERSION;
	r.outcome = STG_OUTCOME_ASYNC;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_EINVAL);
	r.outcome = 9;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_EINVAL);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_IN_FLIGHT, "refused completions change nothing");
	r.outcome = STG_OUTCOME_OK;
	cr_assert_eq(stg_log_complete(H.log, id + 1, &r), STG_ENOTFOUND);
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_OK);
}

Test(api, read_arguments)
{
	stg_query q;
	stg_entry page[2];
	uint64_t cursor = 0;
	size_t n;
	int64_t w;

	h_open();
	h_submit("amz", "A", 3, 1);
	cr_assert_eq(stg_log_next_due(H.log, NULL), STG_EINVAL);
	cr_assert_eq(stg_log_next_due(H.log, &w), STG_OK);
	cr_assert_eq(stg_log_get(H.log, "amz", "A", NULL), STG_EINVAL);
	cr_assert_eq(stg_log_is_paused(H.log, "amz", NULL), STG_EINVAL);
	cr_assert_eq(stg_log_counts(H.log, NULL, NULL), STG_EINVAL);
	cr_assert_eq(stg_log_stats(H.log, NULL, NULL), STG_EINVAL);
	cr_assert_eq(stg_log_query(H.log, NULL, NULL, page, 2, &n), STG_EINVAL);
	cr_assert_eq(stg_log_query(H.log, NULL, &cursor, page, 2, NULL), STG_EINVAL);
	cr_assert_eq(stg_log_query(H.log, NULL, &cursor, NULL, 2, &n), STG_EINVAL);
	cr_assert_eq(stg_query_init(&q, STG_QUERY_VERSION), STG_OK);
	q.version = 7;
	cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 2, &n), STG_EVERSION);
	cr_assert_eq(stg_log_reprocess_matching(H.log, &q, &n), STG_EVERSION);
	cr_assert_eq(stg_log_remove_matching(H.log, &q, 0, &n), STG_EVERSION);
	q.version = STG_QUERY_VERSION;
	q.status = 3;
	cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 2, &n), STG_EINVAL);
	q.status = -2;
	cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 2, &n), STG_EINVAL);
	q.status = -1;
	q.error_class = STG_ERRCLASS_COUNT;
	cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 2, &n), STG_EINVAL);
	q.error_class = -1;
	q.flags = 0x100;
	cr_assert_eq(stg_log_reprocess_matching(H.log, &q, &n), STG_EINVAL);
	q.flags = 0;
	q.integration = "";
	cr_assert_eq(stg_log_remove_matching(H.log, &q, STG_REMOVE_FORCE, &n), STG_EINVAL);
	cr_assert(h_exists("amz", "A"));
	q.integration = NULL;
	cr_assert_eq(stg_log_query(H.log, &q, &cursor, page, 2, &n), STG_OK);
	cr_assert_eq(n, 1u);
}

Test(api, init_functions)
{
	stg_log_options o;
	stg_submit s;
	stg_query q;
	stg_job_result r;
	stg_storage st;
	stg_transport t;
	stg_clock c;
	stg_events e;

	cr_assert_eq(stg_log_options_init(NULL, STG_LOG_OPTIONS_VERSION), STG_EINVAL);
	cr_assert_eq(stg_log_options_init(&o, STG_LOG_OPTIONS_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_submit_init(NULL, STG_SUBMIT_VERSION), STG_EINVAL);
	cr_assert_eq(stg_submit_init(&s, STG_SUBMIT_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_query_init(NULL, STG_QUERY_VERSION), STG_EINVAL);
	cr_assert_eq(stg_query_init(&q, STG_QUERY_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_query_init(&q, STG_QUERY_VERSION), STG_OK);
	cr_assert_eq(q.status, -1);
	cr_assert_eq(q.error_class, -1);
	cr_assert_eq(stg_job_result_init(NULL, STG_JOB_RESULT_VERSION), STG_EINVAL);
	cr_assert_eq(stg_job_result_init(&r, STG_JOB_RESULT_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_storage_init(&st, STG_STORAGE_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_transport_init(&t, STG_TRANSPORT_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_clock_init(&c, STG_CLOCK_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_events_init(&e, STG_EVENTS_VERSION + 1), STG_EVERSION);
}

/*
 * stg_log_close() from inside a hook: "a call into the log from inside one
 * of its hooks ... does nothing" (log.h, thread model). A close there would
 * free the log under the pump's feet. The allocator below never really
 * frees, so the test observes the frees instead of crashing on them.
 */
static size_t frees_seen;
static void *quarantine[1 << 14];

static void *q_malloc(size_t n, void *p) { (void)p; return malloc(n); }
static void *q_realloc(void *ptr, size_t n, void *p) { (void)p; return realloc(ptr, n); }
static void q_free(void *ptr, void *p)
{
	(void)p;
	if (!ptr)
		return;
	cr_assert_lt(frees_seen, sizeof quarantine / sizeof quarantine[0]);
	quarantine[frees_seen++] = ptr; /* returned to libc only at the end */
}

/* Frees made by the close inside the hook (the pump itself may give memory
 * back when it is done, after the hook). */
static size_t frees_in_hook;

static void close_from_hook(int where)
{
	size_t before;

	if (where != armed)
		return;
	armed = 0;
	before = frees_seen;
	stg_log_close(H.log);
	frees_in_hook = frees_seen - before;
}

Test(api, close_from_inside_a_hook_does_nothing)
{
	stg_allocator a;

	cr_assert_eq(stg_allocator_init(&a, STG_ALLOCATOR_VERSION), STG_OK);
	a.malloc_fn = q_malloc;
	a.realloc_fn = q_realloc;
	a.free_fn = q_free;
	H.opts.allocator = &a;
	h_open();
	h_submit("amz", "A", 3, 1);
	armed = H_IN_SEND;
	H.in_hook = close_from_hook;
	frees_in_hook = 0;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(armed, 0, "the hook ran");
	cr_assert_eq(frees_in_hook, 0u, "stg_log_close() inside the transport hook freed %zu blocks "
	             "of the log while the pump was still using it", frees_in_hook);
	H.in_hook = NULL;
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	h_close();
	while (frees_seen)
		free(quarantine[--frees_seen]);
}

/* A category, when given, is a key like the others. */
Test(api, category_must_be_a_key)
{
	static char longkey[STG_KEY_MAX + 2];

	memset(longkey, 'c', STG_KEY_MAX + 1);
	h_open();
	cr_assert_eq(h_submit_rc("amz", "A", 3, 1, 0, 0, "", NULL), STG_EINVAL);
	cr_assert_eq(h_submit_rc("amz", "A", 3, 1, 0, 0, longkey, NULL), STG_EINVAL);
	cr_assert_not(h_exists("amz", "A"));
	cr_assert_eq(h_submit_rc("amz", "A", 3, 1, 0, 0, "shoes", NULL), STG_OK);
}

/* A clock before the epoch reads as 0 (hooks.h). */
Test(api, negative_clock_reads_as_zero)
{
	H.clock.now = -5000;
	h_open();
	h_submit("amz", "A", 3, 1);
	cr_assert_eq(h_get("amz", "A").changed_at, 0);
	cr_assert_eq(h_get("amz", "A").job_since, 0);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").acked_at, 0);
	cr_assert_eq(h_get("amz", "A").latency_ms, 0);
}

/*
 * The integration limit is a limit, not a shortage of memory: the 65,536th
 * integration is refused with STG_ELIMIT and a message naming it, the log's
 * message says so too, and the integrations it has keep working.
 */
Test(api, integration_limit_is_elimit, .timeout = 120)
{
	stg_log *log;
	char name[32];
	unsigned i;

	cr_assert_eq(stg_log_open(&log, NULL), STG_OK);
	for (i = 0; i < 65535u; i++) {
		/* Names of many lengths: the registry's scan compares lengths first. */
		snprintf(name, sizeof name, "%0*u", (int)(1 + i % 24), i);
		cr_assert_eq(stg_log_set_limits(log, name, 1, 0, 0), STG_OK, "integration %u: %s", i,
		             stg_log_errmsg(log));
	}
	cr_expect_eq(stg_log_set_limits(log, "one-more", 1, 0, 0), STG_ELIMIT);
	cr_expect_str_eq(stg_log_errmsg(log), "stg_log_set_limits: a log holds at most 65535 "
	                                      "integrations; 'one-more' would be one more");
	cr_expect_str_eq(stg_last_error(), stg_log_errmsg(log));
	cr_expect_eq(stg_last_error_code(), STG_ELIMIT);
	cr_expect_str_eq(stg_strerror(STG_ELIMIT), "limit of the library reached");
	cr_expect_eq(stg_log_pause(log, "one-more"), STG_ELIMIT);
	cr_expect_eq(stg_log_set_limits(log, "0", 2, 0, 0), STG_OK, "a known one still works");
	stg_log_close(log);
}
