/*
 * sqlite_store: a stockguard storage hook kept in one SQLite table.
 *
 * A small reusable piece for hosts that want the integration log to survive
 * a restart or a crash. Copy sqlite_store.{c,h} into your program and link
 * SQLite 3 (3.20 or later: WAL, sqlite3_prepare_v3).
 *
 *     sqlite_store *st;
 *     stg_storage storage = STG_STORAGE_INIT;
 *     stg_log_options options = STG_LOG_OPTIONS_INIT;
 *
 *     if (sqlite_store_open(&st, "stock.db") != 0) ... sqlite_store_errmsg(st) ...
 *     sqlite_store_hook(st, &storage);
 *     options.storage = &storage;
 *     stg_log_open(&log, &options);        -- loads every stored entry
 *     ...
 *     stg_log_close(log);                  -- first the log,
 *     sqlite_store_close(st);              -- then its store
 *
 * The table (created when missing):
 *
 *     CREATE TABLE stg_entry (
 *         integration TEXT NOT NULL,
 *         sku         TEXT NOT NULL,
 *         entry       BLOB NOT NULL,   -- stg_entry_encode() bytes
 *         PRIMARY KEY (integration, sku)
 *     ) WITHOUT ROWID;
 *
 * Each write or remove is committed (durably: synchronous=FULL) before the
 * hook returns, which is what the log's Durability contract asks for. A
 * host that wants fewer fsyncs can group many log calls into one
 * transaction with sqlite_store_begin()/sqlite_store_commit(); read the
 * caveat there.
 *
 * Like the log, a store is for one thread at a time.
 */
#ifndef SQLITE_STORE_H
#define SQLITE_STORE_H

#include <stockguard.h>

typedef struct sqlite_store sqlite_store;

/*
 * Open (or create) the database at @p path, set its pragmas and create the
 * table. On failure *@p out is a store holding only the message (read it
 * with sqlite_store_errmsg(), then close it), or NULL when out of memory.
 * Returns 0 or a SQLite result code (SQLITE_NOMEM when out of memory).
 */
int sqlite_store_open(sqlite_store **out, const char *path);

/* Close the database (rolling back a transaction still open). Close the log
 * that uses the store first. NULL is a no-op. */
void sqlite_store_close(sqlite_store *st);

/* Fill @p storage with the store's load, write and remove functions. */
void sqlite_store_hook(sqlite_store *st, stg_storage *storage);

/* The message of the store's last failure ("" when none; "out of memory" for NULL). */
const char *sqlite_store_errmsg(const sqlite_store *st);

/*
 * Group the writes of several log calls into one transaction (one fsync
 * instead of one per write), e.g. around a stg_log_submit_batch() of a
 * whole stock file. Until sqlite_store_commit() returns 0 none of them is
 * durable: the log's calls return before their writes are, so the host
 * must not treat them as done (ack its source, pump the log) before the
 * commit. When the commit fails the changes are rolled back and the log's
 * memory is ahead of its storage: close the log and open it again.
 * Returns 0 or a SQLite result code.
 */
int sqlite_store_begin(sqlite_store *st);
int sqlite_store_commit(sqlite_store *st);

/* How many entries the table holds (-1 on failure): for tests and demos. */
long long sqlite_store_count(sqlite_store *st);

#endif /* SQLITE_STORE_H */
