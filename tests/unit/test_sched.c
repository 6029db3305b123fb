/*
 * The due-job queues (lib/sched.c) across the wrap of their 32-bit order
 * counter: before it wraps, the queues are renumbered, and the pump must
 * hand out jobs in exactly the order it would have without the wrap. The
 * same scenario runs twice, once with the counter set just below the wrap
 * (through the internal header: the tests link the static library), and
 * the two sequences of jobs must be equal. Along the way each queue's count
 * of live items is checked against its items.
 */
#include <criterion/criterion.h>

#include "integ.h"
#include "jobs.h"

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
static int send_one(const stg_job *job, stg_job_result *res, void *payload)
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

/* Each queue's count of live items matches its items (sched.c decides
 * between compacting and growing on these counts). */
static void check_counts(const stg_log *log)
{
	uint32_t i, k;
	int p;

	for (i = 0; i < log->ninteg; i++)
		for (p = 0; p < STG__PRIORITIES; p++) {
			const stg__queue *q = &log->integs[i].q[p];
			uint32_t run = 0, heap = 0;
			for (k = q->head; k < q->len + q->hlen; k++) {
				const stg__item *it = k < q->len ? &q->run[k] : &q->heap[k - q->len];
				const stg__ent *e = stg__ent_at(log, it->ent);
				int js = stg__ent_job_state(e);
				if (stg__ent_live(e) && e->job && (js == STG_JOB_QUEUED || js == STG_JOB_HELD) &&
				    log->jobs.v[e->job - 1].order == it->order) {
					if (k < q->len)
						run++;
					else
						heap++;
				}
			}
			cr_assert_eq(run, q->run_live, "integration %u priority %d: %u live in the run, "
			             "counted %u", i, p, run, q->run_live);
			cr_assert_eq(heap, q->heap_live, "integration %u priority %d: %u live in the heap, "
			             "counted %u", i, p, heap, q->heap_live);
		}
}

static void pump(stg_log *log, size_t max)
{
	check_counts(log);
	cr_assert_eq(stg_log_pump(log, max, NULL), STG_OK, "%s", stg_log_errmsg(log));
	check_counts(log);
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
	uint32_t pushes, end, off;

	pushes = scenario(0); /* orders taken: one per push */
	cr_assert_lt(pushes, 1000u);
	nplain = nsent;
	memcpy(plain, sent, sizeof plain);
	cr_assert_gt(nplain, 40u);

	/* The wrap at every point of the scenario: a new job, a reschedule
	 * (the job's earlier item still there), a retry, a follow-up. */
	for (off = 1; off < pushes; off++) {
		end = scenario(UINT32_MAX - off);
		cr_assert_lt(end, 1000u, "the counter wrapped (renumbered), ending at %u", end);
		cr_assert_eq(nsent, nplain);
		for (i = 0; i < nsent; i++)
			cr_assert_str_eq(sent[i], plain[i], "wrap %u before the end: job %zu is %s, %s without",
			                 off, i, sent[i], plain[i]);
	}
}
