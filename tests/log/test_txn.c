/*
 * Transactions (log.h, "Transactions"; stg_log_begin() / stg_log_commit();
 * ::stg_storage version 2): one storage commit per call that writes more
 * than one entry, or per host transaction; what a failed commit leaves in
 * memory; the calls refused inside a host transaction; a version-1 store
 * and a log without storage.
 */
#include <criterion/criterion.h>

#include "harness.h"

static void txn_init(void)
{
	h_reset();
	H.with_storage = 1;
	H.st.transactional = 1;
}

/* Memory and storage hold the same entries (the fields storage keeps). */
static void assert_agree(const char *what)
{
	h_snapshot mem = h_snapshot_take();
	fx_snap st;
	size_t i;

	fx_snap_store(&H.st, &st);
	cr_assert_eq(mem.n, st.n, "%s: %zu entries in memory, %zu stored", what, mem.n, st.n);
	for (i = 0; i < mem.n; i++) {
		const stg_entry *s = fx_snap_find(&st, mem.v[i].integration, mem.v[i].sku);
		cr_assert_not_null(s, "%s: (%s, %s) not stored", what, mem.v[i].integration, mem.v[i].sku);
		cr_assert_eq(s->available, mem.v[i].available, "%s: %s available", what, mem.v[i].sku);
		cr_assert_eq(s->published, mem.v[i].published, "%s: %s published", what, mem.v[i].sku);
		cr_assert_eq(s->status, mem.v[i].status, "%s: %s status", what, mem.v[i].sku);
		cr_assert_eq(s->acked, mem.v[i].acked, "%s: %s acked", what, mem.v[i].sku);
	}
	fx_snap_free(&st);
	h_snapshot_free(&mem);
}

static void assert_same(const h_snapshot *a, const h_snapshot *b, const char *what)
{
	size_t i;

	cr_assert_eq(a->n, b->n, "%s: %zu entries, then %zu", what, a->n, b->n);
	for (i = 0; i < a->n; i++) {
		const stg_entry *e = h_snapshot_find(b, a->v[i].integration, a->v[i].sku);
		cr_assert_not_null(e, "%s: (%s, %s) gone", what, a->v[i].integration, a->v[i].sku);
		h_assert_entry_eq(&a->v[i], e, what);
	}
}

/* A minimum of 5 for @integ: changes at or below it warn the merchant. */
static void set_min(const char *integ)
{
	stg_policy *p = NULL;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 5), STG_OK);
	cr_assert_eq(stg_log_set_policy(H.log, integ, p), STG_OK);
	stg_policy_free(p);
}

static stg_submit change(const char *integ, const char *sku, int64_t avail, int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = integ;
	s.sku = sku;
	s.available = avail;
	s.sequence = seq;
	return s;
}

TestSuite(txn, .init = txn_init);

Test(txn, batch_is_one_commit)
{
	stg_submit c[50];
	char sku[50][8];
	size_t i, done = 0;

	h_open();
	for (i = 0; i < 50; i++) {
		snprintf(sku[i], sizeof sku[i], "s%02zu", i);
		c[i] = change("a", sku[i], 20 + (int64_t)i, 1);
	}
	cr_assert_eq(stg_log_submit_batch(H.log, c, 50, NULL, &done), STG_OK);
	cr_assert_eq(done, 50);
	cr_assert_eq(H.st.begins, 1);
	cr_assert_eq(H.st.commits, 1);
	cr_assert_eq(H.st.writes, 50);
	/* The pump: one commit for all its acknowledgements. */
	cr_assert_eq(h_pump(), 50);
	cr_assert_eq(H.st.begins, 2);
	cr_assert_eq(H.st.commits, 2);
	assert_agree("after the pump");
	/* A call that writes nothing opens nothing. */
	cr_assert_eq(h_pump(), 0);
	cr_assert_eq(stg_log_submit_batch(H.log, c, 0, NULL, &done), STG_OK);
	cr_assert_eq(H.st.begins, 2);
}

Test(txn, failed_batch_commit_undoes_it)
{
	stg_submit c[4] = { change("a", "old", 3, 2), change("a", "new1", 50, 1),
	                    change("b", "new2", 0, 1), change("a", "new1", 60, 2) };
	h_snapshot before, after;
	stg_stats s0, s1;
	size_t done = 99;

	h_open();
	set_min("a");
	set_min("b");
	h_submit("a", "old", 40, 1);
	h_submit("a", "ok", 40, 1);
	h_push_ok();
	h_push_ok();
	h_pump();
	before = h_snapshot_take();
	s0 = h_stats("a");
	H.st.arm_txn = 1;
	fx_storage_arm(&H.st, 6, 0); /* begin, 4 writes, then the commit fails */
	cr_assert_eq(stg_log_submit_batch(H.log, c, 4, NULL, &done), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert_eq(done, 0, "an undone batch reports none done");
	cr_assert(strstr(stg_log_errmsg(H.log), "commit failed"), "%s", stg_log_errmsg(H.log));
	cr_assert(strstr(stg_log_errmsg(H.log), "undone"), "%s", stg_log_errmsg(H.log));
	cr_assert_eq(H.st.rollbacks, 1);
	after = h_snapshot_take();
	assert_same(&before, &after, "after the undo");
	assert_agree("after the undo");
	s1 = h_stats("a");
	cr_assert_eq(s1.changes, s0.changes, "counters as they were");
	cr_assert_eq(s1.exports, s0.exports);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 0, "the undone warning is not told");
	h_snapshot_free(&before);
	h_snapshot_free(&after);
	/* Done again, it works, and the warning comes once, after the commit. */
	cr_assert_eq(stg_log_submit_batch(H.log, c, 4, NULL, &done), STG_OK);
	cr_assert_eq(done, 4);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 1, "old: 3, at the minimum");
	cr_assert_eq(h_get("a", "new1").available, 60);
	assert_agree("after the retry");
}

Test(txn, host_transaction_groups_single_calls)
{
	int open = -1;
	int i;
	char sku[16];

	h_open();
	set_min("a");
	cr_assert_eq(stg_log_begin(H.log), STG_OK);
	cr_assert_eq(stg_log_in_transaction(H.log, &open), STG_OK);
	cr_assert_eq(open, 1);
	cr_assert_eq(stg_log_begin(H.log), STG_ESTATE, "no nesting");
	for (i = 0; i < 100; i++) {
		snprintf(sku, sizeof sku, "w%03d", i);
		h_submit("a", sku, i, 1);
	}
	cr_assert_eq(stg_log_reprocess(H.log, "a", "w000"), STG_OK);
	/* Reads see the changes before the commit. */
	cr_assert_eq(h_get("a", "w050").available, 50);
	cr_assert_eq(H.st.begins, 1);
	cr_assert_eq(H.st.commits, 0);
	cr_assert_eq(stg_log_pump(H.log, 0, NULL), STG_ESTATE);
	cr_assert_eq(stg_log_flush(H.log, NULL), STG_ESTATE);
	cr_assert_eq(stg_log_pause(H.log, "a"), STG_ESTATE);
	cr_assert_eq(stg_log_resume(H.log, "a"), STG_ESTATE);
	cr_assert_eq(stg_log_complete(H.log, 1, NULL), STG_ESTATE);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 0, "held until the commit");
	cr_assert_eq(stg_log_commit(H.log), STG_OK);
	cr_assert_eq(H.st.commits, 1);
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 5, "w001 to w005 at the minimum");
	cr_assert_eq(stg_log_in_transaction(H.log, &open), STG_OK);
	cr_assert_eq(open, 0);
	cr_assert_eq(stg_log_commit(H.log), STG_ESTATE, "nothing to commit");
	assert_agree("after the commit");
	h_reopen();
	cr_assert_eq(h_get("a", "w099").available, 99);
}

/* Everything a host transaction did is undone when its commit fails:
 * changes, a removal, a removal and re-creation, a reprocess; a job in
 * flight keeps its id and can still be completed. */
Test(txn, failed_host_commit_undoes_everything)
{
	h_snapshot before, after;
	stg_job_result r = STG_JOB_RESULT_INIT;
	const h_sent *flight;
	uint64_t flight_id;
	size_t n;

	h_open();
	set_min("a");
	h_submit("a", "x", 40, 1);
	h_submit("a", "gone", 40, 1);
	h_submit("a", "again", 40, 1);
	h_submit("a", "err", 40, 1);
	h_submit("a", "fly", 40, 1);
	h_push_ok();
	h_push_ok();
	h_push_ok();
	h_push_http(400);
	h_push_async();
	cr_assert_eq(h_pump(), 5);
	flight = h_last_for("a", "fly");
	flight_id = flight->id;
	before = h_snapshot_take();

	cr_assert_eq(stg_log_begin(H.log), STG_OK);
	h_submit("a", "x", 2, 2);
	h_submit("a", "fresh", 7, 1);
	h_submit("a", "fly", 9, 2); /* coalesces onto the job in flight */
	cr_assert_eq(stg_log_remove(H.log, "a", "gone", 0), STG_OK);
	cr_assert_eq(stg_log_remove(H.log, "a", "again", 0), STG_OK);
	h_submit("a", "again", 1, 5);
	cr_assert_eq(stg_log_reprocess(H.log, "a", "err"), STG_OK);
	{
		stg_query q = STG_QUERY_INIT;
		q.integration = "a";
		q.status = STG_ENTRY_SUCCESS;
		cr_assert_eq(stg_log_remove_matching(H.log, &q, 0, &n), STG_OK);
	}
	/* Fail the commit: the next storage call. */
	H.st.arm_txn = 1;
	fx_storage_arm(&H.st, 1, 0);
	cr_assert_eq(stg_log_commit(H.log), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert(strstr(stg_log_errmsg(H.log), "stg_log_commit"), "%s", stg_log_errmsg(H.log));
	after = h_snapshot_take();
	assert_same(&before, &after, "after the failed commit");
	assert_agree("after the failed commit");
	cr_assert_eq(h_event_count(STG_EVENT_MIN_STOCK_REACHED), 0);
	/* The job handed out before still completes, by the id the host holds. */
	r.outcome = STG_OUTCOME_OK;
	cr_assert_eq(stg_log_complete(H.log, flight_id, &r), STG_OK, "%s", stg_log_errmsg(H.log));
	cr_assert_eq(h_get("a", "fly").status, STG_ENTRY_SUCCESS);
	assert_agree("after the completion");
	h_snapshot_free(&before);
	h_snapshot_free(&after);
}

/* A pump whose commit fails keeps every acknowledgement: owed, written by
 * the next call. */
Test(txn, failed_pump_commit_owes_the_results)
{
	size_t sent = 0, pending = 0;
	int i;
	char sku[8];

	h_open();
	for (i = 0; i < 5; i++) {
		snprintf(sku, sizeof sku, "p%d", i);
		h_submit("a", sku, 30, 1);
	}
	H.st.arm_txn = 1;
	fx_storage_arm(&H.st, 7, 0); /* begin, 5 writes, the commit */
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert_eq(sent, 5, "the jobs did go out");
	cr_assert(strstr(stg_log_errmsg(H.log), "owed"), "%s", stg_log_errmsg(H.log));
	for (i = 0; i < 5; i++) {
		snprintf(sku, sizeof sku, "p%d", i);
		cr_assert_eq(h_get("a", sku).status, STG_ENTRY_SUCCESS, "kept in memory");
		cr_assert_eq(h_store_get("a", sku).status, STG_ENTRY_PENDING, "storage rolled back");
	}
	cr_assert_eq(stg_log_flush(H.log, &pending), STG_OK);
	cr_assert_eq(pending, 0);
	assert_agree("after the flush");
}

/* The rollback fails too, and the commit did happen (storage in doubt):
 * the log says so, and a reopen reads storage's state. */
Test(txn, rollback_failure_is_reported)
{
	stg_submit c[2] = { change("a", "d1", 30, 1), change("a", "d2", 30, 1) };
	size_t done = 9;

	h_open();
	H.st.arm_txn = 1;
	H.st.commit_lies = 1;
	fx_storage_arm(&H.st, 4, 0); /* begin, 2 writes, the commit */
	cr_assert_eq(stg_log_submit_batch(H.log, c, 2, NULL, &done), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert_eq(done, 0);
	cr_assert(strstr(stg_log_errmsg(H.log), "reopen"), "%s", stg_log_errmsg(H.log));
	cr_assert_not(h_exists("a", "d1"), "undone in memory");
	h_reopen();
	cr_assert(h_exists("a", "d1"), "storage had it: the reopen reads it");
}

Test(txn, begin_failure_applies_nothing)
{
	stg_submit c[2] = { change("a", "b1", 30, 1), change("a", "b2", 30, 1) };
	size_t done = 9;

	h_open();
	H.st.arm_txn = 1;
	fx_storage_arm(&H.st, 1, 0);
	cr_assert_eq(stg_log_submit_batch(H.log, c, 2, NULL, &done), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert_eq(done, 0);
	cr_assert(strstr(stg_log_errmsg(H.log), "begin"), "%s", stg_log_errmsg(H.log));
	cr_assert_not(h_exists("a", "b1"));
	cr_assert_eq(h_records_live(), 0);
}

/* SQLite ends a transaction by itself on some write errors: the commit
 * then fails and the batch is undone, not half-applied. */
Test(txn, write_failure_that_ends_the_transaction)
{
	stg_submit c[3] = { change("a", "q1", 30, 1), change("a", "q2", 30, 1),
	                    change("a", "q3", 30, 1) };
	size_t done = 9;

	h_open();
	H.st.sqlite_like = 1;
	fx_storage_arm(&H.st, 2, 0); /* the second write */
	cr_assert_eq(stg_log_submit_batch(H.log, c, 3, NULL, &done), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert_eq(done, 0);
	cr_assert_not(h_exists("a", "q1"));
	assert_agree("after the failed batch");
	/* Without that, the prefix before the failing write is committed. */
	H.st.sqlite_like = 0;
	fx_storage_arm(&H.st, 2, 0);
	cr_assert_eq(stg_log_submit_batch(H.log, c, 3, NULL, &done), STG_ESTORAGE);
	fx_storage_disarm(&H.st);
	cr_assert_eq(done, 1);
	cr_assert(h_exists("a", "q1"));
	cr_assert_not(h_exists("a", "q2"));
	assert_agree("after the prefix");
}

Test(txn, close_inside_a_transaction_rolls_back)
{
	h_open();
	cr_assert_eq(stg_log_begin(H.log), STG_OK);
	h_submit("a", "c1", 30, 1);
	h_close();
	cr_assert_eq(H.st.rollbacks, 1);
	h_open();
	cr_assert_not(h_exists("a", "c1"));
}

/* Stores without transactions: the same calls, each write its own commit. */
Test(txn, version_1_store_and_no_store)
{
	struct v1 { /* a version-1 host's struct, as compiled against 1.0 */
		unsigned int version;
		int (*load)(stg_entry_sink, void *, void *);
		int (*write)(const stg_entry *, void *);
		int (*remove)(const char *, const char *, void *);
		void *payload;
	} old = { 1, fx_storage_load, fx_storage_write, fx_storage_remove, &H.st };
	stg_submit c[2] = { change("a", "v1", 30, 1), change("a", "v2", 30, 1) };
	size_t done = 0;

	H.st.transactional = 0;
	H.opts.storage = (const stg_storage *)(const void *)&old;
	H.with_storage = 0; /* h_open keeps opts.storage as set here */
	H.clock_hook = fx_clock_hook(&H.clock);
	H.events_hook = fx_events_hook(&H.ev);
	H.transport_hook = fx_transport_hook(&H.tr, 0);
	H.opts.clock = &H.clock_hook;
	H.opts.events = &H.events_hook;
	H.opts.transport = &H.transport_hook;
	cr_assert_eq(stg_log_open(&H.log, &H.opts), STG_OK, "%s", stg_last_error());
	cr_assert_eq(stg_log_submit_batch(H.log, c, 2, NULL, &done), STG_OK);
	cr_assert_eq(H.st.writes, 2);
	cr_assert_eq(stg_log_begin(H.log), STG_OK);
	h_submit("a", "v3", 30, 1);
	cr_assert_eq(H.st.writes, 3, "written at once: no transaction to wait for");
	cr_assert_eq(stg_log_commit(H.log), STG_OK);
	cr_assert_eq(H.st.begins, 0);
	h_close();
	/* No storage: a transaction is free and cannot fail. */
	H.opts.storage = NULL;
	h_open();
	cr_assert_eq(stg_log_begin(H.log), STG_OK);
	h_submit("a", "m1", 30, 1);
	cr_assert_eq(stg_log_commit(H.log), STG_OK);
	cr_assert(h_exists("a", "m1"));
}

Test(txn, incomplete_transaction_functions_are_refused)
{
	h_open();
	h_close();
	H.storage_hook = fx_storage_hook(&H.st);
	H.storage_hook.rollback = NULL;
	H.opts.storage = &H.storage_hook;
	cr_assert_eq(stg_log_open(&H.log, &H.opts), STG_EINVAL);
	cr_assert(strstr(stg_last_error(), "begin, commit and rollback"), "%s", stg_last_error());
	cr_assert_null(H.log);
}

Test(txn, bad_arguments)
{
	int open;

	cr_assert_eq(stg_log_begin(NULL), STG_EINVAL);
	cr_assert_eq(stg_log_commit(NULL), STG_EINVAL);
	cr_assert_eq(stg_log_in_transaction(NULL, &open), STG_EINVAL);
	h_open();
	cr_assert_eq(stg_log_in_transaction(H.log, NULL), STG_EINVAL);
}
