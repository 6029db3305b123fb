/*
 * What marketplaces really say (stockguard/marketplace.h): the message
 * rules of each integration (rules.c), the catalogue notices remembered for
 * SKUs the log has not seen (rules.c), and observations of what a
 * marketplace shows (observe.c). Kept beside the log's state, not in it, so
 * that a log that never uses them pays one NULL pointer. Never installed.
 */
#ifndef STOCKGUARD_MARKET_H
#define STOCKGUARD_MARKET_H

#include "log_state.h"
#include "strmap.h"
#include "stockguard/marketplace.h"

/* One integration's rules: the built-in ones until the host sets its own. */
typedef struct stg__ruleset {
	stg_message_rule *rules; /* texts owned (allocated with the log's allocator) */
	uint32_t n;
	int custom;              /* 0: the built-in rules */
	int keep_defaults;       /* custom, then the built-in rules */
} stg__ruleset;

typedef struct stg__market {
	stg__ruleset *sets;      /* by integration id; ids beyond nsets use the built-in rules */
	uint32_t nsets;
	stg__strmap notices;     /* catalogue notices: key = integration id (2 bytes) + SKU */
} stg__market;

/* Most catalogue notices a log remembers (memory stays bounded). */
#define STG__NOTICES_MAX 65536u

/* The class of a failure of integration @integ: its rules, then the status. */
int stg__rules_classify(const stg_log *log, uint32_t integ, int http_status, const char *msg);
/* stg_log_set_catalogued() for a SKU without an entry: the notice is
 * remembered (STG_OK, or the failure). 1 when the SKU has an entry or the
 * keys are bad: the caller goes on as for any entry. */
int stg__notice_unseen(stg_log *log, const char *fn, const char *integration, const char *sku);
/* Whether a notice is remembered for entry @idx's SKU; it is forgotten either way. */
int stg__notice_take(stg_log *log, uint32_t idx);
/* Free what the log's marketplace state holds (stg_log_close()). */
void stg__market_free(stg_log *log);

#endif
