/*
 * Large logs: the paths that only a log of tens of thousands of entries
 * takes. stg_log_submit_batch() prefetches (index slot, entry, job record,
 * the caller's SKU text) only once the index has 2^17 slots, so the small
 * logs of the other suites never run that code; here a batch log and a
 * one-call-at-a-time log get the same changes and must agree on every
 * result. Also: the index filled at the end of a load finds a twin with a
 * long (heap) SKU, index growth after removals skips the dead entries, and
 * the interned marketplace messages survive their table's growth.
 */
#include <criterion/criterion.h>

#include <stockguard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 70000     /* > 3/4 of 2^16 slots: the index reaches 2^17 */
#define CHUNK 7000

static int64_t fixed_now(void *payload)
{
	(void)payload;
	return INT64_C(1767225600000);
}

static stg_log *open_fixed(void)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_clock c = STG_CLOCK_INIT;
	stg_policy *p = NULL;
	stg_log *log = NULL;

	c.now_ms = fixed_now;
	o.clock = &c;
	cr_assert_eq(stg_log_open(&log, &o), STG_OK, "%s", stg_last_error());
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 3), STG_OK);
	cr_assert_eq(stg_log_set_policy(log, "amz", p), STG_OK);
	stg_policy_free(p);
	return log;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One change of the workload: short and long SKUs, two integrations (the
 * second created in the middle of a batch, so unprepared changes mix with
 * prepared ones), stale sequences, repeats of a SKU within one batch. */
static void make_change(stg_submit *s, char *sku, size_t cap, uint64_t *st, int pass, size_t j)
{
	uint64_t r = rnd(st);
	/* Pass 1 creates every key once (40503 is prime to N), in a scattered
	 * order; pass 2 picks keys at random, repeats included. */
	unsigned k = pass == 1 ? (unsigned)((j * 40503u) % N) : (unsigned)(r % N);

	stg_submit_init(s, STG_SUBMIT_VERSION);
	if (k % 9 == 0)
		snprintf(sku, cap, "LONG-SKU-NAME-%08u", k); /* 22 bytes: kept on the heap */
	else
		snprintf(sku, cap, "S%08u", k);
	s->sku = sku;
	s->integration = (pass == 2 && k % 5 == 0) ? "meli" : "amz";
	s->available = (int64_t)((r >> 20) % 40) - 2;
	/* Mostly newer, sometimes stale. */
	s->sequence = pass * 10 + (int64_t)((r >> 40) % 3) - ((r >> 50) % 17 == 0 ? 20 : 0);
	s->changed_at = 1000 * pass;
}

static void assert_same_result(const stg_submit_result *a, const stg_submit_result *b,
                               const stg_submit *s)
{
	cr_assert_eq(a->decision, b->decision, "(%s, %s): decision %d vs %d", s->integration, s->sku,
	             a->decision, b->decision);
	cr_assert_eq(a->reason, b->reason, "(%s, %s): reason", s->integration, s->sku);
	cr_assert_eq(a->published, b->published, "(%s, %s): published", s->integration, s->sku);
	cr_assert_eq(a->warnings, b->warnings, "(%s, %s): warnings", s->integration, s->sku);
	cr_assert_eq(a->priority, b->priority, "(%s, %s): priority", s->integration, s->sku);
	cr_assert_eq(a->job_id != 0, b->job_id != 0, "(%s, %s): job", s->integration, s->sku);
}

Test(large, batch_with_prefetch_agrees_with_single_calls, .timeout = 120)
{
	stg_log *batch = open_fixed(), *single = open_fixed();
	stg_submit *subs = calloc(CHUNK, sizeof *subs);
	stg_submit_result *rb = calloc(CHUNK, sizeof *rb), rs;
	char (*skus)[32] = calloc(CHUNK, sizeof *skus);
	uint64_t st = 0x9e3779b97f4a7c15u;
	stg_counts cb, cs;
	int pass;

	cr_assert(subs && rb && skus);
	for (pass = 1; pass <= 2; pass++) {
		size_t done = 0, j, k;
		for (j = 0; j < N; j += CHUNK) {
			for (k = 0; k < CHUNK; k++)
				make_change(&subs[k], skus[k], sizeof skus[k], &st, pass, j + k);
			cr_assert_eq(stg_log_submit_batch(batch, subs, CHUNK, rb, &done), STG_OK, "%s",
			             stg_log_errmsg(batch));
			cr_assert_eq(done, (size_t)CHUNK);
			for (k = 0; k < CHUNK; k++) {
				cr_assert_eq(stg_log_submit(single, &subs[k], &rs), STG_OK, "%s",
				             stg_log_errmsg(single));
				assert_same_result(&rb[k], &rs, &subs[k]);
			}
		}
	}
	cr_assert_eq(stg_log_counts(batch, NULL, &cb), STG_OK);
	cr_assert_eq(stg_log_counts(single, NULL, &cs), STG_OK);
	cr_assert_eq(cb.pending, cs.pending);
	cr_assert_eq(cb.success, cs.success);
	cr_assert_gt(cb.pending, (uint64_t)N / 2, "the log must be large: %llu pending",
	             (unsigned long long)cb.pending);
	free(subs);
	free(rb);
	free(skus);
	stg_log_close(batch);
	stg_log_close(single);
}

/* ----------------------------------------------------------- load twins */

static int twin_load(stg_entry_sink sink, void *ctx, void *payload)
{
	static const char *const skus[] = { "A-LONG-SKU-BEYOND-FIFTEEN", "B", "A-LONG-SKU-BEYOND-FIFTEEN" };
	size_t i;
	int rc;

	(void)payload;
	for (i = 0; i < 3; i++) {
		stg_entry e;
		stg_entry_init(&e, STG_ENTRY_VERSION);
		e.integration = "amz";
		e.sku = skus[i];
		e.status = STG_ENTRY_SUCCESS;
		e.available = e.published = 7;
		e.sequence = 1;
		if ((rc = sink(ctx, &e)))
			return rc;
	}
	return 0;
}

static int ok_write(const stg_entry *e, void *payload)
{
	(void)e;
	(void)payload;
	return 0;
}

static int ok_remove(const char *integration, const char *sku, void *payload)
{
	(void)integration;
	(void)sku;
	(void)payload;
	return 0;
}

Test(large, a_long_sku_stored_twice_is_refused_at_open)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_storage s = STG_STORAGE_INIT;
	stg_log *log = (stg_log *)&o; /* must stay untouched */

	s.load = twin_load;
	s.write = ok_write;
	s.remove = ok_remove;
	o.storage = &s;
	cr_assert_eq(stg_log_open(&log, &o), STG_ECORRUPT);
	cr_assert_eq(log, (stg_log *)&o);
	cr_assert_str_eq(stg_last_error(),
	                 "stg_log_open: entry (amz, A-LONG-SKU-BEYOND-FIFTEEN) stored twice");
}

/* --------------------------------------------------- growth after removal */

Test(large, index_growth_after_removals_keeps_every_live_entry)
{
	stg_log *log = open_fixed();
	stg_submit s = STG_SUBMIT_INIT;
	stg_submit_result r;
	stg_entry e;
	char sku[32];
	int i;

	s.integration = "amz";
	s.sequence = 1;
	s.flags = STG_CHANGE_NON_STOCK; /* every change exported: a job each */
	for (i = 0; i < 3000; i++) {
		snprintf(sku, sizeof sku, "%s%05d", i % 4 ? "S" : "LONG-NAME-ON-THE-HEAP-", i);
		s.sku = sku;
		s.available = i;
		cr_assert_eq(stg_log_submit(log, &s, &r), STG_OK);
	}
	/* Remove every third (forced: they have jobs), then grow the index
	 * several times over: the rehash walks the entry table past the holes. */
	for (i = 0; i < 3000; i += 3) {
		snprintf(sku, sizeof sku, "%s%05d", i % 4 ? "S" : "LONG-NAME-ON-THE-HEAP-", i);
		cr_assert_eq(stg_log_remove(log, "amz", sku, STG_REMOVE_FORCE), STG_OK);
	}
	for (i = 3000; i < 20000; i++) {
		snprintf(sku, sizeof sku, "%s%05d", i % 4 ? "S" : "LONG-NAME-ON-THE-HEAP-", i);
		s.sku = sku;
		s.available = i;
		cr_assert_eq(stg_log_submit(log, &s, &r), STG_OK);
	}
	for (i = 0; i < 20000; i++) {
		int rc;
		snprintf(sku, sizeof sku, "%s%05d", i % 4 ? "S" : "LONG-NAME-ON-THE-HEAP-", i);
		rc = stg_log_get(log, "amz", sku, &e);
		if (i < 3000 && i % 3 == 0) {
			cr_assert_eq(rc, STG_ENOTFOUND, "%s was removed", sku);
		} else {
			cr_assert_eq(rc, STG_OK, "%s: %s", sku, stg_log_errmsg(log));
			cr_assert_eq(e.available, i);
		}
	}
	stg_log_close(log);
}

/* ------------------------------------------------------ many messages */

static int fail_with_own_message(const stg_job *job, stg_job_result *res, void *payload)
{
	static char msg[64];

	(void)payload;
	snprintf(msg, sizeof msg, "rejected: %s", job->sku);
	res->outcome = STG_OUTCOME_ERROR;
	res->http_status = 422;
	res->message = msg;
	return 0;
}

Test(large, interned_messages_survive_table_growth)
{
	stg_log *log = open_fixed();
	stg_transport t = STG_TRANSPORT_INIT;
	stg_submit s = STG_SUBMIT_INIT;
	stg_entry e;
	char sku[32], want[64];
	size_t sent = 0;
	int i;

	t.send = fail_with_own_message;
	cr_assert_eq(stg_log_set_transport(log, &t), STG_OK);
	s.integration = "amz";
	s.sequence = 1;
	s.flags = STG_CHANGE_NON_STOCK;
	/* 100 distinct messages: the message table grows several times with
	 * messages in it (every one is rehashed each time). */
	for (i = 0; i < 100; i++) {
		snprintf(sku, sizeof sku, "M%03d", i);
		s.sku = sku;
		s.available = 20;
		cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	}
	cr_assert_eq(stg_log_pump(log, 0, &sent), STG_OK, "%s", stg_log_errmsg(log));
	cr_assert_eq(sent, 100u);
	for (i = 0; i < 100; i++) {
		snprintf(sku, sizeof sku, "M%03d", i);
		snprintf(want, sizeof want, "rejected: %s", sku);
		cr_assert_eq(stg_log_get(log, "amz", sku, &e), STG_OK);
		cr_assert_eq(e.status, STG_ENTRY_ERROR);
		cr_assert_str_eq(e.message, want);
	}
	stg_log_close(log);
}

/* ------------------------------------- two faults at once: owed writes */

/*
 * The fault loops inject one kind of fault at a time. Here both at once: the
 * acknowledgement's storage write fails, so the write is owed, and the list
 * of owed writes cannot grow either. The entry is then marked for a rescan,
 * and the next flush still writes it: nothing acknowledged is lost.
 */
typedef struct twofault {
	int fail_write;         /* storage write returns -1 while set */
	int fail_list_realloc;  /* realloc(NULL, 64) fails while set: the owed list */
	int writes_ok;
	int last_status;        /* status of the last entry written */
} twofault;

static twofault g_tf;

static void *tf_malloc(size_t n, void *payload)
{
	(void)payload;
	return malloc(n);
}

static void *tf_realloc(void *p, size_t n, void *payload)
{
	(void)payload;
	if (g_tf.fail_list_realloc && !p && n == 16 * sizeof(uint32_t))
		return NULL;
	return realloc(p, n);
}

static void tf_free(void *p, void *payload)
{
	(void)payload;
	free(p);
}

static int tf_write(const stg_entry *e, void *payload)
{
	(void)payload;
	if (g_tf.fail_write)
		return -1;
	g_tf.writes_ok++;
	g_tf.last_status = e->status;
	return 0;
}

static int ack_at_once(const stg_job *job, stg_job_result *res, void *payload)
{
	(void)job;
	(void)payload;
	res->outcome = STG_OUTCOME_OK;
	return 0;
}

Test(large, owed_write_kept_when_its_list_cannot_grow)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_allocator a = STG_ALLOCATOR_INIT;
	stg_storage st = STG_STORAGE_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_submit s = STG_SUBMIT_INIT;
	stg_log *log = NULL;
	stg_entry e;
	size_t pending = 99, sent = 0;
	int rc;

	memset(&g_tf, 0, sizeof g_tf);
	a.malloc_fn = tf_malloc;
	a.realloc_fn = tf_realloc;
	a.free_fn = tf_free;
	st.write = tf_write;
	st.remove = ok_remove;
	t.send = ack_at_once;
	o.allocator = &a;
	o.storage = &st;
	o.transport = &t;
	cr_assert_eq(stg_log_open(&log, &o), STG_OK, "%s", stg_last_error());
	s.integration = "amz";
	s.sku = "OWED";
	s.sequence = 1;
	s.available = 12;
	cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	cr_assert_eq(g_tf.last_status, STG_ENTRY_PENDING);

	g_tf.fail_write = 1;
	g_tf.fail_list_realloc = 1;
	rc = stg_log_pump(log, 0, &sent);
	cr_assert_eq(sent, 1u, "the job went out (rc %d: %s)", rc, stg_log_errmsg(log));
	/* Memory has the acknowledgement whatever the pump reported. */
	cr_assert_eq(stg_log_get(log, "amz", "OWED", &e), STG_OK);
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS);
	cr_assert_eq(stg_log_flush(log, &pending), STG_ESTORAGE, "storage still fails");
	cr_assert_eq(pending, 1u, "the owed write is still known");

	g_tf.fail_write = 0;
	g_tf.fail_list_realloc = 0;
	cr_assert_eq(stg_log_flush(log, &pending), STG_OK, "%s", stg_log_errmsg(log));
	cr_assert_eq(pending, 0u);
	cr_assert_eq(g_tf.last_status, STG_ENTRY_SUCCESS, "the acknowledgement reached storage");
	stg_log_close(log);
}

/*
 * A batch larger than the log sizes the index once for all its changes
 * (stg_log_submit_batch), instead of a rehash per doubling. The index
 * tables are the log's only malloc()s of 4 * 2^k bytes from 4 KiB up
 * (entry chunks have another size, the growing arrays use realloc()), so
 * the allocator hook sees the tables made. Without the memory for the one large table the batch goes
 * on, growing a doubling at a time, and loses nothing.
 */
typedef struct tables_seen {
	int tables;        /* malloc()s of an index table's size */
	size_t largest;
	size_t fail_size;  /* the first malloc() of this size fails; 0: none */
} tables_seen;

static tables_seen g_ts;

/* From 1024 slots up: below, small fixed tables share such sizes. */
static int table_size(size_t n)
{
	return n >= 4096 && n % 4 == 0 && ((n / 4) & (n / 4 - 1)) == 0;
}

static void *ts_malloc(size_t n, void *payload)
{
	(void)payload;
	if (g_ts.fail_size && n == g_ts.fail_size) {
		g_ts.fail_size = 0;
		return NULL;
	}
	if (table_size(n)) {
		g_ts.tables++;
		if (n > g_ts.largest)
			g_ts.largest = n;
	}
	return malloc(n);
}

static void batch_of_new_skus(size_t fail_size)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_allocator a = STG_ALLOCATOR_INIT;
	stg_submit *subs = calloc(N, sizeof *subs);
	stg_submit_result *res = calloc(N, sizeof *res);
	char (*skus)[16] = calloc(N, sizeof *skus);
	stg_log *log = NULL;
	stg_entry e;
	size_t i, done = 0;

	cr_assert(subs && res && skus);
	a.malloc_fn = ts_malloc;
	a.realloc_fn = tf_realloc;
	a.free_fn = tf_free;
	o.allocator = &a;
	memset(&g_tf, 0, sizeof g_tf);
	cr_assert_eq(stg_log_open(&log, &o), STG_OK, "%s", stg_last_error());
	for (i = 0; i < N; i++) {
		stg_submit_init(&subs[i], STG_SUBMIT_VERSION);
		snprintf(skus[i], sizeof skus[i], "S%08zu", (i * 40503u) % N);
		subs[i].integration = "amz";
		subs[i].sku = skus[i];
		subs[i].available = (int64_t)(i % 40);
		subs[i].sequence = 1;
	}
	memset(&g_ts, 0, sizeof g_ts);
	g_ts.fail_size = fail_size;
	cr_assert_eq(stg_log_submit_batch(log, subs, N, res, &done), STG_OK, "%s", stg_log_errmsg(log));
	cr_assert_eq(done, (size_t)N);
	/* 2^17 slots hold 70,000 entries at a load of at most 3/4. */
	cr_assert_eq(g_ts.largest, (size_t)4 << 17, "largest index table %zu bytes", g_ts.largest);
	if (fail_size)
		cr_assert_gt(g_ts.tables, 5, "grown a doubling at a time: %d tables", g_ts.tables);
	else
		cr_assert_eq(g_ts.tables, 1, "one table for the batch, not %d", g_ts.tables);
	for (i = 0; i < N; i++) {
		cr_assert_eq(res[i].decision, STG_DECISION_EXPORT, "change %zu", i);
		cr_assert_eq(stg_log_get(log, "amz", skus[i], &e), STG_OK, "%s", skus[i]);
		cr_assert_eq(e.available, (int64_t)(i % 40));
	}
	/* A batch smaller than the log leaves the index to grow as it needs. */
	memset(&g_ts, 0, sizeof g_ts);
	cr_assert_eq(stg_log_submit_batch(log, subs, 100, res, &done), STG_OK);
	cr_assert_eq(g_ts.tables, 0);
	stg_log_close(log);
	free(subs);
	free(res);
	free(skus);
}

Test(large, a_batch_larger_than_the_log_sizes_its_index_once)
{
	batch_of_new_skus(0);
}

Test(large, without_memory_for_the_whole_index_a_batch_grows_it_as_before)
{
	batch_of_new_skus((size_t)4 << 17);
}
