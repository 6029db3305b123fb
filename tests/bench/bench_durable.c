/*
 * The integration log on durable storage: the example SQLite store
 * (examples/sqlite-store, WAL, synchronous=FULL) on a database file in the
 * build folder, never tmpfs (the file system is printed, and tmpfs is
 * refused: an fsync there costs nothing).
 *
 * N SKUs ("SKU-%08d", one integration, first seen: each change is an
 * export and its entry is written with a pending job), a fresh database
 * file per measurement. Side by side, in interleaved repetitions (the order
 * rotates), each in a fresh forked child:
 *
 *   raw         the limit of this store: the same rows (the entries'
 *               stg_entry_encode() bytes, encoded beforehand) upserted with
 *               the store's prepared INSERT OR REPLACE into the same table,
 *               without the library: all N in one transaction, in
 *               transactions of 100, and one commit per row;
 *   batch       stg_log_submit_batch() of N, the store at version 2: the
 *               log makes the call one transaction;
 *   pump        stg_log_pump() of N due jobs with a transport that
 *               acknowledges at once: one transaction per pump call (the
 *               submits before it are not timed);
 *   host100     one stg_log_submit() per change, stg_log_begin() /
 *               stg_log_commit() around every 100;
 *   single      one stg_log_submit() per change, no transaction: each
 *               durable on return (at most 1,000 changes: one fsync each);
 *   v1          the version-1 path: the same store with begin, commit and
 *               rollback NULL (storage version 1), so that every write is
 *               its own commit: submit_batch and pump (at most 1,000).
 *
 * Times are wall-clock (the fsync waits are the cost measured here; the CPU
 * time is printed beside it). Rates are medians over the repetitions.
 *
 *   bench_durable [--sizes=10k] [--reps=5] [--only=VARIANT] [--out=FILE]
 *   env: STG_BENCH_DURABLE_SIZES, STG_BENCH_REPS, STG_BENCH_OUT,
 *        STG_BENCH_DURABLE_DIR (where the database goes; default: the
 *        current folder, which meson test makes the build folder)
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* statfs */

#include "bench_common.h"
#include "sqlite_store.h"

#include <sqlite3.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#define INTEG "mkt-1"
#define HOST_TXN 100   /* changes per host transaction */
#define SLOW_MAX 1000  /* changes of the paths that fsync once per change */

static char db_path[4096];

enum {
	V_RAW_ALL, V_BATCH, V_PUMP, V_RAW_100, V_HOST100, V_RAW_ROW, V_SINGLE, V_V1_BATCH, V_V1_PUMP,
	V_N
};

static const char *const vname[V_N] = {
	"raw-all", "batch", "pump", "raw-100", "host100", "raw-row", "single", "v1-batch", "v1-pump"
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_durable: %s: %s\n", what, why);
	exit(1);
}

static void remove_db(void)
{
	char p[4200];

	unlink(db_path);
	snprintf(p, sizeof p, "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", db_path);
	unlink(p);
}

/* The log on @st, with the workload's policy and a transport that
 * acknowledges at once. @version 1 drops the store's
 * transactions. */
static stg_log *open_log(sqlite_store *st, unsigned version, size_t *acks)
{
	stg_storage storage;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_log *log;

	sqlite_store_hook(st, &storage);
	if (version == 1) {
		storage.version = 1;
		storage.begin = NULL;
		storage.commit = NULL;
		storage.rollback = NULL;
	}
	o.storage = &storage;
	t.send = bench_ack_send;
	t.payload = acks;
	o.transport = &t;
	if (stg_log_open(&log, &o) != STG_OK)
		die("open", stg_last_error());
	if (bench_work_policy(log, INTEG) != STG_OK)
		die("policy", stg_log_errmsg(log));
	return log;
}

/* ----------------------------------------------------------- raw SQLite */

static void sql_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(sql, sqlite3_errmsg(db));
}

/* @n rows, a transaction per @group rows (0: autocommit, a commit per row).
 * out: wall s, CPU s, rows. */
static void raw_upsert(const bench_work *w, size_t n, size_t group, double *out)
{
	sqlite3 *db;
	sqlite3_stmt *put, *begin, *commit;
	double t0, c0;
	size_t i;

	remove_db();
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		die("sqlite open", sqlite3_errmsg(db));
	/* The store's settings and table (examples/sqlite-store/sqlite_store.c). */
	sql_exec(db, "PRAGMA journal_mode=WAL");
	sql_exec(db, "PRAGMA synchronous=FULL");
	sql_exec(db, "CREATE TABLE IF NOT EXISTS stg_entry (integration TEXT NOT NULL, sku TEXT NOT NULL,"
	         " entry BLOB NOT NULL, PRIMARY KEY (integration, sku)) WITHOUT ROWID");
	if (sqlite3_prepare_v3(db, "INSERT OR REPLACE INTO stg_entry (integration, sku, entry) VALUES "
	                       "(?1, ?2, ?3)", -1, SQLITE_PREPARE_PERSISTENT, &put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &begin, NULL) ||
	    sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &commit, NULL))
		die("sqlite prepare", sqlite3_errmsg(db));
	t0 = bench_wall();
	c0 = bench_now();
	for (i = 0; i < n; i++) {
		if (group && i % group == 0 && (sqlite3_step(begin) != SQLITE_DONE || sqlite3_reset(begin)))
			die("BEGIN", sqlite3_errmsg(db));
		sqlite3_bind_text(put, 1, INTEG, -1, SQLITE_STATIC);
		sqlite3_bind_text(put, 2, BENCH_SKU(w->skus, i), -1, SQLITE_STATIC);
		sqlite3_bind_blob(put, 3, w->enc + w->off[i], (int)(w->off[i + 1] - w->off[i]), SQLITE_STATIC);
		if (sqlite3_step(put) != SQLITE_DONE)
			die("upsert", sqlite3_errmsg(db));
		sqlite3_reset(put);
		if (group && (i % group == group - 1 || i == n - 1) &&
		    (sqlite3_step(commit) != SQLITE_DONE || sqlite3_reset(commit)))
			die("COMMIT", sqlite3_errmsg(db));
	}
	out[0] = bench_wall() - t0;
	out[1] = bench_now() - c0;
	out[2] = (double)n;
	sqlite3_finalize(put);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_close(db);
}

/* ------------------------------------------------------------ the library */

static sqlite_store *store_open(void)
{
	sqlite_store *st;

	remove_db();
	if (sqlite_store_open(&st, db_path) != 0)
		die("store", sqlite_store_errmsg(st));
	return st;
}

static void submit_batch(stg_log *log, const bench_work *w, size_t n)
{
	stg_submit *sub = malloc(n * sizeof *sub);
	size_t i, done;

	if (!sub)
		die("batch", "out of memory");
	for (i = 0; i < n; i++)
		sub[i] = bench_work_change(w, i);
	if (stg_log_submit_batch(log, sub, n, NULL, &done) != STG_OK || done != n)
		die("submit_batch", stg_log_errmsg(log));
	free(sub);
}

/* One variant over @n changes; out: wall s, CPU s, changes or acks. */
static void lib_run(const bench_work *w, int v, size_t n, double *out)
{
	sqlite_store *st = store_open();
	size_t acks = 0, sent = 0, i;
	stg_log *log = open_log(st, v == V_V1_BATCH || v == V_V1_PUMP ? 1 : 2, &acks);
	double t0 = 0, c0 = 0;

	if (v == V_PUMP || v == V_V1_PUMP)
		submit_batch(log, w, n); /* the jobs, not timed */
	t0 = bench_wall();
	c0 = bench_now();
	switch (v) {
	case V_BATCH:
	case V_V1_BATCH:
		submit_batch(log, w, n);
		break;
	case V_PUMP:
	case V_V1_PUMP:
		if (stg_log_pump(log, 0, &sent) != STG_OK || sent != n || acks != n)
			die("pump", stg_log_errmsg(log));
		break;
	case V_HOST100:
	case V_SINGLE:
		for (i = 0; i < n; i++) {
			stg_submit s = bench_work_change(w, i);
			if (v == V_HOST100 && i % HOST_TXN == 0 && stg_log_begin(log) != STG_OK)
				die("begin", stg_log_errmsg(log));
			if (stg_log_submit(log, &s, NULL) != STG_OK)
				die("submit", stg_log_errmsg(log));
			if (v == V_HOST100 && (i % HOST_TXN == HOST_TXN - 1 || i == n - 1) &&
			    stg_log_commit(log) != STG_OK)
				die("commit", stg_log_errmsg(log));
		}
		break;
	default:
		die("variant", vname[v]);
	}
	out[0] = bench_wall() - t0;
	out[1] = bench_now() - c0;
	out[2] = (double)n;
	stg_log_close(log);
	/* Every change (and every acknowledgement) is in the table. */
	if (sqlite_store_count(st) != (long long)n)
		die("count", "the table does not hold every entry");
	sqlite_store_close(st);
}

typedef struct run_arg {
	const bench_work *w;
	int v;
} run_arg;

static size_t variant_n(const bench_work *w, int v)
{
	int slow = v == V_RAW_ROW || v == V_SINGLE || v == V_V1_BATCH || v == V_V1_PUMP;
	return slow && w->n > SLOW_MAX ? SLOW_MAX : w->n;
}

static void child_run(void *arg, double *out, int nout)
{
	const run_arg *a = arg;
	size_t n = variant_n(a->w, a->v);

	(void)nout;
	switch (a->v) {
	case V_RAW_ALL: raw_upsert(a->w, n, n, out); break;
	case V_RAW_100: raw_upsert(a->w, n, HOST_TXN, out); break;
	case V_RAW_ROW: raw_upsert(a->w, n, 0, out); break;
	default: lib_run(a->w, a->v, n, out); break;
	}
}

/* ---------------------------------------------------------------- report */

static void emit(const bench_opts *o, const bench_work *w, int v, const double *rate,
                 const double *cpu, int reps, int anchor_v, const char *figure, const char *unit,
                 const char *anchor_name, double target, const char *target_text, double min_ratio,
                 const char *extra)
{
	bench_row row = { 0 };
	char note[600];
	double lib = rate[v], anchor = anchor_v >= 0 ? rate[anchor_v] : NAN;

	row.figure = figure;
	row.size = variant_n(w, v);
	row.lib = lib;
	row.lib_unit = unit;
	row.anchor = anchor;
	row.anchor_name = anchor_name;
	row.ratio = anchor_v >= 0 ? lib / anchor : NAN;
	row.ratio_def = "rate lib / rate anchor";
	row.target = target_text;
	row.met = target_text ? lib >= target && (isnan(min_ratio) || row.ratio >= min_ratio) : -1;
	row.reps = reps;
	snprintf(note, sizeof note, "wall time, WAL + synchronous=FULL, database in the build folder; "
	         "%.2f us CPU per item (of %.2f us wall)%s%s", cpu[v] * 1e6, 1e6 / lib,
	         extra ? "; " : "", extra ? extra : "");
	row.note = note;
	bench_emit(o, &row);
}

static void run_size(const bench_opts *o, const bench_work *w)
{
	int reps = bench_reps(o, w->n), r, j, v;
	double *wall[V_N], *cpu[V_N], rate[V_N], cpu_per[V_N], out[3];
	char extra[300];

	for (v = 0; v < V_N; v++) {
		wall[v] = calloc((size_t)reps, sizeof(double));
		cpu[v] = calloc((size_t)reps, sizeof(double));
		for (r = 0; r < reps; r++)
			wall[v][r] = cpu[v][r] = NAN;
	}
	for (r = 0; r < reps; r++) {
		for (j = 0; j < V_N; j++) {
			run_arg a;
			a.w = w;
			a.v = (j + r) % V_N;
			if (!bench_want(o, vname[a.v]) && !bench_want(o, "all"))
				continue;
			if (bench_in_child(child_run, &a, out, 3))
				fprintf(stderr, "bench_durable: %s child failed\n", vname[a.v]);
			wall[a.v][r] = out[2] / out[0];
			cpu[a.v][r] = out[1] / out[2];
		}
	}
	for (v = 0; v < V_N; v++) {
		rate[v] = bench_median(wall[v], reps);
		cpu_per[v] = bench_median(cpu[v], reps);
		if (isnan(rate[v]))
			continue; /* not run (--only) */
		printf("# %-9s n=%zu: %.0f per s (median of %d), %.2f us CPU each\n", vname[v],
		       variant_n(w, v), rate[v], reps, cpu_per[v] * 1e6);
	}
	if (o->only)
		goto out;
	snprintf(extra, sizeof extra, "the version-1 store (a commit per write) does %.0f changes/s: "
	         "%.0fx slower", rate[V_V1_BATCH], rate[V_BATCH] / rate[V_V1_BATCH]);
	emit(o, w, V_BATCH, rate, cpu_per, reps, V_RAW_ALL,
	     "durable stg_log_submit_batch, one transaction (SQLite v2 store)", "changes/s",
	     "raw SQLite upsert of the same rows, 1 txn", 100000, ">= 100k/s and >= 0.5x", 0.5, extra);
	snprintf(extra, sizeof extra, "the version-1 store does %.0f acks/s: %.0fx slower",
	         rate[V_V1_PUMP], rate[V_PUMP] / rate[V_V1_PUMP]);
	emit(o, w, V_PUMP, rate, cpu_per, reps, V_RAW_ALL,
	     "durable stg_log_pump, transport acks at once, one transaction", "acks/s",
	     "raw SQLite upsert of the same rows, 1 txn", 50000, ">= 50k/s", NAN, extra);
	emit(o, w, V_HOST100, rate, cpu_per, reps, V_RAW_100,
	     "durable stg_log_submit, one per call, host transaction of 100", "changes/s",
	     "raw SQLite upsert, 1 txn per 100 rows", 50000, ">= 50k/s", NAN, NULL);
	emit(o, w, V_SINGLE, rate, cpu_per, reps, V_RAW_ROW,
	     "durable stg_log_submit, one per call, no transaction", "changes/s",
	     "raw SQLite upsert, 1 commit per row", 0, NULL, NAN,
	     "each change durable when the call returns");
	emit(o, w, V_V1_BATCH, rate, cpu_per, reps, V_RAW_ROW,
	     "durable stg_log_submit_batch, version-1 store (a commit per write)", "changes/s",
	     "raw SQLite upsert, 1 commit per row", 0, NULL, NAN, NULL);
	emit(o, w, V_V1_PUMP, rate, cpu_per, reps, V_RAW_ROW,
	     "durable stg_log_pump, version-1 store (a commit per write)", "acks/s",
	     "raw SQLite upsert, 1 commit per row", 0, NULL, NAN, NULL);
out:
	for (v = 0; v < V_N; v++) {
		free(wall[v]);
		free(cpu[v]);
	}
}

/* The file system of @dir, by name; tmpfs (and ramfs) are refused: an
 * fsync there returns at once and the figures would say nothing. */
static const char *fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) != 0)
		die(dir, "statfs failed");
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext2/3/4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794c7630: return "overlayfs";
	case 0x01021994: die(dir, "is on tmpfs: set STG_BENCH_DURABLE_DIR to a folder on a disk"); break;
	case 0x858458f6: die(dir, "is on ramfs: set STG_BENCH_DURABLE_DIR to a folder on a disk"); break;
	default: break;
	}
	return "another file system (not tmpfs)";
}

int main(int argc, char **argv)
{
	const char *dir = getenv("STG_BENCH_DURABLE_DIR");
	bench_opts opt;
	size_t si;

	bench_parse(&opt, argc, argv, "DURABLE", "10k", 5);
	if (!dir || !*dir)
		dir = ".";
	snprintf(db_path, sizeof db_path, "%s/bench-durable.db", dir);
	printf("# durable: SQLite %s, database %s on %s, WAL, synchronous=FULL; one integration "
	       "\"%s\", SKUs \"SKU-%%08d\", first seen\n", sqlite3_libversion(), db_path, fs_name(dir), INTEG);
	for (si = 0; si < opt.nsizes; si++) {
		bench_work w;
		bench_work_make(&w, INTEG, opt.sizes[si], 0x243f6a8885a308d3u);
		printf("# n=%zu: encoded entry %zu bytes (mean)\n", w.n, w.off[w.n] / w.n);
		run_size(&opt, &w);
		bench_work_free(&w);
	}
	remove_db();
	return 0;
}
