/**
 * @file stockguard/filter.h
 * @brief The export-change filter: is this stock change worth an API call?
 *
 * Marketplace APIs are rate-limited, so a change that only moves the stock
 * of a SKU is sent only when the published "from" or "to" is within the
 * low-stock window of its policy (stg_policy_set_window(), default 5). The
 * filter judges *published* values, so the minimum stock can never be hidden:
 * with a minimum of 10, a raw 12 -> 9 publishes 12 -> 0 and is exported.
 *
 * For a change from `a0` (maybe unknown) to `a1`, `p0 = pub(a0)` and
 * `p1 = pub(a1)`, the first matching row decides:
 *
 * | # | condition                          | decision | reason                      |
 * |---|------------------------------------|----------|-----------------------------|
 * | 1 | `a0` unknown (first seen)          | export   | ::STG_REASON_FIRST_SEEN       |
 * | 2 | a non-stock field changed          | export   | ::STG_REASON_NON_STOCK_CHANGE |
 * | 3 | `p0 == p1`                         | skip     | ::STG_REASON_NO_CHANGE        |
 * | 4 | `p0 <= w` or `p1 <= w`             | export   | ::STG_REASON_LOW_STOCK        |
 * | 5 | drift bound set, `|p1-p0| >= d% of p0` | export | ::STG_REASON_DRIFT          |
 * | 6 | heartbeat set, last export older   | export   | ::STG_REASON_HEARTBEAT        |
 * | 7 | otherwise                          | skip     | ::STG_REASON_OUTSIDE_WINDOW   |
 *
 * Rows 5 and 6 are off by default, so the defaults are the documented rule.
 *
 * Thread safety: the filter functions only read the policy; see
 * stockguard/policy.h.
 */
#ifndef STOCKGUARD_FILTER_H
#define STOCKGUARD_FILTER_H

#include "common.h"
#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What happens to a change. */
typedef enum stg_decision {
	STG_DECISION_SKIP = 0,      /**< not worth an API call */
	STG_DECISION_EXPORT = 1,    /**< send it */
	STG_DECISION_COALESCED = 2, /**< (log) merged into the SKU's waiting job */
	STG_DECISION_STALE = 3      /**< (log) older than a change already applied: ignored */
} stg_decision;

/** Why. The numbers are part of the ABI. */
typedef enum stg_reason {
	STG_REASON_NONE = 0,             /**< no decision yet */
	STG_REASON_FIRST_SEEN = 1,       /**< the SKU has no previous quantity */
	STG_REASON_NON_STOCK_CHANGE = 2, /**< price, catalog ... changed */
	STG_REASON_NO_CHANGE = 3,        /**< published value did not move */
	STG_REASON_LOW_STOCK = 4,        /**< from or to within the window */
	STG_REASON_OUTSIDE_WINDOW = 5,   /**< both above the window */
	STG_REASON_DRIFT = 6,            /**< moved by at least the drift bound */
	STG_REASON_HEARTBEAT = 7,        /**< last export older than the heartbeat */
	STG_REASON_COALESCED = 8,        /**< (log) merged into a waiting job */
	STG_REASON_STALE = 9,            /**< (log) older than the applied change */
	STG_REASON_AFTER_ERROR = 10,     /**< (log) judged against the last acknowledged value after a failed export */
	STG_REASON_OUT_OF_SYNC = 11      /**< (log, 1.1) the marketplace was seen showing another quantity
	                                      (stg_log_observe()): a correction was queued */
} stg_reason;

/** Number of ::stg_reason values (for arrays indexed by reason; at most ::STG_STATS_REASONS_MAX). */
#define STG_REASON_COUNT 12

/** ::stg_change flag: `from` is known (otherwise the SKU is first seen). */
#define STG_CHANGE_HAS_FROM 0x1u
/** ::stg_change flag: a field other than stock changed. */
#define STG_CHANGE_NON_STOCK 0x2u

/** Version of ::stg_change this header describes. */
#define STG_CHANGE_VERSION 1

/**
 * @brief One stock change, filled by the host.
 *
 * Borrowed for the duration of the call only.
 */
typedef struct stg_change {
	unsigned int version;    /**< ::STG_CHANGE_VERSION */
	unsigned int flags;      /**< ::STG_CHANGE_HAS_FROM, ::STG_CHANGE_NON_STOCK */
	const char *sku;         /**< selects a SKU override; may be NULL */
	const char *category;    /**< selects a category override; may be NULL */
	int64_t from;            /**< previous available (with ::STG_CHANGE_HAS_FROM) */
	int64_t to;              /**< new available */
	int64_t since_export_ms; /**< age of the SKU's last successful export, or -1 when unknown */
} stg_change;

/** Static initialiser equal to stg_change_init(c, ::STG_CHANGE_VERSION). */
#define STG_CHANGE_INIT { STG_CHANGE_VERSION, 0u, NULL, NULL, 0, 0, -1 }

/**
 * @brief Fill @p change with the defaults of @p version (first seen, to 0,
 *        heartbeat age unknown).
 * @return ::STG_OK, ::STG_EINVAL (NULL), ::STG_EVERSION.
 */
STG_EXTERN int stg_change_init(stg_change *change, unsigned int version);

/** @brief The filter's answer for one change, filled by the library. */
typedef struct stg_filter_result {
	int decision;          /**< ::stg_decision: ::STG_DECISION_EXPORT or ::STG_DECISION_SKIP */
	int reason;            /**< ::stg_reason */
	stg_evaluation from;   /**< evaluation of `from` (all 0 when first seen) */
	stg_evaluation to;     /**< evaluation of `to`; its warnings are the change's */
	unsigned int reserved_[4]; /**< 0; room for later fields */
} stg_filter_result;

/**
 * @brief Decide one change.
 *
 * @param[out] out receives the decision and both evaluations.
 * @return ::STG_OK; ::STG_EINVAL (NULL argument, unknown flags);
 *         ::STG_EVERSION (unknown @p change version). Nothing is written on
 *         failure.
 */
STG_EXTERN int stg_filter_decide(const stg_policy *policy, const stg_change *change,
                                 stg_filter_result *out);

/**
 * @brief Decide @p n changes in one call (arrays in, arrays out).
 *
 * Item i is the change described by the i-th element of each input array.
 * Optional arrays may be NULL and then mean: @p skus / @p categories, no
 * override; @p has_from, every `from` is known; @p non_stock, stock-only;
 * @p since_export_ms, age unknown. Optional outputs may be NULL.
 *
 * @param from, to @p n quantities (@p from may be NULL only when @p has_from
 *        is non-NULL and all zero, or @p n is 0).
 * @param[out] decisions @p n ::stg_decision values.
 * @param[out] reasons @p n ::stg_reason values, or NULL.
 * @param[out] published_to @p n published `to` quantities, or NULL.
 * @param[out] warnings @p n warning flags of `to`, or NULL.
 * @return ::STG_OK; ::STG_EINVAL when a required array is NULL. Nothing is
 *         written on failure.
 */
STG_EXTERN int stg_filter_batch(const stg_policy *policy, size_t n,
                                const char *const *skus, const char *const *categories,
                                const int64_t *from, const uint8_t *has_from,
                                const int64_t *to, const uint8_t *non_stock,
                                const int64_t *since_export_ms,
                                uint8_t *decisions, uint8_t *reasons,
                                int64_t *published_to, uint8_t *warnings);

/** @brief Static name of a ::stg_decision ("export", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_decision_name(int decision);

/** @brief Static name of a ::stg_reason ("low_stock", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_reason_name(int reason);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_FILTER_H */
