/*
 * Per-integration counters: the write side of the latency histogram
 * (stg_log_stats() in query.c reads it).
 */
#include "counters.h"

/* ------------------------------------------------------------- latencies */

/* Bucket of a latency: 16 linear sub-buckets per power of two. */
static size_t bucket_of(uint64_t v)
{
	unsigned octave;

	if (v < STG__HIST_SUB)
		return (size_t)v;
	octave = 63u - (unsigned)__builtin_clzll(v); /* v >= 16: octave >= 4 */
	return (size_t)(octave - 3) * STG__HIST_SUB + (size_t)((v >> (octave - 4)) & (STG__HIST_SUB - 1));
}

/* The middle of a bucket: within 1/32 of any value in it. */
uint64_t stg__hist_mid(size_t b)
{
	size_t octave;
	uint64_t lo, width;

	if (b < STG__HIST_SUB)
		return b;
	octave = b / STG__HIST_SUB + 3;
	width = (uint64_t)1 << (octave - 4);
	lo = ((uint64_t)1 << octave) + (uint64_t)(b % STG__HIST_SUB) * width;
	return lo + width / 2;
}

void stg__counters_latency(const stg__alloc *a, stg__counters *c, int64_t ms)
{
	uint64_t v = ms < 0 ? 0 : (uint64_t)ms;

	if (!c->hist) {
		c->hist = stg__calloc(a, STG__HIST_BUCKETS, sizeof *c->hist);
		/* Without memory the percentiles skip this one; the max still counts. */
	}
	if (c->hist)
		c->hist[bucket_of(v)]++;
	if (!c->has_latency || v > c->latency_max)
		c->latency_max = v;
	c->has_latency = 1;
}

void stg__counters_free(const stg__alloc *a, stg__counters *c)
{
	stg__free(a, c->hist);
	c->hist = NULL;
}
