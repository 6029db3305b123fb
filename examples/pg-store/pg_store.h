/*
 * pg_store: a stockguard storage hook on PostgreSQL (libpq), with
 * partitions, leases and fencing: the base of running several connector
 * instances over one database (issue 16; docs/scale-out.md).
 *
 * Copy pg_store.{c,h} into your program and link libpq (PostgreSQL 13 or
 * later on the server: pg_current_xact_id()/pg_xact_status()).
 *
 *     pg_store *st;
 *     stg_storage storage;
 *     stg_log_options options = STG_LOG_OPTIONS_INIT;
 *
 *     if (pg_store_open(&st, "host=/run/postgresql dbname=stock", NULL) != 0)
 *             ... pg_store_errmsg(st) ...
 *     pg_store_acquire(st, "shop", 30000, NULL);   -- own a partition first
 *     pg_store_hook(st, &storage);
 *     options.storage = &storage;
 *     stg_log_open(&log, &options);       -- loads the owned partitions
 *     ... pump; pg_store_renew(st, 30000) well before the TTL runs out ...
 *     stg_log_close(log);                 -- first the log,
 *     pg_store_release(st);               -- then the leases (clean stop),
 *     pg_store_close(st);                 -- then the store
 *
 * Tables (created when missing, by whichever store opens first):
 *
 *     stg_entry (partition text, integration text, sku text,
 *                entry bytea,    -- stg_entry_encode() bytes
 *                epoch bigint,   -- the lease epoch that wrote the row
 *                primary key (integration, sku))   + an index on partition
 *     stg_lease (partition text primary key, owner text, epoch bigint,
 *                expires_at timestamptz)
 *     stg_shards (integration text primary key, shards int)
 *     stg_integration (partition text primary key, integration text,
 *                flags bigint,      -- stg_integration_state flags (1: paused)
 *                updated_at bigint, -- ms since the epoch, the log's clock
 *                epoch bigint)      -- the lease epoch that wrote the row
 *
 * **Partitions.** A partition is an integration name ("shop"), or
 * "integration#k" for shard k (0 <= k < n) of an integration split into n
 * shards with pg_store_set_shards(). The shard of a SKU is the 32-bit
 * FNV-1a hash of its bytes modulo n (pg_store_partition_of()): every
 * instance computes the same shard with no table lookup. The shard count is
 * kept in stg_shards, so every store agrees on it; changing it (resharding)
 * is not supported. Integration names containing '#' are refused.
 *
 * **Leases.** One row per partition in stg_lease. pg_store_acquire() takes a
 * lease that is free (never taken, or released) or expired, raising its
 * epoch by one: the epoch is the fencing token. Expiry is judged by the
 * database's clock, never the instance's, so clock skew between instances
 * does not matter. pg_store_renew() extends every lease this store holds
 * (it succeeds on an expired lease that nobody took over: the epoch did not
 * move), pg_store_release() frees them on a clean stop so another instance
 * takes over at once instead of after the TTL. Acquire before the log's
 * load: a partition acquired after it is refused (the log would not hold
 * its entries and would overwrite them).
 *
 * **Fencing.** Every write and remove is one statement that first locks
 * this store's lease row (SELECT ... FOR SHARE in a CTE, matching owner and
 * epoch) and writes only if it found it. A takeover updates that row, so it
 * waits for a transaction that wrote under the old epoch to end, and every
 * write after the takeover finds no row: it is rejected, the hook returns
 * PG_STORE_FENCED, the open transaction is rolled back at once, and the
 * store refuses everything (PG_STORE_FENCED) until it is closed. The new
 * owner's load therefore sees every commit of the old owner, and nothing
 * the old owner does afterwards reaches the table. The load checks the
 * leases in its snapshot too.
 *
 * **Integration records.** The hook keeps them (storage version 2,
 * write_integration and load_integrations), so a pause made with
 * stg_log_pause() survives a reopen, and a takeover. A record belongs to
 * the partitions of its integration: for a sharded one, every shard the
 * store holds gets its own row, written under that shard's lease (all in
 * one statement, all or none), so each instance keeps the pause of the
 * shards it owns and whoever takes a shard over gets its pause back. The
 * load merges the rows of the partitions the store holds per integration:
 * paused when any of them is. A record write is fenced like an entry's
 * (PG_STORE_FENCED, nothing written); one for an integration the store
 * holds no partition of is PG_STORE_EMISUSE (the log's stg_log_pause()
 * then fails with STG_ESTORAGE and pauses nothing).
 *
 * **Transactions.** The hook is version 2: one database transaction per
 * log transaction (begin/commit/rollback are BEGIN/COMMIT/ROLLBACK);
 * outside one each write or remove autocommits. A commit is durable when
 * COMMIT returns (synchronous_commit on, the server's default). On a write
 * that fails, PostgreSQL aborts the whole transaction: the store refuses
 * the later writes and the commit, and the rollback returns 0 (storage is
 * as it was at begin).
 *
 * **Connection loss.** A write that finds the connection gone inside a
 * transaction fails (the server rolled the transaction back when the
 * session died; the rollback returns 0). When COMMIT itself gets no answer,
 * the store reconnects and asks the server what became of the transaction
 * (pg_xact_status() of the id noted at begin): committed is success,
 * aborted a failed commit whose rollback returns 0 (so is an id the server
 * has no record of, after a crash lost it: nothing of it was durable);
 * unknown (still in progress) leaves storage in doubt: the rollback fails
 * and the store refuses everything until it is closed and opened again
 * with the log. A failure libpq reports itself (no SQLSTATE: "server closed
 * the connection unexpectedly") counts as a lost connection even when
 * PQstatus() still says CONNECTION_OK, as it does after a server crash or
 * restart.
 * Outside that case the store reconnects by itself on the next begin,
 * write, remove, load or lease call (leases are rows, not sessions: they
 * survive a reconnect).
 *
 * Like the log, a store is for one thread at a time; one store (one
 * connection) per log.
 */
#ifndef PG_STORE_H
#define PG_STORE_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

typedef struct pg_store pg_store;

/*
 * A write, remove, load, commit or renew was rejected because a lease of
 * this store moved on (another instance acquired the partition with a
 * higher epoch). The library's STG_EFENCED: the log then stops writing and
 * sending and returns STG_EFENCED from every call that would write (see
 * ::stg_storage, "Fencing"). After it the store refuses everything until
 * closed.
 */
#define PG_STORE_FENCED (-17)

/* pg_store_acquire(): the lease is held by another owner and has not expired. */
#define PG_STORE_TAKEN 1

/* The server or the connection failed (the message says what). */
#define PG_STORE_EDB (-1001)
/* The call does not fit the store's state (the message says why). */
#define PG_STORE_EMISUSE (-1002)
/* A commit's outcome is unknown, or a rollback failed: storage is in doubt;
 * close the log and the store and open them again. */
#define PG_STORE_EDOUBT (-1003)
/* Out of memory. */
#define PG_STORE_ENOMEM (-1004)

/*
 * Connect with libpq's @p conninfo ("" for the PG* environment variables),
 * create the tables when missing and prepare the statements. @p owner names
 * this store in stg_lease (unique per running instance); NULL makes one from
 * the host name, the process id and the time. On failure *@p out is a store
 * holding only the message (read it with pg_store_errmsg(), then close it),
 * or NULL when out of memory. Returns 0 or a PG_STORE_E* value.
 */
int pg_store_open(pg_store **out, const char *conninfo, const char *owner);

/* Close the connection (a transaction still open is rolled back by the
 * server). Leases stay as they are: release them first on a clean stop.
 * Close the log that uses the store first. NULL is a no-op. */
void pg_store_close(pg_store *st);

/* Fill @p storage (version 2) with the store's load, write, remove, begin,
 * commit, rollback, write_integration and load_integrations functions. */
void pg_store_hook(pg_store *st, stg_storage *storage);

/* The message of the store's last failure ("" when none; "out of memory" for NULL). */
const char *pg_store_errmsg(const pg_store *st);

/* The owner name this store writes into stg_lease. */
const char *pg_store_owner(const pg_store *st);

/*
 * Split @p integration into @p shards hash shards (1: not split), recorded
 * in stg_shards. Returns 0; PG_STORE_EMISUSE when the database already has
 * another count for it, or the name holds '#'; PG_STORE_EDB.
 */
int pg_store_set_shards(pg_store *st, const char *integration, unsigned shards);

/*
 * Write into @p out the partition of (@p integration, @p sku) for an
 * integration of @p shards shards: the integration itself for 0 or 1,
 * else "integration#k" with k = fnv1a32(sku) % shards. Returns the length,
 * or -1 when it does not fit in @p cap bytes (with its NUL).
 */
int pg_store_partition_of(char *out, size_t cap, const char *integration, const char *sku,
                          unsigned shards);

/* The 32-bit FNV-1a hash of the NUL-terminated @p s (offset basis 2166136261,
 * prime 16777619), which picks a SKU's shard. */
uint32_t pg_store_hash(const char *s);

/*
 * Take the lease of @p partition for @p ttl_ms milliseconds when it is free
 * or expired, raising its epoch; *@p epoch (may be NULL) receives the new
 * epoch. Returns 0; PG_STORE_TAKEN (another owner holds it unexpired);
 * PG_STORE_EMISUSE (held by this store already, a shard of an integration
 * not split that way, after the load, inside a transaction); PG_STORE_EDB;
 * PG_STORE_FENCED.
 */
int pg_store_acquire(pg_store *st, const char *partition, int64_t ttl_ms, int64_t *epoch);

/*
 * Extend every lease of this store to now + @p ttl_ms (the database's now).
 * Returns 0; PG_STORE_FENCED when one has been taken over (the store then
 * refuses everything); PG_STORE_EMISUSE inside a transaction; PG_STORE_EDB.
 */
int pg_store_renew(pg_store *st, int64_t ttl_ms);

/*
 * Give up every lease of this store (expired at once, epoch kept: the next
 * owner raises it). After it the store holds no partition and refuses
 * writes. Returns 0; PG_STORE_EMISUSE inside a transaction; PG_STORE_EDB.
 */
int pg_store_release(pg_store *st);

/* The epoch of this store's lease of @p partition, or -1 when it holds none. */
int64_t pg_store_epoch(const pg_store *st, const char *partition);

/* Rows the load fetches per round trip (FETCH n from a server-side cursor);
 * 0 restores the default, 1,000. What the store holds at once is one chunk. */
void pg_store_set_fetch_size(pg_store *st, int rows);

/* What the last load held at once: the most rows and bytes of row data in
 * one fetched chunk, and the rows it read in all (any may be NULL). */
void pg_store_load_stats(const pg_store *st, long long *rows, long long *peak_rows,
                         long long *peak_bytes);

/* The process id of the store's server session (for tests that end it with
 * pg_terminate_backend()), 0 when not connected. */
int pg_store_backend_pid(const pg_store *st);

/* How many times the store reconnected after losing its connection. */
long long pg_store_reconnects(const pg_store *st);

#endif /* PG_STORE_H */
