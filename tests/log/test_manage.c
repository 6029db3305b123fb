/*
 * The merchant's actions (SPEC 3, "reprocess", "remove log", "query",
 * retention): on single entries and on everything matching a stg_query,
 * paging with a cursor, and stg_log_expire by age and by count.
 */
#include <criterion/criterion.h>

#include "harness.h"

static void setup(void)
{
	h_reset();
	H.with_storage = 1;
}

static void teardown(void)
{
	h_close();
}

TestSuite(manage, .init = setup, .fini = teardown);

static stg_job_result ok_result(void)
{
	stg_job_result r;

	cr_assert_eq(stg_job_result_init(&r, STG_JOB_RESULT_VERSION), STG_OK);
	return r;
}

/* ---------------------------------------------------------- single remove */

Test(manage, remove_success_and_error_entries)
{
	stg_submit_result r;

	h_open();
	h_submit("amz", "OK", 10, 1);
	h_submit("amz", "BAD", 10, 1);
	h_push_ok();
	h_push_http(400);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_get("amz", "BAD").status, STG_ENTRY_ERROR);
	cr_assert_eq(h_records_live(), 2u);

	cr_assert_eq(stg_log_remove(H.log, "amz", "OK", 0), STG_OK);
	cr_assert_not(h_exists("amz", "OK"));
	cr_assert_eq(stg_log_remove(H.log, "amz", "BAD", 0), STG_OK);
	cr_assert_not(h_exists("amz", "BAD"));
	cr_assert_eq(h_records_live(), 0u, "removed from storage too");
	cr_assert_eq(stg_log_remove(H.log, "amz", "OK", 0), STG_ENOTFOUND);
	cr_assert_eq(stg_log_remove(H.log, "nope", "OK", 0), STG_ENOTFOUND);
	cr_assert_eq(stg_log_remove(H.log, "amz", "OK", 0x80), STG_EINVAL);

	/* The SKU's next change is first seen, whatever its sequence. */
	r = h_submit("amz", "OK", 10, 0);
	cr_assert_eq(r.decision, STG_DECISION_EXPORT);
	cr_assert_eq(r.reason, STG_REASON_FIRST_SEEN);
}

Test(manage, remove_pending_refused_unless_forced)
{
	stg_entry before, after;

	h_open();
	h_submit("amz", "Q", 10, 1);
	h_submit("amz", "H", 10, 1);
	h_submit("amz", "Q2", 10, 1);
	h_submit("meli", "R", 10, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404); /* Q  -> held */
	h_push_http(503);                               /* H  -> retrying */
	h_push_http(401);                               /* Q2 -> paused */
	h_push_ok();                                    /* R */
	cr_assert_eq(h_pump(), 4u);
	cr_assert_eq(h_get("amz", "Q").job_state, STG_JOB_HELD);
	cr_assert_eq(h_get("amz", "H").job_state, STG_JOB_QUEUED);
	cr_assert_eq(h_get("amz", "Q2").error_class, STG_ERRCLASS_AUTH);
	h_submit("meli", "NEW", 10, 1);              /* queued, never sent */

	{
		static const char *const pend[][2] = {
			{ "amz", "Q" }, { "amz", "H" }, { "amz", "Q2" }, { "meli", "NEW" }
		};
		size_t i;
		for (i = 0; i < 4; i++) {
			before = h_get(pend[i][0], pend[i][1]);
			cr_assert_eq(stg_log_remove(H.log, pend[i][0], pend[i][1], 0), STG_EBUSY,
			             "%s/%s", pend[i][0], pend[i][1]);
			after = h_get(pend[i][0], pend[i][1]);
			h_assert_entry_eq(&before, &after, "after a refused remove");
			cr_assert_not_null(h_record_find(pend[i][0], pend[i][1]));
		}
		for (i = 0; i < 4; i++) {
			cr_assert_eq(stg_log_remove(H.log, pend[i][0], pend[i][1], STG_REMOVE_FORCE),
			             STG_OK);
			cr_assert_not(h_exists(pend[i][0], pend[i][1]));
			cr_assert_null(h_record_find(pend[i][0], pend[i][1]));
		}
	}
	/* Their jobs are gone: nothing goes out, now or later. */
	fx_transport_forget_sent(&H.tr);
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	h_advance(7 * 24 * 3600000LL);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(h_counts(NULL).pending, 0u);
}

Test(manage, in_flight_remove_reprocess_complete)
{
	stg_job_result ok = ok_result();
	uint64_t id;

	h_open();
	id = h_submit("amz", "A", 10, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_IN_FLIGHT);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_EBUSY);
	cr_assert_eq(stg_log_remove(H.log, "amz", "A", 0), STG_EBUSY);
	cr_assert_eq(stg_log_remove(H.log, "amz", "A", STG_REMOVE_FORCE), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, id, &ok), STG_ENOTFOUND);
	cr_assert_not(h_exists("amz", "A"));

	/* The SKU comes back (its slot may be reused): the old id still fails. */
	id = h_submit("amz", "B", 1, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(stg_log_remove(H.log, "amz", "B", STG_REMOVE_FORCE), STG_OK);
	h_submit("amz", "B", 1, 1);
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	cr_assert_neq(h_last()->id, id);
	cr_assert_eq(stg_log_complete(H.log, id, &ok), STG_ENOTFOUND);
	cr_assert_eq(h_get("amz", "B").job_state, STG_JOB_IN_FLIGHT);
	cr_assert_eq(stg_log_complete(H.log, h_last()->id, &ok), STG_OK);
	cr_assert_eq(h_get("amz", "B").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(stg_log_complete(H.log, 0, &ok), STG_ENOTFOUND);
	cr_assert_eq(stg_log_complete(H.log, UINT64_MAX, &ok), STG_ENOTFOUND);
}

/* ------------------------------------------------------- single reprocess */

Test(manage, reprocess_success_entry_queues_new_job)
{
	stg_entry e;
	uint64_t first;

	h_open();
	first = h_submit("amz", "A", 30, 1).job_id;
	cr_assert_eq(h_pump(), 1u);
	h_advance(5000);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_neq(e.job_id, first);
	cr_assert_eq(e.job_since, e.changed_at, "latency counts from the stock change");
	cr_assert_eq(e.next_attempt_at, H.clock.now);
	cr_assert_eq(e.acked, 30, "what was acknowledged stays known");
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(H.tr.nsent, 2u);
	cr_assert_eq(h_last()->published, 30);
	cr_assert_eq(h_last()->id, e.job_id);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "A").latency_ms, 5000, "5 s after the stock change");
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "zz"), STG_ENOTFOUND);
	cr_assert_eq(stg_log_reprocess(H.log, "zz", "A"), STG_ENOTFOUND);
}

Test(manage, reprocess_waiting_job_is_due_now)
{
	h_open();
	h_submit("amz", "R", 3, 1);
	h_submit("amz", "H", 3, 1);
	/* A transient retry waits for its own backoff (a 429 would cool the
	 * whole integration down instead: test_cooldown.c). */
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 503, 600000, NULL);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "R"), STG_OK);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "H"), STG_OK);
	cr_assert_eq(h_get("amz", "H").job_state, STG_JOB_QUEUED, "the hold is lifted");
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_get("amz", "R").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "H").status, STG_ENTRY_SUCCESS);
}

/* A reprocess keeps the category's minimum of the change (no oversell). */
Test(manage, reprocess_keeps_category_minimum)
{
	stg_policy *p = NULL;

	h_open();
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "shoes", 10), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);
	cr_assert_eq(h_submit_rc("amz", "A", 8, 1, 0, 0, "shoes", NULL), STG_OK);
	h_push_http(400);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 0);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 0, "reprocess published %lld: the category minimum was lost",
	             (long long)h_last()->published);
	cr_assert_eq(h_last()->priority, STG_PRIORITY_URGENT);
}

/*
 * A reprocess sends the newest change (log.h: "the quantity of the newest
 * change ... is sent again"), also when that change was skipped by the
 * filter. Otherwise a merchant's reprocess re-publishes a quantity the
 * store no longer has.
 */
Test(manage, reprocess_sends_newest_change_of_success_entry)
{
	h_open();
	h_submit("amz", "A", 20, 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_submit("amz", "A", 15, 2).decision, STG_DECISION_SKIP);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->available, 15);
	cr_assert_eq(h_last()->published, 15,
	             "reprocess published %lld but the newest change is 15 (oversell)",
	             (long long)h_last()->published);
}

Test(manage, reprocess_sends_newest_change_of_error_entry)
{
	h_open();
	h_submit("amz", "A", 100, 1);
	cr_assert_eq(h_pump(), 1u);                               /* acked 100 */
	cr_assert_eq(h_submit_rc("amz", "A", 90, 2, STG_CHANGE_NON_STOCK, 0, NULL, NULL), STG_OK);
	h_push_http(422);
	cr_assert_eq(h_pump(), 1u);                               /* 90 rejected */
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_ERROR);
	/* 70, against the acknowledged 100: outside the window, skipped. */
	cr_assert_eq(h_submit("amz", "A", 70, 3).decision, STG_DECISION_SKIP);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_last()->published, 70,
	             "reprocess published %lld but the stock is 70 (oversell)",
	             (long long)h_last()->published);
}

/* ------------------------------------------------------ matching a query */

/*
 * amz/A-ok success, amz/A-rej error (rejected), amz/A-5xx error (transient),
 * amz/B-slow success (abnormal), amz/B-held held, amz/B-fly in flight,
 * meli/A-rej error (rejected), meli/A-ok success.
 */
static void scenario(void)
{
	H.opts.latency_limit_ms = 1000;
	H.opts.max_transient_attempts = 1;
	h_open();
	h_submit("amz", "A-ok", 10, 1);
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "A-rej", 10, 1);
	h_push_http(400);
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "A-5xx", 10, 1);
	h_push_http(503);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_submit_rc("amz", "B-slow", 10, 1, 0, H.clock.now - 2000, NULL, NULL), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "B-held", 10, 1);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "B-fly", 10, 1);
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_submit("meli", "A-rej", 10, 1);
	h_push_http(422);
	cr_assert_eq(h_pump(), 1u);
	h_submit("meli", "A-ok", 10, 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A-5xx").status, STG_ENTRY_ERROR);
	cr_assert(h_get("amz", "B-slow").flags & STG_ENTRY_ABNORMAL);
	cr_assert_eq(h_get("amz", "B-fly").job_state, STG_JOB_IN_FLIGHT);
	fx_transport_forget_sent(&H.tr);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "integ/sku" of every entry matching q, sorted, comma-joined. */
static const char *listing(const stg_query *q)
{
	static char out[4096];
	char keys[64][H_NAME * 2 + 2], *ptrs[64];
	stg_entry page[3];
	uint64_t cursor = 0;
	size_t n = 0, count, i;

	for (;;) {
		cr_assert_eq(stg_log_query(H.log, q, &cursor, page, 3, &count), STG_OK);
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			cr_assert_lt(n, 64u);
			snprintf(keys[n], sizeof keys[n], "%s/%s", page[i].integration, page[i].sku);
			ptrs[n] = keys[n];
			n++;
		}
	}
	qsort(ptrs, n, sizeof *ptrs, cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, ptrs[i]);
	}
	return out;
}

static stg_query query(const char *integ, const char *prefix, int status, int cls, unsigned flags)
{
	stg_query q;

	cr_assert_eq(stg_query_init(&q, STG_QUERY_VERSION), STG_OK);
	q.integration = integ;
	q.sku_prefix = prefix;
	q.status = status;
	q.error_class = cls;
	q.flags = flags;
	return q;
}

Test(manage, query_filters)
{
	stg_query q;

	scenario();
	cr_assert_str_eq(listing(NULL), "amz/A-5xx,amz/A-ok,amz/A-rej,amz/B-fly,amz/B-held,"
	                                "amz/B-slow,meli/A-ok,meli/A-rej");
	q = query("meli", NULL, -1, -1, 0);
	cr_assert_str_eq(listing(&q), "meli/A-ok,meli/A-rej");
	q = query(NULL, NULL, STG_ENTRY_ERROR, -1, 0);
	cr_assert_str_eq(listing(&q), "amz/A-5xx,amz/A-rej,meli/A-rej");
	q = query(NULL, NULL, STG_ENTRY_PENDING, -1, 0);
	cr_assert_str_eq(listing(&q), "amz/B-fly,amz/B-held");
	q = query(NULL, NULL, STG_ENTRY_SUCCESS, -1, 0);
	cr_assert_str_eq(listing(&q), "amz/A-ok,amz/B-slow,meli/A-ok");
	q = query(NULL, NULL, -1, STG_ERRCLASS_REJECTED, 0);
	cr_assert_str_eq(listing(&q), "amz/A-rej,meli/A-rej");
	q = query(NULL, NULL, -1, STG_ERRCLASS_NOT_CATALOGUED, 0);
	cr_assert_str_eq(listing(&q), "amz/B-held");
	q = query(NULL, "A-", -1, -1, 0);
	cr_assert_str_eq(listing(&q), "amz/A-5xx,amz/A-ok,amz/A-rej,meli/A-ok,meli/A-rej");
	q = query("amz", "B-", STG_ENTRY_SUCCESS, -1, 0);
	cr_assert_str_eq(listing(&q), "amz/B-slow");
	q = query(NULL, NULL, -1, -1, STG_QUERY_ABNORMAL);
	cr_assert_str_eq(listing(&q), "amz/B-slow");
	q = query(NULL, "", -1, -1, 0);
	cr_assert_eq(strlen(listing(&q)), strlen(listing(NULL)), "an empty prefix matches all");
	q = query(NULL, "A-okay", -1, -1, 0);
	cr_assert_str_eq(listing(&q), "");
	q = query("nobody", NULL, -1, -1, 0);
	cr_assert_str_eq(listing(&q), "");
}

Test(manage, reprocess_matching_by_integration_and_status)
{
	stg_query q = query("amz", NULL, STG_ENTRY_ERROR, -1, 0);
	size_t n = 99;

	scenario();
	cr_assert_eq(stg_log_reprocess_matching(H.log, &q, &n), STG_OK);
	cr_assert_eq(n, 2u);
	cr_assert_eq(h_get("amz", "A-rej").status, STG_ENTRY_PENDING);
	cr_assert_eq(h_get("amz", "A-5xx").status, STG_ENTRY_PENDING);
	cr_assert_eq(h_get("meli", "A-rej").status, STG_ENTRY_ERROR);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_sent_count("amz", "A-rej"), 1u);
	cr_assert_eq(h_sent_count("amz", "A-5xx"), 1u);
	cr_assert_str_eq(listing(&q), "");
}

Test(manage, reprocess_matching_by_error_class_prefix_abnormal)
{
	stg_query q;
	size_t n = 99;

	scenario();
	q = query(NULL, NULL, -1, STG_ERRCLASS_REJECTED, 0);
	cr_assert_eq(stg_log_reprocess_matching(H.log, &q, &n), STG_OK);
	cr_assert_eq(n, 2u);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_sent_count("amz", "A-rej") + h_sent_count("meli", "A-rej"), 2u);

	fx_transport_forget_sent(&H.tr);
	q = query("amz", "A-", -1, -1, 0);
	cr_assert_eq(stg_log_reprocess_matching(H.log, &q, &n), STG_OK);
	cr_assert_eq(n, 3u);
	cr_assert_eq(h_pump(), 3u);

	fx_transport_forget_sent(&H.tr);
	q = query(NULL, NULL, -1, -1, STG_QUERY_ABNORMAL);
	cr_assert_eq(stg_log_reprocess_matching(H.log, &q, &n), STG_OK);
	cr_assert_eq(n, 1u);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->sku, "B-slow");
}

/* Everything: the in-flight entry is skipped, the held one released. */
Test(manage, reprocess_matching_all_skips_in_flight)
{
	size_t n = 99;

	scenario();
	cr_assert_eq(stg_log_reprocess_matching(H.log, NULL, &n), STG_OK);
	cr_assert_eq(n, 7u);
	cr_assert_eq(h_get("amz", "B-fly").job_state, STG_JOB_IN_FLIGHT);
	cr_assert_eq(h_pump(), 7u);
	cr_assert_eq(h_sent_count("amz", "B-fly"), 0u);
	cr_assert_eq(h_counts(NULL).success, 7u);
}

Test(manage, remove_matching)
{
	stg_query q;
	size_t n = 99;

	scenario();
	q = query(NULL, NULL, STG_ENTRY_ERROR, -1, 0);
	cr_assert_eq(stg_log_remove_matching(H.log, &q, 0, &n), STG_OK);
	cr_assert_eq(n, 3u);
	cr_assert_str_eq(listing(NULL), "amz/A-ok,amz/B-fly,amz/B-held,amz/B-slow,meli/A-ok");
	cr_assert_eq(h_records_live(), 5u);

	/* Pending entries are left alone without force. */
	q = query("amz", "B-", -1, -1, 0);
	cr_assert_eq(stg_log_remove_matching(H.log, &q, 0, &n), STG_OK);
	cr_assert_eq(n, 1u);
	cr_assert_str_eq(listing(NULL), "amz/A-ok,amz/B-fly,amz/B-held,meli/A-ok");
	cr_assert_eq(stg_log_remove_matching(H.log, &q, STG_REMOVE_FORCE, &n), STG_OK);
	cr_assert_eq(n, 2u);
	cr_assert_str_eq(listing(NULL), "amz/A-ok,meli/A-ok");
	cr_assert_eq(h_records_live(), 2u);

	cr_assert_eq(stg_log_remove_matching(H.log, NULL, 0, &n), STG_OK);
	cr_assert_eq(n, 2u);
	cr_assert_str_eq(listing(NULL), "");
	cr_assert_eq(h_records_live(), 0u);
	cr_assert_eq(stg_log_remove_matching(H.log, NULL, 0x10, &n), STG_EINVAL);
}

Test(manage, remove_matching_by_class_and_abnormal)
{
	stg_query q;
	size_t n = 99;

	scenario();
	q = query(NULL, NULL, -1, STG_ERRCLASS_TRANSIENT, 0);
	cr_assert_eq(stg_log_remove_matching(H.log, &q, 0, &n), STG_OK);
	cr_assert_eq(n, 1u);
	cr_assert_not(h_exists("amz", "A-5xx"));
	q = query(NULL, NULL, -1, -1, STG_QUERY_ABNORMAL);
	cr_assert_eq(stg_log_remove_matching(H.log, &q, 0, &n), STG_OK);
	cr_assert_eq(n, 1u);
	cr_assert_not(h_exists("amz", "B-slow"));
	cr_assert_eq(h_counts(NULL).abnormal, 0u);
}

/* ------------------------------------------------------------------ paging */

static void page_all(const stg_query *q, size_t cap, size_t expect, const char *integ_only)
{
	static char seen[512];
	stg_entry page[8];
	uint64_t cursor = 0, prev;
	size_t count, total = 0, i, pages = 0;

	cr_assert_leq(cap, 8u);
	memset(seen, 0, sizeof seen);
	for (;;) {
		prev = cursor;
		cr_assert_eq(stg_log_query(H.log, q, &cursor, page, cap, &count), STG_OK);
		cr_assert_leq(count, cap);
		if (!count) {
			cr_assert_eq(cursor, prev, "the cursor stays put at the end");
			break;
		}
		cr_assert_lt(++pages, 1000u, "paging does not end");
		for (i = 0; i < count; i++) {
			int k = atoi(page[i].sku + 1) + (page[i].integration[0] == 'm' ? 256 : 0);
			cr_assert(k >= 0 && k < 512);
			cr_assert_eq(seen[k], 0, "%s/%s seen twice", page[i].integration, page[i].sku);
			seen[k] = 1;
			if (integ_only)
				cr_assert_str_eq(page[i].integration, integ_only);
			total++;
		}
	}
	cr_assert_eq(total, expect);
	/* Once more at the end: still nothing. */
	cr_assert_eq(stg_log_query(H.log, q, &cursor, page, cap, &count), STG_OK);
	cr_assert_eq(count, 0u);
}

Test(manage, paging_every_entry_once)
{
	char sku[16];
	stg_query q;
	int i;

	H.with_storage = 0;
	h_open();
	for (i = 0; i < 60; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		h_submit(i % 3 ? "amz" : "meli", sku, 10, 1);
	}
	cr_assert_eq(h_pump(), 60u);
	/* Holes in the middle, then some reuse of the freed slots. */
	for (i = 10; i < 20; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		cr_assert_eq(stg_log_remove(H.log, i % 3 ? "amz" : "meli", sku, 0), STG_OK);
	}
	for (i = 100; i < 105; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		h_submit("amz", sku, 10, 1);
	}
	page_all(NULL, 1, 55, NULL);
	page_all(NULL, 4, 55, NULL);
	page_all(NULL, 7, 55, NULL);
	q = query("meli", NULL, -1, -1, 0);
	page_all(&q, 3, 17, "meli");
	q = query("amz", NULL, STG_ENTRY_PENDING, -1, 0);
	page_all(&q, 2, 5, "amz");
}

/* Entries added or removed between pages: none appears twice. */
Test(manage, paging_while_changing)
{
	static char seen[512];
	char sku[16];
	stg_entry page[4];
	uint64_t cursor = 0;
	size_t count, i;
	int k, round = 0;

	H.with_storage = 0;
	h_open();
	for (k = 0; k < 40; k++) {
		snprintf(sku, sizeof sku, "S%d", k);
		h_submit("amz", sku, 10, 1);
	}
	cr_assert_eq(h_pump(), 40u);
	memset(seen, 0, sizeof seen);
	for (;;) {
		cr_assert_eq(stg_log_query(H.log, NULL, &cursor, page, 4, &count), STG_OK);
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			int n = atoi(page[i].sku + 1);
			cr_assert_eq(seen[n], 0, "S%d seen twice", n);
			seen[n] = 1;
		}
		cr_assert_lt(round, 100, "paging does not end");
		/* Between the first pages: add two, remove one not yet seen (if
		 * any). Freed slots are reused, so new entries land anywhere. */
		if (round++ >= 10)
			continue;
		snprintf(sku, sizeof sku, "S%d", 100 + 2 * round);
		h_submit("amz", sku, 10, 1);
		snprintf(sku, sizeof sku, "S%d", 101 + 2 * round);
		h_submit("amz", sku, 10, 1);
		snprintf(sku, sizeof sku, "S%d", 40 - round);
		if (!seen[40 - round]) {
			int rc = stg_log_remove(H.log, "amz", sku, 0);
			cr_assert_eq(rc, STG_OK, "round %d: remove %s: %s", round, sku, stg_strerror(rc));
		}
	}
	/* Everything present from start to end was seen. */
	for (k = 0; k < 30; k++)
		cr_assert(seen[k], "S%d never seen", k);
}

/* --------------------------------------------------------------- retention */

Test(manage, expire_by_age)
{
	size_t removed = 99;

	H.opts.success_max_age_ms = 10000;
	H.opts.catalogue_retry_ms = 24 * 3600000LL;
	h_open();
	h_submit("amz", "S1", 10, 1);
	h_submit("amz", "E1", 10, 1);
	h_submit("amz", "P1", 10, 1);
	h_push_ok();
	h_push_http(400);
	h_push_class(STG_ERRCLASS_NOT_CATALOGUED, 404);
	cr_assert_eq(h_pump(), 3u);                   /* S1 acked at T0 */
	h_advance(5000);
	h_submit("amz", "S2", 10, 1);
	cr_assert_eq(h_pump(), 1u);                   /* S2 acked at T0 + 5000 */
	h_advance(10000);
	h_submit("amz", "S3", 10, 1);
	cr_assert_eq(h_pump(), 1u);                   /* S3 acked at T0 + 15000 */

	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 1u);
	cr_assert_not(h_exists("amz", "S1"));
	cr_assert(h_exists("amz", "S2"), "exactly the maximum age is kept");
	cr_assert_null(h_record_find("amz", "S1"));
	h_advance(1);
	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 1u);
	cr_assert_not(h_exists("amz", "S2"));
	h_advance(365 * 24 * 3600000LL);
	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 1u);
	/* Errors and pending entries are never expired. */
	cr_assert(h_exists("amz", "E1"));
	cr_assert(h_exists("amz", "P1"));
	cr_assert_eq(h_counts(NULL).success, 0u);
}

Test(manage, expire_by_count_keeps_newest)
{
	char sku[16];
	size_t removed = 99;
	int i;

	H.opts.success_max_count = 2;
	h_open();
	h_submit("amz", "ERR", 10, 1);
	h_push_http(400);
	cr_assert_eq(h_pump(), 1u);
	for (i = 0; i < 5; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		h_submit(i % 2 ? "meli" : "amz", sku, 10, 1);
		cr_assert_eq(h_pump(), 1u);
		h_advance(1000);
	}
	h_submit("amz", "PEND", 10, 1);
	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 3u);
	cr_assert_str_eq(listing(NULL), "amz/ERR,amz/PEND,amz/S4,meli/S3");
	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 0u);
}

/* A reprocessed old entry is pending, so never expired. */
Test(manage, expire_skips_pending_success_entries)
{
	size_t removed = 99;

	H.opts.success_max_age_ms = 1000;
	h_open();
	h_submit("amz", "A", 10, 1);
	cr_assert_eq(h_pump(), 1u);
	h_advance(5000);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 0u);
	cr_assert(h_exists("amz", "A"));
}

Test(manage, expire_without_retention_options)
{
	size_t removed = 99;

	h_open();
	h_submit("amz", "A", 10, 1);
	cr_assert_eq(h_pump(), 1u);
	h_advance(365 * 24 * 3600000LL);
	cr_assert_eq(stg_log_expire(H.log, &removed), STG_OK);
	cr_assert_eq(removed, 0u);
	cr_assert_eq(stg_log_expire(H.log, NULL), STG_OK);
}
