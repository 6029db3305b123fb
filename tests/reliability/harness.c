/* Shared pieces of the reliability tests, over tests/common/fixture.h; see harness.h. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken expectation inside a fixture hook fails the test with its message. */
static void fail_test(const char *message)
{
	cr_assert_fail("%s", message);
}

void rh_store_init(fx_storage *s)
{
	fx_set_failure_handler(fail_test);
	fx_storage_init(s);
	s->load_check_decode = 1;
	s->size_query = 1;
}

/* ------------------------------------------------------------- transport */

static int choose(const stg_job *job, stg_job_result *r, int *tag, void *ctx)
{
	rh_transport *t = ctx;
	int answer = rh_answer_of(t, job->sku);

	if (answer == RH_BROKEN)
		return -8;
	rh_result_for(answer, r);
	*tag = answer;
	return 0;
}

void rh_transport_init(rh_transport *t, int fixed)
{
	memset(t, 0, sizeof *t);
	fx_set_failure_handler(fail_test);
	fx_transport_init(&t->fx);
	t->fx.choose = choose;
	t->fx.choose_ctx = t;
	t->fixed = fixed;
}

void rh_answer(rh_transport *t, int a)
{
	t->use_by_sku = 0;
	t->fixed = a;
}

void rh_mixed(rh_transport *t)
{
	t->use_by_sku = 1;
}

int rh_answer_of(const rh_transport *t, const char *sku)
{
	size_t n = strlen(sku);
	long num = 0, mul = 1;

	if (!t->use_by_sku)
		return t->fixed;
	/* the number at the end of the SKU */
	while (n > 0 && sku[n - 1] >= '0' && sku[n - 1] <= '9') {
		num += (sku[n - 1] - '0') * mul;
		mul *= 10;
		n--;
	}
	return t->by_sku[num % 7];
}

void rh_result_for(int answer, stg_job_result *r)
{
	stg_job_result_init(r, STG_JOB_RESULT_VERSION);
	switch (answer) {
	case RH_OK:
		r->outcome = STG_OUTCOME_OK;
		r->http_status = 200;
		break;
	case RH_REJECT:
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 400;
		r->message = "price below the floor";
		break;
	case RH_NOTCAT:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_NOT_CATALOGUED;
		r->http_status = 404;
		r->message = "product not catalogued yet";
		break;
	case RH_TRANSIENT:
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 500;
		r->message = "internal server error";
		break;
	case RH_AUTH:
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 401;
		r->message = "ShopKey expired";
		break;
	case RH_RATE:
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 429;
		r->retry_after_ms = 2000;
		r->message = "slow down";
		break;
	case RH_ASYNC:
		r->outcome = STG_OUTCOME_ASYNC;
		break;
	case RH_CONFLICT:
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 409;
		r->message = "x-version is stale";
		break;
	case RH_NOTCAT_TEXT:
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 400;
		r->message = "Produto ainda n\xc3\xa3o foi catalogado no Carrefour.";
		break;
	default:
		cr_assert_fail("no result for answer %d", answer);
	}
}

/* ----------------------------------------------------------------- host */

const int rh_mixed_answers[7] = { RH_OK, RH_REJECT, RH_NOTCAT, RH_TRANSIENT, RH_OK, RH_RATE, RH_ASYNC };

void rh_host_init(rh_host *h)
{
	memset(h, 0, sizeof *h);
	fx_alloc_init(&h->alloc);
	rh_store_init(&h->store);
	fx_clock_init(&h->clock, INT64_C(1700000000000));
	rh_transport_init(&h->tr, RH_OK);
	memcpy(h->tr.by_sku, rh_mixed_answers, sizeof rh_mixed_answers);
	h->sh = fx_storage_hook(&h->store);
	h->ch = fx_clock_hook(&h->clock);
	h->th = fx_transport_hook(&h->tr.fx, 1);
	cr_assert_eq(stg_log_options_init(&h->opt, STG_LOG_OPTIONS_VERSION), STG_OK);
	h->opt.allocator = &h->alloc.hook;
	h->opt.storage = &h->sh;
	h->opt.clock = &h->ch;
	h->opt.transport = &h->th;
	h->opt.success_max_count = 3;
}

void rh_host_free(rh_host *h)
{
	fx_storage_free(&h->store);
	fx_transport_free(&h->tr.fx);
}

/* ------------------------------------------------------------- snapshots */

#define DIFF_I(field)                                                                          \
	do {                                                                                   \
		if (a->field != b->field) {                                                    \
			snprintf(why, cap, "(%s, %s) " #field ": %" PRId64 " vs %" PRId64,     \
			         a->integration, a->sku, (int64_t)a->field, (int64_t)b->field);\
			return 1;                                                              \
		}                                                                              \
	} while (0)

int rh_entry_diff(const stg_entry *a, const stg_entry *b, int mode, char *why, size_t cap)
{
	const char *ma = a->message ? a->message : "", *mb = b->message ? b->message : "";
	int in_flight = a->job_state == STG_JOB_IN_FLIGHT;
	int base = mode & 3;

	if (strcmp(a->integration, b->integration) || strcmp(a->sku, b->sku)) {
		snprintf(why, cap, "keys (%s, %s) vs (%s, %s)", a->integration, a->sku, b->integration,
		         b->sku);
		return 1;
	}
	if (strcmp(ma, mb)) {
		snprintf(why, cap, "(%s, %s) message '%s' vs '%s'", a->integration, a->sku, ma, mb);
		return 1;
	}
	DIFF_I(version);
	DIFF_I(status);
	DIFF_I(available);
	DIFF_I(published);
	DIFF_I(acked);
	DIFF_I(sequence);
	DIFF_I(changed_at);
	DIFF_I(job_since);
	DIFF_I(first_failed_at);
	if (!(in_flight && base != RH_CMP_EXACT))
		DIFF_I(last_attempt_at);
	DIFF_I(acked_at);
	DIFF_I(next_attempt_at);
	DIFF_I(latency_ms);
	if (!(mode & RH_CMP_NO_JOB_ID) && base != RH_CMP_RELOADED)
		DIFF_I(job_id);
	DIFF_I(attempts);
	if (in_flight && base != RH_CMP_EXACT) {
		int ok = b->job_state == STG_JOB_QUEUED || b->job_state == STG_JOB_HELD ||
		         (base == RH_CMP_MEM_STORE && b->job_state == STG_JOB_IN_FLIGHT);
		if (!ok) {
			snprintf(why, cap, "(%s, %s) in flight in memory but job_state %d on the other side",
			         a->integration, a->sku, b->job_state);
			return 1;
		}
	} else {
		DIFF_I(job_state);
	}
	DIFF_I(error_class);
	DIFF_I(http_status);
	DIFF_I(priority);
	DIFF_I(reason);
	if ((a->flags & ~STG_ENTRY_LATE) != (b->flags & ~STG_ENTRY_LATE)) {
		snprintf(why, cap, "(%s, %s) flags 0x%x vs 0x%x", a->integration, a->sku, a->flags,
		         b->flags);
		return 1;
	}
	return 0;
}

int rh_snap_diff_except(const fx_snap *a, const fx_snap *b, int mode,
                        const char *const *skip_integ, const char *const *skip_sku, size_t nskip,
                        char *why, size_t cap)
{
	size_t i, k;

	for (i = 0; i < a->n; i++) {
		const stg_entry *o;
		int skip = 0;
		for (k = 0; k < nskip; k++)
			skip |= !strcmp(a->v[i].integration, skip_integ[k]) && !strcmp(a->v[i].sku, skip_sku[k]);
		if (skip)
			continue;
		o = fx_snap_find(b, a->v[i].integration, a->v[i].sku);
		if (!o) {
			snprintf(why, cap, "(%s, %s) missing on the second side", a->v[i].integration,
			         a->v[i].sku);
			return 1;
		}
		if (rh_entry_diff(&a->v[i], o, mode, why, cap))
			return 1;
	}
	for (i = 0; i < b->n; i++) {
		int skip = 0;
		for (k = 0; k < nskip; k++)
			skip |= !strcmp(b->v[i].integration, skip_integ[k]) && !strcmp(b->v[i].sku, skip_sku[k]);
		if (!skip && !fx_snap_find(a, b->v[i].integration, b->v[i].sku)) {
			snprintf(why, cap, "(%s, %s) only on the second side", b->v[i].integration,
			         b->v[i].sku);
			return 1;
		}
	}
	return 0;
}

int rh_snap_diff(const fx_snap *a, const fx_snap *b, int mode, char *why, size_t cap)
{
	return rh_snap_diff_except(a, b, mode, NULL, NULL, 0, why, cap);
}

/* --------------------------------------------------------------- helpers */

long rh_bad;

void rh_submit(stg_log *log, int64_t *seq, const char *integration, const char *sku, int64_t available)
{
	stg_submit s = rh_change(integration, sku, available, (*seq)++);

	cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK, "prefix submit: %s", stg_log_errmsg(log));
}

stg_submit rh_change(const char *integration, const char *sku, int64_t available, int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = integration;
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	return s;
}

#define SENTINEL_SKU "rh-sentinel-no-such-sku"

void rh_prime_errmsg(stg_log *log)
{
	stg_entry e;

	cr_assert_eq(stg_log_get(log, "rh-sentinel", SENTINEL_SKU, &e), STG_ENOTFOUND);
	cr_assert(strstr(stg_log_errmsg(log), SENTINEL_SKU) != NULL);
}

int rh_errmsg_fresh(stg_log *log, const char *keyword)
{
	const char *m = stg_log_errmsg(log);

	return m[0] != '\0' && strstr(m, SENTINEL_SKU) == NULL && (!keyword || strstr(m, keyword));
}

void rh_prime_last_error(void)
{
	cr_assert_eq(stg_log_open(NULL, NULL), STG_EINVAL);
}

int rh_last_error_fresh(const char *keyword)
{
	const char *m = stg_last_error();

	return m[0] != '\0' && strcmp(m, "stg_log_open: NULL out") != 0 && (!keyword || strstr(m, keyword));
}
