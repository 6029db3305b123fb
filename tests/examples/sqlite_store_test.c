/*
 * sqlite_store_test: the SQLite storage hook's own contract.
 *
 *  - a reopened log has the entries written, minus those removed;
 *  - removing an absent entry is success;
 *  - a row whose bytes are not a valid entry, or are filed under another
 *    key, fails the open (the hook's failure: STG_ESTORAGE), with a message;
 *  - a verdict of the log's sink (here ENOMEM from a failing allocator)
 *    stops the load and comes back as is;
 *  - writes grouped with sqlite_store_begin()/commit() are all stored;
 *  - a database that cannot be in WAL mode (":memory:") is refused.
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

static void test_transaction(void)
{
	sqlite_store *st;
	stg_log *log;
	stg_submit s[20];
	char skus[20][8];
	size_t done;
	int i;

	remove_db();
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	for (i = 0; i < 20; i++) {
		stg_submit one = STG_SUBMIT_INIT;
		snprintf(skus[i], sizeof skus[i], "T%d", i);
		one.integration = "shop";
		one.sku = skus[i];
		one.available = i;
		one.sequence = 1;
		s[i] = one;
	}
	CHECK(sqlite_store_begin(st) == 0);
	CHECK(sqlite_store_begin(st) == SQLITE_MISUSE);
	CHECK(stg_log_submit_batch(log, s, 20, NULL, &done) == STG_OK && done == 20);
	CHECK(sqlite_store_commit(st) == 0);
	CHECK(sqlite_store_commit(st) == SQLITE_MISUSE);
	stg_log_close(log);
	sqlite_store_close(st);
	CHECK(open_log(&st, &log, NULL) == STG_OK);
	CHECK(sqlite_store_count(st) == 20);
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
	test_transaction();
	test_memory_refused();
	remove_db();
	rmdir(dir);
	fx_transport_free(&market);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
