/*
 * Allocation-failure loop for the integration log, SQLite style.
 *
 * For every public log operation: build a fixed scenario (the prefix) with
 * allocations succeeding, then fail allocation 1, 2, 3 ... of the operation
 * until it runs without reaching the failing allocation, once transiently
 * (only the Nth fails) and once persistently (the Nth and every later one).
 * Each failure must return STG_ENOMEM with a fresh message, leave the log's
 * entries as they were (host calls; compared through stg_log_query) and equal
 * to what storage holds, leave the handle usable (the operation then succeeds
 * and ends where a run without failures ends), and leak nothing (the
 * allocator reports zero live blocks after close). The pump, which records
 * results as it goes, must stay consistent and lose no acknowledgement.
 *
 * The prefixes sweep the number of queued jobs (0..SWEEP-1) so that the
 * operation meets every growth of the entry table, the hash index and the
 * job heaps. The number of failure points reached per operation (and the
 * number of distinct call stacks among them) is printed to stderr.
 *
 * Each loop runs twice: against a version-1 store, and against one with
 * transactions, where the calls that make their own transaction also keep
 * what undoing it would need (and must still change nothing when that
 * memory is refused).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 INT64_C(1700000000000)
#define SWEEP 41
#define MAX_N 400


typedef struct world {
	rh_host h;             /* the fixture and the options */
	stg_log *log;
	stg_policy *pol;
	int64_t seq;
	uint64_t job;          /* the in-flight job that "complete" completes */
	stg_submit batch[3];   /* what "submit_batch" submits */
	size_t done;           /* partial progress reported by the operation */
	size_t count;
	size_t sent;
	size_t nsent_before;
} world;

/* The store the loops run against: version 1, or with transactions. */
static int txn_store;

static world *world_new(void)
{
	world *w = calloc(1, sizeof *w);

	cr_assert_not_null(w);
	rh_host_init(&w->h);
	if (txn_store) {
		w->h.store.transactional = 1;
		w->h.sh = fx_storage_hook(&w->h.store);
	}
	w->h.alloc.record_sites = 1;
	w->seq = 1;
	cr_assert_eq(stg_policy_new(&w->pol, &w->h.alloc.hook), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(w->pol, 2), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(w->pol, "q001", 4), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(w->pol, "q002", 5), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(w->pol, "shoes", 3), STG_OK);
	return w;
}

static void world_open(world *w)
{
	cr_assert_eq(stg_log_open(&w->log, &w->h.opt), STG_OK, "open: %s", stg_last_error());
}

/* Close and check that nothing leaked. */
static void world_free(world *w, const char *what)
{
	stg_log_close(w->log);
	w->log = NULL;
	stg_policy_free(w->pol);
	w->pol = NULL;
	CHECK(w->h.alloc.live_blocks == 0, "%s: %ld blocks (%lld bytes) leaked", what, w->h.alloc.live_blocks,
	      w->h.alloc.live_bytes);
	rh_host_free(&w->h);
	free(w);
}

/* P queued jobs in integration integ. */
static void queue_p(world *w, const char *integ, int p)
{
	char sku[16];
	int i;

	for (i = 0; i < p; i++) {
		snprintf(sku, sizeof sku, "q%03d", i);
		rh_submit(w->log, &w->seq, integ, sku, 3 + i % 9);
	}
}

static void pump(world *w, size_t max)
{
	int rc = stg_log_pump(w->log, max, NULL);
	cr_assert_eq(rc, STG_OK, "prefix pump: %d %s", rc, stg_log_errmsg(w->log));
}

static void make_integs(world *w, int n)
{
	char name[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "i%d", i);
		cr_assert_eq(stg_log_set_limits(w->log, name, 1, 0, 0), STG_OK);
	}
}

/* ------------------------------------------------------------ operations */

enum { K_STRICT, K_BATCH, K_MATCHING, K_PUMP };

typedef struct op {
	const char *name;
	int nvariants;
	int kind;
	void (*prefix)(world *w, int v);
	int (*run)(world *w, int v);
	/* Extra checks after a failure (may be NULL). */
	void (*after_fail)(world *w, int v);
} op;

/* submit of a new SKU: P queued before it, a new integration after I, the
 * first entry of a new entry chunk (1024 before it), or a SKU too long to
 * be kept inline (its copy is allocated). */
#define V_CHUNK (SWEEP + 5)
#define V_LONG (SWEEP + 6)

static void pre_submit_new(world *w, int v)
{
	if (v < SWEEP)
		queue_p(w, "a", v);
	else if (v < V_CHUNK)
		make_integs(w, v - SWEEP);
	else
		queue_p(w, "a", v == V_CHUNK ? 1024 : 3);
}

static int run_submit_new(world *w, int v)
{
	stg_submit s = rh_change(v < SWEEP || v >= V_CHUNK ? "a" : "znew",
	                         v == V_LONG ? "n000-a-sku-kept-on-the-heap" : "n000", 7, w->seq);
	s.category = "shoes";
	return stg_log_submit(w->log, &s, NULL);
}

/* submit of an existing SKU, six situations. */
static void pre_submit_existing(world *w, int v)
{
	int kind = v / SWEEP, p = v % SWEEP;

	switch (kind) {
	case 0: /* coalesce into a queued job */
		rh_submit(w->log, &w->seq, "a", "e000", 50);
		break;
	case 1: /* export from success */
		rh_submit(w->log, &w->seq, "a", "e000", 50);
		rh_answer(&w->h.tr, RH_OK);
		pump(w, 0);
		break;
	case 2: /* export after an error */
		rh_submit(w->log, &w->seq, "a", "e000", 50);
		rh_answer(&w->h.tr, RH_REJECT);
		pump(w, 0);
		break;
	case 3: /* coalesce into a held job */
		rh_submit(w->log, &w->seq, "a", "e000", 50);
		rh_answer(&w->h.tr, RH_NOTCAT);
		pump(w, 0);
		break;
	default: /* 4: stale, 5: skip */
		w->seq = 100;
		rh_submit(w->log, &w->seq, "a", "e000", 50);
		rh_answer(&w->h.tr, RH_OK);
		pump(w, 0);
		p = 20;
		break;
	}
	rh_mixed(&w->h.tr);
	queue_p(w, "a", p);
}

static int run_submit_existing(world *w, int v)
{
	static const int64_t avail[6] = { 0, 3, 4, 2, 1, 60 };
	int kind = v / SWEEP;
	stg_submit s = rh_change("a", "e000", avail[kind < 4 ? kind : 4 + (v - 4 * SWEEP)],
	                         kind < 4 ? w->seq : (v == 4 * SWEEP ? 50 : 200));
	return stg_log_submit(w->log, &s, NULL);
}

static void pre_submit_batch(world *w, int v)
{
	queue_p(w, "a", v);
	w->batch[0] = rh_change("a", "n000", 9, 1000);
	w->batch[1] = rh_change("b", "n001", 0, 1001);
	w->batch[2] = rh_change("a", v ? "q000" : "n002", 1, 1002);
}

static int run_submit_batch(world *w, int v)
{
	w->done = 0;
	return stg_log_submit_batch(w->log, w->batch, 3, NULL, &w->done);
}

/* pump: P queued in a (mixed answers) and 6 in b (batches of 4), or 18
 * held jobs in the waiting heap of a before the P. */
static void pre_pump(world *w, int v)
{
	int kind = v / SWEEP, p = v % SWEEP, i;
	char sku[16];

	cr_assert_eq(stg_log_set_limits(w->log, "b", 4, 0, 0), STG_OK);
	if (kind == 2) {
		/* The waiting heap full of held jobs and two jobs due: the room
		 * for the second result must be found after the first went out. */
		rh_answer(&w->h.tr, RH_NOTCAT);
		for (i = 0; i < 16; i++) {
			snprintf(sku, sizeof sku, "h%03d", i);
			rh_submit(w->log, &w->seq, "a", sku, 3);
		}
		for (i = 0; i < 15; i++)
			pump(w, 1);
		rh_submit(w->log, &w->seq, "a", "x000", 4);
		return;
	}
	if (kind == 1) {
		for (i = 0; i < 18; i++) {
			snprintf(sku, sizeof sku, "h%03d", i);
			rh_submit(w->log, &w->seq, "a", sku, 30);
		}
		rh_answer(&w->h.tr, RH_NOTCAT);
		pump(w, 0);
	}
	rh_mixed(&w->h.tr);
	queue_p(w, "a", p);
	for (i = 0; i < 6; i++) {
		snprintf(sku, sizeof sku, "b%03d", i);
		rh_submit(w->log, &w->seq, "b", sku, 10 * i);
	}
}

static int run_pump(world *w, int v)
{
	w->sent = 0;
	w->nsent_before = w->h.tr.fx.nsent;
	return stg_log_pump(w->log, 0, &w->sent);
}

/* complete: an async job in flight, P queued behind it. */
static void pre_complete(world *w, int v)
{
	int kind = v / SWEEP, p = v % SWEEP;

	rh_submit(w->log, &w->seq, "a", "y000", 20);
	rh_answer(&w->h.tr, RH_ASYNC);
	pump(w, 1);
	cr_assert_eq(w->h.tr.fx.nsent, (size_t)1);
	w->job = w->h.tr.fx.sent[0].id;
	if (kind == 2)
		rh_submit(w->log, &w->seq, "a", "y000", 1); /* a newer change rides behind the flight */
	rh_mixed(&w->h.tr);
	queue_p(w, "a", p);
}

static int run_complete(world *w, int v)
{
	stg_job_result r;

	rh_result_for(v / SWEEP == 1 ? RH_TRANSIENT : RH_OK, &r);
	return stg_log_complete(w->log, w->job, &r);
}

/* pause, set_policy, set_limits: after I integrations, or an existing one. */
static void pre_integ(world *w, int v)
{
	make_integs(w, v < 5 ? v : 1);
	queue_p(w, "a", 3);
}

static const char *integ_name(int v)
{
	return v < 5 ? "new-integ" : "i0";
}

static int run_pause(world *w, int v)
{
	return stg_log_pause(w->log, integ_name(v));
}

static void after_fail_pause(world *w, int v)
{
	int paused = -1;

	cr_assert_eq(stg_log_is_paused(w->log, integ_name(v), &paused), STG_OK);
	CHECK(paused == 0, "pause failed but the integration is paused");
}

static int run_set_policy(world *w, int v)
{
	return stg_log_set_policy(w->log, integ_name(v), w->pol);
}

static int run_set_limits(world *w, int v)
{
	return stg_log_set_limits(w->log, integ_name(v), 2, 10, 1000);
}

static int run_set_limit_scope(world *w, int v)
{
	return stg_log_set_limit_scope(w->log, integ_name(v), "app-key");
}

/* A failed move leaves the integration where it was (or not there at all). */
static void after_fail_scope(world *w, int v)
{
	stg_limit_state s;
	int rc = stg_log_limit_state(w->log, integ_name(v), &s);

	CHECK(rc == STG_ENOTFOUND || (rc == STG_OK && !s.shared),
	      "set_limit_scope failed but the integration is in the scope (%d)", rc);
}

/* resume: three jobs failed auth in one batch, P queued behind. */
static void pre_resume(world *w, int v)
{
	cr_assert_eq(stg_log_set_limits(w->log, "a", 3, 0, 0), STG_OK);
	rh_submit(w->log, &w->seq, "a", "u000", 10);
	rh_submit(w->log, &w->seq, "a", "u001", 11);
	rh_submit(w->log, &w->seq, "a", "u002", 12);
	rh_answer(&w->h.tr, RH_AUTH);
	pump(w, 0);
	rh_mixed(&w->h.tr);
	queue_p(w, "a", v);
}

static int run_resume(world *w, int v)
{
	return stg_log_resume(w->log, "a");
}

static void after_fail_resume(world *w, int v)
{
	int paused = -1;

	cr_assert_eq(stg_log_is_paused(w->log, "a", &paused), STG_OK);
	CHECK(paused == 1, "resume failed but the integration is no longer paused");
}

static void pre_catalogued(world *w, int v)
{
	rh_submit(w->log, &w->seq, "a", "h000", 10);
	rh_answer(&w->h.tr, RH_NOTCAT);
	pump(w, 1);
	rh_mixed(&w->h.tr);
	queue_p(w, "a", v);
}

static int run_catalogued(world *w, int v)
{
	return stg_log_set_catalogued(w->log, "a", "h000");
}

static void pre_reprocess(world *w, int v)
{
	rh_submit(w->log, &w->seq, "a", "r000", 10);
	rh_answer(&w->h.tr, v / SWEEP ? RH_OK : RH_REJECT);
	pump(w, 1);
	rh_mixed(&w->h.tr);
	queue_p(w, "a", v % SWEEP);
}

static int run_reprocess(world *w, int v)
{
	return stg_log_reprocess(w->log, "a", "r000");
}

static void pre_reprocess_matching(world *w, int v)
{
	char sku[16];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(sku, sizeof sku, "r%03d", i);
		rh_submit(w->log, &w->seq, "a", sku, 10 + i);
	}
	rh_answer(&w->h.tr, RH_REJECT);
	pump(w, 0);
	rh_mixed(&w->h.tr);
	queue_p(w, "a", v);
}

static int run_reprocess_matching(world *w, int v)
{
	stg_query q = STG_QUERY_INIT;

	q.status = STG_ENTRY_ERROR;
	w->count = 0;
	return stg_log_reprocess_matching(w->log, &q, &w->count);
}

/* remove, remove_matching, expire, stats, query, flush: settled entries. */
static void pre_settled(world *w, int v)
{
	char sku[16];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(sku, sizeof sku, "s%03d", i);
		rh_submit(w->log, &w->seq, "a", sku, 10 + i);
		rh_answer(&w->h.tr, RH_OK);
		pump(w, 0);
		w->h.clock.now += 1000;
	}
	for (i = 0; i < 3; i++) {
		snprintf(sku, sizeof sku, "x%03d", i);
		rh_submit(w->log, &w->seq, "b", sku, 10 + i);
	}
	rh_answer(&w->h.tr, RH_REJECT);
	pump(w, 2);
	rh_mixed(&w->h.tr);
	queue_p(w, "a", 20);
}

static int run_remove(world *w, int v)
{
	return v ? stg_log_remove(w->log, "a", "q003", STG_REMOVE_FORCE)
	         : stg_log_remove(w->log, "a", "s003", 0);
}

static int run_remove_matching(world *w, int v)
{
	stg_query q = STG_QUERY_INIT;

	q.status = v ? -1 : STG_ENTRY_SUCCESS;
	w->count = 0;
	return stg_log_remove_matching(w->log, &q, v ? STG_REMOVE_FORCE : 0, &w->count);
}

static int run_expire(world *w, int v)
{
	w->count = 0;
	return stg_log_expire(w->log, &w->count);
}

static int run_stats(world *w, int v)
{
	stg_stats st;

	return stg_log_stats(w->log, v ? "a" : NULL, &st);
}

static int run_query(world *w, int v)
{
	stg_entry page[5];
	stg_query q = STG_QUERY_INIT;
	uint64_t cursor = 0;
	size_t count;

	q.sku_prefix = "q";
	return stg_log_query(w->log, v ? &q : NULL, &cursor, page, 5, &count);
}

static int run_counts(world *w, int v)
{
	stg_counts c;

	return stg_log_counts(w->log, v ? "a" : NULL, &c);
}

static int run_flush(world *w, int v)
{
	size_t pending = 99;
	int rc = stg_log_flush(w->log, &pending);

	CHECK(rc != STG_OK || pending == 0, "flush: %zu still owed", pending);
	return rc;
}

/* -------------------------------------------------------------- checking */

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
		CHECK(fx_snap_find(after, ki[i], ks[i]) != NULL, "%s: applied change %zu missing", what, i);
	}
	CHECK(rh_snap_diff_except(before, after, RH_CMP_EXACT, ki, ks, w->done < 3 ? w->done : 3, why,
	                          sizeof why) == 0,
	      "%s: an entry outside the applied changes moved: %s", what, why);
}

/* Exactly `count` entries changed, each now pending with a queued job. */
static void check_matching(world *w, const fx_snap *before, const fx_snap *after, const char *what)
{
	size_t i, changed = 0;
	char why[256];

	CHECK(before->n == after->n, "%s: entry count %zu -> %zu", what, before->n, after->n);
	for (i = 0; i < before->n; i++) {
		const stg_entry *a = fx_snap_find(after, before->v[i].integration, before->v[i].sku);
		if (!a || rh_entry_diff(&before->v[i], a, RH_CMP_EXACT, why, sizeof why) == 0)
			continue;
		changed++;
		CHECK(a->status == STG_ENTRY_PENDING && a->job_state == STG_JOB_QUEUED,
		      "%s: (%s, %s) changed but is not queued", what, a->integration, a->sku);
	}
	CHECK(changed == w->count, "%s: %zu entries changed, count says %zu", what, changed, w->count);
}

/* The pump's results: every job handed out has its result recorded, the
 * others are untouched, and every acknowledgement is kept. */
static void check_pump(world *w, const fx_snap *before, const fx_snap *after, int rc, const char *what)
{
	size_t i, k, nsent = w->h.tr.fx.nsent - w->nsent_before;
	char why[256];

	CHECK(w->sent == nsent, "%s: pump returned %d reporting %zu sent, the transport got %zu", what, rc,
	      w->sent, nsent);
	CHECK(before->n == after->n, "%s: entry count %zu -> %zu", what, before->n, after->n);
	for (i = 0; i < before->n; i++) {
		const stg_entry *b = &before->v[i], *a = fx_snap_find(after, b->integration, b->sku);
		const fx_sent *s = NULL;
		if (!a) {
			CHECK(0, "%s: (%s, %s) lost", what, b->integration, b->sku);
			continue;
		}
		for (k = w->nsent_before; k < w->h.tr.fx.nsent; k++)
			if (!strcmp(w->h.tr.fx.sent[k].integration, b->integration) && !strcmp(w->h.tr.fx.sent[k].sku, b->sku))
				s = &w->h.tr.fx.sent[k];
		if (!s) {
			CHECK(rh_entry_diff(b, a, RH_CMP_EXACT, why, sizeof why) == 0,
			      "%s: entry not sent changed: %s", what, why);
			continue;
		}
		switch (s->answer) {
		case RH_OK:
			CHECK((a->flags & STG_ENTRY_HAS_ACKED) && a->acked == s->published,
			      "%s: (%s, %s) acknowledgement of %" PRId64 " lost (acked %" PRId64 ", flags 0x%x)",
			      what, a->integration, a->sku, s->published, a->acked, a->flags);
			CHECK(a->status == STG_ENTRY_SUCCESS || a->job_state == STG_JOB_QUEUED,
			      "%s: (%s, %s) acknowledged but status %d", what, a->integration, a->sku, a->status);
			break;
		case RH_ASYNC:
			CHECK(a->job_state == STG_JOB_IN_FLIGHT, "%s: async job not in flight", what);
			break;
		case RH_REJECT:
			CHECK(a->status == STG_ENTRY_ERROR && a->error_class == STG_ERRCLASS_REJECTED,
			      "%s: rejected job recorded as status %d class %d", what, a->status, a->error_class);
			break;
		case RH_NOTCAT:
			CHECK(a->job_state == STG_JOB_HELD && a->error_class == STG_ERRCLASS_NOT_CATALOGUED,
			      "%s: not-catalogued job recorded as state %d class %d", what, a->job_state,
			      a->error_class);
			break;
		case RH_TRANSIENT:
			CHECK(a->error_class == STG_ERRCLASS_TRANSIENT && a->attempts == b->attempts + 1,
			      "%s: transient failure recorded as class %d attempts %u", what, a->error_class,
			      a->attempts);
			break;
		case RH_RATE:
			CHECK(a->error_class == STG_ERRCLASS_RATE_LIMITED && a->job_state == STG_JOB_QUEUED &&
			      a->next_attempt_at >= w->h.clock.now + 2000,
			      "%s: rate-limited job recorded as class %d, due %" PRId64, what, a->error_class,
			      a->next_attempt_at - w->h.clock.now);
			break;
		default:
			break;
		}
	}
}

/* ------------------------------------------------------------ the loop */

typedef struct tally {
	long points, enomem, absorbed;
	uint64_t sites[FX_SITE_MAX];
	size_t nsites;
} tally;

static void run_variant(const op *o, int v, int persistent, tally *t)
{
	world *w;
	fx_snap ref, before, after;
	char what[96], why[256];
	long n;
	int rc;

	/* The run without failures: where a retry must end up. */
	w = world_new();
	world_open(w);
	o->prefix(w, v);
	rc = o->run(w, v);
	cr_assert_eq(rc, STG_OK, "%s/%d without failures: %d %s", o->name, v, rc, stg_log_errmsg(w->log));
	fx_snap_log(w->log, &ref);
	world_free(w, o->name);

	for (n = 1; n <= MAX_N; n++) {
		snprintf(what, sizeof what, "%s variant %d (%s store), %s allocation %ld", o->name, v,
		         txn_store ? "txn" : "v1", persistent ? "persistent from" : "transient", n);
		w = world_new();
		world_open(w);
		o->prefix(w, v);
		fx_snap_log(w->log, &before);
		rh_prime_errmsg(w->log);
		fx_alloc_arm(&w->h.alloc, n, persistent);
		rc = o->run(w, v);
		fx_alloc_disarm(&w->h.alloc);
		if (w->h.alloc.failures == 0) {
			CHECK(rc == STG_OK, "%s: failed (%d) with no allocation failure", what, rc);
			fx_snap_free(&before);
			world_free(w, what);
			break;
		}
		t->points++;
		fx_site_add(t->sites, &t->nsites, w->h.alloc.last_site);
		fx_snap_log(w->log, &after);
		if (rc == STG_OK) {
			/* The failure was absorbed (a lost message, a skipped percentile). */
			t->absorbed++;
			if (o->kind == K_PUMP)
				check_pump(w, &before, &after, rc, what);
		} else {
			t->enomem++;
			CHECK(rc == STG_ENOMEM, "%s: returned %d (%s), not STG_ENOMEM", what, rc,
			      stg_log_errmsg(w->log));
			CHECK(rh_errmsg_fresh(w->log, "memory"), "%s: message '%s'", what, stg_log_errmsg(w->log));
			switch (o->kind) {
			case K_STRICT:
				CHECK(rh_snap_diff(&before, &after, RH_CMP_EXACT, why, sizeof why) == 0,
				      "%s: the log changed: %s", what, why);
				break;
			case K_BATCH:
				check_batch(w, &before, &after, what);
				break;
			case K_MATCHING:
				check_matching(w, &before, &after, what);
				break;
			case K_PUMP:
				check_pump(w, &before, &after, rc, what);
				break;
			}
			if (o->after_fail)
				o->after_fail(w, v);
			check_mem_store(w, what);
			/* The handle still works: the operation now succeeds. */
			if (o->kind == K_BATCH) {
				size_t done = w->done < 3 ? w->done : 0;
				rc = stg_log_submit_batch(w->log, w->batch + done, 3 - done, NULL, NULL);
			} else {
				rc = o->run(w, v);
			}
			CHECK(rc == STG_OK, "%s: the retry failed: %d %s", what, rc, stg_log_errmsg(w->log));
			if (o->kind != K_PUMP) {
				fx_snap s2;
				fx_snap_log(w->log, &s2);
				CHECK(rh_snap_diff(&ref, &s2, RH_CMP_EXACT | RH_CMP_NO_JOB_ID, why, sizeof why) == 0,
				      "%s: the retry ends elsewhere than a run without failures: %s", what, why);
				fx_snap_free(&s2);
			}
		}
		check_mem_store(w, what);
		fx_snap_free(&before);
		fx_snap_free(&after);
		world_free(w, what);
	}
	CHECK(n <= MAX_N, "%s variant %d: still failing after %d allocations", o->name, v, MAX_N);
	fx_snap_free(&ref);
}

static void run_op(const op *o)
{
	tally t[2];
	int mode, v;

	rh_bad = 0;
	for (txn_store = 0; txn_store < 2; txn_store++) {
		memset(t, 0, sizeof t);
		for (mode = 0; mode < 2; mode++)
			for (v = 0; v < o->nvariants; v++)
				run_variant(o, v, mode, &t[mode]);
		fprintf(stderr,
		        "alloc-loop %-18s %-3s transient: %4ld failure points (%ld ENOMEM, %ld absorbed), %2zu "
		        "distinct call stacks; persistent: %4ld (%ld ENOMEM, %ld absorbed), %2zu stacks; %d "
		        "variants\n",
		        o->name, txn_store ? "txn" : "v1", t[0].points, t[0].enomem, t[0].absorbed, t[0].nsites,
		        t[1].points, t[1].enomem, t[1].absorbed, t[1].nsites, o->nvariants);
	}
	txn_store = 0;
	if (rh_bad > 5)
		fprintf(stderr, "alloc-loop %s: %ld failed expectations in all\n", o->name, rh_bad);
}

#define OP(name, nv, kind, pre, run, after) \
	static const op op_##name = { #name, nv, kind, pre, run, after }

OP(submit_new, SWEEP + 7, K_STRICT, pre_submit_new, run_submit_new, NULL);
OP(submit_existing, 4 * SWEEP + 2, K_STRICT, pre_submit_existing, run_submit_existing, NULL);
OP(submit_batch, SWEEP, K_BATCH, pre_submit_batch, run_submit_batch, NULL);
OP(pump, 2 * SWEEP + 1, K_PUMP, pre_pump, run_pump, NULL);
OP(complete, 3 * SWEEP, K_STRICT, pre_complete, run_complete, NULL);
OP(set_policy, 6, K_STRICT, pre_integ, run_set_policy, NULL);
OP(set_limits, 6, K_STRICT, pre_integ, run_set_limits, NULL);
OP(set_limit_scope, 6, K_STRICT, pre_integ, run_set_limit_scope, after_fail_scope);
OP(pause, 6, K_STRICT, pre_integ, run_pause, after_fail_pause);
OP(resume, SWEEP, K_STRICT, pre_resume, run_resume, after_fail_resume);
OP(set_catalogued, SWEEP, K_STRICT, pre_catalogued, run_catalogued, NULL);
OP(reprocess, 2 * SWEEP, K_STRICT, pre_reprocess, run_reprocess, NULL);
OP(reprocess_matching, SWEEP, K_MATCHING, pre_reprocess_matching, run_reprocess_matching, NULL);
OP(remove, 2, K_STRICT, pre_settled, run_remove, NULL);
OP(remove_matching, 2, K_STRICT, pre_settled, run_remove_matching, NULL);
OP(expire_count, 1, K_STRICT, pre_settled, run_expire, NULL);
OP(stats, 2, K_STRICT, pre_settled, run_stats, NULL);
OP(query, 2, K_STRICT, pre_settled, run_query, NULL);
OP(counts, 2, K_STRICT, pre_settled, run_counts, NULL);
OP(flush, 1, K_STRICT, pre_settled, run_flush, NULL);

Test(reliability, alloc_submit_new) { run_op(&op_submit_new); }
Test(reliability, alloc_submit_existing) { run_op(&op_submit_existing); }
Test(reliability, alloc_submit_batch) { run_op(&op_submit_batch); }
Test(reliability, alloc_pump) { run_op(&op_pump); }
Test(reliability, alloc_complete) { run_op(&op_complete); }
Test(reliability, alloc_set_policy) { run_op(&op_set_policy); }
Test(reliability, alloc_set_limits) { run_op(&op_set_limits); }
Test(reliability, alloc_set_limit_scope) { run_op(&op_set_limit_scope); }
Test(reliability, alloc_pause) { run_op(&op_pause); }
Test(reliability, alloc_resume) { run_op(&op_resume); }
Test(reliability, alloc_set_catalogued) { run_op(&op_set_catalogued); }
Test(reliability, alloc_reprocess) { run_op(&op_reprocess); }
Test(reliability, alloc_reprocess_matching) { run_op(&op_reprocess_matching); }
Test(reliability, alloc_remove) { run_op(&op_remove); }
Test(reliability, alloc_remove_matching) { run_op(&op_remove_matching); }
Test(reliability, alloc_expire_count) { run_op(&op_expire_count); }
Test(reliability, alloc_stats) { run_op(&op_stats); }
Test(reliability, alloc_query) { run_op(&op_query); }
Test(reliability, alloc_counts) { run_op(&op_counts); }
Test(reliability, alloc_flush) { run_op(&op_flush); }

/* ------------------------------------------------------------------ open */

/* A storage holding 73 entries in 5 integrations: queued, in flight, held,
 * retrying, failed for good (with messages), acknowledged, and one
 * integration paused by an auth failure. Built with the C allocator. */
static void build_stored(world *w)
{
	stg_log_options o = w->h.opt;
	stg_log *log;
	char sku[16];
	int i;

	o.allocator = NULL;
	cr_assert_eq(stg_log_open(&log, &o), STG_OK);
	for (i = 0; i < 40; i++) {
		stg_submit s;
		snprintf(sku, sizeof sku, "q%03d", i);
		s = rh_change("i0", sku, i, i + 1);
		cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	}
	for (i = 0; i < 14; i++) {
		stg_submit s;
		snprintf(sku, sizeof sku, "m%03d", i);
		s = rh_change("i1", sku, 3 + i, i + 1);
		cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	}
	w->h.tr.use_by_sku = 1;
	cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
	for (i = 0; i < 3; i++) {
		stg_submit s;
		snprintf(sku, sizeof sku, "u%03d", i);
		s = rh_change("i2", sku, 8, 1);
		cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	}
	w->h.tr.use_by_sku = 0;
	w->h.tr.fixed = RH_AUTH;
	cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
	for (i = 0; i < 10; i++) {
		stg_submit s;
		snprintf(sku, sizeof sku, "s%03d", i);
		s = rh_change("i3", sku, 20 + i, 1);
		cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	}
	w->h.tr.fixed = RH_OK;
	cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
	for (i = 0; i < 6; i++) {
		stg_submit s;
		snprintf(sku, sizeof sku, "z%03d", i);
		s = rh_change("i4", sku, 2, 1);
		cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	}
	stg_log_close(log);
	cr_assert_eq(w->h.store.n, (size_t)73);
}

static void run_open(int v, int persistent, tally *t)
{
	stg_log *const sentinel = (stg_log *)&sentinel;
	fx_snap ref;
	world *w;
	char what[96], why[256];
	long n;
	int rc;

	w = world_new();
	if (v == 0)
		w->h.opt.storage = NULL;
	if (v == 2)
		build_stored(w);
	world_open(w);
	fx_snap_log(w->log, &ref);
	world_free(w, "open");

	for (n = 1; n <= MAX_N; n++) {
		stg_log *log = sentinel;
		snprintf(what, sizeof what, "open variant %d, %s allocation %ld", v,
		         persistent ? "persistent from" : "transient", n);
		w = world_new();
		if (v == 0)
			w->h.opt.storage = NULL;
		if (v == 2)
			build_stored(w);
		rh_prime_last_error();
		fx_alloc_arm(&w->h.alloc, n, persistent);
		rc = stg_log_open(&log, &w->h.opt);
		fx_alloc_disarm(&w->h.alloc);
		if (w->h.alloc.failures == 0) {
			CHECK(rc == STG_OK, "%s: failed (%d) with no allocation failure", what, rc);
			w->log = log;
			world_free(w, what);
			break;
		}
		t->points++;
		fx_site_add(t->sites, &t->nsites, w->h.alloc.last_site);
		if (rc == STG_OK) {
			t->absorbed++;
			w->log = log;
		} else {
			fx_snap s2;
			t->enomem++;
			CHECK(rc == STG_ENOMEM, "%s: returned %d (%s)", what, rc, stg_last_error());
			CHECK(log == sentinel, "%s: *out was written on failure", what);
			CHECK(stg_last_error_code() == rc, "%s: stg_last_error_code %d", what, stg_last_error_code());
			CHECK(rh_last_error_fresh("memory"), "%s: message '%s'", what, stg_last_error());
			/* The policy is the test's; everything else must be gone. */
			stg_policy_free(w->pol);
			w->pol = NULL;
			CHECK(w->h.alloc.live_blocks == 0, "%s: the failed open leaked %ld blocks (%lld bytes)", what,
			      w->h.alloc.live_blocks, w->h.alloc.live_bytes);
			rc = stg_log_open(&w->log, &w->h.opt);
			CHECK(rc == STG_OK, "%s: the retry failed: %s", what, stg_last_error());
			if (rc != STG_OK) {
				w->log = NULL;
				world_free(w, what);
				continue;
			}
			fx_snap_log(w->log, &s2);
			CHECK(rh_snap_diff(&ref, &s2, RH_CMP_EXACT, why, sizeof why) == 0,
			      "%s: the retry loaded something else: %s", what, why);
			fx_snap_free(&s2);
		}
		world_free(w, what);
	}
	fx_snap_free(&ref);
}

static void open_loop(const char *name, int v0, int v1)
{
	tally t[2];
	int mode, v;

	rh_bad = 0;
	memset(t, 0, sizeof t);
	for (mode = 0; mode < 2; mode++)
		for (v = v0; v <= v1; v++)
			run_open(v, mode, &t[mode]);
	fprintf(stderr,
	        "alloc-loop %-18s transient: %4ld failure points (%ld ENOMEM, %ld absorbed), %2zu distinct "
	        "call stacks; persistent: %4ld (%ld ENOMEM, %ld absorbed), %2zu stacks\n",
	        name, t[0].points, t[0].enomem, t[0].absorbed, t[0].nsites, t[1].points, t[1].enomem,
	        t[1].absorbed, t[1].nsites);
	if (rh_bad > 5)
		fprintf(stderr, "alloc-loop %s: %ld failed expectations in all\n", name, rh_bad);
}

Test(reliability, alloc_open) { open_loop("open", 0, 1); }
Test(reliability, alloc_open_load) { open_loop("open_load", 2, 2); }

/* ------------------------------------------------------ allocator owner */

/*
 * A log owns what it allocates: a policy given to stg_log_set_policy() is
 * copied, and the host may free that policy (and the allocator it was made
 * with: "must stay valid until the handle is freed") right after. The log
 * must then never call that allocator again.
 */
static int g_policy_alloc_dead;
static long g_policy_alloc_calls_after_death;

static void *pa_malloc(size_t size, void *payload)
{
	g_policy_alloc_calls_after_death += g_policy_alloc_dead;
	return malloc(size);
}

static void *pa_realloc(void *ptr, size_t size, void *payload)
{
	g_policy_alloc_calls_after_death += g_policy_alloc_dead;
	return realloc(ptr, size);
}

static void pa_free(void *ptr, void *payload)
{
	g_policy_alloc_calls_after_death += g_policy_alloc_dead && ptr;
	free(ptr);
}

Test(reliability, alloc_log_copies_policy_with_its_own_allocator)
{
	stg_allocator pa = STG_ALLOCATOR_INIT;
	stg_policy *pol;
	world *w = world_new();
	long before;

	pa.malloc_fn = pa_malloc;
	pa.realloc_fn = pa_realloc;
	pa.free_fn = pa_free;
	world_open(w);
	queue_p(w, "a", 2); /* the integration exists: set_policy only copies */
	cr_assert_eq(stg_policy_new(&pol, &pa), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(pol, "q000", 3), STG_OK);
	before = w->h.alloc.attempts;
	cr_assert_eq(stg_log_set_policy(w->log, "a", pol), STG_OK);
	stg_policy_free(pol);
	g_policy_alloc_dead = 1; /* the host is done with that allocator */
	queue_p(w, "a", 2);
	stg_log_close(w->log);
	w->log = NULL;
	g_policy_alloc_dead = 0;
	cr_expect(w->h.alloc.attempts > before,
	          "stg_log_set_policy copied the policy without the log's allocator");
	cr_expect_eq(g_policy_alloc_calls_after_death, 0,
	             "the log called the policy's allocator %ld times after the host freed the policy",
	             g_policy_alloc_calls_after_death);
	world_free(w, "policy allocator");
}
