/*
 * Unit tests of the threshold evaluator (SPEC section 1) and of the common
 * layer it stands on: status text, last-error slots, versions, init helpers.
 */
#include <criterion/criterion.h>

#include <stockguard/common.h>
#include <stockguard/filter.h>
#include <stockguard/policy.h>
#include <stockguard/version.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static stg_policy *mk(void)
{
	stg_policy *p = NULL;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_not_null(p);
	return p;
}

static stg_evaluation eval(const stg_policy *p, const char *sku, const char *cat, int64_t a)
{
	stg_evaluation e;

	/* Poison, so a field the library forgets to write cannot pass by luck. */
	memset(&e, 0xa5, sizeof e);
	cr_assert_eq(stg_policy_evaluate(p, sku, cat, a, &e), STG_OK);
	return e;
}

/* One evaluation against everything the caller expects of it. */
static void expect(const stg_policy *p, int64_t a, int64_t published, int rule, unsigned warnings)
{
	stg_evaluation e = eval(p, NULL, NULL, a);
	size_t i;

	cr_assert_eq(e.available, a, "available %lld echoed as %lld", (long long)a,
	             (long long)e.available);
	cr_assert_eq(e.published, published, "pub(%lld) = %lld, expected %lld", (long long)a,
	             (long long)e.published, (long long)published);
	cr_assert_eq(e.rule, rule, "pub(%lld): rule %s, expected %s", (long long)a,
	             stg_rule_name(e.rule), stg_rule_name(rule));
	cr_assert_eq(e.warnings, warnings, "pub(%lld): warnings %u, expected %u", (long long)a,
	             e.warnings, warnings);
	cr_assert_eq(e.min_stock, stg_policy_min_stock(p));
	cr_assert_eq(e.min_source, STG_MIN_DEFAULT);
	for (i = 0; i < sizeof e.reserved_ / sizeof e.reserved_[0]; i++)
		cr_assert_eq(e.reserved_[i], 0u, "reserved_[%zu] not zeroed", i);
}

#define W STG_WARN_MIN_STOCK_REACHED

Test(policy, defaults)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_min_stock(p), 0);
	cr_assert_eq(stg_policy_mode(p), STG_MODE_CUTOFF);
	cr_assert_eq(stg_policy_allocation(p), 100);
	cr_assert_eq(stg_policy_cap(p), 0);
	cr_assert_eq(stg_policy_window(p), 5);
	cr_assert_eq(stg_policy_drift(p), 0);
	cr_assert_eq(stg_policy_heartbeat(p), 0);
	cr_assert_str_eq(stg_policy_errmsg(p), "");
	stg_policy_free(p);
	stg_policy_free(NULL);
}

Test(policy, getters_of_null_policy)
{
	cr_assert_eq(stg_policy_min_stock(NULL), 0);
	cr_assert_eq(stg_policy_mode(NULL), STG_MODE_CUTOFF);
	cr_assert_eq(stg_policy_allocation(NULL), 100);
	cr_assert_eq(stg_policy_cap(NULL), 0);
	cr_assert_eq(stg_policy_window(NULL), 5);
	cr_assert_eq(stg_policy_drift(NULL), 0);
	cr_assert_eq(stg_policy_heartbeat(NULL), 0);
	cr_assert_str_eq(stg_policy_errmsg(NULL), "");
}

Test(policy, cutoff_mode)
{
	stg_policy *p = mk();

	/* Minimum 0: only what is really there publishes. */
	expect(p, 0, 0, STG_RULE_CUTOFF, 0);
	expect(p, 1, 1, STG_RULE_AVAILABLE, 0);
	expect(p, 1000, 1000, STG_RULE_AVAILABLE, 0);

	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	expect(p, 0, 0, STG_RULE_CUTOFF, 0);
	expect(p, 1, 0, STG_RULE_CUTOFF, W);
	expect(p, 9, 0, STG_RULE_CUTOFF, W);
	expect(p, 10, 0, STG_RULE_CUTOFF, W);
	expect(p, 11, 11, STG_RULE_AVAILABLE, 0);
	expect(p, 12, 12, STG_RULE_AVAILABLE, 0);
	stg_policy_free(p);
}

Test(policy, reserve_mode)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_mode(p), STG_MODE_RESERVE);
	/* With nothing held back the rule is plain availability. */
	expect(p, 7, 7, STG_RULE_AVAILABLE, 0);
	expect(p, 0, 0, STG_RULE_RESERVE, 0);

	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	expect(p, 0, 0, STG_RULE_RESERVE, 0);
	expect(p, 5, 0, STG_RULE_RESERVE, W);
	expect(p, 10, 0, STG_RULE_RESERVE, W);
	expect(p, 11, 1, STG_RULE_RESERVE, 0);
	expect(p, 12, 2, STG_RULE_RESERVE, 0);
	expect(p, 1000, 990, STG_RULE_RESERVE, 0);

	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_CUTOFF), STG_OK);
	expect(p, 12, 12, STG_RULE_AVAILABLE, 0);
	stg_policy_free(p);
}

Test(policy, allocation_rounds_down)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_set_allocation(p, 50), STG_OK);
	cr_assert_eq(stg_policy_allocation(p), 50);
	expect(p, 7, 3, STG_RULE_ALLOCATION, 0);
	expect(p, 100, 50, STG_RULE_ALLOCATION, 0);
	expect(p, 101, 50, STG_RULE_ALLOCATION, 0);
	/* A share that rounds to nothing is not the minimum's doing: no warning. */
	expect(p, 1, 0, STG_RULE_ALLOCATION, 0);
	expect(p, INT64_MAX, INT64_C(4611686018427387903), STG_RULE_ALLOCATION, 0);

	cr_assert_eq(stg_policy_set_allocation(p, 1), STG_OK);
	expect(p, 99, 0, STG_RULE_ALLOCATION, 0);
	expect(p, 100, 1, STG_RULE_ALLOCATION, 0);
	expect(p, 199, 1, STG_RULE_ALLOCATION, 0);
	expect(p, INT64_MAX, INT64_C(92233720368547758), STG_RULE_ALLOCATION, 0);

	/* q * 99 overflows int64 for q near INT64_MAX; the result must not. */
	cr_assert_eq(stg_policy_set_allocation(p, 99), STG_OK);
	expect(p, INT64_MAX, INT64_C(9131138316486228048), STG_RULE_ALLOCATION, 0);
	expect(p, 100, 99, STG_RULE_ALLOCATION, 0);
	expect(p, 1, 0, STG_RULE_ALLOCATION, 0);

	cr_assert_eq(stg_policy_set_allocation(p, 33), STG_OK);
	expect(p, INT64_MAX - 1, INT64_C(3043712772162076015), STG_RULE_ALLOCATION, 0);

	cr_assert_eq(stg_policy_set_allocation(p, 100), STG_OK);
	expect(p, INT64_MAX, INT64_MAX, STG_RULE_AVAILABLE, 0);
	stg_policy_free(p);
}

Test(policy, allocation_after_minimum)
{
	stg_policy *p = mk();

	/* Reserve first, then the share of what is left. */
	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 50), STG_OK);
	expect(p, 17, 3, STG_RULE_ALLOCATION, 0);
	expect(p, 11, 0, STG_RULE_ALLOCATION, 0);
	expect(p, 10, 0, STG_RULE_RESERVE, W);

	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_CUTOFF), STG_OK);
	expect(p, 11, 5, STG_RULE_ALLOCATION, 0);
	expect(p, 10, 0, STG_RULE_CUTOFF, W);
	stg_policy_free(p);
}

Test(policy, cap)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_set_cap(p, 5), STG_OK);
	cr_assert_eq(stg_policy_cap(p), 5);
	expect(p, 4, 4, STG_RULE_AVAILABLE, 0);
	expect(p, 5, 5, STG_RULE_AVAILABLE, 0);
	expect(p, 6, 5, STG_RULE_CAP, 0);
	expect(p, INT64_MAX, 5, STG_RULE_CAP, 0);
	expect(p, -1, 0, STG_RULE_NEGATIVE, 0);

	/* The cap applies after the allocation. */
	cr_assert_eq(stg_policy_set_allocation(p, 50), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, 30), STG_OK);
	expect(p, 100, 30, STG_RULE_CAP, 0);
	cr_assert_eq(stg_policy_set_cap(p, 60), STG_OK);
	expect(p, 100, 50, STG_RULE_ALLOCATION, 0);

	cr_assert_eq(stg_policy_set_cap(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 100), STG_OK);
	expect(p, INT64_MAX, INT64_MAX, STG_RULE_AVAILABLE, 0);

	cr_assert_eq(stg_policy_set_cap(p, STG_QUANTITY_MAX), STG_OK);
	expect(p, INT64_MAX, STG_QUANTITY_MAX, STG_RULE_CAP, 0);
	expect(p, STG_QUANTITY_MAX, STG_QUANTITY_MAX, STG_RULE_AVAILABLE, 0);
	stg_policy_free(p);
}

Test(policy, negative_available)
{
	stg_policy *p = mk();
	int mode;

	for (mode = STG_MODE_CUTOFF; mode <= STG_MODE_RESERVE; mode++) {
		cr_assert_eq(stg_policy_set_mode(p, mode), STG_OK);
		cr_assert_eq(stg_policy_set_min_stock(p, 0), STG_OK);
		expect(p, -1, 0, STG_RULE_NEGATIVE, 0);
		expect(p, INT64_MIN, 0, STG_RULE_NEGATIVE, 0);
		expect(p, INT64_MIN + 1, 0, STG_RULE_NEGATIVE, 0);
		/* Oversold stock is not "reached the minimum": no warning either. */
		cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
		cr_assert_eq(stg_policy_set_allocation(p, 37), STG_OK);
		cr_assert_eq(stg_policy_set_cap(p, 3), STG_OK);
		expect(p, -5, 0, STG_RULE_NEGATIVE, 0);
		expect(p, INT64_MIN, 0, STG_RULE_NEGATIVE, 0);
		cr_assert_eq(stg_policy_set_allocation(p, 100), STG_OK);
		cr_assert_eq(stg_policy_set_cap(p, 0), STG_OK);
	}
	stg_policy_free(p);
}

Test(policy, int64_max_available)
{
	stg_policy *p = mk();

	expect(p, INT64_MAX, INT64_MAX, STG_RULE_AVAILABLE, 0);
	cr_assert_eq(stg_policy_set_min_stock(p, STG_QUANTITY_MAX), STG_OK);
	expect(p, INT64_MAX, INT64_MAX, STG_RULE_AVAILABLE, 0);
	expect(p, STG_QUANTITY_MAX, 0, STG_RULE_CUTOFF, W);
	expect(p, STG_QUANTITY_MAX + 1, STG_QUANTITY_MAX + 1, STG_RULE_AVAILABLE, 0);

	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	expect(p, INT64_MAX, INT64_MAX - STG_QUANTITY_MAX, STG_RULE_RESERVE, 0);
	expect(p, STG_QUANTITY_MAX, 0, STG_RULE_RESERVE, W);
	stg_policy_free(p);
}

Test(policy, seed_example)
{
	/* The merchant article: minimum 10, stock goes 12 -> 9. */
	stg_policy *p = mk();
	stg_evaluation e;

	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	e = eval(p, NULL, NULL, 12);
	cr_assert_eq(e.published, 12);
	cr_assert_eq(e.warnings, 0u);
	e = eval(p, NULL, NULL, 9);
	cr_assert_eq(e.published, 0);
	cr_assert_eq(e.rule, STG_RULE_CUTOFF);
	cr_assert_eq(e.warnings, STG_WARN_MIN_STOCK_REACHED);
	cr_assert_eq(e.min_stock, 10);
	cr_assert_eq(e.min_source, STG_MIN_DEFAULT);
	stg_policy_free(p);
}

static void expect_min(const stg_policy *p, const char *sku, const char *cat, int64_t min,
                       int source)
{
	int64_t m = -42;
	int s = -42;
	stg_evaluation e;

	cr_assert_eq(stg_policy_resolve_min(p, sku, cat, &m, &s), STG_OK);
	cr_assert_eq(m, min, "resolve(%s, %s): min %lld, expected %lld", sku ? sku : "NULL",
	             cat ? cat : "NULL", (long long)m, (long long)min);
	cr_assert_eq(s, source, "resolve(%s, %s): source %s, expected %s", sku ? sku : "NULL",
	             cat ? cat : "NULL", stg_min_source_name(s), stg_min_source_name(source));
	/* The evaluation must explain itself with the same minimum. */
	e = eval(p, sku, cat, 8);
	cr_assert_eq(e.min_stock, min);
	cr_assert_eq(e.min_source, source);
	if (stg_policy_mode(p) == STG_MODE_CUTOFF && stg_policy_allocation(p) == 100 &&
	    stg_policy_cap(p) == 0)
		cr_assert_eq(e.published, 8 > min ? 8 : 0);
}

Test(policy, override_resolution_order)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_set_min_stock(p, 3), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "shoes", 7), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "A1", 11), STG_OK);

	expect_min(p, "A1", "shoes", 11, STG_MIN_SKU);
	expect_min(p, "A1", "hats", 11, STG_MIN_SKU);
	expect_min(p, "A1", NULL, 11, STG_MIN_SKU);
	expect_min(p, "B2", "shoes", 7, STG_MIN_CATEGORY);
	expect_min(p, NULL, "shoes", 7, STG_MIN_CATEGORY);
	expect_min(p, "B2", "hats", 3, STG_MIN_DEFAULT);
	expect_min(p, NULL, NULL, 3, STG_MIN_DEFAULT);
	/* Keys are exact, case-sensitive bytes: no prefix or case matching. */
	expect_min(p, "a1", "Shoes", 3, STG_MIN_DEFAULT);
	expect_min(p, "A", "shoe", 3, STG_MIN_DEFAULT);
	expect_min(p, "A12", "shoes ", 3, STG_MIN_DEFAULT);
	/* A SKU key is not looked up among categories, nor the reverse. */
	expect_min(p, "shoes", "A1", 3, STG_MIN_DEFAULT);

	/* Replacing an override changes its value, not its place in the order. */
	cr_assert_eq(stg_policy_set_sku_min(p, "A1", 0), STG_OK);
	expect_min(p, "A1", "shoes", 0, STG_MIN_SKU);

	/* Clearing restores the next level. */
	cr_assert_eq(stg_policy_clear_sku_min(p, "A1"), STG_OK);
	expect_min(p, "A1", "shoes", 7, STG_MIN_CATEGORY);
	cr_assert_eq(stg_policy_clear_category_min(p, "shoes"), STG_OK);
	expect_min(p, "A1", "shoes", 3, STG_MIN_DEFAULT);
	cr_assert_eq(stg_policy_clear_sku_min(p, "A1"), STG_ENOTFOUND);
	cr_assert_str_neq(stg_policy_errmsg(p), "");
	cr_assert_eq(stg_policy_clear_category_min(p, "shoes"), STG_ENOTFOUND);

	/* The default follows later changes; overrides do not. */
	cr_assert_eq(stg_policy_set_category_min(p, "shoes", 7), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 4), STG_OK);
	expect_min(p, "X", "hats", 4, STG_MIN_DEFAULT);
	expect_min(p, "X", "shoes", 7, STG_MIN_CATEGORY);

	/* NULL outputs are allowed. */
	cr_assert_eq(stg_policy_resolve_min(p, "X", "shoes", NULL, NULL), STG_OK);
	stg_policy_free(p);
}

Test(policy, many_overrides_survive_growth_and_removal)
{
	/* Enough keys to grow the table several times and wrap probe runs. */
	enum { N = 300 };
	stg_policy *p = mk();
	char key[32];
	int i;

	cr_assert_eq(stg_policy_set_min_stock(p, 1), STG_OK);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "sku-%d", i);
		cr_assert_eq(stg_policy_set_sku_min(p, key, 1000 + i), STG_OK);
		snprintf(key, sizeof key, "cat-%d", i);
		cr_assert_eq(stg_policy_set_category_min(p, key, 5000 + i), STG_OK);
	}
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "sku-%d", i);
		expect_min(p, key, NULL, 1000 + i, STG_MIN_SKU);
	}
	/* Remove every other one; the rest must still be found. */
	for (i = 0; i < N; i += 2) {
		snprintf(key, sizeof key, "sku-%d", i);
		cr_assert_eq(stg_policy_clear_sku_min(p, key), STG_OK);
		snprintf(key, sizeof key, "cat-%d", i);
		cr_assert_eq(stg_policy_clear_category_min(p, key), STG_OK);
	}
	for (i = 0; i < N; i++) {
		char cat[32];
		snprintf(key, sizeof key, "sku-%d", i);
		snprintf(cat, sizeof cat, "cat-%d", i);
		if (i % 2)
			expect_min(p, key, cat, 1000 + i, STG_MIN_SKU);
		else
			expect_min(p, key, NULL, 1, STG_MIN_DEFAULT);
		if (i % 2)
			expect_min(p, NULL, cat, 5000 + i, STG_MIN_CATEGORY);
		else
			expect_min(p, NULL, cat, 1, STG_MIN_DEFAULT);
	}
	/* Re-insert after removal reuses the holes correctly. */
	for (i = 0; i < N; i += 2) {
		snprintf(key, sizeof key, "sku-%d", i);
		cr_assert_eq(stg_policy_set_sku_min(p, key, 9), STG_OK);
	}
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "sku-%d", i);
		expect_min(p, key, NULL, i % 2 ? 1000 + i : 9, STG_MIN_SKU);
	}
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "sku-%d", i);
		cr_assert_eq(stg_policy_clear_sku_min(p, key), STG_OK);
	}
	expect_min(p, "sku-1", NULL, 1, STG_MIN_DEFAULT);
	stg_policy_free(p);
}

Test(policy, override_keys)
{
	stg_policy *p = mk();
	char key[STG_KEY_MAX + 2];

	cr_assert_eq(stg_policy_set_sku_min(p, "", 1), STG_EINVAL);
	cr_assert_str_neq(stg_policy_errmsg(p), "");
	cr_assert_eq(stg_policy_set_sku_min(p, NULL, 1), STG_EINVAL);
	cr_assert_eq(stg_policy_set_category_min(p, "", 1), STG_EINVAL);
	cr_assert_eq(stg_policy_set_category_min(p, NULL, 1), STG_EINVAL);
	cr_assert_eq(stg_policy_clear_sku_min(p, ""), STG_EINVAL);
	cr_assert_eq(stg_policy_clear_sku_min(p, NULL), STG_EINVAL);
	cr_assert_eq(stg_policy_clear_category_min(p, ""), STG_EINVAL);
	cr_assert_eq(stg_policy_clear_category_min(p, NULL), STG_EINVAL);

	memset(key, 'k', sizeof key);
	key[STG_KEY_MAX] = '\0';
	cr_assert_eq(stg_policy_set_sku_min(p, key, 21), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, key, 22), STG_OK);
	expect_min(p, key, NULL, 21, STG_MIN_SKU);
	expect_min(p, NULL, key, 22, STG_MIN_CATEGORY);

	key[STG_KEY_MAX] = 'k';
	key[STG_KEY_MAX + 1] = '\0';
	cr_assert_eq(stg_policy_set_sku_min(p, key, 1), STG_EINVAL);
	cr_assert_str_neq(stg_policy_errmsg(p), "");
	cr_assert_eq(stg_policy_set_category_min(p, key, 1), STG_EINVAL);
	cr_assert_eq(stg_policy_clear_sku_min(p, key), STG_EINVAL);
	cr_assert_eq(stg_policy_clear_category_min(p, key), STG_EINVAL);
	/* An over-long key cannot match anything: the default applies. */
	expect_min(p, key, key, 0, STG_MIN_DEFAULT);

	/* Bytes beyond ASCII are just bytes. */
	cr_assert_eq(stg_policy_set_sku_min(p, "cal\xc3\xa7" "a-42", 4), STG_OK);
	expect_min(p, "cal\xc3\xa7" "a-42", NULL, 4, STG_MIN_SKU);
	stg_policy_free(p);
}

Test(policy, override_range_keeps_previous)
{
	stg_policy *p = mk();
	const int64_t bad[] = { -1, INT64_MIN, STG_QUANTITY_MAX + 1, INT64_MAX };
	size_t i;

	cr_assert_eq(stg_policy_set_sku_min(p, "A", 4), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "C", 6), STG_OK);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(stg_policy_set_sku_min(p, "A", bad[i]), STG_ERANGE);
		cr_assert_str_neq(stg_policy_errmsg(p), "");
		cr_assert_eq(stg_policy_set_sku_min(p, "new", bad[i]), STG_ERANGE);
		cr_assert_eq(stg_policy_set_category_min(p, "C", bad[i]), STG_ERANGE);
		cr_assert_eq(stg_policy_set_category_min(p, "new", bad[i]), STG_ERANGE);
	}
	expect_min(p, "A", "C", 4, STG_MIN_SKU);
	expect_min(p, "new", "C", 6, STG_MIN_CATEGORY);
	expect_min(p, "x", "new", 0, STG_MIN_DEFAULT);
	cr_assert_eq(stg_policy_clear_sku_min(p, "new"), STG_ENOTFOUND);
	cr_assert_eq(stg_policy_clear_category_min(p, "new"), STG_ENOTFOUND);

	cr_assert_eq(stg_policy_set_sku_min(p, "A", STG_QUANTITY_MAX), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "C", 0), STG_OK);
	expect_min(p, "A", NULL, STG_QUANTITY_MAX, STG_MIN_SKU);
	expect_min(p, NULL, "C", 0, STG_MIN_CATEGORY);
	stg_policy_free(p);
}

Test(policy, warning_only_when_minimum_zeroed_positive_stock)
{
	stg_policy *p = mk();

	/* m = 0: nothing positive is ever cut. */
	expect(p, 0, 0, STG_RULE_CUTOFF, 0);
	expect(p, 1, 1, STG_RULE_AVAILABLE, 0);
	cr_assert_eq(stg_policy_set_min_stock(p, 3), STG_OK);
	expect(p, 0, 0, STG_RULE_CUTOFF, 0);
	expect(p, -3, 0, STG_RULE_NEGATIVE, 0);
	expect(p, 3, 0, STG_RULE_CUTOFF, W);
	expect(p, 4, 4, STG_RULE_AVAILABLE, 0);
	/* Cap and allocation leave positive stock > 0 or rounded, never "reached". */
	cr_assert_eq(stg_policy_set_allocation(p, 10), STG_OK);
	expect(p, 4, 0, STG_RULE_ALLOCATION, 0);
	cr_assert_eq(stg_policy_set_allocation(p, 100), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, 1), STG_OK);
	expect(p, 4, 1, STG_RULE_CAP, 0);
	stg_policy_free(p);
}

/*
 * A failing setter must leave its own message: start from a different failure
 * (ENOTFOUND) so that a stale message or code cannot pass for a fresh one.
 */
static void prime_other_failure(stg_policy *p)
{
	cr_assert_eq(stg_policy_clear_sku_min(p, "__never_set__"), STG_ENOTFOUND);
}

#define CHECK_RANGE(p, call, getter, kept) \
	do { \
		char before_[512]; \
		prime_other_failure(p); \
		snprintf(before_, sizeof before_, "%s", stg_policy_errmsg(p)); \
		cr_assert_eq(call, STG_ERANGE, "%s", #call); \
		cr_assert_str_neq(stg_policy_errmsg(p), "", "%s: no message", #call); \
		cr_assert_str_neq(stg_policy_errmsg(p), before_, "%s: stale message", #call); \
		cr_assert_eq(stg_last_error_code(), STG_ERANGE, "%s", #call); \
		cr_assert_str_eq(stg_last_error(), stg_policy_errmsg(p), "%s", #call); \
		cr_assert_eq(getter(p), kept, "%s: previous value lost", #call); \
	} while (0)

/* Each setter: bad values are refused with ERANGE, a message, and no change. */
Test(policy, setter_validation)
{
	stg_policy *p = mk();
	size_t i;

	cr_assert_eq(stg_policy_set_min_stock(p, 7), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, 70), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, 8), STG_OK);
	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 40), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 25), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, 3600000), STG_OK);

	{
		const int64_t bad[] = { -1, INT64_MIN, STG_QUANTITY_MAX + 1, INT64_MAX };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CHECK_RANGE(p, stg_policy_set_min_stock(p, bad[i]), stg_policy_min_stock, 7);
			CHECK_RANGE(p, stg_policy_set_cap(p, bad[i]), stg_policy_cap, 70);
			CHECK_RANGE(p, stg_policy_set_window(p, bad[i]), stg_policy_window, 8);
		}
	}
	{
		const int bad[] = { -1, 2, 3, INT_MIN, INT_MAX };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CHECK_RANGE(p, stg_policy_set_mode(p, bad[i]), stg_policy_mode,
			            STG_MODE_RESERVE);
		}
	}
	{
		const int bad[] = { 0, 101, -1, INT_MIN, INT_MAX };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CHECK_RANGE(p, stg_policy_set_allocation(p, bad[i]), stg_policy_allocation, 40);
		}
	}
	{
		const int bad[] = { -1, 10001, INT_MIN, INT_MAX };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CHECK_RANGE(p, stg_policy_set_drift(p, bad[i]), stg_policy_drift, 25);
		}
	}
	{
		const int64_t bad[] = { -1, INT64_MIN };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CHECK_RANGE(p, stg_policy_set_heartbeat(p, bad[i]), stg_policy_heartbeat,
			            3600000);
		}
	}

	/* The edges of every range are accepted. */
	cr_assert_eq(stg_policy_set_min_stock(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, STG_QUANTITY_MAX), STG_OK);
	cr_assert_eq(stg_policy_min_stock(p), STG_QUANTITY_MAX);
	cr_assert_eq(stg_policy_set_cap(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, STG_QUANTITY_MAX), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, 0), STG_OK);
	cr_assert_eq(stg_policy_window(p), 0);
	cr_assert_eq(stg_policy_set_window(p, STG_QUANTITY_MAX), STG_OK);
	cr_assert_eq(stg_policy_window(p), STG_QUANTITY_MAX);
	cr_assert_eq(stg_policy_set_allocation(p, 1), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 100), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 10000), STG_OK);
	cr_assert_eq(stg_policy_drift(p), 10000);
	cr_assert_eq(stg_policy_set_heartbeat(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, INT64_MAX), STG_OK);
	cr_assert_eq(stg_policy_heartbeat(p), INT64_MAX);
	stg_policy_free(p);
}

Test(policy, null_arguments)
{
	stg_policy *p = mk();
	stg_evaluation e;
	int64_t in = 1, out = 1;

	cr_assert_eq(stg_policy_new(NULL, NULL), STG_EINVAL);
	cr_assert_eq(stg_policy_copy(NULL, p), STG_EINVAL);
	{
		stg_policy *q = (stg_policy *)&in;
		cr_assert_eq(stg_policy_copy(&q, NULL), STG_EINVAL);
		cr_assert_eq(q, (stg_policy *)&in, "out written on failure");
	}
#define NULL_POLICY(call) \
	do { \
		cr_assert_eq(call, STG_EINVAL, #call); \
		cr_assert_eq(stg_last_error_code(), STG_EINVAL, #call); \
		cr_assert_str_neq(stg_last_error(), "", #call); \
	} while (0)
	NULL_POLICY(stg_policy_set_min_stock(NULL, 1));
	NULL_POLICY(stg_policy_set_mode(NULL, STG_MODE_CUTOFF));
	NULL_POLICY(stg_policy_set_allocation(NULL, 50));
	NULL_POLICY(stg_policy_set_cap(NULL, 1));
	NULL_POLICY(stg_policy_set_window(NULL, 1));
	NULL_POLICY(stg_policy_set_drift(NULL, 1));
	NULL_POLICY(stg_policy_set_heartbeat(NULL, 1));
	NULL_POLICY(stg_policy_set_sku_min(NULL, "a", 1));
	NULL_POLICY(stg_policy_clear_sku_min(NULL, "a"));
	NULL_POLICY(stg_policy_set_category_min(NULL, "a", 1));
	NULL_POLICY(stg_policy_clear_category_min(NULL, "a"));
	NULL_POLICY(stg_policy_resolve_min(NULL, "a", "b", NULL, NULL));
	NULL_POLICY(stg_policy_evaluate(NULL, NULL, NULL, 1, &e));
	NULL_POLICY(stg_policy_evaluate(p, NULL, NULL, 1, NULL));
	NULL_POLICY(stg_policy_evaluate_batch(NULL, 1, NULL, NULL, &in, &out, NULL));
	NULL_POLICY(stg_policy_evaluate_batch(p, 1, NULL, NULL, NULL, &out, NULL));
	NULL_POLICY(stg_policy_evaluate_batch(p, 1, NULL, NULL, &in, NULL, NULL));
	cr_assert_eq(out, 1, "batch wrote on failure");
	/* n = 0 needs no arrays. */
	cr_assert_eq(stg_policy_evaluate_batch(p, 0, NULL, NULL, NULL, NULL, NULL), STG_OK);
	stg_policy_free(p);
}

Test(policy, copy_is_independent)
{
	stg_policy *p = mk(), *q = NULL, *r = NULL;

	cr_assert_eq(stg_policy_set_min_stock(p, 3), STG_OK);
	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 60), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, 99), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, 2), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 15), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, 1234), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "A", 11), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "C", 7), STG_OK);
	/* A message on the source is not part of the copy. */
	cr_assert_eq(stg_policy_set_drift(p, -1), STG_ERANGE);

	cr_assert_eq(stg_policy_copy(&q, p), STG_OK);
	cr_assert_not_null(q);
	cr_assert_neq(q, p);
	cr_assert_str_eq(stg_policy_errmsg(q), "");
	cr_assert_eq(stg_policy_min_stock(q), 3);
	cr_assert_eq(stg_policy_mode(q), STG_MODE_RESERVE);
	cr_assert_eq(stg_policy_allocation(q), 60);
	cr_assert_eq(stg_policy_cap(q), 99);
	cr_assert_eq(stg_policy_window(q), 2);
	cr_assert_eq(stg_policy_drift(q), 15);
	cr_assert_eq(stg_policy_heartbeat(q), 1234);
	expect_min(q, "A", "C", 11, STG_MIN_SKU);
	expect_min(q, "B", "C", 7, STG_MIN_CATEGORY);

	/* Changes to either side stay on that side. */
	cr_assert_eq(stg_policy_set_sku_min(p, "A", 1), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "B", 2), STG_OK);
	cr_assert_eq(stg_policy_clear_category_min(p, "C"), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 4), STG_OK);
	expect_min(q, "A", "C", 11, STG_MIN_SKU);
	expect_min(q, "B", "C", 7, STG_MIN_CATEGORY);
	expect_min(q, "B", NULL, 3, STG_MIN_DEFAULT);
	cr_assert_eq(stg_policy_set_category_min(q, "D", 5), STG_OK);
	cr_assert_eq(stg_policy_clear_sku_min(q, "A"), STG_OK);
	expect_min(p, "A", "D", 1, STG_MIN_SKU);
	expect_min(p, "Z", "D", 4, STG_MIN_DEFAULT);

	/* The copy outlives its source. */
	stg_policy_free(p);
	expect_min(q, "A", "C", 7, STG_MIN_CATEGORY);
	expect_min(q, "Z", "D", 5, STG_MIN_CATEGORY);

	/* A copy of a policy without overrides works too. */
	p = mk();
	cr_assert_eq(stg_policy_copy(&r, p), STG_OK);
	expect_min(r, "A", "C", 0, STG_MIN_DEFAULT);
	cr_assert_eq(stg_policy_set_sku_min(r, "A", 1), STG_OK);
	expect_min(p, "A", "C", 0, STG_MIN_DEFAULT);
	stg_policy_free(p);
	stg_policy_free(q);
	stg_policy_free(r);
}

static const int64_t batch_inputs[] = {
	INT64_MIN, INT64_MIN + 1, -1000, -1, 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 17, 99, 100,
	101, 1000, 123456789, STG_QUANTITY_MAX - 1, STG_QUANTITY_MAX, STG_QUANTITY_MAX + 1,
	INT64_MAX - 1, INT64_MAX,
};
#define NB (sizeof batch_inputs / sizeof batch_inputs[0])

static void check_batch(const stg_policy *p, const char *const *skus, const char *const *cats)
{
	int64_t pub[NB];
	uint8_t warn[NB];
	size_t i;

	memset(pub, 0x5a, sizeof pub);
	memset(warn, 0x5a, sizeof warn);
	cr_assert_eq(stg_policy_evaluate_batch(p, NB, skus, cats, batch_inputs, pub, warn), STG_OK);
	for (i = 0; i < NB; i++) {
		stg_evaluation e = eval(p, skus ? skus[i] : NULL, cats ? cats[i] : NULL,
		                        batch_inputs[i]);
		cr_assert_eq(pub[i], e.published, "item %zu (a=%lld): batch %lld, single %lld", i,
		             (long long)batch_inputs[i], (long long)pub[i], (long long)e.published);
		cr_assert_eq(warn[i], e.warnings, "item %zu: warnings differ", i);
	}
	/* Warnings are optional output. */
	memset(pub, 0x5a, sizeof pub);
	cr_assert_eq(stg_policy_evaluate_batch(p, NB, skus, cats, batch_inputs, pub, NULL), STG_OK);
	for (i = 0; i < NB; i++)
		cr_assert_eq(pub[i], eval(p, skus ? skus[i] : NULL, cats ? cats[i] : NULL,
		                          batch_inputs[i]).published);
}

Test(policy, evaluate_batch_agrees_with_evaluate)
{
	static const char *const pool[] = { NULL, "A", "B", "C", "none", "" };
	const char *skus[NB], *cats[NB];
	stg_policy *p = mk();
	int mode, alloc, cap, overrides;
	size_t i;

	for (i = 0; i < NB; i++) {
		skus[i] = pool[i % 6];
		cats[i] = pool[(i / 6 + i) % 6];
	}
	for (overrides = 0; overrides <= 1; overrides++) {
		if (overrides) {
			cr_assert_eq(stg_policy_set_sku_min(p, "A", 50), STG_OK);
			cr_assert_eq(stg_policy_set_sku_min(p, "B", 0), STG_OK);
			cr_assert_eq(stg_policy_set_category_min(p, "B", 7), STG_OK);
			cr_assert_eq(stg_policy_set_category_min(p, "C", STG_QUANTITY_MAX), STG_OK);
		}
		for (mode = STG_MODE_CUTOFF; mode <= STG_MODE_RESERVE; mode++)
			for (alloc = 1; alloc <= 100; alloc += 33)
				for (cap = 0; cap <= 1; cap++) {
					cr_assert_eq(stg_policy_set_mode(p, mode), STG_OK);
					cr_assert_eq(stg_policy_set_allocation(p, alloc == 100 ? 100 : alloc),
					             STG_OK);
					cr_assert_eq(stg_policy_set_cap(p, cap ? 8 : 0), STG_OK);
					cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
					check_batch(p, NULL, NULL);
					check_batch(p, skus, NULL);
					check_batch(p, NULL, cats);
					check_batch(p, skus, cats);
				}
	}
	stg_policy_free(p);
}

Test(policy, names)
{
	cr_assert_str_eq(stg_rule_name(STG_RULE_AVAILABLE), "available");
	cr_assert_str_eq(stg_rule_name(STG_RULE_NEGATIVE), "negative");
	cr_assert_str_eq(stg_rule_name(STG_RULE_CUTOFF), "cutoff");
	cr_assert_str_eq(stg_rule_name(STG_RULE_RESERVE), "reserve");
	cr_assert_str_eq(stg_rule_name(STG_RULE_ALLOCATION), "allocation");
	cr_assert_str_eq(stg_rule_name(STG_RULE_CAP), "cap");
	cr_assert_str_eq(stg_rule_name(-1), "unknown");
	cr_assert_str_eq(stg_rule_name(6), "unknown");
	cr_assert_str_eq(stg_rule_name(INT_MAX), "unknown");
	cr_assert_str_eq(stg_rule_name(INT_MIN), "unknown");

	cr_assert_str_eq(stg_min_source_name(STG_MIN_DEFAULT), "default");
	cr_assert_str_eq(stg_min_source_name(STG_MIN_CATEGORY), "category");
	cr_assert_str_eq(stg_min_source_name(STG_MIN_SKU), "sku");
	cr_assert_str_eq(stg_min_source_name(-1), "unknown");
	cr_assert_str_eq(stg_min_source_name(3), "unknown");
	cr_assert_str_eq(stg_min_source_name(INT_MIN), "unknown");
}

Test(common, strerror_every_code)
{
	static const int codes[] = {
		STG_OK, STG_EINVAL, STG_ENOMEM, STG_ERANGE, STG_ENOTFOUND, STG_EVERSION,
		STG_ESTORAGE, STG_ETRANSPORT, STG_EBUSY, STG_ERECURSIVE, STG_ECORRUPT,
		STG_ETRUNCATED, STG_ESTATE, STG_EEXISTS, STG_ECALLBACK, STG_EOVERFLOW, STG_ELIMIT,
		STG_EFENCED,
	};
	const size_t n = sizeof codes / sizeof codes[0];
	size_t i, j;

	/* The numbers are ABI: they must be 0, -1, -2, ... in this order. */
	for (i = 0; i < n; i++)
		cr_assert_eq(codes[i], -(int)i);
	for (i = 0; i < n; i++) {
		const char *s = stg_strerror(codes[i]);
		cr_assert_not_null(s);
		cr_assert_str_neq(s, "", "code %d has empty text", codes[i]);
		cr_assert_str_neq(s, "unknown error", "code %d has no text", codes[i]);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(s, stg_strerror(codes[j]), "codes %d and %d share text",
			                  codes[i], codes[j]);
	}
	cr_assert_str_eq(stg_strerror(1), "unknown error");
	cr_assert_str_eq(stg_strerror(-18), "unknown error");
	cr_assert_str_eq(stg_strerror(INT_MIN), "unknown error");
	cr_assert_str_eq(stg_strerror(INT_MAX), "unknown error");
}

Test(common, last_error_starts_empty)
{
	/* Criterion runs each test in a fresh process: nothing has failed yet. */
	cr_assert_str_eq(stg_last_error(), "");
	cr_assert_eq(stg_last_error_code(), 0);
}

static void *null_malloc(size_t n, void *payload)
{
	(void)n;
	(void)payload;
	return NULL;
}

Test(common, last_error_after_failed_constructor)
{
	stg_allocator a = STG_ALLOCATOR_INIT;
	int sentinel;
	stg_policy *const untouched = (stg_policy *)&sentinel;
	stg_policy *p = untouched;

	cr_assert_eq(stg_policy_new(NULL, NULL), STG_EINVAL);
	cr_assert_eq(stg_last_error_code(), STG_EINVAL);
	cr_assert_str_neq(stg_last_error(), "");

	/* All three functions NULL means the C library's: accepted. */
	a.payload = &sentinel;
	cr_assert_eq(stg_policy_new(&p, &a), STG_OK);
	cr_assert_neq(p, untouched);
	stg_policy_free(p);

	/* One of three set is a host mistake: refused, out untouched. */
	p = untouched;
	a.malloc_fn = null_malloc;
	cr_assert_eq(stg_policy_new(&p, &a), STG_EINVAL);
	cr_assert_eq(p, untouched, "out written on failure");
	cr_assert_eq(stg_last_error_code(), STG_EINVAL);
	cr_assert_str_neq(stg_last_error(), "");

	a.malloc_fn = NULL;
	a.version = STG_ALLOCATOR_VERSION + 1;
	cr_assert_eq(stg_policy_new(&p, &a), STG_EVERSION);
	cr_assert_eq(p, untouched);
	cr_assert_eq(stg_last_error_code(), STG_EVERSION);
	cr_assert_str_neq(stg_last_error(), "");
	a.version = 0;
	cr_assert_eq(stg_policy_new(&p, &a), STG_EVERSION);
	cr_assert_eq(p, untouched);
}

Test(common, failing_call_records_message_on_handle_and_thread)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_set_allocation(p, 0), STG_ERANGE);
	cr_assert_eq(stg_last_error_code(), STG_ERANGE);
	cr_assert_str_eq(stg_last_error(), stg_policy_errmsg(p));
	stg_policy_free(p);
}

Test(common, versions_match_headers)
{
	int major = -1, minor = -1, patch = -1;
	char want[32];

	cr_assert_eq(stg_version_number(), (unsigned)STG_VERSION_NUM);
	cr_assert_str_eq(stg_version_string(), STG_VERSION_STRING);
	stg_version(&major, &minor, &patch);
	cr_assert_eq(major, STG_VERSION_MAJOR);
	cr_assert_eq(minor, STG_VERSION_MINOR);
	cr_assert_eq(patch, STG_VERSION_PATCH);
	stg_version(NULL, NULL, NULL);
	snprintf(want, sizeof want, "%d.%d.%d", major, minor, patch);
	cr_assert_str_eq(stg_version_string(), want);
	cr_assert_eq(stg_version_number(),
	             (unsigned)((major << 16) | (minor << 8) | patch));
	cr_assert(STG_VERSION_AT_LEAST(1, 0, 0));
	cr_assert(!STG_VERSION_AT_LEAST(STG_VERSION_MAJOR + 1, 0, 0));
}

Test(common, allocator_init)
{
	const stg_allocator want = STG_ALLOCATOR_INIT;
	stg_allocator a;
	int dummy;

	memset(&a, 0xff, sizeof a);
	cr_assert_eq(stg_allocator_init(&a, STG_ALLOCATOR_VERSION), STG_OK);
	/* Field by field: padding bytes of an initialised auto struct are unspecified. */
	cr_assert_eq(a.version, want.version);
	cr_assert_eq(a.version, (unsigned)STG_ALLOCATOR_VERSION);
	cr_assert_null(a.malloc_fn);
	cr_assert_null(a.realloc_fn);
	cr_assert_null(a.free_fn);
	cr_assert_null(a.payload);
	cr_assert_null(want.malloc_fn);
	cr_assert_null(want.payload);

	a.payload = &dummy;
	cr_assert_eq(stg_allocator_init(&a, 0), STG_EVERSION);
	cr_assert_eq(stg_last_error_code(), STG_EVERSION);
	cr_assert_str_neq(stg_last_error(), "");
	cr_assert_eq(a.payload, &dummy, "struct written on failure");
	cr_assert_eq(stg_allocator_init(&a, STG_ALLOCATOR_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_allocator_init(NULL, STG_ALLOCATOR_VERSION), STG_EINVAL);
}

Test(common, change_init)
{
	const stg_change want = STG_CHANGE_INIT;
	stg_change c;
	int dummy;

	memset(&c, 0xff, sizeof c);
	cr_assert_eq(stg_change_init(&c, STG_CHANGE_VERSION), STG_OK);
	cr_assert_eq(c.version, want.version);
	cr_assert_eq(c.version, (unsigned)STG_CHANGE_VERSION);
	cr_assert_eq(c.flags, want.flags);
	cr_assert_eq(c.flags, 0u);
	cr_assert_null(c.sku);
	cr_assert_null(c.category);
	cr_assert_eq(c.from, want.from);
	cr_assert_eq(c.to, want.to);
	cr_assert_eq(c.to, 0);
	cr_assert_eq(c.since_export_ms, want.since_export_ms);
	cr_assert_eq(c.since_export_ms, -1);

	c.sku = (const char *)&dummy;
	cr_assert_eq(stg_change_init(&c, 0), STG_EVERSION);
	cr_assert_eq(stg_last_error_code(), STG_EVERSION);
	cr_assert_str_neq(stg_last_error(), "");
	cr_assert_eq(c.sku, (const char *)&dummy, "struct written on failure");
	cr_assert_eq(stg_change_init(&c, STG_CHANGE_VERSION + 1), STG_EVERSION);
	cr_assert_eq(stg_change_init(NULL, STG_CHANGE_VERSION), STG_EINVAL);
}

/* ------------------------------------------------------------- explain */

static const char *explained(const stg_evaluation *ev)
{
	static char buf[STG_EXPLAIN_MAX];
	size_t len = 0;

	cr_assert_eq(stg_evaluation_explain(ev, buf, sizeof buf, &len), STG_OK);
	cr_assert_eq(len, strlen(buf));
	return buf;
}

Test(explain, every_rule_in_words)
{
	stg_policy *p;
	stg_evaluation ev;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	stg_policy_set_min_stock(p, 10);
	/* The seed's example: minimum 10, stock 9 publishes 0 and warns. */
	cr_assert_eq(stg_policy_evaluate(p, NULL, NULL, 9, &ev), STG_OK);
	cr_expect_str_eq(explained(&ev), "publishes 0: available 9 is at or below the minimum stock 10 "
	                                 "(the integration's minimum); warning: min_stock_reached");
	stg_policy_evaluate(p, NULL, NULL, 12, &ev);
	cr_expect_str_eq(explained(&ev), "publishes 12: available 12 is above the minimum stock 10 "
	                                 "(the integration's minimum)");
	stg_policy_evaluate(p, NULL, NULL, -3, &ev);
	cr_expect_str_eq(explained(&ev), "publishes 0: available -3 is negative (oversold)");
	stg_policy_set_sku_min(p, "S", 4);
	stg_policy_set_mode(p, STG_MODE_RESERVE);
	stg_policy_evaluate(p, "S", NULL, 9, &ev);
	cr_expect_str_eq(explained(&ev), "publishes 5: the minimum stock 4 (the SKU's minimum) is held "
	                                 "back from available 9");
	stg_policy_set_mode(p, STG_MODE_CUTOFF);
	stg_policy_set_category_min(p, "shoes", 2);
	stg_policy_set_allocation(p, 50);
	stg_policy_evaluate(p, NULL, "shoes", 9, &ev);
	cr_expect_str_eq(explained(&ev), "publishes 4: only the integration's allocation share of "
	                                 "available 9 is offered");
	stg_policy_set_allocation(p, 100);
	stg_policy_set_cap(p, 3);
	stg_policy_evaluate(p, NULL, "shoes", 9, &ev);
	cr_expect_str_eq(explained(&ev), "publishes 3: the integration's cap was reached (available 9)");
	stg_policy_free(p);
	/* A rule or source a newer library may add is named, not dropped. */
	ev.rule = 99;
	ev.min_source = 7;
	cr_expect_str_eq(explained(&ev), "publishes 3: rule 99");
	ev.rule = STG_RULE_CUTOFF;
	cr_expect(strstr(explained(&ev), "(minimum source 7)") != NULL);
}

Test(explain, cut_like_snprintf)
{
	stg_evaluation ev;
	char small[12];
	size_t len = 0, full;
	stg_policy *p;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	stg_policy_set_min_stock(p, 10);
	stg_policy_evaluate(p, NULL, NULL, 9, &ev);
	stg_policy_free(p);
	cr_assert_eq(stg_evaluation_explain(&ev, NULL, 0, &full), STG_EOVERFLOW);
	cr_expect_eq(full, strlen(explained(&ev)), "the length is told even with no buffer");
	memset(small, 'x', sizeof small);
	cr_expect_eq(stg_evaluation_explain(&ev, small, sizeof small, &len), STG_EOVERFLOW);
	cr_expect_eq(len, full);
	cr_expect_str_eq(small, "publishes 0");
	cr_expect(full < STG_EXPLAIN_MAX);
	cr_expect_eq(stg_evaluation_explain(NULL, small, sizeof small, &len), STG_EINVAL);
	cr_expect_eq(stg_evaluation_explain(&ev, NULL, 5, &len), STG_EINVAL);
	cr_expect_eq(stg_evaluation_explain(&ev, small, sizeof small, NULL), STG_EOVERFLOW);
}

/* The longest sentence there can be fits in STG_EXPLAIN_MAX. */
Test(explain, longest_fits)
{
	stg_evaluation ev = { INT64_MIN, INT64_MIN, INT64_MIN, STG_MIN_CATEGORY, STG_RULE_RESERVE,
	                      STG_WARN_MIN_STOCK_REACHED, { 0 } };
	size_t len = 0;
	int r;

	for (r = 0; r <= STG_RULE_CAP; r++) {
		ev.rule = r;
		cr_expect_eq(stg_evaluation_explain(&ev, NULL, 0, &len), STG_EOVERFLOW);
		cr_expect(len < STG_EXPLAIN_MAX, "rule %d: %zu bytes", r, len);
	}
	ev.rule = INT_MIN;
	ev.min_source = INT_MIN;
	stg_evaluation_explain(&ev, NULL, 0, &len);
	cr_expect(len < STG_EXPLAIN_MAX);
}
