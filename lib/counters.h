/*
 * Per-integration counters behind stg_log_stats(), and the latency
 * histogram they keep. Never installed.
 */
#ifndef STOCKGUARD_COUNTERS_H
#define STOCKGUARD_COUNTERS_H

#include "internal.h"
#include "stockguard/log.h"

/* Latency histogram: 16 sub-buckets per power of two, so a bucket's middle
 * is within 1/32 (3.2%) of any value in it. */
#define STG__HIST_SUB 16
#define STG__HIST_BUCKETS (64 * STG__HIST_SUB)

typedef struct stg__counters {
	uint64_t changes, exports, coalesced, stale, attempts, successes, abnormal, warnings;
	uint64_t corrections; /* stg_log_observe() queued or held a job (observe.c) */
	uint64_t followups;  /* jobs that changes merged into an in-flight job caused */
	uint64_t cooldowns;  /* rate-limit cool-downs this integration's answers started */
	uint64_t skips[STG_REASON_COUNT];
	uint64_t errors[STG_ERRCLASS_COUNT];
	uint64_t latency_max;
	int has_latency;
	uint64_t *hist; /* STG__HIST_BUCKETS counters, allocated on first latency */
} stg__counters;


/* Count one change-to-acknowledgement time (the histogram is allocated on
 * the first; without memory only the maximum is kept). */
void stg__counters_latency(const stg__alloc *a, stg__counters *c, int64_t ms);
void stg__counters_free(const stg__alloc *a, stg__counters *c);
/* The middle of histogram bucket b: what a percentile in it reports. */
uint64_t stg__hist_mid(size_t b);

#endif
