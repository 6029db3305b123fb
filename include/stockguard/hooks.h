/**
 * @file stockguard/hooks.h
 * @brief What the host supplies: storage, transport, clock and events.
 *
 * stockguard does no I/O of its own. Each hook is a struct whose first
 * member is its version, with an `_INIT` macro and an `_init()` function
 * that give identical bytes. Each function receives the struct's `payload`
 * as its last argument. The functions and the payload must stay valid for
 * as long as the log that was given them.
 *
 * **Versions.** The log accepts a hook of any version from 1 to the one
 * this header names (`STG_<NAME>_VERSION`) and refuses 0 or a newer one
 * with ::STG_EVERSION (the message names the hook, the version and the
 * range known). It copies the hook by the size its version implies, never
 * reading further, and gives the fields added by later versions their
 * defaults (a function pointer added later is NULL: the log then does
 * without it). A host built against an older header therefore keeps
 * working with a newer 1.x library, unchanged. The same rule holds for
 * every host-filled struct (::stg_job_result, ::stg_submit, ::stg_query ...);
 * see the ABI promise in the documentation.
 *
 * Hooks run on the thread that called into the log. They must not call
 * into the same log: such a call returns ::STG_ERECURSIVE and does nothing.
 */
#ifndef STOCKGUARD_HOOKS_H
#define STOCKGUARD_HOOKS_H

#include "common.h"
#include "entry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- storage */

/**
 * @brief Receives one stored entry during a load; see ::stg_storage.
 *
 * @param entry borrowed for the call (the log copies what it keeps).
 * @param ctx the `sink_ctx` the load function was given.
 * @return 0 to go on; a negative ::stg_status (the log's verdict on a bad
 *         entry, or ::STG_ENOMEM) that the load function must stop on and
 *         return.
 */
typedef int (*stg_entry_sink)(void *ctx, const stg_entry *entry);

/** Version of ::stg_storage this header describes (2 since 1.1.0: transactions and
 *  integration records). */
#define STG_STORAGE_VERSION 2

/** ::stg_integration_state flag: the host paused the integration with stg_log_pause(). */
#define STG_INTEGRATION_PAUSED 0x1u

/** Version of ::stg_integration_state this header describes. */
#define STG_INTEGRATION_STATE_VERSION 1

/**
 * @brief What the log keeps of one integration beyond its entries: the
 *        record of a ::stg_storage (version 2) `write_integration` and
 *        `load_integrations`.
 *
 * Filled by the library for `write_integration` (borrowed for the call:
 * copy what you keep); filled by the host for the sink of
 * `load_integrations` (borrowed for the sink call; the log copies it).
 * Today it holds the pause the host made by hand: a pause caused by an
 * auth failure comes back from the entries that hold the failure.
 */
typedef struct stg_integration_state {
	unsigned int version;     /**< ::STG_INTEGRATION_STATE_VERSION */
	unsigned int flags;       /**< ::STG_INTEGRATION_PAUSED, or 0 (the host may then drop the record) */
	const char *integration;  /**< 1 to ::STG_KEY_MAX bytes */
	int64_t updated_at;       /**< when the log wrote it, ms since the epoch */
} stg_integration_state;

/** Static initialiser equal to stg_integration_state_init(s, ::STG_INTEGRATION_STATE_VERSION). */
#define STG_INTEGRATION_STATE_INIT { STG_INTEGRATION_STATE_VERSION, 0u, NULL, 0 }

/**
 * @brief Fill @p state with the defaults of @p version (no flag, no name).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_integration_state_init(stg_integration_state *state, unsigned int version);

/**
 * @brief Receives one stored integration record during a load; see
 *        ::stg_storage. Same contract as ::stg_entry_sink.
 */
typedef int (*stg_integration_sink)(void *ctx, const stg_integration_state *state);

/**
 * @brief Where the log keeps its entries. The log holds its working state
 *        in memory and writes every change through this hook.
 *
 * When no storage is given the log keeps entries in memory only.
 *
 * **Transactions (version 2).** A store that sets `begin`, `commit` and
 * `rollback` (all three or none) lets the log group the writes of one call
 * into one durable commit: stg_log_submit_batch(), stg_log_pump(),
 * stg_log_complete(), stg_log_reprocess_matching(), stg_log_remove_matching(),
 * stg_log_expire(), stg_log_resume() and stg_log_flush() each call `begin`
 * before their first write or remove and `commit` after their last, and
 * return only after the commit; a host groups several calls with
 * stg_log_begin() / stg_log_commit(). A call that writes nothing calls none
 * of them. Between `begin` and `commit` a write or remove may return 0
 * before it is durable; outside a transaction (and always for a version-1
 * store) it returns 0 only once durable. Transactions never nest.
 *
 * - `commit` returns 0 only once every write and remove since `begin` is
 *   durable. When a write or remove failed in a way that ended the
 *   transaction (SQLite rolls back by itself on some I/O errors), `commit`
 *   must return non-zero rather than commit what is left.
 * - After a non-zero `commit`, or when the log gives up a transaction (its
 *   own write failed inside one), the log calls `rollback`, which must leave
 *   storage as it was at `begin`; non-zero says it could not (storage is
 *   then in doubt: the log undoes memory all the same and its message tells
 *   the host to reopen the log, see stg_log_commit()).
 *   A `rollback` with no transaction open must return 0.
 * - A non-zero `begin` fails the call that needed it (::STG_ESTORAGE) with
 *   nothing applied.
 *
 * **Fencing (since 1.1.0).** A store shared by several instances (each owns
 * some partitions under a lease, see examples/pg-store) returns
 * ::STG_EFENCED from `write`, `remove`, `begin`, `commit` or
 * `write_integration` when this log's
 * lease has moved to another instance. The log then calls none of those
 * functions again (nor `rollback`): that call and every later one that
 * would write return ::STG_EFENCED, stg_log_pump() sends nothing more, and
 * reads still answer from memory. The host closes the log; the new owner
 * has loaded the partition from storage (at-least-once delivery covers the
 * jobs the old owner had in flight).
 *
 * What the log does in memory when a commit fails is in stg_log_commit().
 * A version-1 struct (without the three fields) works as before: each write
 * is its own commit.
 */
typedef struct stg_storage {
	unsigned int version; /**< ::STG_STORAGE_VERSION (1 is still accepted) */
	/**
	 * Stream every stored entry to @p sink, once, at stg_log_open().
	 * Return 0, or a non-zero value to fail the open (a negative value
	 * returned by the sink must be passed back as is).
	 */
	int (*load)(stg_entry_sink sink, void *sink_ctx, void *payload);
	/**
	 * Store @p entry, replacing the one with the same (integration, SKU).
	 * Return 0 once it is durable as the host needs it (inside a
	 * transaction: once `commit` can make it so), non-zero on failure (the
	 * log then returns ::STG_ESTORAGE to its caller).
	 */
	int (*write)(const stg_entry *entry, void *payload);
	/** Delete the entry of (@p integration, @p sku). Absent is success. */
	int (*remove)(const char *integration, const char *sku, void *payload);
	void *payload;        /**< passed to each function */
	/* ---- version 2 (1.1.0) ---- */
	/** Open a transaction (version 2; NULL: none of the three). 0 on success. */
	int (*begin)(void *payload);
	/** Make everything since `begin` durable; 0 only when it is. */
	int (*commit)(void *payload);
	/** Undo everything since `begin`; 0 when storage is back as it was. */
	int (*rollback)(void *payload);
	/**
	 * Version 2, optional (both or neither): store @p state, replacing the
	 * record of the same integration. The log writes one when the host
	 * pauses an integration (stg_log_pause()) and when it resumes it, so
	 * a manual pause survives a reopen. It is never called inside a
	 * transaction (stg_log_resume() calls it after its commit). Return 0
	 * once durable, non-zero on failure (the call then returns
	 * ::STG_ESTORAGE and the integration stays as it was). Without these
	 * functions a manual pause lasts until the log closes.
	 */
	int (*write_integration)(const stg_integration_state *state, void *payload);
	/**
	 * Version 2, optional: stream every stored integration record to
	 * @p sink, once, at stg_log_open(), after `load`. Return as `load` does.
	 */
	int (*load_integrations)(stg_integration_sink sink, void *sink_ctx, void *payload);
} stg_storage;

/** Static initialiser equal to stg_storage_init(s, ::STG_STORAGE_VERSION). */
#define STG_STORAGE_INIT { STG_STORAGE_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/**
 * @brief Fill @p storage with the defaults of @p version (all NULL).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_storage_init(stg_storage *storage, unsigned int version);

/* -------------------------------------------------------------- transport */

/** ::stg_job flag: the minimum forced this quantity to 0. */
#define STG_JOB_FLAG_MIN_STOCK_REACHED 0x1u
/** ::stg_job flag: a non-stock field changed too (send the full offer). */
#define STG_JOB_FLAG_NON_STOCK 0x2u

/** @brief One export handed to the transport. Filled by the library; borrowed for the call. */
typedef struct stg_job {
	uint64_t id;              /**< unique while this log is open; give it to
	                               stg_log_complete(). A reopened log gives its
	                               loaded jobs new ids and may reuse the ids of
	                               jobs that ended before the close: complete only
	                               ids handed out since the open. */
	const char *integration;  /**< integration name */
	const char *sku;          /**< SKU */
	int64_t published;        /**< the quantity to publish */
	int64_t available;        /**< the available quantity it came from */
	int64_t changed_at;       /**< time of the newest change the job carries */
	uint32_t attempt;         /**< 1 for the first try of this job, 2 for its first retry ... */
	int priority;             /**< ::stg_priority */
	unsigned int flags;       /**< STG_JOB_* flags */
	uint32_t reserved_[3];    /**< 0 */
} stg_job;

/** What became of a job. */
typedef enum stg_outcome {
	STG_OUTCOME_OK = 0,     /**< the marketplace acknowledged the quantity */
	STG_OUTCOME_ERROR = 1,  /**< the marketplace refused it or did not answer */
	STG_OUTCOME_ASYNC = 2   /**< the host completes it later with stg_log_complete() */
} stg_outcome;

/** Version of ::stg_job_result this header describes (2 adds the announced quota). */
#define STG_JOB_RESULT_VERSION 2

/**
 * @brief The result of one job, filled by the host.
 *
 * The log pre-fills results with stg_job_result_init() before calling the
 * transport. The message is copied by the log (cut at ::STG_MESSAGE_MAX bytes).
 */
typedef struct stg_job_result {
	unsigned int version;   /**< ::STG_JOB_RESULT_VERSION */
	int outcome;            /**< ::stg_outcome */
	int error_class;        /**< ::stg_error_class; ::STG_ERRCLASS_NONE: classify from @ref http_status */
	int http_status;        /**< HTTP status, 0 when there was no response */
	const char *message;    /**< the marketplace's message, or NULL */
	int64_t retry_after_ms; /**< the marketplace's retry-after, 0 when none; for
	                             ::STG_ERRCLASS_RATE_LIMITED, how long the whole
	                             limit scope cools down (see stg_log_set_limit_scope()) */
	/**
	 * Version 2: the quota the marketplace announced with this answer
	 * (from response headers such as `X-RateLimit-Limit` or
	 * `x-amzn-RateLimit-Limit`): @ref quota_limit requests per
	 * @ref quota_window_ms. Above 0, the integration's token bucket follows
	 * it (see stg_log_set_limits()). 0: not announced.
	 */
	int64_t quota_limit;
	int64_t quota_window_ms;  /**< version 2: the window of @ref quota_limit (1 to 86400000); 0: 1000 (per second) */
	int64_t quota_remaining;  /**< version 2: requests left in the current window; -1: not announced */
	int64_t quota_reset_ms;   /**< version 2: time until the window renews (with @ref quota_remaining 0:
	                               nothing goes out before); 0: not announced */
} stg_job_result;

/** Static initialiser equal to stg_job_result_init(r, ::STG_JOB_RESULT_VERSION). */
#define STG_JOB_RESULT_INIT { STG_JOB_RESULT_VERSION, STG_OUTCOME_OK, STG_ERRCLASS_NONE, 0, NULL, 0, \
	0, 0, -1, 0 }

/**
 * @brief Fill @p result with the defaults of @p version (outcome OK).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_job_result_init(stg_job_result *result, unsigned int version);

/** Version of ::stg_transport this header describes. */
#define STG_TRANSPORT_VERSION 1

/**
 * @brief How jobs reach the marketplace.
 *
 * `send` is required. `send_batch` is optional; when set, and the
 * integration's batch size is above 1, the log hands several jobs of one
 * integration in one call. A function returns 0 when it filled the
 * result(s), or non-zero when the transport itself failed before any
 * result: then the log returns ::STG_ETRANSPORT, the jobs stay queued
 * unchanged (no attempt is counted) and the pump stops.
 */
typedef struct stg_transport {
	unsigned int version; /**< ::STG_TRANSPORT_VERSION */
	/** Send one job; fill @p result. */
	int (*send)(const stg_job *job, stg_job_result *result, void *payload);
	/** Send @p n jobs of one integration; fill @p results[0..n). */
	int (*send_batch)(const stg_job *jobs, size_t n, stg_job_result *results, void *payload);
	void *payload;        /**< passed to each function */
} stg_transport;

/** Static initialiser equal to stg_transport_init(t, ::STG_TRANSPORT_VERSION). */
#define STG_TRANSPORT_INIT { STG_TRANSPORT_VERSION, NULL, NULL, NULL }

/**
 * @brief Fill @p transport with the defaults of @p version (all NULL).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_transport_init(stg_transport *transport, unsigned int version);

/* ------------------------------------------------------------------ clock */

/** Version of ::stg_clock this header describes. */
#define STG_CLOCK_VERSION 1

/** @brief The time source: milliseconds since the Unix epoch. */
typedef struct stg_clock {
	unsigned int version;          /**< ::STG_CLOCK_VERSION */
	int64_t (*now_ms)(void *payload); /**< the time; NULL: the system clock; negative reads as 0 */
	void *payload;                 /**< passed to now_ms */
} stg_clock;

/** Static initialiser equal to stg_clock_init(c, ::STG_CLOCK_VERSION). */
#define STG_CLOCK_INIT { STG_CLOCK_VERSION, NULL, NULL }

/**
 * @brief Fill @p clock with the defaults of @p version (the system clock).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_clock_init(stg_clock *clock, unsigned int version);

/* ----------------------------------------------------------------- events */

/** What an event reports. */
typedef enum stg_event_type {
	STG_EVENT_MIN_STOCK_REACHED = 1,   /**< a SKU's stock fell to the minimum: published 0 */
	STG_EVENT_ABNORMAL_LATENCY = 2,    /**< an export was acknowledged after the latency limit */
	STG_EVENT_INTEGRATION_PAUSED = 3,  /**< auth failure (or the host) paused an integration */
	STG_EVENT_INTEGRATION_RESUMED = 4, /**< the host resumed it */
	STG_EVENT_OUT_OF_SYNC = 5          /**< (1.1) stg_log_observe() found the marketplace showing
	                                        another quantity than the log believes: a correction
	                                        job was queued (or, with ::STG_OBSERVE_MISSING, the
	                                        SKU is held as not catalogued) */
} stg_event_type;

/** @brief One event. Filled by the library; borrowed for the call. */
typedef struct stg_event {
	int type;                /**< ::stg_event_type */
	int http_status;         /**< for a pause caused by a failure, else 0 */
	const char *integration; /**< the integration */
	const char *sku;         /**< the SKU, or NULL for integration events */
	const char *message;     /**< the marketplace's message, or NULL */
	int64_t available;       /**< MIN_STOCK_REACHED: the available quantity */
	int64_t min_stock;       /**< MIN_STOCK_REACHED: the minimum that applied */
	int64_t latency_ms;      /**< ABNORMAL_LATENCY: change-to-acknowledgement time */
	int64_t time;            /**< when, ms since the epoch */
	/**
	 * (1.1) OUT_OF_SYNC: the quantity the marketplace showed (0 for a SKU
	 * it does not list); `available` is then the entry's available
	 * quantity, and the correction publishes the entry's published one.
	 * 0 for the other events. This word was reserved in 1.0.
	 */
	int64_t observed;
	uint32_t reserved_[2];   /**< 0 */
} stg_event;

/** Version of ::stg_events this header describes. */
#define STG_EVENTS_VERSION 1

/** @brief Where events go. The callback cannot fail and must not call into the log. */
typedef struct stg_events {
	unsigned int version;  /**< ::STG_EVENTS_VERSION */
	void (*on_event)(const stg_event *event, void *payload); /**< may be NULL */
	void *payload;         /**< passed to on_event */
} stg_events;

/** Static initialiser equal to stg_events_init(e, ::STG_EVENTS_VERSION). */
#define STG_EVENTS_INIT { STG_EVENTS_VERSION, NULL, NULL }

/**
 * @brief Fill @p events with the defaults of @p version (no callback).
 * @return ::STG_OK, ::STG_EINVAL, ::STG_EVERSION.
 */
STG_EXTERN int stg_events_init(stg_events *events, unsigned int version);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_HOOKS_H */
