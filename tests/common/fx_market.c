/* A simulated marketplace with a rate limit; see fixture.h. */
#include "fixture.h"

#include <string.h>

void fx_market_init(fx_market *m, const fx_clock *clock, double per_s, double burst, int announce)
{
	memset(m, 0, sizeof *m);
	m->clock = clock;
	m->rate = per_s / 1000.0;
	m->burst = burst < 1 ? 1 : burst;
	m->tokens = m->burst;
	m->last = clock->now;
	m->announce = announce;
	m->announced_limit = (int64_t)per_s;
}

int fx_market_answer(fx_market *m, stg_job_result *r)
{
	int64_t now = m->clock->now;

	FX_CHECK(now >= m->last, "the simulated clock went back");
	m->tokens += (double)(now - m->last) * m->rate;
	if (m->tokens > m->burst)
		m->tokens = m->burst;
	m->last = now;
	m->calls++;
	if (m->tokens >= 1.0) {
		m->tokens -= 1.0;
		m->ok++;
		r->outcome = STG_OUTCOME_OK;
		r->http_status = 200;
	} else {
		/* Retry-After: when the next request would be accepted, rounded up
		 * to the millisecond (Mirakl and most APIs give seconds; a finer
		 * figure is the harder case for the client). */
		double wait = (1.0 - m->tokens) / m->rate;
		int64_t ms = (int64_t)wait;
		if ((double)ms < wait)
			ms++;
		m->limited++;
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 429;
		r->retry_after_ms = ms < 1 ? 1 : ms;
	}
	if (m->announce && r->version >= 2) {
		r->quota_limit = m->announced_limit;
		r->quota_window_ms = 1000;
		r->quota_remaining = (int64_t)m->tokens;
	}
	return 0;
}

static int market_send(const stg_job *job, stg_job_result *r, void *payload)
{
	(void)job;
	return fx_market_answer(payload, r);
}

stg_transport fx_market_hook(fx_market *m)
{
	stg_transport t;

	FX_CHECK(stg_transport_init(&t, STG_TRANSPORT_VERSION) == STG_OK, "stg_transport_init");
	t.send = market_send;
	t.payload = m;
	return t;
}

int fx_market_run(stg_log *log, fx_clock *clock, int64_t duration_ms)
{
	int64_t end = clock->now + duration_ms, wait;
	int rc;

	while (clock->now < end) {
		if ((rc = stg_log_pump(log, 0, NULL)) != STG_OK && rc != STG_EINVAL)
			return rc;
		if ((rc = stg_log_next_due(log, &wait)) != STG_OK)
			return rc;
		if (wait < 0)
			return STG_OK; /* nothing left */
		/* A host that sleeps what next_due says, at least a millisecond. */
		clock->now += wait > 0 ? wait : 1;
	}
	return STG_OK;
}
