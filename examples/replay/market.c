/* The simulated marketplace (see market.h). */
#include "market.h"

#include <stdlib.h>
#include <string.h>

void market_init(struct market *m, int64_t latency_ms, int64_t *now_ms, struct stats *stats)
{
	memset(m, 0, sizeof *m);
	m->latency_ms = latency_ms;
	m->now_ms = now_ms;
	m->stats = stats;
}

void market_free(struct market *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->q[(m->head + i) % m->cap].key);
	free(m->q);
	memset(m, 0, sizeof *m);
}

static int64_t add_sat(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int push(struct market *m, const stg_job *job)
{
	size_t il = strlen(job->integration), sl = strlen(job->sku);
	struct flight *f;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64, i;
		struct flight *q = malloc(cap * sizeof *q);
		if (!q)
			return -1;
		for (i = 0; i < m->n; i++)
			q[i] = m->q[(m->head + i) % m->cap];
		free(m->q);
		m->q = q;
		m->cap = cap;
		m->head = 0;
	}
	f = &m->q[(m->head + m->n) % m->cap];
	f->key = malloc(il + sl + 2);
	if (!f->key)
		return -1;
	memcpy(f->key, job->integration, il + 1);
	memcpy(f->key + il + 1, job->sku, sl + 1);
	f->job_id = job->id;
	f->ack_at = add_sat(*m->now_ms, m->latency_ms);
	f->published = job->published;
	m->n++;
	return 0;
}

static int market_send(const stg_job *job, stg_job_result *result, void *payload)
{
	struct market *m = payload;

	if (push(m, job) || stats_call(m->stats, *m->now_ms, job->integration, job->published)) {
		m->failed = 1;
		return 1; /* the job stays queued; the pump reports a transport failure */
	}
	result->outcome = STG_OUTCOME_ASYNC;
	return 0;
}

static void market_event(const stg_event *ev, void *payload)
{
	if (ev->type == STG_EVENT_ABNORMAL_LATENCY)
		((struct market *)payload)->late = 1;
}

void market_hooks(struct market *m, stg_transport *transport, stg_events *events)
{
	transport->send = market_send;
	transport->payload = m;
	events->on_event = market_event;
	events->payload = m;
}

void market_attach(struct market *m, stg_log *log)
{
	m->log = log;
}

/* Acknowledge the oldest in-flight job. */
static int ack_one(struct market *m, const char **why)
{
	struct flight f = m->q[m->head];
	stg_job_result ok = STG_JOB_RESULT_INIT;
	stg_entry e = STG_ENTRY_INIT;
	int rc;

	m->head = (m->head + 1) % m->cap;
	m->n--;
	m->late = 0;
	ok.outcome = STG_OUTCOME_OK;
	rc = stg_log_complete(m->log, f.job_id, &ok);
	/* The entry's latency is the log's own: from the oldest change the job carried. */
	if (rc == STG_OK)
		rc = stg_log_get(m->log, f.key, f.key + strlen(f.key) + 1, &e);
	if (rc == STG_OK && stats_ack(m->stats, *m->now_ms, f.key, f.published,
	                              e.latency_ms - m->latency_ms, m->late))
		rc = STG_ENOMEM;
	free(f.key);
	if (rc != STG_OK) {
		*why = rc == STG_ENOMEM ? NULL : stg_log_errmsg(m->log);
		return -1;
	}
	return 0;
}

/* Acknowledge and send what is due now, until nothing is. */
static int settle(struct market *m, const char **why)
{
	for (;;) {
		size_t sent = 0, acked = 0;
		while (m->n && m->q[m->head].ack_at <= *m->now_ms) {
			if (ack_one(m, why))
				return -1;
			acked++;
		}
		if (stg_log_pump(m->log, 0, &sent) != STG_OK) {
			*why = m->failed ? NULL : stg_log_errmsg(m->log);
			return -1;
		}
		if (!sent && !acked)
			return 0;
	}
}

int market_advance(struct market *m, int64_t to_ms, const char **why)
{
	for (;;) {
		int64_t wait, next = -1;

		if (settle(m, why))
			return -1;
		if (stg_log_next_due(m->log, &wait) != STG_OK) {
			*why = stg_log_errmsg(m->log);
			return -1;
		}
		if (wait >= 0)
			next = add_sat(*m->now_ms, wait > 0 ? wait : 1);
		if (m->n && (next < 0 || m->q[m->head].ack_at < next))
			next = m->q[m->head].ack_at;
		/* A saturated clock cannot move on: stop rather than spin. */
		if (next < 0 || next > to_ms || next <= *m->now_ms)
			break;
		*m->now_ms = next;
	}
	if (to_ms > *m->now_ms && to_ms != INT64_MAX)
		*m->now_ms = to_ms;
	return 0;
}
