/**
 * @file stockguard/entry.h
 * @brief One line of the integration log, and its binary encoding.
 *
 * The log keeps one entry per (integration, SKU): the state of that SKU's
 * inventory export on that marketplace. Repeated failures update the same
 * entry (attempts, first and last failure) instead of adding lines.
 *
 * The encoding (stg_entry_encode(), stg_entry_decode()) is versioned and
 * checksummed, for storage hooks that keep entries in a key-value store.
 */
#ifndef STOCKGUARD_ENTRY_H
#define STOCKGUARD_ENTRY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What the merchant sees for an entry. */
typedef enum stg_entry_status {
	STG_ENTRY_PENDING = 0, /**< a job exists: queued, in flight, retrying or held */
	STG_ENTRY_SUCCESS = 1, /**< the last export was acknowledged; no job */
	STG_ENTRY_ERROR = 2    /**< the last export failed for good; waits for a reprocess */
} stg_entry_status;

/** Where the entry's job is. ::STG_JOB_NONE when the entry has no job. */
typedef enum stg_job_state {
	STG_JOB_NONE = 0,      /**< no job (success or error) */
	STG_JOB_QUEUED = 1,    /**< waits for stg_log_pump() (maybe for a retry time) */
	STG_JOB_IN_FLIGHT = 2, /**< handed to the transport, not completed yet */
	STG_JOB_HELD = 3       /**< held until the SKU is catalogued (slow retry meanwhile) */
} stg_job_state;

/** Error classes: what a failed export means and what the log does. */
typedef enum stg_error_class {
	STG_ERRCLASS_NONE = 0,           /**< no error (also: "classify from the HTTP status" in a result) */
	STG_ERRCLASS_AUTH = 1,           /**< 401/403: the integration is paused, jobs held */
	STG_ERRCLASS_NOT_CATALOGUED = 2, /**< held until catalogued, slow periodic retry */
	STG_ERRCLASS_RATE_LIMITED = 3,   /**< 429: cools down the whole limit scope (retry-after, else
	                                      backoff with jitter) and lowers its rate (stg_log_set_limit_scope()) */
	STG_ERRCLASS_TRANSIENT = 4,      /**< 5xx, timeouts: bounded retries, then error */
	STG_ERRCLASS_REJECTED = 5,       /**< other 4xx, validation: error at once */
	STG_ERRCLASS_CONFLICT = 6        /**< (1.1) 409, an optimistic-concurrency conflict (a stale
	                                      stock version): retried at once, within the job's
	                                      retry budget, then error */
} stg_error_class;

/** Number of ::stg_error_class values (at most ::STG_STATS_CLASSES_MAX). */
#define STG_ERRCLASS_COUNT 7

/** Priority of a job: lower goes first under a rate limit. */
typedef enum stg_priority {
	STG_PRIORITY_URGENT = 0, /**< to zero, or a cutoff crossing either way (0 to stock, too) */
	STG_PRIORITY_LOW_STOCK = 1, /**< within the low-stock window */
	STG_PRIORITY_NORMAL = 2  /**< everything else */
} stg_priority;

/** Entry flag: the minimum forced a positive stock to 0 (warn the merchant). */
#define STG_ENTRY_MIN_STOCK_REACHED 0x01u
/** Entry flag: an export reached the marketplace later than the latency limit. */
#define STG_ENTRY_ABNORMAL 0x02u
/** Entry flag: @ref stg_entry.acked holds a value the marketplace acknowledged. */
#define STG_ENTRY_HAS_ACKED 0x04u
/** Entry flag (computed, never stored): the pending job is older than the latency limit. */
#define STG_ENTRY_LATE 0x08u
/** Entry flag: the last change carried a non-stock field (the job must send it). */
#define STG_ENTRY_NON_STOCK 0x10u

/**
 * Version of ::stg_entry this header describes. Version 2 (1.1) names two
 * of version 1's reserved words: @ref stg_entry.min_source and
 * @ref stg_entry.rule. The size is the same.
 */
#define STG_ENTRY_VERSION 2

/**
 * @brief One (integration, SKU) line of the log.
 *
 * Filled by the library (queries, storage writes) and by the host (storage
 * loads, via stg_entry_decode() or by hand after stg_entry_init()). The
 * strings are borrowed: in a query result they stay valid until the next
 * call that changes the log; in a storage hook, for the duration of the
 * call; from stg_entry_decode(), as long as the decoded buffer.
 *
 * Times are milliseconds since the Unix epoch (0 = never).
 */
typedef struct stg_entry {
	unsigned int version;     /**< ::STG_ENTRY_VERSION */
	int status;               /**< ::stg_entry_status */
	const char *integration;  /**< integration name, NUL-terminated */
	const char *sku;          /**< SKU, NUL-terminated */
	const char *message;      /**< the marketplace's last error message, or NULL */
	int64_t available;        /**< available quantity of the newest applied change */
	int64_t published;        /**< published quantity of the newest applied change (what a job or a reprocess sends) */
	int64_t acked;            /**< last quantity acknowledged (with ::STG_ENTRY_HAS_ACKED) */
	int64_t sequence;         /**< source sequence of the newest applied change */
	int64_t changed_at;       /**< time of the newest applied stock change */
	int64_t job_since;        /**< time of the oldest change the job carries (latency start); 0 without a job */
	int64_t first_failed_at;  /**< first failure of the current problem, 0 if none */
	int64_t last_attempt_at;  /**< last hand-off to the transport */
	int64_t acked_at;         /**< time of the last acknowledgement */
	int64_t next_attempt_at;  /**< when the job is due (queued or held); 0 without a job */
	int64_t latency_ms;       /**< change-to-acknowledgement time of the last export, -1 if none */
	uint64_t job_id;          /**< id of the current job, 0 without a job */
	uint32_t attempts;        /**< failed attempts of the current problem */
	uint32_t job_attempts;    /**< failed attempts of the current job (a new job starts at 0); 0 without a job */
	uint32_t job_transient;   /**< its transient failures: the retry budget it has used; 0 without a job */
	int job_state;            /**< ::stg_job_state */
	int error_class;          /**< ::stg_error_class of the last failure (NONE after success) */
	int http_status;          /**< HTTP status of the last failure, 0 if none */
	int priority;             /**< 0 urgent (to zero / cutoff), 1 low stock, 2 other */
	int reason;               /**< ::stg_reason of the newest decision */
	unsigned int flags;       /**< STG_ENTRY_* flags */
	/**
	 * (version 2) Where the minimum of the newest change came from
	 * (::stg_min_source), or -1 when the entry has not recorded it (an
	 * entry stored by 1.0, until its next change). A version-1 entry has
	 * a reserved word here, read as -1.
	 */
	int min_source;
	/**
	 * (version 2) Which rule set @ref published (::stg_rule), or -1 when
	 * not recorded (as @ref min_source). With @ref available, @ref published
	 * and the ::STG_ENTRY_MIN_STOCK_REACHED flag it answers "why is this
	 * SKU published as 0?" (stg_entry_explain()).
	 */
	int rule;
	uint32_t reserved_[2];    /**< 0; room for later fields */
} stg_entry;

/** Static initialiser equal to stg_entry_init(e, ::STG_ENTRY_VERSION). */
#define STG_ENTRY_INIT { STG_ENTRY_VERSION, STG_ENTRY_PENDING, NULL, NULL, NULL, \
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, STG_JOB_NONE, STG_ERRCLASS_NONE, 0, 2, 0, 0u, \
	-1, -1, { 0, 0 } }

/**
 * @brief Fill @p entry with the defaults of @p version.
 * @return ::STG_OK, ::STG_EINVAL (NULL), ::STG_EVERSION.
 */
STG_EXTERN int stg_entry_init(stg_entry *entry, unsigned int version);

/** Longest marketplace message kept, in bytes (longer ones are cut). */
#define STG_MESSAGE_MAX 1024

/** Largest encoding of one entry, in bytes. */
#define STG_ENTRY_ENCODED_MAX (134 + 2 * (STG_KEY_MAX + 1) + (STG_MESSAGE_MAX + 1))

/**
 * @brief Encode @p entry for a key-value store.
 *
 * Layout (all integers little-endian): magic "SGE", format version 2 (1.1:
 * one byte that was always 0 in version 1 holds @ref stg_entry.min_source
 * and @ref stg_entry.rule), the fixed fields, three length-prefixed NUL-terminated strings (integration,
 * SKU, message) and a CRC-32 of everything before it.
 *
 * @param buf destination, may be NULL when @p cap is 0 (to ask the size).
 * @param[out] len receives the encoded size (also when @p cap is too small).
 * @return ::STG_OK; ::STG_EOVERFLOW when @p cap is smaller than *@p len
 *         (nothing written); ::STG_EINVAL for NULL @p entry / @p len, a NULL
 *         @p buf with a non-zero @p cap, a
 *         missing or over-long integration or SKU (1 to ::STG_KEY_MAX bytes),
 *         a message over ::STG_MESSAGE_MAX, or out-of-range enums (a
 *         version-2 entry's min_source and rule must both be -1 or both
 *         be known values);
 *         ::STG_EVERSION for an unknown entry version. Thread-safe.
 */
STG_EXTERN int stg_entry_encode(const stg_entry *entry, void *buf, size_t cap, size_t *len);

/**
 * @brief Decode bytes made by stg_entry_encode().
 *
 * Never reads outside [@p buf, @p buf + @p len). The strings of @p out
 * point into @p buf, so @p buf must outlive their use.
 *
 * Records of format version 1 (written by 1.0) decode as before, with
 * min_source and rule -1 (not recorded). @p out is a version-2 entry.
 *
 * @return ::STG_OK; ::STG_ETRUNCATED when @p len is shorter than the
 *         record; ::STG_ECORRUPT for a bad magic, unknown format version,
 *         checksum mismatch, trailing bytes, strings without terminator or
 *         out-of-range fields; ::STG_EINVAL for NULL arguments. @p out is
 *         written only on success. Thread-safe.
 */
STG_EXTERN int stg_entry_decode(const void *buf, size_t len, stg_entry *out);

/** @brief Static name of a ::stg_entry_status ("pending", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_entry_status_name(int status);

/** @brief Static name of a ::stg_error_class ("auth", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_error_class_name(int error_class);

/** @brief Static name of a ::stg_job_state ("queued", ...); "unknown" otherwise. */
STG_EXTERN const char *stg_job_state_name(int state);

/**
 * @brief The error class the log gives an HTTP status when the transport
 *        leaves the classification to it and no message rule matches (see
 *        stg_log_set_rules(); the built-in rules map 409 to
 *        ::STG_ERRCLASS_CONFLICT, this function keeps its 1.0 answer,
 *        rejected): 401 and 403 auth; 429
 *        rate-limited; 408 and 425 transient; other 4xx rejected; 5xx, 0 (no
 *        response) and anything else transient. Thread-safe.
 */
STG_EXTERN int stg_classify_http(int http_status);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_ENTRY_H */
