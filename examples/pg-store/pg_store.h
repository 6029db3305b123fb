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
 *     stg_inbox (id bigserial primary key, partition text, integration text,
 *                sku text, quantity bigint,
 *                sequence bigint,   -- source order; NULL: the row's id
 *                changed_at bigint, -- ms since the epoch; NULL: when claimed
 *                enqueued_at timestamptz)  + an index on (partition, id)
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
 * **The inbox.** Producers do not know which instance owns a SKU: they
 * INSERT (or COPY) rows into stg_inbox, with plain SQL and no library:
 *     INSERT INTO stg_inbox (integration, sku, quantity, sequence)
 *     VALUES ('shop', 'sku-1', 7, 1733130000123);
 * A trigger fills the partition with the SQL twin of
 * pg_store_partition_of() (stg_partition_of(integration, sku)), and CHECKs
 * refuse what the log would (keys of 1 to 1024 bytes, '#' in an
 * integration name, a negative changed_at). The owner claims its rows with
 * pg_store_inbox_claim() inside a transaction, and submits them to its log
 * in the same transaction: the rows leave the inbox in the commit that
 * writes their entries, or not at all, so a crash between the two loses
 * nothing and a claimed row is never applied twice:
 *     stg_log_begin(log);
 *     pg_store_begin(st);
 *     pg_store_inbox_claim(st, 1000, &changes, &n);
 *     rc = stg_log_submit_batch(log, changes, n, NULL, NULL);
 *     if (rc == 0) rc = stg_log_commit(log); else ... close the log (rollback) ...
 *     pg_store_end(st, rc == 0);          -- commits when the log wrote nothing
 * The claim is fenced like a write (it locks this store's lease rows and
 * deletes only rows of partitions it still holds) and skips rows another
 * session holds locked (FOR UPDATE SKIP LOCKED), so two claimers never get
 * the same row. Newest wins by sequence: a row older than what the log
 * applied for its SKU (a producer's replay, a late duplicate) is a stale
 * change the log ignores, never a regression. Rows are claimed oldest
 * first (by id) within a partition. There is no wake-up (LISTEN/NOTIFY):
 * the owner polls, one indexed query per partition and poll.
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

/*
 * Open a transaction on the store's session for the host, before the log's
 * (stg_log_begin() tells storage only at its first write): what the host
 * does in it (pg_store_inbox_claim()) and the log's writes until
 * stg_log_commit() are one database transaction. The log's commit or
 * rollback ends it; when the log wrote nothing, pg_store_end() does.
 * Returns 0; PG_STORE_EMISUSE (one is open); PG_STORE_EDB; PG_STORE_FENCED.
 */
int pg_store_begin(pg_store *st);

/*
 * End the transaction pg_store_begin() opened, when the log did not end it:
 * COMMIT when @p commit is non-zero, else ROLLBACK. Nothing open (the log's
 * commit or rollback ended it, or none was) is 0. Returns 0;
 * PG_STORE_EMISUSE (the log joined it and has not ended it: call
 * stg_log_commit()); the commit's failure (then rolled back: the claimed
 * rows are back in the inbox); PG_STORE_EDOUBT; PG_STORE_FENCED.
 */
int pg_store_end(pg_store *st, int commit);

/*
 * Claim up to @p max (1 to 1,000,000) inbox rows of the partitions this
 * store holds, oldest first: they are deleted in the open transaction (see
 * "The inbox" above) and handed back as *@p n changes in *@p changes, ready
 * for stg_log_submit_batch() (available = quantity, sequence, changed_at).
 * The array and its strings belong to the store and stay valid until the
 * next claim or pg_store_close(). Returns 0 (*@p n may be 0);
 * PG_STORE_EMISUSE (no transaction open, bad @p max); PG_STORE_FENCED (a
 * lease moved on: nothing claimed, the transaction rolled back);
 * PG_STORE_EDB (the transaction is lost: roll it back); PG_STORE_ENOMEM.
 */
int pg_store_inbox_claim(pg_store *st, size_t max, const stg_submit **changes, size_t *n);

/* How many inbox rows this store's claims returned since it was opened
 * (claims rolled back included). */
long long pg_store_inbox_claimed(const pg_store *st);

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
