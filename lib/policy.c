/* The threshold evaluator: policy settings, overrides and evaluation. */
#include "policy_internal.h"

#include <string.h>

STG_EXTERN int stg_policy_new(stg_policy **out, const stg_allocator *alloc)
{
	stg__alloc a;
	stg_policy *p;
	int rc;

	if (!out)
		return stg__fail(NULL, STG_EINVAL, "stg_policy_new: NULL out");
	rc = stg__alloc_from(&a, alloc, "stg_policy_new");
	if (rc)
		return rc;
	p = stg__calloc(&a, 1, sizeof *p);
	if (!p)
		return stg__fail(NULL, STG_ENOMEM, "stg_policy_new: out of memory");
	p->alloc = a;
	p->mode = STG_MODE_CUTOFF;
	p->allocation = 100;
	p->window = 5;
	*out = p;
	return STG_OK;
}

int stg__policy_copy_with(stg_policy **out, const stg_policy *src, const stg__alloc *a)
{
	stg_policy *p = stg__malloc(a, sizeof *p);

	if (!p)
		return STG_ENOMEM;
	memcpy(p, src, sizeof *p);
	p->alloc = *a;
	p->errmsg[0] = '\0';
	if (stg__strmap_copy(&p->sku_min, &src->sku_min, a) != STG_OK) {
		stg__free(a, p);
		return STG_ENOMEM;
	}
	if (stg__strmap_copy(&p->category_min, &src->category_min, a) != STG_OK) {
		stg__strmap_free(&p->sku_min, a);
		stg__free(a, p);
		return STG_ENOMEM;
	}
	*out = p;
	return STG_OK;
}

STG_EXTERN int stg_policy_copy(stg_policy **out, const stg_policy *src)
{
	if (!out || !src)
		return stg__fail(NULL, STG_EINVAL, "stg_policy_copy: NULL argument");
	if (stg__policy_copy_with(out, src, &src->alloc) != STG_OK)
		return stg__fail(NULL, STG_ENOMEM, "stg_policy_copy: out of memory");
	return STG_OK;
}

STG_EXTERN void stg_policy_free(stg_policy *p)
{
	stg__alloc a;

	if (!p)
		return;
	a = p->alloc;
	stg__strmap_free(&p->sku_min, &a);
	stg__strmap_free(&p->category_min, &a);
	stg__free(&a, p);
}

STG_EXTERN const char *stg_policy_errmsg(const stg_policy *p)
{
	return p ? p->errmsg : "";
}

#define NEED_POLICY(p, fn) \
	do { if (!(p)) return stg__fail(NULL, STG_EINVAL, fn ": NULL policy"); } while (0)

/*
 * Every setter validates, then stores; on a bad value the previous one stays
 * and the message names the function, the setting, the range and the value.
 */
static int check_range(stg_policy *p, const char *fn, const char *what, int64_t v, int64_t lo,
                       int64_t hi)
{
	if (v < lo || v > hi)
		return stg__fail(p->errmsg, STG_ERANGE, "%s: %s must be between %lld and %lld, got %lld",
		                 fn, what, (long long)lo, (long long)hi, (long long)v);
	return STG_OK;
}

static int set_i64(stg_policy *p, const char *fn, const char *what, int64_t *field, int64_t v,
                   int64_t lo, int64_t hi)
{
	int rc;

	if (!p)
		return stg__fail(NULL, STG_EINVAL, "%s: NULL policy", fn);
	if ((rc = check_range(p, fn, what, v, lo, hi)))
		return rc;
	*field = v;
	return STG_OK;
}

static int set_int(stg_policy *p, const char *fn, const char *what, int *field, int v, int lo, int hi)
{
	int64_t wide = v;
	int rc = set_i64(p, fn, what, &wide, v, lo, hi);

	if (rc == STG_OK)
		*field = v;
	return rc;
}

STG_EXTERN int stg_policy_set_min_stock(stg_policy *p, int64_t min)
{
	return set_i64(p, "stg_policy_set_min_stock", "minimum stock", p ? &p->min_stock : NULL, min,
	               0, STG_QUANTITY_MAX);
}

STG_EXTERN int64_t stg_policy_min_stock(const stg_policy *p)
{
	return p ? p->min_stock : 0;
}

STG_EXTERN int stg_policy_set_mode(stg_policy *p, int mode)
{
	/* The two modes are 0 and 1 (stg_mode). */
	return set_int(p, "stg_policy_set_mode", "mode (0 cutoff, 1 reserve)", p ? &p->mode : NULL,
	               mode, STG_MODE_CUTOFF, STG_MODE_RESERVE);
}

STG_EXTERN int stg_policy_mode(const stg_policy *p)
{
	return p ? p->mode : STG_MODE_CUTOFF;
}

STG_EXTERN int stg_policy_set_allocation(stg_policy *p, int percent)
{
	return set_int(p, "stg_policy_set_allocation", "percent", p ? &p->allocation : NULL, percent,
	               1, 100);
}

STG_EXTERN int stg_policy_allocation(const stg_policy *p)
{
	return p ? p->allocation : 100;
}

STG_EXTERN int stg_policy_set_cap(stg_policy *p, int64_t cap)
{
	return set_i64(p, "stg_policy_set_cap", "cap", p ? &p->cap : NULL, cap, 0, STG_QUANTITY_MAX);
}

STG_EXTERN int64_t stg_policy_cap(const stg_policy *p)
{
	return p ? p->cap : 0;
}

STG_EXTERN int stg_policy_set_window(stg_policy *p, int64_t window)
{
	return set_i64(p, "stg_policy_set_window", "window", p ? &p->window : NULL, window, 0,
	               STG_QUANTITY_MAX);
}

STG_EXTERN int64_t stg_policy_window(const stg_policy *p)
{
	return p ? p->window : 5;
}

STG_EXTERN int stg_policy_set_drift(stg_policy *p, int percent)
{
	return set_int(p, "stg_policy_set_drift", "percent", p ? &p->drift : NULL, percent, 0, 10000);
}

STG_EXTERN int stg_policy_drift(const stg_policy *p)
{
	return p ? p->drift : 0;
}

STG_EXTERN int stg_policy_set_heartbeat(stg_policy *p, int64_t age_ms)
{
	return set_i64(p, "stg_policy_set_heartbeat", "age in ms", p ? &p->heartbeat_ms : NULL, age_ms,
	               0, INT64_MAX);
}

STG_EXTERN int64_t stg_policy_heartbeat(const stg_policy *p)
{
	return p ? p->heartbeat_ms : 0;
}

static int set_override(stg_policy *p, stg__strmap *m, const char *fn, const char *what,
                        const char *key, int64_t min)
{
	size_t len;
	int rc;

	NEED_POLICY(p, "stg_policy_set_override");
	if (!stg__key_ok(key, &len))
		return stg__fail(p->errmsg, STG_EINVAL, "%s: %s must be 1 to %d bytes", fn, what,
		                 STG_KEY_MAX);
	if ((rc = check_range(p, fn, "minimum stock", min, 0, STG_QUANTITY_MAX)))
		return rc;
	if (stg__strmap_put(m, &p->alloc, key, len, min) != STG_OK)
		return stg__fail(p->errmsg, STG_ENOMEM, "%s: out of memory", fn);
	return STG_OK;
}

static int clear_override(stg_policy *p, stg__strmap *m, const char *fn, const char *what,
                          const char *key)
{
	size_t len;

	if (!stg__key_ok(key, &len))
		return stg__fail(p->errmsg, STG_EINVAL, "%s: %s must be 1 to %d bytes", fn, what,
		                 STG_KEY_MAX);
	if (!stg__strmap_del(m, &p->alloc, key, len))
		return stg__fail(p->errmsg, STG_ENOTFOUND, "%s: no override for %s '%.64s'", fn,
		                 what, key);
	return STG_OK;
}

STG_EXTERN int stg_policy_set_sku_min(stg_policy *p, const char *sku, int64_t min)
{
	NEED_POLICY(p, "stg_policy_set_sku_min");
	return set_override(p, &p->sku_min, "stg_policy_set_sku_min", "sku", sku, min);
}

STG_EXTERN int stg_policy_clear_sku_min(stg_policy *p, const char *sku)
{
	NEED_POLICY(p, "stg_policy_clear_sku_min");
	return clear_override(p, &p->sku_min, "stg_policy_clear_sku_min", "sku", sku);
}

STG_EXTERN int stg_policy_set_category_min(stg_policy *p, const char *category, int64_t min)
{
	NEED_POLICY(p, "stg_policy_set_category_min");
	return set_override(p, &p->category_min, "stg_policy_set_category_min", "category",
	                    category, min);
}

STG_EXTERN int stg_policy_clear_category_min(stg_policy *p, const char *category)
{
	NEED_POLICY(p, "stg_policy_clear_category_min");
	return clear_override(p, &p->category_min, "stg_policy_clear_category_min", "category",
	                      category);
}

/* Resolution order: SKU override, category override, the default. */
void stg__policy_resolve_slow(const stg_policy *p, const char *sku, const char *category,
                              int64_t *min, int *source)
{
	size_t len;

	if (p->sku_min.count && stg__key_ok(sku, &len) &&
	    stg__strmap_get(&p->sku_min, sku, len, min)) {
		*source = STG_MIN_SKU;
		return;
	}
	if (p->category_min.count && stg__key_ok(category, &len) &&
	    stg__strmap_get(&p->category_min, category, len, min)) {
		*source = STG_MIN_CATEGORY;
		return;
	}
	*min = p->min_stock;
	*source = STG_MIN_DEFAULT;
}

STG_EXTERN int stg_policy_resolve_min(const stg_policy *p, const char *sku, const char *category,
                                      int64_t *min, int *source)
{
	int64_t m;
	int s;

	if (!p)
		return stg__fail(NULL, STG_EINVAL, "stg_policy_resolve_min: NULL policy");
	stg__policy_resolve(p, sku, category, &m, &s);
	if (min)
		*min = m;
	if (source)
		*source = s;
	return STG_OK;
}

STG_EXTERN int stg_policy_evaluate(const stg_policy *p, const char *sku, const char *category,
                                   int64_t available, stg_evaluation *out)
{
	int64_t min;
	int source;

	if (!p || !out)
		return stg__fail(NULL, STG_EINVAL,
		                 "stg_policy_evaluate: NULL %s", p ? "out" : "policy");
	stg__policy_resolve(p, sku, category, &min, &source);
	stg__policy_eval(p, min, source, available, out);
	return STG_OK;
}

/*
 * The batch's common case: one minimum, whole allocation (stg__pub_select);
 * every (reserve, capped) variant is its own straight-line loop. Warnings
 * go through a block of scratch space when not wanted.
 */
#define EVAL_BLOCK 256

static inline void eval_kernel(size_t n, const int64_t *restrict a, int64_t m, int64_t cap,
                               int reserve, int capped, int64_t *restrict pub,
                               uint8_t *restrict war)
{
	size_t k;

	for (k = 0; k < n; k++) {
		pub[k] = stg__pub_select(a[k], m, cap, reserve, capped);
		war[k] = stg__warn_select(a[k], m);
	}
}

STG__VECTOR_CLONES static void eval_pass(const stg_policy *p, size_t n, const int64_t *a,
                                         int64_t *pub, uint8_t *war)
{
	const int64_t m = p->min_stock, cap = p->cap;

	if (p->mode == STG_MODE_RESERVE)
		cap > 0 ? eval_kernel(n, a, m, cap, 1, 1, pub, war) : eval_kernel(n, a, m, cap, 1, 0, pub, war);
	else
		cap > 0 ? eval_kernel(n, a, m, cap, 0, 1, pub, war) : eval_kernel(n, a, m, cap, 0, 0, pub, war);
}

static void eval_fast(const stg_policy *p, size_t n, const int64_t *a, int64_t *pub, uint8_t *war)
{
	size_t base;

	if (war) {
		eval_pass(p, n, a, pub, war);
		return;
	}
	for (base = 0; base < n; base += EVAL_BLOCK) {
		uint8_t ws[EVAL_BLOCK];
		eval_pass(p, n - base < EVAL_BLOCK ? n - base : EVAL_BLOCK, a + base, pub + base, ws);
	}
}

STG_EXTERN int stg_policy_evaluate_batch(const stg_policy *p, size_t n, const char *const *skus,
                                         const char *const *categories, const int64_t *available,
                                         int64_t *published, uint8_t *warnings)
{
	size_t i;

	if (!p)
		return stg__fail(NULL, STG_EINVAL, "stg_policy_evaluate_batch: NULL policy");
	if (n && (!available || !published))
		return stg__fail(NULL, STG_EINVAL,
		                 "stg_policy_evaluate_batch: NULL %s array",
		                 available ? "published" : "available");
	if ((!skus || !p->sku_min.count) && (!categories || !p->category_min.count) &&
	    p->allocation == 100) {
		eval_fast(p, n, available, published, warnings);
		return STG_OK;
	}
	if ((!skus || !p->sku_min.count) && (!categories || !p->category_min.count)) {
		/* No override can apply: one minimum for all. */
		int64_t min = p->min_stock;
		for (i = 0; i < n; i++) {
			unsigned w;
			published[i] = stg__policy_pub(p, min, available[i], &w);
			if (warnings)
				warnings[i] = (uint8_t)w;
		}
		return STG_OK;
	}
	for (i = 0; i < n; i++) {
		int64_t min;
		int source;
		unsigned w;
		stg__policy_resolve(p, skus ? skus[i] : NULL, categories ? categories[i] : NULL, &min, &source);
		published[i] = stg__policy_pub(p, min, available[i], &w);
		if (warnings)
			warnings[i] = (uint8_t)w;
	}
	return STG_OK;
}

STG_EXTERN const char *stg_rule_name(int rule)
{
	switch (rule) {
	case STG_RULE_AVAILABLE: return "available";
	case STG_RULE_NEGATIVE: return "negative";
	case STG_RULE_CUTOFF: return "cutoff";
	case STG_RULE_RESERVE: return "reserve";
	case STG_RULE_ALLOCATION: return "allocation";
	case STG_RULE_CAP: return "cap";
	default: return "unknown";
	}
}

STG_EXTERN const char *stg_min_source_name(int source)
{
	switch (source) {
	case STG_MIN_DEFAULT: return "default";
	case STG_MIN_CATEGORY: return "category";
	case STG_MIN_SKU: return "sku";
	default: return "unknown";
	}
}
