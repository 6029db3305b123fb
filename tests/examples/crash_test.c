/*
 * crash_test: the integration log on the SQLite store survives SIGKILL.
 *
 *   crash_test [TRIALS]     (default 100, or the STG_CRASH_TRIALS variable;
 *                            STG_CRASH_SEED repeats a run)
 *
 * Every trial forks a child that opens the log on one SQLite database
 * (examples/sqlite-store) with a fake marketplace as its transport, then
 * submits a random feed of stock changes for 50 SKUs (two integrations of
 * 25) and pumps now and then. The parent kills it with SIGKILL after a
 * random delay (microseconds), then reopens the database with the library
 * and checks every SKU. The database carries over from trial to trial, so
 * later children start from what the earlier ones left (and some are killed
 * while loading it).
 *
 * What the parent knows, from files the child fsyncs before going on:
 *  - market: the marketplace appends "k quantity job_id" for every job it
 *    acknowledges and fsyncs it before the transport returns OK;
 *  - submits: the child appends "i k available" after each stg_log_submit()
 *    that returned STG_OK, before its next step. The feed itself is made
 *    from a seed, so the parent also knows the change that may have been in
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
 *     last change submitted successfully, or of the one in progress;
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
	FEED_LEN = 6000,          /* longer than any child lives */
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

/* A random feed; sequences grow from trial to trial, with a stale one now and then. */
static void make_feed(uint64_t seed, int trial, struct change *feed)
{
	uint64_t r = seed;
	int i;

	for (i = 0; i < FEED_LEN; i++) {
		uint64_t x = next_rand(&r);
		feed[i].k = (int)(x % NSKU);
		feed[i].available = (int64_t)((x >> 8) % 43) - 2; /* -2 .. 40 */
		feed[i].flags = ((x >> 20) % 20 == 0) ? STG_CHANGE_NON_STOCK : 0u;
		feed[i].sequence = (int64_t)(trial + 1) * 1000000 + i + 1;
		if ((x >> 28) % 25 == 0)
			feed[i].sequence -= 100; /* maybe older than the SKU's applied change */
	}
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

static void run_child(const char *db, const char *market, const char *submits,
                      const struct change *feed, uint64_t seed)
{
	stg_policy *policy = make_policy();
	int market_fd = open(market, O_WRONLY | O_APPEND | O_CREAT, 0600);
	int submits_fd = open(submits, O_WRONLY | O_APPEND);
	struct opened o;
	uint64_t r = seed;
	int i;

	if (market_fd < 0 || submits_fd < 0)
		child_fail("open files", NULL, 20);
	if (open_log(&o, db, &market_fd, policy))
		child_fail("open log", NULL, 21);
	for (i = 0; i < FEED_LEN; i++) {
		stg_submit s = STG_SUBMIT_INIT;
		char sku[16], line[96];
		uint64_t x;

		sku_name(feed[i].k, sku, sizeof sku);
		s.integration = integrations[feed[i].k / SKUS_PER_INTEG];
		s.sku = sku;
		s.flags = feed[i].flags;
		s.available = feed[i].available;
		s.sequence = feed[i].sequence;
		if (stg_log_submit(o.log, &s, NULL) != STG_OK)
			child_fail("submit", o.log, 22);
		snprintf(line, sizeof line, "%d %d %" PRId64 "\n", i, feed[i].k, feed[i].available);
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

/* How many submits the child completed (checked against the feed). */
static int read_submits(const char *path, const struct change *feed)
{
	size_t len;
	char *buf = read_file(path, &len), *p = buf, *nl;
	int n = 0;

	for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		int i, k;
		long long a;
		*nl = '\0';
		if (sscanf(p, "%d %d %lld", &i, &k, &a) != 3 || i != n || n >= FEED_LEN ||
		    k != feed[n].k || a != feed[n].available)
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
                        const struct change *feed, struct known known[NSKU],
                        const stg_policy *policy, struct stats *st)
{
	int done = read_submits(submits, feed), k, rc, m_has[NSKU], market_fd;
	int64_t m_last[NSKU], wait;
	const struct change *in_progress = done < FEED_LEN ? &feed[done] : NULL;
	struct opened o;
	size_t sent;
	long lines;
	int i;

	st->submits += done;
	if (done == 0)
		st->killed_early++;
	else if (done < FEED_LEN)
		st->killed_mid++;
	else
		st->killed_after++;
	for (i = 0; i < done; i++)
		apply(&known[feed[i].k], &feed[i]);
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
		struct known alt = known[k];
		int alt_ok = 0;

		sku_name(k, sku, sizeof sku);
		if (in_progress && in_progress->k == k) {
			apply(&alt, in_progress);
			alt_ok = alt.available != known[k].available || alt.sequence != known[k].sequence ||
			         alt.has != known[k].has;
		}
		rc = stg_log_get(o.log, integ, sku, &e);
		if (rc == STG_ENOTFOUND) {
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
		/* 2. the newest submitted change */
		if (!((known[k].has && e.available == known[k].available && e.sequence == known[k].sequence) ||
		      (alt_ok && e.available == alt.available && e.sequence == alt.sequence)))
			lose(st, trial, k, "available %" PRId64 " (sequence %" PRId64 "), but the child "
			     "submitted %" PRId64 " (sequence %" PRId64 ")%s", e.available, e.sequence,
			     known[k].available, known[k].sequence,
			     alt_ok ? " or had one in progress" : "");
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
	struct stats st;
	stg_policy *policy = make_policy();
	uint64_t r = seed;
	double t0 = now_s();
	int t;

	if (!feed)
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
		int fd = open(submits, O_WRONLY | O_CREAT | O_TRUNC, 0600), status;
		pid_t pid;

		if (fd < 0)
			die("%s: %s", submits, strerror(errno));
		close(fd);
		make_feed(next_rand(&r), t, feed);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0)
			run_child(db, market, submits, feed, child_seed);
		sleep_us(delay);
		kill(pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid: %s", strerror(errno));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			st.errors++;
			fprintf(stderr, "crash_test: trial %d: the child stopped by itself (status %d)\n", t,
			        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		check_trial(t, db, market, submits, feed, known, policy, &st);
	}

	fprintf(stderr, "crash_test: %.1f s; kills before the first submit %d, during the feed %d, "
	        "after it %d; %ld submits, %ld marketplace acks, %ld jobs pending after the kills "
	        "(%ld of them acknowledged, the kill before the entry recorded it); %d errors\n",
	        now_s() - t0, st.killed_early, st.killed_mid, st.killed_after, st.submits,
	        st.acks_before, st.pending_after_crash, st.unrecorded, st.errors);
	printf("%d trials, %d losses\n", trials, st.losses);
	remove_dir(dir);
	free(feed);
	stg_policy_free(policy);
	return st.losses == 0 && st.errors == 0 ? 0 : 1;
}
