/*
 * Unit tests of the export-change filter (SPEC section 2): the decision
 * table row by row, its boundaries, drift and heartbeat, the batch form.
 */
#include <criterion/criterion.h>

#include <stockguard/filter.h>
#include <stockguard/policy.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>

static stg_policy *mk(void)
{
	stg_policy *p = NULL;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	return p;
}

static stg_change change(int64_t from, int64_t to)
{
	stg_change c = STG_CHANGE_INIT;

	c.flags = STG_CHANGE_HAS_FROM;
	c.from = from;
	c.to = to;
	return c;
}

static stg_filter_result run(const stg_policy *p, const stg_change *c)
{
	stg_filter_result r;

	memset(&r, 0xa5, sizeof r);
	cr_assert_eq(stg_filter_decide(p, c, &r), STG_OK);
	return r;
}

/* Decide a stock-only change from -> to and check decision and reason. */
static stg_filter_result expect_c(const stg_policy *p, const stg_change *c, int decision,
                                  int reason)
{
	stg_filter_result r = run(p, c);

	cr_assert_eq(r.reason, reason, "%lld -> %lld: reason %s, expected %s", (long long)c->from,
	             (long long)c->to, stg_reason_name(r.reason), stg_reason_name(reason));
	cr_assert_eq(r.decision, decision, "%lld -> %lld: decision %s, expected %s",
	             (long long)c->from, (long long)c->to, stg_decision_name(r.decision),
	             stg_decision_name(decision));
	cr_assert_eq(r.reserved_[0] | r.reserved_[1] | r.reserved_[2] | r.reserved_[3], 0u);
	return r;
}

static stg_filter_result expect(const stg_policy *p, int64_t from, int64_t to, int decision,
                                int reason)
{
	stg_change c = change(from, to);

	return expect_c(p, &c, decision, reason);
}

#define EXPORT STG_DECISION_EXPORT
#define SKIP STG_DECISION_SKIP

Test(filter, first_seen_always_exports)
{
	stg_policy *p = mk();
	stg_change c = STG_CHANGE_INIT;
	stg_filter_result r;
	size_t i;

	c.to = 100;
	r = expect_c(p, &c, EXPORT, STG_REASON_FIRST_SEEN);
	/* The unknown side is reported as an all-zero evaluation. */
	cr_assert_eq(r.from.available, 0);
	cr_assert_eq(r.from.published, 0);
	cr_assert_eq(r.from.min_stock, 0);
	cr_assert_eq(r.from.min_source, 0);
	cr_assert_eq(r.from.rule, 0);
	cr_assert_eq(r.from.warnings, 0u);
	for (i = 0; i < 5; i++)
		cr_assert_eq(r.from.reserved_[i], 0u);
	cr_assert_eq(r.to.available, 100);
	cr_assert_eq(r.to.published, 100);

	/* Whatever `from` holds, and even with a non-stock change, first seen wins. */
	c.from = 100;
	c.flags = STG_CHANGE_NON_STOCK;
	expect_c(p, &c, EXPORT, STG_REASON_FIRST_SEEN);
	c.to = 0;
	c.from = INT64_MIN;
	expect_c(p, &c, EXPORT, STG_REASON_FIRST_SEEN);
	stg_policy_free(p);
}

Test(filter, non_stock_change_always_exports)
{
	stg_policy *p = mk();
	stg_change c = change(100, 100);

	c.flags |= STG_CHANGE_NON_STOCK;
	expect_c(p, &c, EXPORT, STG_REASON_NON_STOCK_CHANGE);
	c.to = 200;
	expect_c(p, &c, EXPORT, STG_REASON_NON_STOCK_CHANGE);
	c.to = 1;
	expect_c(p, &c, EXPORT, STG_REASON_NON_STOCK_CHANGE);
	stg_policy_free(p);
}

Test(filter, no_change_judged_on_published)
{
	stg_policy *p = mk();

	expect(p, 100, 100, SKIP, STG_REASON_NO_CHANGE);
	expect(p, 0, 0, SKIP, STG_REASON_NO_CHANGE);
	expect(p, 3, 3, SKIP, STG_REASON_NO_CHANGE);
	/* Different raw values, same published value: nothing to send. */
	expect(p, -5, 0, SKIP, STG_REASON_NO_CHANGE);
	expect(p, INT64_MIN, -1, SKIP, STG_REASON_NO_CHANGE);
	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	expect(p, 3, 7, SKIP, STG_REASON_NO_CHANGE);
	expect(p, 10, -3, SKIP, STG_REASON_NO_CHANGE);
	cr_assert_eq(stg_policy_set_cap(p, 50), STG_OK);
	expect(p, 100, 200, SKIP, STG_REASON_NO_CHANGE);
	expect(p, 51, INT64_MAX, SKIP, STG_REASON_NO_CHANGE);
	stg_policy_free(p);
}

Test(filter, low_stock_window_boundaries)
{
	stg_policy *p = mk();

	/* Default window 5: p <= 5 on either side exports. */
	expect(p, 6, 5, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 5, 6, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 7, 6, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 6, 7, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 100, 50, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 0, 100, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 100, 0, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 1, 2, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, -5, 100, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, INT64_MAX, INT64_MIN, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, INT64_MAX, 6, SKIP, STG_REASON_OUTSIDE_WINDOW);

	cr_assert_eq(stg_policy_set_window(p, 0), STG_OK);
	expect(p, 1, 2, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 0, 2, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 2, 0, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 2, -1, EXPORT, STG_REASON_LOW_STOCK);

	cr_assert_eq(stg_policy_set_window(p, 100), STG_OK);
	expect(p, 100, 101, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 101, 100, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 101, 102, SKIP, STG_REASON_OUTSIDE_WINDOW);

	/* The widest window makes every real change worth sending. */
	cr_assert_eq(stg_policy_set_window(p, STG_QUANTITY_MAX), STG_OK);
	expect(p, STG_QUANTITY_MAX, INT64_MAX, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, STG_QUANTITY_MAX + 1, INT64_MAX, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, INT64_MAX, INT64_MAX, SKIP, STG_REASON_NO_CHANGE);
	stg_policy_free(p);
}

Test(filter, seed_example_min_stock_cannot_be_hidden)
{
	stg_policy *p = mk();
	stg_filter_result r;

	/* Without a minimum, raw 12 -> 9 is outside the window. */
	expect(p, 12, 9, SKIP, STG_REASON_OUTSIDE_WINDOW);

	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	r = expect(p, 12, 9, EXPORT, STG_REASON_LOW_STOCK);
	cr_assert_eq(r.from.published, 12);
	cr_assert_eq(r.from.warnings, 0u);
	cr_assert_eq(r.to.published, 0);
	cr_assert_eq(r.to.rule, STG_RULE_CUTOFF);
	cr_assert_eq(r.to.warnings, STG_WARN_MIN_STOCK_REACHED);
	cr_assert_eq(r.to.min_stock, 10);
	cr_assert_eq(r.to.min_source, STG_MIN_DEFAULT);
	cr_assert_eq(r.from.available, 12);
	cr_assert_eq(r.to.available, 9);

	/* Back above the minimum: 0 -> 12 exports too. */
	r = expect(p, 9, 12, EXPORT, STG_REASON_LOW_STOCK);
	cr_assert_eq(r.from.warnings, STG_WARN_MIN_STOCK_REACHED);
	cr_assert_eq(r.to.warnings, 0u);

	/* The same through a SKU override. */
	cr_assert_eq(stg_policy_set_min_stock(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "S", 10), STG_OK);
	{
		stg_change c = change(12, 9);
		c.sku = "S";
		r = expect_c(p, &c, EXPORT, STG_REASON_LOW_STOCK);
		cr_assert_eq(r.to.min_source, STG_MIN_SKU);
		cr_assert_eq(r.to.warnings, STG_WARN_MIN_STOCK_REACHED);
		c.sku = "T";
		expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	}
	stg_policy_free(p);
}

Test(filter, reserve_and_allocation_move_the_window)
{
	stg_policy *p = mk();

	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
	expect(p, 30, 20, SKIP, STG_REASON_OUTSIDE_WINDOW);  /* 20 -> 10 */
	expect(p, 30, 15, EXPORT, STG_REASON_LOW_STOCK);     /* 20 -> 5 */
	expect(p, 16, 15, EXPORT, STG_REASON_LOW_STOCK);     /* 6 -> 5 */

	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_CUTOFF), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 0), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 5), STG_OK);
	expect(p, 200, 100, EXPORT, STG_REASON_LOW_STOCK);   /* 10 -> 5 */
	expect(p, 200, 120, SKIP, STG_REASON_OUTSIDE_WINDOW); /* 10 -> 6 */
	expect(p, 200, 219, SKIP, STG_REASON_NO_CHANGE);      /* 10 -> 10 */
	stg_policy_free(p);
}

Test(filter, drift_bound)
{
	stg_policy *p = mk();

	/* Off by default: the documented rule alone. */
	expect(p, 100, 200, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 100, 6, SKIP, STG_REASON_OUTSIDE_WINDOW);

	cr_assert_eq(stg_policy_set_drift(p, 50), STG_OK);
	expect(p, 100, 150, EXPORT, STG_REASON_DRIFT);
	expect(p, 100, 149, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 100, 50, EXPORT, STG_REASON_DRIFT);
	expect(p, 100, 51, SKIP, STG_REASON_OUTSIDE_WINDOW);
	/* Low stock comes first in the table. */
	expect(p, 100, 5, EXPORT, STG_REASON_LOW_STOCK);
	expect(p, 100, 100, SKIP, STG_REASON_NO_CHANGE);

	/* Non-integer bound: 33% of 150 is 49.5, so 50 is needed. */
	cr_assert_eq(stg_policy_set_drift(p, 33), STG_OK);
	expect(p, 150, 200, EXPORT, STG_REASON_DRIFT);
	expect(p, 150, 199, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 150, 100, EXPORT, STG_REASON_DRIFT);
	expect(p, 150, 101, SKIP, STG_REASON_OUTSIDE_WINDOW);

	cr_assert_eq(stg_policy_set_drift(p, 1), STG_OK);
	expect(p, 100, 101, EXPORT, STG_REASON_DRIFT);
	expect(p, 101, 100, SKIP, STG_REASON_OUTSIDE_WINDOW); /* 1 < 1.01 */
	expect(p, 1000, 1009, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 1000, 1010, EXPORT, STG_REASON_DRIFT);

	cr_assert_eq(stg_policy_set_drift(p, 10000), STG_OK);
	expect(p, 10, 1010, EXPORT, STG_REASON_DRIFT);
	expect(p, 10, 1009, SKIP, STG_REASON_OUTSIDE_WINDOW);
	/* 100x of a huge p0 cannot be reached; it must not wrap into a yes. */
	expect(p, INT64_MAX / 2, INT64_MAX, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, INT64_MAX, 6, SKIP, STG_REASON_OUTSIDE_WINDOW);

	/* Exact at the top of the range: 50% of INT64_MAX is ...903.5. */
	cr_assert_eq(stg_policy_set_drift(p, 50), STG_OK);
	expect(p, INT64_MAX, INT64_MAX / 2, EXPORT, STG_REASON_DRIFT);
	expect(p, INT64_MAX, INT64_MAX / 2 + 1, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, INT64_MAX / 2, INT64_MAX, EXPORT, STG_REASON_DRIFT);

	/* Drift judges published values too: raw 80 -> 1000 is capped to 80 -> 100. */
	cr_assert_eq(stg_policy_set_cap(p, 100), STG_OK);
	expect(p, 80, 1000, SKIP, STG_REASON_OUTSIDE_WINDOW);
	expect(p, 60, 1000, EXPORT, STG_REASON_DRIFT);
	stg_policy_free(p);
}

Test(filter, heartbeat)
{
	stg_policy *p = mk();
	stg_change c = change(100, 200);

	/* Off by default, whatever the age. */
	c.since_export_ms = INT64_MAX;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);

	cr_assert_eq(stg_policy_set_heartbeat(p, 1000), STG_OK);
	c.since_export_ms = 1001;
	expect_c(p, &c, EXPORT, STG_REASON_HEARTBEAT);
	c.since_export_ms = INT64_MAX;
	expect_c(p, &c, EXPORT, STG_REASON_HEARTBEAT);
	/* "Older than": exactly the age is not older. */
	c.since_export_ms = 1000;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	c.since_export_ms = 0;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	/* Unknown age is never a reason to send. */
	c.since_export_ms = -1;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	c.since_export_ms = INT64_MIN;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);

	/* No change stays a skip however old the export. */
	c.since_export_ms = 5000;
	c.to = 100;
	expect_c(p, &c, SKIP, STG_REASON_NO_CHANGE);
	/* Low stock and drift come before the heartbeat. */
	c.to = 3;
	expect_c(p, &c, EXPORT, STG_REASON_LOW_STOCK);
	cr_assert_eq(stg_policy_set_drift(p, 50), STG_OK);
	c.to = 200;
	expect_c(p, &c, EXPORT, STG_REASON_DRIFT);
	c.to = 120;
	expect_c(p, &c, EXPORT, STG_REASON_HEARTBEAT);

	cr_assert_eq(stg_policy_set_heartbeat(p, INT64_MAX), STG_OK);
	c.since_export_ms = INT64_MAX;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	cr_assert_eq(stg_policy_set_heartbeat(p, 1), STG_OK);
	c.since_export_ms = 2;
	expect_c(p, &c, EXPORT, STG_REASON_HEARTBEAT);
	c.since_export_ms = 1;
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	stg_policy_free(p);
}

Test(filter, overrides_by_sku_and_category)
{
	stg_policy *p = mk();
	stg_change c = change(20, 14);
	stg_filter_result r;

	cr_assert_eq(stg_policy_set_category_min(p, "tv", 15), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "tv-1", 0), STG_OK);
	expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	c.category = "tv";
	r = expect_c(p, &c, EXPORT, STG_REASON_LOW_STOCK);
	cr_assert_eq(r.from.min_source, STG_MIN_CATEGORY);
	cr_assert_eq(r.to.min_source, STG_MIN_CATEGORY);
	cr_assert_eq(r.to.min_stock, 15);
	c.sku = "tv-1";
	r = expect_c(p, &c, SKIP, STG_REASON_OUTSIDE_WINDOW);
	cr_assert_eq(r.to.min_source, STG_MIN_SKU);
	cr_assert_eq(r.to.min_stock, 0);
	stg_policy_free(p);
}

/* A fixed set of changes covering every row, for the batch comparisons. */
enum { NC = 64 };

struct fixture {
	const char *skus[NC], *cats[NC];
	int64_t from[NC], to[NC], since[NC];
	uint8_t has_from[NC], non_stock[NC];
};

static void fill(struct fixture *f)
{
	static const int64_t q[] = {
		INT64_MIN, -1, 0, 1, 4, 5, 6, 7, 9, 10, 11, 12, 15, 20, 100, 150, 1000,
		INT64_MAX,
	};
	static const char *const keys[] = { NULL, "A", "B", "tv", "none" };
	const size_t nq = sizeof q / sizeof q[0];
	size_t i;

	for (i = 0; i < NC; i++) {
		f->from[i] = q[(i * 7) % nq];
		f->to[i] = q[(i * 11 + 3) % nq];
		f->has_from[i] = i % 9 != 0;
		f->non_stock[i] = i % 13 == 5;
		f->since[i] = i % 3 == 0 ? -1 : (int64_t)(i * 100);
		f->skus[i] = keys[i % 5];
		f->cats[i] = keys[(i / 5) % 5];
	}
	f->from[10] = f->to[10] = 100; /* a no_change */
	f->has_from[10] = 1;
	f->non_stock[10] = 0;
}

static void check_batch(const stg_policy *p, const struct fixture *f, int use_keys,
                        int use_has_from, int use_non_stock, int use_since)
{
	uint8_t dec[NC], rea[NC], warn[NC];
	int64_t pub[NC];
	size_t i;

	memset(dec, 0xee, sizeof dec);
	memset(rea, 0xee, sizeof rea);
	memset(warn, 0xee, sizeof warn);
	memset(pub, 0xee, sizeof pub);
	cr_assert_eq(stg_filter_batch(p, NC, use_keys ? f->skus : NULL, use_keys ? f->cats : NULL,
	                              f->from, use_has_from ? f->has_from : NULL, f->to,
	                              use_non_stock ? f->non_stock : NULL,
	                              use_since ? f->since : NULL, dec, rea, pub, warn),
	             STG_OK);
	for (i = 0; i < NC; i++) {
		stg_change c = STG_CHANGE_INIT;
		stg_filter_result r;

		c.sku = use_keys ? f->skus[i] : NULL;
		c.category = use_keys ? f->cats[i] : NULL;
		c.from = f->from[i];
		c.to = f->to[i];
		if (!use_has_from || f->has_from[i])
			c.flags |= STG_CHANGE_HAS_FROM;
		if (use_non_stock && f->non_stock[i])
			c.flags |= STG_CHANGE_NON_STOCK;
		c.since_export_ms = use_since ? f->since[i] : -1;
		r = run(p, &c);
		cr_assert_eq(dec[i], r.decision, "item %zu: decision %d vs %d", i, dec[i], r.decision);
		cr_assert_eq(rea[i], r.reason, "item %zu: reason %s vs %s", i, stg_reason_name(rea[i]),
		             stg_reason_name(r.reason));
		cr_assert_eq(pub[i], r.to.published, "item %zu: published_to", i);
		cr_assert_eq(warn[i], r.to.warnings, "item %zu: warnings", i);
	}
	/* Optional outputs may be left out. */
	memset(dec, 0xee, sizeof dec);
	cr_assert_eq(stg_filter_batch(p, NC, use_keys ? f->skus : NULL, use_keys ? f->cats : NULL,
	                              f->from, use_has_from ? f->has_from : NULL, f->to,
	                              use_non_stock ? f->non_stock : NULL,
	                              use_since ? f->since : NULL, dec, NULL, NULL, NULL),
	             STG_OK);
	for (i = 0; i < NC; i++)
		cr_assert_neq(dec[i], 0xee);
	/* Any subset of them: each one given equals the full call's. */
	{
		int subset;
		for (subset = 1; subset < 7; subset++) {
			uint8_t d2[NC], r2[NC], w2[NC];
			int64_t p2[NC];
			memset(r2, 0xee, sizeof r2);
			memset(w2, 0xee, sizeof w2);
			memset(p2, 0xee, sizeof p2);
			cr_assert_eq(stg_filter_batch(p, NC, use_keys ? f->skus : NULL,
			                              use_keys ? f->cats : NULL, f->from,
			                              use_has_from ? f->has_from : NULL, f->to,
			                              use_non_stock ? f->non_stock : NULL,
			                              use_since ? f->since : NULL, d2,
			                              subset & 1 ? r2 : NULL, subset & 2 ? p2 : NULL,
			                              subset & 4 ? w2 : NULL),
			             STG_OK);
			for (i = 0; i < NC; i++) {
				cr_assert_eq(d2[i], dec[i], "subset %d item %zu: decision", subset, i);
				if (subset & 1)
					cr_assert_eq(r2[i], rea[i], "subset %d item %zu: reason", subset, i);
				if (subset & 2)
					cr_assert_eq(p2[i], pub[i], "subset %d item %zu: published", subset, i);
				if (subset & 4)
					cr_assert_eq(w2[i], warn[i], "subset %d item %zu: warnings", subset, i);
			}
		}
	}
}

Test(filter, batch_agrees_with_decide)
{
	struct fixture f;
	stg_policy *p = mk();
	int setting, mask;

	fill(&f);
	for (setting = 0; setting < 4; setting++) {
		switch (setting) {
		case 1:
			cr_assert_eq(stg_policy_set_min_stock(p, 10), STG_OK);
			cr_assert_eq(stg_policy_set_sku_min(p, "A", 0), STG_OK);
			cr_assert_eq(stg_policy_set_category_min(p, "tv", 15), STG_OK);
			cr_assert_eq(stg_policy_set_category_min(p, "B", 3), STG_OK);
			break;
		case 2:
			cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
			cr_assert_eq(stg_policy_set_drift(p, 20), STG_OK);
			cr_assert_eq(stg_policy_set_heartbeat(p, 1000), STG_OK);
			break;
		case 3:
			cr_assert_eq(stg_policy_set_allocation(p, 30), STG_OK);
			cr_assert_eq(stg_policy_set_cap(p, 200), STG_OK);
			cr_assert_eq(stg_policy_set_window(p, 0), STG_OK);
			break;
		default:
			break;
		}
		for (mask = 0; mask < 16; mask++)
			check_batch(p, &f, mask & 1, mask & 2, mask & 4, mask & 8);
	}
	stg_policy_free(p);
}

Test(filter, batch_without_from)
{
	stg_policy *p = mk();
	const int64_t to[3] = { 0, 5, 100 };
	const uint8_t has_from[3] = { 0, 0, 0 };
	uint8_t dec[3], rea[3];
	size_t i;

	/* Every SKU first seen: `from` is not needed. */
	cr_assert_eq(stg_filter_batch(p, 3, NULL, NULL, NULL, has_from, to, NULL, NULL, dec, rea,
	                              NULL, NULL),
	             STG_OK);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(dec[i], STG_DECISION_EXPORT);
		cr_assert_eq(rea[i], STG_REASON_FIRST_SEEN);
	}
	/* n = 0 needs no arrays at all. */
	cr_assert_eq(stg_filter_batch(p, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	                              NULL, NULL),
	             STG_OK);
	stg_policy_free(p);
}

Test(filter, bad_arguments)
{
	stg_policy *p = mk();
	stg_change c = change(1, 2);
	stg_filter_result r, poison;
	const int64_t from[2] = { 1, 2 }, to[2] = { 3, 4 };
	const uint8_t hf[2] = { 0, 1 };
	uint8_t dec[2] = { 0xee, 0xee }, rea[2] = { 0xee, 0xee }, warn[2] = { 0xee, 0xee };
	int64_t pub[2] = { -7, -7 };

	memset(&poison, 0x3c, sizeof poison);
	r = poison;
	cr_assert_eq(stg_filter_decide(NULL, &c, &r), STG_EINVAL);
	cr_assert_str_neq(stg_last_error(), "");
	cr_assert_eq(stg_last_error_code(), STG_EINVAL);
	cr_assert_eq(stg_filter_decide(p, NULL, &r), STG_EINVAL);
	cr_assert_eq(stg_filter_decide(p, &c, NULL), STG_EINVAL);
	c.version = 0;
	cr_assert_eq(stg_filter_decide(p, &c, &r), STG_EVERSION);
	cr_assert_eq(stg_last_error_code(), STG_EVERSION);
	cr_assert_str_neq(stg_last_error(), "");
	c.version = STG_CHANGE_VERSION + 1;
	cr_assert_eq(stg_filter_decide(p, &c, &r), STG_EVERSION);
	cr_assert_eq(memcmp(&r, &poison, sizeof r), 0, "result written on failure");

#define BATCH_EINVAL(pol, frm, has, t, d) \
	do { \
		cr_assert_eq(stg_filter_batch(pol, 2, NULL, NULL, frm, has, t, NULL, NULL, d, rea, \
		                              pub, warn), \
		             STG_EINVAL, "batch(%s, %s, %s, %s, %s)", #pol, #frm, #has, #t, #d); \
		cr_assert_eq(stg_last_error_code(), STG_EINVAL); \
	} while (0)
	BATCH_EINVAL(NULL, from, NULL, to, dec);
	BATCH_EINVAL(p, from, NULL, NULL, dec);
	BATCH_EINVAL(p, from, NULL, to, NULL);
	BATCH_EINVAL(p, NULL, NULL, to, dec);
	/* Without `from`, an item that claims one is a caller bug. */
	BATCH_EINVAL(p, NULL, hf, to, dec);
	cr_assert_eq(dec[0], 0xee, "decisions written on failure");
	cr_assert_eq(dec[1], 0xee);
	cr_assert_eq(rea[0], 0xee);
	cr_assert_eq(rea[1], 0xee);
	cr_assert_eq(warn[0], 0xee);
	cr_assert_eq(pub[0], -7);
	cr_assert_eq(pub[1], -7);
	stg_policy_free(p);
}

Test(filter, names)
{
	static const char *const reasons[STG_REASON_COUNT] = {
		"none", "first_seen", "non_stock_change", "no_change", "low_stock",
		"outside_window", "drift", "heartbeat", "coalesced", "stale", "after_error",
		"out_of_sync",
	};
	int i;

	cr_assert_eq(STG_REASON_NONE, 0);
	cr_assert_eq(STG_REASON_FIRST_SEEN, 1);
	cr_assert_eq(STG_REASON_NON_STOCK_CHANGE, 2);
	cr_assert_eq(STG_REASON_NO_CHANGE, 3);
	cr_assert_eq(STG_REASON_LOW_STOCK, 4);
	cr_assert_eq(STG_REASON_OUTSIDE_WINDOW, 5);
	for (i = 0; i < STG_REASON_COUNT; i++)
		cr_assert_str_eq(stg_reason_name(i), reasons[i]);
	cr_assert_str_eq(stg_reason_name(-1), "unknown");
	cr_assert_str_eq(stg_reason_name(STG_REASON_COUNT), "unknown");
	cr_assert_str_eq(stg_reason_name(INT_MIN), "unknown");
	cr_assert_str_eq(stg_reason_name(INT_MAX), "unknown");

	cr_assert_str_eq(stg_decision_name(STG_DECISION_SKIP), "skip");
	cr_assert_str_eq(stg_decision_name(STG_DECISION_EXPORT), "export");
	cr_assert_str_eq(stg_decision_name(STG_DECISION_COALESCED), "coalesced");
	cr_assert_str_eq(stg_decision_name(STG_DECISION_STALE), "stale");
	cr_assert_str_eq(stg_decision_name(-1), "unknown");
	cr_assert_str_eq(stg_decision_name(4), "unknown");
	cr_assert_str_eq(stg_decision_name(INT_MIN), "unknown");
}
