/* The fixture transport; see fixture.h. */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

void fx_transport_init(fx_transport *t)
{
	memset(t, 0, sizeof *t);
	t->dflt.outcome = STG_OUTCOME_OK;
	t->dflt.http = 200;
	t->fail_rc = -7;
}

void fx_transport_forget_sent(fx_transport *t)
{
	size_t i;

	for (i = 0; i < t->nsent; i++) {
		free(t->sent[i].integration);
		free(t->sent[i].sku);
	}
	t->nsent = 0;
}

void fx_transport_free(fx_transport *t)
{
	size_t i;

	fx_transport_forget_sent(t);
	for (i = 0; i < t->nacks; i++) {
		free(t->acks[i].integration);
		free(t->acks[i].sku);
	}
	free(t->script);
	free(t->sent);
	free(t->acks);
	memset(t, 0, sizeof *t);
}

void fx_transport_push(fx_transport *t, const fx_answer *a)
{
	t->script = fx_grow(t->script, &t->script_cap, t->script_len, sizeof *t->script, 64);
	t->script[t->script_len] = *a;
	t->script[t->script_len].used = 0;
	t->script_len++;
}

void fx_transport_arm(fx_transport *t, long fail_at, int persistent)
{
	t->armed_calls = 0;
	t->failures = 0;
	t->fail_at = fail_at;
	t->persistent = persistent;
}

static int key_eq(const char *want, const char *have)
{
	return !want || strcmp(want, have) == 0;
}

/* The first unused queued answer for this job, or NULL. */
static fx_answer *queued_for(fx_transport *t, const stg_job *j)
{
	size_t i;

	for (i = 0; i < t->script_len; i++)
		if (!t->script[i].used && key_eq(t->script[i].integration, j->integration) &&
		    key_eq(t->script[i].sku, j->sku))
			return &t->script[i];
	return NULL;
}

static int armed_fails(fx_transport *t)
{
	return fx_trips(&t->armed_calls, t->fail_at, t->persistent, &t->failures);
}

void fx_transport_ack(fx_transport *t, const char *integration, const char *sku, int64_t qty)
{
	fx_ack *a;
	size_t i;

	for (i = 0; i < t->nacks; i++)
		if (strcmp(t->acks[i].integration, integration) == 0 && strcmp(t->acks[i].sku, sku) == 0) {
			t->acks[i].qty = qty;
			return;
		}
	t->acks = fx_grow(t->acks, &t->acks_cap, t->nacks, sizeof *t->acks, 64);
	a = &t->acks[t->nacks++];
	a->integration = fx_strdup(integration);
	a->sku = fx_strdup(sku);
	a->qty = qty;
}

const fx_ack *fx_transport_find_ack(const fx_transport *t, const char *integration, const char *sku)
{
	size_t i;

	for (i = 0; i < t->nacks; i++)
		if (strcmp(t->acks[i].integration, integration) == 0 && strcmp(t->acks[i].sku, sku) == 0)
			return &t->acks[i];
	return NULL;
}

static void record(fx_transport *t, const stg_job *j, size_t batch_n, int batched, int tag)
{
	fx_sent *s;

	t->sent = fx_grow(t->sent, &t->sent_cap, t->nsent, sizeof *t->sent, 64);
	s = &t->sent[t->nsent++];
	memset(s, 0, sizeof *s);
	s->id = j->id;
	s->integration = fx_strdup(j->integration);
	s->sku = fx_strdup(j->sku);
	s->published = j->published;
	s->available = j->available;
	s->changed_at = j->changed_at;
	s->attempt = j->attempt;
	s->priority = j->priority;
	s->flags = j->flags;
	s->at = t->clock ? t->clock->now : 0;
	s->call = t->calls;
	s->batch_n = batch_n;
	s->batched = batched;
	s->answer = tag;
}

static void fill(const fx_answer *a, stg_job_result *r)
{
	r->outcome = a->outcome;
	r->error_class = a->error_class;
	r->http_status = a->http;
	r->retry_after_ms = a->retry_after;
	r->message = a->message;
}

/* The answer to one job into r and *tag; non-zero: the call fails with it. */
static int answer(fx_transport *t, const stg_job *j, stg_job_result *r, int *tag, int consume)
{
	fx_answer *a = queued_for(t, j);

	*tag = 0;
	if (a) {
		if (consume)
			a->used = 1;
		if (a->transport_rc)
			return a->transport_rc;
		fill(a, r);
		return 0;
	}
	if (t->choose) {
		int rc;
		stg_job_result_init(r, STG_JOB_RESULT_VERSION);
		rc = t->choose(j, r, tag, t->choose_ctx);
		return rc;
	}
	fill(&t->dflt, r);
	return 0;
}

static int fx_send(const stg_job *job, stg_job_result *result, void *payload)
{
	fx_transport *t = payload;
	int rc, tag;

	FX_CHECK(result->version == (unsigned)STG_JOB_RESULT_VERSION, "result not pre-filled");
	FX_CHECK(result->outcome == STG_OUTCOME_OK, "result not pre-filled");
	if (t->in_hook)
		t->in_hook(FX_IN_SEND, t->in_hook_ctx);
	if (armed_fails(t)) {
		t->calls++;
		return t->fail_rc;
	}
	if ((rc = answer(t, job, result, &tag, 1)) != 0) {
		t->calls++;
		return rc;
	}
	record(t, job, 1, 0, tag);
	t->calls++;
	if (result->outcome == STG_OUTCOME_OK)
		fx_transport_ack(t, job->integration, job->sku, job->published);
	return 0;
}

static int fx_send_batch(const stg_job *jobs, size_t n, stg_job_result *results, void *payload)
{
	fx_transport *t = payload;
	size_t i, first = t->nsent;
	int rc, tag;

	FX_CHECK(n > 0, "an empty batch");
	if (t->in_hook)
		t->in_hook(FX_IN_BATCH, t->in_hook_ctx);
	if (armed_fails(t)) {
		t->calls++;
		return t->fail_rc;
	}
	for (i = 0; i < n; i++) {
		fx_answer *a = queued_for(t, &jobs[i]);
		FX_CHECK(strcmp(jobs[i].integration, jobs[0].integration) == 0, "a batch mixes integrations");
		if (a && i > 0) { /* past the first job a queued failure reads as its result */
			a->used = 1;
			fill(a, &results[i]);
			tag = 0;
		} else if ((rc = answer(t, &jobs[i], &results[i], &tag, 1)) != 0) {
			/* the call fails as a whole: forget the jobs of it recorded so far */
			while (t->nsent > first) {
				t->nsent--;
				free(t->sent[t->nsent].integration);
				free(t->sent[t->nsent].sku);
			}
			t->calls++;
			return rc;
		}
		record(t, &jobs[i], n, 1, tag);
	}
	for (i = 0; i < n; i++)
		if (results[i].outcome == STG_OUTCOME_OK)
			fx_transport_ack(t, jobs[i].integration, jobs[i].sku, jobs[i].published);
	t->calls++;
	return 0;
}

stg_transport fx_transport_hook(fx_transport *t, int with_batch)
{
	stg_transport h;

	FX_CHECK(stg_transport_init(&h, STG_TRANSPORT_VERSION) == STG_OK, "stg_transport_init");

	h.send = fx_send;
	h.send_batch = with_batch ? fx_send_batch : NULL;
	h.payload = t;
	return h;
}

size_t fx_transport_count(const fx_transport *t, const char *integration, const char *sku)
{
	size_t i, n = 0;

	for (i = 0; i < t->nsent; i++)
		n += key_eq(integration, t->sent[i].integration) && key_eq(sku, t->sent[i].sku);
	return n;
}

const fx_sent *fx_transport_last(const fx_transport *t, const char *integration, const char *sku)
{
	size_t i;

	for (i = t->nsent; i-- > 0;)
		if (key_eq(integration, t->sent[i].integration) && key_eq(sku, t->sent[i].sku))
			return &t->sent[i];
	return NULL;
}
