/*
 * Storage and reload (SPEC 3 "nothing is lost", SPEC 4 "storage"): a
 * recording storage hook keeps every entry encoded; close and reopen give
 * the same entries, jobs handed out but not completed are pending again and
 * go out, an auth-paused integration is paused again; bad stored data and a
 * failing load are refused at open; failed writes keep memory and storage
 * agreeing, and an acknowledgement is written later, never forgotten.
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

TestSuite(reload, .init = setup, .fini = teardown);

/* Every entry in memory equals its stored copy (in-flight ones excepted:
 * they are stored as queued, so a restart sends them again). */
static void assert_store_agrees(void)
{
	h_snapshot s = h_snapshot_take();
	size_t i;

	cr_assert_eq(h_records_live(), s.n, "stored %zu entries, memory has %zu", h_records_live(),
	             s.n);
	for (i = 0; i < s.n; i++) {
		stg_entry m = s.v[i], st = h_store_get(m.integration, m.sku);
		char what[200];
		if (m.job_state == STG_JOB_IN_FLIGHT) {
			cr_assert_eq(st.job_state, STG_JOB_QUEUED);
			continue;
		}
		m.flags &= ~STG_ENTRY_LATE;
		snprintf(what, sizeof what, "stored (%s, %s)", m.integration, m.sku);
		h_assert_entry_eq(&st, &m, what);
	}
	h_snapshot_free(&s);
}

/*
 * amz: OK success, SLOW success abnormal, REJ error with a message, HELD
 * not catalogued, FLY in flight, Q queued, MIN queued with the min-stock
 * flag; meli (paused by a 401): AUTH, WAIT.
 */
static uint64_t build(void)
{
	stg_policy *p = NULL;
	uint64_t fly;

	H.opts.latency_limit_ms = 1000;
	H.opts.catalogue_retry_ms = 3600000;
	h_open();
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "MIN", 5), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, "amz", p), STG_OK);
	stg_policy_free(p);

	h_submit("amz", "OK", 10, 7);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_submit_rc("amz", "SLOW", 3, 1, 0, H.clock.now - 5000, NULL, NULL), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "REJ", 4, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 422, 0, "quantity not allowed");
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "HELD", 2, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NOT_CATALOGUED, 404, 0, "no such offer");
	cr_assert_eq(h_pump(), 1u);
	fly = h_submit("amz", "FLY", 1, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_submit("meli", "AUTH", 1, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 401, 0, "token expired");
	cr_assert_eq(h_pump(), 1u);
	h_submit("meli", "WAIT", 1, 1);
	h_advance(100);
	h_submit("amz", "Q", 50, 1);
	cr_assert_eq(h_submit_rc("amz", "MIN", 4, 1, STG_CHANGE_NON_STOCK, 0, NULL, NULL), STG_OK);
	cr_assert(h_get("amz", "MIN").flags & STG_ENTRY_MIN_STOCK_REACHED);
	cr_assert(h_get("amz", "SLOW").flags & STG_ENTRY_ABNORMAL);
	fx_transport_forget_sent(&H.tr);
	return fly;
}

Test(reload, store_agrees_with_memory)
{
	build();
	assert_store_agrees();
	/* After the merchant's actions too. */
	cr_assert_eq(stg_log_set_catalogued(H.log, "amz", "HELD"), STG_OK);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "OK"), STG_OK);
	cr_assert_eq(stg_log_remove(H.log, "amz", "REJ", 0), STG_OK);
	assert_store_agrees();
	cr_assert_eq(stg_log_resume(H.log, "meli"), STG_OK);
	cr_assert_eq(h_pump(), 6u);
	assert_store_agrees();
}

Test(reload, reopen_gives_the_same_entries)
{
	h_snapshot before, after;
	uint64_t fly;
	size_t i, j;
	stg_counts cb, ca;

	fly = build();
	before = h_snapshot_take();
	cb = h_counts(NULL);
	cr_assert_eq(before.n, 9u);
	h_reopen();
	cr_assert_eq(H.st.loads, 2u);
	after = h_snapshot_take();
	cr_assert_eq(after.n, before.n);
	for (i = 0; i < before.n; i++) {
		const stg_entry *b = &before.v[i];
		const stg_entry *a = h_snapshot_find(&after, b->integration, b->sku);
		stg_entry bb;
		char what[200];
		cr_assert_not_null(a, "(%s, %s) lost at reopen", b->integration, b->sku);
		snprintf(what, sizeof what, "(%s, %s) after reopen", b->integration, b->sku);
		bb = *b;
		if (b->job_state == STG_JOB_IN_FLIGHT) {
			/* Handed out but not completed: pending (queued) again. */
			cr_assert_eq(a->job_state, STG_JOB_QUEUED, "%s", what);
			bb.job_state = STG_JOB_QUEUED;
			bb.last_attempt_at = a->last_attempt_at;
		}
		if (b->job_state != STG_JOB_NONE)
			bb.job_id = a->job_id; /* jobs get ids of this run */
		h_assert_entry_eq(a, &bb, what);
	}
	/* Job ids stay unique. */
	for (i = 0; i < after.n; i++)
		for (j = i + 1; j < after.n; j++)
			if (after.v[i].job_id)
				cr_assert_neq(after.v[i].job_id, after.v[j].job_id);
	ca = h_counts(NULL);
	cr_assert_eq(ca.pending, cb.pending);
	cr_assert_eq(ca.success, cb.success);
	cr_assert_eq(ca.error, cb.error);
	cr_assert_eq(ca.held, cb.held);
	cr_assert_eq(ca.abnormal, cb.abnormal);
	h_snapshot_free(&before);
	h_snapshot_free(&after);
	(void)fly;
}

Test(reload, jobs_go_out_after_reopen_and_pause_is_kept)
{
	stg_job_result ok;
	uint64_t fly;
	int paused = 0;

	fly = build();
	h_reopen();
	cr_assert_eq(stg_log_is_paused(H.log, "meli", &paused), STG_OK);
	cr_assert_eq(paused, 1, "the auth failure pauses meli again");
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 0);
	cr_assert_eq(h_get("amz", "FLY").job_state, STG_JOB_QUEUED);
	cr_assert_eq(h_get("amz", "HELD").job_state, STG_JOB_HELD);

	/* The old id of the in-flight job is gone with the old process. */
	cr_assert_eq(stg_job_result_init(&ok, STG_JOB_RESULT_VERSION), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, fly, &ok), STG_ENOTFOUND);

	/* MIN (to zero), FLY (low stock), Q go out; HELD and meli wait. */
	cr_assert_eq(h_pump(), 3u);
	cr_assert_eq(h_sent_count("amz", "FLY"), 1u);
	cr_assert_eq(h_last_for("amz", "FLY")->published, 1);
	cr_assert_eq(h_sent_count("amz", "MIN"), 1u);
	cr_assert_eq(h_last_for("amz", "MIN")->published, 0);
	cr_assert(h_last_for("amz", "MIN")->flags & STG_JOB_FLAG_MIN_STOCK_REACHED);
	cr_assert(h_last_for("amz", "MIN")->flags & STG_JOB_FLAG_NON_STOCK);
	cr_assert_eq(h_sent_count("amz", "Q"), 1u);
	cr_assert_eq(H.tr.sent[0].priority, STG_PRIORITY_URGENT, "MIN (to zero) first");
	cr_assert_str_eq(H.tr.sent[0].sku, "MIN");
	cr_assert_eq(h_sent_count("meli", NULL), 0u);
	cr_assert_eq(h_get("amz", "FLY").status, STG_ENTRY_SUCCESS);

	cr_assert_eq(stg_log_resume(H.log, "meli"), STG_OK);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_eq(h_get("meli", "AUTH").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("meli", "WAIT").status, STG_ENTRY_SUCCESS);
	/* Resumed and written: a third open is not paused. */
	h_reopen();
	cr_assert_eq(stg_log_is_paused(H.log, "meli", &paused), STG_OK);
	cr_assert_eq(paused, 0);
	/* The held job keeps its slow-retry time across the reopen. */
	cr_assert_eq(h_pump(), 0u);
	H.clock.now = h_get("amz", "HELD").next_attempt_at;
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->sku, "HELD");
}

/* New jobs after a reopen never reuse an id from the stored entries. */
Test(reload, job_ids_after_reopen_are_fresh)
{
	stg_entry ok;

	build();
	ok = h_get("amz", "OK");
	h_reopen();
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "OK"), STG_OK);
	cr_assert_neq(h_get("amz", "OK").job_id, ok.job_id);
	h_submit("amz", "NEW", 1, 1);
	cr_assert_neq(h_get("amz", "NEW").job_id, ok.job_id);
}

Test(reload, sequence_survives_reopen)
{
	build();
	h_reopen();
	cr_assert_eq(h_submit("amz", "OK", 1, 6).decision, STG_DECISION_STALE);
	cr_assert_eq(h_submit("amz", "OK", 1, 7).decision, STG_DECISION_EXPORT);
}

/* ------------------------------------------------------------- bad stores */

Test(reload, duplicate_stored_entry_is_corrupt)
{
	int rc;

	build();
	h_close();
	H.st.load_duplicate = 1;
	rc = h_open_rc();
	cr_assert_eq(rc, STG_ECORRUPT, "open: %s", stg_strerror(rc));
	cr_assert_null(H.log, "out untouched on failure");
	cr_assert_neq(stg_last_error()[0], '\0');
	/* The verdict stands even when the load hook ignores it. */
	H.st.load_ignore_sink = 1;
	rc = h_open_rc();
	cr_assert_eq(rc, STG_ECORRUPT, "open: %s", stg_strerror(rc));
	cr_assert_null(H.log);
}

Test(reload, load_failure_is_storage_error)
{
	static const int codes[] = { 1, 42, -1, STG_ECORRUPT, -1000 };
	size_t i;

	build();
	h_close();
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		int rc;
		H.st.load_fail = codes[i];
		rc = h_open_rc();
		cr_assert_eq(rc, STG_ESTORAGE, "load returned %d: open %s", codes[i], stg_strerror(rc));
		cr_assert_null(H.log);
	}
	H.st.load_fail = 0;
	h_open();
}

/* A stored entry that cannot be loaded as it is. */
static void open_with_stored(const stg_entry *bad, int expect)
{
	int rc;

	h_store_put(bad);
	rc = h_open_rc();
	cr_assert_eq(rc, expect, "open: %s, expected %s", stg_strerror(rc), stg_strerror(expect));
	cr_assert_null(H.log);
}

Test(reload, inconsistent_stored_entry_is_corrupt)
{
	stg_entry e;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = "A";
	e.status = STG_ENTRY_PENDING;   /* pending without a job */
	e.job_state = STG_JOB_NONE;
	open_with_stored(&e, STG_ECORRUPT);
}

Test(reload, success_with_a_job_is_corrupt)
{
	stg_entry e;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = "A";
	e.status = STG_ENTRY_SUCCESS;
	e.job_state = STG_JOB_QUEUED;
	open_with_stored(&e, STG_ECORRUPT);
}

Test(reload, undecodable_record_fails_the_open)
{
	h_record *r;
	int rc;

	build();
	h_close();
	r = h_record_find("amz", "OK");
	r->buf[r->len / 2] ^= 0x40;
	rc = h_open_rc();
	cr_assert(rc == STG_ESTORAGE || rc == STG_ECORRUPT, "open: %s", stg_strerror(rc));
	cr_assert_null(H.log);
}

/* Entries from the host by hand, after stg_entry_init(): loaded as given. */
Test(reload, hand_made_entries_load)
{
	stg_entry e;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = "A";
	e.status = STG_ENTRY_SUCCESS;
	e.available = 9;
	e.published = 9;
	e.acked = 9;
	e.flags = STG_ENTRY_HAS_ACKED;
	e.sequence = 3;
	h_store_put(&e);
	e.sku = "B";
	e.status = STG_ENTRY_PENDING;
	e.job_state = STG_JOB_IN_FLIGHT;
	e.job_id = ((uint64_t)77 << 32) | 5;
	h_store_put(&e);
	h_open();
	cr_assert_eq(h_get("amz", "A").acked, 9);
	cr_assert_eq(h_submit("amz", "A", 8, 2).decision, STG_DECISION_STALE);
	cr_assert_eq(h_get("amz", "B").job_state, STG_JOB_QUEUED);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->sku, "B");
	cr_assert_neq(h_last()->id, e.job_id);
}

/* ------------------------------------------------------ failing writes */

Test(reload, failed_write_changes_nothing)
{
	long writes;
	stg_entry before, after;
	stg_stats s;
	int rc;

	h_open();
	h_submit("amz", "A", 10, 1);
	cr_assert_eq(h_pump(), 1u);
	before = h_get("amz", "A");
	writes = H.st.writes;
	H.st.write_fail = 1;
	rc = h_submit_rc("amz", "NEW", 3, 1, 0, 0, NULL, NULL);
	cr_assert_eq(rc, STG_ESTORAGE);
	cr_assert_not(h_exists("amz", "NEW"));
	rc = h_submit_rc("amz", "A", 3, 2, 0, 0, NULL, NULL);
	cr_assert_eq(rc, STG_ESTORAGE);
	after = h_get("amz", "A");
	h_assert_entry_eq(&before, &after, "after a failed write");
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_ESTORAGE);
	after = h_get("amz", "A");
	h_assert_entry_eq(&before, &after, "after a failed reprocess");
	cr_assert_eq(h_pump(), 0u);
	cr_assert_eq(H.st.writes, writes);
	s = h_stats(NULL);
	cr_assert_eq(s.changes, 1u, "failed submits are not counted");
	H.st.write_fail = 0;
	assert_store_agrees();
}

Test(reload, failed_remove_changes_nothing)
{
	h_open();
	h_submit("amz", "A", 10, 1);
	cr_assert_eq(h_pump(), 1u);
	H.st.remove_fail = 1;
	cr_assert_eq(stg_log_remove(H.log, "amz", "A", 0), STG_ESTORAGE);
	cr_assert(h_exists("amz", "A"));
	H.st.remove_fail = 0;
	assert_store_agrees();
}

Test(reload, acknowledgement_is_never_forgotten)
{
	size_t sent = 0, owed = 99;
	stg_entry e;

	h_open();
	h_submit("amz", "A", 10, 1);
	h_submit("amz", "B", 10, 1);
	H.st.write_fail = 1;
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_ESTORAGE);
	cr_assert_eq(sent, 1u, "storage failing: no more jobs go out");
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS, "the acknowledgement is kept in memory");
	cr_assert_eq(h_store_get("amz", "A").status, STG_ENTRY_PENDING);
	cr_assert_eq(stg_log_flush(H.log, &owed), STG_ESTORAGE);
	cr_assert_eq(owed, 1u);
	H.st.write_fail = 0;
	cr_assert_eq(stg_log_flush(H.log, &owed), STG_OK);
	cr_assert_eq(owed, 0u);
	cr_assert_eq(h_store_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_pump(), 1u);
	assert_store_agrees();
	h_reopen();
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(h_get("amz", "A").acked, 10);
}

/* The owed write also goes at the start of the next call that changes the log. */
Test(reload, owed_write_goes_with_the_next_change)
{
	stg_job_result ok;
	uint64_t id;

	h_open();
	id = h_submit("amz", "A", 10, 1).job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	H.st.write_fail = 1;
	cr_assert_eq(stg_job_result_init(&ok, STG_JOB_RESULT_VERSION), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, id, &ok), STG_ESTORAGE);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
	cr_assert_eq(stg_log_complete(H.log, id, &ok), STG_ENOTFOUND);
	H.st.write_fail = 0;
	h_submit("amz", "B", 10, 1);
	cr_assert_eq(h_store_get("amz", "A").status, STG_ENTRY_SUCCESS);
	assert_store_agrees();
}
