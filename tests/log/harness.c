/* The log test harness; see harness.h. */
#include "harness.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

harness H;

static void copy_name(char *dst, const char *src)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	snprintf(dst, H_NAME, "%s", src);
}

/* ------------------------------------------------------------------ clock */

static int64_t fake_now(void *payload)
{
	harness *h = payload;

	h->clock_calls++;
	if (h->in_hook)
		h->in_hook(H_IN_CLOCK);
	return h->now;
}

void h_advance(int64_t ms)
{
	H.now += ms;
}

/* -------------------------------------------------------------- transport */

static const h_script *next_answer(void)
{
	if (H.script_pos < H.script_len)
		return &H.script[H.script_pos++];
	return &H.dflt;
}

static void record(const stg_job *j, size_t batch_n, int batched)
{
	h_sent *s;

	if (H.nsent == H.sent_cap) {
		size_t ncap = H.sent_cap ? H.sent_cap * 2 : 64;
		h_sent *n = realloc(H.sent, ncap * sizeof *n);
		cr_assert_not_null(n);
		H.sent = n;
		H.sent_cap = ncap;
	}
	s = &H.sent[H.nsent++];
	memset(s, 0, sizeof *s);
	s->id = j->id;
	copy_name(s->integration, j->integration);
	copy_name(s->sku, j->sku);
	s->published = j->published;
	s->available = j->available;
	s->changed_at = j->changed_at;
	s->attempt = j->attempt;
	s->priority = j->priority;
	s->flags = j->flags;
	s->at = H.now;
	s->call = H.calls;
	s->batch_n = batch_n;
	s->batched = batched;
}

static void fill(const h_script *a, stg_job_result *r)
{
	r->outcome = a->outcome;
	r->error_class = a->error_class;
	r->http_status = a->http;
	r->retry_after_ms = a->retry_after;
	r->message = a->message;
}

static int fake_send(const stg_job *job, stg_job_result *result, void *payload)
{
	const h_script *a;

	(void)payload;
	cr_assert_eq(result->version, (unsigned)STG_JOB_RESULT_VERSION, "result not pre-filled");
	cr_assert_eq(result->outcome, STG_OUTCOME_OK, "result not pre-filled");
	if (H.in_hook)
		H.in_hook(H_IN_SEND);
	/* A failing transport consumes its answer but records nothing. */
	if (H.script_pos < H.script_len && H.script[H.script_pos].transport_rc) {
		int rc = H.script[H.script_pos].transport_rc;
		H.script_pos++;
		H.calls++;
		return rc;
	}
	record(job, 1, 0);
	H.calls++;
	a = next_answer();
	fill(a, result);
	return 0;
}

static int fake_send_batch(const stg_job *jobs, size_t n, stg_job_result *results, void *payload)
{
	size_t i;

	(void)payload;
	cr_assert_gt(n, 0u);
	if (H.in_hook)
		H.in_hook(H_IN_BATCH);
	if (H.script_pos < H.script_len && H.script[H.script_pos].transport_rc) {
		int rc = H.script[H.script_pos].transport_rc;
		H.script_pos++;
		H.calls++;
		return rc;
	}
	for (i = 0; i < n; i++) {
		cr_assert_str_eq(jobs[i].integration, jobs[0].integration,
		                 "a batch mixes integrations");
		record(&jobs[i], n, 1);
		fill(next_answer(), &results[i]);
	}
	H.calls++;
	return 0;
}

void h_push(int outcome, int error_class, int http, int64_t retry_after, const char *message)
{
	h_script *s;

	cr_assert_lt(H.script_len, (size_t)H_MAX_SCRIPT);
	s = &H.script[H.script_len++];
	memset(s, 0, sizeof *s);
	s->outcome = outcome;
	s->error_class = error_class;
	s->http = http;
	s->retry_after = retry_after;
	s->message = message;
}

void h_push_ok(void) { h_push(STG_OUTCOME_OK, STG_ERRCLASS_NONE, 200, 0, NULL); }
void h_push_async(void) { h_push(STG_OUTCOME_ASYNC, STG_ERRCLASS_NONE, 0, 0, NULL); }
void h_push_http(int http) { h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, http, 0, "http error"); }
void h_push_class(int error_class, int http)
{
	h_push(STG_OUTCOME_ERROR, error_class, http, 0, "class error");
}

void h_push_transport_failure(int rc)
{
	h_push(STG_OUTCOME_OK, 0, 0, 0, NULL);
	H.script[H.script_len - 1].transport_rc = rc;
}

/* ----------------------------------------------------------------- events */

static void on_event(const stg_event *ev, void *payload)
{
	h_event *r;

	(void)payload;
	cr_assert_lt(H.nevents, (size_t)H_MAX_EVENTS);
	r = &H.events[H.nevents++];
	memset(r, 0, sizeof *r);
	r->type = ev->type;
	r->http = ev->http_status;
	copy_name(r->integration, ev->integration);
	r->has_sku = ev->sku != NULL;
	copy_name(r->sku, ev->sku);
	r->has_message = ev->message != NULL;
	if (ev->message)
		snprintf(r->message, sizeof r->message, "%s", ev->message);
	r->available = ev->available;
	r->min_stock = ev->min_stock;
	r->latency_ms = ev->latency_ms;
	r->time = ev->time;
	if (H.in_hook)
		H.in_hook(H_IN_EVENT);
}

size_t h_event_count(int type)
{
	size_t i, n = 0;

	for (i = 0; i < H.nevents; i++)
		n += H.events[i].type == type;
	return n;
}

const h_event *h_last_event(int type)
{
	size_t i;

	for (i = H.nevents; i-- > 0;)
		if (H.events[i].type == type)
			return &H.events[i];
	return NULL;
}

/* ---------------------------------------------------------------- storage */

h_record *h_record_find(const char *integ, const char *sku)
{
	size_t i;

	for (i = 0; i < H_MAX_RECORDS; i++)
		if (H.records[i].live && strcmp(H.records[i].integration, integ) == 0 &&
		    strcmp(H.records[i].sku, sku) == 0)
			return &H.records[i];
	return NULL;
}

size_t h_records_live(void)
{
	size_t i, n = 0;

	for (i = 0; i < H_MAX_RECORDS; i++)
		n += H.records[i].live != 0;
	return n;
}

static int store_write(const stg_entry *e, void *payload)
{
	h_record *r;
	size_t len = 0, i;
	unsigned char *buf;
	int rc;

	(void)payload;
	if (H.in_hook)
		H.in_hook(H_IN_WRITE);
	if (H.write_fail)
		return H.write_fail;
	H.writes++;
	cr_assert_lt(strlen(e->integration), (size_t)H_NAME);
	cr_assert_lt(strlen(e->sku), (size_t)H_NAME);
	rc = stg_entry_encode(e, NULL, 0, &len);
	cr_assert_eq(rc, STG_EOVERFLOW, "size query: %s", stg_strerror(rc));
	buf = malloc(len);
	cr_assert_not_null(buf);
	rc = stg_entry_encode(e, buf, len, &len);
	cr_assert_eq(rc, STG_OK, "the log wrote an entry encode refuses: %s", stg_last_error());
	r = h_record_find(e->integration, e->sku);
	if (!r) {
		for (i = 0; i < H_MAX_RECORDS && H.records[i].live; i++)
			;
		cr_assert_lt(i, (size_t)H_MAX_RECORDS);
		r = &H.records[i];
		r->live = 1;
		copy_name(r->integration, e->integration);
		copy_name(r->sku, e->sku);
	}
	free(r->buf);
	r->buf = buf;
	r->len = len;
	return 0;
}

static int store_remove(const char *integ, const char *sku, void *payload)
{
	h_record *r;

	(void)payload;
	if (H.in_hook)
		H.in_hook(H_IN_REMOVE);
	if (H.remove_fail)
		return H.remove_fail;
	H.removes++;
	r = h_record_find(integ, sku);
	if (r) {
		free(r->buf);
		memset(r, 0, sizeof *r);
	}
	return 0;
}

static int store_load(stg_entry_sink sink, void *ctx, void *payload)
{
	size_t i;
	int first = 1;

	(void)payload;
	H.loads++;
	if (H.load_fail)
		return H.load_fail;
	for (i = 0; i < H_MAX_RECORDS; i++) {
		stg_entry e;
		int rc;
		if (!H.records[i].live)
			continue;
		rc = stg_entry_decode(H.records[i].buf, H.records[i].len, &e);
		if (rc)
			return rc;
		if ((rc = sink(ctx, &e)) && !H.load_ignore_sink)
			return rc;
		if (first && H.load_duplicate && (rc = sink(ctx, &e)) && !H.load_ignore_sink)
			return rc;
		first = 0;
	}
	return 0;
}

void h_store_put(const stg_entry *e)
{
	void (*saved)(int) = H.in_hook;
	int fail = H.write_fail;

	H.in_hook = NULL;
	H.write_fail = 0;
	cr_assert_eq(store_write(e, NULL), 0);
	H.in_hook = saved;
	H.write_fail = fail;
}

stg_entry h_store_get(const char *integ, const char *sku)
{
	h_record *r = h_record_find(integ, sku);
	stg_entry e;
	int rc;

	cr_assert_not_null(r, "(%s, %s) is not stored", integ, sku);
	rc = stg_entry_decode(r->buf, r->len, &e);
	cr_assert_eq(rc, STG_OK, "stored (%s, %s) does not decode: %s", integ, sku, stg_strerror(rc));
	return e;
}

/* --------------------------------------------------------------- open/close */

void h_reset(void)
{
	size_t i;

	for (i = 0; i < H_MAX_RECORDS; i++)
		free(H.records[i].buf);
	free(H.sent);
	memset(&H, 0, sizeof H);
	cr_assert_eq(stg_log_options_init(&H.opts, STG_LOG_OPTIONS_VERSION), STG_OK);
	H.now = T0;
	H.with_transport = 1;
	H.dflt.outcome = STG_OUTCOME_OK;
	H.dflt.http = 200;
}

int h_open_rc(void)
{
	cr_assert_null(H.log, "h_open with a log open");
	cr_assert_eq(stg_clock_init(&H.clock_hook, STG_CLOCK_VERSION), STG_OK);
	H.clock_hook.now_ms = fake_now;
	H.clock_hook.payload = &H;
	cr_assert_eq(stg_events_init(&H.events_hook, STG_EVENTS_VERSION), STG_OK);
	H.events_hook.on_event = on_event;
	cr_assert_eq(stg_transport_init(&H.transport_hook, STG_TRANSPORT_VERSION), STG_OK);
	H.transport_hook.send = fake_send;
	H.transport_hook.send_batch = H.with_batch ? fake_send_batch : NULL;
	cr_assert_eq(stg_storage_init(&H.storage_hook, STG_STORAGE_VERSION), STG_OK);
	H.storage_hook.load = store_load;
	H.storage_hook.write = store_write;
	H.storage_hook.remove = store_remove;

	H.opts.clock = &H.clock_hook;
	H.opts.events = &H.events_hook;
	H.opts.transport = H.with_transport ? &H.transport_hook : NULL;
	H.opts.storage = H.with_storage ? &H.storage_hook : NULL;
	return stg_log_open(&H.log, &H.opts);
}

void h_open(void)
{
	int rc = h_open_rc();

	cr_assert_eq(rc, STG_OK, "stg_log_open: %s (%s)", stg_strerror(rc), stg_last_error());
	cr_assert_not_null(H.log);
}

void h_close(void)
{
	stg_log_close(H.log);
	H.log = NULL;
}

void h_reopen(void)
{
	h_close();
	h_open();
}

/* ----------------------------------------------------------------- calls */

int h_submit_rc(const char *integ, const char *sku, int64_t available, int64_t seq,
                unsigned flags, int64_t changed_at, const char *category, stg_submit_result *out)
{
	stg_submit s;

	cr_assert_eq(stg_submit_init(&s, STG_SUBMIT_VERSION), STG_OK);
	s.integration = integ;
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	s.flags = flags;
	s.changed_at = changed_at;
	s.category = category;
	return stg_log_submit(H.log, &s, out);
}

stg_submit_result h_submit(const char *integ, const char *sku, int64_t available, int64_t seq)
{
	stg_submit_result r;
	int rc;

	memset(&r, 0xa5, sizeof r);
	rc = h_submit_rc(integ, sku, available, seq, 0, 0, NULL, &r);
	cr_assert_eq(rc, STG_OK, "submit (%s, %s): %s (%s)", integ, sku, stg_strerror(rc),
	             stg_log_errmsg(H.log));
	return r;
}

size_t h_pump_n(size_t max)
{
	size_t sent = 12345;
	int rc = stg_log_pump(H.log, max, &sent);

	cr_assert_eq(rc, STG_OK, "pump: %s (%s)", stg_strerror(rc), stg_log_errmsg(H.log));
	return sent;
}

size_t h_pump(void)
{
	return h_pump_n(0);
}

stg_entry h_get(const char *integ, const char *sku)
{
	stg_entry e;
	int rc;

	memset(&e, 0xa5, sizeof e);
	rc = stg_log_get(H.log, integ, sku, &e);
	cr_assert_eq(rc, STG_OK, "get (%s, %s): %s", integ, sku, stg_strerror(rc));
	return e;
}

int h_exists(const char *integ, const char *sku)
{
	stg_entry e;
	int rc = stg_log_get(H.log, integ, sku, &e);

	cr_assert(rc == STG_OK || rc == STG_ENOTFOUND, "get: %s", stg_strerror(rc));
	return rc == STG_OK;
}

stg_stats h_stats(const char *integ)
{
	stg_stats s;
	int rc;

	memset(&s, 0xa5, sizeof s);
	rc = stg_log_stats(H.log, integ, &s);
	cr_assert_eq(rc, STG_OK, "stats: %s", stg_strerror(rc));
	return s;
}

stg_counts h_counts(const char *integ)
{
	stg_counts c;
	int rc;

	memset(&c, 0xa5, sizeof c);
	rc = stg_log_counts(H.log, integ, &c);
	cr_assert_eq(rc, STG_OK, "counts: %s", stg_strerror(rc));
	return c;
}

size_t h_sent_count(const char *integ, const char *sku)
{
	size_t i, n = 0;

	for (i = 0; i < H.nsent; i++)
		n += (!integ || strcmp(H.sent[i].integration, integ) == 0) &&
		     (!sku || strcmp(H.sent[i].sku, sku) == 0);
	return n;
}

const h_sent *h_last(void)
{
	cr_assert_gt(H.nsent, 0u, "nothing was sent");
	return &H.sent[H.nsent - 1];
}

const h_sent *h_last_for(const char *integ, const char *sku)
{
	size_t i;

	for (i = H.nsent; i-- > 0;)
		if (strcmp(H.sent[i].integration, integ) == 0 && strcmp(H.sent[i].sku, sku) == 0)
			return &H.sent[i];
	cr_assert_fail("(%s, %s) was never sent", integ, sku);
	return NULL;
}

/* --------------------------------------------------------------- snapshot */

h_snapshot h_snapshot_take(void)
{
	h_snapshot s;
	uint64_t cursor = 0;
	stg_entry page[7];
	size_t count, i, cap = 0, pool_len = 0, pool_cap = 0;

	memset(&s, 0, sizeof s);
	for (;;) {
		int rc = stg_log_query(H.log, NULL, &cursor, page, 7, &count);
		cr_assert_eq(rc, STG_OK);
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			if (s.n == cap) {
				cap = cap ? cap * 2 : 16;
				s.e = realloc(s.e, cap * sizeof *s.e);
				cr_assert_not_null(s.e);
			}
			s.e[s.n++] = page[i];
		}
		/* Copy the borrowed strings now: they die with the next change. */
		for (i = s.n - count; i < s.n; i++) {
			const char *strs[3] = { s.e[i].integration, s.e[i].sku, s.e[i].message };
			size_t k;
			for (k = 0; k < 3; k++) {
				size_t n;
				if (!strs[k])
					continue;
				n = strlen(strs[k]) + 1;
				if (pool_len + n > pool_cap) {
					/* Offsets, not pointers, until the pool stops moving. */
					pool_cap = (pool_len + n) * 2 + 256;
					s.pool = realloc(s.pool, pool_cap);
					cr_assert_not_null(s.pool);
				}
				memcpy(s.pool + pool_len, strs[k], n);
				if (k == 0)
					s.e[i].integration = (const char *)(uintptr_t)(pool_len + 1);
				else if (k == 1)
					s.e[i].sku = (const char *)(uintptr_t)(pool_len + 1);
				else
					s.e[i].message = (const char *)(uintptr_t)(pool_len + 1);
				pool_len += n;
			}
		}
	}
	for (i = 0; i < s.n; i++) {
		s.e[i].integration = s.pool + ((uintptr_t)s.e[i].integration - 1);
		s.e[i].sku = s.pool + ((uintptr_t)s.e[i].sku - 1);
		if (s.e[i].message)
			s.e[i].message = s.pool + ((uintptr_t)s.e[i].message - 1);
	}
	return s;
}

void h_snapshot_free(h_snapshot *s)
{
	free(s->e);
	free(s->pool);
	memset(s, 0, sizeof *s);
}

const stg_entry *h_snapshot_find(const h_snapshot *s, const char *integ, const char *sku)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->e[i].integration, integ) == 0 && strcmp(s->e[i].sku, sku) == 0)
			return &s->e[i];
	return NULL;
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

void h_assert_entry_eq(const stg_entry *a, const stg_entry *b, const char *what)
{
#define F(f) cr_assert_eq(a->f, b->f, "%s: field " #f " differs: %lld vs %lld", what, \
                          (long long)a->f, (long long)b->f)
	F(version);
	F(status);
	cr_assert(str_eq(a->integration, b->integration), "%s: integration differs", what);
	cr_assert(str_eq(a->sku, b->sku), "%s: sku differs", what);
	cr_assert(str_eq(a->message, b->message), "%s: message differs: '%s' vs '%s'", what,
	          a->message ? a->message : "(null)", b->message ? b->message : "(null)");
	F(available);
	F(published);
	F(acked);
	F(sequence);
	F(changed_at);
	F(job_since);
	F(first_failed_at);
	F(last_attempt_at);
	F(acked_at);
	F(next_attempt_at);
	F(latency_ms);
	F(job_id);
	F(attempts);
	F(job_state);
	F(error_class);
	F(http_status);
	F(priority);
	F(reason);
	F(flags);
#undef F
}
