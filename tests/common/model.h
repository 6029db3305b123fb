/*
 * The reference model of the integration log, shared by the model check
 * (tests/reliability/test_model.c, random sequences) and the fuzz target
 * (tests/fuzz/fuzz_log.c, libFuzzer input): what the log's headers promise,
 * written once, so that a change of behaviour is taught in one place.
 *
 *   sm_policy / sm_publish()  the quantity a policy publishes (policy.h):
 *                             cutoff or reserve minimum, SKU and category
 *                             overrides, allocation, cap; the min-stock warning
 *   sm_decide()               a submit's decision and reason (log.h): first
 *                             seen, stale, coalesced, after error, then the
 *                             filter's table on published values (non-stock,
 *                             no change, low stock inside the window, outside)
 *   sm_classify() /
 *   sm_result_class()         the error class of a result: the explicit one,
 *                             or the one the log derives from the HTTP status
 *   sm_rules / sm_rules_class()
 *                             an integration's message rules (marketplace.h):
 *                             the built-in ones or the host's, first match
 *                             by status range and text, then the status
 *   sm_key                    what the model keeps per (integration, SKU):
 *                             existence, newest applied sequence, available and
 *                             published, the acknowledged quantity, the async
 *                             job in flight
 *   sm_key_applied(),
 *   sm_key_result()           move a key on after an applied change / a result
 *   sm_job_check()            a job handed to the transport agrees with its
 *                             key (exists, newest evaluation, not a second job)
 *
 * Each driver keeps what belongs to its way of driving (the fuzz target's
 * hook faults and status-code sets, the model check's job states, retry
 * times and statistics) and calls these for the rest. Public API only; no
 * Criterion (the fuzz target is built without it): checks return a reason.
 * The fuzz target is built by tools/fuzz.sh from lib/ and its own file, so
 * it includes model.c; the other suites link it from tests/common.
 */
#ifndef STOCKGUARD_TESTS_COMMON_MODEL_H
#define STOCKGUARD_TESTS_COMMON_MODEL_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- policy */

typedef struct sm_policy {
	int64_t min, cap, window;
	int mode;              /* STG_MODE_CUTOFF or STG_MODE_RESERVE */
	int alloc;             /* allocation percent, 100: all */
	int has_sku_min, has_cat_min;
	int64_t sku_min, cat_min;
	const char *min_sku;       /* the SKU sku_min is for */
	const char *min_category;  /* the category cat_min is for */
} sm_policy;

/* The defaults of a new policy (policy.h): cutoff at 0, window 5, all, no cap,
 * no override; min_sku / min_category name the keys the overrides are for. */
void sm_policy_default(sm_policy *p, const char *min_sku, const char *min_category);
/* The minimum that applies to a change of sku in category (NULL: none). */
int64_t sm_min_for(const sm_policy *p, const char *sku, const char *category);
/* The quantity published for available; *warn: the minimum forced a
 * positive stock to 0 (STG_WARN_MIN_STOCK_REACHED). */
int64_t sm_publish(const sm_policy *p, const char *sku, const char *category, int64_t available,
                   unsigned *warn);

/* -------------------------------------------------------------- decision */

/* What a submit's decision depends on: the entry before the change. */
typedef struct sm_prior {
	int exists;
	int64_t sequence;   /* the newest applied sequence */
	int status;         /* stg_entry_status */
	int job_state;      /* stg_job_state */
	int has_acked;
	int64_t acked;
	int64_t published;  /* the previous available as this change's policy publishes it */
} sm_prior;

/* The decision (STG_DECISION_*) of a valid change publishing p1; *reason. */
int sm_decide(const sm_prior *b, const stg_submit *s, int64_t p1, int64_t window, int *reason);

/* ---------------------------------------------------------------- results */

/* The class the log derives from an HTTP status (error_class NONE). */
int sm_classify(int http);
/* The class the log records for an ERROR result (the built-in rules). */
int sm_result_class(const stg_job_result *r);

/* ------------------------------------------------------------ message rules */

#define SM_RULES_MAX 16

/* An integration's message rules (stg_log_set_rules()), texts copied. */
typedef struct sm_rules {
	int custom;        /* the host gave rules: the built-in ones apply only with keep_defaults */
	int keep_defaults; /* STG_RULES_KEEP_DEFAULTS */
	size_t n;
	stg_message_rule r[SM_RULES_MAX];
	char text[SM_RULES_MAX][STG_RULE_TEXT_MAX + 1];
} sm_rules;

/* The built-in rules only (a new integration, or one after a reopen). */
void sm_rules_default(sm_rules *s);
/* What stg_log_set_rules() says of one rule: STG_OK, STG_EVERSION or STG_EINVAL. */
int sm_rule_check(const stg_message_rule *r);
/* Install n (at most SM_RULES_MAX) rules that sm_rule_check() accepts. */
void sm_rules_set(sm_rules *s, const stg_message_rule *r, size_t n, unsigned flags);
/* The class the log gives a failure with this status and message (NULL s:
 * the built-in rules), then the status mapping. */
int sm_rules_class(const sm_rules *s, int http, const char *msg);
/* sm_result_class() with an integration's rules. */
int sm_result_class_in(const sm_rules *s, const stg_job_result *r);

/* ------------------------------------------------------------------- keys */

typedef struct sm_key {
	int exists;
	int64_t seq, avail, published; /* of the newest applied change (published: its evaluation) */
	int has_ack;
	int64_t acked;       /* the last quantity the marketplace acknowledged */
	uint64_t async_id;   /* job handed out with ASYNC and not completed, 0 none */
	int64_t async_pub;   /* the quantity that job carries */
} sm_key;

/* A change was applied (any decision but stale): the newest values. */
void sm_key_applied(sm_key *k, const stg_submit *s, int64_t published);
/* A result for job id carrying published: ASYNC keeps it in flight; any
 * other result ends it; OK acknowledges what was handed out (for a
 * completion, what the async job carried). Returns the quantity the result
 * is for. */
int64_t sm_key_result(sm_key *k, uint64_t id, int64_t published, int outcome);
/* 0 when job j may be handed out for k; else writes why. */
int sm_job_check(const sm_key *k, const stg_job *j, char *why, size_t cap);

#endif
