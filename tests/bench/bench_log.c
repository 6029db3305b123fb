/*
 * The integration log: submit, memory, pump, reopen, threads.
 *
 *   submit   N SKUs ("SKU-%08d", 12 characters, one integration) in random
 *            order, then a second change for each in another random order
 *            (pass 1: first seen, export, a job each; pass 2: coalesced
 *            into the waiting job), in-memory store, system clock. Anchor:
 *            the same 2N changes upserted into a SQLite in-memory table
 *            through the C API (one prepared INSERT ... ON CONFLICT DO
 *            UPDATE, one transaction per 10k changes, the published
 *            quantity computed inline in C). The library twice: one
 *            stg_log_submit() per change, and stg_log_submit_batch() with
 *            10k changes per call (the anchor's transaction grain; the
 *            batch prefetches the index and entries ahead). Each repetition
 *            runs in a fresh forked child; the three rotate.
 *   memory   N success entries (pass 1, then every job acknowledged at
 *            once: the log at rest), and N entries each with a pending job
 *            (pass 1 only): exact bytes through a counting stg_allocator
 *            hook, and the RSS delta with the default allocator; SQLite:
 *            sqlite3_memory_used() and RSS delta for the same N rows. Each
 *            in its own child.
 *   pump     N due jobs (non-stock changes, so each is an export) handed to
 *            a transport that acknowledges at once: batch size 1 through
 *            send(), and batch size 100 through send_batch().
 *   reopen   stg_log_open() with a storage hook whose load streams N
 *            entries (99% success, 1% pending): built on the fly from
 *            arrays, and decoded with stg_entry_decode() from their
 *            encodings (a key-value store's case).
 *   threads  the submit workload sharded by SKU over 1, 2 and 4 threads,
 *            each thread with its own log (the thread model: one thread
 *            per log at a time, logs independent); same total work.
 *
 *   bench_log [--sizes=10k,100k,1M,10M] [--reps=5]
 *             [--reps-large=3] [--only=submit|memory|pump|reopen|threads|
 *              submit-lib|submit-batch-lib|pump-lib|reopen-lib|reopen-decode-lib]
 *
 * The -lib parts run the library alone, in process, once (for callgrind
 * with --toggle-collect=lib_submit_passes, lib_pump or lib_reopen).
 * STG_BENCH_SQLITE_ROWID=1 gives the SQLite table a rowid (the default is
 * WITHOUT ROWID with PRIMARY KEY(integration, sku)).
 */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef STG_BENCH_HAVE_SQLITE
#include <sqlite3.h>
#endif

#define INTEG "mkt-1"
#define MIN_STOCK 3
#define WINDOW 5
#define T0_MS INT64_C(1767225600000) /* 2026-01-01 */

/* The workload, built once in the parent and shared with the children. */
typedef struct work {
	size_t n;
	char *skus;
	uint32_t *perm1, *perm2;
	int64_t *avail1, *avail2;
} work;

static void work_make(work *w, size_t n)
{
	uint64_t s = 0x243f6a8885a308d3u;
	size_t i;

	w->n = n;
	w->skus = bench_make_skus(n);
	w->perm1 = malloc(n * sizeof *w->perm1);
	w->perm2 = malloc(n * sizeof *w->perm2);
	w->avail1 = malloc(n * sizeof *w->avail1);
	w->avail2 = malloc(n * sizeof *w->avail2);
	if (!w->perm1 || !w->perm2 || !w->avail1 || !w->avail2) {
		fprintf(stderr, "bench_log: out of memory\n");
		exit(1);
	}
	bench_shuffle(w->perm1, n, &s);
	bench_shuffle(w->perm2, n, &s);
	for (i = 0; i < n; i++) {
		w->avail1[i] = (int64_t)(bench_rand(&s) % 120);
		w->avail2[i] = (int64_t)(bench_rand(&s) % 120);
	}
}

static void work_free(work *w)
{
	free(w->skus);
	free(w->perm1);
	free(w->perm2);
	free(w->avail1);
	free(w->avail2);
}

static void die_log(const char *what, int rc, stg_log *log)
{
	fprintf(stderr, "bench_log: %s: %s (%s)\n", what, stg_strerror(rc),
	        log ? stg_log_errmsg(log) : stg_last_error());
	exit(1);
}

static stg_log *open_log(const stg_allocator *alloc)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_policy *p;
	stg_log *log;
	int rc;

	o.allocator = alloc;
	if ((rc = stg_log_open(&log, &o)))
		die_log("open", rc, NULL);
	if ((rc = stg_policy_new(&p, NULL)) || (rc = stg_policy_set_min_stock(p, MIN_STOCK)) ||
	    (rc = stg_policy_set_window(p, WINDOW)))
		die_log("policy", rc, NULL);
	if ((rc = stg_log_set_policy(log, INTEG, p)))
		die_log("set_policy", rc, log);
	stg_policy_free(p);
	return log;
}

/* ----------------------------------------------------------------- submit */

/* One pass of submits over idx[0..n); counts decisions. */
static void submit_pass(stg_log *log, const work *w, const uint32_t *idx, size_t n,
                        const int64_t *avail, int64_t seq, unsigned flags, size_t *counts)
{
	stg_submit s = STG_SUBMIT_INIT;
	stg_submit_result res;
	size_t j;
	int rc;

	s.integration = INTEG;
	s.sequence = seq;
	s.changed_at = T0_MS + seq * 1000;
	s.flags = flags;
	for (j = 0; j < n; j++) {
		uint32_t i = idx[j];
		s.sku = BENCH_SKU(w->skus, i);
		s.available = avail[i];
		if ((rc = stg_log_submit(log, &s, &res)))
			die_log("submit", rc, log);
		counts[res.decision & 3]++;
	}
}

/* The same pass through stg_log_submit_batch(), SUBMIT_CHUNK changes per
 * call (the grain of the SQLite anchor's transactions). */
#define SUBMIT_CHUNK 10000

static void submit_pass_batch(stg_log *log, const work *w, const uint32_t *idx, size_t n,
                              const int64_t *avail, int64_t seq, size_t *counts)
{
	static stg_submit sub[SUBMIT_CHUNK];
	static stg_submit_result res[SUBMIT_CHUNK];
	size_t j, k, done;
	int rc;

	for (j = 0; j < n; j += SUBMIT_CHUNK) {
		size_t len = n - j < SUBMIT_CHUNK ? n - j : SUBMIT_CHUNK;
		for (k = 0; k < len; k++) {
			uint32_t i = idx[j + k];
			stg_submit_init(&sub[k], STG_SUBMIT_VERSION);
			sub[k].integration = INTEG;
			sub[k].sequence = seq;
			sub[k].changed_at = T0_MS + seq * 1000;
			sub[k].sku = BENCH_SKU(w->skus, i);
			sub[k].available = avail[i];
		}
		if ((rc = stg_log_submit_batch(log, sub, len, res, &done)))
			die_log("submit_batch", rc, log);
		for (k = 0; k < len; k++)
			counts[res[k].decision & 3]++;
	}
}

/* Both passes; returns pass-1 and pass-2 seconds in t[0], t[1]. */
BENCH_NOINLINE static void lib_submit_passes(stg_log *log, const work *w, double *t, size_t *counts)
{
	double t0 = bench_now(), t1;
	submit_pass(log, w, w->perm1, w->n, w->avail1, 1, 0, counts);
	t1 = bench_now();
	submit_pass(log, w, w->perm2, w->n, w->avail2, 2, 0, counts);
	t[0] = t1 - t0;
	t[1] = bench_now() - t1;
}

static void child_submit_lib(void *arg, double *out, int nout)
{
	const work *w = arg;
	size_t counts[4] = { 0 };
	stg_log *log = open_log(NULL);

	(void)nout;
	lib_submit_passes(log, w, out, counts);
	out[2] = (double)counts[STG_DECISION_EXPORT];
	out[3] = (double)counts[STG_DECISION_COALESCED];
	stg_log_close(log);
}

static void child_submit_batch(void *arg, double *out, int nout)
{
	const work *w = arg;
	size_t counts[4] = { 0 };
	stg_log *log = open_log(NULL);
	double t0 = bench_now(), t1;

	(void)nout;
	submit_pass_batch(log, w, w->perm1, w->n, w->avail1, 1, counts);
	t1 = bench_now();
	submit_pass_batch(log, w, w->perm2, w->n, w->avail2, 2, counts);
	out[0] = t1 - t0;
	out[1] = bench_now() - t1;
	out[2] = (double)counts[STG_DECISION_EXPORT];
	out[3] = (double)counts[STG_DECISION_COALESCED];
	stg_log_close(log);
}

#ifdef STG_BENCH_HAVE_SQLITE

static const char *sql_table(void)
{
	const char *v = getenv("STG_BENCH_SQLITE_ROWID");
	return v && *v == '1' ? "rowid table, PRIMARY KEY(integration, sku)"
	                      : "WITHOUT ROWID, PRIMARY KEY(integration, sku)";
}

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
		exit(1);
	}
}

static sqlite3 *sql_open(sqlite3_stmt **up)
{
	const char *v = getenv("STG_BENCH_SQLITE_ROWID");
	int rowid = v && *v == '1';
	sqlite3 *db;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		fprintf(stderr, "sqlite: open failed\n");
		exit(1);
	}
	sql_exec(db, rowid ?
	         "CREATE TABLE log(integration TEXT NOT NULL, sku TEXT NOT NULL,"
	         " status INTEGER NOT NULL, available INTEGER NOT NULL,"
	         " published INTEGER NOT NULL, sequence INTEGER NOT NULL,"
	         " changed_at INTEGER NOT NULL, job_id INTEGER NOT NULL,"
	         " PRIMARY KEY(integration, sku))" :
	         "CREATE TABLE log(integration TEXT NOT NULL, sku TEXT NOT NULL,"
	         " status INTEGER NOT NULL, available INTEGER NOT NULL,"
	         " published INTEGER NOT NULL, sequence INTEGER NOT NULL,"
	         " changed_at INTEGER NOT NULL, job_id INTEGER NOT NULL,"
	         " PRIMARY KEY(integration, sku)) WITHOUT ROWID");
	if (sqlite3_prepare_v2(db,
	        "INSERT INTO log(integration, sku, status, available, published, sequence,"
	        " changed_at, job_id) VALUES(?1, ?2, 0, ?3, ?4, ?5, ?6, ?7)"
	        " ON CONFLICT(integration, sku) DO UPDATE SET status = 0,"
	        " available = excluded.available, published = excluded.published,"
	        " sequence = excluded.sequence, changed_at = excluded.changed_at"
	        " WHERE excluded.sequence > log.sequence",
	        -1, up, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite: prepare: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	return db;
}

/* One pass of upserts, one transaction per 10k changes. */
static void sql_pass(sqlite3 *db, sqlite3_stmt *up, const work *w, const uint32_t *idx,
                     const int64_t *avail, int64_t seq, uint64_t *job)
{
	size_t j;
	for (j = 0; j < w->n; j++) {
		uint32_t i = idx[j];
		int64_t a = avail[i];
		if (j % 10000 == 0)
			sql_exec(db, "BEGIN");
		sqlite3_bind_text(up, 1, INTEG, 5, SQLITE_STATIC);
		sqlite3_bind_text(up, 2, BENCH_SKU(w->skus, i), 12, SQLITE_STATIC);
		sqlite3_bind_int64(up, 3, a);
		sqlite3_bind_int64(up, 4, a <= MIN_STOCK ? 0 : a);
		sqlite3_bind_int64(up, 5, seq);
		sqlite3_bind_int64(up, 6, T0_MS + seq * 1000);
		sqlite3_bind_int64(up, 7, (sqlite3_int64)++*job);
		if (sqlite3_step(up) != SQLITE_DONE) {
			fprintf(stderr, "sqlite: step: %s\n", sqlite3_errmsg(db));
			exit(1);
		}
		sqlite3_reset(up);
		if (j % 10000 == 9999 || j + 1 == w->n)
			sql_exec(db, "COMMIT");
	}
}

static void child_submit_sql(void *arg, double *out, int nout)
{
	const work *w = arg;
	sqlite3_stmt *up;
	sqlite3 *db = sql_open(&up);
	uint64_t job = 0;
	double t0 = bench_now(), t1;

	(void)nout;
	sql_pass(db, up, w, w->perm1, w->avail1, 1, &job);
	t1 = bench_now();
	sql_pass(db, up, w, w->perm2, w->avail2, 2, &job);
	out[0] = t1 - t0;
	out[1] = bench_now() - t1;
	sqlite3_finalize(up);
	sqlite3_close(db);
}

static void child_memory_sql(void *arg, double *out, int nout)
{
	const work *w = arg;
	sqlite3_stmt *up;
	sqlite3 *db;
	uint64_t job = 0;
	size_t rss0;
	sqlite3_int64 m0;

	(void)nout;
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1);
	sqlite3_initialize();
	rss0 = bench_rss();
	m0 = sqlite3_memory_used();
	db = sql_open(&up);
	sql_pass(db, up, w, w->perm1, w->avail1, 1, &job);
	out[0] = (double)(sqlite3_memory_used() - m0);
	out[1] = (double)bench_rss() - (double)rss0;
	out[2] = (double)sqlite3_memory_highwater(0);
}
#endif

static void part_submit(const bench_opts *o, const work *w)
{
	enum { V_LIB, V_BATCH, V_SQL, V_N };
	int reps = bench_reps(o, w->n), r, v;
	double *tot[V_N], *p1[V_N], *p2[V_N], out[4];
	size_t n2 = 2 * w->n;
	char note[400];
	bench_row row = { 0 };

	for (v = 0; v < V_N; v++) {
		tot[v] = calloc((size_t)reps, sizeof(double));
		p1[v] = calloc((size_t)reps, sizeof(double));
		p2[v] = calloc((size_t)reps, sizeof(double));
		for (r = 0; r < reps; r++)
			tot[v][r] = p1[v][r] = p2[v][r] = NAN;
	}
	for (r = 0; r < reps; r++) {
		int j;
		for (j = 0; j < V_N; j++) {
			int which = (j + r) % V_N;
			if (which == V_SQL) {
#ifdef STG_BENCH_HAVE_SQLITE
				if (bench_in_child(child_submit_sql, (void *)w, out, 2))
					fprintf(stderr, "bench_log: sqlite child failed\n");
#else
				continue;
#endif
			} else {
				if (bench_in_child(which == V_LIB ? child_submit_lib : child_submit_batch,
				                   (void *)w, out, 4))
					fprintf(stderr, "bench_log: submit child failed\n");
				if (out[2] != (double)w->n || out[3] != (double)w->n)
					fprintf(stderr, "bench_log: expected %zu exports and %zu coalesced,"
					        " got %.0f and %.0f\n", w->n, w->n, out[2], out[3]);
			}
			p1[which][r] = out[0] / (double)w->n * 1e9;
			p2[which][r] = out[1] / (double)w->n * 1e9;
			tot[which][r] = (out[0] + out[1]) / (double)n2 * 1e9;
		}
	}
	for (v = V_LIB; v <= V_BATCH; v++) {
		double lib = bench_median(tot[v], reps), sql = bench_median(tot[V_SQL], reps);
		snprintf(note, sizeof note,
		         "2N submits; pass 1 (new SKU, export): lib %.0f, sqlite %.0f ns; pass 2"
		         " (coalesced): lib %.0f, sqlite %.0f ns%s%s",
		         bench_median(p1[v], reps), bench_median(p1[V_SQL], reps),
		         bench_median(p2[v], reps), bench_median(p2[V_SQL], reps),
#ifdef STG_BENCH_HAVE_SQLITE
		         "; SQLite ", sql_table()
#else
		         "", ""
#endif
		         );
		row.figure = v == V_LIB ? "log submit with coalescing, in-memory store"
		                        : "log submit with coalescing, batch of 10k per call";
		row.size = w->n;
		row.lib = lib;
		row.lib_unit = "ns/submit";
		row.anchor = sql;
		row.anchor_name = "SQLite :memory: prepared upsert, 1 txn/10k";
		row.ratio = sql / lib;
		row.ratio_def = "time sqlite / time lib (speedup)";
		row.target = ">= 20x";
		row.met = isnan(sql) ? -1 : row.ratio >= 20;
		row.reps = reps;
		row.note = note;
		bench_emit(o, &row);
	}
	for (v = 0; v < V_N; v++) {
		free(tot[v]);
		free(p1[v]);
		free(p2[v]);
	}
}

/* ----------------------------------------------------------------- memory */

static int ack_send(const stg_job *job, stg_job_result *res, void *payload);
static int ack_send_batch(const stg_job *jobs, size_t n, stg_job_result *res, void *payload);

/* What the log holds when measured: N entries each with a pending job
 * (pass 1 just submitted), or N success entries (the same, every job then
 * acknowledged at once: the log at rest, the common state of an entry). */
typedef struct mem_arg {
	const work *w;
	int settled;
} mem_arg;

static stg_log *mem_fill(const mem_arg *m, const stg_allocator *alloc)
{
	static uint64_t sum; /* the transport's payload; outlives the log */
	size_t counts[4] = { 0 }, sent = 0;
	stg_log *log = open_log(alloc);
	stg_transport t = STG_TRANSPORT_INIT;
	int rc;

	submit_pass(log, m->w, m->w->perm1, m->w->n, m->w->avail1, 1, 0, counts);
	if (!m->settled)
		return log;
	t.send = ack_send;
	t.send_batch = ack_send_batch;
	t.payload = &sum;
	if ((rc = stg_log_set_transport(log, &t)) || (rc = stg_log_set_limits(log, INTEG, 100, 0, 0)))
		die_log("transport", rc, log);
	do {
		if ((rc = stg_log_pump(log, 0, &sent)))
			die_log("pump", rc, log);
	} while (sent);
	return log;
}

static void child_memory_count(void *arg, double *out, int nout)
{
	const mem_arg *m = arg;
	bench_counter c;
	stg_allocator a;
	size_t i;
	stg_log *log;
	int k;

	(void)nout;
	bench_counter_init(&c, &a);
	log = mem_fill(m, &a);
	out[0] = (double)c.live_bytes;
	out[1] = (double)c.peak_bytes;
	out[2] = (double)c.live_blocks;
	printf("# memory breakdown, %zu %s (allocator hook):\n", m->w->n,
	       m->settled ? "success entries" : "entries with a pending job");
	bench_counter_print(&c, stdout, m->w->n);
	/* the breakdown: bytes in small blocks, then the three largest blocks */
	out[3] = 0;
	for (i = 0; i <= 256; i++)
		out[3] += (double)(c.small_count[i] * i);
	for (k = 0; k < 3; k++) {
		size_t count, sz = bench_counter_group(&c, (size_t)k, &count);
		out[4 + k] = (double)sz;
		out[7 + k] = (double)count;
	}
	stg_log_close(log);
}

static void child_memory_rss(void *arg, double *out, int nout)
{
	const mem_arg *m = arg;
	size_t rss0 = bench_rss();
	stg_log *log = mem_fill(m, NULL);

	(void)nout;
	/* Give back what the settled log freed (the job records), as a
	 * long-running host's allocator eventually does. */
	bench_trim();
	out[0] = (double)bench_rss() - (double)rss0;
	stg_log_close(log);
}

static void part_memory_one(const bench_opts *o, const work *w, int settled, const double *sq)
{
	mem_arg m = { w, settled };
	double lc[10], lr[1];
	double n = (double)w->n;
	char note[512];
	int len;
	bench_row row = { 0 };

	bench_in_child(child_memory_count, &m, lc, 10);
	bench_in_child(child_memory_rss, &m, lr, 1);
	len = snprintf(note, sizeof note, "lib peak %.1f B/entry, %.4f blocks/entry; most bytes in"
	               " %.0f x %.0f B, %.0f x %.0f B, %.0f x %.0f B (%.1f + %.1f + %.1f B/entry);"
	               " blocks <= 256 B %.1f B/entry",
	               lc[1] / n, lc[2] / n, lc[7], lc[4], lc[8], lc[5], lc[9], lc[6],
	               lc[4] * lc[7] / n, lc[5] * lc[8] / n, lc[6] * lc[9] / n, lc[3] / n);
#ifdef STG_BENCH_HAVE_SQLITE
	snprintf(note + len, sizeof note - (size_t)len, "; SQLite highwater %.1f B/row, %s",
	         sq[2] / n, sql_table());
#else
	(void)len;
#endif
	row.figure = settled ? "memory per log entry, 12-char SKUs (allocator hook)"
	                     : "memory per entry with a pending job (allocator hook)";
	row.size = w->n;
	row.lib = lc[0] / n;
	row.lib_unit = "B/entry";
	row.anchor = sq[0] / n;
	row.anchor_name = "SQLite :memory: sqlite3_memory_used()";
	row.ratio = row.lib / row.anchor;
	row.ratio_def = "bytes lib / bytes sqlite";
	row.target = settled ? "<= 100 B" : "report";
	row.met = settled ? row.lib <= 100 : -1;
	row.reps = 1;
	row.note = note;
	bench_emit(o, &row);

	row.figure = settled ? "memory per log entry, 12-char SKUs (RSS delta)"
	                     : "memory per entry with a pending job (RSS delta)";
	row.lib = lr[0] / n;
	row.anchor = sq[1] / n;
	row.anchor_name = "SQLite :memory: RSS delta";
	row.ratio = row.lib / row.anchor;
	row.met = settled ? row.lib <= 100 : -1;
	row.note = settled ? "default allocators (glibc malloc, trimmed after the pump), fresh child each"
	                   : "default allocators (glibc malloc), fresh child each";
	bench_emit(o, &row);
}

static void part_memory(const bench_opts *o, const work *w)
{
	double sq[3] = { NAN, NAN, NAN };

#ifdef STG_BENCH_HAVE_SQLITE
	bench_in_child(child_memory_sql, (void *)w, sq, 3);
#endif
	part_memory_one(o, w, 1, sq);
	part_memory_one(o, w, 0, sq);
}

/* ------------------------------------------------------------------- pump */

/* The benchmark's own zero-overhead transport (a sum, no record of each job):
 * the shared fixture's records every job, which would be measured too. */
static int ack_send(const stg_job *job, stg_job_result *res, void *payload)
{
	uint64_t *sum = payload;
	*sum += (uint64_t)job->published;
	res->outcome = STG_OUTCOME_OK;
	return 0;
}

static int ack_send_batch(const stg_job *jobs, size_t n, stg_job_result *res, void *payload)
{
	uint64_t *sum = payload;
	size_t i;
	for (i = 0; i < n; i++) {
		*sum += (uint64_t)jobs[i].published;
		res[i].outcome = STG_OUTCOME_OK;
	}
	return 0;
}

BENCH_NOINLINE static size_t lib_pump(stg_log *log)
{
	size_t sent = 0;
	int rc = stg_log_pump(log, 0, &sent);
	if (rc)
		die_log("pump", rc, log);
	return sent;
}

static stg_log *pump_log(uint32_t batch, uint64_t *sum)
{
	stg_transport t = STG_TRANSPORT_INIT;
	stg_log *log = open_log(NULL);
	int rc;

	t.send = ack_send;
	t.send_batch = ack_send_batch;
	t.payload = sum;
	if ((rc = stg_log_set_transport(log, &t)) ||
	    (rc = stg_log_set_limits(log, INTEG, batch, 0, 0)))
		die_log("transport", rc, log);
	return log;
}

typedef struct pump_arg {
	const work *w;
	int reps;
} pump_arg;

/* out: reps medians for batch 1 then batch 100, as jobs/s */
static void child_pump(void *arg, double *out, int nout)
{
	const pump_arg *pa = arg;
	const work *w = pa->w;
	uint64_t sum[2] = { 0, 0 };
	stg_log *logs[2];
	double *t[2];
	int r, k;

	(void)nout;
	logs[0] = pump_log(1, &sum[0]);
	logs[1] = pump_log(100, &sum[1]);
	t[0] = calloc((size_t)pa->reps, sizeof(double));
	t[1] = calloc((size_t)pa->reps, sizeof(double));
	for (r = 0; r < pa->reps; r++) {
		for (k = 0; k < 2; k++) {
			int which = (k + r) % 2;
			size_t counts[4] = { 0 }, sent;
			double t0;
			/* non-stock changes: every one is an export, a due job */
			submit_pass(logs[which], w, w->perm1, w->n, w->avail1, r + 1,
			            STG_CHANGE_NON_STOCK, counts);
			t0 = bench_now();
			sent = lib_pump(logs[which]);
			t[which][r] = (double)sent / (bench_now() - t0);
			if (sent != w->n)
				fprintf(stderr, "bench_log: pump sent %zu of %zu\n", sent, w->n);
		}
	}
	out[0] = bench_median(t[0], pa->reps);
	out[1] = bench_median(t[1], pa->reps);
	out[2] = (double)(sum[0] + sum[1]);
	for (k = 0; k < 2; k++) {
		stg_log_close(logs[k]);
		free(t[k]);
	}
}

static void part_pump(const bench_opts *o, const work *w)
{
	pump_arg pa = { w, bench_reps(o, w->n) };
	double out[3];
	char note[128];
	bench_row row = { 0 };

	bench_in_child(child_pump, &pa, out, 3);
	row.figure = "pump, transport acknowledges at once (send, batch 1)";
	row.size = w->n;
	row.lib = out[0];
	row.lib_unit = "jobs/s";
	row.anchor = NAN;
	row.ratio = NAN;
	row.target = ">= 2M jobs/s";
	row.met = out[0] >= 2e6;
	row.reps = bench_reps(o, w->n);
	snprintf(note, sizeof note, "%.0f ns/job; checksum %.0f", 1e9 / out[0], out[2]);
	row.note = note;
	bench_emit(o, &row);
	row.figure = "pump, transport acknowledges at once (send_batch, 100)";
	row.lib = out[1];
	row.met = out[1] >= 2e6;
	snprintf(note, sizeof note, "%.0f ns/job", 1e9 / out[1]);
	bench_emit(o, &row);
}

/* ----------------------------------------------------------------- reopen */

/* The benchmark's own storage: entries encoded back to back ahead of time
 * (or made on the fly) so that a reopen measures the load alone; the shared
 * fixture's keeps a record per key, allocated one by one. */
typedef struct store {
	const work *w;
	unsigned char *enc;   /* encodings back to back, or NULL */
	size_t *off;          /* n + 1 offsets into enc */
} store;

static void fill_entry(const work *w, size_t i, stg_entry *e)
{
	int64_t a = w->avail1[i], p = a <= MIN_STOCK ? 0 : a;

	stg_entry_init(e, STG_ENTRY_VERSION);
	e->integration = INTEG;
	e->sku = BENCH_SKU(w->skus, i);
	e->available = a;
	e->published = p;
	e->sequence = 1;
	e->changed_at = T0_MS;
	e->job_id = i + 1;
	e->reason = STG_REASON_FIRST_SEEN;
	e->priority = p <= WINDOW ? STG_PRIORITY_LOW_STOCK : STG_PRIORITY_NORMAL;
	if (i % 100 == 0) {
		e->status = STG_ENTRY_PENDING;
		e->job_state = STG_JOB_QUEUED;
		e->job_since = T0_MS;
		e->next_attempt_at = T0_MS;
	} else {
		e->status = STG_ENTRY_SUCCESS;
		e->acked = p;
		e->flags = STG_ENTRY_HAS_ACKED;
		e->last_attempt_at = T0_MS + 50;
		e->acked_at = T0_MS + 120;
		e->latency_ms = 120;
	}
	if (a > 0 && p == 0)
		e->flags |= STG_ENTRY_MIN_STOCK_REACHED;
}

static int load_plain(stg_entry_sink sink, void *ctx, void *payload)
{
	const store *st = payload;
	stg_entry e;
	size_t i;
	int rc;
	for (i = 0; i < st->w->n; i++) {
		fill_entry(st->w, i, &e);
		if ((rc = sink(ctx, &e)))
			return rc;
	}
	return 0;
}

static int load_decode(stg_entry_sink sink, void *ctx, void *payload)
{
	const store *st = payload;
	stg_entry e;
	size_t i;
	int rc;
	for (i = 0; i < st->w->n; i++) {
		if ((rc = stg_entry_decode(st->enc + st->off[i], st->off[i + 1] - st->off[i], &e)))
			return rc;
		if ((rc = sink(ctx, &e)))
			return rc;
	}
	return 0;
}

static int store_write(const stg_entry *e, void *payload)
{
	(void)e;
	(void)payload;
	return 0;
}

static int store_remove(const char *integration, const char *sku, void *payload)
{
	(void)integration;
	(void)sku;
	(void)payload;
	return 0;
}

typedef struct reopen_arg {
	const work *w;
	int reps;
} reopen_arg;

BENCH_NOINLINE static stg_log *lib_reopen(const stg_storage *s)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_log *log;
	int rc;
	o.storage = s;
	if ((rc = stg_log_open(&log, &o)))
		die_log("reopen", rc, NULL);
	return log;
}

/* Encode every entry once (untimed), for the decode variant. */
static void store_build(store *st, const work *w)
{
	size_t i, total = 0;

	st->w = w;
	st->off = malloc((w->n + 1) * sizeof *st->off);
	for (i = 0; i < w->n; i++) {
		stg_entry e;
		size_t len;
		fill_entry(w, i, &e);
		stg_entry_encode(&e, NULL, 0, &len);
		st->off[i] = total;
		total += len;
	}
	st->off[w->n] = total;
	st->enc = malloc(total);
	if (!st->off || !st->enc) {
		fprintf(stderr, "bench_log: out of memory for the encodings\n");
		exit(1);
	}
	for (i = 0; i < w->n; i++) {
		stg_entry e;
		size_t len;
		fill_entry(w, i, &e);
		if (stg_entry_encode(&e, st->enc + st->off[i], st->off[i + 1] - st->off[i], &len))
			die_log("encode", -1, NULL);
	}
}

static void store_hook(stg_storage *s, store *st, int decode)
{
	stg_storage_init(s, STG_STORAGE_VERSION);
	s->load = decode ? load_decode : load_plain;
	s->write = store_write;
	s->remove = store_remove;
	s->payload = st;
}

static void child_reopen(void *arg, double *out, int nout)
{
	const reopen_arg *ra = arg;
	const work *w = ra->w;
	store st;
	stg_storage s[2];
	double *t[2];
	int r, k;

	(void)nout;
	store_build(&st, w);
	for (k = 0; k < 2; k++) {
		store_hook(&s[k], &st, k);
		t[k] = calloc((size_t)ra->reps, sizeof(double));
	}
	for (r = 0; r < ra->reps; r++)
		for (k = 0; k < 2; k++) {
			int which = (k + r) % 2;
			stg_counts c;
			double t0 = bench_now();
			stg_log *log = lib_reopen(&s[which]);
			t[which][r] = bench_now() - t0;
			stg_log_counts(log, NULL, &c);
			if (c.pending + c.success != w->n)
				fprintf(stderr, "bench_log: reopen loaded %llu entries of %zu\n",
				        (unsigned long long)(c.pending + c.success), w->n);
			stg_log_close(log);
		}
	out[0] = bench_median(t[0], ra->reps);
	out[1] = bench_median(t[1], ra->reps);
	out[2] = (double)st.off[w->n] / (double)w->n;
	free(st.off);
	free(st.enc);
	free(t[0]);
	free(t[1]);
}

static void part_reopen(const bench_opts *o, const work *w)
{
	reopen_arg ra = { w, bench_reps(o, w->n) };
	double out[3], scaled;
	char note[160];
	bench_row row = { 0 };

	bench_in_child(child_reopen, &ra, out, 3);
	scaled = out[0] * 1e7 / (double)w->n;
	row.figure = "reopen: load through the storage hook (entries built on the fly)";
	row.size = w->n;
	row.lib = out[0];
	row.lib_unit = "s";
	row.anchor = NAN;
	row.ratio = NAN;
	row.target = "<= 3 s at 10M";
	row.met = scaled <= 3.0;
	row.reps = bench_reps(o, w->n);
	snprintf(note, sizeof note, "%.0f ns/entry, %.2f s per 10M at this rate", out[0] / (double)w->n * 1e9,
	         scaled);
	row.note = note;
	bench_emit(o, &row);
	scaled = out[1] * 1e7 / (double)w->n;
	row.figure = "reopen: load through the storage hook (stg_entry_decode)";
	row.lib = out[1];
	row.met = scaled <= 3.0;
	snprintf(note, sizeof note, "%.0f ns/entry, %.2f s per 10M; %.1f encoded bytes/entry",
	         out[1] / (double)w->n * 1e9, scaled, out[2]);
	bench_emit(o, &row);
}

/* ---------------------------------------------------------------- threads */

typedef struct shard {
	const work *w;
	uint32_t *idx1, *idx2;
	size_t n;
	stg_log *log;
	pthread_barrier_t *bar;
} shard;

static void *shard_run(void *arg)
{
	shard *s = arg;
	size_t counts[4] = { 0 };
	pthread_barrier_wait(s->bar);
	submit_pass(s->log, s->w, s->idx1, s->n, s->w->avail1, 1, 0, counts);
	submit_pass(s->log, s->w, s->idx2, s->n, s->w->avail2, 2, 0, counts);
	return NULL;
}

typedef struct threads_arg {
	const work *w;
	int nthreads;
} threads_arg;

static void child_threads(void *arg, double *out, int nout)
{
	const threads_arg *ta = arg;
	const work *w = ta->w;
	int T = ta->nthreads, t;
	shard sh[4];
	pthread_t th[4];
	pthread_barrier_t bar;
	size_t j;
	double t0, c0;

	(void)nout;
	pthread_barrier_init(&bar, NULL, (unsigned)T + 1);
	for (t = 0; t < T; t++) {
		sh[t].w = w;
		sh[t].idx1 = malloc(w->n * sizeof(uint32_t));
		sh[t].idx2 = malloc(w->n * sizeof(uint32_t));
		sh[t].n = 0;
		sh[t].log = open_log(NULL);
		sh[t].bar = &bar;
	}
	/* shard by SKU; each shard keeps the global random orders */
	for (j = 0; j < w->n; j++) {
		shard *a = &sh[w->perm1[j] % (uint32_t)T];
		a->idx1[a->n++] = w->perm1[j];
	}
	for (t = 0; t < T; t++)
		sh[t].n = 0;
	for (j = 0; j < w->n; j++) {
		shard *a = &sh[w->perm2[j] % (uint32_t)T];
		a->idx2[a->n++] = w->perm2[j];
	}
	for (t = 0; t < T; t++)
		pthread_create(&th[t], NULL, shard_run, &sh[t]);
	pthread_barrier_wait(&bar);
	t0 = bench_wall();
	c0 = bench_now();
	for (t = 0; t < T; t++)
		pthread_join(th[t], NULL);
	out[0] = bench_wall() - t0;
	out[1] = bench_now() - c0;
	for (t = 0; t < T; t++) {
		stg_log_close(sh[t].log);
		free(sh[t].idx1);
		free(sh[t].idx2);
	}
	pthread_barrier_destroy(&bar);
}

static void part_threads(const bench_opts *o, const work *w)
{
	static const int counts[3] = { 1, 2, 4 };
	int reps = bench_reps(o, w->n), r, k;
	double *t[3], *c[3], med[3], cmed[3];
	char note[200];
	bench_row row = { 0 };

	for (k = 0; k < 3; k++) {
		t[k] = calloc((size_t)reps, sizeof(double));
		c[k] = calloc((size_t)reps, sizeof(double));
	}
	for (r = 0; r < reps; r++)
		for (k = 0; k < 3; k++) {
			int which = (k + r) % 3;
			threads_arg ta = { w, counts[which] };
			double out[2];
			bench_in_child(child_threads, &ta, out, 2);
			t[which][r] = out[0] / (2.0 * (double)w->n) * 1e9;
			c[which][r] = out[1] / (2.0 * (double)w->n) * 1e9;
		}
	for (k = 0; k < 3; k++) {
		med[k] = bench_median(t[k], reps);
		cmed[k] = bench_median(c[k], reps);
	}
	for (k = 1; k < 3; k++) {
		row.figure = k == 1 ? "submit, 2 threads each with its own log (sharded by SKU)"
		                    : "submit, 4 threads each with its own log (sharded by SKU)";
		row.size = w->n;
		row.lib = med[k];
		row.lib_unit = "ns/submit (wall)";
		row.anchor = med[0];
		row.anchor_name = "1 thread, one log";
		row.ratio = med[0] / med[k];
		row.ratio_def = "speedup over 1 thread";
		row.target = "report scaling";
		row.met = -1;
		row.reps = reps;
		snprintf(note, sizeof note, "wall time; CPU time %.0f ns/submit vs %.0f with 1 thread;"
		         " same 2N submits as the submit figure; %ld CPUs online",
		         cmed[k], cmed[0], sysconf(_SC_NPROCESSORS_ONLN));
		row.note = note;
		bench_emit(o, &row);
	}
	for (k = 0; k < 3; k++) {
		free(t[k]);
		free(c[k]);
	}
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	bench_opts opt;
	size_t si;

	bench_parse(&opt, argc, argv, "LOG", "10k,100k", 5);
	printf("# log: one integration \"%s\", cutoff minimum %d, window %d, SKUs \"SKU-%%08d\"\n",
	       INTEG, MIN_STOCK, WINDOW);
	for (si = 0; si < opt.nsizes; si++) {
		work w;
		work_make(&w, opt.sizes[si]);
		if (opt.only && !strcmp(opt.only, "submit-lib")) {
			size_t counts[4] = { 0 };
			double t[2];
			stg_log *log = open_log(NULL);
			lib_submit_passes(log, &w, t, counts);
			printf("# submit-lib n=%zu: pass 1 %.0f ns, pass 2 %.0f ns per submit\n", w.n,
			       t[0] / (double)w.n * 1e9, t[1] / (double)w.n * 1e9);
			stg_log_close(log);
		} else if (opt.only && !strcmp(opt.only, "submit-batch-lib")) {
			double out[4];
			child_submit_batch(&w, out, 4);
			printf("# submit-batch-lib n=%zu: pass 1 %.0f ns, pass 2 %.0f ns per submit\n",
			       w.n, out[0] / (double)w.n * 1e9, out[1] / (double)w.n * 1e9);
		} else if (opt.only && !strcmp(opt.only, "pump-lib")) {
			uint64_t sum = 0;
			size_t counts[4] = { 0 }, sent;
			double t0;
			stg_log *log = pump_log(1, &sum);
			submit_pass(log, &w, w.perm1, w.n, w.avail1, 1, 0, counts);
			t0 = bench_now();
			sent = lib_pump(log);
			printf("# pump-lib n=%zu: %zu jobs, %.0f ns per job\n", w.n, sent,
			       (bench_now() - t0) / (double)sent * 1e9);
			stg_log_close(log);
		} else if (opt.only && (!strcmp(opt.only, "reopen-lib") ||
		                        !strcmp(opt.only, "reopen-decode-lib"))) {
			store st;
			stg_storage sh;
			double t0;
			stg_log *log;
			store_build(&st, &w);
			store_hook(&sh, &st, opt.only[7] == 'd');
			t0 = bench_now();
			log = lib_reopen(&sh);
			printf("# %s n=%zu: %.0f ns per entry\n", opt.only, w.n,
			       (bench_now() - t0) / (double)w.n * 1e9);
			stg_log_close(log);
			free(st.off);
			free(st.enc);
		} else {
			if (bench_want(&opt, "submit"))
				part_submit(&opt, &w);
			if (bench_want(&opt, "memory"))
				part_memory(&opt, &w);
			if (bench_want(&opt, "pump"))
				part_pump(&opt, &w);
			if (bench_want(&opt, "reopen"))
				part_reopen(&opt, &w);
			if (bench_want(&opt, "threads"))
				part_threads(&opt, &w);
		}
		work_free(&w);
	}
	return 0;
}
