/*
 * Retry delays (backoff.c). Never installed.
 */
#ifndef STOCKGUARD_BACKOFF_H
#define STOCKGUARD_BACKOFF_H

#include "log_state.h"

/* a + b for times and delays >= 0, held at INT64_MAX instead of wrapping. */
int64_t stg__later(int64_t a, int64_t b);
/* Exponential backoff with equal jitter for the n-th failure in a row
 * (options backoff_base_ms, backoff_max_ms), never below @retry_after. */
int64_t stg__backoff(stg_log *log, uint32_t n, int64_t retry_after);

#endif
