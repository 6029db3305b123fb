/* Shared pieces of the reliability tests; see harness.h. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <criterion/criterion.h>

#include <execinfo.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ allocator */

typedef union {
	size_t size;
	max_align_t align;
} rh_header;

static uint64_t stack_hash(void)
{
	void *frames[16];
	int n = backtrace(frames, 16), i;
	uint64_t h = 1469598103934665603ull;

	/* Frame 0 is this function, 1 the allocator: the rest is the path. */
	for (i = 2; i < n; i++) {
		h ^= (uint64_t)(uintptr_t)frames[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int should_fail(rh_alloc *a)
{
	a->attempts++;
	if (a->fail_at && (a->attempts == a->fail_at || (a->persistent && a->attempts > a->fail_at))) {
		a->failures++;
		if (a->record_sites && a->attempts == a->fail_at)
			a->last_site = stack_hash();
		return 1;
	}
	return 0;
}

static void *t_malloc(size_t size, void *payload)
{
	rh_alloc *a = payload;
	rh_header *h;

	if (should_fail(a))
		return NULL;
	h = malloc(sizeof *h + size);
	cr_assert_not_null(h);
	h->size = size;
	a->live_blocks++;
	a->live_bytes += (long long)size;
	return h + 1;
}

static void t_free(void *ptr, void *payload)
{
	rh_alloc *a = payload;
	rh_header *h;

	if (!ptr)
		return;
	h = (rh_header *)ptr - 1;
	a->live_blocks--;
	a->live_bytes -= (long long)h->size;
	memset(ptr, 0xdd, h->size); /* a use after free shows up as garbage */
	free(h);
}

static void *t_realloc(void *ptr, size_t size, void *payload)
{
	rh_alloc *a = payload;
	rh_header *h, *n;
	size_t old;

	if (!ptr)
		return t_malloc(size, payload);
	if (should_fail(a))
		return NULL;
	h = (rh_header *)ptr - 1;
	old = h->size;
	/* Always move, so stale pointers into the old block are caught. */
	n = malloc(sizeof *n + size);
	cr_assert_not_null(n);
	n->size = size;
	memcpy(n + 1, ptr, old < size ? old : size);
	memset(ptr, 0xdd, old);
	free(h);
	a->live_bytes += (long long)size - (long long)old;
	return n + 1;
}

void rh_alloc_init(rh_alloc *a)
{
	void *warm[2];

	memset(a, 0, sizeof *a);
	a->hook.version = STG_ALLOCATOR_VERSION;
	a->hook.malloc_fn = t_malloc;
	a->hook.realloc_fn = t_realloc;
	a->hook.free_fn = t_free;
	a->hook.payload = a;
	backtrace(warm, 2); /* its first call loads libgcc; do it outside any count */
}

void rh_alloc_arm(rh_alloc *a, long fail_at, int persistent)
{
	a->attempts = 0;
	a->failures = 0;
	a->fail_at = fail_at;
	a->persistent = persistent;
	a->last_site = 0;
}

void rh_alloc_disarm(rh_alloc *a)
{
	a->fail_at = 0;
	a->persistent = 0;
}

int rh_site_add(uint64_t *sites, size_t *n, uint64_t site)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (sites[i] == site)
			return 0;
	if (*n < RH_SITE_MAX)
		sites[(*n)++] = site;
	return 1;
}

/* -------------------------------------------------------------- storage */

static char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	cr_assert_not_null(d);
	return d;
}

void rh_store_init(rh_store *s)
{
	memset(s, 0, sizeof *s);
}

void rh_store_free(rh_store *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->recs[i].integration);
		free(s->recs[i].sku);
		free(s->recs[i].bytes);
	}
	free(s->recs);
	memset(s, 0, sizeof *s);
}

void rh_store_copy(rh_store *dst, const rh_store *src)
{
	size_t i;

	rh_store_init(dst);
	dst->cap = src->n ? src->n : 1;
	dst->recs = calloc(dst->cap, sizeof *dst->recs);
	cr_assert_not_null(dst->recs);
	for (i = 0; i < src->n; i++) {
		dst->recs[i].integration = xstrdup(src->recs[i].integration);
		dst->recs[i].sku = xstrdup(src->recs[i].sku);
		dst->recs[i].bytes = malloc(src->recs[i].len);
		cr_assert_not_null(dst->recs[i].bytes);
		memcpy(dst->recs[i].bytes, src->recs[i].bytes, src->recs[i].len);
		dst->recs[i].len = src->recs[i].len;
	}
	dst->n = src->n;
}

void rh_store_arm(rh_store *s, long fail_at, int persistent)
{
	s->calls = 0;
	s->failures = 0;
	s->fail_at = fail_at;
	s->persistent = persistent;
}

void rh_store_disarm(rh_store *s)
{
	s->fail_at = 0;
	s->persistent = 0;
}

static int store_should_fail(rh_store *s)
{
	s->calls++;
	if (s->fail_at && (s->calls == s->fail_at || (s->persistent && s->calls > s->fail_at))) {
		s->failures++;
		return 1;
	}
	return 0;
}

static long store_find(const rh_store *s, const char *integration, const char *sku)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->recs[i].integration, integration) == 0 && strcmp(s->recs[i].sku, sku) == 0)
			return (long)i;
	return -1;
}

static int st_write(const stg_entry *e, void *payload)
{
	rh_store *s = payload;
	unsigned char *buf;
	size_t len = 0;
	long at;

	cr_assert_not_null(e);
	if (store_should_fail(s))
		return -5;
	s->writes++;
	cr_assert_eq(stg_entry_encode(e, NULL, 0, &len), STG_EOVERFLOW);
	buf = malloc(len);
	cr_assert_not_null(buf);
	cr_assert_eq(stg_entry_encode(e, buf, len, &len), STG_OK, "the log wrote an entry that does not encode");
	at = store_find(s, e->integration, e->sku);
	if (at >= 0) {
		free(s->recs[at].bytes);
		s->recs[at].bytes = buf;
		s->recs[at].len = len;
		return 0;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		rh_rec *n = realloc(s->recs, ncap * sizeof *n);
		cr_assert_not_null(n);
		s->recs = n;
		s->cap = ncap;
	}
	s->recs[s->n].integration = xstrdup(e->integration);
	s->recs[s->n].sku = xstrdup(e->sku);
	s->recs[s->n].bytes = buf;
	s->recs[s->n].len = len;
	s->n++;
	return 0;
}

static int st_remove(const char *integration, const char *sku, void *payload)
{
	rh_store *s = payload;
	long at;

	if (store_should_fail(s))
		return -6;
	s->removes++;
	at = store_find(s, integration, sku);
	if (at < 0)
		return 0;
	free(s->recs[at].integration);
	free(s->recs[at].sku);
	free(s->recs[at].bytes);
	memmove(&s->recs[at], &s->recs[at + 1], (s->n - (size_t)at - 1) * sizeof *s->recs);
	s->n--;
	return 0;
}

static int st_load(stg_entry_sink sink, void *ctx, void *payload)
{
	rh_store *s = payload;
	size_t i;

	if (s->fail_load)
		return s->fail_load;
	for (i = 0; i < s->n; i++) {
		stg_entry e;
		int rc;
		cr_assert_eq(stg_entry_decode(s->recs[i].bytes, s->recs[i].len, &e), STG_OK);
		if ((rc = sink(ctx, &e)) != 0)
			return rc;
	}
	return 0;
}

stg_storage rh_store_hook(rh_store *s)
{
	stg_storage h = STG_STORAGE_INIT;

	h.load = st_load;
	h.write = st_write;
	h.remove = st_remove;
	h.payload = s;
	return h;
}

/* ---------------------------------------------------------------- clock */

static int64_t ck_now(void *payload)
{
	return ((rh_clock *)payload)->now;
}

stg_clock rh_clock_hook(rh_clock *c)
{
	stg_clock h = STG_CLOCK_INIT;

	h.now_ms = ck_now;
	h.payload = c;
	return h;
}

/* ------------------------------------------------------------- transport */

void rh_transport_init(rh_transport *t, int fixed)
{
	memset(t, 0, sizeof *t);
	t->fixed = fixed;
}

void rh_transport_arm(rh_transport *t, long fail_at, int persistent)
{
	t->calls = 0;
	t->failures = 0;
	t->fail_at = fail_at;
	t->persistent = persistent;
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
	default:
		cr_assert_fail("no result for answer %d", answer);
	}
}

void rh_transport_ack(rh_transport *t, const char *integration, const char *sku, int64_t qty)
{
	size_t i;

	for (i = 0; i < t->nacks; i++)
		if (strcmp(t->acks[i].integration, integration) == 0 && strcmp(t->acks[i].sku, sku) == 0) {
			t->acks[i].qty = qty;
			return;
		}
	cr_assert_lt(t->nacks, (size_t)RH_MAX_ACKS);
	snprintf(t->acks[t->nacks].integration, sizeof t->acks[0].integration, "%s", integration);
	snprintf(t->acks[t->nacks].sku, sizeof t->acks[0].sku, "%s", sku);
	t->acks[t->nacks].qty = qty;
	t->nacks++;
}

const rh_ack *rh_transport_find_ack(const rh_transport *t, const char *integration, const char *sku)
{
	size_t i;

	for (i = 0; i < t->nacks; i++)
		if (strcmp(t->acks[i].integration, integration) == 0 && strcmp(t->acks[i].sku, sku) == 0)
			return &t->acks[i];
	return NULL;
}

static int call_fails(rh_transport *t)
{
	t->calls++;
	if (t->fail_at && (t->calls == t->fail_at || (t->persistent && t->calls > t->fail_at))) {
		t->failures++;
		return 1;
	}
	return 0;
}

static void answer_one(rh_transport *t, const stg_job *job, stg_job_result *r)
{
	int answer = rh_answer_of(t, job->sku);
	rh_sent *s;

	cr_assert_lt(t->nsent, (size_t)RH_MAX_SENT);
	s = &t->sent[t->nsent++];
	s->id = job->id;
	snprintf(s->integration, sizeof s->integration, "%s", job->integration);
	snprintf(s->sku, sizeof s->sku, "%s", job->sku);
	s->published = job->published;
	s->answer = answer;
	rh_result_for(answer, r);
	if (answer == RH_OK)
		rh_transport_ack(t, job->integration, job->sku, job->published);
}

static int tr_send(const stg_job *job, stg_job_result *r, void *payload)
{
	rh_transport *t = payload;

	if (call_fails(t))
		return -7;
	if (rh_answer_of(t, job->sku) == RH_BROKEN)
		return -8;
	answer_one(t, job, r);
	return 0;
}

static int tr_send_batch(const stg_job *jobs, size_t n, stg_job_result *rs, void *payload)
{
	rh_transport *t = payload;
	size_t i;

	if (call_fails(t))
		return -7;
	for (i = 0; i < n; i++)
		if (rh_answer_of(t, jobs[i].sku) == RH_BROKEN)
			return -8;
	for (i = 0; i < n; i++)
		answer_one(t, &jobs[i], &rs[i]);
	return 0;
}

stg_transport rh_transport_hook(rh_transport *t, int with_batch)
{
	stg_transport h = STG_TRANSPORT_INIT;

	h.send = tr_send;
	h.send_batch = with_batch ? tr_send_batch : NULL;
	h.payload = t;
	return h;
}

/* ------------------------------------------------------------- snapshots */

static void own_strings(stg_entry *e)
{
	e->integration = xstrdup(e->integration);
	e->sku = xstrdup(e->sku);
	e->message = xstrdup(e->message);
}

static void snap_push(rh_snap *s, size_t *cap, const stg_entry *e)
{
	if (s->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		stg_entry *n = realloc(s->v, ncap * sizeof *n);
		cr_assert_not_null(n);
		s->v = n;
		*cap = ncap;
	}
	s->v[s->n] = *e;
	own_strings(&s->v[s->n]);
	s->n++;
}

void rh_snap_log(stg_log *log, rh_snap *out)
{
	stg_entry page[7];
	uint64_t cursor = 0;
	size_t count, cap = 0, i;

	memset(out, 0, sizeof *out);
	for (;;) {
		cr_assert_eq(stg_log_query(log, NULL, &cursor, page, 7, &count), STG_OK, "query: %s",
		             stg_log_errmsg(log));
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			cr_assert_null(rh_snap_find(out, page[i].integration, page[i].sku),
			               "(%s, %s) appears twice in a query", page[i].integration, page[i].sku);
			snap_push(out, &cap, &page[i]);
		}
	}
}

void rh_snap_store(const rh_store *s, rh_snap *out)
{
	size_t i, cap = 0;

	memset(out, 0, sizeof *out);
	for (i = 0; i < s->n; i++) {
		stg_entry e;
		cr_assert_eq(stg_entry_decode(s->recs[i].bytes, s->recs[i].len, &e), STG_OK);
		snap_push(out, &cap, &e);
	}
}

void rh_snap_free(rh_snap *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free((char *)s->v[i].integration);
		free((char *)s->v[i].sku);
		free((char *)s->v[i].message);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

const stg_entry *rh_snap_find(const rh_snap *s, const char *integration, const char *sku)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].integration, integration) == 0 && strcmp(s->v[i].sku, sku) == 0)
			return &s->v[i];
	return NULL;
}

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

int rh_snap_diff_except(const rh_snap *a, const rh_snap *b, int mode,
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
		o = rh_snap_find(b, a->v[i].integration, a->v[i].sku);
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
		if (!skip && !rh_snap_find(a, b->v[i].integration, b->v[i].sku)) {
			snprintf(why, cap, "(%s, %s) only on the second side", b->v[i].integration,
			         b->v[i].sku);
			return 1;
		}
	}
	return 0;
}

int rh_snap_diff(const rh_snap *a, const rh_snap *b, int mode, char *why, size_t cap)
{
	return rh_snap_diff_except(a, b, mode, NULL, NULL, 0, why, cap);
}

/* --------------------------------------------------------------- helpers */

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
