/*
 * Retry delays: exponential backoff with jitter, seeded per log, shared by
 * the per-job retries (results.c) and the scope cool-downs (cooldown.c).
 */
#include "backoff.h"

/* a + b for times and delays >= 0, held at INT64_MAX instead of wrapping. */
int64_t stg__later(int64_t a, int64_t b)
{
	return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static uint64_t next_random(stg_log *log)
{
	/* splitmix64: cheap, seedable, good enough for jitter */
	uint64_t z = (log->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Exponential backoff with "equal jitter": a delay in [d/2, d]. */
int64_t stg__backoff(stg_log *log, uint32_t attempts, int64_t retry_after)
{
	int64_t d = log->backoff_base;
	uint32_t i;

	for (i = 1; i < attempts && d < log->backoff_max; i++)
		d = d > log->backoff_max / 2 ? log->backoff_max : d * 2;
	if (d > log->backoff_max)
		d = log->backoff_max;
	d = d / 2 + (int64_t)(next_random(log) % (uint64_t)(d / 2 + 1));
	return d > retry_after ? d : retry_after;
}
