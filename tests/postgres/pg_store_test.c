/*
 * pg_store_test: the PostgreSQL store's contract, against a server of its
 * own (pg_harness.py starts it and sets PGHOST & co.; one test a run):
 *
 *   round_trip  a log on the store, reopened by another store after a
 *               clean release, holds what the first one held; sharded
 *               integrations load only the owned shards; bad rows fail the
 *               open with a message
 *   commits     one database transaction per batch, pump and host
 *               transaction (every row it wrote has the same xmin), none
 *               visible before the commit; autocommit outside one; the
 *               hook's begin/commit/rollback rules
 *   leases      acquire, a second store cannot take an unexpired lease,
 *               can after expiry (a real TTL) with a higher epoch, renew,
 *               release, shard rules
 *   fencing     the owner's lease expires and another store takes over:
 *               the old owner's next write returns PG_STORE_FENCED, nothing
 *               of it reaches the table afterwards, and a takeover waits
 *               for a transaction that writes under the old epoch
 *   faults      the store's server session is terminated in the middle of
 *               a batch, of a pump, just before COMMIT, and between calls:
 *               the call fails (or succeeds after a reconnect), the log
 *               undoes or owes as documented, and memory and storage agree
 *   restart     the whole server restarts (pg_ctl restart, -m fast and
 *               -m immediate, a crash; the harness's STG_PG_RESTART) in the
 *               middle of a batch's own transaction (at its 60th write of
 *               200), of a pump's (its results owed, then written by
 *               stg_log_flush() or by the next call), of a host transaction
 *               (a submit after it), right before COMMIT (a host's and a
 *               batch's), and between calls: each call fails with
 *               STG_ESTORAGE and the store's message, nothing of an undone
 *               transaction is in memory or the table, memory and table
 *               agree, the same log goes on once the server is back, and
 *               another store's log reads exactly the first one's entries
 *   load        100,000 entries stream through a cursor: every one is
 *               loaded, holding at most one chunk (1,000 rows) at a time
 *   records     integration records: a manual pause survives a reopen by
 *               another store, a resume too; a sharded integration keeps
 *               one row per shard under that shard's lease, and a store
 *               owning some shards gets their pause back; a fenced store's
 *               record write is refused (PG_STORE_FENCED) and writes
 *               nothing, for any of the shards
 *   inbox       the SQL routing (trigger, stg_fnv1a32) equals the C one for
 *               ASCII and UTF-8 SKUs; the CHECKs refuse what the log would;
 *               a claim needs a transaction; two stores claim at once, each
 *               only its own partition's rows; rows another session locked
 *               are skipped; a rollback puts the rows back, a commit takes
 *               them out with the entries (the host does not end a
 *               transaction the log joined); a replay of older rows is stale
 *               and still leaves the inbox; a claim after a takeover is
 *               fenced and takes nothing, the new owner gets the rows
 *
 * Prints TAP; exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "pg_store.h"

#include "fixture.h"

#include <libpq-fe.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int checks, failures;

#define CHECK(cond) check((cond), #cond, __LINE__)

static void check(int ok, const char *what, int line)
{
	checks++;
	if (!ok)
		failures++;
	printf("%s %d - line %d: %s\n", ok ? "ok" : "not ok", checks, line, what);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------- the test's own connection */

/* What another session sees (hence what is committed). */
static PGconn *raw;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2)))
#endif
static PGresult *sql(const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	PGresult *res;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	res = PQexec(raw, text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COPY_IN)
		printf("# sql: %s: %s", text, PQresultErrorMessage(res));
	return res;
}

/* The first value of a query as a number; -1 when it failed or is empty. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2)))
#endif
static long long sql_int(const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	PGresult *res;
	long long n = -1;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	res = PQexec(raw, text);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		n = atoll(PQgetvalue(res, 0, 0));
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		printf("# sql: %s: %s", text, PQresultErrorMessage(res));
	PQclear(res);
	return n;
}

static int sql_ok(const char *text)
{
	PGresult *res = sql("%s", text);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/* End the store's server session, as a crashed backend or a dropped
 * connection would; waits until it is gone. */
static int terminate(const pg_store *st)
{
	int pid = pg_store_backend_pid(st);

	return pid > 0 && sql_int("SELECT pg_terminate_backend(%d, 5000)::int", pid) == 1;
}

/* ------------------------------------------- a restart of the server */

/* The shutdown mode of the restarts the spy makes ("fast" or "immediate"). */
static const char *restart_mode = "fast";

/* Restart the whole server with the harness's command (pg_ctl restart -m
 * @p mode, as the server's user; the server accepts connections again when
 * it returns), then connect the test's own session anew (the restart ended
 * it). Every other session of the test finds its connection gone. */
static int restart_server(const char *mode)
{
	const char *cmd = getenv("STG_PG_RESTART");
	char line[4096];
	double t0 = now_s();
	int rc;

	if (!cmd || !*cmd) {
		printf("# STG_PG_RESTART is not set: run the test through pg_harness.py\n");
		return 0;
	}
	snprintf(line, sizeof line, "%s %s", cmd, mode);
	fflush(stdout); /* the command's output (none unless it fails) after ours */
	rc = system(line);
	PQreset(raw);
	printf("# server restarted (-m %s) in %.2f s\n", mode, now_s() - t0);
	if (PQstatus(raw) != CONNECTION_OK)
		printf("# reconnect: %s", PQerrorMessage(raw));
	return rc == 0 && PQstatus(raw) == CONNECTION_OK;
}

/* ------------------------------------------- a store wrapped by a spy */

/* The store's hook as the log calls it, recording what the store returned
 * (the log reports any failure as STG_ESTORAGE) and ending the session at
 * a chosen write or just before a commit. */
typedef struct spy {
	stg_storage real;
	pg_store *st;
	long writes, commits;
	long kill_at_write;  /* terminate the session before this write (1-based) */
	int kill_at_commit;  /* terminate it before the next commit */
	long restart_at_write; /* restart the server before this write (1-based) */
	int restart_at_commit; /* restart it before the next commit */
	int last_rc;         /* the store's last non-zero answer */
	char first_err[600]; /* the store's message of its first failure since cleared */
} spy;

static int spy_note(spy *s, int rc)
{
	if (rc)
		s->last_rc = rc;
	if (rc && !*s->first_err)
		snprintf(s->first_err, sizeof s->first_err, "%s", pg_store_errmsg(s->st));
	return rc;
}

static int spy_load(stg_entry_sink sink, void *ctx, void *payload)
{
	spy *s = payload;
	return spy_note(s, s->real.load(sink, ctx, s->real.payload));
}

static int spy_write(const stg_entry *e, void *payload)
{
	spy *s = payload;
	if (++s->writes == s->kill_at_write)
		CHECK(terminate(s->st));
	if (s->writes == s->restart_at_write)
		CHECK(restart_server(restart_mode));
	return spy_note(s, s->real.write(e, s->real.payload));
}

static int spy_remove(const char *integration, const char *sku, void *payload)
{
	spy *s = payload;
	return spy_note(s, s->real.remove(integration, sku, s->real.payload));
}

static int spy_begin(void *payload)
{
	spy *s = payload;
	return spy_note(s, s->real.begin(s->real.payload));
}

static int spy_commit(void *payload)
{
	spy *s = payload;
	s->commits++;
	if (s->kill_at_commit) {
		s->kill_at_commit = 0;
		CHECK(terminate(s->st));
	}
	if (s->restart_at_commit) {
		s->restart_at_commit = 0;
		CHECK(restart_server(restart_mode));
	}
	return spy_note(s, s->real.commit(s->real.payload));
}

static int spy_rollback(void *payload)
{
	spy *s = payload;
	return spy_note(s, s->real.rollback(s->real.payload));
}

static int spy_write_integration(const stg_integration_state *state, void *payload)
{
	spy *s = payload;
	return spy_note(s, s->real.write_integration(state, s->real.payload));
}

static int spy_load_integrations(stg_integration_sink sink, void *ctx, void *payload)
{
	spy *s = payload;
	return spy_note(s, s->real.load_integrations(sink, ctx, s->real.payload));
}

/* A connector instance: a store, its leases, a log on it. */
typedef struct node {
	pg_store *st;
	stg_log *log;
	spy spy;
	fx_transport market;
} node;

static int node_store(node *n, const char *owner)
{
	memset(n, 0, sizeof *n);
	fx_transport_init(&n->market);
	if (pg_store_open(&n->st, "", owner) != 0) {
		printf("# open: %s\n", pg_store_errmsg(n->st));
		return -1;
	}
	return 0;
}

static int node_log(node *n)
{
	stg_storage storage;
	stg_transport transport = fx_transport_hook(&n->market, 0);
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	int rc;

	pg_store_hook(n->st, &n->spy.real);
	n->spy.st = n->st;
	stg_storage_init(&storage, STG_STORAGE_VERSION);
	storage.load = spy_load;
	storage.write = spy_write;
	storage.remove = spy_remove;
	storage.begin = spy_begin;
	storage.commit = spy_commit;
	storage.rollback = spy_rollback;
	storage.write_integration = spy_write_integration;
	storage.load_integrations = spy_load_integrations;
	storage.payload = &n->spy;
	options.storage = &storage;
	options.transport = &transport;
	rc = stg_log_open(&n->log, &options);
	if (rc != STG_OK)
		printf("# log open: %s (%s)\n", stg_strerror(rc), pg_store_errmsg(n->st));
	return rc;
}

/* A store owning @p partition (60 s), with a log on it. */
static int node_open(node *n, const char *owner, const char *partition)
{
	int rc;

	if (node_store(n, owner) != 0)
		return -1;
	if (partition && (rc = pg_store_acquire(n->st, partition, 60000, NULL)) != 0) {
		printf("# acquire %s: %d %s\n", partition, rc, pg_store_errmsg(n->st));
		return rc;
	}
	return node_log(n);
}

static void node_close(node *n, int release)
{
	stg_log_close(n->log);
	if (release)
		CHECK(pg_store_release(n->st) == 0);
	pg_store_close(n->st);
	fx_transport_free(&n->market);
	n->log = NULL;
	n->st = NULL;
}

static int submit(stg_log *log, const char *integration, const char *sku, int64_t available,
                  int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = integration;
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	return stg_log_submit(log, &s, NULL);
}

/* Submit @p n changes "<prefix><i>" of @p integration in one batch. */
static int batch(stg_log *log, const char *integration, const char *prefix, int n, int64_t seq,
                 size_t *done)
{
	stg_submit *s = calloc((size_t)n, sizeof *s);
	char (*skus)[32] = calloc((size_t)n, sizeof *skus);
	int i, rc;

	if (!s || !skus) {
		free(s);
		free(skus);
		return STG_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		stg_submit one = STG_SUBMIT_INIT;
		snprintf(skus[i], sizeof skus[i], "%s%d", prefix, i);
		one.integration = integration;
		one.sku = skus[i];
		one.available = 10 + i;
		one.sequence = seq;
		s[i] = one;
	}
	rc = stg_log_submit_batch(log, s, (size_t)n, NULL, done);
	free(s);
	free(skus);
	return rc;
}

/* How many entries the log holds. */
static uint64_t log_count(stg_log *log)
{
	stg_counts c;

	if (stg_log_counts(log, NULL, &c) != STG_OK)
		return UINT64_MAX;
	return c.pending + c.success + c.error;
}

/* Whether the log's memory and the table's rows WHERE @p where are the same
 * entries, byte for byte (the log's entries encoded against the rows). */
static int agree(stg_log *log, const char *where)
{
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
	fx_snap snap;
	PGresult *res;
	int i, ok = 1;

	fx_snap_log(log, &snap);
	{
		char text[1024];
		snprintf(text, sizeof text, "SELECT integration, sku, entry FROM stg_entry WHERE %s", where);
		res = PQexecParams(raw, text, 0, NULL, NULL, NULL, NULL, 1);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		printf("# agree: %s", PQresultErrorMessage(res));
		ok = 0;
	} else if ((size_t)PQntuples(res) != snap.n) {
		printf("# agree: the log holds %zu entries, the table %d\n", snap.n, PQntuples(res));
		ok = 0;
	}
	for (i = 0; ok && i < PQntuples(res); i++) {
		const stg_entry *e = fx_snap_find(&snap, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		stg_entry stored, mine;
		size_t len = 0;

		/* A reopened log gives loaded jobs new ids (log.h, stg_job): the
		 * stored id is not the one in memory; every other field must be. */
		if (e && stg_entry_decode(PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), &stored) ==
		             STG_OK) {
			mine = *e;
			mine.job_id = stored.job_id;
		}
		if (!e || stg_entry_encode(&mine, buf, sizeof buf, &len) != STG_OK ||
		    len != (size_t)PQgetlength(res, i, 2) || memcmp(buf, PQgetvalue(res, i, 2), len) != 0) {
			printf("# agree: (%s, %s) differs\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
			ok = 0;
		}
	}
	PQclear(res);
	fx_snap_free(&snap);
	return ok;
}

/* ------------------------------------------------------------- tests */

static void test_round_trip(void)
{
	node a, b;
	size_t done = 0;
	stg_entry e;
	int i, own[4] = { 0 }, expect = 0;
	char part[64];

	CHECK(node_open(&a, "A", "shop") == STG_OK);
	CHECK(batch(a.log, "shop", "S", 50, 1, &done) == STG_OK && done == 50);
	CHECK(stg_log_pump(a.log, 20, NULL) == STG_OK);
	CHECK(stg_log_remove(a.log, "shop", "S0", STG_REMOVE_FORCE) == STG_OK);
	CHECK(sql_int("SELECT count(*) FROM stg_entry") == 49);
	CHECK(agree(a.log, "partition = 'shop'"));
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE epoch <> 1") == 0);
	{
		/* The hook itself: removing an absent entry is success. */
		stg_storage h;
		pg_store_hook(a.st, &h);
		CHECK(h.remove("shop", "nothing-here", h.payload) == 0);
	}
	{
		fx_snap before;
		fx_snap_log(a.log, &before);
		node_close(&a, 1);

		/* Another store, once the lease is released: the same entries. */
		CHECK(node_open(&b, "B", "shop") == STG_OK);
		CHECK(pg_store_epoch(b.st, "shop") == 2);
		CHECK(agree(b.log, "partition = 'shop'"));
		for (i = 1; i < 50; i++) {
			char sku[16];
			const stg_entry *was;
			snprintf(sku, sizeof sku, "S%d", i);
			was = fx_snap_find(&before, "shop", sku);
			if (!was || stg_log_get(b.log, "shop", sku, &e) != STG_OK || e.available != was->available ||
			    e.status != was->status || e.acked != was->acked || e.published != was->published) {
				CHECK(!"entry differs after the reopen");
				break;
			}
		}
		CHECK(stg_log_get(b.log, "shop", "S0", &e) == STG_ENOTFOUND);
		fx_snap_free(&before);
	}
	CHECK(stg_log_pump(b.log, 0, NULL) == STG_OK);
	CHECK(stg_log_get(b.log, "shop", "S49", &e) == STG_OK && e.status == STG_ENTRY_SUCCESS);
	CHECK(agree(b.log, "partition = 'shop'"));
	node_close(&b, 1);

	/* Shards: "big" in 4; one store writes all of them, another owns two
	 * and loads exactly their SKUs. */
	CHECK(node_store(&a, "A") == 0);
	CHECK(pg_store_set_shards(a.st, "big", 4) == 0);
	CHECK(pg_store_set_shards(a.st, "big", 4) == 0); /* the same count again is fine */
	for (i = 0; i < 4; i++) {
		snprintf(part, sizeof part, "big#%d", i);
		CHECK(pg_store_acquire(a.st, part, 60000, NULL) == 0);
	}
	CHECK(pg_store_acquire(a.st, "shop", 60000, NULL) == 0);
	CHECK(node_log(&a) == STG_OK);
	CHECK(log_count(a.log) == 49); /* shop came back, partition "shop" */
	CHECK(batch(a.log, "big", "B", 200, 1, &done) == STG_OK && done == 200);
	for (i = 0; i < 200; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "B%d", i);
		own[pg_store_hash(sku) % 4]++;
	}
	CHECK(own[0] > 0 && own[1] > 0 && own[2] > 0 && own[3] > 0); /* the hash spreads */
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE partition = 'big#2'") == own[2]);
	CHECK(pg_store_partition_of(part, sizeof part, "big", "B7", 4) > 0 &&
	      sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'B7' AND partition = '%s'", part) == 1);
	node_close(&a, 1);

	CHECK(node_store(&b, "B") == 0);
	CHECK(pg_store_acquire(b.st, "big#0", 60000, NULL) == 0);
	CHECK(pg_store_acquire(b.st, "big#2", 60000, NULL) == 0);
	CHECK(node_log(&b) == STG_OK);
	expect = own[0] + own[2];
	CHECK(log_count(b.log) == (uint64_t)expect);
	CHECK(agree(b.log, "partition IN ('big#0', 'big#2')"));
	/* A SKU of a shard it does not own: refused, not fenced. */
	for (i = 0; i < 200; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "B%d", i);
		if (pg_store_hash(sku) % 4 == 1) {
			CHECK(submit(b.log, "big", sku, 5, 2) == STG_ESTORAGE);
			CHECK(b.spy.last_rc == PG_STORE_EMISUSE);
			printf("# %s\n", pg_store_errmsg(b.st));
			break;
		}
	}
	for (i = 0; i < 200; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "B%d", i);
		if (pg_store_hash(sku) % 4 == 2) {
			CHECK(submit(b.log, "big", sku, 5, 2) == STG_OK); /* an owned one goes on */
			break;
		}
	}
	node_close(&b, 1);

	/* A corrupt row fails the open with the store's message. */
	CHECK(sql_ok("UPDATE stg_entry SET entry = overlay(entry placing '\\xff'::bytea from 20) "
	             "WHERE sku = 'S7'"));
	CHECK(node_open(&a, "A", "shop") == STG_ESTORAGE && a.log == NULL);
	printf("# %s\n", pg_store_errmsg(a.st));
	CHECK(strstr(pg_store_errmsg(a.st), "(shop, S7) is not a valid entry") != NULL);
	node_close(&a, 1);
}

static void test_commits(void)
{
	node a;
	stg_storage h;
	size_t done = 0;
	int i, open = 0;
	stg_entry e;

	CHECK(node_open(&a, "A", "shop") == STG_OK);
	/* A batch: one transaction (one xmin for all its rows), durable when
	 * the call returned. */
	CHECK(batch(a.log, "shop", "T", 40, 1, &done) == STG_OK && done == 40);
	CHECK(a.spy.commits == 1);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku LIKE 'T%%'") == 40);
	CHECK(sql_int("SELECT count(DISTINCT xmin::text) FROM stg_entry WHERE sku LIKE 'T%%'") == 1);
	/* A pump: every acknowledgement in one transaction. */
	CHECK(stg_log_pump(a.log, 0, NULL) == STG_OK);
	CHECK(a.spy.commits == 2);
	CHECK(sql_int("SELECT count(DISTINCT xmin::text) FROM stg_entry WHERE sku LIKE 'T%%'") == 1);
	CHECK(stg_log_get(a.log, "shop", "T3", &e) == STG_OK && e.status == STG_ENTRY_SUCCESS);
	CHECK(agree(a.log, "true"));

	/* A host transaction of single submits: one commit, nothing seen before it. */
	CHECK(stg_log_begin(a.log) == STG_OK);
	for (i = 0; i < 10; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "H%d", i);
		CHECK(submit(a.log, "shop", sku, i, 1) == STG_OK);
	}
	CHECK(stg_log_in_transaction(a.log, &open) == STG_OK && open == 1);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku LIKE 'H%%'") == 0);
	CHECK(stg_log_commit(a.log) == STG_OK);
	CHECK(a.spy.commits == 3);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku LIKE 'H%%'") == 10);
	CHECK(sql_int("SELECT count(DISTINCT xmin::text) FROM stg_entry WHERE sku LIKE 'H%%'") == 1);
	stg_log_close(a.log);
	a.log = NULL;

	/* The hook alone. Nothing open: rollback is success (the contract),
	 * commit is misuse; no nesting; outside a transaction a write is its
	 * own commit. */
	pg_store_hook(a.st, &h);
	CHECK(h.version == STG_STORAGE_VERSION && h.begin && h.commit && h.rollback);
	CHECK(h.rollback(h.payload) == 0);
	CHECK(h.commit(h.payload) == PG_STORE_EMISUSE);
	{
		stg_entry x = STG_ENTRY_INIT;
		x.status = STG_ENTRY_SUCCESS;
		x.integration = "shop";
		x.sku = "X1";
		x.available = x.published = x.acked = 3;
		x.sequence = 1;
		x.flags = STG_ENTRY_HAS_ACKED;
		CHECK(h.begin(h.payload) == 0);
		CHECK(h.begin(h.payload) == PG_STORE_EMISUSE);
		CHECK(pg_store_renew(a.st, 60000) == PG_STORE_EMISUSE); /* not inside one */
		CHECK(h.write(&x, h.payload) == 0);
		CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'X1'") == 0);
		CHECK(h.rollback(h.payload) == 0);
		CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'X1'") == 0);
		CHECK(h.begin(h.payload) == 0 && h.write(&x, h.payload) == 0 &&
		      h.remove("shop", "T0", h.payload) == 0);
		CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku IN ('X1', 'T0')") == 1);
		CHECK(h.commit(h.payload) == 0);
		CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku IN ('X1', 'T0')") == 1 &&
		      sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'X1'") == 1);
		CHECK(h.rollback(h.payload) == 0); /* after the commit: none open */
		x.sku = "X2";
		CHECK(h.write(&x, h.payload) == 0 && sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'X2'") == 1);
		CHECK(h.remove("shop", "X2", h.payload) == 0 &&
		      sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'X2'") == 0);

		/* A write the server refuses (a constraint another session adds)
		 * aborts the whole PostgreSQL transaction: the later writes and the
		 * commit are refused, the rollback is 0, nothing landed. */
		CHECK(sql_ok("ALTER TABLE stg_entry ADD CONSTRAINT no_bad CHECK (sku <> 'BAD')"));
		CHECK(h.begin(h.payload) == 0);
		x.sku = "Y1";
		CHECK(h.write(&x, h.payload) == 0);
		x.sku = "BAD";
		CHECK(h.write(&x, h.payload) == PG_STORE_EDB);
		printf("# %s\n", pg_store_errmsg(a.st));
		CHECK(strstr(pg_store_errmsg(a.st), "no_bad") != NULL);
		x.sku = "Y2";
		CHECK(h.write(&x, h.payload) != 0);
		CHECK(h.commit(h.payload) != 0);
		CHECK(h.rollback(h.payload) == 0);
		CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku IN ('Y1', 'Y2')") == 0);
		CHECK(h.begin(h.payload) == 0 && h.write(&x, h.payload) == 0 && h.commit(h.payload) == 0);
		CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'Y2'") == 1);
	}
	/* Through the log: the batch with BAD in it is undone as a whole. */
	CHECK(node_log(&a) == STG_OK);
	{
		stg_submit s[6];
		const char *skus[6] = { "Z0", "Z1", "Z2", "BAD", "Z4", "Z5" };
		for (i = 0; i < 6; i++) {
			stg_submit one = STG_SUBMIT_INIT;
			one.integration = "shop";
			one.sku = skus[i];
			one.available = 4;
			one.sequence = 1;
			s[i] = one;
		}
		CHECK(stg_log_submit_batch(a.log, s, 6, NULL, &done) == STG_ESTORAGE && done == 0);
		printf("# %s\n", stg_log_errmsg(a.log));
		CHECK(stg_log_get(a.log, "shop", "Z0", &e) == STG_ENOTFOUND);
		CHECK(agree(a.log, "true"));
	}
	CHECK(sql_ok("ALTER TABLE stg_entry DROP CONSTRAINT no_bad"));
	node_close(&a, 1);
}

static void test_leases(void)
{
	node a, b, c;
	int64_t e1 = 0, e2 = 0;
	double t0;

	CHECK(node_store(&a, "A") == 0 && node_store(&b, "B") == 0 && node_store(&c, "C") == 0);
	CHECK(pg_store_acquire(a.st, "p", 60000, &e1) == 0 && e1 == 1);
	CHECK(pg_store_acquire(b.st, "p", 60000, &e2) == PG_STORE_TAKEN);
	printf("# %s\n", pg_store_errmsg(b.st));
	CHECK(pg_store_acquire(a.st, "p", 60000, NULL) == PG_STORE_EMISUSE); /* held already */
	CHECK(pg_store_renew(a.st, 60000) == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_lease WHERE partition = 'p' AND owner = 'A' "
	              "AND expires_at > now() + interval '50 seconds'") == 1);
	CHECK(pg_store_acquire(a.st, "", 60000, NULL) == PG_STORE_EMISUSE);
	CHECK(pg_store_acquire(a.st, "x#", 60000, NULL) == PG_STORE_EMISUSE);
	CHECK(pg_store_acquire(a.st, "q", 0, NULL) == PG_STORE_EMISUSE);

	/* A real TTL runs out: another store takes the lease, one epoch up, and
	 * the first store's renew learns it lost it. */
	CHECK(pg_store_acquire(c.st, "q", 300, &e1) == 0 && e1 == 1);
	CHECK(pg_store_acquire(b.st, "q", 60000, NULL) == PG_STORE_TAKEN);
	t0 = now_s();
	while (pg_store_acquire(b.st, "q", 60000, &e2) == PG_STORE_TAKEN && now_s() - t0 < 5) {
		struct timespec pause = { 0, 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	printf("# q taken over after %.2f s (TTL 0.3 s)\n", now_s() - t0);
	CHECK(now_s() - t0 >= 0.25 && e2 == e1 + 1 && pg_store_epoch(b.st, "q") == e2);
	CHECK(pg_store_renew(c.st, 60000) == PG_STORE_FENCED);
	printf("# %s\n", pg_store_errmsg(c.st));
	CHECK(pg_store_acquire(c.st, "r", 60000, NULL) == PG_STORE_FENCED); /* refuses all now */
	CHECK(sql_int("SELECT count(*) FROM stg_lease WHERE partition = 'q' AND owner = 'B'") == 1);

	/* An expired lease nobody took: renew keeps it (the epoch did not move). */
	CHECK(sql_ok("UPDATE stg_lease SET expires_at = now() - interval '1 second' WHERE partition = 'p'"));
	CHECK(pg_store_renew(a.st, 60000) == 0 && pg_store_epoch(a.st, "p") == 1);
	CHECK(pg_store_acquire(b.st, "p", 60000, NULL) == PG_STORE_TAKEN);

	/* Release: free at once, the next owner raises the epoch. */
	CHECK(pg_store_release(a.st) == 0 && pg_store_epoch(a.st, "p") == -1);
	CHECK(sql_int("SELECT count(*) FROM stg_lease WHERE partition = 'p' AND owner IS NULL") == 1);
	CHECK(pg_store_acquire(b.st, "p", 60000, &e2) == 0 && e2 == 2);
	/* A fenced store's release frees nothing that is not its own. */
	CHECK(pg_store_release(c.st) == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_lease WHERE owner = 'B'") == 2);

	/* Shards: the count is the database's, shared by every store. */
	CHECK(pg_store_set_shards(a.st, "big", 8) == 0);
	CHECK(pg_store_set_shards(b.st, "big", 4) == PG_STORE_EMISUSE);
	printf("# %s\n", pg_store_errmsg(b.st));
	CHECK(pg_store_set_shards(a.st, "a#b", 2) == PG_STORE_EMISUSE);
	CHECK(pg_store_acquire(b.st, "big", 60000, NULL) == PG_STORE_EMISUSE);  /* it is split */
	CHECK(pg_store_acquire(b.st, "big#8", 60000, NULL) == PG_STORE_EMISUSE); /* 0..7 */
	CHECK(pg_store_acquire(b.st, "shop#0", 60000, NULL) == PG_STORE_EMISUSE); /* not split */
	CHECK(pg_store_acquire(b.st, "big#7", 60000, NULL) == 0);
	CHECK(pg_store_set_shards(b.st, "big", 8) == PG_STORE_EMISUSE); /* holds a shard of it */

	/* After the load, acquiring is refused (the log would not hold it). */
	CHECK(node_log(&b) == STG_OK);
	CHECK(pg_store_acquire(b.st, "late", 60000, NULL) == PG_STORE_EMISUSE);
	printf("# %s\n", pg_store_errmsg(b.st));
	node_close(&b, 1);
	CHECK(sql_int("SELECT count(*) FROM stg_lease WHERE owner IS NOT NULL") == 0);
	node_close(&a, 0);
	node_close(&c, 0);
}

/* The table as text, for "nothing changed": every row's key, bytes and epoch. */
static char *table_text(void)
{
	PGresult *res = sql("SELECT string_agg(integration || '/' || sku || '/' || encode(entry, 'hex') "
	                    "|| '/' || epoch, ',' ORDER BY integration, sku) FROM stg_entry");
	char *s = fx_strdup(PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "?");

	PQclear(res);
	return s;
}

static void test_fencing(void)
{
	node a, b;
	size_t done = 0, pending = 0;
	stg_entry e;
	char *before, *after;
	int64_t epoch = 0;
	int rc;

	CHECK(node_open(&a, "A", "p") == STG_OK);
	CHECK(batch(a.log, "p", "S", 30, 1, &done) == STG_OK && done == 30);
	CHECK(stg_log_pump(a.log, 10, NULL) == STG_OK);
	/* A is paused past its lease: the TTL runs out, B takes over. */
	CHECK(sql_ok("UPDATE stg_lease SET expires_at = now() - interval '1 second' WHERE partition = 'p'"));
	CHECK(node_open(&b, "B", "p") == STG_OK);
	CHECK(pg_store_epoch(b.st, "p") == 2);
	CHECK(agree(b.log, "true")); /* B loaded all A committed */
	CHECK(submit(b.log, "p", "S1", 99, 2) == STG_OK);
	before = table_text();

	/* A resumes: its next write is rejected with the distinct value, which
	 * the log reports as STG_EFENCED. */
	rc = submit(a.log, "p", "S2", 77, 2);
	CHECK(rc == STG_EFENCED && a.spy.last_rc == PG_STORE_FENCED);
	printf("# log: %s\n# store: %s\n", stg_log_errmsg(a.log), pg_store_errmsg(a.st));
	CHECK(strstr(pg_store_errmsg(a.st), "fenced") != NULL);
	CHECK(strstr(stg_log_errmsg(a.log), "fenced") != NULL);
	/* And nothing it does afterwards reaches the table: the log does not
	 * even ask the store any more. */
	a.spy.last_rc = 0;
	CHECK(batch(a.log, "p", "N", 5, 1, &done) == STG_EFENCED && done == 0);
	CHECK(a.spy.last_rc == 0);
	CHECK(stg_log_pump(a.log, 0, NULL) == STG_EFENCED);
	CHECK(stg_log_flush(a.log, &pending) != STG_OK);
	CHECK(stg_log_remove(a.log, "p", "S3", STG_REMOVE_FORCE) == STG_EFENCED);
	CHECK(stg_log_begin(a.log) == STG_OK);
	CHECK(submit(a.log, "p", "S4", 1, 3) == STG_EFENCED);
	{
		int open = 1;
		rc = stg_log_commit(a.log);
		printf("# commit after the fence: %s\n", stg_strerror(rc));
		CHECK(stg_log_in_transaction(a.log, &open) == STG_OK && open == 0);
	}
	CHECK(pg_store_renew(a.st, 60000) == PG_STORE_FENCED);
	after = table_text();
	CHECK(strcmp(before, after) == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku LIKE 'N%%'") == 0);
	CHECK(stg_log_get(b.log, "p", "S1", &e) == STG_OK && e.available == 99);
	free(before);
	free(after);
	node_close(&a, 1); /* its release leaves B's lease alone */
	CHECK(sql_int("SELECT count(*) FROM stg_lease WHERE partition = 'p' AND owner = 'B'") == 1);

	/* The race the lock closes: A writes inside a transaction under its
	 * epoch; a takeover must wait for that transaction, and sees its
	 * commit; A's write after the takeover is fenced. */
	CHECK(node_open(&a, "A", "q") == STG_OK);
	CHECK(stg_log_begin(a.log) == STG_OK);
	CHECK(submit(a.log, "q", "R1", 5, 1) == STG_OK);
	{
		PGconn *other = PQconnectdb("");
		int pid = PQbackendPID(other), waiting = 0, tries;
		PGresult *res;

		CHECK(PQstatus(other) == CONNECTION_OK);
		/* The takeover, from a session of its own, sent and not awaited. */
		CHECK(PQsendQuery(other, "UPDATE stg_lease SET owner = 'T', epoch = epoch + 1, "
		                  "expires_at = now() + interval '1 minute' WHERE partition = 'q' "
		                  "RETURNING epoch") == 1);
		for (tries = 0; tries < 200 && !waiting; tries++) {
			struct timespec pause = { 0, 10 * 1000 * 1000 };
			waiting = sql_int("SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND "
			                  "wait_event_type = 'Lock'", pid) == 1;
			if (!waiting)
				nanosleep(&pause, NULL);
		}
		CHECK(waiting); /* blocked by A's lease lock */
		CHECK(stg_log_commit(a.log) == STG_OK);
		res = PQgetResult(other);
		CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			epoch = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		while ((res = PQgetResult(other)))
			PQclear(res);
		PQfinish(other);
	}
	CHECK(epoch == 2);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'R1' AND epoch = 1") == 1);
	CHECK(submit(a.log, "q", "R2", 5, 1) == STG_EFENCED && a.spy.last_rc == PG_STORE_FENCED);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'R2'") == 0);
	node_close(&a, 1);
	node_close(&b, 1);
}

static void test_faults(void)
{
	node a;
	size_t done = 99, sent = 0, pending = 0;
	stg_entry e;
	stg_counts counts;
	int rc;

	CHECK(node_open(&a, "A", "shop") == STG_OK);
	CHECK(batch(a.log, "shop", "S", 20, 1, &done) == STG_OK);

	/* The session ends in the middle of a batch: the batch fails and is
	 * undone in memory; storage has none of it. */
	a.spy.writes = 0;
	a.spy.kill_at_write = 6;
	rc = batch(a.log, "shop", "K", 20, 1, &done);
	printf("# %s\n# store: %s\n", stg_log_errmsg(a.log), pg_store_errmsg(a.st));
	CHECK(rc == STG_ESTORAGE && done == 0);
	CHECK(stg_log_get(a.log, "shop", "K0", &e) == STG_ENOTFOUND);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku LIKE 'K%%'") == 0);
	CHECK(agree(a.log, "true"));
	/* The next call reconnects at its begin and goes through. */
	a.spy.kill_at_write = 0;
	CHECK(batch(a.log, "shop", "K", 20, 1, &done) == STG_OK && done == 20);
	CHECK(pg_store_reconnects(a.st) == 1);
	CHECK(agree(a.log, "true"));

	/* In the middle of a pump: the acknowledgements stay in memory, owed,
	 * and the next call writes them. */
	a.spy.writes = 0;
	a.spy.kill_at_write = 3;
	rc = stg_log_pump(a.log, 0, &sent);
	printf("# %s; %zu sent\n", stg_log_errmsg(a.log), sent);
	/* One write per acknowledgement: the third found the session gone and
	 * the pump stopped there, its three results kept and owed. */
	CHECK(rc == STG_ESTORAGE && sent == 3);
	CHECK(stg_log_counts(a.log, NULL, &counts) == STG_OK && counts.success == 3);
	CHECK(stg_log_flush(a.log, &pending) == STG_OK);
	printf("# flushed, %zu pending\n", pending);
	CHECK(pending == 0);
	CHECK(agree(a.log, "true")); /* the owed results are stored now */
	CHECK(pg_store_reconnects(a.st) == 2);
	a.spy.kill_at_write = 0;
	CHECK(stg_log_pump(a.log, 0, &sent) == STG_OK && sent == 37);
	CHECK(stg_log_counts(a.log, NULL, &counts) == STG_OK && counts.success == 40);
	CHECK(agree(a.log, "true"));

	/* Just before COMMIT: the store asks the server what became of the
	 * transaction (rolled back), the log undoes the batch, no doubt left. */
	a.spy.kill_at_commit = 1;
	rc = batch(a.log, "shop", "C", 10, 1, &done);
	printf("# %s\n# store: %s\n", stg_log_errmsg(a.log), pg_store_errmsg(a.st));
	CHECK(rc == STG_ESTORAGE && done == 0);
	CHECK(strstr(pg_store_errmsg(a.st), "rolled transaction") != NULL);
	CHECK(strstr(stg_log_errmsg(a.log), "reopen") == NULL); /* the rollback vouched */
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku LIKE 'C%%'") == 0);
	CHECK(agree(a.log, "true"));
	CHECK(batch(a.log, "shop", "C", 10, 1, &done) == STG_OK && done == 10);
	CHECK(agree(a.log, "true"));

	/* Between calls: a single write outside a transaction finds the
	 * connection gone, reconnects and is sent again. */
	CHECK(terminate(a.st));
	CHECK(submit(a.log, "shop", "single", 3, 1) == STG_OK);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE sku = 'single'") == 1);
	CHECK(agree(a.log, "true"));
	printf("# %lld reconnects\n", pg_store_reconnects(a.st));
	CHECK(pg_store_reconnects(a.st) == 4);
	node_close(&a, 1);

	/* And a reopen reads what the table holds. */
	CHECK(node_open(&a, "A2", "shop") == STG_OK);
	CHECK(log_count(a.log) == 51);
	CHECK(agree(a.log, "true"));
	node_close(&a, 1);
}

/* Whether @p log holds the entries of @p was, and only those, field for
 * field (job ids aside: a reopened log gives loaded jobs new ones). */
static int same_entries(stg_log *log, const fx_snap *was)
{
	unsigned char a[STG_ENTRY_ENCODED_MAX], b[STG_ENTRY_ENCODED_MAX];
	fx_snap now;
	size_t i, la, lb;
	int ok;

	fx_snap_log(log, &now);
	ok = now.n == was->n;
	if (!ok)
		printf("# same_entries: %zu entries, %zu before\n", now.n, was->n);
	for (i = 0; ok && i < was->n; i++) {
		const stg_entry *e = fx_snap_find(&now, was->v[i].integration, was->v[i].sku);
		stg_entry mine;

		if (e) {
			mine = *e;
			mine.job_id = was->v[i].job_id;
		}
		ok = e && stg_entry_encode(&mine, a, sizeof a, &la) == STG_OK &&
		     stg_entry_encode(&was->v[i], b, sizeof b, &lb) == STG_OK && la == lb &&
		     memcmp(a, b, la) == 0;
		if (!ok)
			printf("# same_entries: (%s, %s) differs\n", was->v[i].integration, was->v[i].sku);
	}
	fx_snap_free(&now);
	return ok;
}

static void report(const node *n, int rc)
{
	printf("# %s\n#   log: %s\n#   store: %s\n", stg_strerror(rc), stg_log_errmsg(n->log),
	       pg_store_errmsg(n->st));
}

/* The rows of @p partition whose SKU starts with @p prefix. */
static long long rows_like(const char *partition, const char *prefix)
{
	return sql_int("SELECT count(*) FROM stg_entry WHERE partition = '%s' AND sku LIKE '%s%%'",
	               partition, prefix);
}

/* A pump during which the server restarts before the pump's @p at-th write. */
static int pump_restarting(node *n, long at, size_t *sent)
{
	int rc;

	n->spy.writes = 0;
	n->spy.restart_at_write = at;
	rc = stg_log_pump(n->log, 0, sent);
	n->spy.restart_at_write = 0;
	report(n, rc);
	printf("# %zu sent\n", *sent);
	return rc;
}

/* One shutdown mode of the restart test; the partition is named after it. */
static void restart_with(const char *mode)
{
	const char *part = mode;
	char where[64], sku[16];
	node a, b;
	size_t done = 99, sent = 0, pending = 99;
	uint64_t expect = 0;
	long long reconnects;
	stg_counts counts;
	stg_entry e;
	fx_snap before;
	int rc, i, ok, open = -1;

	printf("# pg_ctl restart -m %s\n", mode);
	restart_mode = mode;
	snprintf(where, sizeof where, "partition = '%s'", part);
	CHECK(node_open(&a, "A", part) == STG_OK);
	CHECK(batch(a.log, part, "S", 20, 1, &done) == STG_OK && done == 20);
	expect += 20;

	/* (a) In a library-owned transaction: the server restarts before the
	 * batch's 60th write of 200, which finds the session gone. The batch
	 * fails and is undone in memory; storage has none of it and all of
	 * what was acknowledged before. */
	a.spy.writes = 0;
	a.spy.restart_at_write = 60;
	a.spy.first_err[0] = '\0';
	rc = batch(a.log, part, "K", 200, 1, &done);
	a.spy.restart_at_write = 0;
	report(&a, rc);
	printf("#   the store's first failure: %s\n", a.spy.first_err);
	CHECK(rc == STG_ESTORAGE && done == 0);
	CHECK(a.spy.writes == 60 && a.spy.last_rc == PG_STORE_EDB);
	CHECK(strstr(stg_log_errmsg(a.log), "undone") != NULL);
	CHECK(strstr(a.spy.first_err, "write: ") == a.spy.first_err &&
	      strstr(a.spy.first_err, "(connection lost)") != NULL);
	CHECK(stg_log_get(a.log, part, "K0", &e) == STG_ENOTFOUND);
	CHECK(rows_like(part, "K") == 0 && rows_like(part, "S") == 20);
	CHECK(agree(a.log, where));
	/* The same log goes on: the next call reconnects at its begin. */
	reconnects = pg_store_reconnects(a.st);
	CHECK(batch(a.log, part, "K", 200, 1, &done) == STG_OK && done == 200);
	CHECK(pg_store_reconnects(a.st) == reconnects + 1);
	expect += 200;
	CHECK(agree(a.log, where));

	/* In a pump: the acknowledgements its transaction held stay in memory,
	 * owed; stg_log_flush() writes them once the server is back. */
	rc = pump_restarting(&a, 3, &sent);
	CHECK(rc == STG_ESTORAGE && sent == 3);
	CHECK(strstr(stg_log_errmsg(a.log), "owed") != NULL);
	CHECK(stg_log_counts(a.log, NULL, &counts) == STG_OK && counts.success == 3);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE %s", where) == (long long)expect);
	CHECK(!agree(a.log, where)); /* three results are in memory only, owed */
	CHECK(stg_log_flush(a.log, &pending) == STG_OK && pending == 0);
	CHECK(agree(a.log, where));
	/* Again, and this time the next call that changes the log writes them. */
	rc = pump_restarting(&a, 2, &sent);
	CHECK(rc == STG_ESTORAGE && sent == 2);
	CHECK(stg_log_counts(a.log, NULL, &counts) == STG_OK && counts.success == 5);
	CHECK(submit(a.log, part, "N1", 7, 1) == STG_OK);
	expect += 1;
	CHECK(agree(a.log, where));
	CHECK(stg_log_flush(a.log, &pending) == STG_OK && pending == 0);
	CHECK(stg_log_pump(a.log, 0, &sent) == STG_OK && sent == expect - 5);
	CHECK(agree(a.log, where));

	/* (b) In a host transaction: ten submits, the server restarts, the
	 * eleventh submit finds the session gone. Nothing of the transaction
	 * is applied, in memory or storage. */
	CHECK(stg_log_begin(a.log) == STG_OK);
	for (i = 0, ok = 1; i < 10; i++) {
		snprintf(sku, sizeof sku, "H%d", i);
		ok = ok && submit(a.log, part, sku, 30 + i, 1) == STG_OK;
	}
	CHECK(ok);
	CHECK(restart_server(mode));
	rc = submit(a.log, part, "H10", 40, 1);
	report(&a, rc);
	CHECK(rc == STG_ESTORAGE);
	CHECK(strstr(pg_store_errmsg(a.st), "(connection lost)") != NULL);
	CHECK(stg_log_in_transaction(a.log, &open) == STG_OK);
	printf("# in a transaction after the failed submit: %d\n", open);
	if (open) {
		rc = stg_log_commit(a.log);
		report(&a, rc);
		CHECK(rc == STG_ESTORAGE);
	}
	CHECK(stg_log_in_transaction(a.log, &open) == STG_OK && open == 0);
	CHECK(stg_log_get(a.log, part, "H0", &e) == STG_ENOTFOUND);
	CHECK(rows_like(part, "H") == 0);
	CHECK(agree(a.log, where));
	/* The host does it again, with the server back: it goes through. */
	CHECK(stg_log_begin(a.log) == STG_OK);
	for (i = 0, ok = 1; i < 11; i++) {
		snprintf(sku, sizeof sku, "H%d", i);
		ok = ok && submit(a.log, part, sku, 30 + i, 1) == STG_OK;
	}
	CHECK(ok && stg_log_commit(a.log) == STG_OK);
	expect += 11;
	CHECK(rows_like(part, "H") == 11);
	CHECK(agree(a.log, where));

	/* (c) Right before the COMMIT, of a host transaction (the restart
	 * between the last submit and stg_log_commit()) ... */
	CHECK(stg_log_begin(a.log) == STG_OK);
	CHECK(batch(a.log, part, "B", 30, 1, &done) == STG_OK && done == 30);
	CHECK(submit(a.log, part, "H0", 99, 2) == STG_OK); /* an update, undone too */
	CHECK(restart_server(mode));
	rc = stg_log_commit(a.log);
	report(&a, rc);
	CHECK(rc == STG_ESTORAGE);
	CHECK(strstr(pg_store_errmsg(a.st), "rolled transaction") != NULL);
	CHECK(strstr(stg_log_errmsg(a.log), "reopen") == NULL); /* the rollback vouched */
	CHECK(stg_log_get(a.log, part, "B0", &e) == STG_ENOTFOUND);
	CHECK(stg_log_get(a.log, part, "H0", &e) == STG_OK && e.available == 30);
	CHECK(rows_like(part, "B") == 0);
	CHECK(agree(a.log, where));
	/* ... and of a batch's own transaction (the restart inside the hook's
	 * commit, before COMMIT is sent). */
	a.spy.restart_at_commit = 1;
	rc = batch(a.log, part, "C", 30, 1, &done);
	report(&a, rc);
	CHECK(rc == STG_ESTORAGE && done == 0);
	CHECK(strstr(pg_store_errmsg(a.st), "rolled transaction") != NULL);
	CHECK(strstr(stg_log_errmsg(a.log), "reopen") == NULL);
	CHECK(rows_like(part, "C") == 0);
	CHECK(agree(a.log, where));
	CHECK(batch(a.log, part, "C", 30, 1, &done) == STG_OK && done == 30);
	expect += 30;
	CHECK(agree(a.log, where));

	/* Between calls: a pump's writes outside a host transaction reconnect. */
	CHECK(restart_server(mode));
	rc = stg_log_pump(a.log, 0, &sent);
	if (rc)
		report(&a, rc);
	CHECK(rc == STG_OK && sent == 11 + 30); /* H0..H10 and C0..C29 */
	CHECK(agree(a.log, where));

	/* Nothing acknowledged is lost, and another store and log on the same
	 * database read exactly what the first one holds. */
	CHECK(log_count(a.log) == expect);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE %s", where) == (long long)expect);
	printf("# %lld reconnects\n", pg_store_reconnects(a.st));
	fx_snap_log(a.log, &before);
	node_close(&a, 1);
	CHECK(node_open(&b, "B", part) == STG_OK);
	CHECK(same_entries(b.log, &before));
	CHECK(agree(b.log, where));
	fx_snap_free(&before);
	CHECK(stg_log_pump(b.log, 0, &sent) == STG_OK && sent == 0); /* every job was acknowledged */
	CHECK(submit(b.log, part, "S0", 1, 2) == STG_OK && agree(b.log, where));
	node_close(&b, 1);
}

static void test_restart(void)
{
	restart_with("fast");
	restart_with("immediate");
}

/* 100,000 entries of partition "big", written straight into the table
 * with COPY (the log and the store would take longer, and the load is
 * what is measured), under the lease epoch the loading store will hold. */
static int copy_entries(int n, int64_t epoch)
{
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
	char *line = malloc(2 * sizeof buf + 4096);
	PGresult *res;
	int i, ok = line != NULL;

	res = sql("COPY stg_entry (partition, integration, sku, entry, epoch) FROM STDIN");
	ok = ok && PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	for (i = 0; ok && i < n; i++) {
		stg_entry e = STG_ENTRY_INIT;
		char sku[64];
		size_t len, j, at;
		snprintf(sku, sizeof sku, "SKU-%08d-with-a-longer-name", i);
		e.status = STG_ENTRY_SUCCESS;
		e.integration = "big";
		e.sku = sku;
		e.available = e.published = e.acked = i % 500;
		e.sequence = 1;
		e.flags = STG_ENTRY_HAS_ACKED;
		if (stg_entry_encode(&e, buf, sizeof buf, &len) != STG_OK) {
			ok = 0;
			break;
		}
		/* Text COPY: bytea as \\x hex (the backslash doubled for COPY). */
		at = (size_t)snprintf(line, 4096, "big\tbig\t%s\t\\\\x", sku);
		for (j = 0; j < len; j++)
			at += (size_t)sprintf(line + at, "%02x", buf[j]);
		at += (size_t)sprintf(line + at, "\t%lld\n", (long long)epoch);
		ok = PQputCopyData(raw, line, (int)at) == 1;
	}
	ok = PQputCopyEnd(raw, ok ? NULL : "generator failed") == 1 && ok;
	res = PQgetResult(raw);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		printf("# copy: %s", PQresultErrorMessage(res));
		ok = 0;
	}
	PQclear(res);
	free(line);
	return ok;
}

static void test_load(void)
{
	const int n = 100000;
	node a;
	long long rows = 0, peak_rows = 0, peak_bytes = 0, total_bytes;
	double t0, t_load;
	size_t done = 0;
	stg_entry e;

	/* An unowned partition beside it: the load must leave it out. */
	CHECK(node_open(&a, "other", "small") == STG_OK);
	CHECK(batch(a.log, "small", "S", 50, 1, &done) == STG_OK && done == 50);
	node_close(&a, 0);

	CHECK(node_store(&a, "A") == 0);
	CHECK(pg_store_acquire(a.st, "big", 60000, NULL) == 0);
	t0 = now_s();
	CHECK(copy_entries(n, pg_store_epoch(a.st, "big")));
	printf("# COPY of %d entries: %.2f s\n", n, now_s() - t0);
	total_bytes = sql_int("SELECT sum(octet_length(integration) + octet_length(sku) + "
	                      "octet_length(entry)) FROM stg_entry WHERE partition = 'big'");

	t0 = now_s();
	CHECK(node_log(&a) == STG_OK);
	t_load = now_s() - t0;
	pg_store_load_stats(a.st, &rows, &peak_rows, &peak_bytes);
	printf("# load of %lld entries: %.2f s; at most %lld rows, %lld of %lld bytes held at once\n",
	       rows, t_load, peak_rows, peak_bytes, total_bytes);
	CHECK(rows == n && log_count(a.log) == (uint64_t)n);
	CHECK(peak_rows == 1000);             /* one chunk at a time, never the lot */
	CHECK(peak_bytes * 50 < total_bytes); /* so at most 1/100 of the data, with room */
	CHECK(stg_log_get(a.log, "big", "SKU-00099999-with-a-longer-name", &e) == STG_OK &&
	      e.acked == 99999 % 500);
	CHECK(stg_log_get(a.log, "small", "S1", &e) == STG_ENOTFOUND);

	/* Through the log: a batch of 10,000 changes, one transaction. */
	t0 = now_s();
	CHECK(batch(a.log, "big", "NEW-", 10000, 1, &done) == STG_OK && done == 10000);
	printf("# submit_batch of 10,000 changes: %.2f s\n", now_s() - t0);
	CHECK(sql_int("SELECT count(DISTINCT xmin::text) FROM stg_entry WHERE sku LIKE 'NEW-%%'") == 1);
	node_close(&a, 1);

	/* A smaller chunk holds less. */
	CHECK(node_store(&a, "A") == 0);
	CHECK(pg_store_acquire(a.st, "big", 60000, NULL) == 0);
	pg_store_set_fetch_size(a.st, 100);
	CHECK(node_log(&a) == STG_OK);
	pg_store_load_stats(a.st, &rows, &peak_rows, &peak_bytes);
	CHECK(rows == n + 10000 && peak_rows == 100);
	node_close(&a, 1);
}

/* ------------------------------------------------ integration records */

static int is_paused(stg_log *log, const char *integration)
{
	int paused = -1;

	return stg_log_is_paused(log, integration, &paused) == STG_OK ? paused : -1;
}

/* The stored flags of @p partition's record; -1: no row. */
static long long record_flags(const char *partition)
{
	return sql_int("SELECT flags FROM stg_integration WHERE partition = '%s'", partition);
}

/* A store owning the partitions @p parts (NULL-ended), with a log on it. */
static int node_open_parts(node *n, const char *owner, const char *const *parts)
{
	if (node_store(n, owner) != 0)
		return -1;
	for (; *parts; parts++)
		if (pg_store_acquire(n->st, *parts, 60000, NULL) != 0) {
			printf("# acquire %s: %s\n", *parts, pg_store_errmsg(n->st));
			return -1;
		}
	return node_log(n);
}

static void test_records(void)
{
	static const char *const both[] = { "big#0", "big#1", NULL }, *const one[] = { "big#1", NULL },
	                         *const zero[] = { "big#0", NULL };
	node a, b;
	size_t sent = 99;
	int rc;

	/* Not split: the pause survives a reopen by another store. */
	CHECK(node_open(&a, "A", "shop") == STG_OK);
	CHECK(submit(a.log, "shop", "S1", 4, 1) == STG_OK);
	CHECK(stg_log_pause(a.log, "shop") == STG_OK);
	/* Written before the call returned, under the lease's epoch. */
	CHECK(record_flags("shop") == STG_INTEGRATION_PAUSED);
	CHECK(sql_int("SELECT count(*) FROM stg_integration WHERE partition = 'shop' AND "
	              "integration = 'shop' AND epoch = 1 AND updated_at > 0") == 1);
	node_close(&a, 1);
	CHECK(node_open(&b, "B", "shop") == STG_OK);
	CHECK(is_paused(b.log, "shop") == 1);
	CHECK(stg_log_pump(b.log, 0, &sent) == STG_OK && sent == 0); /* held */
	CHECK(stg_log_resume(b.log, "shop") == STG_OK);
	CHECK(record_flags("shop") == 0 &&
	      sql_int("SELECT epoch FROM stg_integration WHERE partition = 'shop'") == 2);
	node_close(&b, 1);
	CHECK(node_open(&a, "A", "shop") == STG_OK);
	CHECK(is_paused(a.log, "shop") == 0);
	CHECK(stg_log_pump(a.log, 0, &sent) == STG_OK && sent == 1);
	/* An integration it holds no partition of: refused, not fenced, and
	 * the log pauses nothing. */
	CHECK(stg_log_pause(a.log, "elsewhere") == STG_ESTORAGE && a.spy.last_rc == PG_STORE_EMISUSE);
	printf("# %s\n", pg_store_errmsg(a.st));
	CHECK(is_paused(a.log, "elsewhere") == 0 &&
	      sql_int("SELECT count(*) FROM stg_integration WHERE integration = 'elsewhere'") == 0);
	node_close(&a, 1);

	/* Split in two: one row per shard, each under its own lease. */
	CHECK(node_store(&a, "A") == 0 && pg_store_set_shards(a.st, "big", 2) == 0);
	node_close(&a, 0);
	CHECK(node_open_parts(&a, "A", both) == STG_OK);
	CHECK(stg_log_pause(a.log, "big") == STG_OK);
	CHECK(record_flags("big#0") == STG_INTEGRATION_PAUSED && record_flags("big#1") == STG_INTEGRATION_PAUSED);
	node_close(&a, 1);
	/* A store owning one shard gets its pause back, and its resume touches
	 * only that shard's row. */
	CHECK(node_open_parts(&b, "B", one) == STG_OK);
	CHECK(is_paused(b.log, "big") == 1);
	CHECK(stg_log_resume(b.log, "big") == STG_OK);
	CHECK(record_flags("big#1") == 0 && record_flags("big#0") == STG_INTEGRATION_PAUSED);
	node_close(&b, 1);
	CHECK(node_open_parts(&b, "B", one) == STG_OK && is_paused(b.log, "big") == 0);
	node_close(&b, 1);
	CHECK(node_open_parts(&b, "B", zero) == STG_OK && is_paused(b.log, "big") == 1);
	node_close(&b, 1);
	/* Both shards, one paused: paused (the merge errs on holding). */
	CHECK(node_open_parts(&a, "A", both) == STG_OK && is_paused(a.log, "big") == 1);

	/* Fenced: shard 1 is taken over. The record write is refused for both
	 * shards (one statement, all or none), the log pauses nothing. */
	CHECK(stg_log_resume(a.log, "big") == STG_OK);
	CHECK(sql_ok("UPDATE stg_lease SET expires_at = now() - interval '1 second' "
	             "WHERE partition = 'big#1'"));
	CHECK(node_open_parts(&b, "B", one) == STG_OK);
	rc = stg_log_pause(a.log, "big");
	printf("# log: %s\n# store: %s\n", stg_log_errmsg(a.log), pg_store_errmsg(a.st));
	/* The store's fenced answer is the log's STG_EFENCED. */
	CHECK(rc == STG_EFENCED && a.spy.last_rc == PG_STORE_FENCED);
	CHECK(strstr(pg_store_errmsg(a.st), "fenced") != NULL);
	CHECK(is_paused(a.log, "big") == 0);
	CHECK(record_flags("big#0") == 0 && record_flags("big#1") == 0);
	CHECK(submit(a.log, "big", "X", 1, 1) == STG_EFENCED); /* the store refuses all now */
	/* The new owner's pause goes in under its lease. */
	CHECK(stg_log_pause(b.log, "big") == STG_OK && record_flags("big#1") == STG_INTEGRATION_PAUSED &&
	      sql_int("SELECT epoch FROM stg_integration WHERE partition = 'big#1'") ==
	              pg_store_epoch(b.st, "big#1"));
	CHECK(record_flags("big#0") == 0);
	node_close(&a, 1);
	node_close(&b, 1);
}

/* Insert one inbox row as a producer would (plain SQL, parameters). */
static int produce(const char *integration, const char *sku, long long quantity, long long seq)
{
	char q[32], sq[32];
	const char *params[4] = { integration, sku, q, sq };
	PGresult *res;
	int ok;

	snprintf(q, sizeof q, "%lld", quantity);
	snprintf(sq, sizeof sq, "%lld", seq);
	res = PQexecParams(raw, "INSERT INTO stg_inbox (integration, sku, quantity, sequence) "
	                   "VALUES ($1, $2, $3, $4)", 4, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	return ok;
}

/* Whether every change of a claim belongs to @p partition (2 shards of "big"). */
static int all_in(const stg_submit *ch, size_t n, const char *partition)
{
	char part[64];
	size_t i;

	for (i = 0; i < n; i++)
		if (pg_store_partition_of(part, sizeof part, ch[i].integration, ch[i].sku, 2) < 0 ||
		    strcmp(part, partition) != 0) {
			printf("# (%s, %s) is in %s, claimed for %s\n", ch[i].integration, ch[i].sku, part,
			       partition);
			return 0;
		}
	return 1;
}

/*
 * The inbox (pg_store.h, "The inbox"): the SQL routing equals the C one
 * (UTF-8 included), the CHECKs refuse what the log would, a claim needs a
 * transaction, each store claims only the rows of partitions it holds and
 * skips rows another session has locked, a rollback puts the rows back, a
 * commit takes them out with the entries written, a replayed older row is
 * stale (and still leaves the inbox), and a claim after the lease moved on
 * is fenced and takes nothing.
 */
static void test_inbox(void)
{
	static const char *const zero[] = { "big#0", NULL }, *const one[] = { "big#1", NULL };
	static const char *const keys[] = { "a", "SKU-00001", "x#y", "a\xc3\xa7\xc3\xa3o-\xc3\xbc",
		                            "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x93\xa6 box", NULL };
	node a, b, c;
	const stg_submit *ch = NULL;
	stg_submit_result *res;
	size_t n = 99, n0 = 0, n1 = 0, i, done = 0;
	long long in1;
	stg_entry e;
	int rc;

	CHECK(node_store(&a, "A") == 0 && pg_store_set_shards(a.st, "big", 2) == 0);
	CHECK(pg_store_inbox_claim(a.st, 10, &ch, &n) == PG_STORE_EMISUSE); /* no transaction */
	CHECK(pg_store_begin(a.st) == 0);
	CHECK(pg_store_inbox_claim(a.st, 0, &ch, &n) == PG_STORE_EMISUSE);  /* bad max */
	CHECK(pg_store_begin(a.st) == PG_STORE_EMISUSE);                   /* one is open */
	CHECK(pg_store_end(a.st, 0) == 0 && pg_store_end(a.st, 1) == 0);   /* none open: 0 */
	node_close(&a, 0);

	/* The routing: the trigger's partition and stg_fnv1a32() are the C ones. */
	for (i = 0; keys[i]; i++) {
		char part[64], hash[32];
		const char *params[1] = { keys[i] };
		PGresult *r;

		CHECK(pg_store_partition_of(part, sizeof part, "big", keys[i], 2) > 0);
		CHECK(produce("big", keys[i], 1, 1));
		r = PQexecParams(raw, "SELECT partition, stg_fnv1a32($1) FROM stg_inbox WHERE sku = $1",
		                 1, NULL, params, NULL, NULL, 0);
		snprintf(hash, sizeof hash, "%lu", (unsigned long)pg_store_hash(keys[i]));
		CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		      strcmp(PQgetvalue(r, 0, 0), part) == 0 && strcmp(PQgetvalue(r, 0, 1), hash) == 0);
		PQclear(r);
	}
	CHECK(sql_ok("DELETE FROM stg_inbox"));
	/* What the log would refuse, the table refuses. */
	CHECK(!produce("big", "", 1, 1));
	CHECK(!produce("a#b", "s", 1, 1));
	CHECK(!sql_ok("INSERT INTO stg_inbox (integration, sku, quantity, sequence, changed_at) "
	              "VALUES ('big', 's', 1, 1, -1)"));
	CHECK(!sql_ok("INSERT INTO stg_inbox (integration, sku, quantity, sequence) "
	              "VALUES ('big', repeat('x', 1025), 1, 1)"));
	CHECK(sql_int("SELECT count(*) FROM stg_inbox") == 0);

	/* Producers' rows, both shards; A holds big#1, B big#0. */
	for (i = 0; i < 40; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "S%02zu", i);
		CHECK(produce("big", sku, (long long)i + 10, 2));
	}
	in1 = sql_int("SELECT count(*) FROM stg_inbox WHERE partition = 'big#1'");
	CHECK(in1 > 5 && in1 < 35);
	CHECK(node_open_parts(&a, "A", one) == STG_OK);
	CHECK(node_open_parts(&b, "B", zero) == STG_OK);

	/* Both claim at once: each its own partition's rows, all of them. */
	CHECK(pg_store_begin(a.st) == 0 && pg_store_begin(b.st) == 0);
	CHECK(pg_store_inbox_claim(a.st, 1000, &ch, &n1) == 0 && all_in(ch, n1, "big#1"));
	CHECK(pg_store_inbox_claim(b.st, 1000, &ch, &n0) == 0 && all_in(ch, n0, "big#0"));
	CHECK((long long)n1 == in1 && n0 + n1 == 40);
	/* Rolled back: the rows are in the inbox again. */
	CHECK(pg_store_end(a.st, 0) == 0 && pg_store_end(b.st, 0) == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_inbox") == 40);

	/* Rows another session holds locked are skipped, not waited for. */
	CHECK(sql_ok("BEGIN"));
	CHECK(sql_int("SELECT count(*) FROM (SELECT id FROM stg_inbox WHERE partition = 'big#1' "
	              "ORDER BY id LIMIT 3 FOR UPDATE) l") == 3);
	CHECK(pg_store_begin(a.st) == 0);
	CHECK(pg_store_inbox_claim(a.st, 1000, &ch, &n) == 0 && (long long)n == in1 - 3);
	CHECK(pg_store_end(a.st, 0) == 0);
	CHECK(sql_ok("ROLLBACK"));

	/* The whole flow: claimed rows leave the inbox in the commit that
	 * writes their entries. */
	res = calloc(64, sizeof *res);
	CHECK(res != NULL);
	CHECK(stg_log_begin(a.log) == STG_OK && pg_store_begin(a.st) == 0);
	CHECK(pg_store_inbox_claim(a.st, 1000, &ch, &n) == 0 && (long long)n == in1);
	CHECK(stg_log_submit_batch(a.log, ch, n, res, &done) == STG_OK && done == n);
	/* The log joined the host's transaction: the host does not end it. */
	CHECK(pg_store_end(a.st, 1) == PG_STORE_EMISUSE);
	CHECK(stg_log_commit(a.log) == STG_OK);
	CHECK(pg_store_end(a.st, 1) == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_inbox WHERE partition = 'big#1'") == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_entry WHERE partition = 'big#1'") == in1);
	CHECK(pg_store_inbox_claimed(a.st) == 2 * in1 + (in1 - 3));
	CHECK(agree(a.log, "partition = 'big#1'"));

	/* A replay of older rows: stale, the entries keep their quantities,
	 * and the rows still leave the inbox (the log wrote nothing, so the
	 * host's pg_store_end() commits). */
	for (i = 0; i < n; i++)
		CHECK(stg_log_get(a.log, "big", ch[i].sku, &e) == STG_OK);
	CHECK(sql_ok("INSERT INTO stg_inbox (integration, sku, quantity, sequence) "
	             "SELECT integration, sku, 999, 1 FROM stg_entry WHERE partition = 'big#1'"));
	CHECK(stg_log_begin(a.log) == STG_OK && pg_store_begin(a.st) == 0);
	CHECK(pg_store_inbox_claim(a.st, 1000, &ch, &n) == 0 && (long long)n == in1);
	CHECK(stg_log_submit_batch(a.log, ch, n, res, &done) == STG_OK && done == n);
	for (i = 0; i < n; i++)
		CHECK(res[i].decision == STG_DECISION_STALE);
	CHECK(stg_log_commit(a.log) == STG_OK && pg_store_end(a.st, 1) == 0);
	CHECK(sql_int("SELECT count(*) FROM stg_inbox WHERE partition = 'big#1'") == 0);
	CHECK(agree(a.log, "partition = 'big#1'"));
	for (i = 0; i < n; i++)
		CHECK(stg_log_get(a.log, "big", ch[i].sku, &e) == STG_OK && e.available != 999);

	/* Fenced: A's lease of big#1 runs out and C takes it. A's claim takes
	 * nothing, and the rows wait for C. */
	for (i = 0; i < 40; i++) {
		char sku[16];
		snprintf(sku, sizeof sku, "S%02zu", i);
		CHECK(produce("big", sku, 1, 3));
	}
	CHECK(sql_ok("UPDATE stg_lease SET expires_at = now() - interval '1 second' "
	             "WHERE partition = 'big#1'"));
	CHECK(node_open_parts(&c, "C", one) == STG_OK);
	rc = pg_store_begin(a.st);
	if (rc == 0)
		rc = pg_store_inbox_claim(a.st, 1000, &ch, &n);
	printf("# claim after the takeover: %d, %s\n", rc, pg_store_errmsg(a.st));
	CHECK(rc == PG_STORE_FENCED);
	(void)pg_store_end(a.st, 0);
	CHECK(sql_int("SELECT count(*) FROM stg_inbox WHERE partition = 'big#1'") == in1);
	CHECK(pg_store_begin(c.st) == 0);
	CHECK(pg_store_inbox_claim(c.st, 1000, &ch, &n) == 0 && all_in(ch, n, "big#1") &&
	      (long long)n == in1);
	CHECK(pg_store_end(c.st, 0) == 0);
	free(res);
	node_close(&a, 1);
	node_close(&b, 1);
	node_close(&c, 1);
}

static const struct {
	const char *name;
	void (*run)(void);
} tests[] = {
	{ "round_trip", test_round_trip }, { "commits", test_commits }, { "leases", test_leases },
	{ "fencing", test_fencing },       { "faults", test_faults },   { "load", test_load },
	{ "records", test_records },       { "restart", test_restart },   { "inbox", test_inbox },
};

int main(int argc, char **argv)
{
	size_t i;
	int found = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: pg_store_test TEST (run by pg_harness.py)\n");
		return 2;
	}
	/* Line by line: a fixture check that ends the program keeps what came before. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	raw = PQconnectdb("");
	if (PQstatus(raw) != CONNECTION_OK) {
		fprintf(stderr, "pg_store_test: %s", PQerrorMessage(raw));
		PQfinish(raw);
		return 1;
	}
	for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (strcmp(argv[1], tests[i].name) == 0) {
			double t0 = now_s();
			tests[i].run();
			printf("# %s: %.2f s\n", tests[i].name, now_s() - t0);
			found = 1;
		}
	PQfinish(raw);
	if (!found) {
		fprintf(stderr, "pg_store_test: no test '%s'\n", argv[1]);
		return 2;
	}
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
