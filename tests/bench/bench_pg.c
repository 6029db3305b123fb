/*
 * The integration log on PostgreSQL: examples/pg-store on a server of its
 * own, started by tests/postgres/pg_harness.py --durable DIR (PGHOST & co.
 * point at it): a Unix socket, fsync on, the data directory on a disk in
 * the build folder. The benchmark refuses a server with fsync off and a
 * data directory on tmpfs: a commit would cost nothing there.
 *
 * One integration "mkt-1" (one partition, its lease held by the store),
 * SKUs "SKU-%08d", first seen (each change an export: the entry is written
 * with its pending job). Side by side, in interleaved repetitions (the order
 * rotates), each in a fresh forked child with its own connection, the
 * tables emptied and a CHECKPOINT before each (not timed):
 *
 *   raw        the limit: the same rows (the entries' stg_entry_encode()
 *              bytes, encoded beforehand; the same partition and epoch
 *              columns) upserted straight over libpq, 1,000 rows in one
 *              multi-row INSERT ... ON CONFLICT (integration, sku) DO UPDATE
 *              (entries as binary parameters), one transaction each;
 *   raw-row    a prepared single-row INSERT ... ON CONFLICT, one round trip
 *              per row, one transaction per 1,000 rows: the cost of a round
 *              trip (and a statement) per row;
 *   raw-fenced the store's own statement (the lease row FOR SHARE in a CTE,
 *              then the upsert), one round trip per row, one transaction
 *              per 1,000 rows: what the store does minus the library;
 *   batch      stg_log_submit_batch() of 1,000 changes per call: one
 *              database transaction per call;
 *   pump       stg_log_pump(log, 1000) of due jobs with a transport that
 *              acknowledges at once: one transaction per call (the submits
 *              before it are not timed);
 *   takeover   a process holds the lease (TTL STG_BENCH_PG_TTL_MS, renewed
 *              just before) and a log of N entries, and is killed with
 *              SIGKILL (its connection drops, no release); an already
 *              connected second store polls pg_store_acquire() every
 *              STG_BENCH_PG_POLL_MS until it gets the lease, then opens its
 *              log (the load). Against: the plain SELECT below of the same
 *              rows, for the load part;
 *   load       stg_log_open() on the store over N entries (a server-side
 *              cursor, 1,000 binary rows per FETCH, every row decoded),
 *              with its peak RSS; against a plain SELECT integration, sku,
 *              entry of the same rows (binary, libpq holds the whole result)
 *              and the same cursor and FETCH without decoding (cursor).
 *
 * Times are wall-clock (the round trips and the fsync waits are the cost);
 * the CPU of this process and of the server backend serving it are in the
 * notes. Figures are medians over the repetitions.
 *
 *   bench_pg [--sizes=10k] [--reps=5] [--only=PART] [--out=FILE]
 *   env: STG_BENCH_PG_SIZES (changes of raw/batch/pump), STG_BENCH_PG_TAKEOVER
 *        (entries, default 100k), STG_BENCH_PG_LOAD (entries, default 100k),
 *        STG_BENCH_PG_TTL_MS (2000), STG_BENCH_PG_POLL_MS (10), STG_BENCH_REPS,
 *        STG_BENCH_OUT; PGHOST etc. from pg_harness.py
 *   PART: raw, raw-row, raw-fenced, batch, pump (the throughput figures), takeover,
 *        load (with its anchors)
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* statfs */

#include "bench_common.h"
#include "pg_store.h"

#include <libpq-fe.h>

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INTEG "mkt-1"
#define BATCH 1000      /* changes per call, rows per transaction */
#define LONG_TTL 600000 /* ms: the throughput runs never see a lease expire */
#define OID_BYTEA 17

static int64_t ttl_ms = 2000, poll_ms = 10;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_pg: %s: %s\n", what, why ? why : "");
	exit(1);
}

/* ------------------------------------------------------------- libpq */

static PGconn *conn_open(void)
{
	PGconn *c = PQconnectdb("");

	if (PQstatus(c) != CONNECTION_OK)
		die("connect (run me through tests/postgres/pg_harness.py --durable DIR)",
		    PQerrorMessage(c));
	return c;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static PGresult *sql(PGconn *c, const char *fmt, ...)
{
	char text[1024];
	PGresult *res;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	res = PQexec(c, text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die(text, PQresultErrorMessage(res));
	return res;
}

static long long sql_ll(PGconn *c, const char *query)
{
	PGresult *res = sql(c, "%s", query);
	long long v = atoll(PQgetvalue(res, 0, 0));

	PQclear(res);
	return v;
}

/* CPU seconds the backend @pid used so far (utime + stime of its /proc stat:
 * the server runs on this machine), NaN when unreadable. */
static double backend_cpu(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return NAN;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name in parentheses: state is field 3, utime 14. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Peak RSS of this process since peak_reset() (VmHWM), bytes. */
static void peak_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f); /* 5: reset the peak RSS to the current RSS */
		fclose(f);
	}
}

static size_t peak_rss(void)
{
	char line[256];
	size_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %zu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* ------------------------------------------------------------- the log */

/* A log on @storage with the workload's policy (bench_common.h) and a
 * transport that acknowledges at once; @t (may be NULL) receives the wall
 * and CPU seconds of stg_log_open() alone (the load). */
static stg_log *log_open(const stg_storage *storage, size_t *acks, double *t)
{
	stg_transport tr = STG_TRANSPORT_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_log *log;

	tr.send = bench_ack_send;
	tr.payload = acks;
	o.transport = &tr;
	o.storage = storage;
	if (t) {
		t[0] = bench_wall();
		t[1] = bench_now();
	}
	if (stg_log_open(&log, &o) != STG_OK)
		die("stg_log_open", stg_last_error());
	if (t) {
		t[0] = bench_wall() - t[0];
		t[1] = bench_now() - t[1];
	}
	if (bench_work_policy(log, INTEG) != STG_OK)
		die("policy", stg_log_errmsg(log));
	return log;
}

static void submit_all(stg_log *log, const bench_work *w, size_t n)
{
	stg_submit *sub = malloc(BATCH * sizeof *sub);
	size_t i, j, k, done;

	if (!sub)
		die("submit", "out of memory");
	for (i = 0; i < n; i += k) {
		k = n - i < BATCH ? n - i : BATCH;
		for (j = 0; j < k; j++)
			sub[j] = bench_work_change(w, i + j);
		if (stg_log_submit_batch(log, sub, k, NULL, &done) != STG_OK || done != k)
			die("stg_log_submit_batch", stg_log_errmsg(log));
	}
	free(sub);
}

/* ------------------------------------------------------ raw over libpq */

/* Prepare "raw_<k>": one INSERT of @k rows, $1 partition, $2 epoch, then
 * integration, SKU and entry of each row. */
static void prepare_multi(PGconn *c, size_t k)
{
	size_t cap = 256 + k * 48, len, i;
	char *q = malloc(cap), name[32];
	Oid *types = calloc(2 + 3 * k, sizeof *types);
	PGresult *res;

	if (!q || !types)
		die("prepare", "out of memory");
	len = (size_t)snprintf(q, cap, "INSERT INTO stg_entry (partition, integration, sku, entry, "
	                       "epoch) VALUES ");
	for (i = 0; i < k; i++) {
		len += (size_t)snprintf(q + len, cap - len, "%s($1, $%zu, $%zu, $%zu, $2::bigint)",
		                        i ? ", " : "", 3 + 3 * i, 4 + 3 * i, 5 + 3 * i);
		types[4 + 3 * i] = OID_BYTEA;
	}
	snprintf(q + len, cap - len, " ON CONFLICT (integration, sku) DO UPDATE SET partition ="
	         " EXCLUDED.partition, entry = EXCLUDED.entry, epoch = EXCLUDED.epoch");
	snprintf(name, sizeof name, "raw_%zu", k);
	res = PQprepare(c, name, q, (int)(2 + 3 * k), types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare", PQresultErrorMessage(res));
	PQclear(res);
	free(q);
	free(types);
}

/* One row per statement: "raw_row" as the multi-row one without its
 * batching, "raw_fenced" the store's own (examples/pg-store/pg_store.c,
 * stg_put); both take the store's six parameters. */
static void prepare_single(PGconn *c)
{
	static const Oid types[6] = { 25, 25, 20, 25, 25, OID_BYTEA };
	PGresult *res = PQprepare(c, "raw_row",
		"INSERT INTO stg_entry (partition, integration, sku, entry, epoch)"
		" VALUES ($1, $4, $5, $6, $3) ON CONFLICT (integration, sku) DO UPDATE SET"
		" partition = EXCLUDED.partition, entry = EXCLUDED.entry, epoch = EXCLUDED.epoch",
		6, types); /* $2, the owner, unused: typed, so the server accepts it */

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare", PQresultErrorMessage(res));
	PQclear(res);
	res = PQprepare(c, "raw_fenced",
		"WITH l AS (SELECT 1 FROM stg_lease WHERE partition = $1 AND owner = $2 AND epoch = $3"
		" FOR SHARE)"
		" INSERT INTO stg_entry (partition, integration, sku, entry, epoch)"
		" SELECT $1, $4, $5, $6, $3 FROM l"
		" ON CONFLICT (integration, sku) DO UPDATE SET partition = EXCLUDED.partition,"
		" entry = EXCLUDED.entry, epoch = EXCLUDED.epoch", 6, types);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare", PQresultErrorMessage(res));
	PQclear(res);
}

static void exec_ok(PGresult *res, const char *what)
{
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(what, PQresultErrorMessage(res));
	PQclear(res);
}

/* Rows [i, i + k) in one multi-row statement (prepared for k already). */
static void raw_multi(PGconn *c, const bench_work *w, size_t i, size_t k, const char *epoch)
{
	size_t np = 2 + 3 * k, j;
	const char **v = malloc(np * sizeof *v);
	int *len = calloc(np, sizeof *len), *fmt = calloc(np, sizeof *fmt);
	char name[32];

	if (!v || !len || !fmt)
		die("raw", "out of memory");
	v[0] = INTEG;
	v[1] = epoch;
	for (j = 0; j < k; j++) {
		v[2 + 3 * j] = INTEG;
		v[3 + 3 * j] = BENCH_SKU(w->skus, i + j);
		v[4 + 3 * j] = (const char *)w->enc + w->off[i + j];
		len[4 + 3 * j] = (int)(w->off[i + j + 1] - w->off[i + j]);
		fmt[4 + 3 * j] = 1;
	}
	snprintf(name, sizeof name, "raw_%zu", k);
	exec_ok(PQexecPrepared(c, name, (int)np, v, len, fmt, 0), "raw insert");
	free(v);
	free(len);
	free(fmt);
}

/* All N rows, BATCH per transaction: multi-row statements (@single NULL),
 * or the prepared @single once per row (under the lease @owner holds). */
static void raw_rows(PGconn *c, const bench_work *w, const char *single, const char *owner)
{
	size_t i, j, k;

	for (i = 0; i < w->n; i += k) {
		k = w->n - i < BATCH ? w->n - i : BATCH;
		exec_ok(PQexec(c, "BEGIN"), "BEGIN");
		if (!single) {
			raw_multi(c, w, i, k, "1");
		} else {
			for (j = i; j < i + k; j++) {
				const char *v[6] = { INTEG, owner, "1", INTEG, BENCH_SKU(w->skus, j),
				                     (const char *)w->enc + w->off[j] };
				int len[6] = { 0, 0, 0, 0, 0, (int)(w->off[j + 1] - w->off[j]) };
				int fmt[6] = { 0, 0, 0, 0, 0, 1 };
				PGresult *res = PQexecPrepared(c, single, 6, v, len, fmt, 0);
				if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(res), "1"))
					die(single, PQresultErrorMessage(res));
				PQclear(res);
			}
		}
		exec_ok(PQexec(c, "COMMIT"), "COMMIT");
	}
}

static void prepare_for(PGconn *c, size_t n)
{
	prepare_multi(c, n < BATCH ? n : BATCH);
	if (n > BATCH && n % BATCH)
		prepare_multi(c, n % BATCH);
}

/* Empty tables (the store creates them), then a checkpoint, so that every
 * measurement starts from the same state. */
static void reset_tables(void)
{
	pg_store *st;
	PGconn *c;

	if (pg_store_open(&st, "", "bench-setup") != 0)
		die("pg_store_open", pg_store_errmsg(st));
	pg_store_close(st);
	c = conn_open();
	PQclear(sql(c, "TRUNCATE stg_entry, stg_lease, stg_integration"));
	PQclear(sql(c, "CHECKPOINT"));
	PQfinish(c);
}

/* The N entries in the table (multi-row statements), vacuumed and analysed
 * (which also reads every page once: the first measurement starts warm). */
static void populate(const bench_work *w)
{
	PGconn *c;

	reset_tables();
	c = conn_open();
	prepare_for(c, w->n);
	raw_rows(c, w, NULL, NULL);
	PQclear(sql(c, "VACUUM ANALYZE stg_entry"));
	PQclear(sql(c, "CHECKPOINT"));
	PQfinish(c);
}

/* --------------------------------------------------------- repetitions */

#define NOUT 5 /* numbers a measurement returns */

typedef void (*measure_fn)(void *arg, double *out, int nout);

/*
 * @reps interleaved repetitions of @nv measurements (the order rotates),
 * each in a fresh forked child: fn[v](arg[v], out, NOUT), after @before
 * (may be NULL; not timed). med[v][k] receives the median of output k, NaN
 * for a measurement left out (with @filter, those --only does not name).
 * Returns how many measurements ran.
 */
static int interleave(const bench_opts *o, int nv, const char *const *names, int filter,
                      const measure_fn *fn, void *const *arg, void (*before)(void),
                      double (*med)[NOUT])
{
	int reps = o->reps, r, j, v, k, ran = 0;
	double *m = malloc((size_t)(nv * NOUT * reps) * sizeof *m), out[NOUT];

	if (!m)
		die("repetitions", "out of memory");
	for (r = 0; r < reps; r++) {
		for (j = 0; j < nv; j++) {
			v = (j + r) % nv;
			if (filter && !bench_want(o, names[v]))
				continue;
			if (before)
				before();
			if (bench_in_child(fn[v], arg[v], out, NOUT))
				die(names[v], "the measurement failed");
			for (k = 0; k < NOUT; k++)
				m[(v * NOUT + k) * reps + r] = out[k];
			ran++;
		}
	}
	for (v = 0; v < nv; v++)
		for (k = 0; k < NOUT; k++)
			med[v][k] = filter && !bench_want(o, names[v]) ? NAN
			                                                : bench_median(m + (v * NOUT + k) * reps, reps);
	free(m);
	return ran;
}

/* ----------------------------------------------------- the throughputs */

enum { V_RAW, V_ROW, V_FENCED, V_BATCH, V_PUMP, V_N };
static const char *const vname[V_N] = { "raw", "raw-row", "raw-fenced", "batch", "pump" };

static pg_store *store_lease(const char *owner)
{
	pg_store *st;

	if (pg_store_open(&st, "", owner) != 0)
		die("pg_store_open", pg_store_errmsg(st));
	if (pg_store_acquire(st, INTEG, LONG_TTL, NULL) != 0)
		die("pg_store_acquire", pg_store_errmsg(st));
	return st;
}

typedef struct run_arg {
	const bench_work *w;
	int v;
} run_arg;

/* One variant over all N; out: wall s, CPU s, backend CPU s. */
static void child_rate(void *arg, double *out, int nout)
{
	const run_arg *a = arg;
	const bench_work *w = a->w;
	size_t acks = 0, sent, total = 0;
	double t0, c0, b0;
	stg_storage storage;
	stg_log *log = NULL;
	pg_store *st = NULL;
	PGconn *c = NULL;
	int pid;

	(void)nout;
	if (a->v == V_RAW || a->v == V_ROW || a->v == V_FENCED) {
		if (a->v == V_FENCED)
			st = store_lease("bench-raw"); /* the lease row the statement locks */
		c = conn_open();
		if (a->v == V_RAW)
			prepare_for(c, w->n);
		else
			prepare_single(c);
		pid = PQbackendPID(c);
	} else {
		st = store_lease("bench-lib");
		pg_store_hook(st, &storage);
		log = log_open(&storage, &acks, NULL);
		if (a->v == V_PUMP)
			submit_all(log, w, w->n); /* the jobs, not timed */
		pid = pg_store_backend_pid(st);
	}
	b0 = backend_cpu(pid);
	t0 = bench_wall();
	c0 = bench_now();
	switch (a->v) {
	case V_RAW: raw_rows(c, w, NULL, NULL); break;
	case V_ROW: raw_rows(c, w, "raw_row", "bench-raw"); break;
	case V_FENCED: raw_rows(c, w, "raw_fenced", "bench-raw"); break;
	case V_BATCH: submit_all(log, w, w->n); break;
	default:
		while (total < w->n) {
			if (stg_log_pump(log, BATCH, &sent) != STG_OK || sent == 0)
				die("stg_log_pump", stg_log_errmsg(log));
			total += sent;
		}
		if (total != w->n || acks != w->n)
			die("pump", "not every job was acknowledged");
		break;
	}
	out[0] = bench_wall() - t0;
	out[1] = bench_now() - c0;
	out[2] = backend_cpu(pid) - b0;
	if (log)
		stg_log_close(log);
	if (c)
		PQfinish(c);
	c = conn_open();
	if (sql_ll(c, "SELECT count(*) FROM stg_entry") != (long long)w->n)
		die(vname[a->v], "the table does not hold every entry");
	PQfinish(c);
	pg_store_close(st);
}

static void emit_rate(const bench_opts *o, size_t n, const double *rate, const double *cpu,
                      const double *bcpu, int v, int anchor, const char *figure,
                      const char *unit, const char *anchor_name, const char *extra)
{
	bench_row row = { 0 };
	char note[700];

	row.figure = figure;
	row.size = n;
	row.lib = rate[v];
	row.lib_unit = unit;
	row.anchor = rate[anchor];
	row.anchor_name = anchor_name;
	row.ratio = rate[v] / rate[anchor];
	row.ratio_def = "rate lib / rate anchor";
	row.met = -1;
	row.reps = o->reps;
	snprintf(note, sizeof note, "wall time; per item %.1f us wall, %.1f us CPU here, %.1f us CPU "
	         "in the server backend (the anchor: %.1f, %.1f, %.1f)%s%s", 1e6 / rate[v],
	         cpu[v] * 1e6, bcpu[v] * 1e6, 1e6 / rate[anchor], cpu[anchor] * 1e6,
	         bcpu[anchor] * 1e6, extra ? "; " : "", extra ? extra : "");
	row.note = note;
	bench_emit(o, &row);
}

static void run_rates(const bench_opts *o, size_t n)
{
	measure_fn fn[V_N];
	void *arg[V_N];
	run_arg a[V_N];
	double med[V_N][NOUT], rate[V_N], cpu[V_N], bcpu[V_N];
	char extra[300];
	bench_work w;
	int v, ran;

	bench_work_make(&w, INTEG, n, 0x13198a2e03707344u);
	printf("# n=%zu changes: encoded entry %zu bytes (mean)\n", n, w.off[n] / n);
	for (v = 0; v < V_N; v++) {
		a[v].w = &w;
		a[v].v = v;
		fn[v] = child_rate;
		arg[v] = &a[v];
	}
	ran = interleave(o, V_N, vname, 1, fn, arg, reset_tables, med);
	for (v = 0; v < V_N; v++) {
		rate[v] = (double)n / med[v][0];
		cpu[v] = med[v][1] / (double)n;
		bcpu[v] = med[v][2] / (double)n;
		if (!isnan(rate[v]))
			printf("# %-10s n=%zu: %.0f per s (median of %d), %.1f us CPU here, %.1f us in the "
			       "backend per item\n", vname[v], n, rate[v], o->reps, cpu[v] * 1e6,
			       bcpu[v] * 1e6);
	}
	if (ran == V_N * o->reps) {
		snprintf(extra, sizeof extra, "without the library, one round trip per row: a plain "
		         "prepared upsert does %.0f rows/s (%.2fx of the multi-row anchor), the store's "
		         "fenced upsert %.0f rows/s (%.2fx)", rate[V_ROW], rate[V_ROW] / rate[V_RAW],
		         rate[V_FENCED], rate[V_FENCED] / rate[V_RAW]);
		emit_rate(o, n, rate, cpu, bcpu, V_BATCH, V_RAW,
		          "pg: stg_log_submit_batch, 1,000 changes per call (1 DB txn each)", "changes/s",
		          "raw multi-row INSERT ... ON CONFLICT of the same rows, 1,000 per txn", extra);
		emit_rate(o, n, rate, cpu, bcpu, V_PUMP, V_RAW,
		          "pg: stg_log_pump, transport acks at once, 1,000 jobs per call (1 DB txn each)",
		          "acks/s", "raw multi-row INSERT ... ON CONFLICT of the same rows, 1,000 per txn",
		          "each ack rewrites an existing row (the anchor inserts)");
		emit_rate(o, n, rate, cpu, bcpu, V_BATCH, V_FENCED,
		          "pg: stg_log_submit_batch against the store's statement without the library",
		          "changes/s", "raw loop of the store's fenced upsert, 1 round trip per row, "
		          "1,000 per txn", NULL);
	}
	bench_work_free(&w);
}

/* ------------------------------------------------------------ the load */

/* out: wall s, CPU s, peak RSS growth bytes, RSS growth at the end bytes. */
static void child_load(void *arg, double *out, int nout)
{
	const bench_work *w = arg;
	size_t acks = 0, rss0;
	stg_storage storage;
	stg_counts counts;
	pg_store *st = store_lease("bench-load");
	stg_log *log;

	(void)nout;
	pg_store_hook(st, &storage);
	bench_trim();
	rss0 = bench_rss();
	peak_reset();
	log = log_open(&storage, &acks, out);
	out[2] = (double)(peak_rss() - rss0);
	out[3] = (double)(bench_rss() - rss0);
	if (stg_log_counts(log, INTEG, &counts) != STG_OK || counts.pending != w->n)
		die("load", "the log does not hold every entry");
	stg_log_close(log);
	pg_store_release(st);
	pg_store_close(st);
}

/* The anchors: the same rows read over libpq, whole (plain SELECT) or by
 * the store's cursor and FETCH size, bytes summed, nothing decoded. */
/* The anchors read one byte of every row into this, so the compiler cannot
 * drop the reads; file scope, as a volatile local that is only written is a
 * warning under clang. */
static volatile unsigned read_sink;

static void child_read(void *arg, double *out, int nout, int cursor)
{
	const bench_work *w = arg;
	PGconn *c = conn_open();
	size_t rss0, rows = 0, bytes = 0;
	PGresult *res;
	double t0, c0;
	int i;

	(void)nout;
	bench_trim();
	rss0 = bench_rss();
	peak_reset();
	t0 = bench_wall();
	c0 = bench_now();
	if (cursor) {
		PQclear(sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
		PQclear(sql(c, "DECLARE cur NO SCROLL CURSOR FOR SELECT integration, sku, entry"
		            " FROM stg_entry WHERE partition = ANY('{" INTEG "}'::text[])"));
	}
	for (;;) {
		res = PQexecParams(c, cursor ? "FETCH 1000 FROM cur" : "SELECT integration, sku, entry"
		                   " FROM stg_entry WHERE partition = ANY('{" INTEG "}'::text[])",
		                   0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die("read", PQresultErrorMessage(res));
		for (i = 0; i < PQntuples(res); i++) {
			bytes += (size_t)(PQgetlength(res, i, 0) + PQgetlength(res, i, 1) +
			                  PQgetlength(res, i, 2));
			read_sink += (unsigned char)PQgetvalue(res, i, 2)[0]; /* read the bytes */
		}
		rows += (size_t)PQntuples(res);
		i = PQntuples(res);
		PQclear(res);
		if (!cursor || i == 0)
			break;
	}
	if (cursor)
		PQclear(sql(c, "COMMIT"));
	out[0] = bench_wall() - t0;
	out[1] = bench_now() - c0;
	out[2] = (double)(peak_rss() - rss0);
	out[3] = (double)bytes;
	PQfinish(c);
	if (rows != w->n)
		die("read", "not every row");
}

static void child_select(void *arg, double *out, int nout) { child_read(arg, out, nout, 0); }
static void child_cursor(void *arg, double *out, int nout) { child_read(arg, out, nout, 1); }

/* ------------------------------------------------------- the takeover */

/* The killed instance: lease, log (loaded), renew, tell @fd, wait for SIGKILL. */
static void victim(int fd)
{
	size_t acks = 0;
	stg_storage storage;
	pg_store *st = store_lease("bench-victim");
	stg_log *log;

	pg_store_hook(st, &storage);
	log = log_open(&storage, &acks, NULL);
	(void)log; /* lost with the process */
	if (pg_store_renew(st, ttl_ms) != 0)
		die("renew", pg_store_errmsg(st));
	if (write(fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* out: kill to the log open s, the load s, kill to the lease (expiry wait +
 * acquire) s, polls, the successful acquire s. */
static void child_takeover(void *arg, double *out, int nout)
{
	const bench_work *w = arg;
	size_t acks = 0;
	stg_storage storage;
	stg_counts counts;
	double t0, t1, tl[2], ta = 0;
	struct timespec pause_ts;
	pg_store *st;
	stg_log *log;
	int fd[2], rc, polls = 0;
	char ready;
	pid_t pid;

	(void)nout;
	if (pipe(fd))
		die("pipe", "failed");
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(fd[0]);
		victim(fd[1]);
	}
	close(fd[1]);
	if (pid < 0 || read(fd[0], &ready, 1) != 1)
		die("takeover", "the instance to kill did not start");
	/* The standby instance, connected already. */
	if (pg_store_open(&st, "", "bench-standby") != 0)
		die("pg_store_open", pg_store_errmsg(st));
	t0 = bench_wall();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pause_ts.tv_sec = poll_ms / 1000;
	pause_ts.tv_nsec = (long)(poll_ms % 1000) * 1000000L;
	for (;;) {
		double a0 = bench_wall();
		rc = pg_store_acquire(st, INTEG, ttl_ms, NULL);
		ta = bench_wall() - a0;
		polls++;
		if (rc == 0)
			break;
		if (rc != PG_STORE_TAKEN)
			die("pg_store_acquire", pg_store_errmsg(st));
		nanosleep(&pause_ts, NULL);
	}
	t1 = bench_wall();
	pg_store_hook(st, &storage);
	log = log_open(&storage, &acks, tl);
	if (stg_log_counts(log, INTEG, &counts) != STG_OK || counts.pending != w->n)
		die("takeover", "the log does not hold every entry");
	out[0] = t1 - t0 + tl[0];
	out[1] = tl[0];
	out[2] = t1 - t0;
	out[3] = polls;
	out[4] = ta;
	stg_log_close(log);
	pg_store_release(st); /* a clean stop: the next victim acquires at once */
	pg_store_close(st);
}

/* ---------------------------------------------------------------- rows */

static void emit_time(const bench_opts *o, size_t n, const char *figure, double lib,
                      const char *unit, double anchor, const char *anchor_name, int reps,
                      const char *note)
{
	bench_row row = { 0 };

	row.figure = figure;
	row.size = n;
	row.lib = lib;
	row.lib_unit = unit;
	row.anchor = anchor;
	row.anchor_name = anchor_name;
	row.ratio = lib / anchor;
	row.ratio_def = "lib / anchor (time or bytes: lower is better)";
	row.met = -1;
	row.reps = reps;
	row.note = note;
	bench_emit(o, &row);
}

enum { L_LIB, L_SELECT, L_CURSOR, L_N };

static void run_load(const bench_opts *o, size_t n)
{
	static const measure_fn fn[L_N] = { child_load, child_select, child_cursor };
	static const char *const lname[L_N] = { "load", "select", "cursor" };
	double med[L_N][NOUT];
	void *arg[L_N];
	char note[800];
	bench_work w;
	int v;

	bench_work_make(&w, INTEG, n, 0x13198a2e03707344u);
	populate(&w);
	for (v = 0; v < L_N; v++)
		arg[v] = &w;
	interleave(o, L_N, lname, 0, fn, arg, NULL, med);
	for (v = 0; v < L_N; v++)
		printf("# %-6s n=%zu: %.3f s wall, %.3f s CPU, peak RSS +%.1f MiB (median of %d)\n",
		       lname[v], n, med[v][0], med[v][1], med[v][2] / 1048576.0, o->reps);
	snprintf(note, sizeof note, "wall time; the same cursor and FETCH 1,000 without decoding "
	         "takes %.3f s (%.2fx of the SELECT); CPU of this process: the load %.3f s, the cursor "
	         "read %.3f s, the SELECT %.3f s, so decoding the rows and building the log cost "
	         "%.0f ns of CPU per entry", med[L_CURSOR][0], med[L_CURSOR][0] / med[L_SELECT][0],
	         med[L_LIB][1], med[L_CURSOR][1], med[L_SELECT][1],
	         (med[L_LIB][1] - med[L_CURSOR][1]) * 1e9 / (double)n);
	emit_time(o, n, "pg: load, stg_log_open over the store (cursor, 1,000 rows per FETCH)",
	          med[L_LIB][0], "s", med[L_SELECT][0],
	          "plain SELECT integration, sku, entry of the same rows over libpq", o->reps, note);
	snprintf(note, sizeof note, "RSS growth while opening (VmHWM after /proc/self/clear_refs); "
	         "what the log holds once open: %.1f B/entry, so the load held %.1f MiB beyond it "
	         "(%s); the plain SELECT holds the whole result (%.1f B of row data per entry), the "
	         "cursor read peaks at +%.1f MiB", med[L_LIB][3] / (double)n,
	         (med[L_LIB][2] - med[L_LIB][3]) / 1048576.0,
	         med[L_LIB][2] - med[L_LIB][3] < 0.1 * med[L_SELECT][3]
	             ? "under a tenth of the rows' bytes: not the rows twice"
	             : "**a tenth of the rows' bytes or more**",
	         med[L_SELECT][3] / (double)n, med[L_CURSOR][2] / 1048576.0);
	emit_time(o, n, "pg: load, peak RSS growth of stg_log_open", med[L_LIB][2] / (double)n,
	          "B/entry", med[L_SELECT][2] / (double)n,
	          "the plain SELECT's peak RSS growth (libpq holds the result)", o->reps, note);
	bench_work_free(&w);
}

enum { T_KILL, T_SELECT, T_N };

static void run_takeover(const bench_opts *o, size_t n)
{
	static const measure_fn fn[T_N] = { child_takeover, child_select };
	static const char *const tname[T_N] = { "takeover", "select" };
	double med[T_N][NOUT];
	void *arg[T_N];
	char figure[200], anchor[100], note[800];
	bench_work w;

	bench_work_make(&w, INTEG, n, 0x13198a2e03707344u);
	populate(&w);
	arg[T_KILL] = arg[T_SELECT] = &w;
	interleave(o, T_N, tname, 0, fn, arg, NULL, med);
	printf("# takeover n=%zu: %.3f s in all, %.3f s to the lease (%.0f polls, the last acquire "
	       "%.2f ms), %.3f s load; select %.3f s (medians of %d)\n", n, med[T_KILL][0],
	       med[T_KILL][2], med[T_KILL][3], med[T_KILL][4] * 1e3, med[T_KILL][1],
	       med[T_SELECT][0], o->reps);
	snprintf(figure, sizeof figure, "pg: takeover after SIGKILL, lease TTL %.1f s: expiry wait + "
	         "acquire + load", (double)ttl_ms / 1e3);
	snprintf(anchor, sizeof anchor, "the TTL: the shortest possible wait");
	snprintf(note, sizeof note, "wall time from the kill to the new owner's log open; the lease "
	         "after %.3f s (renewed just before the kill; polled every %lld ms, %.0f polls, the "
	         "successful pg_store_acquire() %.2f ms), then the load %.3f s",
	         med[T_KILL][2], (long long)poll_ms, med[T_KILL][3], med[T_KILL][4] * 1e3,
	         med[T_KILL][1]);
	emit_time(o, n, figure, med[T_KILL][0], "s", (double)ttl_ms / 1e3, anchor,
	          o->reps, note);
	snprintf(note, sizeof note, "wall time of stg_log_open() on the new owner's store, right "
	         "after the takeover (the lease rows moved, the table as the killed owner left it)");
	emit_time(o, n, "pg: takeover, the load part alone", med[T_KILL][1], "s", med[T_SELECT][0],
	          "plain SELECT integration, sku, entry of the same rows over libpq", o->reps, note);
	bench_work_free(&w);
}

/* ---------------------------------------------------------------- main */

/* A count from the environment: "100000", "100k", "1M". */
static size_t env_size(const char *name, size_t def)
{
	const char *v = getenv(name);
	char *end;
	double x;

	if (!v || !*v)
		return def;
	x = strtod(v, &end);
	if (*end == 'k' || *end == 'K')
		x *= 1e3;
	else if (*end == 'M' || *end == 'm')
		x *= 1e6;
	if (end == v || x < 1)
		die(name, "is not a count (100000, 100k, 1M)");
	return (size_t)x;
}

/* The server's settings, checked: fsync on, data directory not on tmpfs. */
static void check_server(void)
{
	const char *data = getenv("STG_PG_DATA");
	PGconn *c = conn_open();
	PGresult *res = sql(c, "SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
	                    " current_setting('full_page_writes'), current_setting('wal_sync_method'),"
	                    " current_setting('shared_buffers'), version()");
	struct statfs sf;
	char ver[64];

	snprintf(ver, sizeof ver, "%s", PQgetvalue(res, 0, 5));
	if (strchr(ver, ' ') && strchr(strchr(ver, ' ') + 1, ' '))
		*strchr(strchr(ver, ' ') + 1, ' ') = '\0';
	if (strcmp(PQgetvalue(res, 0, 0), "on") != 0)
		die("the server runs with fsync off", "run me through tests/postgres/pg_harness.py "
		    "--durable DIR");
	if (!data || statfs(data, &sf) != 0)
		die("STG_PG_DATA", "not set or not readable (run me through pg_harness.py --durable DIR)");
	if ((unsigned long)sf.f_type == 0x01021994 || (unsigned long)sf.f_type == 0x858458f6)
		die(data, "is on tmpfs or ramfs: give pg_harness.py --durable a folder on a disk");
	printf("# pg: %s, data directory %s (%s), Unix socket %s; fsync=%s synchronous_commit=%s "
	       "full_page_writes=%s wal_sync_method=%s shared_buffers=%s; one integration \"%s\", SKUs "
	       "\"SKU-%%08d\", first seen\n", ver, data,
	       (unsigned long)sf.f_type == 0xEF53 ? "ext2/3/4" : "a disk file system",
	       PQhost(c), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
	       PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), INTEG);
	PQclear(res);
	PQfinish(c);
}

int main(int argc, char **argv)
{
	size_t takeover_n = env_size("STG_BENCH_PG_TAKEOVER", 100000);
	size_t load_n = env_size("STG_BENCH_PG_LOAD", 100000);
	const char *v;
	bench_opts opt;
	size_t si;
	int vi, rates = 0;

	bench_parse(&opt, argc, argv, "PG", "10k", 5);
	if ((v = getenv("STG_BENCH_PG_TTL_MS")) && *v)
		ttl_ms = atoll(v);
	if ((v = getenv("STG_BENCH_PG_POLL_MS")) && *v)
		poll_ms = atoll(v);
	if (ttl_ms <= 0 || poll_ms <= 0)
		die("STG_BENCH_PG_TTL_MS and _POLL_MS", "must be positive");
	setvbuf(stdout, NULL, _IOLBF, 0);
	check_server();
	for (vi = 0; vi < V_N; vi++)
		rates |= bench_want(&opt, vname[vi]);
	for (si = 0; si < opt.nsizes && rates; si++)
		run_rates(&opt, opt.sizes[si]);
	if (bench_want(&opt, "takeover"))
		run_takeover(&opt, takeover_n);
	if (bench_want(&opt, "load"))
		run_load(&opt, load_n);
	return 0;
}
