/**
 * @file stockguard/log.h
 * @brief The integration log and its reprocess queue.
 *
 * The log keeps, per (integration, SKU), the state of the SKU's inventory
 * export (a ::stg_entry) and at most one job. The host submits stock
 * changes; the log applies the integration's policy and filter, queues an
 * export as a job, and stg_log_pump() hands due jobs to the transport hook,
 * most urgent first, and records each result:
 *
 * | error class     | what the log does                                             |
 * |-----------------|---------------------------------------------------------------|
 * | auth            | pauses the whole integration; jobs held until stg_log_resume() |
 * | not_catalogued  | holds the job until stg_log_set_catalogued(); slow retry meanwhile |
 * | rate_limited    | cools down the whole limit scope (retry-after, else backoff with jitter) and lowers the rate |
 * | transient       | backoff retries up to a bound (per job), then status error    |
 * | rejected        | status error at once                                          |
 *
 * An entry in status error waits for stg_log_reprocess() (or a new change).
 *
 * **Durability.** Every change made by a host call (submit, reprocess,
 * remove, resume ...) is written through the storage hook before the call
 * returns; when the write fails the call returns ::STG_ESTORAGE and memory is
 * left as it was, so memory and storage agree. Results recorded by
 * stg_log_pump() and stg_log_complete() are different: an acknowledgement
 * from the marketplace is never forgotten, so when its write fails the log
 * keeps it in memory, returns ::STG_ESTORAGE, and writes the entry again at
 * the start of the next call that changes the log (or at stg_log_flush()).
 * Jobs are stored as pending when queued, so after a reopen every job that
 * was pending or handed out but not completed is pending again
 * (at-least-once delivery).
 *
 * **Transactions.** With a version-2 storage hook that has `begin`,
 * `commit` and `rollback`, each call that writes more than one entry is one
 * storage transaction and returns after its commit; the host can group
 * several calls with stg_log_begin() / stg_log_commit(). When a commit
 * fails, the changes the host made in it (submits, merchant actions) are
 * undone in memory, and marketplace results are kept and owed: see
 * stg_log_commit() for the exact rules.
 *
 * **Fencing.** When storage answers ::STG_EFENCED (another instance owns
 * the data now), the log stops writing and sending: see ::stg_storage.
 *
 * **Thread model.** A log has no lock: one thread at a time may call into a
 * given log (hosts that share one across threads serialise the calls with
 * their own mutex). Different logs are independent. Hooks run on the calling
 * thread; a call into the log from inside one of its hooks returns
 * ::STG_ERECURSIVE and does nothing.
 *
 * **Strings** given to the log are copied. Strings in entries the log hands
 * out are borrowed until the next call that changes the log.
 */
#ifndef STOCKGUARD_LOG_H
#define STOCKGUARD_LOG_H

#include "common.h"
#include "entry.h"
#include "filter.h"
#include "hooks.h"
#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque integration log. Create with stg_log_open(). */
typedef struct stg_log stg_log;

/** Version of ::stg_log_options this header describes. */
#define STG_LOG_OPTIONS_VERSION 1

/**
 * @brief How to open a log. Filled by the host; copied by stg_log_open().
 *
 * Hook pointers may be NULL for the defaults (libc allocator, in-memory
 * store, no transport yet, system clock, no events). The structs they point
 * to are copied; the functions and payloads inside must outlive the log.
 * A value of 0 in a numeric field selects its default.
 */
typedef struct stg_log_options {
	unsigned int version;              /**< ::STG_LOG_OPTIONS_VERSION */
	const stg_allocator *allocator;    /**< NULL: malloc/realloc/free */
	const stg_storage *storage;        /**< NULL: in memory only */
	const stg_transport *transport;    /**< NULL: set one later with stg_log_set_transport() */
	const stg_clock *clock;            /**< NULL: the system clock */
	const stg_events *events;          /**< NULL: no events */
	int64_t latency_limit_ms;          /**< abnormal above this; 0: one hour */
	int64_t backoff_base_ms;           /**< first retry delay; 0: 1 s */
	int64_t backoff_max_ms;            /**< longest retry delay; 0: 15 min */
	int64_t catalogue_retry_ms;        /**< slow retry of held jobs; 0: 6 h */
	int64_t success_max_age_ms;        /**< stg_log_expire() drops older successes; 0: keep */
	uint64_t success_max_count;        /**< stg_log_expire() keeps at most this many; 0: all */
	uint64_t jitter_seed;              /**< seeds the backoff jitter; 0: a fixed seed */
	uint32_t max_transient_attempts;   /**< attempts of one job that may fail as transient
	                                        before the entry is an error: the first try
	                                        counts (5 = the try and 4 retries); 0: 5 */
	uint32_t reserved_[5];             /**< 0 */
} stg_log_options;

/** Static initialiser equal to stg_log_options_init(o, ::STG_LOG_OPTIONS_VERSION). */
#define STG_LOG_OPTIONS_INIT { STG_LOG_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, \
	0, 0, 0, 0, 0, 0, 0, 0, { 0, 0, 0, 0, 0 } }

/**
 * @brief Fill @p options with the defaults of @p version.
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_log_options_init(stg_log_options *options, unsigned int version);

/**
 * @brief Open a log, loading every entry from the storage hook.
 *
 * Entries come back as they were last stored: a job handed out but never
 * completed is pending again (queued, or held when it was a slow retry of a
 * not-catalogued SKU), so it is sent again; an entry holding an auth
 * failure pauses its integration again.
 *
 * @param[out] out receives the log, owned by the caller, closed with
 *             stg_log_close(); untouched on failure.
 * @param options NULL for all defaults.
 * @return ::STG_OK; ::STG_EINVAL (NULL @p out, bad option values, a
 *         half-set hook); ::STG_EVERSION (any struct version, including
 *         a stored entry's); ::STG_ESTORAGE (the load failed);
 *         ::STG_ECORRUPT (a stored entry is NULL, invalid, or appears
 *         twice); ::STG_ENOMEM. The message is in
 *         stg_last_error(). Loaded entries are indexed once the load
 *         returns, so an entry stored twice is reported then, after the
 *         whole load, rather than where it came up.
 */
STG_EXTERN int stg_log_open(stg_log **out, const stg_log_options *options);

/**
 * @brief Close a log and free everything it holds. NULL is a no-op.
 *
 * Called from inside one of the log's own hooks it does nothing (the
 * thread's stg_last_error_code() is then ::STG_ERECURSIVE).
 * Jobs in flight are not completed; they are pending again at the next
 * open. Entries whose write is still owed are not written: call
 * stg_log_flush() first when that matters.
 */
STG_EXTERN void stg_log_close(stg_log *log);

/**
 * @brief Message of the most recent failed call on this log ("" when none).
 *
 * Every call that takes the log and fails records its message here (and in
 * stg_last_error()), except ::STG_ERECURSIVE: a call from inside one of the
 * log's hooks does nothing to the log, its message included, so that the
 * outer call's message stays whole (it is in stg_last_error()). A success
 * does not clear it, as with sqlite3_errmsg() after a failure: check the
 * return code first. A failed stg_log_open() has no log; its message is in
 * stg_last_error().
 *
 * @return owned by the log, valid until its next failing call or its close.
 */
STG_EXTERN const char *stg_log_errmsg(const stg_log *log);

/**
 * @brief Set or replace the transport hook (copied).
 * @return ::STG_OK, ::STG_EINVAL (NULL, missing send), ::STG_EVERSION,
 *         ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_set_transport(stg_log *log, const stg_transport *transport);

/**
 * @brief Give an integration its policy (copied; later changes to
 *        @p policy do not reach the log until set again). An integration
 *        without a policy uses the defaults of stg_policy_new().
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ENOMEM, ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_set_policy(stg_log *log, const char *integration, const stg_policy *policy);

/**
 * @brief Limit what one integration is sent.
 *
 * The rate limit is a token bucket that adapts (AIMD): a rate-limited
 * answer (429) lowers the integration's rate to 7/8 of what it was; each
 * @p per_ms period without one raises it again, at once halfway back to
 * the rate of the last 429 while it is well below it, then by a small
 * probing step (1/1024 of the rate, doubling every 16 quiet periods up to
 * 1/8), never above the ceiling: @p max_jobs per @p per_ms, or the quota
 * the marketplace announced (::stg_job_result version 2), the smaller of
 * the two. The bucket holds at most one period at the current rate. The
 * whole algorithm is described in the contract's rate-limit section.
 * Calling this again resets the rate to the new ceiling and fills the
 * bucket.
 *
 * @param batch_size jobs per transport call (1 to 10000; 1 by default).
 *        Above 1 the transport's `send_batch` is used when it has one.
 * @param max_jobs, per_ms at most @p max_jobs jobs per @p per_ms
 *        milliseconds (0 and 0 for no configured limit, the default: then
 *        only an announced quota sets a rate).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ERANGE (nothing changed; the
 *         message names the setting), ::STG_ENOMEM, ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_set_limits(stg_log *log, const char *integration, uint32_t batch_size,
                                  uint32_t max_jobs, int64_t per_ms);

/**
 * @brief Say which rate-limit scope an integration's calls count against.
 *
 * A rate-limited answer (429) cools down the whole scope, not one SKU:
 * until the retry-after the transport reports (or, without one, a backoff
 * with jitter that doubles with each cool-down in a row and resets at the
 * scope's next success), no job of any integration of the scope is handed
 * out. Waiting jobs keep their place in the priority order and count no
 * attempt. By default each integration is its own scope; a named scope is
 * shared by every integration that names it, for marketplaces that limit
 * one application key serving many sellers. Scopes are not stored: set
 * them again after every open, as the limits.
 *
 * @param integration 1 to ::STG_KEY_MAX bytes; created if new.
 * @param scope 1 to ::STG_KEY_MAX bytes, or NULL for the integration's own
 *        scope (the default). An integration that moves keeps its rate;
 *        the cool-down it leaves behind stays with the old scope.
 * Both names are copied. Like every call on a log, one thread at a time.
 *
 * @return ::STG_OK; ::STG_EINVAL (bad name: nothing changed);
 *         ::STG_ENOMEM, ::STG_ELIMIT (65,535 scopes); ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_set_limit_scope(stg_log *log, const char *integration, const char *scope);

/** @brief An integration's rate limit as it is now, filled by stg_log_limit_state(). */
typedef struct stg_limit_state {
	int64_t cooling_until;   /**< the scope cools down until this time (ms since the
	                              epoch); 0 when it is not cooling */
	double rate_per_s;       /**< jobs per second the bucket allows now; 0: no limit */
	double ceiling_per_s;    /**< the most the rate recovers to; 0: no limit */
	double announced_per_s;  /**< the quota the marketplace announced last; 0: none */
	uint64_t cooldowns;      /**< cool-downs this integration's answers started since the open */
	uint32_t backoff_level;  /**< cool-downs in a row without a retry-after (the backoff's n) */
	int shared;              /**< 1 when the integration is in a named scope */
	uint64_t reserved_[4];   /**< 0 */
} stg_limit_state;

/**
 * @brief Read an integration's rate limit and its scope's cool-down.
 *
 * @p out is the caller's, filled on success. Like every call on a log, one
 * thread at a time.
 *
 * @return ::STG_OK; ::STG_EINVAL (NULL @p out, bad name); ::STG_ENOTFOUND
 *         (unknown integration); ::STG_ERECURSIVE. Nothing changes.
 */
STG_EXTERN int stg_log_limit_state(stg_log *log, const char *integration, stg_limit_state *out);

/** Version of ::stg_submit this header describes. */
#define STG_SUBMIT_VERSION 1

/** @brief One stock change for the log. Filled by the host; borrowed for the call. */
typedef struct stg_submit {
	unsigned int version;     /**< ::STG_SUBMIT_VERSION */
	unsigned int flags;       /**< ::STG_CHANGE_NON_STOCK when another field changed */
	const char *integration;  /**< 1 to ::STG_KEY_MAX bytes */
	const char *sku;          /**< 1 to ::STG_KEY_MAX bytes */
	const char *category;     /**< selects a category minimum; NULL or 1 to ::STG_KEY_MAX bytes */
	int64_t available;        /**< the new available quantity */
	int64_t sequence;         /**< source order: older than the applied one is stale */
	int64_t changed_at;       /**< when the stock changed (ms, >= 0); 0: now */
} stg_submit;

/** Static initialiser equal to stg_submit_init(s, ::STG_SUBMIT_VERSION). */
#define STG_SUBMIT_INIT { STG_SUBMIT_VERSION, 0u, NULL, NULL, NULL, 0, 0, 0 }

/**
 * @brief Fill @p submit with the defaults of @p version.
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_submit_init(stg_submit *submit, unsigned int version);

/** @brief What the log did with a change. Filled by the library. */
typedef struct stg_submit_result {
	int decision;          /**< ::stg_decision */
	int reason;            /**< ::stg_reason */
	int64_t published;     /**< the published quantity of the change (for a stale one, the entry's current quantity: a stale change is not evaluated) */
	unsigned int warnings; /**< ::STG_WARN_MIN_STOCK_REACHED */
	int priority;          /**< ::stg_priority of the job (exports and coalesced); ::STG_PRIORITY_NORMAL otherwise */
	uint64_t job_id;       /**< the job carrying it, 0 for skip and stale */
	uint32_t reserved_[4]; /**< 0 */
} stg_submit_result;

/**
 * @brief Submit one stock change.
 *
 * A change older (by @ref stg_submit.sequence) than the one applied for the
 * SKU is ignored (::STG_DECISION_STALE). A change for a SKU whose job is
 * waiting (queued, retrying, held, or paused) updates that job
 * (::STG_DECISION_COALESCED, the newest quantity wins); one for a SKU whose
 * job is in flight is queued to follow it. Otherwise the filter judges it
 * against the previous change; after an export failed for good, against the
 * last acknowledged quantity. An export becomes a job. A change that newly
 * raises the min_stock_reached warning on the entry (it did not carry it
 * before) sends ::STG_EVENT_MIN_STOCK_REACHED.
 *
 * @param[out] out may be NULL.
 * @return ::STG_OK; ::STG_EINVAL (bad keys, unknown flags, negative
 *         changed_at); ::STG_EVERSION; ::STG_ENOMEM; ::STG_ESTORAGE (nothing
 *         changed); ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_submit(stg_log *log, const stg_submit *change, stg_submit_result *out);

/**
 * @brief Submit @p n changes in order. Stops at the first failure.
 *
 * With a transactional store (::stg_storage version 2) the batch is one
 * storage transaction, committed before the call returns; outside a host
 * transaction (stg_log_begin()) a failed commit undoes the whole batch and
 * *@p done is 0 (see stg_log_commit()).
 *
 * A batch of more changes than the log holds entries (a first feed, a new
 * integration) sizes the log's index once for its entries and all the
 * changes (4-byte slots, at most 3/4 full): what new SKUs need anyway, and
 * when most changes turn out to be repeats of a few SKUs, up to about 21
 * bytes per change that stay unused; when that memory is not there, the
 * index grows as the changes need it instead. Thread-safety as every call
 * on a log: one thread at a time.
 *
 * @param[out] results @p n results, or NULL.
 * @param[out] done receives how many changes were applied (may be NULL).
 * @return as stg_log_submit(); changes before the failing one stay applied
 *         (and are committed), unless the commit failed: ::STG_ESTORAGE with
 *         *@p done 0.
 */
STG_EXTERN int stg_log_submit_batch(stg_log *log, const stg_submit *changes, size_t n,
                                    stg_submit_result *results, size_t *done);

/**
 * @brief Hand due jobs to the transport and record their results.
 *
 * Due jobs of integrations that are not paused and have rate budget go out
 * most urgent first (priority, then due time, then age), in batches of the
 * integration's batch size.
 *
 * @param max_jobs stop after this many jobs (0: no limit).
 * @param[out] sent receives how many jobs were handed out (may be NULL).
 * @return ::STG_OK; ::STG_ESTATE (no transport set); ::STG_ETRANSPORT (the
 *         hook failed: its jobs stay queued); ::STG_ESTORAGE (a result could
 *         not be written: it is kept and written later); ::STG_ENOMEM;
 *         ::STG_ERECURSIVE; ::STG_EINVAL (the transport broke its contract,
 *         e.g. an unknown outcome: the job is treated as a transient failure).
 */
STG_EXTERN int stg_log_pump(stg_log *log, size_t max_jobs, size_t *sent);

/**
 * @brief Complete a job the transport answered with ::STG_OUTCOME_ASYNC.
 *
 * @return ::STG_OK; ::STG_ENOTFOUND (no job in flight with that id, e.g.
 *         completed already, or its entry was removed); ::STG_EINVAL (an
 *         outcome other than OK or ERROR, an unknown error class: nothing
 *         recorded);
 *         ::STG_EVERSION; ::STG_ESTORAGE (recorded, written later);
 *         ::STG_ENOMEM (nothing recorded; complete it again); ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_complete(stg_log *log, uint64_t job_id, const stg_job_result *result);

/**
 * @brief Milliseconds until the next job is due (0: one is due now; -1: no
 *        job is waiting). Held jobs count at their slow-retry time; jobs of
 *        paused integrations do not count; jobs of a cooling scope count at
 *        the end of its cool-down, and jobs held by the rate limit when
 *        their integration's bucket has the next token.
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_next_due(stg_log *log, int64_t *wait_ms);

/**
 * @brief Pause an integration by hand: its jobs are held, not lost.
 *
 * With a storage hook of version 2 that has `write_integration`, the pause
 * is written (::STG_INTEGRATION_PAUSED) before the call returns and comes
 * back at the next open; without one it lasts until the log closes.
 *
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ENOMEM, ::STG_ERECURSIVE,
 *         ::STG_ESTORAGE (the write failed: not paused).
 */
STG_EXTERN int stg_log_pause(stg_log *log, const char *integration);

/**
 * @brief Resume a paused integration (after fixing its credentials): its
 *        held jobs are due again at once, their auth error cleared.
 *
 * Each entry holding an auth failure is written as it is cleared, then
 * the integration's record (storage version 2) without the pause. When a
 * write fails the call stops there: the entries before it stay cleared (in
 * memory and in storage alike), the integration stays paused, and calling
 * stg_log_resume() again finishes the work.
 *
 * @return ::STG_OK; ::STG_ENOTFOUND (unknown integration); ::STG_EINVAL;
 *         ::STG_ESTORAGE (it stays paused); ::STG_ENOMEM; ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_resume(stg_log *log, const char *integration);

/**
 * @brief Whether an integration is paused (1) or not (0).
 * @return ::STG_OK, ::STG_EINVAL.
 */
STG_EXTERN int stg_log_is_paused(stg_log *log, const char *integration, int *paused);

/**
 * @brief The marketplace has catalogued @p sku: its held job goes out at
 *        the next pump without a manual reprocess.
 *
 * (1.1) A notice for a SKU the log has no entry for is remembered (in
 * memory, until the close): when that SKU's job is later held as not
 * catalogued (a marketplace that answers before its catalogue caught up),
 * the notice is used then, once, and the job is due at once instead of at
 * the slow retry. An acknowledgement of the SKU forgets it. At most 65,536 notices are remembered per log.
 *
 * @return ::STG_OK (also: remembered); ::STG_ESTATE (the entry's job is not
 *         held); ::STG_ESTORAGE (nothing changed); ::STG_ENOMEM; ::STG_ELIMIT
 *         (too many remembered notices); ::STG_EINVAL; ::STG_ERECURSIVE.
 *         1.0 returned ::STG_ENOTFOUND for a SKU without an entry.
 */
STG_EXTERN int stg_log_set_catalogued(stg_log *log, const char *integration, const char *sku);

/** Query flag: only entries with ::STG_ENTRY_ABNORMAL. */
#define STG_QUERY_ABNORMAL 0x1u
/** Query flag: only entries whose pending job is late (::STG_ENTRY_LATE). */
#define STG_QUERY_LATE 0x2u
/** Query flag: only entries with ::STG_ENTRY_MIN_STOCK_REACHED. */
#define STG_QUERY_MIN_STOCK_REACHED 0x4u

/** Version of ::stg_query this header describes. */
#define STG_QUERY_VERSION 1

/** @brief Which entries a query, reprocess or remove touches. All criteria must match. */
typedef struct stg_query {
	unsigned int version;     /**< ::STG_QUERY_VERSION */
	unsigned int flags;       /**< STG_QUERY_* */
	const char *integration;  /**< exact integration, or NULL for all */
	const char *sku_prefix;   /**< SKU starts with this, or NULL for all */
	int status;               /**< ::stg_entry_status, or -1 for all */
	int error_class;          /**< ::stg_error_class, or -1 for all */
} stg_query;

/** Static initialiser equal to stg_query_init(q, ::STG_QUERY_VERSION): matches everything. */
#define STG_QUERY_INIT { STG_QUERY_VERSION, 0u, NULL, NULL, -1, -1 }

/**
 * @brief Fill @p query with the defaults of @p version (match all).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_query_init(stg_query *query, unsigned int version);

/**
 * @brief Look up one entry.
 * @param[out] out its strings are borrowed until the next call that changes the log.
 * @return ::STG_OK; ::STG_ENOTFOUND; ::STG_EINVAL; ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_get(stg_log *log, const char *integration, const char *sku, stg_entry *out);

/**
 * @brief Page through the entries matching @p query.
 *
 * Start with *@p cursor = 0; each call fills up to @p cap entries, sets
 * *@p count and advances *@p cursor. The pages are done when *@p count is 0
 * (the cursor then stays put). Entries added or removed between pages may
 * or may not appear; none appears twice unless removed and added again.
 *
 * @param query NULL matches everything.
 * @param[out] entries @p cap entries; borrowed strings, see stg_log_get().
 * @return ::STG_OK; ::STG_EINVAL; ::STG_EVERSION; ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_query(stg_log *log, const stg_query *query, uint64_t *cursor,
                             stg_entry *entries, size_t cap, size_t *count);

/** @brief Entries per status, filled by stg_log_counts(). */
typedef struct stg_counts {
	uint64_t pending;   /**< ::STG_ENTRY_PENDING */
	uint64_t success;   /**< ::STG_ENTRY_SUCCESS */
	uint64_t error;     /**< ::STG_ENTRY_ERROR */
	uint64_t held;      /**< pending and held (not catalogued) or paused */
	uint64_t late;      /**< pending with a late job */
	uint64_t abnormal;  /**< flagged abnormal */
	uint64_t reserved_[4]; /**< 0 */
} stg_counts;

/**
 * @brief Count entries per status for one integration, or all (NULL).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_counts(stg_log *log, const char *integration, stg_counts *out);

/**
 * Capacity of stg_stats.skips: room for every ::stg_reason 1.x will add,
 * so a new reason never moves a field. ::STG_REASON_COUNT is at most this.
 */
#define STG_STATS_REASONS_MAX 32

/** Capacity of stg_stats.errors, likewise for ::stg_error_class. */
#define STG_STATS_CLASSES_MAX 16

/**
 * @brief Counters since the log was opened, filled by stg_log_stats().
 *
 * Library-filled, of fixed size: fields added in 1.x take reserved words.
 * The per-reason and per-class arrays have a fixed capacity, so a reason
 * or error class added in 1.x moves nothing; `nreasons` and
 * `nclasses` say how many entries the library that filled the struct
 * knows (a program built against an older header reads the ones it knows,
 * the rest are counted in the newer library's entries beyond them).
 */
typedef struct stg_stats {
	uint64_t changes;                      /**< changes submitted */
	uint64_t exports;                      /**< changes that became a new job */
	uint64_t coalesced;                    /**< changes merged into a waiting job */
	uint64_t stale;                        /**< changes ignored as stale */
	uint64_t attempts;                     /**< jobs handed to the transport */
	uint64_t successes;                    /**< acknowledged jobs */
	uint64_t abnormal;                     /**< acknowledgements later than the limit */
	uint64_t warnings;                     /**< changes with min_stock_reached */
	int64_t latency_p50_ms;                /**< median change-to-ack time, -1 when none */
	int64_t latency_p95_ms;                /**< 95th percentile, -1 when none */
	int64_t latency_p99_ms;                /**< 99th percentile, -1 when none */
	int64_t latency_max_ms;                /**< largest, -1 when none */
	uint64_t corrections;                  /**< (1.1) jobs queued because stg_log_observe() found
	                                            the marketplace out of sync (reason out_of_sync),
	                                            holds of SKUs it does not list included; a word
	                                            reserved in 1.0 */
	uint64_t reserved_[5];                 /**< 0; room for later counters */
	uint64_t cooldowns;                    /**< (1.1) rate-limit cool-downs started (one per exhausted
	                                            limit, however many jobs wait); a word reserved in 1.0 */
	uint64_t saved_by_coalescing;          /**< (1.1) API calls saved by coalescing: changes merged into
	                                            a job that carried them without a call of their own
	                                            (`coalesced` less the follow-up jobs merges into an
	                                            in-flight job caused); the filter's savings are the
	                                            `skips`. A word reserved in 1.0 */
	uint32_t nreasons;                     /**< entries of `skips` filled: the library's ::STG_REASON_COUNT */
	uint32_t nclasses;                     /**< entries of `errors` filled: the library's ::STG_ERRCLASS_COUNT */
	uint64_t skips[STG_STATS_REASONS_MAX]; /**< skipped changes by ::stg_reason (API calls saved); 0 from nreasons on */
	uint64_t errors[STG_STATS_CLASSES_MAX];/**< failed attempts by ::stg_error_class; 0 from nclasses on */
} stg_stats;

/**
 * @brief Counters for one integration, or all (NULL). Percentiles come
 *        from a log-scale histogram (within 7% of the true value).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_ENOTFOUND (unknown integration),
 *         ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_stats(stg_log *log, const char *integration, stg_stats *out);

/**
 * @brief Queue one entry's export again (merchant action "reprocess").
 *
 * Never instant: the job goes out at the next pump and may fail again.
 * Works on success and error entries (the quantity of the newest change,
 * @ref stg_entry.published, is sent again) and on waiting jobs (due now, a
 * hold is lifted).
 *
 * @return ::STG_OK; ::STG_ENOTFOUND; ::STG_EBUSY (job in flight);
 *         ::STG_ESTORAGE (nothing changed); ::STG_ENOMEM; ::STG_EINVAL;
 *         ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_reprocess(stg_log *log, const char *integration, const char *sku);

/**
 * @brief Reprocess every entry matching @p query, skipping those in flight.
 * @param[out] count receives how many were queued (may be NULL).
 * @return as stg_log_reprocess(); on failure, the entries before the
 *         failing one stay queued and *@p count says how many.
 */
STG_EXTERN int stg_log_reprocess_matching(stg_log *log, const stg_query *query, size_t *count);

/** stg_log_remove() flag: remove even when the entry has a pending job. */
#define STG_REMOVE_FORCE 0x1u

/**
 * @brief Remove one entry (merchant action "remove log"), success or error.
 *
 * An entry with a pending job is refused unless ::STG_REMOVE_FORCE is set;
 * a forced removal drops the job (a completion for it later returns
 * ::STG_ENOTFOUND). The SKU's next change is then first seen.
 *
 * @return ::STG_OK; ::STG_ENOTFOUND; ::STG_EBUSY; ::STG_ESTORAGE (nothing
 *         changed); ::STG_EINVAL; ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_remove(stg_log *log, const char *integration, const char *sku,
                              unsigned int flags);

/**
 * @brief Remove every entry matching @p query; without ::STG_REMOVE_FORCE,
 *        entries with a pending job are left alone.
 * @param[out] count receives how many were removed (may be NULL).
 * @return as stg_log_remove(); on failure the entries before stay removed.
 */
STG_EXTERN int stg_log_remove_matching(stg_log *log, const stg_query *query, unsigned int flags,
                                       size_t *count);

/**
 * @brief Apply the retention options: drop success entries older than
 *        `success_max_age_ms`, then the oldest beyond `success_max_count`.
 * @param[out] removed receives how many were dropped (may be NULL).
 * @return ::STG_OK, ::STG_ESTORAGE (stops; the rest stay), ::STG_ENOMEM,
 *         ::STG_EINVAL, ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_expire(stg_log *log, size_t *removed);

/**
 * @brief Write every entry whose write is still owed (see Durability).
 * @param[out] pending receives how many are still owed after the call.
 * @return ::STG_OK; ::STG_ESTORAGE (some still owed); ::STG_EINVAL;
 *         ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_flush(stg_log *log, size_t *pending);

/* ------------------------------------------------------------ transactions */

/**
 * @brief Open a transaction: the changes of the calls until stg_log_commit()
 *        go to storage as one commit (since 1.1.0).
 *
 * For a host that receives changes one at a time (a webhook): a hundred
 * stg_log_submit() calls inside one transaction cost one durable commit
 * instead of a hundred. Inside it, calls that change entries on the host's
 * behalf (stg_log_submit(), stg_log_submit_batch(), stg_log_reprocess(),
 * stg_log_reprocess_matching(), stg_log_set_catalogued(), stg_log_remove(),
 * stg_log_remove_matching(), stg_log_expire()) join it: each returns once
 * its change is in memory and written to the open storage transaction, and
 * reads (stg_log_get(), stg_log_query(), stats) see it at once. Calls that
 * take marketplace results or change an integration (stg_log_pump(),
 * stg_log_complete(), stg_log_pause(), stg_log_resume(), stg_log_flush())
 * return ::STG_ESTATE while it is open. Events of the changes (minimum
 * stock reached) are delivered after the commit, and dropped if it fails.
 *
 * Storage hears `begin` at the first write, so an empty transaction costs
 * nothing. Without storage, or with a store that has no transactions (a
 * version-1 hook), the calls behave as outside one (each write is durable
 * when it returns) and stg_log_commit() cannot fail.
 *
 * stg_log_close() with a transaction open gives it up (storage `rollback`).
 *
 * @return ::STG_OK; ::STG_ESTATE (one is open already); ::STG_EINVAL (NULL
 *         log); ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_begin(stg_log *log);

/**
 * @brief Commit the transaction stg_log_begin() opened (since 1.1.0).
 *
 * Returns once storage's `commit` returned. The same rules hold for the
 * transaction each call makes by itself (see ::stg_storage):
 *
 * - **Commit succeeds:** every change of the transaction is durable.
 * - **Commit fails** (::STG_ESTORAGE, the message says which hook and what
 *   was done): the log calls storage's `rollback`, then puts every entry the
 *   transaction's host changes touched back as it was at its first touch
 *   (created entries go, removed ones come back, jobs, problems, flags and
 *   the stats counters as they were; an entry keeps its job id, so a job in
 *   flight can still be completed), so memory agrees with storage. The host
 *   learns that nothing of the transaction is applied: a batch call that
 *   made its own transaction reports 0 done (stg_log_submit_batch()'s
 *   `done`, the `count` of the matching calls), and the host's transaction
 *   is undone as a whole. A job may lose its place among jobs due at the
 *   same moment (it keeps its due time and priority). Integrations named
 *   first by an undone change stay known (with nothing in them).
 * - **Marketplace results are never undone:** a transaction made by
 *   stg_log_pump(), stg_log_complete() or stg_log_flush() holds
 *   acknowledgements; when its commit fails they stay in memory, their
 *   entries are owed (stg_log_flush()'s `pending` counts them) and are
 *   written by the next call's transaction. Such a call returns
 *   ::STG_ESTORAGE with `sent` as it was: the jobs did go out.
 * - **Rollback fails too:** the undo in memory happens all the same, and the
 *   message says storage may hold the undone changes; reopen the log to
 *   read storage's state.
 * - **Out of memory while undoing** (a failure after a failure): the call
 *   returns ::STG_ENOMEM and the message says how many entries could not be
 *   put back; they are missing from memory (storage has them) until the log
 *   is reopened. The undo needs no memory in practice: record stores do not
 *   shrink while a transaction is open.
 *
 * Owed writes are written after a successful commit, in their own
 * transaction.
 *
 * @return ::STG_OK; ::STG_ESTORAGE (undone, as above); ::STG_ENOMEM (as
 *         above); ::STG_ESTATE (no transaction open); ::STG_EINVAL;
 *         ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_commit(stg_log *log);

/**
 * @brief Whether a transaction opened by stg_log_begin() is open (since 1.1.0).
 * @param[out] open receives 1 or 0.
 * @return ::STG_OK; ::STG_EINVAL (NULL log or @p open); ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_in_transaction(stg_log *log, int *open);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_LOG_H */
