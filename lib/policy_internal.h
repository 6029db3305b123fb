/* The policy's layout, shared with the filter and the log. Never installed. */
#ifndef STOCKGUARD_POLICY_INTERNAL_H
#define STOCKGUARD_POLICY_INTERNAL_H

#include "stockguard/policy.h"
#include "strmap.h"

struct stg_policy {
	stg__alloc alloc;
	int64_t min_stock;
	int64_t cap;
	int64_t window;
	int64_t heartbeat_ms;
	int mode;
	int allocation;
	int drift;
	stg__strmap sku_min;
	stg__strmap category_min;
	char errmsg[STG__ERRMSG_LEN];
};

/* Deep copy of @src made with the allocator @a (the log copies with its own). */
int stg__policy_copy_with(stg_policy **out, const stg_policy *src, const stg__alloc *a);


/*
 * The filter's decision table on published values (stockguard/filter.h);
 * the log calls it with an acknowledged quantity as p0.
 */
int stg__filter_table(const stg_policy *p, int has_from, int non_stock, int64_t p0, int64_t p1,
                      int64_t since_export_ms, int *reason);

void stg__policy_resolve_slow(const stg_policy *p, const char *sku, const char *category,
                              int64_t *min, int *source);

/* The minimum that applies to a SKU (stg_policy_resolve_min() without the
 * checks); without overrides, the default at once. */
static inline void stg__policy_resolve(const stg_policy *p, const char *sku, const char *category,
                                       int64_t *min, int *source)
{
	if (!p->sku_min.count && !p->category_min.count) {
		*min = p->min_stock;
		*source = STG_MIN_DEFAULT;
		return;
	}
	stg__policy_resolve_slow(p, sku, category, min, source);
}

/* Published quantity only, for the batch fast path. */
static inline int64_t stg__policy_pub(const stg_policy *p, int64_t min, int64_t a, unsigned *warn)
{
	int64_t q;

	*warn = 0;
	if (a < 0)
		return 0;
	if (p->mode == STG_MODE_CUTOFF) {
		if (a <= min) {
			*warn = a > 0;
			return 0;
		}
		q = a;
	} else {
		q = a - min; /* a >= 0 and min >= 0: no overflow */
		if (q <= 0) {
			*warn = a > 0;
			return 0;
		}
	}
	if (p->allocation != 100)
		q = (q / 100) * p->allocation + (q % 100) * p->allocation / 100;
	if (p->cap > 0 && q > p->cap)
		q = p->cap;
	return q;
}

/*
 * pub(a) and its warning in the batch loops' common case (whole allocation,
 * one minimum m >= 0): selects without branches, so the loops vectorise.
 * reserve and capped are constants at each call site. a <= m covers
 * negative a, as m >= 0.
 */
static inline int64_t stg__pub_select(int64_t a, int64_t m, int64_t cap, int reserve, int capped)
{
	int64_t q = a > m ? a - (reserve ? m : 0) : 0;

	if (capped)
		q = q < cap ? q : cap;
	return q;
}

static inline uint8_t stg__warn_select(int64_t a, int64_t m)
{
	return (uint8_t)((a > 0) & (a <= m));
}

/*
 * pub(a) with its explanation for a resolved minimum. Inline and
 * allocation-free: stg_filter_decide() calls it twice per change, and a call
 * per change is the cost a connector pays on every stock movement. The
 * result is built whole and stored once, so no memset precedes the fields.
 */
static inline void stg__policy_eval(const stg_policy *p, int64_t min, int source, int64_t a,
                                    stg_evaluation *out)
{
	stg_evaluation e = { 0 };
	int64_t q;

	e.available = a;
	e.min_stock = min;
	e.min_source = source;
	e.rule = STG_RULE_AVAILABLE;
	if (a < 0) {
		e.rule = STG_RULE_NEGATIVE;
		goto done;
	}
	if (p->mode == STG_MODE_CUTOFF) {
		if (a <= min) {
			e.rule = STG_RULE_CUTOFF;
			e.warnings = a > 0 ? STG_WARN_MIN_STOCK_REACHED : 0;
			goto done;
		}
		q = a;
	} else {
		q = a - min; /* a >= 0 and min >= 0: no overflow */
		if (q <= 0) {
			e.rule = STG_RULE_RESERVE;
			e.warnings = a > 0 ? STG_WARN_MIN_STOCK_REACHED : 0;
			goto done;
		}
		if (min > 0)
			e.rule = STG_RULE_RESERVE;
	}
	if (p->allocation != 100) {
		int64_t share = (q / 100) * p->allocation + (q % 100) * p->allocation / 100;
		if (share != q)
			e.rule = STG_RULE_ALLOCATION;
		q = share;
	}
	if (p->cap > 0 && q > p->cap) {
		q = p->cap;
		e.rule = STG_RULE_CAP;
	}
	e.published = q;
done:
	*out = e;
}

#endif
