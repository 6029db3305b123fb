/*
 * Rate limits against a simulated marketplace (issue 14, section 1): the
 * figures are counts on a simulated clock, so they do not depend on the
 * machine (the CPU cost per call is printed as a note).
 *
 *   storm    N jobs pending on one integration, the marketplace answers
 *            every call 429 with a retry-after of 30 s: calls made by one
 *            stg_log_pump(), and over ten simulated minutes of pumping at
 *            next_due. Anchor: a per-job backoff, as 1.0.0 had it (every
 *            due job called, each then due again after its own
 *            retry-after), run inline on the same transport.
 *   sustain  a marketplace allowing R requests per second (a token bucket
 *            with a burst of R, or of 1: strict spacing) answers 429 with
 *            the time to its next token; the host sets a limit of 2R or
 *            10R (too high, as hosts do), or sets none and the marketplace
 *            announces its quota in every answer. Ten simulated minutes
 *            with a backlog all along, pumping at next_due. Figures: the
 *            acknowledged rate as a share of R, and the share of calls
 *            answered 429. Anchor: a fixed token bucket at the limit set
 *            (what 1.0.0 did: no adaptation), same marketplace.
 *
 *   bench_rate [--sizes=10,100,1000] [--only=storm|sustain]
 *
 * --sizes are the values of R for sustain (storm always has 1,000 jobs).
 */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"
#include "fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T0_MS INT64_C(1767225600000) /* 2026-01-01 */
#define SIM_SECONDS 600
#define STORM_JOBS 1000

static stg_log *open_log(fx_clock *clock, stg_transport *t, stg_clock *ch)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_log *log = NULL;

	*ch = fx_clock_hook(clock);
	o.clock = ch;
	o.transport = t;
	if (stg_log_open(&log, &o) != STG_OK) {
		fprintf(stderr, "bench_rate: open: %s\n", stg_last_error());
		exit(1);
	}
	return log;
}

static void submit_backlog(stg_log *log, const char *integ, size_t n)
{
	stg_submit s = STG_SUBMIT_INIT;
	char sku[32];
	size_t i;

	s.integration = integ;
	s.sku = sku;
	s.sequence = 1;
	for (i = 0; i < n; i++) {
		snprintf(sku, sizeof sku, "SKU-%08zu", i);
		s.available = 100 + (int64_t)(i % 50);
		if (stg_log_submit(log, &s, NULL) != STG_OK) {
			fprintf(stderr, "bench_rate: submit: %s\n", stg_log_errmsg(log));
			exit(1);
		}
	}
}

/* ------------------------------------------------------------------ storm */

static int always_429(const stg_job *job, stg_job_result *r, void *payload)
{
	(void)job;
	++*(uint64_t *)payload;
	r->outcome = STG_OUTCOME_ERROR;
	r->http_status = 429;
	r->retry_after_ms = 30000;
	return 0;
}

/* The anchor: each job on its own, called when due, due again after the
 * retry-after (what 1.0.0 did). Calls of the first pump; *total over the run. */
static uint64_t per_job_backoff(size_t n, uint64_t *total)
{
	stg_job_result r;
	stg_job job;
	int64_t *due = calloc(n, sizeof *due), now = T0_MS;
	uint64_t calls = 0, first = 0;
	size_t i;

	if (!due)
		exit(1);
	memset(&job, 0, sizeof job);
	for (i = 0; i < n; i++)
		due[i] = T0_MS;
	for (; now < T0_MS + SIM_SECONDS * 1000; now += 1000) {
		for (i = 0; i < n; i++) {
			if (due[i] > now)
				continue;
			stg_job_result_init(&r, STG_JOB_RESULT_VERSION);
			always_429(&job, &r, &calls);
			due[i] = now + r.retry_after_ms;
		}
		if (now == T0_MS)
			first = calls;
	}
	free(due);
	*total = calls;
	return first;
}

static void storm(const bench_opts *o)
{
	uint64_t calls = 0, first, anchor_total, anchor_first;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_clock ch;
	fx_clock clock;
	stg_log *log;
	bench_row r;
	int64_t wait;
	char note[160];

	fx_clock_init(&clock, T0_MS);
	t.send = always_429;
	t.payload = &calls;
	log = open_log(&clock, &t, &ch);
	submit_backlog(log, "mkt-1", STORM_JOBS);
	stg_log_pump(log, 0, NULL);
	first = calls;
	while (clock.now < T0_MS + SIM_SECONDS * 1000) {
		stg_log_next_due(log, &wait);
		clock.now += wait > 0 ? wait : 1;
		stg_log_pump(log, 0, NULL);
	}
	stg_log_close(log);
	anchor_first = per_job_backoff(STORM_JOBS, &anchor_total);
	memset(&r, 0, sizeof r);
	r.figure = "429 storm: calls of one pump";
	r.size = STORM_JOBS;
	r.lib = (double)first;
	r.lib_unit = "calls";
	r.anchor = (double)anchor_first;
	r.anchor_name = "per-job backoff, 1.0.0";
	r.ratio = r.anchor / r.lib;
	r.ratio_def = "anchor / stockguard";
	r.target = "1 call per cool-down";
	r.met = first == 1;
	r.reps = 1;
	snprintf(note, sizeof note,
	         "every answer 429, retry-after 30 s; over %d simulated s pumping at next_due: %llu calls "
	         "(one per cool-down), the per-job backoff %llu", SIM_SECONDS, (unsigned long long)calls,
	         (unsigned long long)anchor_total);
	r.note = note;
	bench_emit(o, &r);
}

/* ---------------------------------------------------------------- sustain */

typedef struct sim {
	double rate_share, limited_share, ns_per_call;
	uint64_t calls;
} sim;

static sim run_library(double per_s, double burst, uint32_t configured, int announce)
{
	fx_market m;
	fx_clock clock;
	stg_transport t;
	stg_clock ch;
	stg_log *log;
	double t0;
	sim s;

	fx_clock_init(&clock, T0_MS);
	fx_market_init(&m, &clock, per_s, burst, announce);
	t = fx_market_hook(&m);
	log = open_log(&clock, &t, &ch);
	if (configured && stg_log_set_limits(log, "mkt-1", 1, configured, 1000) != STG_OK)
		exit(1);
	submit_backlog(log, "mkt-1", (size_t)(per_s * SIM_SECONDS * 1.2) + 10);
	t0 = bench_now();
	if (fx_market_run(log, &clock, SIM_SECONDS * 1000) != STG_OK) {
		fprintf(stderr, "bench_rate: %s\n", stg_log_errmsg(log));
		exit(1);
	}
	s.ns_per_call = (bench_now() - t0) * 1e9 / (double)(m.calls ? m.calls : 1);
	stg_log_close(log);
	s.rate_share = (double)m.ok / SIM_SECONDS / per_s;
	s.limited_share = (double)m.limited / (double)(m.calls ? m.calls : 1);
	s.calls = m.calls;
	return s;
}

/* The anchor: a fixed token bucket at the limit set, no adaptation, no
 * cool-down (1.0.0): it sends whenever it has a token and a job is due;
 * with a backlog there always is one, 429s only move a job back. */
static sim run_fixed(double per_s, double burst, uint32_t configured)
{
	fx_market m;
	fx_clock clock;
	stg_job_result r;
	double tokens = configured, rate = configured / 1000.0;
	int64_t last;
	sim s;

	fx_clock_init(&clock, T0_MS);
	fx_market_init(&m, &clock, per_s, burst, 0);
	last = clock.now;
	while (clock.now < T0_MS + SIM_SECONDS * 1000) {
		tokens += (double)(clock.now - last) * rate;
		if (tokens > configured)
			tokens = configured;
		last = clock.now;
		if (tokens < 1.0) {
			double wait = (1.0 - tokens) / rate;
			clock.now += (int64_t)wait + 1;
			continue;
		}
		tokens -= 1.0;
		stg_job_result_init(&r, STG_JOB_RESULT_VERSION);
		fx_market_answer(&m, &r);
	}
	s.rate_share = (double)m.ok / SIM_SECONDS / per_s;
	s.limited_share = (double)m.limited / (double)(m.calls ? m.calls : 1);
	s.calls = m.calls;
	s.ns_per_call = NAN;
	return s;
}

static void emit_pair(const bench_opts *o, size_t per_s, const char *what, const sim *lib,
                      const sim *anchor, int met_rate, int met_limited)
{
	char fig[96], fig2[96], note[200];
	bench_row r;

	memset(&r, 0, sizeof r);
	snprintf(fig, sizeof fig, "rate vs R req/s: %s", what);
	snprintf(note, sizeof note, "%llu calls in %d simulated s, %.0f ns of CPU per call (pump + "
	         "next_due loop)", (unsigned long long)lib->calls, SIM_SECONDS, lib->ns_per_call);
	r.figure = fig;
	r.size = per_s;
	r.lib = lib->rate_share;
	r.lib_unit = "of R";
	r.anchor = anchor ? anchor->rate_share : NAN;
	r.anchor_name = anchor ? "fixed bucket at the limit set, 1.0.0" : NULL;
	r.ratio = NAN;
	r.target = "within 10% of R";
	r.met = met_rate;
	r.reps = 1;
	r.note = note;
	bench_emit(o, &r);
	snprintf(fig2, sizeof fig2, "429 share vs R req/s: %s", what);
	r.figure = fig2;
	r.lib = lib->limited_share * 100;
	r.lib_unit = "% 429";
	r.anchor = anchor ? anchor->limited_share * 100 : NAN;
	r.ratio = anchor && lib->limited_share > 0 ? anchor->limited_share / lib->limited_share : NAN;
	r.ratio_def = "anchor / stockguard";
	r.target = "under 1%";
	r.met = met_limited;
	r.note = NULL;
	bench_emit(o, &r);
}

static void sustain(const bench_opts *o)
{
	static const struct { const char *what; double burst_per_r; int times, announce; } cases[] = {
		{ "limit set 2R, burst R", 1, 2, 0 },
		{ "limit set 10R, burst R", 1, 10, 0 },
		{ "limit set 2R, burst 1", 0, 2, 0 },
		{ "quota announced, no limit set", 1, 0, 1 },
	};
	size_t k, c;

	for (k = 0; k < o->nsizes; k++) {
		double per_s = (double)o->sizes[k];
		for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			double burst = cases[c].burst_per_r ? per_s * cases[c].burst_per_r : 1;
			uint32_t configured = (uint32_t)(per_s * cases[c].times);
			sim lib = run_library(per_s, burst, configured, cases[c].announce);
			sim fixed;
			if (configured)
				fixed = run_fixed(per_s, burst, configured);
			emit_pair(o, o->sizes[k], cases[c].what, &lib, configured ? &fixed : NULL,
			          fabs(lib.rate_share - 1) <= 0.1, lib.limited_share < 0.01);
		}
	}
}

int main(int argc, char **argv)
{
	bench_opts o;

	bench_parse(&o, argc, argv, "RATE", "10,100,1000", 1);
	if (bench_want(&o, "storm"))
		storm(&o);
	if (bench_want(&o, "sustain"))
		sustain(&o);
	return 0;
}
