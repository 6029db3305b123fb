/**
 * @file stockguard/marketplace.h
 * @brief What marketplaces really say (1.1): message rules that classify
 *        their answers, read-backs of what they show, and the explanation
 *        of a log entry.
 *
 * - **Message rules** (stg_log_set_rules()): an HTTP status or range plus a
 *   text the marketplace's message contains or starts with gives an error
 *   class. They are checked before the status mapping of stg_classify_http()
 *   whenever the transport leaves the classification to the log
 *   (::STG_ERRCLASS_NONE in its result). Built-in rules (stg_message_rules_default())
 *   apply to every integration until the host gives it rules of its own.
 * - **Observations** (stg_log_observe()): the host reports what the
 *   marketplace shows for a SKU (a read-back, a notification, an inventory
 *   report) and when it was read; a difference the log did not expect
 *   queues a correction.
 * - **Explanations** (stg_entry_explain()): "why is this SKU 0 on Amazon?"
 *   from an entry alone.
 *
 * Thread model: as for the rest of the log (stockguard/log.h): one thread at
 * a time per log. stg_message_rules_default(), stg_message_rule_init(),
 * stg_observation_init() and stg_entry_explain() are thread-safe.
 */
#ifndef STOCKGUARD_MARKETPLACE_H
#define STOCKGUARD_MARKETPLACE_H

#include "common.h"
#include "entry.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ message rules */

/** Longest text of a message rule, in bytes. */
#define STG_RULE_TEXT_MAX 256

/** Most rules one integration can have. */
#define STG_RULES_MAX 256

/** How a message rule's text is matched (ASCII letters without regard to case). */
typedef enum stg_match {
	STG_MATCH_CONTAINS = 0, /**< the message contains the text */
	STG_MATCH_PREFIX = 1    /**< the message starts with the text */
} stg_match;

/** Version of ::stg_message_rule this header describes. */
#define STG_MESSAGE_RULE_VERSION 1

/**
 * @brief One rule: a status range and a text give an error class. Filled by
 *        the host; copied by stg_log_set_rules().
 *
 * A rule matches a failed result when its HTTP status is within
 * [`http_min`, `http_max`] and, when `text` is not NULL, the message
 * matches the text as `match` says. ASCII letters compare without regard to
 * case ("Not Found" matches "not found"); other bytes, UTF-8 included,
 * compare exactly.
 */
typedef struct stg_message_rule {
	unsigned int version; /**< ::STG_MESSAGE_RULE_VERSION */
	int http_min;         /**< lowest status that matches, 0 to 999 (0: no response) */
	int http_max;         /**< highest status that matches, http_min to 999 */
	int match;            /**< ::stg_match */
	const char *text;     /**< NULL (any message), or 1 to ::STG_RULE_TEXT_MAX bytes */
	int error_class;      /**< the class it gives: ::STG_ERRCLASS_AUTH .. ::STG_ERRCLASS_CONFLICT */
} stg_message_rule;

/** Static initialiser equal to stg_message_rule_init(r, ::STG_MESSAGE_RULE_VERSION):
 *  every status, any message, rejected. */
#define STG_MESSAGE_RULE_INIT { STG_MESSAGE_RULE_VERSION, 0, 999, STG_MATCH_CONTAINS, NULL, \
	STG_ERRCLASS_REJECTED }

/**
 * @brief Fill @p rule with the defaults of @p version.
 * @return ::STG_OK, ::STG_EINVAL (NULL), ::STG_EVERSION. Thread-safe.
 */
STG_EXTERN int stg_message_rule_init(stg_message_rule *rule, unsigned int version);

/**
 * @brief The built-in rules, in the order they are checked.
 *
 * They come from the merchant documentation and the common phrasings of
 * the marketplaces: Carrefour's "Produto ainda não foi catalogado ..." is
 * not catalogued and its `"status":401,"message":"Unauthorized"` is auth;
 * Mercado Livre's "ProductId não encontrado" and the English "SKU not
 * found", "product not found", "does not exist", "not catalogued" (4xx)
 * are not catalogued; any 409 is a conflict.
 *
 * @param[out] rules receives a static array (never freed, never changes).
 * @param[out] n receives its length.
 * @return ::STG_OK, ::STG_EINVAL (NULL). Thread-safe.
 */
STG_EXTERN int stg_message_rules_default(const stg_message_rule **rules, size_t *n);

/** stg_log_set_rules() flag: check the built-in rules after the host's. */
#define STG_RULES_KEEP_DEFAULTS 0x1u

/**
 * @brief Give an integration its own message rules, replacing the ones it had
 *        (the built-in ones until now).
 *
 * The rules are checked in order, the first that matches decides; without
 * ::STG_RULES_KEEP_DEFAULTS the built-in rules no longer apply to this
 * integration (@p n = 0 then leaves it the status mapping alone). Rules
 * decide only results whose transport left the class to the log
 * (::STG_ERRCLASS_NONE); a class the transport gives is kept. Jobs already
 * classified are not looked at again. Rules are not stored: set them again
 * after every open, like policies.
 *
 * @param rules @p n rules, copied (their texts too); NULL when @p n is 0.
 * @return ::STG_OK; ::STG_EINVAL (bad integration, NULL @p rules with
 *         @p n > 0, unknown flags, a rule with an empty or over-long text,
 *         a status outside 0..999 or a reversed range, an unknown match or
 *         class; the message names the rule's index and what is wrong);
 *         ::STG_ERANGE (@p n above ::STG_RULES_MAX); ::STG_EVERSION (a rule's
 *         version); ::STG_ENOMEM; ::STG_ERECURSIVE. On failure the
 *         integration keeps the rules it had.
 */
STG_EXTERN int stg_log_set_rules(stg_log *log, const char *integration,
                                 const stg_message_rule *rules, size_t n, unsigned int flags);

/**
 * @brief The class the log would give a failure of @p integration with this
 *        HTTP status and message: its rules, then stg_classify_http().
 *
 * An integration the log has not seen uses the built-in rules. Changes
 * nothing.
 *
 * @param message NULL for none.
 * @param[out] error_class receives the ::stg_error_class.
 * @return ::STG_OK; ::STG_EINVAL (bad integration, NULL @p error_class);
 *         ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_classify(stg_log *log, const char *integration, int http_status,
                                const char *message, int *error_class);

/* ------------------------------------------------------------- observations */

/** ::stg_observation flag: the marketplace says it does not list the SKU. */
#define STG_OBSERVE_MISSING 0x1u

/** Version of ::stg_observation this header describes. */
#define STG_OBSERVATION_VERSION 1

/** @brief What the marketplace showed for a SKU. Filled by the host; borrowed for the call. */
typedef struct stg_observation {
	unsigned int version;    /**< ::STG_OBSERVATION_VERSION */
	unsigned int flags;      /**< ::STG_OBSERVE_MISSING */
	const char *integration; /**< 1 to ::STG_KEY_MAX bytes */
	const char *sku;         /**< 1 to ::STG_KEY_MAX bytes; the log must have an entry for it */
	int64_t quantity;        /**< the quantity shown, >= 0 (ignored with ::STG_OBSERVE_MISSING) */
	int64_t observed_at;     /**< when it was read (ms since the epoch, >= 0); 0: now */
} stg_observation;

/** Static initialiser equal to stg_observation_init(o, ::STG_OBSERVATION_VERSION). */
#define STG_OBSERVATION_INIT { STG_OBSERVATION_VERSION, 0u, NULL, NULL, 0, 0 }

/**
 * @brief Fill @p observation with the defaults of @p version.
 * @return ::STG_OK, ::STG_EINVAL (NULL), ::STG_EVERSION. Thread-safe.
 */
STG_EXTERN int stg_observation_init(stg_observation *observation, unsigned int version);

/** What stg_log_observe() did. */
typedef enum stg_observe_outcome {
	STG_OBSERVED_IN_SYNC = 0,        /**< the marketplace shows what the log expects: nothing to do */
	STG_OBSERVED_CORRECTED = 1,      /**< it did not: a correction job was queued */
	STG_OBSERVED_NOT_CATALOGUED = 2, /**< it does not list the SKU: the job is held as not catalogued */
	STG_OBSERVED_STALE = 3,          /**< read before the last acknowledgement: ignored */
	STG_OBSERVED_PENDING = 4         /**< a job is waiting or in flight: it will set things right */
} stg_observe_outcome;

/**
 * @brief Report what the marketplace shows for a SKU.
 *
 * In this order:
 * 1. read before the entry's last acknowledgement (`observed_at <
 *    acked_at`): ::STG_OBSERVED_STALE, nothing changes;
 * 2. the SKU is missing (::STG_OBSERVE_MISSING): a waiting job, or a new one
 *    carrying the entry's published quantity, is held as
 *    ::STG_ERRCLASS_NOT_CATALOGUED (released by stg_log_set_catalogued(),
 *    the slow retry meanwhile): ::STG_OBSERVED_NOT_CATALOGUED. A job in
 *    flight or held already is left alone (::STG_OBSERVED_PENDING);
 * 3. the entry has a job (queued, retrying, held, paused, in flight):
 *    ::STG_OBSERVED_PENDING, nothing changes;
 * 4. the quantity equals the entry's published quantity, or the last
 *    acknowledged one (a change the filter skipped leaves the marketplace
 *    there on purpose): ::STG_OBSERVED_IN_SYNC;
 * 5. otherwise a job publishing the entry's published quantity is queued,
 *    due now, with reason ::STG_REASON_OUT_OF_SYNC: ::STG_OBSERVED_CORRECTED.
 *
 * Cases 2 and 5 write the entry through storage, count in
 * stg_stats.corrections and send ::STG_EVENT_OUT_OF_SYNC.
 *
 * @param[out] outcome receives the ::stg_observe_outcome (may be NULL).
 * @return ::STG_OK; ::STG_EINVAL (NULL, bad keys, unknown flags, a negative
 *         quantity or time: nothing changes); ::STG_EVERSION;
 *         ::STG_ENOTFOUND (no entry for the SKU); ::STG_ESTORAGE (nothing
 *         changed); ::STG_ENOMEM; ::STG_ERECURSIVE.
 */
STG_EXTERN int stg_log_observe(stg_log *log, const stg_observation *observation, int *outcome);

/* ------------------------------------------------------------- explanation */

/**
 * @brief The explanation of an entry's published quantity, in one sentence,
 *        like stg_evaluation_explain() ("publishes 0: available 7 is at or
 *        below the SKU's minimum; warning: min_stock_reached").
 *
 * Built from the entry alone (@ref stg_entry.available, @ref stg_entry.published,
 * @ref stg_entry.min_source, @ref stg_entry.rule and its flags), so it needs
 * no policy. An entry that has not recorded its rule (stored by 1.0, or a
 * version-1 struct) says so.
 *
 * @param buf, cap written like snprintf(): always NUL-terminated when
 *        @p cap > 0; NULL with @p cap 0 asks the length.
 * @param[out] len receives the length without the terminator (may be NULL).
 * @return ::STG_OK; ::STG_EOVERFLOW (cut to fit); ::STG_EINVAL (NULL
 *         entry, NULL @p buf with @p cap > 0); ::STG_EVERSION. Thread-safe.
 */
STG_EXTERN int stg_entry_explain(const stg_entry *entry, char *buf, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_MARKETPLACE_H */
