/*
 * The adaptive token bucket of an integration (AIMD, see ratelimit.h).
 *
 * A 429 lowers the rate multiplicatively (to 7/8) and remembers the rate
 * it came at (the peak). Each period without a 429 raises it: halfway back
 * to the peak while below 31/32 of it (the marketplace took that rate a
 * moment ago), else by a probing step of 1/1024 of the rate that doubles
 * every 16 quiet periods (up to 1/8), so the rate finds a raised limit
 * within minutes but comes back to an unchanged one slowly: measured in
 * tests/bench, about one 429 per 25 s at any R, under 1% of the calls from
 * R = 10 requests per second on.
 */
#include "ratelimit.h"

#define CUT_NUM 7.0
#define CUT_DEN 8.0
#define NEAR_PEAK (31.0 / 32.0)
#define PROBE_DIV 1024.0
#define PROBE_DOUBLING 16u   /* quiet periods per doubling of the probing step */
#define PROBE_MAX_SHIFT 7u   /* the step grows to 1/8 at most */
#define FLOOR_DIV 1024.0     /* the rate never goes below ceiling / 1024 */
#define STEPS_MAX 512u       /* periods credited at once after a long silence */
#define WINDOW_MAX 86400000  /* as stg_log_set_limits(): one day */

static double depth(const stg__bucket *b)
{
	double d = b->rate * (double)b->period;

	return d < 1.0 ? 1.0 : d;
}

static void set_ceiling(stg__bucket *b)
{
	if (b->configured > 0 && b->announced > 0)
		b->ceiling = b->configured < b->announced ? b->configured : b->announced;
	else
		b->ceiling = b->configured > 0 ? b->configured : b->announced;
}

void stg__bucket_set(stg__bucket *b, uint32_t max_jobs, int64_t per_ms)
{
	b->configured = max_jobs ? (double)max_jobs / (double)per_ms : 0;
	b->period = max_jobs ? per_ms : b->announced > 0 ? b->window : 0;
	set_ceiling(b);
	b->rate = b->ceiling;
	b->peak = 0;
	b->quiet = 0;
	b->cut = 0;
	b->tokens = b->rate > 0 ? depth(b) : 0; /* start with a full bucket */
	b->refilled_at = -1;
	b->stepped_at = -1;
	b->hold_until = 0;
}

/* One AIMD period has passed. */
static void step(stg__bucket *b)
{
	if (b->cut) {
		b->cut = 0;
		return;
	}
	if (b->peak > 0 && b->rate < b->peak * NEAR_PEAK) {
		b->rate += (b->peak - b->rate) / 2;
	} else {
		uint32_t shift = b->quiet / PROBE_DOUBLING;
		b->rate += b->rate * (double)(1u << (shift > PROBE_MAX_SHIFT ? PROBE_MAX_SHIFT : shift)) /
		           PROBE_DIV;
	}
	if (b->quiet < UINT32_MAX)
		b->quiet++;
	if (b->rate > b->ceiling)
		b->rate = b->ceiling;
}

static void steps(stg__bucket *b, int64_t now)
{
	uint32_t n = 0;

	if (b->period <= 0)
		return; /* not reached: a rate comes with its period */
	if (b->stepped_at < 0 || now < b->stepped_at) {
		b->stepped_at = now; /* the first refill, or a clock that went back */
		return;
	}
	while (now - b->stepped_at >= b->period && n++ < STEPS_MAX) {
		b->stepped_at += b->period;
		step(b);
	}
	if (n > STEPS_MAX)
		b->stepped_at = now; /* long idle: the rate has recovered anyway */
}

void stg__bucket_refill(stg__bucket *b, int64_t now)
{
	int64_t from;
	double full, add;

	if (b->rate <= 0)
		return;
	if (b->rate < b->ceiling)
		steps(b, now);
	else
		b->stepped_at = now;
	full = depth(b);
	/* refilled_at < 0: not since the limit was set (0 is a time like any). */
	if (b->refilled_at < 0 || now < b->refilled_at) {
		b->refilled_at = now;
		return;
	}
	from = b->refilled_at > b->hold_until ? b->refilled_at : b->hold_until;
	if (now > from) {
		add = (double)(now - from) * b->rate;
		b->tokens = add >= full - b->tokens ? full : b->tokens + add;
	}
	if (b->tokens > full)
		b->tokens = full; /* the rate went down since: the depth with it */
	b->refilled_at = now;
}

/* Whole jobs in t >= 0, forgiving the last bits of a product exact in
 * decimal. A cast, not floor(): the library links no libm. */
static double whole(double t)
{
	t += t * 1e-12 + 1e-9;
	return t >= 9e18 ? 9e18 : (double)(int64_t)t;
}

size_t stg__bucket_budget(const stg__bucket *b)
{
	double w;

	if (b->rate <= 0)
		return SIZE_MAX;
	w = b->tokens > 0 ? whole(b->tokens) : 0;
	return w >= (double)SIZE_MAX ? SIZE_MAX : (size_t)w;
}

void stg__bucket_take(stg__bucket *b, size_t n)
{
	if (b->rate > 0)
		b->tokens = b->tokens > (double)n ? b->tokens - (double)n : 0;
}

void stg__bucket_give(stg__bucket *b, size_t n)
{
	if (b->rate > 0)
		b->tokens += (double)n;
}

int64_t stg__bucket_wait(const stg__bucket *b, int64_t now)
{
	double need, ms;
	int64_t w = 0;

	if (b->rate <= 0 || stg__bucket_budget(b) > 0)
		return 0;
	if (b->hold_until > now)
		w = b->hold_until - now;
	need = 1.0 - b->tokens;
	ms = need / b->rate - 1e-7;
	if (ms > (double)(INT64_MAX / 4))
		return INT64_MAX / 4;
	/* ceil() by hand (no libm), at least 1 ms: the token is not there yet. */
	return w + ((double)(int64_t)ms < ms ? (int64_t)ms + 1 : ms < 1 ? 1 : (int64_t)ms);
}

void stg__bucket_cut(stg__bucket *b)
{
	double floor_rate;

	if (b->rate <= 0)
		return;
	floor_rate = b->ceiling / FLOOR_DIV;
	b->peak = b->rate;
	b->rate = b->rate * CUT_NUM / CUT_DEN;
	if (b->rate < floor_rate)
		b->rate = floor_rate;
	/* ceiling / 1024 can be below the floor when the ceiling itself fell. */
	if (b->rate > b->ceiling)
		b->rate = b->ceiling;
	b->tokens = 0; /* the marketplace says its bucket is empty */
	b->quiet = 0;
	b->cut = 1;
}

int stg__quota_ok(const stg_job_result *r)
{
	if (r->version < 2)
		return 1;
	return r->quota_limit >= 0 && r->quota_window_ms >= 0 && r->quota_window_ms <= WINDOW_MAX &&
	       r->quota_remaining >= -1 && r->quota_reset_ms >= 0 && r->quota_reset_ms <= WINDOW_MAX;
}

void stg__bucket_quota(stg__bucket *b, const stg_job_result *r, int64_t now)
{
	if (r->version < 2)
		return;
	if (r->quota_limit > 0) {
		int64_t window = r->quota_window_ms ? r->quota_window_ms : 1000;
		double announced = (double)r->quota_limit / (double)window;
		int changed = announced != b->announced, was_limited = b->rate > 0;
		b->announced = announced;
		b->window = window;
		if (b->configured <= 0)
			b->period = window;
		set_ceiling(b);
		/* A new figure is the marketplace's word: the rate takes it, unless
		 * the same figure was already answered with a 429 (then AIMD). */
		if (changed || b->peak <= 0 || b->rate > b->ceiling)
			b->rate = b->ceiling;
		if (!was_limited) {
			b->tokens = depth(b);
			b->refilled_at = now;
			b->stepped_at = now;
		}
		/* A lower rate holds fewer tokens, from this answer on (the rest
		 * of the pump must not spend a bucket the old rate filled). */
		if (b->tokens > depth(b))
			b->tokens = depth(b);
	}
	if (b->rate <= 0)
		return;
	if (r->quota_remaining >= 0 && b->tokens > (double)r->quota_remaining)
		b->tokens = (double)r->quota_remaining;
	if (r->quota_remaining == 0 && r->quota_reset_ms > 0) {
		b->hold_until = now + r->quota_reset_ms;
		if (b->refilled_at < now)
			b->refilled_at = now;
	}
}
