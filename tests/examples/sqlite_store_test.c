/*
 * sqlite_store_test: the SQLite storage hook's own contract.
 *
 *  - a reopened log has the entries written, minus those removed;
 *  - removing an absent entry is success;
 *  - a row whose bytes are not a valid entry, or are filed under another
 *    key, fails the open (the hook's failure: STG_ESTORAGE), with a message;
 *  - a verdict of the log's sink (here ENOMEM from a failing allocator)
 *    stops the load and comes back as is;
 *  - the hook's transactions (storage version 2): begin / commit /
 *    rollback, a rollback with none open is 0, writes inside one are seen
 *    by another connection only after the commit;
 *  - the log's own transactions on the store: a batch and a host
 *    transaction (stg_log_begin/commit) are stored at the commit, and not
 *    before;
 *  - a write that fails and makes SQLite roll the transaction back (a
 *    trigger's RAISE(ROLLBACK)): later writes and the commit are refused,
 *    the rollback is 0, storage is as it was, and the log's memory agrees;
 *    one that fails without ending it (RAISE(ABORT)): the writes before it
 *    are committed;
 *  - a COMMIT whose fsync fails (a VFS that fails xSync on demand) is not
 *    reported durable: commit and rollback fail, the store refuses writes
 *    until it is reopened;
 *  - a database that cannot be in WAL mode (":memory:") is refused;
 *  - integration records (storage version 2): a manual pause survives a
 *    close and reopen (a row of stg_integration, the format
 *    sqlite_store.py shares), a resume too; a record write that fails
 *    (a trigger's RAISE(ABORT)) makes stg_log_pause and stg_log_resume
 *    return STG_ESTORAGE with nothing changed, in memory and in the table;
 *    a record written inside the hook's transaction is undone by its
 *    rollback; a bad row fails the open; a database made before the table
 *    existed gets it.
 *
 * Prints TAP; exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "sqlite_store.h"

#include "fixture.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int checks, failures;

#define CHECK(cond) check((cond), #cond, __LINE__)

static void check(int ok, const char *what, int line)
{
	checks++;
	if (!ok)
		failures++;
	printf("%s %d - line %d: %s\n", ok ? "ok" : "not ok", checks, line, what);
}

static char dir[4096], db[4200];

static void remove_db(void)
{
	char p[4300];

	unlink(db);
	snprintf(p, sizeof p, "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", db);
	unlink(p);
}

/* The log on the SQLite store, with the shared fixture's transport (every
 * job acknowledged) and, when given, its counting allocator. */
static fx_transport market;

static int open_log(sqlite_store **st, stg_log **log, fx_alloc *alloc)
{
	stg_storage storage;
	stg_transport transport;
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	int rc;

	*log = NULL;
	if (sqlite_store_open(st, db) != 0) {
		printf("# store: %s\n", sqlite_store_errmsg(*st));
		return -1;
	}
	sqlite_store_hook(*st, &storage);
	fx_transport_free(&market);
	fx_transport_init(&market);
	transport = fx_transport_hook(&market, 0);
	options.storage = &storage;
	options.transport = &transport;
	if (alloc)
		options.allocator = &alloc->hook;
	rc = stg_log_open(log, &options);
	return rc;
}

static int submit(stg_log *log, const char *sku, int64_t available, int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = "shop";
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	return stg_log_submit(log, &s, NULL);
}

static int exec_sql(const char *sql)
{
	sqlite3 *h;
	int rc = sqlite3_open(db, &h);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		printf("# sql: %s: %s\n", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
	return rc;
}

static void test_round_trip(void)
{
	sqlite_store *st;
	stg_log *log;
	stg_entry e;
	char sku[16];
	int i;

	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	for (i = 0; i < 10; i++) {
		snprintf(sku, sizeof sku, "S%d", i);
		CHECK(submit(log, sku, i, 1) == STG_OK);
	}
	CHECK(stg_log_pump(log, 3, NULL) == STG_OK);
	CHECK(stg_log_remove(log, "shop", "S0", STG_REMOVE_FORCE) == STG_OK);
	CHECK(stg_log_remove(log, "shop", "S0", STG_REMOVE_FORCE) == STG_ENOTFOUND);
	CHECK(sqlite_store_count(st) == 9);
	stg_log_close(log);
	sqlite_store_close(st);

	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(stg_log_get(log, "shop", "S0", &e) == STG_ENOTFOUND);
	CHECK(stg_log_get(log, "shop", "S9", &e) == STG_OK && e.available == 9 &&
	      e.status == STG_ENTRY_PENDING);
	CHECK(stg_log_pump(log, 0, NULL) == STG_OK);
	CHECK(stg_log_get(log, "shop", "S9", &e) == STG_OK && e.status == STG_ENTRY_SUCCESS &&
	      e.acked == 9);
	stg_log_close(log);

	/* The hook directly: removing an absent entry is success. */
	{
		stg_storage storage;
		sqlite_store_hook(st, &storage);
		CHECK(storage.remove("shop", "nothing-here", storage.payload) == 0);
		CHECK(storage.remove("nowhere", "S1", storage.payload) == 0);
	}
	sqlite_store_close(st);
}

static void test_bad_rows(void)
{
	sqlite_store *st;
	stg_log *log;

	/* Flip a byte inside one blob: the checksum no longer matches. */
	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(submit(log, "A", 1, 1) == STG_OK && submit(log, "B", 2, 1) == STG_OK);
	stg_log_close(log);
	sqlite_store_close(st);
	CHECK(exec_sql("UPDATE stg_entry SET entry = CAST(substr(entry, 1, 20) || x'ff' || "
	               "substr(entry, 22) AS BLOB) WHERE sku = 'B'") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_ESTORAGE && log == NULL);
	printf("# %s\n", sqlite_store_errmsg(st));
	CHECK(strstr(sqlite_store_errmsg(st), "(shop, B) is not a valid entry") != NULL);
	sqlite_store_close(st);

	/* A truncated blob. */
	CHECK(exec_sql("DELETE FROM stg_entry WHERE sku = 'B'") == SQLITE_OK);
	CHECK(exec_sql("INSERT INTO stg_entry SELECT integration, 'B', substr(entry, 1, 10) "
	               "FROM stg_entry WHERE sku = 'A'") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_ESTORAGE && log == NULL);
	sqlite_store_close(st);

	/* A valid entry filed under another key. */
	CHECK(exec_sql("DELETE FROM stg_entry WHERE sku = 'B'") == SQLITE_OK);
	CHECK(exec_sql("INSERT INTO stg_entry SELECT integration, 'B', entry FROM stg_entry "
	               "WHERE sku = 'A'") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_ESTORAGE && log == NULL);
	printf("# %s\n", sqlite_store_errmsg(st));
	sqlite_store_close(st);

	/* Fixed: it opens again. */
	CHECK(exec_sql("DELETE FROM stg_entry WHERE sku = 'B'") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	stg_log_close(log);
	sqlite_store_close(st);
}

static void test_sink_verdict(void)
{
	sqlite_store *st;
	stg_log *log;
	char sku[32];
	long n;
	int i, seen_nomem = 0, opened = 0;

	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	for (i = 0; i < 40; i++) {
		/* Over 15 bytes: the log keeps such a SKU on the heap (shorter ones
		 * are inline), so each entry of the load allocates. */
		snprintf(sku, sizeof sku, "LONG-SKU-NUMBER-%d", i);
		CHECK(submit(log, sku, 100 + i, 1) == STG_OK);
	}
	stg_log_close(log);
	sqlite_store_close(st);

	/* Every allocation failure during the open is ENOMEM, never a half-loaded log. */
	for (n = 0; n < 400 && !opened; n++) {
		fx_alloc a;
		int rc;
		fx_alloc_init(&a);
		fx_alloc_arm(&a, n + 1, 1); /* n allocations succeed, every one after fails */
		rc = open_log(&st, &log, &a);
		if (rc == STG_OK) {
			opened = 1;
			stg_log_close(log);
		} else if (rc == STG_ENOMEM) {
			seen_nomem++;
		} else {
			printf("# allocation %ld: %s (%s)\n", n, stg_strerror(rc), sqlite_store_errmsg(st));
			CHECK(rc == STG_ENOMEM);
		}
		sqlite_store_close(st);
		CHECK(a.live_blocks == 0); /* a failed open gives back what it took */
	}
	CHECK(opened);
	CHECK(seen_nomem > 40); /* some failed inside the load, entry by entry */
}

/* ------------------------------------------------------ transactions */

/* The first value of @p sql, read through a connection of its own: what
 * another process would see, hence what is committed. -1 when there is no
 * row or it failed. */
static long long query_other(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	long long n = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	} else {
		printf("# count: %s\n", sqlite3_errmsg(h));
	}
	sqlite3_close(h);
	return n;
}

/* Rows in the entry table, as another process would see them. */
static long long count_other(const char *where)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM stg_entry%s%s", where ? " WHERE " : "",
	         where ? where : "");
	return query_other(sql);
}

/* A success entry of "shop" (what a pump leaves), for the hook alone. */
static stg_entry entry_of(const char *sku, int64_t available)
{
	stg_entry e = STG_ENTRY_INIT;

	e.status = STG_ENTRY_SUCCESS;
	e.integration = "shop";
	e.sku = sku;
	e.available = e.published = e.acked = available;
	e.sequence = 1;
	e.flags = STG_ENTRY_HAS_ACKED;
	return e;
}

static void test_hook_transactions(void)
{
	sqlite_store *st;
	stg_storage h;
	stg_entry a = entry_of("A", 1), b = entry_of("B", 2);

	remove_db();
	CHECK(sqlite_store_open(&st, db) == 0);
	sqlite_store_hook(st, &h);
	CHECK(h.version == 2 && h.begin && h.commit && h.rollback);
	/* Nothing open: rollback is success (the contract), commit is misuse. */
	CHECK(h.rollback(h.payload) == 0);
	CHECK(h.commit(h.payload) == SQLITE_MISUSE);
	CHECK(h.begin(h.payload) == 0);
	CHECK(h.begin(h.payload) == SQLITE_MISUSE); /* no nesting */
	CHECK(h.write(&a, h.payload) == 0 && h.write(&b, h.payload) == 0);
	CHECK(sqlite_store_count(st) == 2); /* the store's own connection sees them */
	CHECK(count_other(NULL) == 0);      /* nobody else does before the commit */
	CHECK(h.rollback(h.payload) == 0);
	CHECK(sqlite_store_count(st) == 0 && count_other(NULL) == 0);

	CHECK(h.begin(h.payload) == 0);
	CHECK(h.write(&a, h.payload) == 0 && h.write(&b, h.payload) == 0);
	CHECK(h.remove("shop", "A", h.payload) == 0);
	CHECK(count_other(NULL) == 0);
	CHECK(h.commit(h.payload) == 0);
	CHECK(count_other(NULL) == 1 && count_other("sku = 'B'") == 1);
	CHECK(h.rollback(h.payload) == 0); /* after the commit: none open */
	/* Outside a transaction a write is its own commit. */
	CHECK(h.write(&a, h.payload) == 0 && count_other(NULL) == 2);
	sqlite_store_close(st);
}

static void make_batch(stg_submit *s, char (*skus)[16], int n, const char *prefix, int64_t seq)
{
	int i;

	for (i = 0; i < n; i++) {
		stg_submit one = STG_SUBMIT_INIT;
		snprintf(skus[i], sizeof skus[i], "%s%d", prefix, i);
		one.integration = "shop";
		one.sku = skus[i];
		one.available = 10 + i;
		one.sequence = seq;
		s[i] = one;
	}
}

static void test_log_transactions(void)
{
	sqlite_store *st;
	stg_log *log;
	stg_submit s[20];
	char skus[20][16];
	size_t done;
	int i, open = -1;

	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	make_batch(s, skus, 20, "T", 1);
	CHECK(stg_log_submit_batch(log, s, 20, NULL, &done) == STG_OK && done == 20);
	CHECK(count_other(NULL) == 20); /* durable when the call returned */

	/* One change per call, grouped by the host. */
	CHECK(stg_log_begin(log) == STG_OK);
	CHECK(stg_log_in_transaction(log, &open) == STG_OK && open == 1);
	for (i = 0; i < 10; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "H%d", i);
		CHECK(submit(log, sku, i, 1) == STG_OK);
	}
	CHECK(count_other(NULL) == 20); /* not before the commit */
	CHECK(stg_log_commit(log) == STG_OK);
	CHECK(count_other(NULL) == 30);
	CHECK(stg_log_pump(log, 0, NULL) == STG_OK);
	CHECK(count_other("sku = 'H9'") == 1);
	stg_log_close(log);
	sqlite_store_close(st);

	CHECK(open_log(&st, &log, NULL) == STG_OK);
	{
		stg_entry e;
		CHECK(stg_log_get(log, "shop", "H9", &e) == STG_OK && e.status == STG_ENTRY_SUCCESS &&
		      e.acked == 9);
	}
	stg_log_close(log);
	sqlite_store_close(st);
}

/* A failing write inside a transaction, provoked by a trigger another
 * connection puts on the table: RAISE(ROLLBACK) makes SQLite roll back the
 * whole transaction (as a full disk or an I/O error would), RAISE(ABORT)
 * only the statement (as a constraint would). */
static void test_failing_write(void)
{
	sqlite_store *st;
	stg_storage h;
	stg_log *log;
	stg_submit s[8];
	char skus[8][16];
	stg_entry a = entry_of("A", 1), c = entry_of("C", 3), bad = entry_of("BAD", 4), e;
	size_t done = 99;
	int rc;

	remove_db();
	CHECK(sqlite_store_open(&st, db) == 0);
	sqlite_store_hook(st, &h);
	CHECK(exec_sql("CREATE TRIGGER no_bad BEFORE INSERT ON stg_entry WHEN NEW.sku = 'BAD' "
	               "BEGIN SELECT RAISE(ROLLBACK, 'no BAD here'); END") == SQLITE_OK);
	/* The hook alone. */
	CHECK(h.write(&c, h.payload) == 0); /* stored before: must survive */
	CHECK(h.begin(h.payload) == 0);
	CHECK(h.write(&a, h.payload) == 0);
	CHECK(h.write(&bad, h.payload) != 0);
	printf("# %s\n", sqlite_store_errmsg(st));
	CHECK(strstr(sqlite_store_errmsg(st), "no BAD here") != NULL);
	/* SQLite ended the transaction: this write would autocommit on its own. */
	CHECK(h.write(&c, h.payload) != 0);
	CHECK(h.remove("shop", "C", h.payload) != 0);
	CHECK(count_other(NULL) == 1 && count_other("sku = 'C'") == 1);
	CHECK(h.commit(h.payload) != 0); /* not what was written: refused */
	printf("# %s\n", sqlite_store_errmsg(st));
	CHECK(h.rollback(h.payload) == 0); /* storage is as it was at begin */
	CHECK(count_other(NULL) == 1 && count_other("sku = 'A'") == 0);
	/* And the store works again. */
	CHECK(h.begin(h.payload) == 0 && h.write(&a, h.payload) == 0 && h.commit(h.payload) == 0);
	CHECK(count_other(NULL) == 2);
	sqlite_store_close(st);

	/* Through the log: a batch with BAD in the middle is undone as a whole,
	 * in storage and in memory. */
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	make_batch(s, skus, 8, "N", 1);
	s[5].sku = "BAD";
	rc = stg_log_submit_batch(log, s, 8, NULL, &done);
	printf("# %s\n", stg_log_errmsg(log));
	CHECK(rc == STG_ESTORAGE && done == 0);
	CHECK(count_other(NULL) == 2 && count_other("sku LIKE 'N%'") == 0);
	CHECK(stg_log_get(log, "shop", "N0", &e) == STG_ENOTFOUND);
	CHECK(stg_log_get(log, "shop", "C", &e) == STG_OK && e.available == 3);

	/* A host transaction that meets it: the commit fails and undoes it all. */
	CHECK(stg_log_begin(log) == STG_OK);
	CHECK(submit(log, "X", 7, 1) == STG_OK);
	CHECK(submit(log, "BAD", 7, 1) == STG_ESTORAGE);
	CHECK(submit(log, "Y", 7, 1) == STG_ESTORAGE); /* the store refuses: it would autocommit */
	CHECK(stg_log_commit(log) == STG_ESTORAGE);
	printf("# %s\n", stg_log_errmsg(log));
	CHECK(stg_log_get(log, "shop", "X", &e) == STG_ENOTFOUND);
	CHECK(count_other(NULL) == 2 && count_other("sku IN ('X', 'Y')") == 0);
	/* Afterwards the log and the store go on. */
	CHECK(submit(log, "X", 8, 1) == STG_OK && count_other("sku = 'X'") == 1);
	stg_log_close(log);
	sqlite_store_close(st);

	/* RAISE(ABORT): only the statement is undone, the transaction goes on,
	 * and the log commits what went in before the failure. */
	CHECK(exec_sql("DROP TRIGGER no_bad") == SQLITE_OK);
	CHECK(exec_sql("CREATE TRIGGER no_bad BEFORE INSERT ON stg_entry WHEN NEW.sku = 'BAD' "
	               "BEGIN SELECT RAISE(ABORT, 'no BAD here'); END") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	make_batch(s, skus, 8, "M", 1);
	s[5].sku = "BAD";
	CHECK(stg_log_submit_batch(log, s, 8, NULL, &done) == STG_ESTORAGE && done == 5);
	CHECK(count_other("sku LIKE 'M%'") == 5);
	CHECK(stg_log_get(log, "shop", "M4", &e) == STG_OK && stg_log_get(log, "shop", "M6", &e) ==
	      STG_ENOTFOUND);
	stg_log_close(log);
	sqlite_store_close(st);
	CHECK(exec_sql("DROP TRIGGER no_bad") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(stg_log_get(log, "shop", "M4", &e) == STG_OK && e.available == 14);
	CHECK(stg_log_get(log, "shop", "M5", &e) == STG_ENOTFOUND);
	stg_log_close(log);
	sqlite_store_close(st);
}

/* ----------------------------------------- a VFS whose fsync can fail */

/* The default VFS, with xSync failing while fail_sync is set: a disk that
 * loses a COMMIT's fsync. Every other method is the real one's. */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static int fail_sync;

typedef struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* just after this struct, in the same block */
} fault_file;

#define REAL(f) (((fault_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
	return rc;
}
static int ff_read(sqlite3_file *f, void *p, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, o);
}
static int ff_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, o);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 n)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int ff_sync(sqlite3_file *f, int flags)
{
	return fail_sync ? SQLITE_IOERR_FSYNC : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *n)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int ff_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int ff_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int ff_check(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int ff_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int ff_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int ff_caps(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ff_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int ff_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void ff_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int ff_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2 (shared memory for WAL); no memory-mapped I/O (version 3). */
static const sqlite3_io_methods fault_io = {
	2, ff_close, ff_read, ff_write, ff_truncate, ff_sync, ff_size, ff_lock, ff_unlock, ff_check,
	ff_control, ff_sector, ff_caps, ff_shm_map, ff_shm_lock, ff_shm_barrier, ff_shm_unmap,
	NULL, NULL
};

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	fault_file *ff = (fault_file *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	/* pMethods NULL tells SQLite not to call xClose (open failed). */
	f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &fault_io : NULL;
	return rc;
}

static int install_fault_vfs(void)
{
	sqlite3_vfs *v = sqlite3_vfs_find(NULL);

	if (!v || v->iVersion < 1)
		return -1;
	real_vfs = v;
	fault_vfs = *v; /* every method the real one's, but xOpen */
	fault_vfs.zName = "stg-fault";
	fault_vfs.szOsFile = (int)sizeof(fault_file) + v->szOsFile;
	fault_vfs.xOpen = fv_open;
	return sqlite3_vfs_register(&fault_vfs, 1) == SQLITE_OK ? 0 : -1; /* the default now */
}

static void test_commit_fsync_fails(void)
{
	sqlite_store *st;
	stg_storage h;
	stg_log *log;
	stg_submit s[8];
	char skus[8][16];
	stg_entry a = entry_of("A", 1), b = entry_of("B", 2), e;
	size_t done = 99;
	int rc;

	remove_db();
	CHECK(install_fault_vfs() == 0);
	CHECK(sqlite_store_open(&st, db) == 0);
	sqlite_store_hook(st, &h);
	CHECK(h.write(&a, h.payload) == 0);
	CHECK(h.begin(h.payload) == 0 && h.write(&b, h.payload) == 0);
	fail_sync = 1;
	rc = h.commit(h.payload);
	fail_sync = 0;
	printf("# commit: %d, %s\n", rc, sqlite_store_errmsg(st));
	CHECK(rc != 0); /* never "durable" when the fsync failed */
	/* The frames may be on the disk: the store cannot say it rolled back. */
	CHECK(h.rollback(h.payload) != 0);
	CHECK(h.write(&a, h.payload) != 0 && h.begin(h.payload) != 0);
	printf("# %s\n", sqlite_store_errmsg(st));
	CHECK(strstr(sqlite_store_errmsg(st), "in doubt") != NULL);
	sqlite_store_close(st);
	CHECK(sqlite_store_open(&st, db) == 0); /* reopened, it works */
	sqlite_store_hook(st, &h);
	CHECK(h.write(&b, h.payload) == 0 && count_other("sku = 'B'") == 1);
	sqlite_store_close(st);

	/* Through the log: the batch is reported undone, never applied. */
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	make_batch(s, skus, 8, "F", 1);
	fail_sync = 1;
	rc = stg_log_submit_batch(log, s, 8, NULL, &done);
	fail_sync = 0;
	printf("# %s\n", stg_log_errmsg(log));
	CHECK(rc == STG_ESTORAGE && done == 0);
	CHECK(strstr(stg_log_errmsg(log), "reopen") != NULL); /* the rollback could not vouch */
	CHECK(stg_log_get(log, "shop", "F0", &e) == STG_ENOTFOUND);
	CHECK(submit(log, "G", 1, 1) == STG_ESTORAGE); /* the store waits for the reopen */
	stg_log_close(log);
	sqlite_store_close(st);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(submit(log, "G", 1, 1) == STG_OK && count_other("sku = 'G'") == 1);
	stg_log_close(log);
	sqlite_store_close(st);
	sqlite3_vfs_unregister(&fault_vfs);
}

/* ------------------------------------------------ integration records */

/* The stored flags of @p integration as another process sees them; -1: no row. */
static long long integ_flags(const char *integration)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT flags FROM stg_integration WHERE integration = '%s'",
	         integration);
	return query_other(sql);
}

static int is_paused(stg_log *log, const char *integration)
{
	int paused = -1;

	return stg_log_is_paused(log, integration, &paused) == STG_OK ? paused : -1;
}

static void test_pause_survives(void)
{
	sqlite_store *st;
	stg_log *log;
	stg_storage h;
	size_t sent = 99;

	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	sqlite_store_hook(st, &h);
	CHECK(h.write_integration && h.load_integrations);
	CHECK(submit(log, "A", 5, 1) == STG_OK);
	CHECK(stg_log_pause(log, "shop") == STG_OK);
	/* An integration with no entry yet: only its record brings it back. */
	CHECK(stg_log_pause(log, "idle") == STG_OK);
	/* Durable when the call returned, in the shared format: flags 1. */
	CHECK(integ_flags("shop") == STG_INTEGRATION_PAUSED && integ_flags("idle") == STG_INTEGRATION_PAUSED);
	CHECK(query_other("SELECT count(*) FROM stg_integration WHERE updated_at > 0") == 2);
	stg_log_close(log);
	sqlite_store_close(st);

	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(is_paused(log, "shop") == 1 && is_paused(log, "idle") == 1);
	CHECK(stg_log_pump(log, 0, &sent) == STG_OK && sent == 0); /* held, not sent */
	CHECK(market.nsent == 0);
	CHECK(stg_log_resume(log, "shop") == STG_OK);
	CHECK(integ_flags("shop") == 0 && integ_flags("idle") == STG_INTEGRATION_PAUSED);
	stg_log_close(log);
	sqlite_store_close(st);

	/* The resume came back too: the job goes out. */
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(is_paused(log, "shop") == 0 && is_paused(log, "idle") == 1);
	CHECK(stg_log_pump(log, 0, &sent) == STG_OK && sent == 1);
	stg_log_close(log);
	sqlite_store_close(st);

	/* A database made before the table existed: the open creates it. */
	CHECK(exec_sql("DROP TABLE stg_integration") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(is_paused(log, "idle") == 0);
	CHECK(stg_log_pause(log, "idle") == STG_OK && integ_flags("idle") == STG_INTEGRATION_PAUSED);
	stg_log_close(log);
	sqlite_store_close(st);
}

static void test_failing_record(void)
{
	sqlite_store *st;
	stg_log *log;
	stg_storage h;
	stg_integration_state rec = STG_INTEGRATION_STATE_INIT;
	size_t sent = 99;
	int rc;

	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(submit(log, "A", 5, 1) == STG_OK);
	/* INSERT OR REPLACE runs the BEFORE INSERT trigger for a new row and a
	 * replaced one alike. RAISE(ABORT): the statement fails, as a full disk
	 * would make it (outside a transaction there is nothing else to undo). */
	CHECK(exec_sql("CREATE TRIGGER no_pause BEFORE INSERT ON stg_integration "
	               "WHEN NEW.integration = 'shop' AND NEW.flags <> 0 "
	               "BEGIN SELECT RAISE(ABORT, 'no pause here'); END") == SQLITE_OK);
	rc = stg_log_pause(log, "shop");
	printf("# %s\n# store: %s\n", stg_log_errmsg(log), sqlite_store_errmsg(st));
	CHECK(rc == STG_ESTORAGE);
	CHECK(strstr(sqlite_store_errmsg(st), "no pause here") != NULL);
	CHECK(is_paused(log, "shop") == 0);             /* not paused in memory */
	CHECK(query_other("SELECT count(*) FROM stg_integration") == 0); /* nor stored */
	CHECK(stg_log_pump(log, 0, &sent) == STG_OK && sent == 1);      /* and it sends */
	/* The store goes on: another integration's pause is written. */
	CHECK(stg_log_pause(log, "other") == STG_OK && integ_flags("other") == STG_INTEGRATION_PAUSED);
	stg_log_close(log);
	sqlite_store_close(st);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(is_paused(log, "shop") == 0 && is_paused(log, "other") == 1);

	/* A resume whose record write fails: still paused, and still stored so. */
	CHECK(exec_sql("DROP TRIGGER no_pause") == SQLITE_OK);
	CHECK(stg_log_pause(log, "shop") == STG_OK);
	CHECK(exec_sql("CREATE TRIGGER no_resume BEFORE INSERT ON stg_integration "
	               "WHEN NEW.flags = 0 BEGIN SELECT RAISE(ABORT, 'no resume here'); END") == SQLITE_OK);
	CHECK(stg_log_resume(log, "shop") == STG_ESTORAGE);
	CHECK(is_paused(log, "shop") == 1 && integ_flags("shop") == STG_INTEGRATION_PAUSED);
	stg_log_close(log);
	sqlite_store_close(st);
	CHECK(exec_sql("DROP TRIGGER no_resume") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(is_paused(log, "shop") == 1);
	CHECK(stg_log_resume(log, "shop") == STG_OK && integ_flags("shop") == 0);
	stg_log_close(log);

	/* The hook alone: inside the store's transaction a record joins it, so
	 * the rollback undoes it with the entries. */
	sqlite_store_hook(st, &h);
	rec.integration = "txn";
	rec.flags = STG_INTEGRATION_PAUSED;
	rec.updated_at = 1;
	CHECK(h.begin(h.payload) == 0 && h.write_integration(&rec, h.payload) == 0);
	CHECK(integ_flags("txn") == -1); /* not before the commit */
	CHECK(h.rollback(h.payload) == 0 && integ_flags("txn") == -1);
	CHECK(h.begin(h.payload) == 0 && h.write_integration(&rec, h.payload) == 0 &&
	      h.commit(h.payload) == 0);
	CHECK(integ_flags("txn") == STG_INTEGRATION_PAUSED);
	/* Unknown flag bits are kept as they are (a newer library's). */
	rec.flags = 0x80000001u;
	CHECK(h.write_integration(&rec, h.payload) == 0 && integ_flags("txn") == 0x80000001LL);
	sqlite_store_close(st);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(is_paused(log, "txn") == 1);
	stg_log_close(log);
	sqlite_store_close(st);

	/* Bad rows fail the open: a flag that is not a number is the store's
	 * verdict (STG_ESTORAGE), an empty name the log's (STG_ECORRUPT). */
	CHECK(exec_sql("UPDATE stg_integration SET flags = 'x' WHERE integration = 'txn'") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_ESTORAGE && log == NULL);
	printf("# %s\n", sqlite_store_errmsg(st));
	CHECK(strstr(sqlite_store_errmsg(st), "txn is not a valid integration record") != NULL);
	sqlite_store_close(st);
	CHECK(exec_sql("UPDATE stg_integration SET flags = 1, integration = '' WHERE integration = 'txn'") ==
	      SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_ECORRUPT && log == NULL);
	printf("# %s\n", sqlite_store_errmsg(st));
	sqlite_store_close(st);
	CHECK(exec_sql("DELETE FROM stg_integration WHERE integration = ''") == SQLITE_OK);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	stg_log_close(log);
	sqlite_store_close(st);
}

static void test_memory_refused(void)
{
	sqlite_store *st;

	CHECK(sqlite_store_open(&st, ":memory:") != 0);
	printf("# %s\n", sqlite_store_errmsg(st));
	CHECK(strstr(sqlite_store_errmsg(st), "not wal") != NULL);
	sqlite_store_close(st);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/stg-sqlite-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 2;
	}
	snprintf(db, sizeof db, "%s/t.db", dir);
	test_round_trip();
	test_bad_rows();
	test_sink_verdict();
	test_hook_transactions();
	test_log_transactions();
	test_failing_write();
	test_commit_fsync_fails();
	test_pause_survives();
	test_failing_record();
	test_memory_refused();
	remove_db();
	rmdir(dir);
	fx_transport_free(&market);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
