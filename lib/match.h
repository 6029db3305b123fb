/*
 * Query criteria: checked once per call, matched per entry. Never installed.
 */
#ifndef STOCKGUARD_MATCH_H
#define STOCKGUARD_MATCH_H

#include "log_state.h"

int stg__query_check(stg_log *log, const stg_query *q, const char *fn);
int stg__query_match(const stg_log *log, const stg_query *q, const stg__ent *e, int64_t now);

#endif
