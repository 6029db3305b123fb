/**
 * @file stockguard/policy.h
 * @brief The threshold evaluator: what quantity one integration publishes.
 *
 * A policy holds the settings of one integration (one marketplace
 * connection): the minimum stock with its per-category and per-SKU
 * overrides, the mode, the allocation percentage, the cap, and the settings
 * of the export-change filter (window, drift bound, heartbeat; see
 * stockguard/filter.h). stg_policy_evaluate() turns an available quantity
 * into the published one and says why.
 *
 * The published quantity `pub(a)` for available `a` and minimum `m`:
 *  1. `a < 0` publishes 0 (rule ::STG_RULE_NEGATIVE);
 *  2. cutoff mode: `a <= m` publishes 0 (::STG_RULE_CUTOFF), else `a`;
 *     reserve mode: `max(0, a - m)` (::STG_RULE_RESERVE when `m > 0`);
 *  3. the allocation percentage of that, rounded down (::STG_RULE_ALLOCATION);
 *  4. at most the cap, when one is set (::STG_RULE_CAP).
 * When `a > 0` but step 2 gave 0, the evaluation carries
 * ::STG_WARN_MIN_STOCK_REACHED: the merchant must be told.
 *
 * Thread safety: a policy may be read (evaluated, filtered, copied) from any
 * number of threads at once as long as no thread changes it; changing it
 * needs the caller's exclusive access.
 */
#ifndef STOCKGUARD_POLICY_H
#define STOCKGUARD_POLICY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque per-integration settings. Create with stg_policy_new(). */
typedef struct stg_policy stg_policy;

/** How the minimum stock is applied. */
typedef enum stg_mode {
	STG_MODE_CUTOFF = 0,  /**< publish 0 at or below the minimum (default) */
	STG_MODE_RESERVE = 1  /**< publish what is above the minimum */
} stg_mode;

/** Where the minimum of an evaluation came from. */
typedef enum stg_min_source {
	STG_MIN_DEFAULT = 0,  /**< the integration's minimum */
	STG_MIN_CATEGORY = 1, /**< a category override */
	STG_MIN_SKU = 2       /**< a SKU override */
} stg_min_source;

/** Which rule set the published quantity (the last one that changed it). */
typedef enum stg_rule {
	STG_RULE_AVAILABLE = 0,  /**< published equals available */
	STG_RULE_NEGATIVE = 1,   /**< available below zero: published 0 */
	STG_RULE_CUTOFF = 2,     /**< at or below the minimum: published 0 */
	STG_RULE_RESERVE = 3,    /**< the minimum was held back */
	STG_RULE_ALLOCATION = 4, /**< only a share is offered */
	STG_RULE_CAP = 5         /**< the cap was reached */
} stg_rule;

/** Warning flag: the minimum forced a positive stock to publish as 0. */
#define STG_WARN_MIN_STOCK_REACHED 0x1u

/** Largest minimum, cap or window accepted (keeps every sum in range). */
#define STG_QUANTITY_MAX INT64_C(0x3fffffffffffffff)

/**
 * @brief The result of one evaluation, filled by the library.
 *
 * Library-filled: the reserved words keep its size fixed when fields are
 * added, and are set to 0.
 */
typedef struct stg_evaluation {
	int64_t available;    /**< the input */
	int64_t published;    /**< what to publish, 0 <= published */
	int64_t min_stock;    /**< the minimum that applied */
	int min_source;       /**< ::stg_min_source */
	int rule;             /**< ::stg_rule */
	unsigned int warnings;/**< ::STG_WARN_MIN_STOCK_REACHED or 0 */
	unsigned int reserved_[5]; /**< 0; room for later fields */
} stg_evaluation;

/**
 * @brief Create a policy with the defaults: minimum 0, cutoff mode,
 *        allocation 100%, no cap, window 5, drift and heartbeat off.
 *
 * @param[out] out receives the policy, owned by the caller, released with
 *             stg_policy_free(). Untouched on failure.
 * @param alloc allocator to use for this policy (copied), or NULL for the
 *              C library's.
 * @return ::STG_OK; ::STG_EINVAL (NULL @p out, half-set allocator),
 *         ::STG_EVERSION (allocator version), ::STG_ENOMEM. The message is in
 *         stg_last_error().
 */
STG_EXTERN int stg_policy_new(stg_policy **out, const stg_allocator *alloc);

/**
 * @brief Create an independent copy of @p src (settings and overrides),
 *        using @p src's allocator.
 * @param[out] out receives the copy, owned by the caller; untouched on failure.
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ENOMEM (message in stg_last_error()).
 */
STG_EXTERN int stg_policy_copy(stg_policy **out, const stg_policy *src);

/** @brief Free a policy and its overrides. NULL is a no-op. */
STG_EXTERN void stg_policy_free(stg_policy *policy);

/**
 * @brief Message of the most recent failed call that changes this policy
 *        ("" when none).
 *
 * Only the calls that take a non-const `stg_policy *` (the setters, the
 * overrides) record here. The calls that read a policy (stg_policy_evaluate(),
 * stg_policy_evaluate_batch(), stg_policy_resolve_min(), stg_filter_decide(),
 * stg_filter_batch(), stg_policy_copy() of its source) may run on many threads
 * at once on one shared policy, so they never write into it: their failures
 * are in stg_last_error() of the calling thread only. A success does not
 * clear the message; check the return code first.
 *
 * @return owned by the policy, valid until its next failing call or its
 *         free. "" for a NULL policy.
 */
STG_EXTERN const char *stg_policy_errmsg(const stg_policy *policy);

/**
 * @brief Set the integration's minimum stock.
 * @return ::STG_OK; ::STG_ERANGE when @p min is negative or above
 *         ::STG_QUANTITY_MAX (the previous value is kept); ::STG_EINVAL for
 *         a NULL policy.
 */
STG_EXTERN int stg_policy_set_min_stock(stg_policy *policy, int64_t min);

/** @brief The integration's minimum stock (0 for a NULL policy). */
STG_EXTERN int64_t stg_policy_min_stock(const stg_policy *policy);

/**
 * @brief Set the mode (::stg_mode).
 * @return ::STG_OK; ::STG_ERANGE for an unknown mode (previous kept);
 *         ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_set_mode(stg_policy *policy, int mode);

/** @brief The mode (::stg_mode); ::STG_MODE_CUTOFF for a NULL policy. */
STG_EXTERN int stg_policy_mode(const stg_policy *policy);

/**
 * @brief Set the share of stock offered on this integration, 1 to 100.
 * @return ::STG_OK; ::STG_ERANGE outside 1..100 (previous kept);
 *         ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_set_allocation(stg_policy *policy, int percent);

/** @brief The allocation percentage (100 for a NULL policy). */
STG_EXTERN int stg_policy_allocation(const stg_policy *policy);

/**
 * @brief Set the cap: published never exceeds @p cap; 0 removes the cap.
 * @return ::STG_OK; ::STG_ERANGE when negative or above ::STG_QUANTITY_MAX
 *         (previous kept); ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_set_cap(stg_policy *policy, int64_t cap);

/** @brief The cap, 0 for none (0 for a NULL policy). */
STG_EXTERN int64_t stg_policy_cap(const stg_policy *policy);

/**
 * @brief Set the filter's low-stock window (default 5).
 * @return ::STG_OK; ::STG_ERANGE when negative or above ::STG_QUANTITY_MAX
 *         (previous kept); ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_set_window(stg_policy *policy, int64_t window);

/** @brief The low-stock window (5 for a NULL policy). */
STG_EXTERN int64_t stg_policy_window(const stg_policy *policy);

/**
 * @brief Set the filter's drift bound: also export a stock-only change when
 *        |p1 - p0| is at least @p percent % of p0. 0 turns it off (default).
 * @return ::STG_OK; ::STG_ERANGE outside 0..10000 (previous kept);
 *         ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_set_drift(stg_policy *policy, int percent);

/** @brief The drift bound in percent, 0 when off. */
STG_EXTERN int stg_policy_drift(const stg_policy *policy);

/**
 * @brief Set the filter's heartbeat: also export a stock-only change when the
 *        SKU's last successful export is older than @p age_ms milliseconds.
 *        0 turns it off (default).
 * @return ::STG_OK; ::STG_ERANGE when negative (previous kept);
 *         ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_set_heartbeat(stg_policy *policy, int64_t age_ms);

/** @brief The heartbeat age in milliseconds, 0 when off. */
STG_EXTERN int64_t stg_policy_heartbeat(const stg_policy *policy);

/**
 * @brief Set a minimum for one SKU, overriding the category and the default.
 *
 * @param sku NUL-terminated, 1 to ::STG_KEY_MAX bytes; copied.
 * @return ::STG_OK; ::STG_EINVAL (NULL or empty or over-long @p sku);
 *         ::STG_ERANGE (bad @p min); ::STG_ENOMEM. On failure the policy is
 *         unchanged.
 */
STG_EXTERN int stg_policy_set_sku_min(stg_policy *policy, const char *sku, int64_t min);

/**
 * @brief Remove a SKU's override.
 * @return ::STG_OK; ::STG_ENOTFOUND when it had none; ::STG_EINVAL.
 */
STG_EXTERN int stg_policy_clear_sku_min(stg_policy *policy, const char *sku);

/**
 * @brief Set a minimum for one category, overriding the default.
 * @param category as for @p sku in stg_policy_set_sku_min().
 * @return as stg_policy_set_sku_min().
 */
STG_EXTERN int stg_policy_set_category_min(stg_policy *policy, const char *category, int64_t min);

/**
 * @brief Remove a category's override.
 * @return ::STG_OK; ::STG_ENOTFOUND when it had none; ::STG_EINVAL.
 */
STG_EXTERN int stg_policy_clear_category_min(stg_policy *policy, const char *category);

/**
 * @brief The minimum that applies to a SKU in a category, and where it came
 *        from: SKU override, then category override, then the default.
 *
 * @param sku, category may be NULL (no override of that kind applies); a
 *        key that is empty or longer than ::STG_KEY_MAX matches no override.
 * @param[out] min receives the minimum; may be NULL.
 * @param[out] source receives the ::stg_min_source; may be NULL.
 * @return ::STG_OK; ::STG_EINVAL for a NULL policy.
 */
STG_EXTERN int stg_policy_resolve_min(const stg_policy *policy, const char *sku,
                                      const char *category, int64_t *min, int *source);

/**
 * @brief Evaluate one available quantity.
 *
 * @param sku, category select overrides; either may be NULL.
 * @param[out] out receives the result (all fields written on success).
 * @return ::STG_OK; ::STG_EINVAL for a NULL policy or @p out.
 */
STG_EXTERN int stg_policy_evaluate(const stg_policy *policy, const char *sku,
                                   const char *category, int64_t available,
                                   stg_evaluation *out);

/** A buffer of this many bytes always holds stg_evaluation_explain()'s sentence. */
#define STG_EXPLAIN_MAX 256

/**
 * @brief The merchant's answer to "why is this quantity published?", as one
 *        English sentence, for example
 *        `publishes 0: available 9 is at or below the minimum stock 10
 *        (the integration's minimum); warning: min_stock_reached`.
 *
 * Writes like snprintf(): at most @p cap bytes, always NUL-terminated when
 * @p cap > 0, cut when it does not fit. The Python binding's
 * `Evaluation.explanation` and `stockguard-replay --explain` print it.
 *
 * @param evaluation filled by stg_policy_evaluate() (any rule or source
 *        this library does not know is named by its number).
 * @param[out] buf the caller's buffer; may be NULL when @p cap is 0.
 * @param[out] len receives the sentence's length without the terminator,
 *        whether or not it fit; may be NULL.
 * @return ::STG_OK; ::STG_EOVERFLOW when it was cut (*@p len says how much
 *         room it needs); ::STG_EINVAL for a NULL @p evaluation, or a NULL
 *         @p buf with @p cap > 0. Thread-safe; added in 1.1.0.
 */
STG_EXTERN int stg_evaluation_explain(const stg_evaluation *evaluation, char *buf, size_t cap,
                                      size_t *len);

/**
 * @brief Evaluate @p n quantities in one call (arrays in, arrays out).
 *
 * @param skus, categories arrays of @p n keys selecting overrides, or NULL
 *        when no item has one (the fast path). Entries may be NULL.
 * @param available @p n inputs.
 * @param[out] published @p n results.
 * @param[out] warnings @p n warning flags (::STG_WARN_MIN_STOCK_REACHED), or NULL.
 * @return ::STG_OK; ::STG_EINVAL when the policy is NULL, or @p n > 0 and
 *         @p available or @p published is NULL. Nothing is written on failure.
 */
STG_EXTERN int stg_policy_evaluate_batch(const stg_policy *policy, size_t n,
                                         const char *const *skus,
                                         const char *const *categories,
                                         const int64_t *available, int64_t *published,
                                         uint8_t *warnings);

/** @brief Static name of a ::stg_rule ("cutoff", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_rule_name(int rule);

/** @brief Static name of a ::stg_min_source ("sku", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_min_source_name(int source);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_POLICY_H */
