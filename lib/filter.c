/* The export-change filter: the decision table of stockguard/filter.h. */
#include "policy_internal.h"
#include "versions.h"
#include "stockguard/filter.h"

#include <string.h>


/* |p1 - p0| >= percent% of p0, exactly, for p0 and p1 in 0..INT64_MAX. */
static int drifted(int64_t p0, int64_t p1, int percent)
{
	uint64_t diff = p1 > p0 ? (uint64_t)p1 - (uint64_t)p0 : (uint64_t)p0 - (uint64_t)p1;
	uint64_t base = (uint64_t)p0, pct = (uint64_t)percent;
	/* diff*100 >= base*pct, split as base = 100k + r so no product overflows:
	 * diff >= k*pct + r*pct/100 (the right side rounded up). */
	uint64_t k = base / 100, r = base % 100;
	uint64_t need_hi, need_lo = (r * pct + 99) / 100;

	if (k && pct > UINT64_MAX / k)
		return 0;
	need_hi = k * pct;
	if (need_hi > UINT64_MAX - need_lo)
		return 0;
	return diff >= need_hi + need_lo;
}

/*
 * The table, on published values. Kept as one function so the per-item and
 * batch forms cannot disagree.
 */
int stg__filter_table(const stg_policy *p, int has_from, int non_stock, int64_t p0, int64_t p1,
                      int64_t since_export_ms, int *reason)
{
	if (!has_from) {
		*reason = STG_REASON_FIRST_SEEN;
		return STG_DECISION_EXPORT;
	}
	if (non_stock) {
		*reason = STG_REASON_NON_STOCK_CHANGE;
		return STG_DECISION_EXPORT;
	}
	if (p0 == p1) {
		*reason = STG_REASON_NO_CHANGE;
		return STG_DECISION_SKIP;
	}
	if (p0 <= p->window || p1 <= p->window) {
		*reason = STG_REASON_LOW_STOCK;
		return STG_DECISION_EXPORT;
	}
	if (p->drift && drifted(p0, p1, p->drift)) {
		*reason = STG_REASON_DRIFT;
		return STG_DECISION_EXPORT;
	}
	if (p->heartbeat_ms && since_export_ms >= 0 && since_export_ms > p->heartbeat_ms) {
		*reason = STG_REASON_HEARTBEAT;
		return STG_DECISION_EXPORT;
	}
	*reason = STG_REASON_OUTSIDE_WINDOW;
	return STG_DECISION_SKIP;
}

/* Kept out of line: the checks of stg_filter_decide() cost one test on the
 * way in, and the message formatting stays off the per-change path. */
static STG__COLD int decide_fail(const stg_policy *p, const stg_change *c, const stg_filter_result *out)
{
	if (!p || !c || !out)
		return stg__fail(NULL, STG_EINVAL, "stg_filter_decide: NULL %s",
		                 !p ? "policy" : !c ? "change" : "out");
	if (STG__VERSION_BAD(c->version, STG_CHANGE_VERSION))
		return stg__version_fail(NULL, "stg_filter_decide", &stg__v_change, c->version);
	return stg__fail(NULL, STG_EINVAL, "stg_filter_decide: unknown change flags 0x%x", c->flags);
}

STG_EXTERN int stg_filter_decide(const stg_policy *p, const stg_change *c, stg_filter_result *out)
{
	int64_t min, from, to, since;
	int source, reason, has_from, non_stock;

	if (STG__UNLIKELY(!p || !c || !out || STG__VERSION_BAD(c->version, STG_CHANGE_VERSION) ||
	                  (c->flags & ~(unsigned)(STG_CHANGE_HAS_FROM | STG_CHANGE_NON_STOCK))))
		return decide_fail(p, c, out);
	/* Everything is read from the change before out is written: as far as
	 * the compiler knows the two may overlap, so reads after the first store
	 * would be reloads. out is written once, in place, with no copy of a
	 * whole local result. */
	stg__policy_resolve(p, c->sku, c->category, &min, &source);
	has_from = (c->flags & STG_CHANGE_HAS_FROM) != 0;
	non_stock = (c->flags & STG_CHANGE_NON_STOCK) != 0;
	from = c->from;
	to = c->to;
	since = c->since_export_ms;
	if (has_from)
		stg__policy_eval(p, min, source, from, &out->from);
	else
		memset(&out->from, 0, sizeof out->from);
	stg__policy_eval(p, min, source, to, &out->to);
	out->decision = stg__filter_table(p, has_from, non_stock, out->from.published,
	                                  out->to.published, since, &reason);
	out->reason = reason;
	memset(out->reserved_, 0, sizeof out->reserved_);
	return STG_OK;
}

/*
 * The batch's common case: every item known, stock-only, one minimum, no
 * drift or heartbeat, whole allocation. pub() is then a select and the table
 * three compares, written without branches so the compiler can vectorise;
 * items go in blocks so the optional outputs cost a copy, not a test per item.
 */
#define FAST_BLOCK 256

/* One pass over [0, n); reserve and capped are constants at each call site,
 * so every variant compiles to its own straight-line loop. */
static inline void fast_kernel(size_t n, const int64_t *restrict from, const int64_t *restrict to,
                               int64_t m, int64_t w, int64_t cap, int reserve, int capped,
                               uint8_t *restrict dec, uint8_t *restrict rea,
                               int64_t *restrict pub, uint8_t *restrict war)
{
	size_t k;

	for (k = 0; k < n; k++) {
		int64_t p0 = stg__pub_select(from[k], m, cap, reserve, capped);
		int64_t p1 = stg__pub_select(to[k], m, cap, reserve, capped);
		int same = p0 == p1, low = (p0 <= w) | (p1 <= w);

		dec[k] = (uint8_t)((same ^ 1) & low);
		rea[k] = (uint8_t)(same ? STG_REASON_NO_CHANGE
		                        : low ? STG_REASON_LOW_STOCK : STG_REASON_OUTSIDE_WINDOW);
		pub[k] = p1;
		war[k] = stg__warn_select(to[k], m);
	}
}

STG__VECTOR_CLONES static void fast_pass(const stg_policy *p, size_t n, const int64_t *from, const int64_t *to,
                      uint8_t *dec, uint8_t *rea, int64_t *pub, uint8_t *war)
{
	const int64_t m = p->min_stock, w = p->window, cap = p->cap;

	if (p->mode == STG_MODE_RESERVE)
		cap > 0 ? fast_kernel(n, from, to, m, w, cap, 1, 1, dec, rea, pub, war)
		        : fast_kernel(n, from, to, m, w, cap, 1, 0, dec, rea, pub, war);
	else
		cap > 0 ? fast_kernel(n, from, to, m, w, cap, 0, 1, dec, rea, pub, war)
		        : fast_kernel(n, from, to, m, w, cap, 0, 0, dec, rea, pub, war);
}

static void batch_fast(const stg_policy *p, size_t n, const int64_t *from, const int64_t *to,
                       uint8_t *decisions, uint8_t *reasons, int64_t *published_to,
                       uint8_t *warnings)
{
	size_t base;

	if (reasons && published_to && warnings) {
		fast_pass(p, n, from, to, decisions, reasons, published_to, warnings);
		return;
	}
	/* Some outputs not wanted: blocks through scratch space, copied as asked. */
	for (base = 0; base < n; base += FAST_BLOCK) {
		size_t len = n - base < FAST_BLOCK ? n - base : FAST_BLOCK;
		int64_t pub1[FAST_BLOCK];
		uint8_t rs[FAST_BLOCK], ws[FAST_BLOCK];

		fast_pass(p, len, from + base, to + base, decisions + base, rs, pub1, ws);
		if (reasons)
			memcpy(reasons + base, rs, len);
		if (published_to)
			memcpy(published_to + base, pub1, len * sizeof *pub1);
		if (warnings)
			memcpy(warnings + base, ws, len);
	}
}

STG_EXTERN int stg_filter_batch(const stg_policy *p, size_t n, const char *const *skus,
                                const char *const *categories, const int64_t *from,
                                const uint8_t *has_from, const int64_t *to,
                                const uint8_t *non_stock, const int64_t *since_export_ms,
                                uint8_t *decisions, uint8_t *reasons, int64_t *published_to,
                                uint8_t *warnings)
{
	int overrides;
	size_t i;

	if (!p)
		return stg__fail(NULL, STG_EINVAL, "stg_filter_batch: NULL policy");
	if (n && (!to || !decisions || (!from && !has_from)))
		return stg__fail(NULL, STG_EINVAL, "stg_filter_batch: NULL %s array",
		                 !to ? "to" : !decisions ? "decisions" : "from");
	if (n && !from) {
		/* Without from, every item must be first seen. */
		for (i = 0; i < n; i++)
			if (has_from[i])
				return stg__fail(NULL, STG_EINVAL,
				                 "stg_filter_batch: NULL from array but has_from[%zu] set", i);
	}
	overrides = (skus && p->sku_min.count) || (categories && p->category_min.count);
	if (!overrides && !has_from && !non_stock && p->allocation == 100 && p->drift == 0 &&
	    (p->heartbeat_ms == 0 || !since_export_ms)) {
		batch_fast(p, n, from, to, decisions, reasons, published_to, warnings);
		return STG_OK;
	}
	for (i = 0; i < n; i++) {
		int64_t min = p->min_stock, p0 = 0, p1;
		int reason, d, hf = has_from ? has_from[i] != 0 : 1;
		unsigned w0, w1;

		if (overrides) {
			int source;
			stg_policy_resolve_min(p, skus ? skus[i] : NULL,
			                       categories ? categories[i] : NULL, &min, &source);
		}
		if (hf)
			p0 = stg__policy_pub(p, min, from[i], &w0);
		p1 = stg__policy_pub(p, min, to[i], &w1);
		d = stg__filter_table(p, hf, non_stock ? non_stock[i] != 0 : 0, p0, p1,
		           since_export_ms ? since_export_ms[i] : -1, &reason);
		decisions[i] = (uint8_t)d;
		if (reasons)
			reasons[i] = (uint8_t)reason;
		if (published_to)
			published_to[i] = p1;
		if (warnings)
			warnings[i] = (uint8_t)w1;
	}
	return STG_OK;
}

STG_EXTERN const char *stg_decision_name(int decision)
{
	switch (decision) {
	case STG_DECISION_SKIP: return "skip";
	case STG_DECISION_EXPORT: return "export";
	case STG_DECISION_COALESCED: return "coalesced";
	case STG_DECISION_STALE: return "stale";
	default: return "unknown";
	}
}

STG_EXTERN const char *stg_reason_name(int reason)
{
	static const char *const names[STG_REASON_COUNT] = {
		"none", "first_seen", "non_stock_change", "no_change", "low_stock",
		"outside_window", "drift", "heartbeat", "coalesced", "stale", "after_error",
		"out_of_sync",
	};

	if (reason < 0 || reason >= STG_REASON_COUNT)
		return "unknown";
	return names[reason];
}
