/*
 * Rate limits as marketplaces have them (issue 14, section 1): a 429 cools
 * down the whole limit scope, not one SKU; the token bucket adapts (AIMD)
 * and follows the quota a transport reports; next_due accounts for all of
 * it. Also the manual pause that survives a reopen and the calls saved by
 * coalescing (section 5).
 */
#include <criterion/criterion.h>

#include "harness.h"

TestSuite(cooldown, .init = h_reset);

static stg_limit_state limit_state(const char *integ)
{
	stg_limit_state s;
	int rc = stg_log_limit_state(H.log, integ, &s);

	cr_assert_eq(rc, STG_OK, "stg_log_limit_state: %s", stg_log_errmsg(H.log));
	return s;
}

static void submit_many(const char *integ, int n)
{
	char sku[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(sku, sizeof sku, "SKU-%05d", i);
		h_submit(integ, sku, 100 + i, 1);
	}
}

static int always_429(const stg_job *job, stg_job_result *r, int *tag, void *ctx)
{
	(void)job;
	(void)tag;
	r->outcome = STG_OUTCOME_ERROR;
	r->http_status = 429;
	r->retry_after_ms = *(int64_t *)ctx;
	return 0;
}

/* The issue's measurement: 1,000 jobs, every answer 429 with a retry-after
 * of 30 s. One pump makes one call, not 1,000; each cool-down one more. */
static void one_call_per_cooldown(int with_batch)
{
	int64_t retry = 30000, wait = -7;
	stg_stats s;
	stg_entry e;

	H.with_batch = with_batch;
	h_open();
	if (with_batch)
		cr_assert_eq(stg_log_set_limits(H.log, "amz", 50, 0, 0), STG_OK);
	H.tr.choose = always_429;
	H.tr.choose_ctx = &retry;
	submit_many("amz", 1000);
	cr_assert_eq(h_pump(), with_batch ? 50u : 1u);
	cr_assert_eq(H.tr.calls, 1u, "one call into the exhausted limit, got %zu", H.tr.calls);
	cr_assert_eq(h_pump(), 0u, "cooling down: nothing goes out");
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 30000, "next_due %lld: the cool-down's end", (long long)wait);
	h_advance(29999);
	cr_assert_eq(h_pump(), 0u);
	h_advance(1);
	cr_assert_eq(h_pump(), with_batch ? 50u : 1u);
	cr_assert_eq(H.tr.calls, 2u);
	s = h_stats("amz");
	cr_assert_eq(s.cooldowns, 2u);
	cr_assert_eq(s.attempts, with_batch ? 100u : 2u, "waiting jobs count no attempt");
	/* A job that never went out: no attempt, no error on its entry. */
	e = h_get("amz", "SKU-00999");
	cr_assert_eq(e.attempts, 0u);
	cr_assert_eq(e.error_class, STG_ERRCLASS_NONE);
	cr_assert_eq(e.next_attempt_at, T0, "it never went out: its due time is untouched");
	cr_assert_eq(limit_state("amz").cooling_until, T0 + 60000);
	cr_assert_eq(h_get("amz", "SKU-00000").next_attempt_at, T0 + 60000,
	             "the job that met the 429 is due when the cool-down ends");
}

Test(cooldown, one_call_per_cooldown_send)
{
	one_call_per_cooldown(0);
}

Test(cooldown, one_call_per_cooldown_batch)
{
	one_call_per_cooldown(1);
}

/* Waiting jobs keep their place: once the cool-down ends they go in the
 * order they had, the job that met the 429 first (same priority). */
Test(cooldown, jobs_keep_their_place)
{
	size_t i;

	h_open();
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "B", 100, 1);
	h_submit("amz", "C", 100, 1);
	h_submit("amz", "Z", 0, 1); /* urgent: publishes 0 */
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 1000, NULL);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_last()->sku, "Z");
	h_submit("amz", "D", 100, 1); /* queued during the cool-down: after the others */
	h_advance(1000);
	cr_assert_eq(h_pump(), 5u);
	{
		static const char *order[] = { "Z", "Z", "A", "B", "C", "D" };
		for (i = 0; i < 6; i++)
			cr_assert_str_eq(H.tr.sent[i].sku, order[i], "job %zu", i);
	}
	cr_assert_eq(h_get("amz", "Z").attempts, 0u, "acknowledged: the problem is over");
}

/* Without a retry-after: a backoff with equal jitter, doubling with each
 * cool-down in a row, back to the start after a success. */
Test(cooldown, backoff_without_retry_after)
{
	int64_t last = 0;
	int k;

	H.opts.backoff_base_ms = 1000;
	H.opts.backoff_max_ms = 64000;
	h_open();
	submit_many("amz", 10);
	for (k = 1; k <= 5; k++) {
		int64_t d, hi = 1000 << (k - 1);
		stg_limit_state s;
		h_push_http(429);
		cr_assert_eq(h_pump(), 1u, "cool-down %d", k);
		s = limit_state("amz");
		d = s.cooling_until - H.clock.now;
		cr_assert(d >= hi / 2 && d <= hi, "cool-down %d: %lld ms not in [%lld, %lld]", k,
		          (long long)d, (long long)hi / 2, (long long)hi);
		cr_assert_eq(s.backoff_level, (uint32_t)k);
		H.clock.now = s.cooling_until;
		last = d;
	}
	(void)last;
	cr_assert_eq(h_pump(), 10u, "the limit renewed: everything goes");
	cr_assert_eq(limit_state("amz").backoff_level, 0u, "a success resets the backoff");
	cr_assert_eq(limit_state("amz").cooling_until, 0);
}

/* A named scope is shared: a 429 on one seller cools down every
 * integration of the application key; others are not touched. */
Test(cooldown, shared_scope)
{
	h_open();
	cr_assert_eq(stg_log_set_limit_scope(H.log, "amz-s1", "amz-app"), STG_OK);
	cr_assert_eq(stg_log_set_limit_scope(H.log, "amz-s2", "amz-app"), STG_OK);
	h_submit("amz-s1", "A", 100, 1);
	h_submit("amz-s2", "B", 100, 1);
	h_submit("ml", "C", 100, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_RATE_LIMITED, 429, 5000, NULL);
	cr_assert_eq(h_pump(), 2u, "the 429, then ml; not amz-s2");
	cr_assert_eq(h_sent_count("amz-s2", "B"), 0u);
	cr_assert_eq(h_sent_count("ml", "C"), 1u);
	cr_assert_eq(limit_state("amz-s2").cooling_until, T0 + 5000);
	cr_assert_eq(limit_state("amz-s2").shared, 1);
	cr_assert_eq(limit_state("ml").shared, 0);
	cr_assert_eq(limit_state("amz-s1").cooldowns, 1u);
	cr_assert_eq(limit_state("amz-s2").cooldowns, 0u, "counted where the 429 came");
	/* Back to its own scope: its jobs no longer wait for the shared one. */
	cr_assert_eq(stg_log_set_limit_scope(H.log, "amz-s2", NULL), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_sent_count("amz-s2", "B"), 1u);
	cr_assert_eq(h_pump(), 0u, "amz-s1 still cools");
	h_advance(5000);
	cr_assert_eq(h_pump(), 1u);
}

/* One cool-down for the answers of one exhausted limit: the 429s of a
 * batch (or async completions) lower the rate once, and only a longer
 * retry-after lengthens it. */
Test(cooldown, one_cooldown_per_exhausted_limit)
{
	stg_limit_state s;

	H.with_batch = 1;
	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 3, 100, 1000), STG_OK);
	submit_many("amz", 3);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 1000, NULL);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 4000, NULL);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 2000, NULL);
	cr_assert_eq(h_pump(), 3u);
	s = limit_state("amz");
	cr_assert_eq(s.cooldowns, 1u);
	cr_assert_eq(s.cooling_until, T0 + 4000, "the longest retry-after");
	cr_assert_float_eq(s.rate_per_s, 100.0 * 7 / 8, 1e-9, "one cut: %f", s.rate_per_s);
}

/* A reprocess does not call into an exhausted limit either (the VTEX
 * workaround of the issue is exactly such a storm). */
Test(cooldown, reprocess_waits_for_the_cooldown)
{
	h_open();
	h_submit("amz", "A", 100, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 10000, NULL);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 0u);
	h_advance(10000);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").status, STG_ENTRY_SUCCESS);
}

/* next_due: the latest of the job's due time, the cool-down and the next
 * token; paused integrations do not count. */
Test(cooldown, next_due_waits_for_the_cool_down)
{
	int64_t wait = -7;

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 1, 60000), STG_OK);
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "B", 100, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 5000, NULL);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	/* The cut emptied the bucket: a token at 7/8 of 1 per minute comes
	 * after 68,572 ms, later than the cool-down's 5 s. */
	cr_assert_eq(wait, 68572, "next_due %lld", (long long)wait);
	h_advance(68571);
	cr_assert_eq(h_pump(), 0u);
	h_advance(1);
	cr_assert_eq(h_pump(), 1u);
}

/* AIMD: a 429 cuts the rate to 7/8; periods without one bring it back,
 * halfway to the peak at once, then by small probing steps. */
Test(cooldown, aimd_cut_and_recovery)
{
	stg_limit_state s;
	int i;

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 100, 1000), STG_OK);
	s = limit_state("amz");
	cr_assert_float_eq(s.rate_per_s, 100.0, 1e-9);
	cr_assert_float_eq(s.ceiling_per_s, 100.0, 1e-9);
	submit_many("amz", 3);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 429, 10, NULL);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_float_eq(limit_state("amz").rate_per_s, 87.5, 1e-9);
	/* The period of the 429 gives nothing back. */
	h_advance(1000);
	cr_assert_eq(h_pump(), 3u);
	cr_assert_float_eq(limit_state("amz").rate_per_s, 87.5, 1e-9);
	h_advance(1000);
	h_pump();
	cr_assert_float_eq(limit_state("amz").rate_per_s, 93.75, 1e-9, "halfway back to 100");
	h_advance(1000);
	h_pump();
	cr_assert_float_eq(limit_state("amz").rate_per_s, 96.875, 1e-9);
	h_advance(1000);
	h_pump();
	cr_assert_float_eq(limit_state("amz").rate_per_s, 96.875 * (1 + 1.0 / 1024), 1e-9,
	                   "probing: 1/1024 a period");
	for (i = 0; i < 400; i++) {
		h_advance(1000);
		h_pump();
	}
	cr_assert_float_eq(limit_state("amz").rate_per_s, 100.0, 1e-9, "recovered to the ceiling");
	/* The limits again: back to the ceiling at once, bucket full. */
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 10, 1000), STG_OK);
	cr_assert_float_eq(limit_state("amz").rate_per_s, 10.0, 1e-9);
}

static int announce_quota(const stg_job *job, stg_job_result *r, int *tag, void *ctx)
{
	const int64_t *q = ctx; /* limit, window, remaining, reset */

	(void)job;
	(void)tag;
	r->outcome = STG_OUTCOME_OK;
	r->quota_limit = q[0];
	r->quota_window_ms = q[1];
	r->quota_remaining = q[2];
	r->quota_reset_ms = q[3];
	return 0;
}

/* The transport reports the quota from the response headers: the bucket
 * follows it, under the configured ceiling. */
Test(cooldown, bucket_follows_the_announced_quota)
{
	int64_t q[4] = { 5, 1000, -1, 0 }, wait = -7;
	stg_limit_state s;

	h_open();
	H.tr.choose = announce_quota;
	H.tr.choose_ctx = q;
	submit_many("amz", 20);
	/* No configured limit: the first answer sets one (5 per second). */
	cr_assert_eq(h_pump_n(1), 1u);
	s = limit_state("amz");
	cr_assert_float_eq(s.announced_per_s, 5.0, 1e-9);
	cr_assert_float_eq(s.rate_per_s, 5.0, 1e-9);
	cr_assert_eq(h_pump(), 5u, "a full bucket of 5");
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 200, "the next token at 5 per second");
	/* A configured ceiling below the announcement wins. */
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 2, 1000), STG_OK);
	cr_assert_float_eq(limit_state("amz").rate_per_s, 2.0, 1e-9);
	/* Remaining 0 with a reset: nothing before the window renews. */
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 100, 1000), STG_OK);
	q[2] = 0;
	q[3] = 7000;
	cr_assert_eq(h_pump_n(1), 1u);
	cr_assert_eq(h_pump(), 0u, "the marketplace said: none left for 7 s");
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 7000 + 200, "the reset, then a token: %lld", (long long)wait);
	h_advance(7200);
	q[2] = -1;
	q[3] = 0;
	cr_assert_eq(h_pump_n(1), 1u);
}

/* A quota announced in the middle of a pump lowers the bucket at once: the
 * rest of the pump does not spend what the configured rate had filled. */
Test(cooldown, announced_quota_applies_within_the_pump)
{
	int64_t q[4] = { 5, 1000, -1, 0 };

	h_open();
	cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, 100, 1000), STG_OK);
	H.tr.choose = announce_quota;
	H.tr.choose_ctx = q;
	submit_many("amz", 50);
	cr_assert_eq(h_pump(), 6u, "one at 100/s, then a bucket of 5");
	cr_assert_float_eq(limit_state("amz").ceiling_per_s, 5.0, 1e-9);
}

/* A transport built against the 1.0 header writes a version-1 result:
 * accepted, read only as far as version 1 reaches. */
static int old_result(const stg_job *job, stg_job_result *r, int *tag, void *ctx)
{
	(void)job;
	(void)tag;
	(void)ctx;
	r->version = 1;
	r->outcome = STG_OUTCOME_ERROR;
	r->http_status = 429;
	r->retry_after_ms = 3000;
	r->quota_limit = 1; /* beyond version 1: must not be read */
	return 0;
}

Test(cooldown, version_1_results_still_accepted)
{
	h_open();
	H.tr.choose = old_result;
	h_submit("amz", "A", 100, 1);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(limit_state("amz").cooling_until, T0 + 3000);
	cr_assert_float_eq(limit_state("amz").announced_per_s, 0.0, 1e-12);
}

/* Bad input is refused with a message and changes nothing. */
Test(cooldown, bad_input)
{
	char long_name[STG_KEY_MAX + 2];
	stg_job_result r = STG_JOB_RESULT_INIT;
	stg_limit_state s;
	uint64_t id;

	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	h_open();
	cr_assert_eq(stg_log_set_limit_scope(H.log, NULL, "app"), STG_EINVAL);
	cr_assert_eq(stg_log_set_limit_scope(H.log, "amz", ""), STG_EINVAL);
	cr_assert(strstr(stg_log_errmsg(H.log), "scope must be NULL or 1 to") != NULL, "%s",
	          stg_log_errmsg(H.log));
	cr_assert_eq(stg_log_set_limit_scope(H.log, "amz", long_name), STG_EINVAL);
	cr_assert_eq(stg_log_limit_state(H.log, "amz", &s), STG_ENOTFOUND, "nothing was created");
	cr_assert_eq(stg_log_limit_state(H.log, "amz", NULL), STG_EINVAL);
	/* A completion whose quota is out of range records nothing. */
	h_submit("amz", "A", 100, 1);
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	id = h_last()->id;
	r.outcome = STG_OUTCOME_ERROR;
	r.http_status = 429;
	r.quota_limit = -1;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_EINVAL);
	cr_assert(strstr(stg_log_errmsg(H.log), "quota out of range") != NULL, "%s", stg_log_errmsg(H.log));
	r.quota_limit = 0;
	r.quota_remaining = -2;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_EINVAL);
	r.quota_remaining = -1;
	r.quota_window_ms = 86400001;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_EINVAL);
	cr_assert_eq(h_get("amz", "A").job_state, STG_JOB_IN_FLIGHT, "still in flight");
	cr_assert_eq(limit_state("amz").cooling_until, 0);
	r.quota_window_ms = 0;
	cr_assert_eq(stg_log_complete(H.log, id, &r), STG_OK);
	cr_assert_eq(limit_state("amz").cooling_until > T0, 1, "the valid 429 cools it down");
}

static int bad_quota(const stg_job *job, stg_job_result *r, int *tag, void *ctx)
{
	(void)job;
	(void)tag;
	(void)ctx;
	r->quota_reset_ms = -5;
	return 0;
}

/* From the transport, a broken quota makes the result unreadable: a
 * transient failure, never a silent success, and no quota taken. */
Test(cooldown, bad_quota_from_the_transport)
{
	size_t sent = 0;

	h_open();
	H.tr.choose = bad_quota;
	h_submit("amz", "A", 100, 1);
	cr_assert_eq(stg_log_pump(H.log, 0, &sent), STG_EINVAL);
	cr_assert_eq(sent, 1u);
	cr_assert_eq(h_get("amz", "A").error_class, STG_ERRCLASS_TRANSIENT);
	cr_assert_float_eq(limit_state("amz").rate_per_s, 0.0, 1e-12);
}

/* ------------------------------------------------- the simulated marketplace */

struct sim {
	double rate_ratio, limited_share;
	uint64_t calls;
};

static struct sim simulate(double per_s, double burst, uint32_t configured, int announce,
                           int64_t seconds)
{
	fx_market m;
	stg_transport t;
	struct sim out;
	int rc;

	H.with_transport = 0;
	h_open();
	fx_market_init(&m, &H.clock, per_s, burst, announce);
	t = fx_market_hook(&m);
	cr_assert_eq(stg_log_set_transport(H.log, &t), STG_OK);
	if (configured)
		cr_assert_eq(stg_log_set_limits(H.log, "amz", 1, configured, 1000), STG_OK);
	submit_many("amz", (int)(per_s * (double)seconds * 1.2) + 10); /* a backlog all along */
	rc = fx_market_run(H.log, &H.clock, seconds * 1000);
	cr_assert_eq(rc, STG_OK, "%s", stg_log_errmsg(H.log));
	out.rate_ratio = (double)m.ok / (double)seconds / per_s;
	out.limited_share = (double)m.limited / (double)m.calls;
	out.calls = m.calls;
	return out;
}

/* The issue's target: against a marketplace allowing R requests/s, a
 * sustained rate within 10% of R with under 1% of the calls answered 429,
 * the host's configured limit twice too high and no quota announced. */
static void within_target(double per_s, double burst, uint32_t configured)
{
	struct sim s = simulate(per_s, burst, configured, 0, 600);

	cr_log_info("R=%g burst %g configured %u: rate %.4f of R, %.3f%% of %llu calls 429", per_s,
	            burst, configured, s.rate_ratio, s.limited_share * 100, (unsigned long long)s.calls);

	cr_assert(s.rate_ratio >= 0.9 && s.rate_ratio <= 1.1,
	          "R=%g burst %g configured %u: rate %.3f of R", per_s, burst, configured, s.rate_ratio);
	cr_assert(s.limited_share < 0.01, "R=%g burst %g configured %u: %.2f%% of %llu calls were 429",
	          per_s, burst, configured, s.limited_share * 100, (unsigned long long)s.calls);
}

Test(cooldown, sustained_rate_r10, .timeout = 60)
{
	within_target(10, 10, 20);
}

Test(cooldown, sustained_rate_r10_no_burst, .timeout = 60)
{
	within_target(10, 1, 20);
}

Test(cooldown, sustained_rate_r100_ten_times_too_high, .timeout = 60)
{
	within_target(100, 100, 1000);
}

/* With the quota announced, the bucket follows it: hardly any 429. */
Test(cooldown, sustained_rate_announced, .timeout = 60)
{
	struct sim s = simulate(10, 10, 0, 1, 600);

	cr_log_info("announced R=10: rate %.4f of R, %.3f%% of %llu calls 429", s.rate_ratio,
	            s.limited_share * 100, (unsigned long long)s.calls);

	cr_assert(s.rate_ratio >= 0.95 && s.rate_ratio <= 1.05, "rate %.3f of R", s.rate_ratio);
	cr_assert(s.limited_share < 0.001, "%.3f%% of the calls were 429", s.limited_share * 100);
}

/* ------------------------------------------------------ manual pause, stored */

Test(cooldown, manual_pause_survives_reopen)
{
	int paused = 0;

	H.with_storage = 1;
	H.storage_v2 = 1;
	h_open();
	h_submit("amz", "A", 100, 1);
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_OK);
	cr_assert_eq(fx_storage_state(&H.st, "amz"), (long)STG_INTEGRATION_PAUSED);
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_OK);
	cr_assert_eq(H.st.state_writes, 1, "a second pause writes nothing");
	cr_assert_eq(stg_log_pause(H.log, "empty"), STG_OK); /* no entry at all */
	h_reopen();
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 1);
	cr_assert_eq(stg_log_is_paused(H.log, "empty", &paused), STG_OK);
	cr_assert_eq(paused, 1, "a pause of an integration without entries comes back too");
	cr_assert_eq(h_pump(), 0u, "its jobs are held");
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(fx_storage_state(&H.st, "amz"), 0L);
	cr_assert_eq(h_pump(), 1u);
	h_reopen();
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 0, "resumed for good");
}

/* A failed write: the call says so and the integration is not paused. */
Test(cooldown, manual_pause_write_failure_changes_nothing)
{
	int paused = 1;

	H.with_storage = 1;
	H.storage_v2 = 1;
	h_open();
	h_submit("amz", "A", 100, 1);
	H.st.state_write_fail = 3;
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_ESTORAGE);
	cr_assert(strstr(stg_log_errmsg(H.log), "integration amz") != NULL, "%s", stg_log_errmsg(H.log));
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 0);
	H.st.state_write_fail = 0;
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_OK);
	H.st.state_write_fail = 3;
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_ESTORAGE);
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 1, "stays paused, as storage says");
	H.st.state_write_fail = 0;
	cr_assert_eq(stg_log_resume(H.log, "amz"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
}

/* A version-1 storage hook has nowhere to keep it: as in 1.0, the pause
 * lasts until the close. */
Test(cooldown, manual_pause_with_version_1_storage)
{
	int paused = 1;

	H.with_storage = 1;
	h_open();
	h_submit("amz", "A", 100, 1);
	cr_assert_eq(stg_log_pause(H.log, "amz"), STG_OK);
	h_reopen();
	cr_assert_eq(stg_log_is_paused(H.log, "amz", &paused), STG_OK);
	cr_assert_eq(paused, 0);
}

Test(cooldown, bad_stored_integration_record)
{
	H.with_storage = 1;
	H.storage_v2 = 1;
	H.st.load_bad_state = 1;
	cr_assert_eq(h_open_rc(), STG_ECORRUPT);
	cr_assert(strstr(stg_last_error(), "integration record") != NULL, "%s", stg_last_error());
	cr_assert_null(H.log);
}

Test(cooldown, half_set_integration_functions_refused)
{
	H.with_storage = 1;
	{
		stg_storage half = fx_storage_hook_v2(&H.st);
		stg_log *log = NULL;
		half.load_integrations = NULL;
		H.opts.storage = &half;
		cr_assert_eq(stg_log_open(&log, &H.opts), STG_EINVAL);
		cr_assert(strstr(stg_last_error(), "write_integration and load_integrations") != NULL, "%s",
		          stg_last_error());
		cr_assert_null(log);
	}
}

/* ------------------------------------------------------ calls saved, by kind */

Test(cooldown, calls_saved_by_coalescing)
{
	stg_stats s;

	h_open();
	h_submit("amz", "A", 100, 1);
	h_submit("amz", "A", 90, 2); /* merged into the waiting job: a call saved */
	h_submit("amz", "A", 80, 3); /* again */
	cr_assert_eq(h_pump(), 1u);
	s = h_stats("amz");
	cr_assert_eq(s.coalesced, 2u);
	cr_assert_eq(s.saved_by_coalescing, 2u);
	/* Merged while in flight: the newer quantity still needs its call. */
	h_submit("amz", "B", 100, 1);
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_submit("amz", "B", 70, 2);
	h_submit("amz", "B", 60, 3);
	{
		stg_job_result r = STG_JOB_RESULT_INIT;
		cr_assert_eq(stg_log_complete(H.log, h_last()->id, &r), STG_OK);
	}
	cr_assert_eq(h_pump(), 1u, "the follow-up");
	s = h_stats("amz");
	cr_assert_eq(s.coalesced, 4u);
	cr_assert_eq(s.saved_by_coalescing, 3u, "two merges, one follow-up call: one saved");
	cr_assert_eq(s.skips[STG_REASON_OUTSIDE_WINDOW], 0u, "the filter's savings are apart");
}
