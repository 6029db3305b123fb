/*
 * Storage- and transport-failure loops for the integration log.
 *
 * Storage: the storage hook keeps stg_entry_encode() bytes keyed by
 * (integration, SKU) and fails its Nth write/remove call, transiently (only
 * the Nth) or persistently (the Nth and every later one), for every log
 * operation that reaches storage, until the operation runs without reaching
 * the failing call.
 *  - host calls (submit, reprocess, remove, resume, catalogued, expire ...):
 *    STG_ESTORAGE with a fresh message; memory unchanged and equal to what
 *    storage holds (field by field, the computed LATE flag aside), except
 *    where the header documents partial progress (batches, *_matching,
 *    expire, resume), where memory and storage must still agree;
 *  - results (pump, complete): an acknowledgement whose write fails is kept
 *    in memory and STG_ESTORAGE returned; after the fault clears,
 *    stg_log_flush() or the next call writes it, so storage equals memory.
 * After each fault a second log is opened from the storage as it stands (a
 * crash at that moment): every change the marketplace acknowledged is
 * recorded there, or its job is pending again (at-least-once).
 *
 * Each loop runs against three stores: a version-1 hook (each write its
 * own commit), a version-2 one with transactions (begin, commit and
 * rollback count as storage calls, so each fails at every point too), and
 * the same behaving as SQLite does on some I/O errors (a failed write ends
 * the transaction, and the commit then fails). With transactions a batch
 * call whose commit failed has undone its changes (done and count are 0,
 * memory as before), and a pump whose commit failed owes every entry it
 * wrote, so "at most one owed entry per failed call" becomes "at least one".
 *
 * Transport: send/send_batch returning non-zero on the Nth call gives
 * STG_ETRANSPORT; the jobs of that call stay queued, unchanged, with no
 * attempt counted, and a later pump sends them.
 *
 * The failure points reached per operation are printed to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 INT64_C(1700000000000)
#define MAX_N 200


typedef struct world {
	rh_host h;             /* the fixture and the options */
	stg_log *log;
	int64_t seq;
	uint64_t job;
	int64_t job_qty;
	stg_submit batch[3];
	size_t done, count, sent, nsent_before;
} world;

/* The store the loops run against (see the top of the file). */
enum { S_V1, S_TXN, S_TXN_SQLITE, S_KINDS };
static const char *const store_names[S_KINDS] = { "v1", "txn", "txn-sqlite" };
static int store_kind;

static world *world_new(void)
{
	world *w = calloc(1, sizeof *w);

	cr_assert_not_null(w);
	rh_host_init(&w->h);
	if (store_kind != S_V1) {
		w->h.store.transactional = 1;
		w->h.store.arm_txn = 1;
		w->h.store.sqlite_like = store_kind == S_TXN_SQLITE;
		w->h.sh = fx_storage_hook(&w->h.store);
	}
	w->seq = 1;
	cr_assert_eq(stg_log_open(&w->log, &w->h.opt), STG_OK, "open: %s", stg_last_error());
	return w;
}

static void world_free(world *w, const char *what)
{
	stg_log_close(w->log);
	CHECK(w->h.alloc.live_blocks == 0, "%s: %ld blocks leaked", what, w->h.alloc.live_blocks);
	rh_host_free(&w->h);
	free(w);
}

static void submit_n(world *w, const char *integ, const char *prefix, int n, int64_t avail)
{
	char sku[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(sku, sizeof sku, "%s%03d", prefix, i);
		rh_submit(w->log, &w->seq, integ, sku, avail + i);
	}
}

static void pump(world *w, size_t max)
{
	int rc = stg_log_pump(w->log, max, NULL);
	cr_assert_eq(rc, STG_OK, "prefix pump: %d %s", rc, stg_log_errmsg(w->log));
}

/* ------------------------------------------------------------ operations */

enum { K_STRICT, K_BATCH, K_MATCHING, K_REMOVED, K_RESULTS, K_FLUSH };

typedef struct op {
	const char *name;
	int nvariants;
	int kind;
	void (*prefix)(world *w, int v);
	int (*run)(world *w, int v);
} op;

/* Shared background: successes, failures, a held job, a paused integration. */
static void background(world *w)
{
	cr_assert_eq(stg_log_set_limits(w->log, "b", 4, 0, 0), STG_OK);
	submit_n(w, "a", "s", 4, 20);
	rh_answer(&w->h.tr, RH_OK);
	pump(w, 0);
	submit_n(w, "a", "e", 3, 30);
	rh_answer(&w->h.tr, RH_REJECT);
	pump(w, 0);
	submit_n(w, "a", "h", 2, 40);
	rh_answer(&w->h.tr, RH_NOTCAT);
	pump(w, 0);
	submit_n(w, "c", "u", 3, 10);
	rh_answer(&w->h.tr, RH_AUTH);
	pump(w, 1);
	submit_n(w, "b", "b", 6, 0);
	rh_mixed(&w->h.tr);
	submit_n(w, "a", "q", 5, 3);
}

static void pre_bg(world *w, int v)
{
	background(w);
}

static int run_submit(world *w, int v)
{
	/* 0 new SKU, 1 new integration, 2 coalesce queued, 3 coalesce held,
	 * 4 export from success, 5 export after error, 6 skip, 7 non-stock */
	static const char *const integ[] = { "a", "new", "a", "a", "a", "a", "a", "a" };
	static const char *const sku[] = { "n000", "n000", "q001", "h001", "s001", "e001", "s002", "s003" };
	static const int64_t avail[] = { 7, 7, 0, 1, 2, 4, 60, 21 };
	stg_submit s = rh_change(integ[v], sku[v], avail[v], w->seq);
	if (v == 7)
		s.flags = STG_CHANGE_NON_STOCK;
	return stg_log_submit(w->log, &s, NULL);
}

static void pre_batch(world *w, int v)
{
	background(w);
	w->batch[0] = rh_change("a", "n000", 9, 1000);
	w->batch[1] = rh_change("b", "b001", 70, 1001);
	w->batch[2] = rh_change("a", "q000", 1, 1002);
}

static int run_batch(world *w, int v)
{
	w->done = 0;
	return stg_log_submit_batch(w->log, w->batch, 3, NULL, &w->done);
}

static int run_reprocess(world *w, int v)
{
	static const char *const sku[] = { "e000", "s000", "q000", "h000" };
	return stg_log_reprocess(w->log, "a", sku[v]);
}

static int run_reprocess_matching(world *w, int v)
{
	stg_query q = STG_QUERY_INIT;

	q.status = v ? STG_ENTRY_SUCCESS : STG_ENTRY_ERROR;
	q.integration = "a";
	w->count = 0;
	return stg_log_reprocess_matching(w->log, &q, &w->count);
}

static int run_remove(world *w, int v)
{
	return v ? stg_log_remove(w->log, "a", "q002", STG_REMOVE_FORCE)
	         : stg_log_remove(w->log, "a", "e001", 0);
}

static int run_remove_matching(world *w, int v)
{
	stg_query q = STG_QUERY_INIT;

	q.integration = "a";
	w->count = 0;
	return stg_log_remove_matching(w->log, &q, v ? STG_REMOVE_FORCE : 0, &w->count);
}

static void pre_resume(world *w, int v)
{
	cr_assert_eq(stg_log_set_limits(w->log, "c", 3, 0, 0), STG_OK);
	submit_n(w, "c", "u", 3, 10);
	rh_answer(&w->h.tr, RH_AUTH);
	pump(w, 0); /* all three of c fail auth in one batch */
	background(w);
}

/* Entries of "c" still holding their auth failure. */
static size_t auth_held(world *w)
{
	stg_query q = STG_QUERY_INIT;
	stg_entry page[16];
	uint64_t cursor = 0;
	size_t n, total = 0;

	q.integration = "c";
	q.error_class = STG_ERRCLASS_AUTH;
	do {
		cr_assert_eq(stg_log_query(w->log, &q, &cursor, page, 16, &n), STG_OK);
		total += n;
	} while (n);
	return total;
}

/* Partial progress is documented: the entries cleared before a failed
 * write stay cleared (and queued); count them for check_counted. */
static int run_resume(world *w, int v)
{
	size_t held = auth_held(w);
	int rc = stg_log_resume(w->log, "c");

	w->count = held - auth_held(w);
	return rc;
}

static int run_catalogued(world *w, int v)
{
	return stg_log_set_catalogued(w->log, "a", "h001");
}

static void pre_expire(world *w, int v)
{
	int i;
	char sku[16];

	background(w);
	for (i = 0; i < 6; i++) {
		snprintf(sku, sizeof sku, "x%03d", i);
		rh_submit(w->log, &w->seq, "d", sku, 50);
		rh_answer(&w->h.tr, RH_OK);
		pump(w, 0);
		w->h.clock.now += 60000;
	}
	rh_mixed(&w->h.tr);
}

static int run_expire(world *w, int v)
{
	w->count = 0;
	return stg_log_expire(w->log, &w->count);
}

/* Results: pump (mixed answers, a batch integration) and complete. */
static void pre_pump(world *w, int v)
{
	background(w);
	submit_n(w, "a", "p", 7, 8);
}

static int run_pump(world *w, int v)
{
	w->sent = 0;
	w->nsent_before = w->h.tr.fx.nsent;
	return stg_log_pump(w->log, 0, &w->sent);
}

static void pre_complete(world *w, int v)
{
	int kind = v / 2;
	size_t i;

	background(w);
	rh_submit(w->log, &w->seq, "d", "y000", 20);
	rh_answer(&w->h.tr, RH_ASYNC);
	pump(w, 0);
	for (i = 0; i < w->h.tr.fx.nsent; i++)
		if (!strcmp(w->h.tr.fx.sent[i].sku, "y000")) {
			w->job = w->h.tr.fx.sent[i].id;
			w->job_qty = w->h.tr.fx.sent[i].published;
		}
	cr_assert_neq(w->job, 0);
	if (kind == 2)
		rh_submit(w->log, &w->seq, "d", "y000", 1);
	rh_mixed(&w->h.tr);
}

static int run_complete(world *w, int v)
{
	stg_job_result r;
	int kind = v / 2;

	rh_result_for(kind == 1 ? RH_REJECT : RH_OK, &r);
	if (kind != 1)
		fx_transport_ack(&w->h.tr.fx, "d", "y000", w->job_qty); /* the marketplace has it */
	w->nsent_before = w->h.tr.fx.nsent;
	w->sent = 0;
	return stg_log_complete(w->log, w->job, &r);
}

/* flush with three acknowledgements whose writes failed. */
static void pre_flush(world *w, int v)
{
	size_t pending = 0;

	background(w);
	submit_n(w, "d", "f", 3, 8);
	rh_answer(&w->h.tr, RH_OK);
	fx_storage_arm(&w->h.store, 1, 1);
	cr_assert_eq(stg_log_pump(w->log, 0, NULL), STG_ESTORAGE);
	fx_storage_disarm(&w->h.store);
	cr_assert_eq(stg_log_flush(w->log, NULL), STG_OK); /* b's owed results first */
	submit_n(w, "d", "g", 3, 8);
	fx_storage_arm(&w->h.store, 1, 1);
	cr_assert_eq(stg_log_pump(w->log, 0, NULL), STG_ESTORAGE);
	fx_storage_disarm(&w->h.store);
	rh_mixed(&w->h.tr);
	(void)pending;
}

static int run_flush(world *w, int v)
{
	size_t pending = 99;
	int rc = stg_log_flush(w->log, &pending);

	w->count = pending;
	return rc;
}

/* ---------------------------------------------------------------- checks */

static size_t owed(world *w)
{
	fx_snap mem, st;
	char why[256];
	size_t i, n = 0;

	fx_snap_log(w->log, &mem);
	fx_snap_store(&w->h.store, &st);
	for (i = 0; i < mem.n; i++) {
		const stg_entry *s = fx_snap_find(&st, mem.v[i].integration, mem.v[i].sku);
		n += !s || rh_entry_diff(&mem.v[i], s, RH_CMP_MEM_STORE, why, sizeof why) != 0;
	}
	for (i = 0; i < st.n; i++)
		n += !fx_snap_find(&mem, st.v[i].integration, st.v[i].sku);
	fx_snap_free(&mem);
	fx_snap_free(&st);
	return n;
}

static void check_mem_store(world *w, const char *what)
{
	fx_snap mem, st;
	char why[256];

	fx_snap_log(w->log, &mem);
	fx_snap_store(&w->h.store, &st);
	CHECK(rh_snap_diff(&mem, &st, RH_CMP_MEM_STORE, why, sizeof why) == 0,
	      "%s: memory and storage disagree: %s", what, why);
	fx_snap_free(&mem);
	fx_snap_free(&st);
}

/* Every acknowledgement the marketplace gave is in memory. */
static void check_acks_in_memory(world *w, const char *what)
{
	size_t i;

	for (i = 0; i < w->h.tr.fx.nacks; i++) {
		const fx_ack *a = &w->h.tr.fx.acks[i];
		stg_entry e;
		int rc = stg_log_get(w->log, a->integration, a->sku, &e);
		if (rc == STG_ENOTFOUND)
			continue; /* removed by the host */
		CHECK(rc == STG_OK && (e.flags & STG_ENTRY_HAS_ACKED) && e.acked == a->qty,
		      "%s: (%s, %s) acknowledgement of %" PRId64 " not in memory (acked %" PRId64 ")", what,
		      a->integration, a->sku, a->qty, e.acked);
	}
}

/*
 * A crash now: a second log opened from the storage as it stands. Every
 * entry in memory is there; every acknowledgement is recorded or its job
 * is pending again; entries whose write is not owed are equal.
 */
static void check_reopen(world *w, int exact, const char *what)
{
	stg_log_options o = w->h.opt;
	stg_log *log2 = NULL;
	fx_snap mem, re, st;
	char why[256];
	size_t i;
	int rc;

	o.allocator = NULL;
	o.transport = NULL;
	rc = stg_log_open(&log2, &o);
	CHECK(rc == STG_OK, "%s: reopen failed: %d %s", what, rc, stg_last_error());
	if (rc != STG_OK)
		return;
	fx_snap_log(w->log, &mem);
	fx_snap_log(log2, &re);
	fx_snap_store(&w->h.store, &st);
	for (i = 0; i < w->h.tr.fx.nacks; i++) {
		const fx_ack *a = &w->h.tr.fx.acks[i];
		const stg_entry *e = fx_snap_find(&re, a->integration, a->sku);
		if (!fx_snap_find(&mem, a->integration, a->sku))
			continue; /* removed by the host */
		CHECK(e && (((e->flags & STG_ENTRY_HAS_ACKED) && e->acked == a->qty) ||
		            e->status == STG_ENTRY_PENDING),
		      "%s: after a reopen (%s, %s) lost the acknowledgement of %" PRId64
		      " and has no pending job", what, a->integration, a->sku, a->qty);
	}
	for (i = 0; i < mem.n; i++) {
		const stg_entry *e = fx_snap_find(&re, mem.v[i].integration, mem.v[i].sku);
		const stg_entry *s = fx_snap_find(&st, mem.v[i].integration, mem.v[i].sku);
		CHECK(e != NULL, "%s: (%s, %s) lost by a reopen", what, mem.v[i].integration, mem.v[i].sku);
		if (!e || !s || (!exact && rh_entry_diff(&mem.v[i], s, RH_CMP_MEM_STORE, why, sizeof why)))
			continue; /* its write is owed: storage has the previous version */
		CHECK(rh_entry_diff(&mem.v[i], e, RH_CMP_RELOADED, why, sizeof why) == 0,
		      "%s: reopened entry differs: %s", what, why);
	}
	for (i = 0; i < re.n; i++)
		CHECK(fx_snap_find(&mem, re.v[i].integration, re.v[i].sku) != NULL || !exact,
		      "%s: (%s, %s) comes back after a reopen", what, re.v[i].integration, re.v[i].sku);
	fx_snap_free(&mem);
	fx_snap_free(&re);
	fx_snap_free(&st);
	stg_log_close(log2);
}

/* Only the keys of the first `done` changes may differ. */
static void check_batch(world *w, const fx_snap *before, const fx_snap *after, const char *what)
{
	const char *ki[3], *ks[3];
	char why[256];
	size_t i;

	CHECK(w->done < 3, "%s: failed but reports %zu done", what, w->done);
	for (i = 0; i < w->done && i < 3; i++) {
		ki[i] = w->batch[i].integration;
		ks[i] = w->batch[i].sku;
	}
	CHECK(rh_snap_diff_except(before, after, RH_CMP_EXACT, ki, ks, w->done < 3 ? w->done : 3, why,
	                          sizeof why) == 0,
	      "%s: an entry outside the applied changes moved: %s", what, why);
}

/* Exactly `count` entries changed (K_MATCHING: now queued) or went (K_REMOVED). */
static void check_counted(world *w, int kind, const fx_snap *before, const fx_snap *after, const char *what)
{
	size_t i, changed = 0;
	char why[256];

	for (i = 0; i < before->n; i++) {
		const stg_entry *a = fx_snap_find(after, before->v[i].integration, before->v[i].sku);
		if (kind == K_REMOVED) {
			changed += a == NULL;
			CHECK(!a || rh_entry_diff(&before->v[i], a, RH_CMP_EXACT, why, sizeof why) == 0,
			      "%s: an entry that stayed changed: %s", what, why);
			continue;
		}
		if (!a) {
			CHECK(0, "%s: (%s, %s) lost", what, before->v[i].integration, before->v[i].sku);
			continue;
		}
		if (rh_entry_diff(&before->v[i], a, RH_CMP_EXACT, why, sizeof why) == 0)
			continue;
		changed++;
		CHECK(a->status == STG_ENTRY_PENDING && a->job_state == STG_JOB_QUEUED,
		      "%s: (%s, %s) changed but is not queued", what, a->integration, a->sku);
	}
	CHECK(after->n + (kind == K_REMOVED ? changed : 0) == before->n, "%s: entries %zu -> %zu", what,
	      before->n, after->n);
	CHECK(changed == w->count, "%s: %zu entries changed, count says %zu", what, changed, w->count);
}

/* Results: each job handed out has its result in memory; the rest unchanged. */
static void check_results(world *w, const fx_snap *before, const fx_snap *after, const char *what)
{
	size_t i, k, nsent = w->h.tr.fx.nsent - w->nsent_before;
	char why[256];

	CHECK(w->sent == nsent, "%s: %zu reported sent, the transport got %zu", what, w->sent, nsent);
	CHECK(before->n == after->n, "%s: entries %zu -> %zu", what, before->n, after->n);
	for (i = 0; i < before->n; i++) {
		const stg_entry *b = &before->v[i], *a = fx_snap_find(after, b->integration, b->sku);
		int touched = 0;
		for (k = w->nsent_before; k < w->h.tr.fx.nsent; k++)
			touched |= !strcmp(w->h.tr.fx.sent[k].integration, b->integration) &&
			           !strcmp(w->h.tr.fx.sent[k].sku, b->sku);
		touched |= b->job_id == w->job && w->job != 0;
		if (!a) {
			CHECK(0, "%s: (%s, %s) lost", what, b->integration, b->sku);
			continue;
		}
		if (!touched)
			CHECK(rh_entry_diff(b, a, RH_CMP_EXACT, why, sizeof why) == 0,
			      "%s: an entry without a result changed: %s", what, why);
	}
	check_acks_in_memory(w, what);
}

/* ------------------------------------------------------------ the loop */

typedef struct tally {
	long points, failed_calls;
} tally;

static void run_variant(const op *o, int v, int persistent, tally *t)
{
	fx_snap ref, before, after;
	char what[96], why[256];
	world *w;
	long n;
	int rc;

	w = world_new();
	o->prefix(w, v);
	rc = o->run(w, v);
	cr_assert_eq(rc, STG_OK, "%s/%d without faults: %d %s", o->name, v, rc, stg_log_errmsg(w->log));
	fx_snap_log(w->log, &ref);
	world_free(w, o->name);

	for (n = 1; n <= MAX_N; n++) {
		size_t still;
		snprintf(what, sizeof what, "%s variant %d (%s store), %s storage call %ld", o->name, v,
		         store_names[store_kind], persistent ? "persistent from" : "transient", n);
		w = world_new();
		o->prefix(w, v);
		fx_snap_log(w->log, &before);
		rh_prime_errmsg(w->log);
		fx_storage_arm(&w->h.store, n, persistent);
		rc = o->run(w, v);
		fx_storage_disarm(&w->h.store);
		if (w->h.store.failures == 0) {
			CHECK(rc == STG_OK, "%s: failed (%d) without a storage fault", what, rc);
			fx_snap_free(&before);
			world_free(w, what);
			break;
		}
		t->points++;
		t->failed_calls += w->h.store.failures;
		CHECK(rc == STG_ESTORAGE, "%s: returned %d (%s), not STG_ESTORAGE", what, rc,
		      stg_log_errmsg(w->log));
		CHECK(rh_errmsg_fresh(w->log, "storage"), "%s: message '%s'", what, stg_log_errmsg(w->log));
		fx_snap_log(w->log, &after);
		switch (o->kind) {
		case K_STRICT:
			CHECK(rh_snap_diff(&before, &after, RH_CMP_EXACT, why, sizeof why) == 0,
			      "%s: memory changed: %s", what, why);
			break;
		case K_BATCH:
			check_batch(w, &before, &after, what);
			break;
		case K_MATCHING:
		case K_REMOVED:
			check_counted(w, o->kind, &before, &after, what);
			break;
		case K_RESULTS:
			check_results(w, &before, &after, what);
			break;
		case K_FLUSH:
			CHECK(rh_snap_diff(&before, &after, RH_CMP_EXACT, why, sizeof why) == 0,
			      "%s: memory changed: %s", what, why);
			CHECK(w->count == owed(w), "%s: flush says %zu owed, %zu differ from storage", what,
			      w->count, owed(w));
			break;
		}
		if (o->kind == K_RESULTS) {
			still = owed(w);
			CHECK(still >= 1 && (store_kind != S_V1 || still <= (size_t)w->h.store.failures),
			      "%s: %zu entries differ from storage after %ld failed writes", what, still,
			      w->h.store.failures);
			check_reopen(w, 0, what);
			/* The fault clears: flush, or the next call, writes what is owed. */
			if (v % 2 == 0) {
				size_t pending = 99;
				rc = stg_log_flush(w->log, &pending);
				CHECK(rc == STG_OK && pending == 0, "%s: flush: %d, %zu owed", what, rc, pending);
			} else {
				stg_submit s = rh_change("zz", "next", 5, 1);
				rc = stg_log_submit(w->log, &s, NULL);
				CHECK(rc == STG_OK, "%s: the next call failed: %d", what, rc);
			}
			check_mem_store(w, what);
			check_reopen(w, 1, what);
		} else if (o->kind == K_FLUSH) {
			check_reopen(w, 0, what);
			rc = o->run(w, v);
			CHECK(rc == STG_OK && w->count == 0, "%s: the retry: %d, %zu owed", what, rc, w->count);
			check_mem_store(w, what);
			check_reopen(w, 1, what);
		} else {
			check_mem_store(w, what);
			check_reopen(w, 1, what);
			/* The handle still works: the operation now succeeds. */
			if (o->kind == K_BATCH) {
				size_t done = w->done < 3 ? w->done : 0;
				rc = stg_log_submit_batch(w->log, w->batch + done, 3 - done, NULL, NULL);
			} else {
				rc = o->run(w, v);
			}
			CHECK(rc == STG_OK, "%s: the retry failed: %d %s", what, rc, stg_log_errmsg(w->log));
			if (o->kind == K_STRICT || o->kind == K_BATCH) {
				fx_snap s2;
				fx_snap_log(w->log, &s2);
				CHECK(rh_snap_diff(&ref, &s2, RH_CMP_EXACT | RH_CMP_NO_JOB_ID, why, sizeof why) == 0,
				      "%s: the retry ends elsewhere than a run without faults: %s", what, why);
				fx_snap_free(&s2);
			}
			check_mem_store(w, what);
		}
		check_acks_in_memory(w, what);
		fx_snap_free(&before);
		fx_snap_free(&after);
		world_free(w, what);
	}
	CHECK(n <= MAX_N, "%s variant %d: still failing after %d calls", o->name, v, MAX_N);
	fx_snap_free(&ref);
}

static void run_op(const op *o)
{
	tally t[2];
	int mode, v;

	rh_bad = 0;
	for (store_kind = 0; store_kind < S_KINDS; store_kind++) {
		memset(t, 0, sizeof t);
		for (mode = 0; mode < 2; mode++)
			for (v = 0; v < o->nvariants; v++)
				run_variant(o, v, mode, &t[mode]);
		fprintf(stderr,
		        "storage-faults %-18s %-10s transient: %3ld failure points; persistent: %3ld failure "
		        "points (%ld failed calls); %d variants\n",
		        o->name, store_names[store_kind], t[0].points, t[1].points, t[1].failed_calls,
		        o->nvariants);
	}
	store_kind = S_V1;
	if (rh_bad > 5)
		fprintf(stderr, "storage-faults %s: %ld failed expectations in all\n", o->name, rh_bad);
}

#define OP(name, nv, kind, pre, run) static const op op_##name = { #name, nv, kind, pre, run }

OP(submit, 8, K_STRICT, pre_bg, run_submit);
OP(submit_batch, 1, K_BATCH, pre_batch, run_batch);
OP(reprocess, 4, K_STRICT, pre_bg, run_reprocess);
OP(reprocess_matching, 2, K_MATCHING, pre_bg, run_reprocess_matching);
OP(remove, 2, K_STRICT, pre_bg, run_remove);
OP(remove_matching, 2, K_REMOVED, pre_bg, run_remove_matching);
OP(resume, 1, K_MATCHING, pre_resume, run_resume); /* partial progress, documented */
OP(set_catalogued, 1, K_STRICT, pre_bg, run_catalogued);
OP(expire, 1, K_REMOVED, pre_expire, run_expire);
OP(pump, 2, K_RESULTS, pre_pump, run_pump);
OP(complete, 6, K_RESULTS, pre_complete, run_complete);
OP(flush, 1, K_FLUSH, pre_flush, run_flush);

Test(reliability, storage_submit) { run_op(&op_submit); }
Test(reliability, storage_submit_batch) { run_op(&op_submit_batch); }
Test(reliability, storage_reprocess) { run_op(&op_reprocess); }
Test(reliability, storage_reprocess_matching) { run_op(&op_reprocess_matching); }
Test(reliability, storage_remove) { run_op(&op_remove); }
Test(reliability, storage_remove_matching) { run_op(&op_remove_matching); }
Test(reliability, storage_resume) { run_op(&op_resume); }
Test(reliability, storage_set_catalogued) { run_op(&op_set_catalogued); }
Test(reliability, storage_expire) { run_op(&op_expire); }
Test(reliability, storage_pump) { run_op(&op_pump); }
Test(reliability, storage_complete) { run_op(&op_complete); }
Test(reliability, storage_flush) { run_op(&op_flush); }

/* ------------------------------------------------------------ the load */

/* A load that fails on its own (not by a sink verdict) fails the open with
 * STG_ESTORAGE, whatever non-zero value the hook returns. */
Test(reliability, storage_load_failure)
{
	static const int codes[] = { 1, 5, -100, -1, -6 };
	size_t i;

	rh_bad = 0;
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		world *w = world_new();
		stg_log *log2 = (stg_log *)w;
		int rc;
		background(w);
		w->h.store.load_fail = codes[i];
		rh_prime_last_error();
		rc = stg_log_open(&log2, &w->h.opt);
		CHECK(rc == STG_ESTORAGE, "load returning %d: open returned %d (%s), not STG_ESTORAGE",
		      codes[i], rc, stg_last_error());
		CHECK(rh_last_error_fresh(NULL), "load returning %d: message '%s'", codes[i], stg_last_error());
		CHECK(log2 == (stg_log *)w, "load returning %d: *out written", codes[i]);
		w->h.store.load_fail = 0;
		world_free(w, "load");
	}
	fprintf(stderr, "storage-faults %-18s %3zu hook return values tried (1 failure point: the load call)\n",
	        "open_load", sizeof codes / sizeof codes[0]);
}

/* ------------------------------------------------------------ transport */

static void run_transport(int persistent, int batch_only, tally *t)
{
	fx_snap before, after;
	char what[96], why[256];
	long n;

	for (n = 1; n <= MAX_N; n++) {
		world *w = world_new();
		stg_stats st, st0;
		size_t i, k, sent = 99, handed;
		int rc;

		snprintf(what, sizeof what, "transport %s call %ld%s", persistent ? "persistent from" : "transient",
		         n, batch_only ? " (batches)" : "");
		background(w);
		submit_n(w, "b", "t", 9, 0);     /* batches of 4 in b */
		if (!batch_only)
			submit_n(w, "a", "p", 7, 8);
		fx_snap_log(w->log, &before);
		rh_prime_errmsg(w->log);
		cr_assert_eq(stg_log_stats(w->log, NULL, &st0), STG_OK);
		w->nsent_before = w->h.tr.fx.nsent;
		fx_transport_arm(&w->h.tr.fx, n, persistent);
		rc = stg_log_pump(w->log, 0, &sent);
		w->h.tr.fx.fail_at = 0;
		handed = w->h.tr.fx.nsent - w->nsent_before;
		if (w->h.tr.fx.failures == 0) {
			CHECK(rc == STG_OK, "%s: %d without a fault", what, rc);
			world_free(w, what);
			fx_snap_free(&before);
			break;
		}
		t->points++;
		CHECK(rc == STG_ETRANSPORT, "%s: returned %d (%s), not STG_ETRANSPORT", what, rc,
		      stg_log_errmsg(w->log));
		CHECK(rh_errmsg_fresh(w->log, "transport"), "%s: message '%s'", what, stg_log_errmsg(w->log));
		CHECK(sent == handed, "%s: %zu reported sent, %zu handed out", what, sent, handed);
		cr_assert_eq(stg_log_stats(w->log, NULL, &st), STG_OK);
		CHECK(st.attempts - st0.attempts == (uint64_t)handed,
		      "%s: %" PRIu64 " attempts counted, %zu handed out", what, st.attempts - st0.attempts, handed);
		fx_snap_log(w->log, &after);
		/* Entries the transport did not answer are exactly as before. */
		for (i = 0; i < before.n; i++) {
			const stg_entry *b = &before.v[i], *a = fx_snap_find(&after, b->integration, b->sku);
			int answered = 0;
			for (k = w->nsent_before; k < w->h.tr.fx.nsent; k++)
				answered |= !strcmp(w->h.tr.fx.sent[k].integration, b->integration) &&
				            !strcmp(w->h.tr.fx.sent[k].sku, b->sku);
			CHECK(a != NULL, "%s: (%s, %s) lost", what, b->integration, b->sku);
			if (a && !answered)
				CHECK(rh_entry_diff(b, a, RH_CMP_EXACT, why, sizeof why) == 0,
				      "%s: a job the transport failed on changed: %s", what, why);
		}
		check_mem_store(w, what);
		/* Later the transport works again: the jobs go out. */
		w->nsent_before = w->h.tr.fx.nsent;
		rc = stg_log_pump(w->log, 0, &sent);
		CHECK(rc == STG_OK, "%s: the next pump: %d %s", what, rc, stg_log_errmsg(w->log));
		for (i = 0; i < before.n; i++) {
			const stg_entry *b = &before.v[i];
			stg_limit_state ls;
			int out = 0;
			cr_assert_eq(stg_log_limit_state(w->log, b->integration, &ls), STG_OK);
			if (b->job_state != STG_JOB_QUEUED || b->next_attempt_at > w->h.clock.now ||
			    !strcmp(b->integration, "c") || ls.cooling_until)
				continue; /* not due, paused, or its limit cools down after a 429 */
			for (k = 0; k < w->h.tr.fx.nsent; k++)
				out |= !strcmp(w->h.tr.fx.sent[k].integration, b->integration) &&
				       !strcmp(w->h.tr.fx.sent[k].sku, b->sku);
			CHECK(out, "%s: (%s, %s) never sent after the transport recovered", what, b->integration,
			      b->sku);
		}
		check_mem_store(w, what);
		fx_snap_free(&before);
		fx_snap_free(&after);
		world_free(w, what);
	}
}

Test(reliability, transport_faults)
{
	tally t[2];
	int mode;

	rh_bad = 0;
	memset(t, 0, sizeof t);
	for (mode = 0; mode < 2; mode++) {
		run_transport(mode, 0, &t[mode]);
		run_transport(mode, 1, &t[mode]);
	}
	fprintf(stderr, "transport-faults %-16s transient: %3ld failure points; persistent: %3ld failure points\n",
	        "pump", t[0].points, t[1].points);
}
