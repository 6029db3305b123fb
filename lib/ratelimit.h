/*
 * An integration's adaptive token bucket: the configured limit, the quota
 * the marketplace announces, and the AIMD rate between them (see
 * stg_log_set_limits() and docs/contract.md, "Rate limits"). Never
 * installed.
 */
#ifndef STOCKGUARD_RATELIMIT_H
#define STOCKGUARD_RATELIMIT_H

#include "internal.h"
#include "stockguard/hooks.h"

/*
 * Rates are jobs per millisecond and tokens are jobs, as doubles: a rate
 * cut to 7/8 or raised by 1/1024 has no exact integer form, and the
 * products involved stay far below 2^53. Whole-job decisions read the
 * tokens through stg__bucket_budget(), which forgives the rounding of a
 * product that is exact in decimal (500 ms at 2 per 1000 ms is one job).
 */
typedef struct stg__bucket {
	double rate;          /* jobs per ms allowed now; 0: no limit */
	double ceiling;       /* the configured and announced rates, the smaller; 0: none */
	double configured;    /* max_jobs / per_ms of stg_log_set_limits(), 0: none */
	double announced;     /* the marketplace's last announced quota, 0: none */
	double peak;          /* the rate at the last 429, 0: none since the limit was set */
	double tokens;        /* jobs the bucket holds */
	int64_t period;       /* ms: the AIMD step and the bucket's depth (the
	                         configured per_ms, else the announced window) */
	int64_t window;       /* ms: the window of the announced quota */
	int64_t refilled_at;  /* time of the last refill; -1: none since the limit was set */
	int64_t hold_until;   /* an announced empty window: no refill before this */
	int64_t stepped_at;   /* start of the current AIMD period; -1: none yet */
	uint32_t quiet;       /* AIMD periods in a row without a 429 */
	int cut;              /* a 429 in the current period */
} stg__bucket;

/* Configure: no limit (max_jobs 0), or max_jobs per per_ms; the rate goes
 * back to the ceiling and the bucket is full. The announcement is kept. */
void stg__bucket_set(stg__bucket *b, uint32_t max_jobs, int64_t per_ms);
/* Credit the time since the last refill, and step the AIMD rate. */
void stg__bucket_refill(stg__bucket *b, int64_t now);
/* Whole jobs the bucket allows now (SIZE_MAX without a limit). */
size_t stg__bucket_budget(const stg__bucket *b);
/* n jobs leave (taken before the call) or come back (the transport failed). */
void stg__bucket_take(stg__bucket *b, size_t n);
void stg__bucket_give(stg__bucket *b, size_t n);
/* Milliseconds until the bucket holds a whole job (0: now). */
int64_t stg__bucket_wait(const stg__bucket *b, int64_t now);
/* A 429 started a cool-down: the rate goes down, the bucket is emptied. */
void stg__bucket_cut(stg__bucket *b);
/* Follow the quota a version-2 result announces (checked by the caller). */
void stg__bucket_quota(stg__bucket *b, const stg_job_result *r, int64_t now);
/* The quota fields of @r are in range (any version; version 1 has none). */
int stg__quota_ok(const stg_job_result *r);

#endif
