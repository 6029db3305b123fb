/*
 * stockguard-pg-instance: one connector instance of several sharing a
 * PostgreSQL database (issue 16; docs/scale-out.md explains the design).
 *
 *     stockguard-pg-instance --owner NAME --integration shop[:SHARDS] ...
 *                            --record FILE [options]
 *
 * What it does, in one loop:
 *
 *   1. registers itself in stg_instance (a heartbeat row), so instances
 *      know how many of them are alive and each takes a fair share of the
 *      partitions: ceil(partitions / live instances);
 *   2. acquires free or expired partition leases up to that share, one
 *      pg_store (one connection) and one stg_log per partition, and gives
 *      back partitions above it (flush, close, release) when more
 *      instances join;
 *   3. per partition: claims its inbox rows and submits them to the log in
 *      one transaction, then pumps due jobs through the transport;
 *   4. renews every lease each --renew-ms; a lease that was taken over
 *      (fenced) closes that partition's log at once;
 *   5. on SIGTERM or SIGINT: flushes and closes every log, releases every
 *      lease (so another instance takes over at once, not after the TTL),
 *      removes its heartbeat and prints a summary.
 *
 * The transport is a stand-in for a marketplace client: it appends every
 * job it is handed to the --record file, one line per job,
 *
 *     <CLOCK_MONOTONIC ns> <partition> <epoch> <integration> <sku> <published>
 *
 * (one write() per transport call, so a line is in the kernel when the job
 * is acknowledged) and acknowledges it after --send-delay-us. Replace
 * transport_send() with a real client; the rest stays.
 *
 * Lease safety: before each transport call the transport checks that the
 * lease is still surely held by this instance's own clock (renewed less
 * than TTL - TTL/5 ago); if not, the call fails (the jobs stay queued) and
 * the lease is renewed first, which is refused once another instance took
 * it over. A process paused between that check and its send (a few
 * microseconds) can still send one batch after a takeover: delivery is
 * at-least-once (docs/scale-out.md). --unsafe-no-lease-check turns the
 * check and the renewals off (a lease nobody takes over stays valid past
 * its expiry), to show in tests that storage fencing alone keeps a stale
 * owner's writes out. Never use it for real.
 *
 * Events go to --events FILE (default: standard error), one line each:
 *     <ns> <event> <partition> <epoch> <detail...>
 * with events start, acquired, released, fenced, error, stop.
 */
#define _POSIX_C_SOURCE 200809L

#include "pg_store.h"

#include <libpq-fe.h>
#include <stockguard.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTS 4096
#define LINE_MAX_BYTES (2 * STG_KEY_MAX + 200)

typedef struct instance instance;

typedef struct part {
	char name[STG_KEY_MAX + 16];
	pg_store *st;
	stg_log *log;
	int64_t epoch;
	int64_t renewed_ns;  /* monotonic time before the last successful acquire or renew */
	instance *in;
	long long sent, submitted, claimed;
} part;

struct instance {
	const char *owner, *conninfo, *record_path, *events_path;
	int64_t ttl_ms, renew_ms, settle_ms, status_ms;
	long claim_max, pump_max, send_delay_us, batch;
	int unsafe_no_lease_check;
	PGconn *ctl;
	char **all;   /* every partition of the configured integrations */
	size_t nall;
	part *held[MAX_PARTS];
	size_t nheld;
	int record_fd;
	FILE *events;
	long long sent, submitted, claimed, fenced, acquired, released, errors;
	int64_t next_heartbeat, next_balance;
	long long closes; /* partitions closed so far (the held array changed) */
	char *linebuf;
	size_t linecap;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 5, 6)))
#endif
static void event(instance *in, const char *what, const char *partition, int64_t epoch,
                  const char *fmt, ...)
{
	char detail[1200];
	va_list ap;
	char *c;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	for (c = detail; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' '; /* one event, one line (server messages have several) */
	fprintf(in->events, "%lld %s %s %lld %s\n", (long long)mono_ns(), what,
	        partition ? partition : "-", (long long)epoch, detail);
	fflush(in->events);
}

static void usage(void)
{
	fputs("usage: stockguard-pg-instance --owner NAME --integration NAME[:SHARDS]...\n"
	      "         --record FILE [--conninfo STR] [--ttl-ms N] [--renew-ms N]\n"
	      "         [--settle-ms N] [--claim N] [--pump N] [--batch N]\n"
	      "         [--send-delay-us N] [--events FILE] [--status-ms N]\n"
	      "         [--unsafe-no-lease-check]\n", stderr);
}

/* ------------------------------------------------------------ transport */

/* Whether the lease is surely still ours by our own clock: renewed less
 * than TTL minus a fifth ago (the fifth covers clocks running at slightly
 * different rates, and the renew's own round trip). */
static int lease_fresh(const part *p)
{
	const instance *in = p->in;
	int64_t margin = in->ttl_ms / 5;

	if (p->renewed_ns == 0 && !in->unsafe_no_lease_check)
		return 0; /* the transport refused: renew first */

	return in->unsafe_no_lease_check ||
	       mono_ns() - p->renewed_ns < (in->ttl_ms - margin) * 1000000;
}

static int record(part *p, const stg_job *jobs, size_t n)
{
	instance *in = p->in;
	size_t need = n * LINE_MAX_BYTES, len = 0, i;
	long long now = (long long)mono_ns();
	ssize_t w;

	if (need > in->linecap) {
		char *b = realloc(in->linebuf, need);
		if (!b)
			return -1;
		in->linebuf = b;
		in->linecap = need;
	}
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(in->linebuf + len, in->linecap - len, "%lld %s %lld %s %s %lld\n",
		                        now, p->name, (long long)p->epoch, jobs[i].integration,
		                        jobs[i].sku, (long long)jobs[i].published);
	/* O_APPEND: several instances may share one file; one write per call. */
	for (i = 0; i < len; i += (size_t)w) {
		w = write(in->record_fd, in->linebuf + i, len - i);
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return -1;
	}
	return 0;
}

static int transport_send_batch(const stg_job *jobs, size_t n, stg_job_result *results,
                                void *payload)
{
	part *p = payload;
	size_t i;

	if (!lease_fresh(p))
		return -1; /* not sent: the jobs stay queued; the loop renews first */
	if (p->in->send_delay_us > 0) {
		struct timespec d = { p->in->send_delay_us / 1000000,
		                      (p->in->send_delay_us % 1000000) * 1000 };
		nanosleep(&d, NULL);
	}
	if (record(p, jobs, n) != 0)
		return -1;
	for (i = 0; i < n; i++)
		results[i].outcome = STG_OUTCOME_OK;
	p->sent += (long long)n;
	p->in->sent += (long long)n;
	return 0;
}

static int transport_send(const stg_job *job, stg_job_result *result, void *payload)
{
	return transport_send_batch(job, 1, result, payload);
}

/* ------------------------------------------------------------ control */

/* The control session: the heartbeat and the lease overview. Leases
 * themselves are taken and renewed by each partition's store. */
static int ctl_exec(instance *in, const char *sql, int n, const char *const *params,
                    PGresult **out)
{
	PGresult *res;

	if (PQstatus(in->ctl) != CONNECTION_OK)
		PQreset(in->ctl);
	res = n ? PQexecParams(in->ctl, sql, n, NULL, params, NULL, NULL, 0) : PQexec(in->ctl, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		event(in, "error", NULL, 0, "control: %s", PQerrorMessage(in->ctl));
		in->errors++;
		PQclear(res);
		return -1;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

static int heartbeat(instance *in)
{
	char ttl[24];
	const char *params[2] = { in->owner, ttl };

	snprintf(ttl, sizeof ttl, "%lld", (long long)in->ttl_ms);
	return ctl_exec(in,
	                "INSERT INTO stg_instance (owner, expires_at)"
	                " VALUES ($1, now() + $2::bigint * interval '1 millisecond')"
	                " ON CONFLICT (owner) DO UPDATE SET expires_at = EXCLUDED.expires_at",
	                2, params, NULL);
}

static long live_instances(instance *in)
{
	PGresult *res;
	long n;

	if (ctl_exec(in, "SELECT count(*) FROM stg_instance WHERE expires_at > now()", 0, NULL, &res))
		return -1;
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* Whether @p partition's lease is free or expired now (a hint: the acquire
 * decides). */
static int lease_free(instance *in, const char *partition)
{
	const char *params[1] = { partition };
	PGresult *res;
	int free_now;

	if (ctl_exec(in,
	             "SELECT NOT EXISTS (SELECT 1 FROM stg_lease WHERE partition = $1"
	             " AND owner IS NOT NULL AND expires_at > now())",
	             1, params, &res))
		return 0;
	free_now = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return free_now;
}

/* ------------------------------------------------------------ partitions */

static void part_close(instance *in, part *p, int release, const char *why)
{
	size_t i;

	if (p->log) {
		size_t pending = 0;
		if (release && stg_log_flush(p->log, &pending) != STG_OK)
			event(in, "error", p->name, p->epoch, "flush: %s", stg_log_errmsg(p->log));
		stg_log_close(p->log);
	}
	if (release && pg_store_release(p->st) != 0)
		event(in, "error", p->name, p->epoch, "release: %s", pg_store_errmsg(p->st));
	if (release)
		in->released++;
	event(in, release ? "released" : "closed", p->name, p->epoch, "%s sent=%lld submitted=%lld",
	      why, p->sent, p->submitted);
	pg_store_close(p->st);
	for (i = 0; i < in->nheld; i++)
		if (in->held[i] == p)
			in->held[i] = in->held[--in->nheld];
	in->closes++;
	free(p);
}

static void part_fenced(instance *in, part *p, const char *msg)
{
	in->fenced++;
	event(in, "fenced", p->name, p->epoch, "%s", msg);
	part_close(in, p, 0, "fenced");
}

static int set_shards_for(instance *in, pg_store *st, const char *partition)
{
	const char *hash = strrchr(partition, '#');
	char integ[STG_KEY_MAX + 1];
	size_t len = hash ? (size_t)(hash - partition) : strlen(partition);
	size_t i;
	unsigned n = 0;

	memcpy(integ, partition, len);
	integ[len] = '\0';
	for (i = 0; i < in->nall; i++)
		if (strncmp(in->all[i], integ, len) == 0 &&
		    (in->all[i][len] == '\0' || in->all[i][len] == '#'))
			n++;
	return pg_store_set_shards(st, integ, n);
}

/* Take @p partition when its lease is free or expired: a store, the lease,
 * then the log (the load). */
static void part_take(instance *in, const char *partition)
{
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	stg_transport transport = STG_TRANSPORT_INIT;
	stg_storage storage;
	int64_t t0 = mono_ns(), t_load;
	part *p;
	int rc;

	if (!(p = calloc(1, sizeof *p)))
		return;
	p->in = in;
	snprintf(p->name, sizeof p->name, "%s", partition);
	if (pg_store_open(&p->st, in->conninfo, in->owner) != 0 ||
	    set_shards_for(in, p->st, partition) != 0) {
		event(in, "error", partition, 0, "open: %s", pg_store_errmsg(p->st));
		in->errors++;
		pg_store_close(p->st);
		free(p);
		return;
	}
	rc = pg_store_acquire(p->st, partition, in->ttl_ms, &p->epoch);
	if (rc != 0) {
		if (rc != PG_STORE_TAKEN) {
			event(in, "error", partition, 0, "acquire: %s", pg_store_errmsg(p->st));
			in->errors++;
		}
		pg_store_close(p->st);
		free(p);
		return;
	}
	p->renewed_ns = t0;
	event(in, "acquired", partition, p->epoch, "lease ttl_ms=%lld", (long long)in->ttl_ms);
	pg_store_hook(p->st, &storage);
	options.storage = &storage;
	transport.send = transport_send;
	transport.send_batch = transport_send_batch;
	transport.payload = p;
	options.transport = &transport;
	t_load = mono_ns();
	rc = stg_log_open(&p->log, &options);
	if (rc != STG_OK) {
		event(in, "error", partition, p->epoch, "open the log: %s",
		      p->log ? stg_log_errmsg(p->log) : stg_strerror(rc));
		in->errors++;
		p->log = NULL;
		in->held[in->nheld++] = p;
		part_close(in, p, rc != STG_EFENCED, "the log did not open");
		return;
	}
	in->held[in->nheld++] = p;
	in->acquired++;
	event(in, "loaded", partition, p->epoch, "load_ms=%.1f takeover_ms=%.1f",
	      (double)(mono_ns() - t_load) / 1e6, (double)(mono_ns() - t0) / 1e6);
}

static int integration_of(const part *p, char *out, size_t cap)
{
	const char *hash = strrchr(p->name, '#');
	size_t len = hash ? (size_t)(hash - p->name) : strlen(p->name);

	if (len >= cap)
		return -1;
	memcpy(out, p->name, len);
	out[len] = '\0';
	return 0;
}

static void set_batch(instance *in, part *p)
{
	char integ[STG_KEY_MAX + 1];

	if (in->batch > 1 && integration_of(p, integ, sizeof integ) == 0 &&
	    stg_log_set_limits(p->log, integ, (uint32_t)in->batch, 0, 0) != STG_OK)
		event(in, "error", p->name, p->epoch, "set_limits: %s", stg_log_errmsg(p->log));
}

/* Claim inbox rows and submit them in one transaction. Returns how many
 * were claimed, or -1 when the partition was closed. */
static long drain(instance *in, part *p)
{
	const stg_submit *changes;
	size_t n = 0, done = 0;
	int rc, prc;

	if ((rc = stg_log_begin(p->log)) != STG_OK) {
		event(in, "error", p->name, p->epoch, "begin: %s", stg_log_errmsg(p->log));
		return 0;
	}
	prc = pg_store_begin(p->st);
	if (prc == 0)
		prc = pg_store_inbox_claim(p->st, (size_t)in->claim_max, &changes, &n);
	if (prc != 0) {
		const char *msg = pg_store_errmsg(p->st);
		stg_log_commit(p->log); /* nothing was written: nothing to commit */
		pg_store_end(p->st, 0);
		if (prc == PG_STORE_FENCED) {
			part_fenced(in, p, msg);
			return -1;
		}
		in->errors++;
		event(in, "error", p->name, p->epoch, "claim: %s", msg);
		return 0;
	}
	rc = n ? stg_log_submit_batch(p->log, changes, n, NULL, &done) : STG_OK;
	if (rc == STG_OK) {
		rc = stg_log_commit(p->log);
	} else if (rc == STG_ESTORAGE) {
		/* A write failed (the connection, the server): the database
		 * transaction is lost, so the commit fails and the log undoes
		 * what the transaction did; the rows are back in the inbox. */
		int crc = stg_log_commit(p->log);
		if (crc == STG_EFENCED)
			rc = crc;
	} else if (rc != STG_EFENCED) {
		/* A change failed half-way (memory): committing would take every
		 * claimed row out of the inbox with only some applied. Closing the
		 * log gives the transaction up (rollback: the rows stay in the
		 * inbox, the log's memory goes with it); the partition is taken
		 * again at the next balance. */
		event(in, "error", p->name, p->epoch, "submit: %s", stg_log_errmsg(p->log));
		in->errors++;
		stg_log_close(p->log);
		p->log = NULL;
		pg_store_end(p->st, 0);
		part_close(in, p, 1, "submit failed");
		return -1;
	}
	if (rc == STG_EFENCED) {
		pg_store_end(p->st, 0);
		part_fenced(in, p, stg_log_errmsg(p->log));
		return -1;
	}
	if (rc != STG_OK) {
		/* Undone in memory and in storage: the rows are back in the inbox. */
		event(in, "error", p->name, p->epoch, "commit: %s", stg_log_errmsg(p->log));
		in->errors++;
		pg_store_end(p->st, 0);
		return 0;
	}
	if ((prc = pg_store_end(p->st, 1)) != 0) {
		/* The log wrote nothing (every row stale or a no-op) and the
		 * commit of the claim alone failed: the rows are back. */
		if (prc == PG_STORE_FENCED) {
			part_fenced(in, p, pg_store_errmsg(p->st));
			return -1;
		}
		event(in, "error", p->name, p->epoch, "end: %s", pg_store_errmsg(p->st));
		in->errors++;
		return 0;
	}
	p->claimed += (long long)n;
	p->submitted += (long long)done;
	in->claimed += (long long)n;
	in->submitted += (long long)done;
	return (long)n;
}

/* Pump due jobs. Returns how many went out, or -1 when the partition was
 * closed. */
static long pump(instance *in, part *p)
{
	size_t sent = 0;
	int rc = stg_log_pump(p->log, (size_t)in->pump_max, &sent);

	if (rc == STG_EFENCED) {
		part_fenced(in, p, stg_log_errmsg(p->log));
		return -1;
	}
	if (rc == STG_ETRANSPORT && !lease_fresh(p))
		p->renewed_ns = 0; /* the transport refused: renew before the next pump */
	else if (rc != STG_OK) {
		in->errors++;
		event(in, "error", p->name, p->epoch, "pump: %s", stg_log_errmsg(p->log));
	}
	return (long)sent;
}

static void renew_all(instance *in, int64_t now)
{
	size_t i = 0;

	while (i < in->nheld) {
		part *p = in->held[i];
		int64_t t0 = mono_ns();
		int rc;
		if (in->unsafe_no_lease_check ||
		    (p->renewed_ns && now - p->renewed_ns < in->renew_ms * 1000000)) {
			i++;
			continue;
		}
		rc = pg_store_renew(p->st, in->ttl_ms);
		if (rc == 0) {
			p->renewed_ns = t0;
			i++;
		} else if (rc == PG_STORE_FENCED) {
			part_fenced(in, p, pg_store_errmsg(p->st)); /* removes it from held */
		} else {
			/* Not renewed: the transport stops sending once the lease is
			 * no longer surely ours, and a takeover fences the store. */
			in->errors++;
			event(in, "error", p->name, p->epoch, "renew: %s", pg_store_errmsg(p->st));
			i++;
		}
	}
}

static int is_held(const instance *in, const char *partition)
{
	size_t i;

	for (i = 0; i < in->nheld; i++)
		if (strcmp(in->held[i]->name, partition) == 0)
			return 1;
	return 0;
}

/* Take partitions up to the fair share, give back those above it. */
static void balance(instance *in)
{
	long live = live_instances(in);
	size_t target, i, start;

	if (live < 1)
		live = 1;
	target = (in->nall + (size_t)live - 1) / (size_t)live;
	if (in->nheld > target) {
		part_close(in, in->held[in->nheld - 1], 1, "rebalance");
		return; /* one at a time: the others see the change before the next */
	}
	/* Start where this owner's name points, so instances starting together
	 * try different partitions first. */
	start = pg_store_hash(in->owner) % in->nall;
	for (i = 0; i < in->nall && in->nheld < target && !stopping; i++) {
		const char *name = in->all[(start + i) % in->nall];
		if (!is_held(in, name) && lease_free(in, name)) {
			part_take(in, name);
			if (in->nheld && strcmp(in->held[in->nheld - 1]->name, name) == 0)
				set_batch(in, in->held[in->nheld - 1]);
		}
	}
}

/* The heartbeat, the renewals and the balance, each when due. */
static void housekeeping(instance *in)
{
	int64_t now = mono_ns();

	if (now >= in->next_heartbeat) {
		heartbeat(in);
		in->next_heartbeat = now + in->renew_ms * 1000000;
	}
	renew_all(in, now);
	if (now >= in->next_balance && !stopping) {
		balance(in);
		in->next_balance = mono_ns() + in->renew_ms * 1000000;
	}
}

/* ------------------------------------------------------------ main */

static int add_integration(instance *in, const char *arg)
{
	char name[STG_KEY_MAX + 1];
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	unsigned long shards = colon ? strtoul(colon + 1, NULL, 10) : 1, k;
	char **all;

	if (len == 0 || len > STG_KEY_MAX || memchr(arg, '#', len) || shards < 1 || shards > 1024 ||
	    in->nall + shards > MAX_PARTS) {
		fprintf(stderr, "stockguard-pg-instance: bad --integration %s\n", arg);
		return -1;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	if (!(all = realloc(in->all, (in->nall + shards) * sizeof *all)))
		return -1;
	in->all = all;
	for (k = 0; k < shards; k++) {
		char part_name[STG_KEY_MAX + 16];
		if (shards == 1)
			snprintf(part_name, sizeof part_name, "%s", name);
		else
			snprintf(part_name, sizeof part_name, "%s#%lu", name, k);
		if (!(in->all[in->nall++] = strdup(part_name)))
			return -1;
	}
	return 0;
}

static int parse(instance *in, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--unsafe-no-lease-check") == 0) {
			in->unsafe_no_lease_check = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "stockguard-pg-instance: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--owner") == 0)
			in->owner = v;
		else if (strcmp(a, "--conninfo") == 0)
			in->conninfo = v;
		else if (strcmp(a, "--integration") == 0) {
			if (add_integration(in, v))
				return -1;
		} else if (strcmp(a, "--record") == 0)
			in->record_path = v;
		else if (strcmp(a, "--events") == 0)
			in->events_path = v;
		else if (strcmp(a, "--ttl-ms") == 0)
			in->ttl_ms = atoll(v);
		else if (strcmp(a, "--renew-ms") == 0)
			in->renew_ms = atoll(v);
		else if (strcmp(a, "--settle-ms") == 0)
			in->settle_ms = atoll(v);
		else if (strcmp(a, "--status-ms") == 0)
			in->status_ms = atoll(v);
		else if (strcmp(a, "--claim") == 0)
			in->claim_max = atol(v);
		else if (strcmp(a, "--pump") == 0)
			in->pump_max = atol(v);
		else if (strcmp(a, "--batch") == 0)
			in->batch = atol(v);
		else if (strcmp(a, "--send-delay-us") == 0)
			in->send_delay_us = atol(v);
		else {
			fprintf(stderr, "stockguard-pg-instance: unknown option %s\n", a);
			return -1;
		}
	}
	if (!in->owner || !*in->owner || !in->nall || !in->record_path || in->ttl_ms < 100 ||
	    in->renew_ms < 10 || in->renew_ms * 2 > in->ttl_ms || in->claim_max < 1 ||
	    in->claim_max > 1000000 || in->pump_max < 1 || in->batch < 1 || in->batch > 10000 ||
	    in->send_delay_us < 0 || in->settle_ms < 0) {
		fprintf(stderr, "stockguard-pg-instance: --owner, --integration and --record are needed; "
		        "--ttl-ms >= 100 and at least twice --renew-ms (>= 10); --claim 1 to 1000000; "
		        "--pump and --batch (<= 10000) >= 1\n");
		return -1;
	}
	return 0;
}

static void status_line(instance *in)
{
	fprintf(stderr, "stockguard-pg-instance %s: partitions=%zu claimed=%lld submitted=%lld "
	        "sent=%lld acquired=%lld released=%lld fenced=%lld errors=%lld\n", in->owner,
	        in->nheld, in->claimed, in->submitted, in->sent, in->acquired, in->released,
	        in->fenced, in->errors);
}

int main(int argc, char **argv)
{
	instance in = { 0 };
	struct sigaction sa;
	int64_t next_status, settle_until;
	int rc = 0;

	in.conninfo = "";
	in.ttl_ms = 10000;
	in.renew_ms = 0;
	in.settle_ms = -1;
	in.claim_max = 1000;
	in.pump_max = 1000;
	in.batch = 1;
	in.status_ms = 0;
	if (parse(&in, argc, argv)) {
		usage();
		return 2;
	}
	if (!in.renew_ms)
		in.renew_ms = in.ttl_ms / 3;
	if (in.settle_ms < 0)
		in.settle_ms = in.renew_ms;
	in.events = stderr;
	if (in.events_path && !(in.events = fopen(in.events_path, "a"))) {
		perror(in.events_path);
		return 1;
	}
	in.record_fd = open(in.record_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (in.record_fd < 0) {
		perror(in.record_path);
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* A store creates the shared tables and records the shard counts
	 * before anything else: the inbox's trigger routes by them, so a row a
	 * producer inserts for a sharded integration before its count is
	 * known would go to a partition nobody claims. */
	{
		pg_store *st;
		size_t i;
		if (pg_store_open(&st, in.conninfo, in.owner) != 0) {
			fprintf(stderr, "stockguard-pg-instance: %s\n", pg_store_errmsg(st));
			pg_store_close(st);
			return 1;
		}
		for (i = 0; i < in.nall; i++) {
			if (set_shards_for(&in, st, in.all[i]) != 0) {
				fprintf(stderr, "stockguard-pg-instance: %s\n", pg_store_errmsg(st));
				pg_store_close(st);
				return 1;
			}
		}
		pg_store_close(st);
	}
	in.ctl = PQconnectdb(in.conninfo);
	if (PQstatus(in.ctl) != CONNECTION_OK) {
		fprintf(stderr, "stockguard-pg-instance: %s", PQerrorMessage(in.ctl));
		return 1;
	}
	PQclear(PQexec(in.ctl, "SET client_min_messages = warning"));
	/* Serialised like the store's tables: CREATE ... IF NOT EXISTS races. */
	if (ctl_exec(&in, "BEGIN; SELECT pg_advisory_xact_lock(7372617);"
	                  " CREATE TABLE IF NOT EXISTS stg_instance (owner text PRIMARY KEY,"
	                  " expires_at timestamptz NOT NULL); COMMIT", 0, NULL, NULL) ||
	    heartbeat(&in)) {
		PQfinish(in.ctl);
		return 1;
	}
	event(&in, "start", NULL, 0, "owner=%s partitions=%zu ttl_ms=%lld renew_ms=%lld pid=%ld",
	      in.owner, in.nall, (long long)in.ttl_ms, (long long)in.renew_ms, (long)getpid());

	settle_until = mono_ns() + in.settle_ms * 1000000;
	in.next_balance = settle_until;
	in.next_heartbeat = mono_ns() + in.renew_ms * 1000000;
	next_status = in.status_ms ? mono_ns() + in.status_ms * 1000000 : INT64_MAX;
	while (!stopping) {
		long work = 0;
		size_t i;

		housekeeping(&in);
		for (i = 0; i < in.nheld && !stopping; i++) {
			part *p = in.held[i];
			long long closes = in.closes;
			long n = drain(&in, p);
			if (n >= 0) {
				work += n;
				n = pump(&in, p);
			}
			if (n >= 0)
				work += n;
			/* Between partitions too: a pass over many busy partitions
			 * must not outlast a renew interval, nor hold a takeover up. */
			housekeeping(&in);
			/* A partition closed (n < 0, or by the housekeeping): the
			 * array was compacted, so look at this slot again. */
			if (in.closes != closes) {
				if (i >= in.nheld)
					break;
				i--; /* unsigned: 0 wraps and the loop's i++ brings it back */
			}
		}
		if (mono_ns() >= next_status) {
			status_line(&in);
			next_status = mono_ns() + in.status_ms * 1000000;
		}
		if (!work && !stopping) {
			/* Idle: poll the inbox again soon (no LISTEN/NOTIFY). */
			struct timespec d = { 0, 20 * 1000 * 1000 };
			nanosleep(&d, NULL);
		}
	}

	while (in.nheld)
		part_close(&in, in.held[in.nheld - 1], 1, "stop");
	{
		const char *params[1] = { in.owner };
		ctl_exec(&in, "DELETE FROM stg_instance WHERE owner = $1", 1, params, NULL);
	}
	event(&in, "stop", NULL, 0, "claimed=%lld submitted=%lld sent=%lld acquired=%lld "
	      "released=%lld fenced=%lld errors=%lld", in.claimed, in.submitted, in.sent, in.acquired,
	      in.released, in.fenced, in.errors);
	status_line(&in);
	PQfinish(in.ctl);
	close(in.record_fd);
	free(in.linebuf);
	{
		size_t i;
		for (i = 0; i < in.nall; i++)
			free(in.all[i]);
		free(in.all);
	}
	if (in.events != stderr)
		fclose(in.events);
	return rc;
}
