/*
 * What a transport result does to an entry: success, or what each error
 * class means. Never installed.
 */
#ifndef STOCKGUARD_RESULTS_H
#define STOCKGUARD_RESULTS_H

#include "log_state.h"

/* Apply the result of entry idx's job at @now, and write the entry (an
 * owed write when that fails: STG_ESTORAGE). STG_EINVAL for a broken
 * result, which counts as a transient failure. */
int stg__apply_result(stg_log *log, uint32_t idx, const stg_job_result *r, int64_t now);

#endif
