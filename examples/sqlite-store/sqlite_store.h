/*
 * sqlite_store: a stockguard storage hook kept in SQLite (a table of entries,
 * one of integration records).
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
 *     CREATE TABLE stg_integration (
 *         integration TEXT NOT NULL PRIMARY KEY,
 *         flags       INTEGER NOT NULL,  -- stg_integration_state flags
 *                                        -- (1: STG_INTEGRATION_PAUSED)
 *         updated_at  INTEGER NOT NULL   -- when the log wrote it, ms since the epoch
 *     ) WITHOUT ROWID;
 *
 * sqlite_store.py uses the same tables: a database made by either opens in
 * the other.
 *
 * The hook is version 2 (stg_storage with begin, commit and rollback): the
 * log makes each call that writes several entries (stg_log_submit_batch(),
 * stg_log_pump() ...) one SQLite transaction, durable (synchronous=FULL)
 * when the call returns, and a host that submits one change per call groups
 * calls with stg_log_begin()/stg_log_commit(). Outside a transaction each
 * write or remove is its own durable commit. What a failed commit does is
 * the log's business (stg_log_commit() in log.h): memory and storage agree
 * afterwards, with nothing to reopen.
 *
 * It also keeps the integration records (version 2, write_integration and
 * load_integrations): a pause made with stg_log_pause() is a row of
 * stg_integration, durable before the call returns, and comes back at the
 * next open; stg_log_resume() writes it again without the flag.
 *
 * The store's side of a failure inside a transaction:
 *  - a write or remove that fails leaves the transaction open when SQLite
 *    kept it (a constraint), and the log may still commit the writes before
 *    it; when SQLite rolled the whole transaction back by itself (disk full,
 *    an I/O error, a trigger's RAISE(ROLLBACK)) the store refuses every
 *    write and the commit until the log's rollback, so that nothing lands
 *    outside the transaction the log believes open;
 *  - a COMMIT that fails with an I/O error may have reached the disk: the
 *    rollback then says it cannot vouch for storage (non-zero), and the
 *    store refuses everything until it is closed and opened again (with the
 *    log, which then reads what storage holds).
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

/* Fill @p storage (version 2) with the store's load, write, remove, begin,
 * commit, rollback, write_integration and load_integrations functions. */
void sqlite_store_hook(sqlite_store *st, stg_storage *storage);

/* The message of the store's last failure ("" when none; "out of memory" for NULL). */
const char *sqlite_store_errmsg(const sqlite_store *st);

/* How many entries the table holds (-1 on failure): for tests and demos. */
long long sqlite_store_count(sqlite_store *st);

#endif /* SQLITE_STORE_H */
