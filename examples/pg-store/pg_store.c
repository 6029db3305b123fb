/*
 * pg_store: a stockguard storage hook on PostgreSQL, with partition leases
 * and fencing. See pg_store.h for the tables and how to use it.
 *
 * Choices:
 *
 * - One row per (integration, SKU) holding the stg_entry_encode() bytes,
 *   like the SQLite store: the encoding is versioned and checksummed, so the
 *   load validates every row with stg_entry_decode(). The partition column
 *   (indexed) is what the load selects on; the epoch column records which
 *   lease wrote the row (for audits and tests; nothing reads it back).
 *
 * - Fencing is in the statement, not a check before it: a check followed by
 *   a write leaves a gap in which a takeover can commit. The CTE's
 *   SELECT ... FOR SHARE of the lease row both checks owner and epoch and
 *   holds the row until the transaction ends, so a takeover (an UPDATE of
 *   that row) waits for the writer; in READ COMMITTED a write that waited
 *   for a takeover re-reads the row, finds the new epoch and writes nothing.
 *
 * - Statements are prepared once per session (PQprepare, again after a
 *   reconnect: prepared statements live in the server session). Parameters
 *   go as text but the entry bytes, which go binary (no hex encoding), and
 *   the load fetches binary rows for the same reason.
 *
 * - The load is a server-side cursor (DECLARE ... FETCH n) in one
 *   REPEATABLE READ READ ONLY transaction: one snapshot, and at most one
 *   chunk of rows in this process at a time, so opening a log of a million
 *   entries does not hold them twice (libpq would hold a plain SELECT's
 *   whole result). COPY TO STDOUT would stream too, but in text, and needs
 *   its own bytea decoding.
 *
 * - BEGIN also reads pg_current_xact_id() (one round trip, two statements):
 *   when COMMIT gets no answer, pg_xact_status() of that id on a new
 *   session tells whether it committed, so a dropped connection at the
 *   worst moment is an answer, not a doubt.
 *
 * - A write or remove outside a transaction that loses its connection is
 *   sent again once on a new session: both are idempotent (the same row
 *   ends up written, or absent), so a repeat cannot do harm, and the caller
 *   gets a definite answer. So is an integration record's write.
 *
 * - Integration records (a pause made with stg_log_pause()) are fenced like
 *   entries, per partition: one row per partition of the integration, each
 *   written under that partition's lease. A sharded integration has no
 *   single owner: the log that owns shard 1 and pauses it has its own
 *   pause to keep, and shard 0's lease (were it the guard) would be another
 *   instance's. So a store writes a row for every partition of the
 *   integration it holds, in one statement that writes all of them or none
 *   (none when one lease is gone: fenced), and the load hands the log, per
 *   integration, the rows of the partitions it holds merged: the flags
 *   OR-ed (paused when any is; a manual pause is a "stop sending", losing
 *   one is the worse error) and the latest updated_at. Whoever takes over
 *   a partition gets its pause back with its entries.
 */
#define _POSIX_C_SOURCE 200809L

#include "pg_store.h"

#include <libpq-fe.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Type OIDs of the parameters (pg_type.oid; fixed since PostgreSQL 7). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT4 23
#define OID_TEXT 25

#define DEFAULT_FETCH 1000

typedef struct lease {
	char *partition;
	int64_t epoch;
} lease;

typedef struct shard_count {
	char *integration;
	unsigned shards;
} shard_count;

struct pg_store {
	PGconn *conn;
	char owner[256];
	lease *leases;
	size_t nleases, cap_leases;
	shard_count *shards;
	size_t nshards, cap_shards;
	int in_txn;    /* between the hook's begin and its commit or rollback */
	int host_txn;  /* that transaction was opened by pg_store_begin(), for the host */
	int joined;    /* the log's begin joined the host's transaction */
	int txn_lost;  /* that transaction ended on the server: refuse writes until the rollback */
	int fenced;    /* a lease moved on: refuse everything until closed */
	int broken;    /* storage in doubt: refuse everything until reopened */
	int lost;      /* the session is gone though PQstatus() says OK (see conn_lost) */
	int loaded;    /* the log's load ran: no more acquires */
	char xid[32];  /* pg_current_xact_id() of the open transaction */
	int fetch_size;
	int64_t idle_ms; /* the session's idle_in_transaction_session_timeout: the smallest TTL */
	long long load_rows, peak_rows, peak_bytes, reconnects;
	PGresult *claimed;     /* the last inbox claim's rows, which claim_buf points into */
	stg_submit *claim_buf;
	size_t cap_claim;
	long long claimed_rows;
	char errmsg[1024];
	char part[STG_KEY_MAX + 16];
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
};

/* ---------------------------------------------------------------- SQL */

/* Two stores opening at once must not both create the tables (CREATE ...
 * IF NOT EXISTS races on the catalog): the advisory lock serialises them. */
static const char create_sql[] =
	"SET client_min_messages = warning;" /* not "already exists, skipping" */
	"BEGIN;"
	"SELECT pg_advisory_xact_lock(7372616);"
	"CREATE TABLE IF NOT EXISTS stg_entry ("
	" partition text NOT NULL,"
	" integration text NOT NULL,"
	" sku text NOT NULL,"
	" entry bytea NOT NULL,"
	" epoch bigint NOT NULL,"
	" PRIMARY KEY (integration, sku));"
	"CREATE INDEX IF NOT EXISTS stg_entry_partition ON stg_entry (partition);"
	"CREATE TABLE IF NOT EXISTS stg_lease ("
	" partition text PRIMARY KEY,"
	" owner text,"
	" epoch bigint NOT NULL,"
	" expires_at timestamptz NOT NULL);"
	"CREATE TABLE IF NOT EXISTS stg_shards ("
	" integration text PRIMARY KEY,"
	" shards int NOT NULL CHECK (shards >= 1));"
	"CREATE TABLE IF NOT EXISTS stg_integration ("
	" partition text PRIMARY KEY,"
	" integration text NOT NULL,"
	" flags bigint NOT NULL CHECK (flags BETWEEN 0 AND 4294967295),"
	" updated_at bigint NOT NULL,"
	" epoch bigint NOT NULL);"
	/* The inbox: any producer inserts; the trigger routes each row to its
	 * partition with the same FNV-1a as pg_store_partition_of(), so a
	 * producer needs neither the shard count nor this library. The CHECKs
	 * refuse at the producer's INSERT what stg_log_submit() would refuse
	 * at the claim, so a bad row can never block a partition's inbox. */
	"CREATE TABLE IF NOT EXISTS stg_inbox ("
	" id bigserial PRIMARY KEY,"
	" partition text NOT NULL,"
	" integration text NOT NULL"
	"  CHECK (octet_length(integration) BETWEEN 1 AND 1024 AND strpos(integration, '#') = 0),"
	" sku text NOT NULL CHECK (octet_length(sku) BETWEEN 1 AND 1024),"
	" quantity bigint NOT NULL,"
	" sequence bigint,"
	" changed_at bigint CHECK (changed_at >= 0),"
	" enqueued_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX IF NOT EXISTS stg_inbox_partition ON stg_inbox (partition, id);"
	/* h stays below 2^32 and 16777619 below 2^25: the product fits a bigint. */
	"CREATE OR REPLACE FUNCTION stg_fnv1a32(s text) RETURNS bigint"
	" LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $f$"
	" DECLARE h bigint := 2166136261; b bytea := convert_to(s, 'UTF8'); i int;"
	" BEGIN"
	"  FOR i IN 0 .. length(b) - 1 LOOP"
	"   h := ((h # get_byte(b, i)) * 16777619) % 4294967296;"
	"  END LOOP;"
	"  RETURN h;"
	" END $f$;"
	"CREATE OR REPLACE FUNCTION stg_partition_of(i text, s text) RETURNS text"
	" LANGUAGE sql STABLE STRICT AS $f$"
	" SELECT CASE WHEN n.shards > 1 THEN i || '#' || (stg_fnv1a32(s) % n.shards)::text ELSE i END"
	" FROM (SELECT coalesce((SELECT shards FROM stg_shards WHERE integration = i), 1) AS shards) n"
	" $f$;"
	"CREATE OR REPLACE FUNCTION stg_inbox_route() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" BEGIN NEW.partition := stg_partition_of(NEW.integration, NEW.sku); RETURN NEW; END $f$;"
	"DO $d$ BEGIN"
	" IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'stg_inbox_route'"
	"  AND tgrelid = 'stg_inbox'::regclass) THEN"
	"  CREATE TRIGGER stg_inbox_route BEFORE INSERT OR UPDATE OF integration, sku ON stg_inbox"
	"  FOR EACH ROW EXECUTE FUNCTION stg_inbox_route();"
	" END IF; END $d$;"
	"COMMIT";

typedef struct statement {
	const char *name;
	const char *sql;
	int nparams;
	Oid types[7];
} statement;

/* $1 partition, $2 owner, $3 epoch: the lease this store holds. */
static const statement statements[] = {
	{ "stg_put",
	  "WITH l AS (SELECT 1 FROM stg_lease WHERE partition = $1 AND owner = $2 AND epoch = $3"
	  " FOR SHARE)"
	  " INSERT INTO stg_entry (partition, integration, sku, entry, epoch)"
	  " SELECT $1, $4, $5, $6, $3 FROM l"
	  " ON CONFLICT (integration, sku) DO UPDATE SET partition = EXCLUDED.partition,"
	  " entry = EXCLUDED.entry, epoch = EXCLUDED.epoch",
	  6, { OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT, OID_TEXT, OID_BYTEA } },
	/* Answers (lease rows found, rows deleted): absent is success, no lease is fenced. */
	{ "stg_del",
	  "WITH l AS (SELECT 1 FROM stg_lease WHERE partition = $1 AND owner = $2 AND epoch = $3"
	  " FOR SHARE),"
	  " d AS (DELETE FROM stg_entry WHERE integration = $4 AND sku = $5"
	  " AND EXISTS (SELECT 1 FROM l) RETURNING 1)"
	  " SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM d)",
	  5, { OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT, OID_TEXT } },
	/* Free (released: owner NULL) or expired by the database's clock. */
	{ "stg_acquire",
	  "INSERT INTO stg_lease AS l (partition, owner, epoch, expires_at)"
	  " VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')"
	  " ON CONFLICT (partition) DO UPDATE SET owner = EXCLUDED.owner, epoch = l.epoch + 1,"
	  " expires_at = EXCLUDED.expires_at"
	  " WHERE l.owner IS NULL OR l.expires_at <= now()"
	  " RETURNING epoch",
	  3, { OID_TEXT, OID_TEXT, OID_INT8 } },
	/* $1 partitions, $2 owner, $3 epochs (arrays in step). */
	{ "stg_renew",
	  "UPDATE stg_lease AS l SET expires_at = now() + $4 * interval '1 millisecond'"
	  " FROM unnest($1::text[], $3::bigint[]) AS o(partition, epoch)"
	  " WHERE l.partition = o.partition AND l.epoch = o.epoch AND l.owner = $2",
	  4, { OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8 } },
	{ "stg_release",
	  "UPDATE stg_lease AS l SET owner = NULL, expires_at = now()"
	  " FROM unnest($1::text[], $3::bigint[]) AS o(partition, epoch)"
	  " WHERE l.partition = o.partition AND l.epoch = o.epoch AND l.owner = $2",
	  3, { OID_TEXT, OID_TEXT, OID_TEXT } },
	{ "stg_leases_held",
	  "SELECT count(*) FROM stg_lease AS l"
	  " JOIN unnest($1::text[], $3::bigint[]) AS o(partition, epoch)"
	  " ON l.partition = o.partition AND l.epoch = o.epoch WHERE l.owner = $2",
	  3, { OID_TEXT, OID_TEXT, OID_TEXT } },
	/* One row either way: the inserted count, or the one already there (the
	 * second SELECT does not see the statement's own insert). */
	{ "stg_set_shards",
	  "WITH ins AS (INSERT INTO stg_shards (integration, shards) VALUES ($1, $2)"
	  " ON CONFLICT (integration) DO NOTHING RETURNING shards)"
	  " SELECT shards FROM ins UNION ALL SELECT shards FROM stg_shards WHERE integration = $1",
	  2, { OID_TEXT, OID_INT4 } },
	{ "stg_get_shards", "SELECT shards FROM stg_shards WHERE integration = $1", 1, { OID_TEXT } },
	{ "stg_xact_status", "SELECT pg_xact_status($1::xid8)", 1, { OID_TEXT } },
	/* $1 partitions, $2 owner, $3 epochs (arrays in step: this store's
	 * leases of the integration, $7 of them). One row per partition, all or
	 * none: with a lease gone, none (and the store is fenced). */
	{ "stg_put_integ",
	  "WITH l AS (SELECT sl.partition, sl.epoch FROM stg_lease AS sl"
	  " JOIN unnest($1::text[], $3::bigint[]) AS o(partition, epoch)"
	  " ON sl.partition = o.partition AND sl.epoch = o.epoch WHERE sl.owner = $2"
	  " FOR SHARE OF sl)"
	  " INSERT INTO stg_integration (partition, integration, flags, updated_at, epoch)"
	  " SELECT partition, $4, $5, $6, epoch FROM l WHERE (SELECT count(*) FROM l) = $7"
	  " ON CONFLICT (partition) DO UPDATE SET integration = EXCLUDED.integration,"
	  " flags = EXCLUDED.flags, updated_at = EXCLUDED.updated_at, epoch = EXCLUDED.epoch",
	  7, { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_INT8, OID_INT8 } },
	/* $1 partitions, $2 owner, $3 epochs (this store's leases), $4 rows at
	 * most. The first row (id -1) counts the leases found: fewer than held
	 * is fenced. The leases stay locked FOR SHARE until the transaction
	 * ends, like a write's, so a takeover waits for the claim's commit. */
	{ "stg_claim",
	  "WITH l AS (SELECT sl.partition FROM stg_lease AS sl"
	  " JOIN unnest($1::text[], $3::bigint[]) AS o(partition, epoch)"
	  " ON sl.partition = o.partition AND sl.epoch = o.epoch WHERE sl.owner = $2"
	  " FOR SHARE OF sl),"
	  " c AS (SELECT id FROM stg_inbox WHERE partition IN (SELECT partition FROM l)"
	  " ORDER BY partition, id LIMIT $4 FOR UPDATE SKIP LOCKED),"
	  " d AS (DELETE FROM stg_inbox AS i USING c WHERE i.id = c.id"
	  " RETURNING i.id, i.integration, i.sku, i.quantity, coalesce(i.sequence, i.id) AS sequence,"
	  " coalesce(i.changed_at, 0) AS changed_at)"
	  " SELECT -1::bigint AS id, NULL::text, NULL::text, (SELECT count(*) FROM l), NULL::bigint,"
	  " NULL::bigint"
	  " UNION ALL SELECT * FROM d ORDER BY 1",
	  4, { OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8 } },
};

/* ------------------------------------------------------------ messages */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void set_msg(pg_store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
	va_end(ap);
}

/* libpq's messages end with a newline (several lines for some); keep the
 * first line, which says what happened. */
static void first_line(char *out, size_t cap, const char *msg)
{
	size_t n = strcspn(msg ? msg : "", "\n");

	if (n >= cap)
		n = cap - 1;
	memcpy(out, msg ? msg : "", n);
	out[n] = '\0';
}

/* Whether the failed @p res means the server never answered: the session
 * is gone. PQstatus() alone does not tell: after the server was restarted
 * with -m immediate (or crashed), the first statement on the dead session
 * fails with "server closed the connection unexpectedly" while PQstatus()
 * still says CONNECTION_OK (libpq 15). Trusting PQstatus(), the store took
 * that for the server's answer: a COMMIT without an answer counted as
 * rolled back without asking (had it committed, the log would have undone
 * what storage holds), and a begin or a write outside a transaction failed
 * instead of reconnecting. An error the server sent always has a SQLSTATE;
 * one libpq made up (no answer, or none it could read) has none, so that
 * counts as lost too, and the next ensure_conn() makes a new session. */
static int conn_lost(pg_store *st, const PGresult *res)
{
	if (PQstatus(st->conn) == CONNECTION_BAD)
		return 1;
	if (PQresultStatus(res) == PGRES_FATAL_ERROR && !PQresultErrorField(res, PG_DIAG_SQLSTATE))
		st->lost = 1;
	return st->lost;
}

/* Record why @p what failed (the result's message, else the connection's)
 * and return PG_STORE_EDB. Clears @p res. */
static int db_fail(pg_store *st, PGresult *res, const char *what)
{
	char why[600];
	const char *m = res ? PQresultErrorMessage(res) : "";

	if (!m || !*m)
		m = PQerrorMessage(st->conn);
	first_line(why, sizeof why, m && *m ? m : "no answer from the server");
	set_msg(st, "%s: %s%s", what, why, conn_lost(st, res) ? " (connection lost)" : "");
	PQclear(res);
	return PG_STORE_EDB;
}

const char *pg_store_errmsg(const pg_store *st)
{
	return st ? st->errmsg : "out of memory";
}

const char *pg_store_owner(const pg_store *st)
{
	return st->owner;
}

/* --------------------------------------------------------- connection */

/* A store stopped in the middle of a transaction (SIGSTOP, a stalled VM)
 * keeps its lease rows locked FOR SHARE, and a takeover's UPDATE would
 * wait for it forever: the server ends a session idle in a transaction
 * for longer than the smallest TTL this store was given. A transaction
 * that long is past its lease anyway (renewing needs it closed). */
static int apply_idle_timeout(pg_store *st)
{
	char sql[96];
	PGresult *res;

	if (st->idle_ms <= 0)
		return 0;
	snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout = %lld",
	         (long long)(st->idle_ms > 2147483647 ? 2147483647 : st->idle_ms));
	res = PQexec(st->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_fail(st, res, "SET idle_in_transaction_session_timeout");
	PQclear(res);
	return 0;
}

static int lower_idle_timeout(pg_store *st, int64_t ttl_ms)
{
	if (st->idle_ms > 0 && st->idle_ms <= ttl_ms)
		return 0;
	st->idle_ms = ttl_ms;
	return apply_idle_timeout(st);
}

/* Everything a new server session needs: prepared statements, and
 * synchronous_commit not off (the hook's commit must mean durable; a server
 * whose default is off would acknowledge commits it may lose). */
static int setup_session(pg_store *st)
{
	PGresult *res;
	size_t i;

	res = PQexec(st->conn, "SELECT current_setting('synchronous_commit') = 'off'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return db_fail(st, res, "SHOW synchronous_commit");
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		res = PQexec(st->conn, "SET synchronous_commit = on");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return db_fail(st, res, "SET synchronous_commit");
	}
	PQclear(res);
	for (i = 0; i < sizeof statements / sizeof statements[0]; i++) {
		const statement *s = &statements[i];
		res = PQprepare(st->conn, s->name, s->sql, s->nparams, s->types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return db_fail(st, res, s->name);
		PQclear(res);
	}
	return apply_idle_timeout(st);
}

static int reconnect(pg_store *st)
{
	char why[600];

	PQreset(st->conn);
	st->lost = 0;
	if (PQstatus(st->conn) != CONNECTION_OK) {
		first_line(why, sizeof why, PQerrorMessage(st->conn));
		set_msg(st, "reconnect: %s", why);
		return PG_STORE_EDB;
	}
	st->reconnects++;
	return setup_session(st);
}

/* Before a step outside a transaction: a connection lost since is made anew. */
static int ensure_conn(pg_store *st)
{
	return PQstatus(st->conn) == CONNECTION_OK && !st->lost ? 0 : reconnect(st);
}

static void make_owner(pg_store *st)
{
	char host[128] = "host";
	struct timespec ts;

	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Unique per running process; the time tells a restarted process
	 * (same pid, other run) from its predecessor. */
	snprintf(st->owner, sizeof st->owner, "%s:%ld:%lld.%09ld", host, (long)getpid(),
	         (long long)ts.tv_sec, ts.tv_nsec);
}

int pg_store_open(pg_store **out, const char *conninfo, const char *owner)
{
	static const char *const keys[] = { "dbname", "fallback_application_name", NULL };
	const char *values[] = { conninfo ? conninfo : "", "stockguard-pg-store", NULL };
	pg_store *st = calloc(1, sizeof *st);
	PGresult *res;
	char why[600];
	int rc;

	*out = st;
	if (!st)
		return PG_STORE_ENOMEM;
	st->fetch_size = DEFAULT_FETCH;
	if (owner && strlen(owner) >= sizeof st->owner) {
		set_msg(st, "open: the owner name is longer than %zu bytes", sizeof st->owner - 1);
		return PG_STORE_EMISUSE;
	}
	if (owner && *owner)
		snprintf(st->owner, sizeof st->owner, "%s", owner);
	else
		make_owner(st);
	/* expand_dbname: @p conninfo may be "key=value ..." or a URI. */
	st->conn = PQconnectdbParams(keys, values, 1);
	if (!st->conn) {
		set_msg(st, "open: out of memory");
		return PG_STORE_ENOMEM;
	}
	if (PQstatus(st->conn) != CONNECTION_OK) {
		first_line(why, sizeof why, PQerrorMessage(st->conn));
		set_msg(st, "open: %s", why);
		return PG_STORE_EDB;
	}
	if (PQserverVersion(st->conn) < 130000) {
		set_msg(st, "open: the server is PostgreSQL %d; the store needs 13 or later "
		        "(pg_xact_status)", PQserverVersion(st->conn) / 10000);
		return PG_STORE_EDB;
	}
	/* Only when something is missing: CREATE INDEX ... IF NOT EXISTS locks
	 * its table first, so it would wait behind any open writer, a stopped
	 * one included. The trigger is created last. */
	res = PQexec(st->conn, "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'stg_inbox_route')");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		return setup_session(st);
	}
	PQclear(res);
	res = PQexec(st->conn, create_sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = db_fail(st, res, "open: create the tables");
		PQclear(PQexec(st->conn, "ROLLBACK"));
		return rc;
	}
	PQclear(res);
	return setup_session(st);
}

void pg_store_close(pg_store *st)
{
	size_t i;

	if (!st)
		return;
	PQfinish(st->conn); /* the server rolls back a transaction left open */
	for (i = 0; i < st->nleases; i++)
		free(st->leases[i].partition);
	for (i = 0; i < st->nshards; i++)
		free(st->shards[i].integration);
	PQclear(st->claimed);
	free(st->claim_buf);
	free(st->leases);
	free(st->shards);
	free(st);
}

/* ------------------------------------------------- partitions and shards */

uint32_t pg_store_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

int pg_store_partition_of(char *out, size_t cap, const char *integration, const char *sku,
                          unsigned shards)
{
	int n = shards <= 1 ? snprintf(out, cap, "%s", integration)
	                    : snprintf(out, cap, "%s#%u", integration, pg_store_hash(sku) % shards);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

static unsigned shards_of(const pg_store *st, const char *integration)
{
	size_t i;

	for (i = 0; i < st->nshards; i++)
		if (strcmp(st->shards[i].integration, integration) == 0)
			return st->shards[i].shards;
	return 1;
}

static int remember_shards(pg_store *st, const char *integration, unsigned n)
{
	size_t i;
	char *copy;

	for (i = 0; i < st->nshards; i++)
		if (strcmp(st->shards[i].integration, integration) == 0) {
			st->shards[i].shards = n;
			return 0;
		}
	if (st->nshards == st->cap_shards) {
		size_t cap = st->cap_shards ? 2 * st->cap_shards : 8;
		shard_count *p = realloc(st->shards, cap * sizeof *p);
		if (!p)
			goto nomem;
		st->shards = p;
		st->cap_shards = cap;
	}
	if (!(copy = strdup(integration)))
		goto nomem;
	st->shards[st->nshards].integration = copy;
	st->shards[st->nshards++].shards = n;
	return 0;
nomem:
	set_msg(st, "out of memory");
	return PG_STORE_ENOMEM;
}

static const lease *find_lease(const pg_store *st, const char *partition)
{
	size_t i;

	for (i = 0; i < st->nleases; i++)
		if (strcmp(st->leases[i].partition, partition) == 0)
			return &st->leases[i];
	return NULL;
}

int64_t pg_store_epoch(const pg_store *st, const char *partition)
{
	const lease *l = find_lease(st, partition);

	return l ? l->epoch : -1;
}

/* Whether the store may do anything: not once fenced, nor in doubt. */
static int refused(pg_store *st, const char *what)
{
	if (st->fenced) {
		set_msg(st, "%s: refused: a lease of this store was taken over (fenced); "
		        "close the log and the store", what);
		return PG_STORE_FENCED;
	}
	if (st->broken) {
		set_msg(st, "%s: refused: a commit's outcome is unknown and storage is in doubt: "
		        "close the log and the store and open them again", what);
		return PG_STORE_EDOUBT;
	}
	return 0;
}

/* The lease moved on: end the open transaction now (so nothing this store
 * wrote in it can be committed whatever the caller does next) and refuse
 * everything from here on. */
static int fence(pg_store *st, const char *what, const char *partition)
{
	if (st->in_txn && PQstatus(st->conn) == CONNECTION_OK)
		PQclear(PQexec(st->conn, "ROLLBACK"));
	if (st->in_txn)
		st->txn_lost = 1;
	st->fenced = 1;
	set_msg(st, "%s: fenced: the lease of %.200s (epoch %lld, owner %.100s) was taken over", what,
	        partition, (long long)pg_store_epoch(st, partition), st->owner);
	return PG_STORE_FENCED;
}

/* Whether @p partition is @p integration or one of its shards. */
static int of_integration(const char *partition, const char *integration)
{
	size_t len = strlen(integration);

	return strncmp(partition, integration, len) == 0 &&
	       (partition[len] == '\0' || partition[len] == '#');
}

int pg_store_set_shards(pg_store *st, const char *integration, unsigned shards)
{
	const char *params[2];
	char n[16];
	PGresult *res;
	size_t i;
	int rc;

	if ((rc = refused(st, "set_shards")))
		return rc;
	if (strchr(integration, '#') || shards < 1 || shards > 65536) {
		set_msg(st, "set_shards: %.200s: the name must not hold '#' and the count must be 1 to 65536",
		        integration);
		return PG_STORE_EMISUSE;
	}
	for (i = 0; i < st->nleases; i++) {
		if (of_integration(st->leases[i].partition, integration)) {
			set_msg(st, "set_shards: this store holds a lease of %.200s already", integration);
			return PG_STORE_EMISUSE;
		}
	}
	if (st->in_txn) {
		set_msg(st, "set_shards: a transaction is open");
		return PG_STORE_EMISUSE;
	}
	if ((rc = ensure_conn(st)))
		return rc;
	snprintf(n, sizeof n, "%u", shards);
	params[0] = integration;
	params[1] = n;
	res = PQexecPrepared(st->conn, "stg_set_shards", 2, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		/* Another store inserted the row at the same moment: our insert
		 * waited for it and did nothing, and our SELECT's snapshot is from
		 * before its commit. A new statement has a new snapshot. */
		PQclear(res);
		res = PQexecPrepared(st->conn, "stg_set_shards", 2, params, NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return db_fail(st, res, "set_shards");
	if (strcmp(PQgetvalue(res, 0, 0), n) != 0) {
		set_msg(st, "set_shards: %.200s has %s shards in the database, not %u (resharding is "
		        "not supported)", integration, PQgetvalue(res, 0, 0), shards);
		PQclear(res);
		return PG_STORE_EMISUSE;
	}
	PQclear(res);
	return remember_shards(st, integration, shards);
}

/* ---------------------------------------------------------------- leases */

/* The store's leases (of @p integration's partitions only, unless NULL) as
 * two array literals in step ('{"a","b"}', '{1,2}'), for unnest() on the
 * server; *@p count (may be NULL) receives how many. Returns 0 or
 * PG_STORE_ENOMEM. */
static int lease_arrays(pg_store *st, const char *integration, char **parts, char **epochs,
                        size_t *count)
{
	size_t i, cap_p = 3, cap_e = 3, np = 0, ne = 0, k = 0;
	char *p, *e;

	for (i = 0; i < st->nleases; i++) {
		cap_p += 2 * strlen(st->leases[i].partition) + 3;
		cap_e += 21;
	}
	p = malloc(cap_p);
	e = malloc(cap_e);
	if (!p || !e) {
		free(p);
		free(e);
		set_msg(st, "out of memory");
		return PG_STORE_ENOMEM;
	}
	p[np++] = '{';
	e[ne++] = '{';
	for (i = 0; i < st->nleases; i++) {
		const char *s;
		if (integration && !of_integration(st->leases[i].partition, integration))
			continue;
		if (k++) {
			p[np++] = ',';
			e[ne++] = ',';
		}
		/* Quoted elements: a backslash before " and \ (array literal rules). */
		p[np++] = '"';
		for (s = st->leases[i].partition; *s; s++) {
			if (*s == '"' || *s == '\\')
				p[np++] = '\\';
			p[np++] = *s;
		}
		p[np++] = '"';
		ne += (size_t)snprintf(e + ne, cap_e - ne, "%lld", (long long)st->leases[i].epoch);
	}
	p[np++] = '}';
	p[np] = '\0';
	e[ne++] = '}';
	e[ne] = '\0';
	*parts = p;
	*epochs = e;
	if (count)
		*count = k;
	return 0;
}

/* Run one of stg_renew / stg_release / stg_leases_held over every lease;
 * *@p n receives the rows it touched or counted. */
static int lease_statement(pg_store *st, const char *name, int64_t ttl_ms, long long *n)
{
	const char *params[4];
	char ttl[24], *parts, *epochs;
	PGresult *res;
	int rc, counts = strcmp(name, "stg_leases_held") == 0;

	if ((rc = lease_arrays(st, NULL, &parts, &epochs, NULL)))
		return rc;
	snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
	params[0] = parts;
	params[1] = st->owner;
	params[2] = epochs;
	params[3] = ttl;
	res = PQexecPrepared(st->conn, name, strcmp(name, "stg_renew") == 0 ? 4 : 3, params, NULL,
	                     NULL, 0);
	free(parts);
	free(epochs);
	if (PQresultStatus(res) != (counts ? PGRES_TUPLES_OK : PGRES_COMMAND_OK))
		return db_fail(st, res, name + 4);
	*n = atoll(counts ? PQgetvalue(res, 0, 0) : PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* For a call that must not run inside the log's transaction (a lease call
 * would join it and share its fate; a load has one of its own): refused,
 * or inside one. */
static int outside_txn(pg_store *st, const char *what)
{
	int rc;

	if ((rc = refused(st, what)))
		return rc;
	if (st->in_txn) {
		set_msg(st, "%s: a transaction is open; call it between log calls", what);
		return PG_STORE_EMISUSE;
	}
	return 0;
}

/* For a lease call: refused, inside a transaction, or the connection. */
static int lease_call_ok(pg_store *st, const char *what)
{
	int rc = outside_txn(st, what);

	return rc ? rc : ensure_conn(st);
}

/* Check @p partition against stg_shards: a shard "x#k" needs x split into
 * more than k shards, a plain name one not split. Remembers the count. */
static int check_partition(pg_store *st, const char *partition)
{
	const char *hash = strrchr(partition, '#'), *params[1];
	char integ[STG_KEY_MAX + 1];
	unsigned long k = 0;
	unsigned shards = 1;
	PGresult *res;
	size_t len = hash ? (size_t)(hash - partition) : strlen(partition);

	if (len == 0 || len > STG_KEY_MAX ||
	    (hash && (hash[1] == '\0' || strspn(hash + 1, "0123456789") != strlen(hash + 1) ||
	              strlen(hash + 1) > 5)) ||
	    memchr(partition, '#', len)) {
		set_msg(st, "acquire: '%.200s' is not a partition (an integration, or integration#shard)",
		        partition);
		return PG_STORE_EMISUSE;
	}
	memcpy(integ, partition, len);
	integ[len] = '\0';
	if (hash)
		k = strtoul(hash + 1, NULL, 10);
	params[0] = integ;
	res = PQexecPrepared(st->conn, "stg_get_shards", 1, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return db_fail(st, res, "acquire: read stg_shards");
	if (PQntuples(res) == 1)
		shards = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (hash ? shards <= 1 || k >= shards : shards > 1) {
		set_msg(st, "acquire: %.200s: %.200s has %u shard%s in stg_shards", partition, integ,
		        shards, shards == 1 ? " (not split)" : "s");
		return PG_STORE_EMISUSE;
	}
	return remember_shards(st, integ, shards);
}

int pg_store_acquire(pg_store *st, const char *partition, int64_t ttl_ms, int64_t *epoch)
{
	const char *params[3];
	char ttl[24], *copy;
	PGresult *res;
	int rc;

	if ((rc = lease_call_ok(st, "acquire")))
		return rc;
	if (st->loaded) {
		set_msg(st, "acquire: %.200s: the log's load has run; acquire before opening the log "
		        "(its entries would not be in memory)", partition);
		return PG_STORE_EMISUSE;
	}
	if (find_lease(st, partition)) {
		set_msg(st, "acquire: this store holds %.200s already", partition);
		return PG_STORE_EMISUSE;
	}
	if (ttl_ms <= 0) {
		set_msg(st, "acquire: the TTL must be positive");
		return PG_STORE_EMISUSE;
	}
	if ((rc = check_partition(st, partition)))
		return rc;
	if (st->nleases == st->cap_leases) {
		size_t cap = st->cap_leases ? 2 * st->cap_leases : 8;
		lease *p = realloc(st->leases, cap * sizeof *p);
		if (!p) {
			set_msg(st, "out of memory");
			return PG_STORE_ENOMEM;
		}
		st->leases = p;
		st->cap_leases = cap;
	}
	if (!(copy = strdup(partition))) {
		set_msg(st, "out of memory");
		return PG_STORE_ENOMEM;
	}
	snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
	params[0] = partition;
	params[1] = st->owner;
	params[2] = ttl;
	res = PQexecPrepared(st->conn, "stg_acquire", 3, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		free(copy);
		return db_fail(st, res, "acquire");
	}
	if (PQntuples(res) == 0) {
		free(copy);
		PQclear(res);
		set_msg(st, "acquire: %.200s is held by another owner until its lease expires", partition);
		return PG_STORE_TAKEN;
	}
	st->leases[st->nleases].partition = copy;
	st->leases[st->nleases].epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (epoch)
		*epoch = st->leases[st->nleases].epoch;
	st->nleases++;
	PQclear(res);
	return lower_idle_timeout(st, ttl_ms);
}

int pg_store_renew(pg_store *st, int64_t ttl_ms)
{
	long long n;
	int rc;

	if ((rc = lease_call_ok(st, "renew")))
		return rc;
	if (ttl_ms <= 0) {
		set_msg(st, "renew: the TTL must be positive");
		return PG_STORE_EMISUSE;
	}
	if (st->nleases == 0)
		return 0;
	if ((rc = lease_statement(st, "stg_renew", ttl_ms, &n)))
		return rc;
	if (n != (long long)st->nleases) {
		st->fenced = 1;
		set_msg(st, "renew: fenced: %lld of this store's %zu leases were taken over",
		        (long long)st->nleases - n, st->nleases);
		return PG_STORE_FENCED;
	}
	return lower_idle_timeout(st, ttl_ms);
}

int pg_store_release(pg_store *st)
{
	long long n;
	size_t i;
	int rc;

	if (st->in_txn) {
		set_msg(st, "release: a transaction is open; close the log first");
		return PG_STORE_EMISUSE;
	}
	if (st->broken || st->nleases == 0)
		goto forget; /* in doubt: let the leases expire (TTL) */
	/* A fenced store releases too: the statement matches only leases still
	 * its own, so it never frees a lease another owner took. */
	if ((rc = ensure_conn(st)) || (rc = lease_statement(st, "stg_release", 0, &n)))
		return rc;
forget:
	for (i = 0; i < st->nleases; i++)
		free(st->leases[i].partition);
	st->nleases = 0;
	return 0;
}

/* ------------------------------------------------------------ the hook */

/* The partition and lease of an entry's key, or a refusal. */
static int lease_for(pg_store *st, const char *what, const char *integration, const char *sku,
                     const lease **out)
{
	if (strchr(integration, '#')) {
		set_msg(st, "%s: the integration name %.200s holds '#' (it marks shards)", what, integration);
		return PG_STORE_EMISUSE;
	}
	if (pg_store_partition_of(st->part, sizeof st->part, integration, sku,
	                          shards_of(st, integration)) < 0) {
		set_msg(st, "%s: the integration name is too long", what);
		return PG_STORE_EMISUSE;
	}
	if (!(*out = find_lease(st, st->part))) {
		/* Not fencing: the store never owned it (the host's mistake). */
		set_msg(st, "%s: (%.200s, %.200s): this store holds no lease of partition %.200s", what,
		        integration, sku, st->part);
		return PG_STORE_EMISUSE;
	}
	return 0;
}

/* Before a write or remove: outside a transaction a lost connection is made
 * anew; inside one the transaction is gone with it. */
static int write_ok(pg_store *st, const char *what)
{
	int rc;

	if ((rc = refused(st, what)))
		return rc;
	if (st->txn_lost) {
		set_msg(st, "%s: refused: the transaction ended on the server after a failure; "
		        "waiting for the rollback", what);
		return PG_STORE_EDB;
	}
	return st->in_txn ? 0 : ensure_conn(st);
}

/* After a failed write or remove inside a transaction: PostgreSQL aborted
 * the whole transaction (or the session died with it), so nothing more may
 * be written in it and the commit must fail. */
static int write_failed(pg_store *st, PGresult *res, const char *what)
{
	int rc = db_fail(st, res, what);

	if (st->in_txn)
		st->txn_lost = 1;
	return rc;
}

/* Run a prepared write or remove; outside a transaction once more on a new
 * session when the connection was lost (both are idempotent). */
static PGresult *exec_write(pg_store *st, const char *name, int n, const char *const *values,
                            const int *lengths, const int *formats, ExecStatusType want)
{
	PGresult *res = PQexecPrepared(st->conn, name, n, values, lengths, formats, 0);

	if (PQresultStatus(res) != want && !st->in_txn && conn_lost(st, res)) {
		PQclear(res);
		if (reconnect(st) != 0)
			return NULL;
		res = PQexecPrepared(st->conn, name, n, values, lengths, formats, 0);
	}
	return res;
}

static int pg_write(const stg_entry *entry, void *payload)
{
	pg_store *st = payload;
	const lease *l;
	const char *values[6];
	int lengths[6] = { 0 }, formats[6] = { 0, 0, 0, 0, 0, 1 };
	char epoch[24];
	PGresult *res;
	size_t len;
	int rc;

	if ((rc = write_ok(st, "write")))
		return rc;
	rc = stg_entry_encode(entry, st->buf, sizeof st->buf, &len);
	if (rc != STG_OK) {
		set_msg(st, "write: cannot encode (%.100s, %.100s): %s",
		        entry->integration ? entry->integration : "?", entry->sku ? entry->sku : "?",
		        stg_strerror(rc));
		return rc;
	}
	if ((rc = lease_for(st, "write", entry->integration, entry->sku, &l)))
		return rc;
	snprintf(epoch, sizeof epoch, "%lld", (long long)l->epoch);
	values[0] = l->partition;
	values[1] = st->owner;
	values[2] = epoch;
	values[3] = entry->integration;
	values[4] = entry->sku;
	values[5] = (const char *)st->buf;
	lengths[5] = (int)len;
	res = exec_write(st, "stg_put", 6, values, lengths, formats, PGRES_COMMAND_OK);
	if (!res)
		return PG_STORE_EDB;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return write_failed(st, res, "write");
	/* The upsert touches one row, or none when the lease row did not match. */
	rc = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : fence(st, "write", l->partition);
	PQclear(res);
	return rc;
}

static int pg_remove(const char *integration, const char *sku, void *payload)
{
	pg_store *st = payload;
	const lease *l;
	const char *values[5];
	char epoch[24];
	PGresult *res;
	int rc;

	if ((rc = write_ok(st, "remove")) || (rc = lease_for(st, "remove", integration, sku, &l)))
		return rc;
	snprintf(epoch, sizeof epoch, "%lld", (long long)l->epoch);
	values[0] = l->partition;
	values[1] = st->owner;
	values[2] = epoch;
	values[3] = integration;
	values[4] = sku;
	res = exec_write(st, "stg_del", 5, values, NULL, NULL, PGRES_TUPLES_OK);
	if (!res)
		return PG_STORE_EDB;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return write_failed(st, res, "remove");
	/* No row deleted is success (absent); no lease row is fenced. */
	rc = strcmp(PQgetvalue(res, 0, 0), "1") == 0 ? 0 : fence(st, "remove", l->partition);
	PQclear(res);
	return rc;
}

/* BEGIN on the store's session, for the log (the hook) or for the host
 * (pg_store_begin()). */
static int begin_txn(pg_store *st)
{
	PGresult *res;
	int rc;

	if ((rc = refused(st, "begin")))
		return rc;
	if (st->in_txn) {
		set_msg(st, "begin: a transaction is open already");
		return PG_STORE_EMISUSE;
	}
	if ((rc = ensure_conn(st)))
		return rc;
	/* The id lets a commit that got no answer learn its fate (pg_xact_status). */
	res = PQexec(st->conn, "BEGIN; SELECT pg_current_xact_id()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK && conn_lost(st, res)) {
		/* The session died since the last call (libpq learns it only now):
		 * nothing was open, so a new session may simply begin. */
		PQclear(res);
		if ((rc = reconnect(st)))
			return rc;
		res = PQexec(st->conn, "BEGIN; SELECT pg_current_xact_id()");
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = db_fail(st, res, "begin");
		if (PQtransactionStatus(st->conn) != PQTRANS_IDLE)
			PQclear(PQexec(st->conn, "ROLLBACK"));
		return rc;
	}
	snprintf(st->xid, sizeof st->xid, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	st->in_txn = 1;
	st->txn_lost = 0;
	st->host_txn = 0;
	st->joined = 0;
	return 0;
}

/* The log's begin comes at its first write, after the host's claim opened
 * the transaction: it joins that one (the log's commit then ends it). */
static int pg_begin(void *payload)
{
	pg_store *st = payload;
	int rc;

	if (st->host_txn && !st->joined) {
		if ((rc = refused(st, "begin")))
			return rc;
		st->joined = 1;
		return 0;
	}
	return begin_txn(st);
}

int pg_store_begin(pg_store *st)
{
	int rc = begin_txn(st);

	if (rc == 0)
		st->host_txn = 1;
	return rc;
}

/* COMMIT got no answer: ask a new session what became of the transaction.
 * Its backend may take a moment to go after the connection dropped (it is
 * "in progress" until then), so ask for up to two seconds. */
static int resolve_commit(pg_store *st)
{
	const char *params[1] = { st->xid };
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char status[32] = "";
	int tries;

	for (tries = 0; tries < 100; tries++) {
		PGresult *res;
		if (ensure_conn(st) != 0)
			break;
		res = PQexecPrepared(st->conn, "stg_xact_status", 1, params, NULL, NULL, 0);
		/* "transaction ID ... is in the future" (invalid_parameter_value,
		 * the only error pg_xact_status() has for an id of ours): the server
		 * has no record of it. That happens after a crash (or pg_ctl -m
		 * immediate) lost the WAL that held the id: no commit record of it
		 * survived (replaying one moves the next id past it), so it did not
		 * commit, and its session is gone, so it never will: rolled back,
		 * not in doubt. (The server gives the id out again later: hence the
		 * question is asked at once, on the first new session.) */
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
		    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22023") == 0) {
			PQclear(res);
			st->txn_lost = 1;
			set_msg(st, "commit: the connection was lost and the server rolled transaction %s back "
			        "(it restarted with no record of it)", st->xid);
			return PG_STORE_EDB;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			db_fail(st, res, "commit: pg_xact_status");
			break;
		}
		snprintf(status, sizeof status, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (strcmp(status, "committed") == 0) {
			st->in_txn = 0;
			st->host_txn = st->joined = 0;
			return 0;
		}
		if (strcmp(status, "aborted") == 0) {
			st->txn_lost = 1;
			set_msg(st, "commit: the connection was lost and the server rolled transaction %s back",
			        st->xid);
			return PG_STORE_EDB;
		}
		nanosleep(&pause, NULL);
	}
	st->broken = 1;
	st->txn_lost = 1;
	set_msg(st, "commit: the connection was lost during COMMIT and the outcome of transaction %s "
	        "is unknown (%s): storage is in doubt", st->xid, *status ? status : "no answer");
	return PG_STORE_EDOUBT;
}

static int pg_commit(void *payload)
{
	pg_store *st = payload;
	PGresult *res;

	if (st->fenced || st->broken)
		return refused(st, "commit");
	if (!st->in_txn) {
		set_msg(st, "commit: no transaction is open");
		return PG_STORE_EMISUSE;
	}
	if (st->txn_lost) {
		set_msg(st, "commit: refused: the transaction ended on the server after a failed write");
		return PG_STORE_EDB;
	}
	res = PQexec(st->conn, "COMMIT");
	/* COMMIT of an aborted transaction answers "ROLLBACK", not an error. */
	if (PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
		PQclear(res);
		st->in_txn = 0;
		st->host_txn = st->joined = 0;
		return 0;
	}
	if (conn_lost(st, res)) {
		PQclear(res);
		return resolve_commit(st);
	}
	/* The server answered with a failure: the transaction is over, undone. */
	st->txn_lost = 1;
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		set_msg(st, "commit: the server rolled the transaction back");
		PQclear(res);
		return PG_STORE_EDB;
	}
	return db_fail(st, res, "commit");
}

static int pg_rollback(void *payload)
{
	pg_store *st = payload;
	PGresult *res;

	if (!st->in_txn)
		return 0; /* nothing open: storage is as it was */
	st->in_txn = 0;
	st->txn_lost = 0;
	st->host_txn = st->joined = 0;
	if (st->broken) {
		set_msg(st, "rollback: the outcome of the last COMMIT is unknown: storage is in doubt "
		        "(close and open again to read it)");
		return PG_STORE_EDOUBT;
	}
	/* A session that died took its open transaction with it; one the server
	 * ended (a failed write, a fence, a failed COMMIT) is undone already. */
	if (st->lost || PQstatus(st->conn) == CONNECTION_BAD ||
	    PQtransactionStatus(st->conn) == PQTRANS_IDLE)
		return 0;
	res = PQexec(st->conn, "ROLLBACK");
	if (PQresultStatus(res) == PGRES_COMMAND_OK || conn_lost(st, res)) {
		PQclear(res);
		return 0;
	}
	st->broken = 1; /* what the open transaction will do is unknown */
	return db_fail(st, res, "rollback");
}

int pg_store_end(pg_store *st, int commit)
{
	int rc;

	if (!st->in_txn || !st->host_txn)
		return 0; /* the log's commit or rollback ended it, or none was open */
	if (st->joined) {
		set_msg(st, "end: the log joined this transaction: end it with stg_log_commit()");
		return PG_STORE_EMISUSE;
	}
	if (!commit || (rc = pg_commit(st)) != 0) {
		char why[sizeof st->errmsg];
		int rb;
		memcpy(why, st->errmsg, sizeof why);
		rb = pg_rollback(st);
		if (commit) {
			memcpy(st->errmsg, why, sizeof why);
			return rb ? rb : rc;
		}
		return rb;
	}
	return 0;
}

/* ---------------------------------------------------------------- inbox */

static int claim_room(pg_store *st, size_t n)
{
	stg_submit *b;

	if (n <= st->cap_claim)
		return 0;
	if (!(b = realloc(st->claim_buf, n * sizeof *b))) {
		set_msg(st, "inbox_claim: out of memory");
		return PG_STORE_ENOMEM;
	}
	st->claim_buf = b;
	st->cap_claim = n;
	return 0;
}

int pg_store_inbox_claim(pg_store *st, size_t max, const stg_submit **changes, size_t *n)
{
	const char *params[4];
	char limit[24], *parts, *epochs;
	size_t nleases, i, rows;
	PGresult *res;
	int rc;

	*changes = NULL;
	*n = 0;
	if ((rc = refused(st, "inbox_claim")))
		return rc;
	if (!st->in_txn || st->txn_lost) {
		/* Outside one, the rows would be gone before the log holds them. */
		set_msg(st, "inbox_claim: %s", st->txn_lost ? "the transaction ended on the server after a failure"
		                                             : "no transaction is open (pg_store_begin())");
		return st->txn_lost ? PG_STORE_EDB : PG_STORE_EMISUSE;
	}
	if (max < 1 || max > 1000000) {
		set_msg(st, "inbox_claim: max must be 1 to 1000000, not %zu", max);
		return PG_STORE_EMISUSE;
	}
	if (st->nleases == 0)
		return 0;
	PQclear(st->claimed); /* the previous claim's rows: the caller is done with them */
	st->claimed = NULL;
	if ((rc = lease_arrays(st, NULL, &parts, &epochs, &nleases)))
		return rc;
	snprintf(limit, sizeof limit, "%zu", max);
	params[0] = parts;
	params[1] = st->owner;
	params[2] = epochs;
	params[3] = limit;
	res = PQexecPrepared(st->conn, "stg_claim", 4, params, NULL, NULL, 0);
	free(parts);
	free(epochs);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
		return write_failed(st, res, "inbox_claim");
	if ((size_t)atoll(PQgetvalue(res, 0, 3)) != nleases) {
		PQclear(res);
		return fence(st, "inbox_claim", st->leases[0].partition);
	}
	rows = (size_t)PQntuples(res) - 1;
	if ((rc = claim_room(st, rows ? rows : 1))) {
		PQclear(res);
		return rc;
	}
	for (i = 0; i < rows; i++) {
		stg_submit *c = &st->claim_buf[i];
		stg_submit_init(c, STG_SUBMIT_VERSION);
		c->integration = PQgetvalue(res, (int)i + 1, 1);
		c->sku = PQgetvalue(res, (int)i + 1, 2);
		c->available = strtoll(PQgetvalue(res, (int)i + 1, 3), NULL, 10);
		c->sequence = strtoll(PQgetvalue(res, (int)i + 1, 4), NULL, 10);
		c->changed_at = strtoll(PQgetvalue(res, (int)i + 1, 5), NULL, 10);
	}
	st->claimed = res;
	st->claimed_rows += (long long)rows;
	*changes = st->claim_buf;
	*n = rows;
	return 0;
}

long long pg_store_inbox_claimed(const pg_store *st)
{
	return st->claimed_rows;
}

/* One chunk of the load: decode each row and hand it to the sink. */
static int load_rows(pg_store *st, PGresult *res, stg_entry_sink sink, void *sink_ctx)
{
	int i, n = PQntuples(res), rc;
	long long bytes = 0;

	for (i = 0; i < n; i++)
		bytes += PQgetlength(res, i, 0) + PQgetlength(res, i, 1) + PQgetlength(res, i, 2);
	if (n > st->peak_rows)
		st->peak_rows = n;
	if (bytes > st->peak_bytes)
		st->peak_bytes = bytes;
	for (i = 0; i < n; i++) {
		const char *integ = PQgetvalue(res, i, 0), *sku = PQgetvalue(res, i, 1);
		stg_entry e;

		/* Binary text values are the bytes; libpq ends each with a NUL. The
		 * decoded strings point into the result, the sink copies them. */
		rc = stg_entry_decode(PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), &e);
		if (rc == STG_OK && (strcmp(e.integration, integ) != 0 || strcmp(e.sku, sku) != 0))
			rc = STG_ECORRUPT;
		if (rc != STG_OK) {
			set_msg(st, "load: the row (%.100s, %.100s) is not a valid entry: %s", integ, sku,
			        stg_strerror(rc));
			return PG_STORE_EDB;
		}
		if ((rc = sink(sink_ctx, &e)) != 0) {
			set_msg(st, "load: the log refused (%.100s, %.100s): %s", integ, sku, stg_strerror(rc));
			return rc; /* its verdict goes back as is */
		}
		st->load_rows++;
	}
	return 0;
}

/* The end of a load's read transaction: COMMIT and ROLLBACK only release
 * the snapshot (and close a cursor). Returns @p rc, or the COMMIT's failure. */
static int read_end(pg_store *st, int rc, const char *what)
{
	PGresult *res = PQexec(st->conn, rc ? "ROLLBACK" : "COMMIT");

	if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_fail(st, res, what);
	PQclear(res);
	return rc;
}

/* Open a load's read transaction, REPEATABLE READ READ ONLY: one snapshot,
 * in which the store's leases are checked (a store that lost one must not
 * hand the log a partition another owner writes), then run @p sql with $1
 * the array of the leased partitions. *@p out receives its result (status
 * @p want). On failure nothing is left open. */
static int read_begin(pg_store *st, const char *what, const char *sql, ExecStatusType want,
                      PGresult **out)
{
	const char *params[1];
	char *parts, *epochs;
	long long held;
	PGresult *res;
	int rc;

	if ((rc = ensure_conn(st)))
		return rc;
	res = PQexec(st->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_fail(st, res, what);
	PQclear(res);
	if ((rc = lease_statement(st, "stg_leases_held", 0, &held)))
		return read_end(st, rc, what);
	if (held != (long long)st->nleases) {
		st->fenced = 1;
		set_msg(st, "%s: fenced: %lld of this store's %zu leases were taken over", what,
		        (long long)st->nleases - held, st->nleases);
		return read_end(st, PG_STORE_FENCED, what);
	}
	if ((rc = lease_arrays(st, NULL, &parts, &epochs, NULL)))
		return read_end(st, rc, what);
	params[0] = parts;
	res = PQexecParams(st->conn, sql, 1, NULL, params, NULL, NULL, 0);
	free(parts);
	free(epochs);
	if (PQresultStatus(res) != want)
		return read_end(st, db_fail(st, res, what), what);
	*out = res;
	return 0;
}

static int pg_load(stg_entry_sink sink, void *sink_ctx, void *payload)
{
	pg_store *st = payload;
	char fetch[48];
	PGresult *res;
	int rc;

	if ((rc = outside_txn(st, "load")))
		return rc;
	st->load_rows = st->peak_rows = st->peak_bytes = 0;
	if (st->nleases == 0) {
		st->loaded = 1; /* owns nothing: an empty log (its writes are refused) */
		return 0;
	}
	if ((rc = read_begin(st, "load",
	                     "DECLARE stg_load NO SCROLL CURSOR FOR SELECT integration, sku, entry"
	                     " FROM stg_entry WHERE partition = ANY($1::text[])",
	                     PGRES_COMMAND_OK, &res)))
		return rc;
	PQclear(res);
	snprintf(fetch, sizeof fetch, "FETCH %d FROM stg_load", st->fetch_size);
	for (;;) {
		/* resultFormat 1: binary rows, the entry's bytes as they are. */
		res = PQexecParams(st->conn, fetch, 0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = db_fail(st, res, "load: FETCH");
			goto end;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			break;
		}
		rc = load_rows(st, res, sink, sink_ctx);
		PQclear(res);
		if (rc)
			goto end;
	}
end:
	rc = read_end(st, rc, "load: COMMIT");
	if (rc == 0)
		st->loaded = 1;
	return rc;
}

/* ------------------------------------------------- integration records */

static int pg_write_integration(const stg_integration_state *state, void *payload)
{
	pg_store *st = payload;
	const char *values[7];
	char *parts, *epochs, flags[24], updated[24], count[24];
	const lease *l1;
	PGresult *res;
	size_t n;
	int rc;

	if ((rc = write_ok(st, "write_integration")))
		return rc;
	if (strchr(state->integration, '#')) {
		set_msg(st, "write_integration: the integration name %.200s holds '#' (it marks shards)",
		        state->integration);
		return PG_STORE_EMISUSE;
	}
	for (n = 0, l1 = NULL; n < st->nleases && !l1; n++)
		if (of_integration(st->leases[n].partition, state->integration))
			l1 = &st->leases[n];
	if ((rc = lease_arrays(st, state->integration, &parts, &epochs, &n)))
		return rc;
	if (n == 0) {
		/* Not fencing: the store never owned it (the host's mistake, as a
		 * write of an entry of a partition it holds no lease of). */
		set_msg(st, "write_integration: this store holds no lease of a partition of %.200s",
		        state->integration);
		free(parts);
		free(epochs);
		return PG_STORE_EMISUSE;
	}
	snprintf(flags, sizeof flags, "%u", state->flags);
	snprintf(updated, sizeof updated, "%lld", (long long)state->updated_at);
	snprintf(count, sizeof count, "%zu", n);
	values[0] = parts;
	values[1] = st->owner;
	values[2] = epochs;
	values[3] = state->integration;
	values[4] = flags;
	values[5] = updated;
	values[6] = count;
	res = exec_write(st, "stg_put_integ", 7, values, NULL, NULL, PGRES_COMMAND_OK);
	free(parts);
	free(epochs);
	if (!res)
		return PG_STORE_EDB;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return write_failed(st, res, "write_integration");
	/* Every partition's row, or none when a lease row did not match. */
	rc = strcmp(PQcmdTuples(res), count) == 0 ? 0 : -1;
	PQclear(res);
	if (rc == 0)
		return 0;
	if (n == 1)
		return fence(st, "write_integration", l1->partition);
	/* Which of the shards' leases moved the statement does not say. */
	rc = fence(st, "write_integration", state->integration);
	set_msg(st, "write_integration: fenced: a lease of a shard of %.200s (owner %.100s) was taken "
	        "over", state->integration, st->owner);
	return rc;
}

static int pg_load_integrations(stg_integration_sink sink, void *sink_ctx, void *payload)
{
	pg_store *st = payload;
	PGresult *res;
	int rc, i;

	if ((rc = outside_txn(st, "load_integrations")))
		return rc;
	if (st->nleases == 0)
		return 0;
	/* The rows of the partitions this store holds, merged per integration
	 * (see the top of the file). Few rows: no cursor. */
	if ((rc = read_begin(st, "load_integrations",
	                     "SELECT integration, bit_or(flags), max(updated_at) FROM stg_integration"
	                     " WHERE partition = ANY($1::text[]) GROUP BY integration",
	                     PGRES_TUPLES_OK, &res)))
		return rc;
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		stg_integration_state state = STG_INTEGRATION_STATE_INIT;

		/* The table's CHECK keeps flags in range; the log checks the name. */
		state.integration = PQgetvalue(res, i, 0);
		state.flags = (unsigned int)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		state.updated_at = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		if ((rc = sink(sink_ctx, &state)) != 0)
			set_msg(st, "load_integrations: the log refused the record of %.100s: %s",
			        state.integration, stg_strerror(rc)); /* its verdict goes back as is */
	}
	PQclear(res);
	return read_end(st, rc, "load_integrations: COMMIT");
}

void pg_store_hook(pg_store *st, stg_storage *storage)
{
	stg_storage_init(storage, STG_STORAGE_VERSION);
	storage->load = pg_load;
	storage->write = pg_write;
	storage->remove = pg_remove;
	storage->begin = pg_begin;
	storage->commit = pg_commit;
	storage->rollback = pg_rollback;
	storage->write_integration = pg_write_integration;
	storage->load_integrations = pg_load_integrations;
	storage->payload = st;
}

void pg_store_set_fetch_size(pg_store *st, int rows)
{
	st->fetch_size = rows > 0 ? rows : DEFAULT_FETCH;
}

void pg_store_load_stats(const pg_store *st, long long *rows, long long *peak_rows,
                         long long *peak_bytes)
{
	if (rows)
		*rows = st->load_rows;
	if (peak_rows)
		*peak_rows = st->peak_rows;
	if (peak_bytes)
		*peak_bytes = st->peak_bytes;
}

int pg_store_backend_pid(const pg_store *st)
{
	return PQstatus(st->conn) == CONNECTION_OK ? PQbackendPID(st->conn) : 0;
}

long long pg_store_reconnects(const pg_store *st)
{
	return st->reconnects;
}
