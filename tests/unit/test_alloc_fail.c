/*
 * Allocation-failure injection, SQLite style: a counting allocator fails the
 * 1st, then the 2nd, ... allocation of an operation until it succeeds, and
 * again with every allocation failing from the Nth on. Each failure must
 * return STG_ENOMEM, leak nothing and change nothing.
 */
#include <criterion/criterion.h>

#include <stockguard/filter.h>
#include <stockguard/policy.h>

#include "fixture.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the counting allocator: the shared fixture's (tests/common) ---- */

static fx_alloc ctr;
static stg_allocator alloc;

/* A broken expectation inside the allocator fails the test. */
static void fail_test(const char *message)
{
	cr_assert_fail("%s", message);
}

static void setup(void)
{
	fx_set_failure_handler(fail_test);
	fx_alloc_init(&ctr);
	alloc = ctr.hook;
	cr_assert_eq(alloc.version, (unsigned)STG_ALLOCATOR_VERSION);
}

/*
 * Called at the end of each test, not as the suite's .fini: Criterion 2.4
 * prints a failed assertion in .fini but still counts the test as passed.
 */
static void expect_no_leaks(void)
{
	cr_assert_eq(ctr.live_blocks, 0, "%ld blocks leaked", ctr.live_blocks);
	cr_assert_eq(ctr.live_bytes, 0, "%lld bytes leaked", ctr.live_bytes);
}

static void arm(long fail_at, int persistent)
{
	fx_alloc_arm(&ctr, fail_at, persistent);
}

static void disarm(void)
{
	fx_alloc_disarm(&ctr);
}

TestSuite(alloc_fail, .init = setup);

/* ---- what a policy holds, to prove a failure changed nothing ---- */

enum { NKEYS = 60 };

static void key(char *buf, size_t n, const char *kind, int i)
{
	snprintf(buf, n, "%s-%d", kind, i);
}

/* Overrides 0..n-1 of each kind are set (sku i -> 100+i, category i -> 500+i). */
static void expect_overrides(const stg_policy *p, int n_sku, int n_cat)
{
	char k[32];
	int64_t min;
	int src, i;

	for (i = 0; i < NKEYS + 1; i++) {
		key(k, sizeof k, "sku", i);
		cr_assert_eq(stg_policy_resolve_min(p, k, NULL, &min, &src), STG_OK);
		if (i < n_sku) {
			cr_assert_eq(src, STG_MIN_SKU, "sku %d lost", i);
			cr_assert_eq(min, 100 + i);
		} else {
			cr_assert_eq(src, STG_MIN_DEFAULT, "sku %d appeared", i);
			cr_assert_eq(min, 3);
		}
		key(k, sizeof k, "cat", i);
		cr_assert_eq(stg_policy_resolve_min(p, NULL, k, &min, &src), STG_OK);
		if (i < n_cat) {
			cr_assert_eq(src, STG_MIN_CATEGORY, "category %d lost", i);
			cr_assert_eq(min, 500 + i);
		} else {
			cr_assert_eq(src, STG_MIN_DEFAULT, "category %d appeared", i);
			cr_assert_eq(min, 3);
		}
	}
}

static void expect_settings(const stg_policy *p)
{
	cr_assert_eq(stg_policy_min_stock(p), 3);
	cr_assert_eq(stg_policy_mode(p), STG_MODE_RESERVE);
	cr_assert_eq(stg_policy_allocation(p), 70);
	cr_assert_eq(stg_policy_cap(p), 1000);
	cr_assert_eq(stg_policy_window(p), 9);
	cr_assert_eq(stg_policy_drift(p), 20);
	cr_assert_eq(stg_policy_heartbeat(p), 60000);
}

static stg_policy *new_policy(void)
{
	stg_policy *p = NULL;

	disarm();
	cr_assert_eq(stg_policy_new(&p, &alloc), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 3), STG_OK);
	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 70), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, 1000), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, 9), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 20), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, 60000), STG_OK);
	return p;
}

static void add_overrides(stg_policy *p, int n_sku, int n_cat)
{
	char k[32];
	int i;

	disarm();
	for (i = 0; i < n_sku; i++) {
		key(k, sizeof k, "sku", i);
		cr_assert_eq(stg_policy_set_sku_min(p, k, 100 + i), STG_OK);
	}
	for (i = 0; i < n_cat; i++) {
		key(k, sizeof k, "cat", i);
		cr_assert_eq(stg_policy_set_category_min(p, k, 500 + i), STG_OK);
	}
}

/* ---- transient failures: the Nth allocation fails, then all succeed ---- */

Test(alloc_fail, policy_new)
{
	long n;
	int failures = 0;

	for (n = 1;; n++) {
		int sentinel;
		stg_policy *const untouched = (stg_policy *)&sentinel;
		stg_policy *p = untouched;
		int rc;

		arm(n, 0);
		rc = stg_policy_new(&p, &alloc);
		disarm();
		if (rc == STG_OK) {
			cr_assert_neq(p, untouched);
			cr_assert_eq(stg_policy_window(p), 5);
			stg_policy_free(p);
			break;
		}
		failures++;
		cr_assert_eq(rc, STG_ENOMEM, "allocation %ld: %s", n, stg_strerror(rc));
		cr_assert_eq(p, untouched, "allocation %ld: out written on failure", n);
		cr_assert_eq(stg_last_error_code(), STG_ENOMEM);
		cr_assert_str_neq(stg_last_error(), "");
		cr_assert_eq(ctr.live_blocks, 0, "allocation %ld: leaked", n);
	}
	cr_assert_gt(failures, 0, "stg_policy_new never allocated through the hook");
	expect_no_leaks();
}

static void copy_loop(int n_sku, int n_cat)
{
	stg_policy *src = new_policy();
	long n, base;
	int failures = 0;

	add_overrides(src, n_sku, n_cat);
	base = ctr.live_blocks;
	for (n = 1;; n++) {
		int sentinel;
		stg_policy *const untouched = (stg_policy *)&sentinel;
		stg_policy *q = untouched;
		long long bytes = ctr.live_bytes;
		int rc;

		arm(n, 0);
		rc = stg_policy_copy(&q, src);
		disarm();
		if (rc == STG_OK) {
			cr_assert_neq(q, untouched);
			expect_settings(q);
			expect_overrides(q, n_sku, n_cat);
			stg_policy_free(q);
			break;
		}
		failures++;
		cr_assert_eq(rc, STG_ENOMEM, "allocation %ld: %s", n, stg_strerror(rc));
		cr_assert_eq(q, untouched, "allocation %ld: out written on failure", n);
		cr_assert_str_neq(stg_last_error(), "");
		cr_assert_eq(ctr.live_blocks, base, "allocation %ld: %ld blocks leaked", n,
		             ctr.live_blocks - base);
		cr_assert_eq(ctr.live_bytes, bytes, "allocation %ld: bytes leaked", n);
		/* The source is only read. */
		expect_settings(src);
		expect_overrides(src, n_sku, n_cat);
	}
	/* One block for the policy plus a table and a key per override at least. */
	cr_assert_geq(failures, 1 + (n_sku ? 1 + n_sku : 0) + (n_cat ? 1 + n_cat : 0),
	              "only %d allocation points in stg_policy_copy", failures);
	stg_policy_free(src);
}

Test(alloc_fail, policy_copy_empty)
{
	copy_loop(0, 0);
	expect_no_leaks();
}

Test(alloc_fail, policy_copy_with_overrides)
{
	copy_loop(50, 50);
	copy_loop(50, 0);
	copy_loop(0, 7);
	expect_no_leaks();
}

/*
 * Insert NKEYS overrides one by one into the same policy, failing the 1st,
 * 2nd, ... allocation of each insert: the table grows several times on the
 * way (at 7, 13, 25, 49 entries with the current load factor), and every
 * failure, growth or not, must leave the previous overrides intact.
 */
static void insert_loop(int category)
{
	stg_policy *p = new_policy();
	int i, grew = 0;

	for (i = 0; i < NKEYS; i++) {
		char k[32];
		long n;

		key(k, sizeof k, category ? "cat" : "sku", i);
		for (n = 1;; n++) {
			long blocks = ctr.live_blocks;
			long long bytes = ctr.live_bytes;
			int rc;

			arm(n, 0);
			rc = category ? stg_policy_set_category_min(p, k, 500 + i)
			              : stg_policy_set_sku_min(p, k, 100 + i);
			disarm();
			if (rc == STG_OK)
				break;
			cr_assert_eq(rc, STG_ENOMEM, "insert %d, allocation %ld: %s", i, n,
			             stg_strerror(rc));
			cr_assert_str_neq(stg_policy_errmsg(p), "");
			cr_assert_eq(stg_last_error_code(), STG_ENOMEM);
			cr_assert_eq(ctr.live_blocks, blocks, "insert %d, allocation %ld: leaked", i, n);
			cr_assert_eq(ctr.live_bytes, bytes);
			expect_overrides(p, category ? 0 : i, category ? i : 0);
			expect_settings(p);
		}
		cr_assert_gt(n, 1, "insert %d did not allocate", i);
		if (n > 2)
			grew++;
		expect_overrides(p, category ? 0 : i + 1, category ? i + 1 : 0);

		/* Replacing an existing key needs no memory: it works while failing. */
		arm(1, 1);
		cr_assert_eq(category ? stg_policy_set_category_min(p, k, 500 + i)
		                      : stg_policy_set_sku_min(p, k, 100 + i),
		             STG_OK, "replacing key %d failed", i);
		cr_assert_eq(ctr.attempts, 0, "replacing key %d allocated", i);
		disarm();
	}
	cr_assert_geq(grew, 3, "the table grew only %d times", grew);
	stg_policy_free(p);
}

Test(alloc_fail, set_sku_min_with_growth)
{
	insert_loop(0);
	expect_no_leaks();
}

Test(alloc_fail, set_category_min_with_growth)
{
	insert_loop(1);
	expect_no_leaks();
}

/* Calls that have no reason to allocate must not, even on a full memory. */
Test(alloc_fail, read_paths_do_not_allocate)
{
	stg_policy *p = new_policy();
	stg_change c = STG_CHANGE_INIT;
	stg_filter_result r;
	stg_evaluation e;
	const int64_t from[2] = { 10, 20 }, to[2] = { 3, 40 };
	const char *const skus[2] = { "sku-1", NULL }, *const cats[2] = { "cat-2", "cat-3" };
	uint8_t dec[2], rea[2], warn[2];
	int64_t pub[2];

	add_overrides(p, 10, 10);
	arm(1, 1);
	c.flags = STG_CHANGE_HAS_FROM;
	c.sku = "sku-1";
	c.from = 10;
	c.to = 3;
	cr_assert_eq(stg_filter_decide(p, &c, &r), STG_OK);
	cr_assert_eq(stg_policy_evaluate(p, "sku-2", "cat-1", 50, &e), STG_OK);
	cr_assert_eq(stg_policy_evaluate_batch(p, 2, skus, cats, to, pub, warn), STG_OK);
	cr_assert_eq(stg_filter_batch(p, 2, skus, cats, from, NULL, to, NULL, NULL, dec, rea, pub,
	                              warn),
	             STG_OK);
	cr_assert_eq(stg_policy_resolve_min(p, "sku-3", NULL, NULL, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 4), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, 5), STG_OK);
	cr_assert_eq(stg_policy_clear_sku_min(p, "sku-4"), STG_OK);
	cr_assert_eq(stg_policy_clear_category_min(p, "cat-4"), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 0), STG_ERANGE);
	cr_assert_eq(ctr.attempts, 0, "%ld allocations on read paths", ctr.attempts);
	disarm();
	stg_policy_free(p);
	expect_no_leaks();
}

/* ---- persistent failures: every allocation from the Nth on fails ---- */

/*
 * A whole scenario (new, 50 + 50 inserts, copy, inserts into the copy) run
 * with memory running out for good at allocation N, for every N until it
 * completes. Every call either succeeds or returns STG_ENOMEM; what
 * succeeded must still be there; freeing what exists must return every
 * byte.
 */
Test(alloc_fail, persistent)
{
	long n;

	for (n = 1;; n++) {
		stg_policy *p = NULL, *q = NULL;
		int n_sku = 0, n_cat = 0, q_sku = 0, i, rc, failed = 0;
		char k[32];

		arm(n, 1);
		rc = stg_policy_new(&p, &alloc);
		if (rc != STG_OK) {
			cr_assert_eq(rc, STG_ENOMEM);
			cr_assert_null(p);
			failed = 1;
			goto check;
		}
		/* Setters that do not allocate keep working after memory ran out. */
		cr_assert_eq(stg_policy_set_min_stock(p, 3), STG_OK);
		for (i = 0; i < 50; i++) {
			key(k, sizeof k, "sku", i);
			rc = stg_policy_set_sku_min(p, k, 100 + i);
			cr_assert(rc == STG_OK || rc == STG_ENOMEM, "insert: %s", stg_strerror(rc));
			if (rc == STG_OK) {
				cr_assert_eq(n_sku, i, "an insert succeeded after one failed for good");
				n_sku++;
			} else {
				failed = 1;
			}
			key(k, sizeof k, "cat", i);
			rc = stg_policy_set_category_min(p, k, 500 + i);
			cr_assert(rc == STG_OK || rc == STG_ENOMEM);
			if (rc == STG_OK)
				n_cat++;
			else
				failed = 1;
		}
		{
			/* Check with the model's expectations; resolution never allocates. */
			int64_t min;
			int src;
			for (i = 0; i < 51; i++) {
				key(k, sizeof k, "sku", i);
				cr_assert_eq(stg_policy_resolve_min(p, k, NULL, &min, &src), STG_OK);
				cr_assert_eq(src, i < n_sku ? STG_MIN_SKU : STG_MIN_DEFAULT);
				cr_assert_eq(min, i < n_sku ? 100 + i : 3);
				key(k, sizeof k, "cat", i);
				cr_assert_eq(stg_policy_resolve_min(p, NULL, k, &min, &src), STG_OK);
				cr_assert_eq(src, i < n_cat ? STG_MIN_CATEGORY : STG_MIN_DEFAULT);
				cr_assert_eq(min, i < n_cat ? 500 + i : 3);
			}
		}
		rc = stg_policy_copy(&q, p);
		cr_assert(rc == STG_OK || rc == STG_ENOMEM);
		if (rc == STG_OK) {
			for (i = 50; i < 60; i++) {
				key(k, sizeof k, "sku", i);
				rc = stg_policy_set_sku_min(q, k, 100 + i);
				cr_assert(rc == STG_OK || rc == STG_ENOMEM);
				if (rc == STG_OK)
					q_sku++;
				else
					failed = 1;
			}
			/* The copy has what the source had, and the source gained nothing. */
			for (i = 0; i < 60; i++) {
				int64_t min;
				int src, want = i < n_sku || (i >= 50 && i < 50 + q_sku);
				key(k, sizeof k, "sku", i);
				cr_assert_eq(stg_policy_resolve_min(q, k, NULL, &min, &src), STG_OK);
				cr_assert_eq(src, want ? STG_MIN_SKU : STG_MIN_DEFAULT, "copy, sku %d", i);
				cr_assert_eq(stg_policy_resolve_min(p, k, NULL, &min, &src), STG_OK);
				cr_assert_eq(src, i < n_sku ? STG_MIN_SKU : STG_MIN_DEFAULT);
			}
		} else {
			cr_assert_null(q, "out written on failure");
			failed = 1;
		}
	check:
		disarm();
		stg_policy_free(q);
		stg_policy_free(p);
		cr_assert_eq(ctr.live_blocks, 0, "fail from %ld on: %ld blocks leaked", n,
		             ctr.live_blocks);
		cr_assert_eq(ctr.live_bytes, 0, "fail from %ld on: bytes leaked", n);
		if (!failed) {
			cr_assert_eq(ctr.failures, 0);
			break;
		}
		cr_assert_gt(ctr.failures, 0, "a call failed without an allocation failing");
	}
	/* 1 policy + 100 keys + tables, a copy of all that, 10 more keys. */
	cr_assert_gt(n, 200, "the scenario allocated only %ld times", n);
	expect_no_leaks();
}
