/*
 * sqlite_store: a stockguard storage hook kept in SQLite: a table of entries
 * and one of integration records. See sqlite_store.h for the tables and how
 * to use it.
 *
 * Choices:
 *
 * - One row per (integration, SKU) holding the stg_entry_encode() bytes.
 *   The encoding is versioned and checksummed, so the load validates every
 *   row with stg_entry_decode() for free; the two key columns are only the
 *   primary key (and are checked against the decoded entry).
 *
 * - PRAGMA synchronous=FULL: a transaction is on disk when COMMIT returns,
 *   which is what "write ... return 0 once it is durable" asks for. The log
 *   relies on it: an acknowledgement it has recorded must survive a crash.
 *
 * - journal_mode=WAL, not DELETE. Both are crash-safe with synchronous=FULL;
 *   WAL commits a write with one append and one fsync of the -wal file,
 *   where DELETE writes and syncs a rollback journal, the database, and
 *   deletes the journal (several fsyncs per write). The log writes one
 *   entry per host call, so the commit cost is the store's cost. WAL's
 *   limits do not matter here: the database must be on a local filesystem
 *   (shared memory for the -shm index) and a log is opened by one process,
 *   one thread at a time. The mode is stored in the file, so a database
 *   made by this store stays in WAL.
 *
 * - Each write and remove outside a transaction is one statement in
 *   autocommit mode, hence its own transaction, committed before the hook
 *   returns. Inside the log's transaction (begin/commit/rollback, storage
 *   version 2) they join one BEGIN IMMEDIATE ... COMMIT: one fsync for the
 *   lot. IMMEDIATE takes the write lock at the start, so no write in the
 *   transaction meets SQLITE_BUSY half-way. The load reads in one read
 *   transaction, so it sees a single snapshot.
 *
 * - BEGIN, COMMIT and ROLLBACK are prepared once, like the writes: the log
 *   opens a transaction per call, and parsing them each time would cost a
 *   few microseconds per call.
 *
 * - Integration records (storage version 2: a pause made with
 *   stg_log_pause()) go in a second table, one row per integration, as
 *   plain columns: the record is two numbers and the library has no
 *   encoding for it, so columns need no format of our own (shared with
 *   sqlite_store.py and readable with the sqlite3 shell), and a field a
 *   later stg_integration_state adds becomes an ALTER TABLE ... ADD COLUMN
 *   with a default. The write goes through the same connection as the
 *   entries, so inside a transaction it joins it and outside one it is its
 *   own durable commit (the log calls it outside one). A record without the
 *   pause is kept, not deleted: one upsert either way, and updated_at then
 *   says when the integration was resumed.
 */
#include "sqlite_store.h"

#include <sqlite3.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sqlite_store {
	sqlite3 *db;
	sqlite3_stmt *put;      /* INSERT OR REPLACE */
	sqlite3_stmt *del;      /* DELETE one */
	sqlite3_stmt *all;      /* SELECT all */
	sqlite3_stmt *begin;    /* BEGIN IMMEDIATE */
	sqlite3_stmt *commit;   /* COMMIT */
	sqlite3_stmt *rollback; /* ROLLBACK */
	sqlite3_stmt *put_integ; /* INSERT OR REPLACE an integration record */
	sqlite3_stmt *all_integ; /* SELECT all integration records */
	int in_txn;             /* between the hook's begin and its commit or rollback */
	int txn_lost;           /* SQLite rolled that transaction back on its own */
	int broken;             /* storage in doubt: refuse everything until reopened */
	char errmsg[512];
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
};

static const char create_sql[] =
	"CREATE TABLE IF NOT EXISTS stg_entry ("
	" integration TEXT NOT NULL,"
	" sku TEXT NOT NULL,"
	" entry BLOB NOT NULL,"
	" PRIMARY KEY (integration, sku)"
	") WITHOUT ROWID";

/* Created by an open of a database an older store made, too. */
static const char create_integ_sql[] =
	"CREATE TABLE IF NOT EXISTS stg_integration ("
	" integration TEXT NOT NULL PRIMARY KEY,"
	" flags INTEGER NOT NULL,"      /* STG_INTEGRATION_* bits */
	" updated_at INTEGER NOT NULL"  /* ms since the epoch */
	") WITHOUT ROWID";

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void set_msg(sqlite_store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
	va_end(ap);
}

/* Record SQLite's message for a failed step and return its code. */
static int db_fail(sqlite_store *st, int rc, const char *what)
{
	set_msg(st, "%s: %s (%d)", what, sqlite3_errmsg(st->db), rc);
	return rc;
}

const char *sqlite_store_errmsg(const sqlite_store *st)
{
	return st ? st->errmsg : "out of memory";
}

static int exec(sqlite_store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(st, rc, sql);
}

static int set_journal_wal(sqlite_store *st)
{
	sqlite3_stmt *s;
	const char *mode;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return db_fail(st, rc, "PRAGMA journal_mode");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = db_fail(st, rc, "PRAGMA journal_mode");
		sqlite3_finalize(s);
		return rc;
	}
	/* SQLite answers with the mode it is in: it refuses WAL for a
	 * ":memory:" database, and without shared memory. */
	mode = (const char *)sqlite3_column_text(s, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		set_msg(st, "journal_mode is %s, not wal (the store needs a database file on a local filesystem)",
		        mode ? mode : "unknown");
		sqlite3_finalize(s);
		return SQLITE_CANTOPEN;
	}
	sqlite3_finalize(s);
	return 0;
}

static int prepare(sqlite_store *st, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(st, rc, sql);
}

int sqlite_store_open(sqlite_store **out, const char *path)
{
	sqlite_store *st = calloc(1, sizeof *st);
	int rc;

	*out = st;
	if (!st)
		return SQLITE_NOMEM;
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		if (st->db)
			db_fail(st, rc, "open");
		else
			set_msg(st, "open %s: out of memory", path);
		return rc;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/* A checkpoint or a second reader may hold a lock briefly: wait for it. */
	sqlite3_busy_timeout(st->db, 5000);
	if ((rc = set_journal_wal(st)) ||
	    (rc = exec(st, "PRAGMA synchronous=FULL")) ||
	    (rc = exec(st, create_sql)) ||
	    (rc = exec(st, create_integ_sql)) ||
	    (rc = prepare(st, "INSERT OR REPLACE INTO stg_entry (integration, sku, entry) VALUES (?1, ?2, ?3)",
	                  &st->put)) ||
	    (rc = prepare(st, "DELETE FROM stg_entry WHERE integration = ?1 AND sku = ?2", &st->del)) ||
	    (rc = prepare(st, "SELECT integration, sku, entry FROM stg_entry", &st->all)) ||
	    (rc = prepare(st, "BEGIN IMMEDIATE", &st->begin)) ||
	    (rc = prepare(st, "COMMIT", &st->commit)) ||
	    (rc = prepare(st, "ROLLBACK", &st->rollback)) ||
	    (rc = prepare(st, "INSERT OR REPLACE INTO stg_integration (integration, flags, updated_at) "
	                  "VALUES (?1, ?2, ?3)", &st->put_integ)) ||
	    (rc = prepare(st, "SELECT integration, flags, updated_at FROM stg_integration",
	                  &st->all_integ)))
		return rc;
	return 0;
}

void sqlite_store_close(sqlite_store *st)
{
	if (!st)
		return;
	if (st->db && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(st->put);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->all);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->rollback);
	sqlite3_finalize(st->put_integ);
	sqlite3_finalize(st->all_integ);
	sqlite3_close(st->db);
	free(st);
}

/* After a failed write or remove: when SQLite ended the transaction the
 * log holds open (it rolls back by itself on a full disk, an I/O error, a
 * trigger's RAISE(ROLLBACK)), every later write would autocommit on its own
 * and outlive the log's rollback: note it, so that they are refused. */
static int check_txn(sqlite_store *st, int rc)
{
	if (rc && st->in_txn && !st->txn_lost && sqlite3_get_autocommit(st->db)) {
		char why[sizeof st->errmsg];

		memcpy(why, st->errmsg, sizeof why); /* vsnprintf may not read what it writes */
		st->txn_lost = 1;
		set_msg(st, "%.400s; SQLite rolled the transaction back", why);
	}
	return rc;
}

/* Whether the store may take a write: not after SQLite ended the
 * transaction, nor once storage is in doubt. */
static int refused(sqlite_store *st, const char *what)
{
	if (st->broken) {
		set_msg(st, "%s: refused: a commit or rollback failed and storage is in doubt: "
		        "close the log and the store and open them again", what);
		return SQLITE_ABORT;
	}
	if (st->txn_lost) {
		set_msg(st, "%s: refused: SQLite rolled the transaction back after a failed write; "
		        "waiting for the rollback", what);
		return SQLITE_ABORT;
	}
	return 0;
}

/* Run one of the prepared BEGIN / COMMIT / ROLLBACK. */
static int step_once(sqlite_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	rc = rc == SQLITE_DONE ? 0 : db_fail(st, rc, what);
	sqlite3_reset(s);
	return rc;
}

/* ------------------------------------------------------------ the hook */

/* A load reads in one read transaction of its own (when none is open): it
 * sees a single snapshot. */
static int read_begin(sqlite_store *st, const char *what, int *own)
{
	int rc;

	*own = !st->in_txn;
	if ((rc = refused(st, what)))
		return rc;
	return *own ? exec(st, "BEGIN") : 0;
}

/* The end of a load: @p rc, or the failure of ending its read transaction. */
static int read_end(sqlite_store *st, int own, int rc, const char *what)
{
	/* A read transaction: COMMIT and ROLLBACK only release the snapshot. */
	if (own) {
		int end = sqlite3_exec(st->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
		if (rc == 0 && end != SQLITE_OK)
			rc = db_fail(st, end, what);
	}
	return rc;
}

static int st_load(stg_entry_sink sink, void *sink_ctx, void *payload)
{
	sqlite_store *st = payload;
	int own, rc = 0, step;

	if ((rc = read_begin(st, "load", &own)))
		return rc;
	while ((step = sqlite3_step(st->all)) == SQLITE_ROW) {
		const char *integ = (const char *)sqlite3_column_text(st->all, 0);
		const char *sku = (const char *)sqlite3_column_text(st->all, 1);
		const void *blob = sqlite3_column_blob(st->all, 2);
		int len = sqlite3_column_bytes(st->all, 2);
		stg_entry e;

		if (!integ || !sku) {
			rc = db_fail(st, SQLITE_NOMEM, "load");
			break;
		}
		/* The decoded strings point into the row, valid until the next step;
		 * the sink copies what it keeps. */
		rc = stg_entry_decode(blob ? blob : "", (size_t)len, &e);
		if (rc == STG_OK && (strcmp(e.integration, integ) != 0 || strcmp(e.sku, sku) != 0))
			rc = STG_ECORRUPT;
		if (rc != STG_OK) {
			set_msg(st, "load: the row (%.100s, %.100s) is not a valid entry: %s", integ, sku,
			        stg_strerror(rc));
			break;
		}
		if ((rc = sink(sink_ctx, &e)) != 0) {
			set_msg(st, "load: the log refused (%.100s, %.100s): %s", integ, sku,
			        stg_strerror(rc));
			break; /* its verdict goes back as is */
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(st, step, "load");
	sqlite3_reset(st->all);
	return read_end(st, own, rc, "load: COMMIT");
}

static int st_write(const stg_entry *entry, void *payload)
{
	sqlite_store *st = payload;
	size_t len;
	int rc;

	if ((rc = refused(st, "write")))
		return rc;
	rc = stg_entry_encode(entry, st->buf, sizeof st->buf, &len);
	if (rc != STG_OK) {
		set_msg(st, "write: cannot encode (%.100s, %.100s): %s",
		        entry->integration ? entry->integration : "?", entry->sku ? entry->sku : "?",
		        stg_strerror(rc));
		return rc;
	}
	/* The strings and the buffer outlive the step: no copies (SQLITE_STATIC). */
	sqlite3_bind_text(st->put, 1, entry->integration, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->put, 2, entry->sku, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st->put, 3, st->buf, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st->put);
	rc = rc == SQLITE_DONE ? 0 : db_fail(st, rc, "write");
	sqlite3_reset(st->put);
	sqlite3_clear_bindings(st->put);
	return check_txn(st, rc);
}

static int st_remove(const char *integration, const char *sku, void *payload)
{
	sqlite_store *st = payload;
	int rc;

	if ((rc = refused(st, "remove")))
		return rc;
	sqlite3_bind_text(st->del, 1, integration, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->del, 2, sku, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->del);
	rc = rc == SQLITE_DONE ? 0 : db_fail(st, rc, "remove"); /* no row is success */
	sqlite3_reset(st->del);
	sqlite3_clear_bindings(st->del);
	return check_txn(st, rc);
}

static int st_write_integration(const stg_integration_state *state, void *payload)
{
	sqlite_store *st = payload;
	int rc;

	if ((rc = refused(st, "write_integration")))
		return rc;
	sqlite3_bind_text(st->put_integ, 1, state->integration, -1, SQLITE_STATIC);
	/* All the flags, not just the pause: bits a newer library sets come back to it. */
	sqlite3_bind_int64(st->put_integ, 2, (sqlite3_int64)state->flags);
	sqlite3_bind_int64(st->put_integ, 3, (sqlite3_int64)state->updated_at);
	rc = sqlite3_step(st->put_integ);
	rc = rc == SQLITE_DONE ? 0 : db_fail(st, rc, "write_integration");
	sqlite3_reset(st->put_integ);
	sqlite3_clear_bindings(st->put_integ);
	return check_txn(st, rc);
}

static int st_load_integrations(stg_integration_sink sink, void *sink_ctx, void *payload)
{
	sqlite_store *st = payload;
	sqlite3_stmt *s = st->all_integ;
	int own, rc = 0, step;

	if ((rc = read_begin(st, "load_integrations", &own)))
		return rc;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		stg_integration_state state = STG_INTEGRATION_STATE_INIT;
		/* Column types are the row's own in SQLite: check them (before any
		 * read converts a value), so that a hand-edited row fails the open
		 * instead of reading as 0. */
		int typed = sqlite3_column_type(s, 0) == SQLITE_TEXT &&
		            sqlite3_column_type(s, 1) == SQLITE_INTEGER &&
		            sqlite3_column_type(s, 2) == SQLITE_INTEGER;
		sqlite3_int64 flags = sqlite3_column_int64(s, 1);

		state.integration = (const char *)sqlite3_column_text(s, 0);
		if (!typed || !state.integration || flags < 0 || flags > 0xffffffffLL) {
			set_msg(st, "load_integrations: the row of %.100s is not a valid integration record",
			        state.integration ? state.integration : "?");
			rc = SQLITE_CORRUPT;
			break;
		}
		state.flags = (unsigned int)flags;
		state.updated_at = sqlite3_column_int64(s, 2);
		/* The name points into the row, valid until the next step; the
		 * sink copies what it keeps. */
		if ((rc = sink(sink_ctx, &state)) != 0) {
			set_msg(st, "load_integrations: the log refused the record of %.100s: %s",
			        state.integration, stg_strerror(rc));
			break; /* its verdict goes back as is */
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(st, step, "load_integrations");
	sqlite3_reset(s);
	return read_end(st, own, rc, "load_integrations: COMMIT");
}

static int st_begin(void *payload)
{
	sqlite_store *st = payload;
	int rc;

	if ((rc = refused(st, "begin")))
		return rc;
	if (st->in_txn) {
		set_msg(st, "begin: a transaction is open already");
		return SQLITE_MISUSE;
	}
	if ((rc = step_once(st, st->begin, "BEGIN IMMEDIATE")))
		return rc;
	st->in_txn = 1;
	return 0;
}

static int st_commit(void *payload)
{
	sqlite_store *st = payload;
	int rc;

	if (st->broken)
		return refused(st, "commit");
	if (!st->in_txn) {
		set_msg(st, "commit: no transaction is open");
		return SQLITE_MISUSE;
	}
	/* What is left of a transaction SQLite ended is not what the log wrote. */
	if (st->txn_lost) {
		set_msg(st, "commit: refused: SQLite rolled the transaction back after a failed write");
		return SQLITE_ABORT;
	}
	if ((rc = step_once(st, st->commit, "COMMIT")) == 0) {
		st->in_txn = 0;
		return 0;
	}
	/* The transaction stays in_txn until the log's rollback. SQLite keeps
	 * it open on some failures (SQLITE_BUSY) and ends it on others; an I/O
	 * error may come after the WAL frames reached the disk (a failed fsync),
	 * so the commit may be durable after all: in doubt. */
	if (sqlite3_get_autocommit(st->db)) {
		st->txn_lost = 1;
		if ((rc & 0xff) == SQLITE_IOERR)
			st->broken = 1;
	}
	return rc;
}

static int st_rollback(void *payload)
{
	sqlite_store *st = payload;
	int rc = 0;

	if (!st->in_txn)
		return 0; /* nothing open: storage is as it was */
	st->in_txn = 0;
	st->txn_lost = 0;
	if (st->broken) {
		set_msg(st, "rollback: a COMMIT failed with an I/O error and may have reached the disk: "
		        "storage is in doubt (close and open again to read it)");
		return SQLITE_IOERR;
	}
	/* Ended by SQLite already (it rolled back by itself): nothing to do. */
	if (sqlite3_get_autocommit(st->db))
		return 0;
	if ((rc = step_once(st, st->rollback, "ROLLBACK")) != 0)
		st->broken = 1; /* what storage holds is unknown */
	return rc;
}

void sqlite_store_hook(sqlite_store *st, stg_storage *storage)
{
	stg_storage_init(storage, STG_STORAGE_VERSION);
	storage->load = st_load;
	storage->write = st_write;
	storage->remove = st_remove;
	storage->begin = st_begin;
	storage->commit = st_commit;
	storage->rollback = st_rollback;
	storage->write_integration = st_write_integration;
	storage->load_integrations = st_load_integrations;
	storage->payload = st;
}

long long sqlite_store_count(sqlite_store *st)
{
	sqlite3_stmt *s;
	long long n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM stg_entry", -1, &s, NULL) != SQLITE_OK) {
		db_fail(st, sqlite3_errcode(st->db), "count");
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	else
		db_fail(st, sqlite3_errcode(st->db), "count");
	sqlite3_finalize(s);
	return n;
}
