/*
 * crash_test: the integration log on the SQLite store survives SIGKILL.
 *
 *   crash_test [TRIALS]     (default 100, or the STG_CRASH_TRIALS variable;
 *                            STG_CRASH_SEED repeats a run)
 *
 * Every trial forks a child that opens the log on one SQLite database
 * (examples/sqlite-store, storage version 2: the log's transactions) with a
 * fake marketplace as its transport, then submits a random feed of stock
 * changes for 50 SKUs (two integrations of 25) in groups, and pumps now and
 * then (each pump is one storage transaction). A group is one of:
 *  - one stg_log_submit() (its own commit);
 *  - a stg_log_submit_batch() of 2 to 100 changes (one transaction);
 *  - a host transaction: stg_log_begin(), 2 to 20 stg_log_submit() calls,
 *    stg_log_commit(). The parent kills it with SIGKILL after a
 * random delay (microseconds), then reopens the database with the library
 * and checks every SKU. The database carries over from trial to trial, so
 * later children start from what the earlier ones left (and some are killed
 * while loading it).
 *
 * What the parent knows, from files the child fsyncs before going on:
 *  - market: the marketplace appends "k quantity job_id" for every job it
 *    acknowledges and fsyncs it before the transport returns OK;
 *  - submits: the child appends "g first count" after each group whose call
 *    (the batch, or stg_log_commit()) returned STG_OK, before its next
 *    step: what the library reported committed. The feed itself is made
 *    from a seed, so the parent also knows the group that may have been in
 *    progress when the kill came.
 *
 * The checks, per SKU, after the kill and the reopen (each failing SKU is a
 * loss):
 *  1. nothing acknowledged is lost: when the marketplace acknowledged
 *     anything, the entry exists and either has a pending job or records
 *     that acknowledgement (acked equals the marketplace's last quantity);
 *     an entry never records an acknowledgement the marketplace did not make;
 *     a success entry publishes what was acknowledged;
 *  2. nothing submitted is lost: available and sequence are those of the
 *     last change submitted successfully, or of the group in progress; and
 *     that group is all or nothing: no SKU shows it applied while another
 *     shows it not (a torn transaction);
 *  3. the entry's published quantity is the policy's for its available (the
 *     window is unbounded, so every change that moves it is exported).
 * Then the parent pumps the reopened log until no job is left, and checks
 * that every entry is a success and that the marketplace's last quantity is
 * the entry's published one, the policy's for the newest change.
 *
 * Output: "N trials, L losses" on stdout (exit 0 only when L is 0 and no
 * trial went wrong); details and timings on stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include "sqlite_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#  define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#  define PRINTF_LIKE(f, a)
#endif

enum {
	NINTEG = 2,
	SKUS_PER_INTEG = 25,
	NSKU = NINTEG * SKUS_PER_INTEG,
	FEED_LEN = 6000,          /* changes: longer than any child lives */
	MAX_BATCH = 100,          /* changes in one stg_log_submit_batch() */
	MAX_HOST_TXN = 20,        /* stg_log_submit() calls in one host transaction */
	MAX_DELAY_US = 250000,    /* the kill comes within this */
	EARLY_DELAY_US = 4000,    /* one kill in ten comes this early: during the open or load */
	MAX_REPORTS = 20          /* losses described on stderr */
};

static const char *const integrations[NINTEG] = { "amazon", "magalu" };

/* ----------------------------------------------------------- utilities */

static uint64_t next_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void PRINTF_LIKE(1, 2) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("crash_test: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void sku_name(int k, char *buf, size_t cap)
{
	snprintf(buf, cap, "SKU-%02d", k % SKUS_PER_INTEG);
}

static int sku_index(const char *integration, const char *sku)
{
	int i, n;

	for (i = 0; i < NINTEG; i++)
		if (strcmp(integration, integrations[i]) == 0 && sscanf(sku, "SKU-%d", &n) == 1 &&
		    n >= 0 && n < SKUS_PER_INTEG)
			return i * SKUS_PER_INTEG + n;
	return -1;
}

/* Append one line and make it durable before returning. */
static int append_durably(int fd, const char *line)
{
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t w = write(fd, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return fsync(fd);
}

/* Whole lines of a file (a line cut by the kill is dropped). */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f) {
		if (errno == ENOENT) {
			*len = 0;
			return calloc(1, 1);
		}
		die("%s: %s", path, strerror(errno));
	}
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (!(buf = realloc(buf, cap)))
				die("out of memory");
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	while (n > 0 && buf[n - 1] != '\n')
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---------------------------------------------------------------- feed */

struct change {
	int k;             /* SKU index */
	unsigned flags;    /* STG_CHANGE_NON_STOCK now and then */
	int64_t available;
	int64_t sequence;
};

enum group_kind { G_SINGLE, G_BATCH, G_HOST_TXN };

/* Changes feed[first .. first + count) go in one call or transaction. */
struct group {
	int first, count, kind;
};

/* A random feed; sequences grow from trial to trial, with a stale one now
 * and then. Cut into groups: 40% single submits, 30% batches, 30% host
 * transactions. Returns the number of groups. */
static int make_feed(uint64_t seed, int trial, struct change *feed, struct group *groups)
{
	uint64_t r = seed;
	int i, ng = 0;

	for (i = 0; i < FEED_LEN;) {
		uint64_t x = next_rand(&r);
		int kind = x % 10 < 4 ? G_SINGLE : x % 10 < 7 ? G_BATCH : G_HOST_TXN;
		int n = kind == G_SINGLE ? 1 : kind == G_BATCH ? 2 + (int)((x >> 8) % (MAX_BATCH - 1))
		                                               : 2 + (int)((x >> 8) % (MAX_HOST_TXN - 1));
		if (n > FEED_LEN - i)
			n = FEED_LEN - i;
		groups[ng].first = i;
		groups[ng].count = n;
		groups[ng].kind = kind;
		ng++;
		i += n;
	}
	for (i = 0; i < FEED_LEN; i++) {
		uint64_t x = next_rand(&r);
		feed[i].k = (int)(x % NSKU);
		feed[i].available = (int64_t)((x >> 8) % 43) - 2; /* -2 .. 40 */
		feed[i].flags = ((x >> 20) % 20 == 0) ? STG_CHANGE_NON_STOCK : 0u;
		feed[i].sequence = (int64_t)(trial + 1) * 1000000 + i + 1;
		if ((x >> 28) % 25 == 0)
			feed[i].sequence -= 100; /* maybe older than the SKU's applied change */
	}
	return ng;
}

/* Min stock 3; the window is unbounded so every change that moves the
 * published quantity is exported (and the last one always reaches the
 * marketplace). */
static stg_policy *make_policy(void)
{
	stg_policy *p;

	if (stg_policy_new(&p, NULL) != STG_OK || stg_policy_set_min_stock(p, 3) != STG_OK ||
	    stg_policy_set_window(p, STG_QUANTITY_MAX) != STG_OK)
		die("policy: %s", stg_last_error());
	return p;
}

static int64_t pub(const stg_policy *p, int64_t available)
{
	stg_evaluation ev;

	if (stg_policy_evaluate(p, NULL, NULL, available, &ev) != STG_OK)
		die("evaluate: %s", stg_last_error());
	return ev.published;
}

/* ---------------------------------------------------------- marketplace */

/* Records each job it acknowledges, durably, before saying OK. Not the
 * shared fixture's transport: what it records must outlive the SIGKILL of
 * the child (an fsynced file the parent reads), not a table in memory. */
static int market_send(const stg_job *job, stg_job_result *result, void *payload)
{
	int fd = *(const int *)payload;
	int k = sku_index(job->integration, job->sku);
	char line[96];

	if (k < 0)
		return -1;
	snprintf(line, sizeof line, "%d %" PRId64 " %" PRIu64 "\n", k, job->published, job->id);
	if (append_durably(fd, line) != 0)
		return -1; /* not acknowledged: the job stays queued */
	result->outcome = STG_OUTCOME_OK;
	return 0;
}

struct opened {
	sqlite_store *store;
	stg_log *log;
};

static int open_log(struct opened *o, const char *db, int *market_fd, const stg_policy *policy)
{
	stg_storage storage;
	stg_transport transport = STG_TRANSPORT_INIT;
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	int rc, i;

	o->log = NULL;
	if (sqlite_store_open(&o->store, db) != 0) {
		fprintf(stderr, "crash_test: store %s: %s\n", db, sqlite_store_errmsg(o->store));
		return -1;
	}
	sqlite_store_hook(o->store, &storage);
	transport.send = market_send;
	transport.payload = market_fd;
	options.storage = &storage;
	options.transport = &transport;
	if ((rc = stg_log_open(&o->log, &options)) != STG_OK) {
		fprintf(stderr, "crash_test: open: %s: %s [store: %s]\n", stg_strerror(rc),
		        stg_last_error(), sqlite_store_errmsg(o->store));
		return -1;
	}
	for (i = 0; i < NINTEG; i++)
		if (stg_log_set_policy(o->log, integrations[i], policy) != STG_OK)
			return -1;
	return 0;
}

static void close_log(struct opened *o)
{
	stg_log_close(o->log);
	sqlite_store_close(o->store);
	o->log = NULL;
	o->store = NULL;
}

/* ---------------------------------------------------------------- child */

static void child_fail(const char *what, stg_log *log, int code)
{
	fprintf(stderr, "crash_test child: %s: %s\n", what, log ? stg_log_errmsg(log) : "");
	_exit(code);
}

static stg_submit submit_of(const struct change *c, char *sku, size_t cap)
{
	stg_submit s = STG_SUBMIT_INIT;

	sku_name(c->k, sku, cap);
	s.integration = integrations[c->k / SKUS_PER_INTEG];
	s.sku = sku;
	s.flags = c->flags;
	s.available = c->available;
	s.sequence = c->sequence;
	return s;
}

/* One group through the log; 0 once the library reported it committed. */
static int run_group(stg_log *log, const struct change *feed, const struct group *g)
{
	static char skus[MAX_BATCH][16];
	stg_submit batch[MAX_BATCH];
	size_t done = 0;
	int i;

	switch (g->kind) {
	case G_SINGLE:
		batch[0] = submit_of(&feed[g->first], skus[0], sizeof skus[0]);
		return stg_log_submit(log, &batch[0], NULL);
	case G_BATCH:
		for (i = 0; i < g->count; i++)
			batch[i] = submit_of(&feed[g->first + i], skus[i], sizeof skus[i]);
		if (stg_log_submit_batch(log, batch, (size_t)g->count, NULL, &done) != STG_OK)
			return -1;
		return done == (size_t)g->count ? 0 : -1;
	case G_HOST_TXN:
		if (stg_log_begin(log) != STG_OK)
			return -1;
		for (i = 0; i < g->count; i++) {
			batch[0] = submit_of(&feed[g->first + i], skus[0], sizeof skus[0]);
			if (stg_log_submit(log, &batch[0], NULL) != STG_OK)
				return -1;
		}
		return stg_log_commit(log);
	default:
		return -1;
	}
}

static void run_child(const char *db, const char *market, const char *submits,
                      const struct change *feed, const struct group *groups, int ngroups,
                      uint64_t seed)
{
	stg_policy *policy = make_policy();
	int market_fd = open(market, O_WRONLY | O_APPEND | O_CREAT, 0600);
	int submits_fd = open(submits, O_WRONLY | O_APPEND);
	struct opened o;
	uint64_t r = seed;
	int g;

	if (market_fd < 0 || submits_fd < 0)
		child_fail("open files", NULL, 20);
	if (open_log(&o, db, &market_fd, policy))
		child_fail("open log", NULL, 21);
	for (g = 0; g < ngroups; g++) {
		char line[96];
		uint64_t x;

		if (run_group(o.log, feed, &groups[g]) != STG_OK)
			child_fail("submit", o.log, 22);
		snprintf(line, sizeof line, "%d %d %d\n", g, groups[g].first, groups[g].count);
		if (append_durably(submits_fd, line) != 0)
			child_fail("submits file", NULL, 23);
		x = next_rand(&r);
		if (x % 4 == 0 && stg_log_pump(o.log, (size_t)((x >> 8) % 8), NULL) != STG_OK)
			child_fail("pump", o.log, 24);
	}
	if (stg_log_pump(o.log, 0, NULL) != STG_OK)
		child_fail("pump", o.log, 24);
	for (;;)
		pause(); /* the kill is coming */
}

/* --------------------------------------------------------------- parent */

struct known {
	int has;              /* a change of this SKU was applied */
	int64_t available;
	int64_t sequence;
};

struct stats {
	int losses, errors, reports;
	int killed_early, killed_mid, killed_after; /* before the first submit, during, after the feed */
	long submits, acks_before, pending_after_crash;
	long groups[3];       /* committed groups by kind */
	long in_progress[3];  /* groups the kill cut, by kind ... */
	long applied[3];      /* ... of which the reopened log has (committed before the kill) */
	long market_lines;    /* lines in the market file after the last check */
	long unrecorded;      /* acknowledged, killed before the entry recorded it */
};

static void PRINTF_LIKE(4, 5) lose(struct stats *st, int trial, int k, const char *fmt, ...)
{
	va_list ap;
	char sku[16];

	st->losses++;
	if (st->reports++ >= MAX_REPORTS)
		return;
	sku_name(k, sku, sizeof sku);
	fprintf(stderr, "crash_test: trial %d, (%s, %s): ", trial, integrations[k / SKUS_PER_INTEG], sku);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The marketplace's last acknowledged quantity per SKU. */
static void read_market(const char *path, int has[NSKU], int64_t last[NSKU], long *lines)
{
	size_t len;
	char *buf = read_file(path, &len), *p = buf, *nl;

	memset(has, 0, NSKU * sizeof has[0]);
	*lines = 0;
	for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		int k;
		long long q;
		unsigned long long id;
		*nl = '\0';
		if (sscanf(p, "%d %lld %llu", &k, &q, &id) != 3 || k < 0 || k >= NSKU)
			die("market: bad line '%s'", p);
		has[k] = 1;
		last[k] = q;
		(*lines)++;
	}
	free(buf);
}

/* How many groups the child saw committed (checked against the feed). */
static int read_submits(const char *path, const struct group *groups, int ngroups)
{
	size_t len;
	char *buf = read_file(path, &len), *p = buf, *nl;
	int n = 0;

	for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		int g, first, count;
		*nl = '\0';
		if (sscanf(p, "%d %d %d", &g, &first, &count) != 3 || g != n || n >= ngroups ||
		    first != groups[n].first || count != groups[n].count)
			die("submits: line %d '%s' does not match the feed", n + 1, p);
		n++;
	}
	free(buf);
	return n;
}

static void apply(struct known *kn, const struct change *c)
{
	/* The log ignores a change older than the applied one (equal is applied). */
	if (kn->has && c->sequence < kn->sequence)
		return;
	kn->has = 1;
	kn->available = c->available;
	kn->sequence = c->sequence;
}

static void check_trial(int trial, const char *db, const char *market, const char *submits,
                        const struct change *feed, const struct group *groups, int ngroups,
                        struct known known[NSKU], const stg_policy *policy, struct stats *st)
{
	int done = read_submits(submits, groups, ngroups), k, rc, m_has[NSKU], market_fd;
	int64_t m_last[NSKU], wait;
	const struct group *in_progress = done < ngroups ? &groups[done] : NULL;
	struct known alt[NSKU];
	int alt_ok[NSKU], saw_before = -1, saw_after = -1;
	struct opened o;
	size_t sent;
	long lines;
	int i;

	if (done == 0)
		st->killed_early++;
	else if (done < ngroups)
		st->killed_mid++;
	else
		st->killed_after++;
	for (i = 0; i < done; i++) {
		int c;
		st->groups[groups[i].kind]++;
		st->submits += groups[i].count;
		for (c = groups[i].first; c < groups[i].first + groups[i].count; c++)
			apply(&known[feed[c].k], &feed[c]);
	}
	/* The group in progress, applied as a whole: the state a commit that
	 * made it before the kill left. */
	memcpy(alt, known, sizeof alt);
	if (in_progress) {
		st->in_progress[in_progress->kind]++;
		for (i = in_progress->first; i < in_progress->first + in_progress->count; i++)
			apply(&alt[feed[i].k], &feed[i]);
	}
	for (k = 0; k < NSKU; k++)
		alt_ok[k] = alt[k].available != known[k].available || alt[k].sequence != known[k].sequence ||
		            alt[k].has != known[k].has;
	read_market(market, m_has, m_last, &lines);
	st->acks_before += lines - st->market_lines;

	market_fd = open(market, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (market_fd < 0)
		die("%s: %s", market, strerror(errno));
	if (open_log(&o, db, &market_fd, policy)) {
		st->errors++;
		fprintf(stderr, "crash_test: trial %d: the log does not reopen\n", trial);
		close_log(&o);
		close(market_fd);
		return;
	}

	for (k = 0; k < NSKU; k++) {
		const char *integ = integrations[k / SKUS_PER_INTEG];
		char sku[16];
		stg_entry e;
		int is_before, is_after;

		sku_name(k, sku, sizeof sku);
		rc = stg_log_get(o.log, integ, sku, &e);
		if (rc == STG_ENOTFOUND) {
			/* Absent is the state before the group; a group that creates
			 * the SKU then did not commit. */
			if (alt_ok[k] && !known[k].has && saw_before == -1)
				saw_before = k;
			if (known[k].has)
				lose(st, trial, k, "entry missing, but the child submitted %" PRId64,
				     known[k].available);
			if (m_has[k])
				lose(st, trial, k, "entry missing, but the marketplace acknowledged %" PRId64,
				     m_last[k]);
			continue;
		}
		if (rc != STG_OK)
			die("get: %s", stg_log_errmsg(o.log));
		if (e.job_state != STG_JOB_NONE)
			st->pending_after_crash++;
		if (m_has[k] && e.job_state != STG_JOB_NONE &&
		    (!(e.flags & STG_ENTRY_HAS_ACKED) || e.acked != m_last[k]))
			st->unrecorded++; /* the window check 1 is about */
		/* 2. the newest submitted change, or the group in progress */
		is_before = known[k].has && e.available == known[k].available &&
		            e.sequence == known[k].sequence;
		is_after = alt_ok[k] && e.available == alt[k].available && e.sequence == alt[k].sequence;
		if (!is_before && !is_after)
			lose(st, trial, k, "available %" PRId64 " (sequence %" PRId64 "), but the child "
			     "submitted %" PRId64 " (sequence %" PRId64 ")%s", e.available, e.sequence,
			     known[k].available, known[k].sequence,
			     alt_ok[k] ? " or had a group in progress" : "");
		else if (alt_ok[k] && is_after && saw_after == -1)
			saw_after = k;
		else if (alt_ok[k] && is_before && saw_before == -1)
			saw_before = k;
		/* 3. the job carries the newest quantity */
		if (e.published != pub(policy, e.available))
			lose(st, trial, k, "published %" PRId64 ", but available %" PRId64 " publishes %" PRId64,
			     e.published, e.available, pub(policy, e.available));
		if (e.status == STG_ENTRY_ERROR)
			lose(st, trial, k, "status error, but the marketplace accepts everything");
		/* 1. acknowledgements */
		if ((e.flags & STG_ENTRY_HAS_ACKED) && !m_has[k])
			lose(st, trial, k, "records acked %" PRId64 ", but the marketplace acknowledged nothing",
			     e.acked);
		if (m_has[k] && e.job_state == STG_JOB_NONE &&
		    (!(e.flags & STG_ENTRY_HAS_ACKED) || e.acked != m_last[k]))
			lose(st, trial, k, "no job and acked %s%" PRId64 ", but the marketplace last "
			     "acknowledged %" PRId64, (e.flags & STG_ENTRY_HAS_ACKED) ? "" : "(none) ",
			     e.acked, m_last[k]);
		if (e.status == STG_ENTRY_SUCCESS && e.published != e.acked)
			lose(st, trial, k, "success, but published %" PRId64 " is not the acked %" PRId64,
			     e.published, e.acked);
	}

	/* All or nothing: the group in progress committed or it did not. */
	if (saw_before >= 0 && saw_after >= 0) {
		char other[16];
		sku_name(saw_before, other, sizeof other);
		lose(st, trial, saw_after, "torn transaction: group %d (changes %d..%d, kind %d) is "
		     "applied here but not to (%s, %s)", done, in_progress->first,
		     in_progress->first + in_progress->count - 1, in_progress->kind,
		     integrations[saw_before / SKUS_PER_INTEG], other);
	}
	if (in_progress && saw_after >= 0)
		st->applied[in_progress->kind]++;

	/* Pump the reopened log to completion. */
	for (i = 0;; i++) {
		if ((rc = stg_log_pump(o.log, 0, &sent)) != STG_OK) {
			st->errors++;
			fprintf(stderr, "crash_test: trial %d: pump: %s\n", trial, stg_log_errmsg(o.log));
			break;
		}
		if (sent == 0)
			break;
		if (i > NSKU)
			die("trial %d: the pump does not finish", trial);
	}
	if (stg_log_next_due(o.log, &wait) != STG_OK || wait != -1) {
		st->errors++;
		fprintf(stderr, "crash_test: trial %d: jobs left after the pump (next due %" PRId64 ")\n",
		        trial, wait);
	}
	read_market(market, m_has, m_last, &lines);
	st->market_lines = lines;
	for (k = 0; k < NSKU; k++) {
		char sku[16];
		stg_entry e;

		sku_name(k, sku, sizeof sku);
		if (stg_log_get(o.log, integrations[k / SKUS_PER_INTEG], sku, &e) != STG_OK) {
			known[k].has = 0;
			continue;
		}
		if (e.status != STG_ENTRY_SUCCESS)
			lose(st, trial, k, "after the pump: status %s", stg_entry_status_name(e.status));
		else if (!m_has[k] || m_last[k] != e.published || e.acked != e.published ||
		         e.published != pub(policy, e.available))
			lose(st, trial, k, "after the pump: the marketplace has %" PRId64 "%s, the entry "
			     "published %" PRId64 " acked %" PRId64 " for available %" PRId64,
			     m_has[k] ? m_last[k] : 0, m_has[k] ? "" : " (nothing)", e.published, e.acked,
			     e.available);
		/* The next trial starts from what is stored. */
		known[k].has = 1;
		known[k].available = e.available;
		known[k].sequence = e.sequence;
	}
	close_log(&o);
	close(market_fd);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096 + 256 + 2];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *env = getenv("STG_CRASH_TRIALS"), *seed_env = getenv("STG_CRASH_SEED");
	const char *tmp = getenv("TMPDIR");
	int trials = argc > 1 ? atoi(argv[1]) : env ? atoi(env) : 100;
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	char dir[4096], db[4200], market[4200], submits[4200];
	struct known known[NSKU];
	struct change *feed = malloc(FEED_LEN * sizeof *feed);
	struct group *groups = malloc(FEED_LEN * sizeof *groups);
	struct stats st;
	stg_policy *policy = make_policy();
	uint64_t r = seed;
	double t0 = now_s();
	int t;

	if (!feed || !groups)
		die("out of memory");
	if (trials < 1)
		die("trials must be at least 1");
	snprintf(dir, sizeof dir, "%s/stg-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp %s: %s", dir, strerror(errno));
	snprintf(db, sizeof db, "%s/log.db", dir);
	snprintf(market, sizeof market, "%s/market.txt", dir);
	snprintf(submits, sizeof submits, "%s/submits.txt", dir);
	memset(known, 0, sizeof known);
	memset(&st, 0, sizeof st);
	fprintf(stderr, "crash_test: %d trials, seed %" PRIu64 " (STG_CRASH_SEED repeats it), in %s\n",
	        trials, seed, dir);

	for (t = 0; t < trials; t++) {
		uint64_t x = next_rand(&r), child_seed = next_rand(&r);
		long delay = (x % 10 == 0) ? (long)((x >> 8) % EARLY_DELAY_US)
		                           : (long)((x >> 8) % MAX_DELAY_US);
		int fd = open(submits, O_WRONLY | O_CREAT | O_TRUNC, 0600), status, ngroups;
		pid_t pid;

		if (fd < 0)
			die("%s: %s", submits, strerror(errno));
		close(fd);
		ngroups = make_feed(next_rand(&r), t, feed, groups);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0)
			run_child(db, market, submits, feed, groups, ngroups, child_seed);
		sleep_us(delay);
		kill(pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid: %s", strerror(errno));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			st.errors++;
			fprintf(stderr, "crash_test: trial %d: the child stopped by itself (status %d)\n", t,
			        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		check_trial(t, db, market, submits, feed, groups, ngroups, known, policy, &st);
	}

	fprintf(stderr, "crash_test: %.1f s; kills before the first submit %d, during the feed %d, "
	        "after it %d; %ld submits, %ld marketplace acks, %ld jobs pending after the kills "
	        "(%ld of them acknowledged, the kill before the entry recorded it); %d errors\n",
	        now_s() - t0, st.killed_early, st.killed_mid, st.killed_after, st.submits,
	        st.acks_before, st.pending_after_crash, st.unrecorded, st.errors);
	fprintf(stderr, "crash_test: committed groups: %ld single submits, %ld batches, %ld host "
	        "transactions; cut by the kill (of them found committed): single %ld (%ld), batch "
	        "%ld (%ld), host transaction %ld (%ld)\n", st.groups[G_SINGLE], st.groups[G_BATCH],
	        st.groups[G_HOST_TXN], st.in_progress[G_SINGLE], st.applied[G_SINGLE],
	        st.in_progress[G_BATCH], st.applied[G_BATCH], st.in_progress[G_HOST_TXN],
	        st.applied[G_HOST_TXN]);
	printf("%d trials, %d losses\n", trials, st.losses);
	remove_dir(dir);
	free(feed);
	free(groups);
	stg_policy_free(policy);
	return st.losses == 0 && st.errors == 0 ? 0 : 1;
}
