/*
 * The due-job queues (lib/sched.c) across the wrap of their 32-bit order
 * counter: before it wraps, the queues are renumbered, and the pump must
 * hand out jobs in exactly the order it would have without the wrap. The
 * same scenario runs twice, once with the counter set just below the wrap
 * (through the internal header: the tests link the static library), and
 * the two sequences of jobs must be equal.
 */
#include <criterion/criterion.h>

#include "log_internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_SENT 512

static int64_t now_ms;
static char sent[MAX_SENT][16];
static size_t nsent;

static int64_t fake_now(void *payload)
{
	(void)payload;
	return now_ms;
}

/* SKUs starting with R fail once (transient): their retry is due later. */
static int send_one(const stg_job *job, stg_result *res, void *payload)
{
	(void)payload;
	cr_assert_lt(nsent, (size_t)MAX_SENT);
	snprintf(sent[nsent++], sizeof sent[0], "%s", job->sku);
	if (job->sku[0] == 'R' && job->attempt == 1) {
		res->outcome = STG_OUTCOME_ERROR;
		res->http_status = 503;
	}
	return 0;
}

static void submit(stg_log *log, const char *sku, int64_t available, int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = sku[1] == 'x' ? "ebay" : "amz";
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK, "%s", stg_log_errmsg(log));
}

static void pump(stg_log *log, size_t max)
{
	cr_assert_eq(stg_log_pump(log, max, NULL), STG_OK, "%s", stg_log_errmsg(log));
}

/* Returns the order counter at the end. */
static uint32_t scenario(uint32_t start)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_clock c = STG_CLOCK_INIT;
	stg_log *log;
	char sku[16];
	uint32_t end;
	int i;

	now_ms = 1700000000000;
	nsent = 0;
	t.send = send_one;
	c.now_ms = fake_now;
	o.transport = &t;
	o.clock = &c;
	cr_assert_eq(stg_log_open(&log, &o), STG_OK);
	log->order_counter = start;
	/* Urgent (0), low-stock (3) and normal (50) jobs, some failing once. */
	for (i = 0; i < 24; i++) {
		snprintf(sku, sizeof sku, "%c%c%02d", i % 5 == 0 ? 'R' : 'N', i % 7 == 0 ? 'x' : '-', i);
		submit(log, sku, i % 3 == 0 ? 0 : i % 3 == 1 ? 3 : 50, 1);
	}
	pump(log, 7);
	now_ms += 100;
	/* Changes of priority leave stale items behind. */
	for (i = 0; i < 24; i += 2) {
		snprintf(sku, sizeof sku, "%c%c%02d", i % 5 == 0 ? 'R' : 'N', i % 7 == 0 ? 'x' : '-', i);
		submit(log, sku, i % 4 == 0 ? 50 : 0, 2);
	}
	for (i = 24; i < 30; i++) {
		snprintf(sku, sizeof sku, "R-%02d", i);
		submit(log, sku, 40, 1);
	}
	pump(log, 0);
	now_ms += 60000; /* the retries are due */
	for (i = 30; i < 36; i++) {
		snprintf(sku, sizeof sku, "N-%02d", i);
		submit(log, sku, i % 2 ? 0 : 70, 1);
	}
	pump(log, 0);
	end = log->order_counter;
	stg_log_close(log);
	return end;
}

Test(sched, order_wrap_keeps_the_pump_order)
{
	static char plain[MAX_SENT][16];
	size_t nplain, i;
	uint32_t end;

	end = scenario(0);
	cr_assert_lt(end, 1000u);
	nplain = nsent;
	memcpy(plain, sent, sizeof plain);
	cr_assert_gt(nplain, 40u);

	end = scenario(UINT32_MAX - 10);
	cr_assert_lt(end, 1000u, "the counter wrapped (renumbered), ending at %u", end);
	cr_assert_eq(nsent, nplain);
	for (i = 0; i < nsent; i++)
		cr_assert_str_eq(sent[i], plain[i], "job %zu: %s with the wrap, %s without", i, sent[i],
		                 plain[i]);
}
