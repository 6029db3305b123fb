/*
 * stockguard-replay: run a CSV feed of stock changes through stockguard's
 * integration log (minimum stock policy, export-change filter, in-memory
 * store, a simulated marketplace that accepts everything, or one that is
 * rate limited and slow) and print every decision.
 *
 * The input and output formats are a contract (SPEC section 7, and
 * examples/README.md for the details this file decides):
 *
 *   in:  time,integration,sku,available,fields
 *   out: time,integration,sku,from,to,published_from,published_to,decision,reason,warning
 *
 * The file is laid out in parts:
 *   1. the parser of times;
 *   2. command line (the option values are read in replay/options.c);
 *   3. the integration log the feed runs through (fake clock, simulated
 *      marketplace); it keeps the previous available of each
 *      (integration, SKU);
 *   4. policies, one per integration;
 *   5. the replay loop and the output;
 *   6. runs: one run, the filter-off comparison, a sweep.
 *
 * The rest is in replay/, one concern per file: util (messages, integer
 * and text parsers), options, input (a file, or a pipe read more than
 * once), table (the hash table), stats (the figures every output reads),
 * market (the rate-limited, slow marketplace on the log's own queue),
 * summary (the text summary), report (the HTML page), sweep (--sweep
 * axes), i18n (en, pt, es), progress.
 *
 * Exit status: 0 done; 2 bad option, bad input row or I/O error; 1 out of
 * memory or an unexpected library failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <stockguard.h>

#include "replay/i18n.h"
#include "replay/input.h"
#include "replay/market.h"
#include "replay/options.h"
#include "replay/progress.h"
#include "replay/report.h"
#include "replay/stats.h"
#include "replay/summary.h"
#include "replay/sweep.h"
#include "replay/table.h"
#include "replay/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of the input, 1-based as in the messages. */
enum { COL_TIME = 1, COL_INTEGRATION, COL_SKU, COL_AVAILABLE, COL_FIELDS, NCOLS = COL_FIELDS };

static const char *const col_names[NCOLS + 1] = {
	"", "time", "integration", "sku", "available", "fields"
};

static const char header_in[] = "time,integration,sku,available,fields";
static const char header_out[] =
	"time,integration,sku,from,to,published_from,published_to,decision,reason,warning";

/* ------------------------------------------------------------------------
 * 1. Times
 * ------------------------------------------------------------------------ */

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static const char *const month_names[12] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};

/* Digits at s[0..n) as a number; -1 when one is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * A time: seconds since the epoch (digits only), or exactly
 * YYYY-MM-DDTHH:MM:SSZ from 1970 on. On failure, *why says what is wrong
 * (a static string, or one formatted into @p buf).
 */
static int parse_time(const char *s, size_t len, int64_t *out, const char **why, char *buf,
                      size_t bufsize)
{
	int y, mo, d, h, mi, sec;
	int is_iso = len == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
	             s[16] == ':' && s[19] == 'Z';

	if (!is_iso) {
		int rc = parse_int64(s, len, 0, out);
		if (rc == NUM_OK)
			return 0;
		if (rc == NUM_RANGE)
			*why = "is too large for seconds since the epoch";
		else
			*why = "is not a time (expected seconds since the epoch, or UTC as "
			       "YYYY-MM-DDTHH:MM:SSZ)";
		return -1;
	}
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) {
		*why = "is not a time (expected YYYY-MM-DDTHH:MM:SSZ with digits)";
		return -1;
	}
	if (y < 1970) {
		*why = "is before 1970-01-01T00:00:00Z";
		return -1;
	}
	if (mo < 1 || mo > 12) {
		snprintf(buf, bufsize, "has month %02d (expected 01 to 12)", mo);
		*why = buf;
		return -1;
	}
	if (d < 1) {
		snprintf(buf, bufsize, "has day 00 (expected 01 to %d)", days_in_month(y, mo));
		*why = buf;
		return -1;
	}
	if (d > days_in_month(y, mo)) {
		snprintf(buf, bufsize, "has day %02d, but %s %04d has %d days", d, month_names[mo - 1],
		         y, days_in_month(y, mo));
		*why = buf;
		return -1;
	}
	if (h > 23 || mi > 59 || sec > 59) {
		snprintf(buf, bufsize, "has %s %02d (expected 00 to %d)",
		         h > 23 ? "hour" : mi > 59 ? "minute" : "second",
		         h > 23 ? h : mi > 59 ? mi : sec, h > 23 ? 23 : 59);
		*why = buf;
		return -1;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* ------------------------------------------------------------------------
 * 2. Command line
 * ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: " PROG " [OPTION]... FILE\n"
	        "Replay a CSV feed of stock changes through stockguard's integration log\n"
	        "(minimum-stock policy, export-change filter, in-memory store, a simulated\n"
	        "marketplace that accepts everything); print one decision per row.\n"
	        "\n"
	        "FILE is a CSV with the header %s;\n"
	        "'-' reads standard input.\n"
	        "\n"
	        "Options:\n"
	        "  --min-stock N              minimum stock of every integration (default 0)\n"
	        "  --min-stock INTEGRATION=N  minimum stock of one integration (repeatable)\n"
	        "  --window N                 low-stock window of the filter (default 5)\n"
	        "  --mode cutoff|reserve      publish 0 at or below the minimum (cutoff, default)\n"
	        "                             or hold the minimum back (reserve)\n"
	        "  --cap N                    never publish more than N (default 0 = no cap)\n"
	        "\n"
	        "What-if (see examples/README.md):\n"
	        "  --report FILE.html         also write a self-contained HTML report\n"
	        "  --rate N/s                 simulate a marketplace taking at most N calls per\n"
	        "                             second from every integration (the log's own limit)\n"
	        "  --rate INTEGRATION=N/s     the same for one integration (repeatable)\n"
	        "  --latency MS               the simulated marketplace answers after MS ms\n"
	        "  --latency-limit MS         acknowledged later than this is a late update\n"
	        "                             (default 3600000, one hour)\n"
	        "                             --rate or --latency: changes can wait and merge\n"
	        "                             (decision coalesced); the summary compares the\n"
	        "                             same feed with the filter off\n"
	        "  --sweep SETTING=V1,V2,...  one run per combination of values (repeatable;\n"
	        "                             min-stock, window, mode, cap, rate, latency,\n"
	        "                             latency-limit); prints a CSV table instead\n"
	        "                             of the decisions: calls, calls saved, warnings,\n"
	        "                             stock-outs published, late updates\n"
	        "  --lang en|pt|es            language of the summary and the report (default\n"
	        "                             from LC_ALL, LC_MESSAGES or LANG, else en)\n"
	        "  --explain                  add a column 'explanation': why the row publishes\n"
	        "                             what it does, in the library's words\n"
	        "                             (stg_evaluation_explain; English)\n"
	        "\n"
	        "  --help                     show this help and exit\n"
	        "  --version                  show the library version and exit\n"
	        "\n"
	        "Output (stdout), one line per input row, in input order:\n"
	        "  %s\n"
	        "A summary goes to standard error, and progress when it is a terminal.\n"
	        "\n"
	        "Exit status: 0 done; 2 bad option, bad input or I/O error (the message names\n"
	        "the line and column); 1 out of memory or a library failure.\n",
	        header_in, header_out);
}

/*
 * Options may come before or after FILE; "--opt=value" and "--opt value"
 * are both accepted; "--" ends the options.
 * Returns 0 to run, -1 when done (help, version), or the exit status.
 */
static int parse_args(struct options *o, int argc, char **argv)
{
	int i, only_files = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t k, namelen;
		int rc = 0;

		if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->input) {
				errorq(a, strlen(a), " (give one input file)", "extra argument ");
				usage_hint();
				return EXIT_BAD;
			}
			o->input = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_files = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return -1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("%s %s\n", PROG, stg_version_string());
			return -1;
		}
		if (strcmp(a, "--explain") == 0) {
			o->explain = 1;
			continue;
		}
		namelen = strcspn(a, "=");
		k = option_find(a, namelen);
		if (k == NOPTIONS) {
			errorq(a, strlen(a), "", "unknown option ");
			usage_hint();
			return EXIT_BAD;
		}
		if (a[namelen] == '=') {
			v = a + namelen + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			errorf("%s needs a value", option_name(k));
			usage_hint();
			return EXIT_BAD;
		}
		rc = set_option(o, k, v);
		if (rc)
			return rc;
	}
	if (!o->input) {
		errorf("no input file (give a CSV file, or - for standard input)");
		usage_hint();
		return EXIT_BAD;
	}
	if (o->explain && o->sweep.n) {
		/* A sweep prints its table, not the decisions the column would explain. */
		errorf("--explain explains the decisions; --sweep prints a table instead (give one of them)");
		usage_hint();
		return EXIT_BAD;
	}
	return 0;
}

/* ========================================================================
 * 3. The log
 *
 * The feed runs through a stockguard integration log (stockguard/log.h), as
 * a connector's changes would: no storage hook (the in-memory store), a
 * clock hook that reads the time of the current row, and a simulated
 * marketplace whose transport acknowledges every job. Each row is submitted
 * and the queue pumped at once, so no job is ever left waiting: a change for
 * a SKU whose job still waits would be `coalesced`, a decision the output
 * contract does not have.
 *
 * What the tool needs to know about the past of an (integration, SKU) is
 * what the log keeps on its entry: the available quantity of the newest
 * change (the feed's `from`; no entry means first seen) and that change's
 * sequence, which is the row's time in seconds. The log ignores an older
 * change as stale (equal times are applied), so the tool refuses a row that
 * goes back in time before it reaches the log.
 * ======================================================================== */

struct feed_log {
	stg_log *log;
	int64_t now_ms; /* what the clock hook answers: the current row's time */
	struct market *market; /* NULL: every export is acknowledged at once */
	struct stats *stats;   /* counts the calls */
	int filter_off;        /* every change goes out as a non-stock change */
};

struct feed_prev {
	int known;         /* 0: first seen */
	int64_t available; /* when known */
	int64_t time;      /* when known: the row's time in seconds (the sequence) */
};

/* Seconds since the epoch in milliseconds, saturated (a row may say INT64_MAX seconds). */
static int64_t seconds_to_ms(int64_t s)
{
	return s > INT64_MAX / 1000 ? INT64_MAX : s * 1000;
}

static int64_t feed_clock(void *payload)
{
	return ((const struct feed_log *)payload)->now_ms;
}

/* The simulated marketplace: every job is acknowledged at once. */
static int feed_send(const stg_job *job, stg_job_result *result, void *payload)
{
	struct feed_log *fl = payload;

	if (stats_call(fl->stats, fl->now_ms, job->integration, job->published) ||
	    stats_ack(fl->stats, fl->now_ms, job->integration, job->published, 0, 0))
		return 1; /* out of memory: the pump fails and the tool stops */
	result->outcome = STG_OUTCOME_OK;
	return 0;
}

/*
 * 0, or -1 with a message printed. The hook structs are copied by the log.
 * With @p market, jobs go to the simulated marketplace, which answers later.
 */
static int feed_log_open(struct feed_log *fl, struct market *market, int64_t latency_limit_ms)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_clock clock = STG_CLOCK_INIT;
	stg_transport transport = STG_TRANSPORT_INIT;
	stg_events events = STG_EVENTS_INIT;

	clock.now_ms = feed_clock;
	clock.payload = fl;
	transport.send = feed_send;
	transport.payload = fl;
	o.clock = &clock;
	o.transport = &transport;
	o.latency_limit_ms = latency_limit_ms;
	fl->market = market;
	if (market) {
		market_hooks(market, &transport, &events);
		o.events = &events;
	}
	if (stg_log_open(&fl->log, &o) != STG_OK) {
		errorf("cannot open the integration log: %s", stg_last_error());
		return -1;
	}
	if (market)
		market_attach(market, fl->log);
	return 0;
}

/* The simulated clock moves on to @p to_ms. 0, or -1 with a message printed. */
static int feed_log_advance(struct feed_log *fl, size_t line, int64_t to_ms)
{
	const char *why = NULL;

	if (!fl->market || market_advance(fl->market, to_ms, &why) == 0)
		return 0;
	if (why)
		errorf("line %zu: %s", line, why);
	else
		errorf("out of memory");
	return -1;
}

static void feed_log_close(struct feed_log *fl)
{
	stg_log_close(fl->log);
	fl->log = NULL;
}

/* The log's failure on input line @p line: "stockguard-replay: line L: <message>". */
static void feed_log_error(const struct feed_log *fl, size_t line)
{
	errorf("line %zu: %s", line, stg_log_errmsg(fl->log));
}

/* What the log knows of (integration, sku), NUL-terminated. 0, or -1 with a message printed. */
static int feed_log_previous(struct feed_log *fl, size_t line, const char *integration,
                             const char *sku, struct feed_prev *out)
{
	stg_entry e = STG_ENTRY_INIT;
	int rc = stg_log_get(fl->log, integration, sku, &e);

	memset(out, 0, sizeof *out);
	if (rc == STG_ENOTFOUND)
		return 0;
	if (rc != STG_OK) {
		feed_log_error(fl, line);
		return -1;
	}
	out->known = 1;
	out->available = e.available;
	out->time = e.sequence;
	return 0;
}

/*
 * Submit one row at time @p t (seconds) and pump its job to the simulated
 * marketplace. The decision is export or skip: the row is not stale (the
 * caller checked the time) and no job waits (every export was pumped).
 * 0, or -1 with a message printed.
 */
static int feed_log_apply(struct feed_log *fl, size_t line, const char *integration,
                          const char *sku, int64_t available, int64_t t, int non_stock,
                          stg_submit_result *res)
{
	stg_submit s = STG_SUBMIT_INIT;
	size_t sent = 0;

	s.flags = non_stock || fl->filter_off ? STG_CHANGE_NON_STOCK : 0u;
	s.integration = integration;
	s.sku = sku;
	s.available = available;
	s.sequence = t;
	s.changed_at = seconds_to_ms(t);
	if (fl->market) {
		/*
		 * The clock never goes back: a row older than the clock (another
		 * SKU's rows ran ahead) is a change the connector sees late.
		 */
		if (feed_log_advance(fl, line, s.changed_at))
			return -1;
		if (stg_log_submit(fl->log, &s, res) != STG_OK) {
			feed_log_error(fl, line);
			return -1;
		}
		return feed_log_advance(fl, line, fl->now_ms);
	}
	fl->now_ms = s.changed_at;
	if (stg_log_submit(fl->log, &s, res) != STG_OK ||
	    stg_log_pump(fl->log, 0, &sent) != STG_OK) {
		feed_log_error(fl, line);
		return -1;
	}
	if ((res->decision != STG_DECISION_EXPORT && res->decision != STG_DECISION_SKIP) ||
	    sent != (res->decision == STG_DECISION_EXPORT ? 1u : 0u)) {
		errorf("line %zu: unexpected answer from the integration log: decision %s, "
		       "reason %s, %zu job%s sent", line, stg_decision_name(res->decision),
		       stg_reason_name(res->reason), sent, sent == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * 4. Policies, one per integration
 * ------------------------------------------------------------------------ */

struct policies {
	stg_policy *base;      /* the command-line defaults */
	struct table by_name;  /* integration -> ptr stg_policy* */
};

static void free_policy(void *p)
{
	stg_policy_free(p);
}

/* The log's own rate limit for a new integration @p name: the marketplace's. */
static int set_rate(struct options *o, struct feed_log *fl, const char *name, size_t len)
{
	struct node *per = table_find(&o->per_rate, name, len);
	int64_t rate = per ? per->num[0] : o->rate;

	if (per)
		per->flag = 1;
	if (!fl->market || rate <= 0)
		return 0;
	if (stg_log_set_limits(fl->log, name, 1, (uint32_t)rate, 1000) != STG_OK) {
		errorf("cannot limit '%s' to %" PRId64 "/s: %s", name, rate, stg_log_errmsg(fl->log));
		return -1;
	}
	return 0;
}

/*
 * The policy of @p name (NUL-terminated, @p len bytes), created from the
 * defaults on first sight and given to the log. NULL on failure, with a
 * message printed.
 */
static stg_policy *policy_for(struct policies *ps, struct options *o, struct feed_log *fl,
                              const char *name, size_t len)
{
	struct node *n = table_find(&ps->by_name, name, len), *per;
	stg_policy *p = NULL;

	if (n)
		return n->ptr;
	if (stg_policy_copy(&p, ps->base) != STG_OK) {
		errorf("cannot create a policy: %s", stg_last_error());
		return NULL;
	}
	per = table_find(&o->per_min, name, len);
	if (per) {
		per->flag = 1;
		if (stg_policy_set_min_stock(p, per->num[0]) != STG_OK) {
			errorf("cannot set the minimum stock: %s", stg_policy_errmsg(p));
			stg_policy_free(p);
			return NULL;
		}
	}
	if (stg_log_set_policy(fl->log, name, p) != STG_OK) {
		errorf("cannot give '%s' its policy: %s", name, stg_log_errmsg(fl->log));
		stg_policy_free(p);
		return NULL;
	}
	if (set_rate(o, fl, name, len)) {
		stg_policy_free(p);
		return NULL;
	}
	n = table_add(&ps->by_name, name, len);
	if (!n) {
		errorf("out of memory");
		stg_policy_free(p);
		return NULL;
	}
	n->ptr = p;
	return p;
}

/* ------------------------------------------------------------------------
 * 5. Replay
 * ------------------------------------------------------------------------ */

struct replay {
	struct options *opt;
	struct policies pol;
	struct feed_log log;
	struct market market;
	struct stats stats;
	struct progress progress;
	int print;             /* write the decisions to stdout (not in sweep or comparison runs) */
	size_t line;           /* current line, 1-based */
};

/* A bad row: "stockguard-replay: line L, column C (name): <text>" */
static void PRINTF_LIKE(3, 4) row_error(const struct replay *r, int col, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": line %zu", r->line);
	if (col > 0)
		fprintf(stderr, ", column %d", col);
	if (col > 0 && col <= NCOLS)
		fprintf(stderr, " (%s)", col_names[col]);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The same with a quoted value after the text. */
static void row_error_q(const struct replay *r, int col, const char *s, size_t len,
                        const char *text)
{
	fprintf(stderr, PROG ": line %zu", r->line);
	if (col > 0)
		fprintf(stderr, ", column %d", col);
	if (col > 0 && col <= NCOLS)
		fprintf(stderr, " (%s)", col_names[col]);
	fputs(": ", stderr);
	put_quoted(stderr, s, len);
	fprintf(stderr, " %s\n", text);
}

/* One column of a row: start and length inside the line. */
struct span {
	const char *s;
	size_t len;
};

/*
 * Split @p line into columns at commas. Fills at most NCOLS + 1 spans (the
 * one after the last expected column, to name it in the message) and
 * returns the number of columns in the line.
 */
static size_t split(const char *line, size_t len, struct span *cols)
{
	size_t n = 0, start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i == len || line[i] == ',') {
			if (n <= NCOLS) {
				cols[n].s = line + start;
				cols[n].len = i - start;
			}
			n++;
			start = i + 1;
		}
	}
	return n;
}

/* Column number of byte @p at (the first column is 1). */
static int column_of(const char *line, size_t at)
{
	int c = 1;
	size_t i;

	for (i = 0; i < at; i++)
		c += line[i] == ',';
	return c;
}

static int check_header(struct replay *r, const char *line, size_t len)
{
	struct span cols[NCOLS + 1];
	size_t n = split(line, len, cols);
	int c;

	if (len == 0) {
		row_error(r, 0, "empty header line (expected %s)", header_in);
		return -1;
	}
	for (c = 1; c <= NCOLS && (size_t)c <= n; c++) {
		const struct span *s = &cols[c - 1];
		if (s->len != strlen(col_names[c]) || memcmp(s->s, col_names[c], s->len) != 0) {
			fprintf(stderr, PROG ": line 1, column %d: header column is ", c);
			put_quoted(stderr, s->s, s->len);
			fprintf(stderr, ", expected '%s' (the header must be %s)\n", col_names[c],
			        header_in);
			return -1;
		}
	}
	if (n < NCOLS) {
		fprintf(stderr, PROG ": line 1, column %zu: header column '%s' is missing "
		        "(the header must be %s)\n", n + 1, col_names[n + 1], header_in);
		return -1;
	}
	if (n > NCOLS) {
		fprintf(stderr, PROG ": line 1, column %d: unexpected header column ", NCOLS + 1);
		put_quoted(stderr, cols[NCOLS].s, cols[NCOLS].len);
		fprintf(stderr, " (the header must be %s)\n", header_in);
		return -1;
	}
	return 0;
}

/* Is any entry of the fields column something other than "stock"? -1 on a bad entry. */
static int parse_fields(const struct replay *r, const struct span *f)
{
	size_t start = 0, i;
	int non_stock = 0;

	if (f->len == 0)
		return 0;
	for (i = 0; i <= f->len; i++) {
		if (i == f->len || f->s[i] == '|') {
			const char *e = f->s + start;
			size_t elen = i - start;
			const char *why = check_text(e, elen, 0);
			if (why) {
				char text[160];
				snprintf(text, sizeof text, "has an entry that %s (at byte %zu of the column)",
				         why, start + 1);
				row_error_q(r, COL_FIELDS, f->s, f->len, text);
				return -1;
			}
			if (elen != 5 || memcmp(e, "stock", 5) != 0)
				non_stock = 1;
			start = i + 1;
		}
	}
	return non_stock;
}

/* The explanation column: the library's sentence for the row's "to", quoted. */
static int print_explanation(const stg_policy *p, const char *sku, int64_t to)
{
	char text[STG_EXPLAIN_MAX];
	stg_evaluation ev;

	if (stg_policy_evaluate(p, sku, NULL, to, &ev) != STG_OK ||
	    stg_evaluation_explain(&ev, text, sizeof text, NULL) != STG_OK)
		return -1; /* neither fails on a policy and a buffer this size */
	return printf(",\"%s\"", text) < 0 ? -1 : 0;
}

static int print_row(const struct span *cols, const struct feed_prev *prev, int64_t to,
                     int64_t published_from, const stg_submit_result *res, const stg_policy *explain)
{
	int w, c;

	for (c = 0; c < 3; c++)
		if (fwrite(cols[c].s, 1, cols[c].len, stdout) != cols[c].len || putchar(',') == EOF)
			return -1;
	if (prev->known)
		w = printf("%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", prev->available, to,
		           published_from, res->published);
	else
		w = printf(",%" PRId64 ",,%" PRId64 ",", to, res->published);
	if (w < 0)
		return -1;
	w = printf("%s,%s,%s", stg_decision_name(res->decision), stg_reason_name(res->reason),
	           (res->warnings & STG_WARN_MIN_STOCK_REACHED) ? "min_stock_reached" : "");
	if (w < 0 || (explain && print_explanation(explain, cols[2].s, to)))
		return -1;
	return putchar('\n') == EOF ? -1 : 0;
}

/* One data row. 0, or the exit status. */
static int replay_row(struct replay *r, char *line, size_t len)
{
	struct span cols[NCOLS + 1];
	size_t n = split(line, len, cols);
	const char *why, *nul = memchr(line, '\0', len), *quote = memchr(line, '"', len);
	char whybuf[96];
	int64_t t, to;
	int c, non_stock, rc;
	struct feed_prev prev;
	stg_policy *p;
	stg_evaluation from;
	stg_submit_result res;

	if (nul) {
		c = column_of(line, (size_t)(nul - line));
		row_error(r, c, "contains a NUL byte");
		return EXIT_BAD;
	}
	if (quote) {
		/* Before counting columns: a quoted comma would otherwise look like an extra column. */
		size_t at = (size_t)(quote - line), start = at, end = at;
		while (start > 0 && line[start - 1] != ',')
			start--;
		while (end < len && line[end] != ',')
			end++;
		row_error_q(r, column_of(line, at), line + start, end - start,
		            "contains a double quote (quoted CSV fields are not supported)");
		return EXIT_BAD;
	}
	if (n < NCOLS) {
		row_error(r, (int)n + 1, "missing (the row has %zu column%s, expected %d: %s)", n,
		          n == 1 ? "" : "s", NCOLS, header_in);
		return EXIT_BAD;
	}
	if (n > NCOLS) {
		char text[200];
		snprintf(text, sizeof text, "is an extra column (the row has %zu columns, expected %d; "
		         "integration and sku may not contain commas)", n, NCOLS);
		row_error_q(r, NCOLS + 1, cols[NCOLS].s, cols[NCOLS].len, text);
		return EXIT_BAD;
	}

	if (parse_time(cols[0].s, cols[0].len, &t, &why, whybuf, sizeof whybuf)) {
		row_error_q(r, COL_TIME, cols[0].s, cols[0].len, why);
		return EXIT_BAD;
	}
	for (c = COL_INTEGRATION; c <= COL_SKU; c++) {
		const struct span *s = &cols[c - 1];
		why = check_text(s->s, s->len, STG_KEY_MAX);
		if (why && s->len == 0) {
			row_error(r, c, "is empty");
			return EXIT_BAD;
		}
		if (why) {
			char text[160];
			if (s->len > STG_KEY_MAX)
				snprintf(text, sizeof text, "%s (%zu bytes, at most %d)", why, s->len,
				         STG_KEY_MAX);
			else
				snprintf(text, sizeof text, "%s", why);
			row_error_q(r, c, s->s, s->len, text);
			return EXIT_BAD;
		}
	}
	rc = parse_int64(cols[3].s, cols[3].len, 1, &to);
	if (rc != NUM_OK) {
		if (cols[3].len == 0)
			row_error(r, COL_AVAILABLE, "is empty (expected an integer)");
		else
			row_error_q(r, COL_AVAILABLE, cols[3].s, cols[3].len,
			            rc == NUM_RANGE ? "is out of range (an integer from "
			                              "-9223372036854775808 to 9223372036854775807)"
			                            : "is not an integer");
		return EXIT_BAD;
	}
	non_stock = parse_fields(r, &cols[4]);
	if (non_stock < 0)
		return EXIT_BAD;

	/* The library takes NUL-terminated text: terminate the columns in place. */
	line[cols[1].s - line + (ptrdiff_t)cols[1].len] = '\0';
	line[cols[2].s - line + (ptrdiff_t)cols[2].len] = '\0';
	if (feed_log_previous(&r->log, r->line, cols[1].s, cols[2].s, &prev))
		return EXIT_INTERNAL;
	if (prev.known && t < prev.time) {
		row_error_q(r, COL_TIME, cols[0].s, cols[0].len,
		            "is earlier than the previous row of this integration and sku "
		            "(each SKU's rows must be in time order)");
		return EXIT_BAD;
	}

	p = policy_for(&r->pol, r->opt, &r->log, cols[1].s, cols[1].len);
	if (!p)
		return EXIT_INTERNAL;
	/* published_from: the previous available under the integration's policy. */
	memset(&from, 0, sizeof from);
	if (prev.known && stg_policy_evaluate(p, cols[2].s, NULL, prev.available, &from) != STG_OK) {
		errorf("line %zu: %s", r->line, stg_policy_errmsg(p));
		return EXIT_INTERNAL;
	}
	if (feed_log_apply(&r->log, r->line, cols[1].s, cols[2].s, to, t, non_stock, &res))
		return EXIT_INTERNAL;
	if (r->print && print_row(cols, &prev, to, from.published, &res, r->opt->explain ? p : NULL)) {
		errorf("cannot write the output: %s", strerror(errno));
		return EXIT_BAD;
	}
	if (stats_row(&r->stats, t, cols[1].s, cols[1].len, cols[2].s, cols[2].len, &res)) {
		errorf("out of memory");
		return EXIT_INTERNAL;
	}
	return 0;
}

/* Read the whole input. 0, or the exit status. */
static int replay_stream(struct replay *r, FILE *in, const char *name)
{
	char *line = NULL;
	size_t cap = 0, blank_line = 0;
	ssize_t got;
	int rc = 0, header_done = 0;

	r->line = 0;
	while ((got = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)got;
		char *s = line;

		r->line++;
		if (len && s[len - 1] == '\n')
			len--;
		if (len && s[len - 1] == '\r')
			len--;
		if (!header_done) {
			/* A UTF-8 byte order mark (spreadsheets write one) is skipped. */
			if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
				s += 3;
				len -= 3;
			}
			if (check_header(r, s, len)) {
				rc = EXIT_BAD;
				break;
			}
			header_done = 1;
			if (r->print && printf("%s%s\n", header_out, r->opt->explain ? ",explanation" : "") < 0) {
				errorf("cannot write the output: %s", strerror(errno));
				rc = EXIT_BAD;
				break;
			}
			continue;
		}
		if (len == 0) {
			/* Empty lines are fine only at the end of the input. */
			if (!blank_line)
				blank_line = r->line;
			continue;
		}
		if (blank_line) {
			size_t here = r->line;
			r->line = blank_line;
			row_error(r, 0, "empty line (empty lines are allowed only at the end of the input)");
			r->line = here;
			rc = EXIT_BAD;
			break;
		}
		rc = replay_row(r, s, len);
		if (rc)
			break;
		if ((r->stats.all.rows & 0xfff) == 0)
			progress_tick(&r->progress, r->stats.all.rows, (int64_t)ftello(in));
	}
	progress_end(&r->progress);
	if (!rc && ferror(in)) {
		errorf("cannot read '%s': %s", name, strerror(errno));
		rc = EXIT_BAD;
	} else if (!rc && !header_done) {
		r->line = 1;
		row_error(r, 0, "the input is empty (expected the header %s)", header_in);
		rc = EXIT_BAD;
	}
	/* The feed is over: the marketplace still answers what it was sent. */
	if (!rc && feed_log_advance(&r->log, r->line, INT64_MAX))
		rc = EXIT_INTERNAL;
	free(line);
	return rc;
}

/* ------------------------------------------------------------------------
 * 6. Runs: one run, the comparison run, a sweep
 * ------------------------------------------------------------------------ */

/* Policies, log and counters for one run. 0, or the exit status with a message printed. */
static int replay_open(struct replay *r, struct options *o, int print, int detail)
{
	memset(r, 0, sizeof *r);
	r->opt = o;
	r->print = print;
	stats_init(&r->stats, detail);
	market_init(&r->market, o->latency_ms, &r->log.now_ms, &r->stats);
	r->log.filter_off = o->filter_off;
	r->log.stats = &r->stats;
	if (stg_policy_new(&r->pol.base, NULL) != STG_OK) {
		errorf("cannot create a policy: %s", stg_last_error());
		return EXIT_INTERNAL;
	}
	if (stg_policy_set_min_stock(r->pol.base, o->min_stock) != STG_OK ||
	    stg_policy_set_window(r->pol.base, o->window) != STG_OK ||
	    stg_policy_set_mode(r->pol.base, o->mode) != STG_OK ||
	    stg_policy_set_cap(r->pol.base, o->cap) != STG_OK) {
		/* The options were checked above; this would be a library bug. */
		errorf("%s", stg_policy_errmsg(r->pol.base));
		return EXIT_INTERNAL;
	}
	if (feed_log_open(&r->log, o->market ? &r->market : NULL, o->latency_limit_ms))
		return EXIT_INTERNAL;
	return 0;
}

static void replay_close(struct replay *r)
{
	table_free(&r->pol.by_name, free_policy);
	stg_policy_free(r->pol.base);
	r->pol.base = NULL;
	feed_log_close(&r->log);
	market_free(&r->market);
	stats_free(&r->stats);
}

/* Read the input from its start. 0, or the exit status. */
static int replay_input(struct replay *r, struct input *in, const char *label)
{
	int rc = input_rewind(in);

	if (rc)
		return rc;
	progress_start(&r->progress, in->f, label);
	rc = replay_stream(r, in->f, in->name);
	if (!rc && r->stats.oom) {
		errorf("out of memory");
		rc = EXIT_INTERNAL;
	}
	return rc;
}

/* The report file, opened before any run. 0, or EXIT_BAD with a message. */
static int report_open(const struct options *o, FILE **f)
{
	*f = NULL;
	if (!o->report)
		return 0;
	*f = fopen(o->report, "w");
	if (*f)
		return 0;
	errorf("cannot write '%s': %s", o->report, strerror(errno));
	return EXIT_BAD;
}

/* Write the report (and close its file). 0, or EXIT_BAD with a message. */
static int report_done(const struct options *o, int failed)
{
	if (!failed)
		return 0;
	errorf("cannot write '%s': %s", o->report, strerror(errno));
	return EXIT_BAD;
}

/* The run that prints the decisions, the summary and the report. */
static int run_single(struct options *o)
{
	struct replay r, off;
	struct input in;
	FILE *rep;
	int compare = o->market, rc, detail = o->report != NULL;

	memset(&off, 0, sizeof off);
	rc = report_open(o, &rep);
	if (rc)
		return rc;
	rc = input_open(&in, o->input, compare);
	if (rc) {
		if (rep)
			fclose(rep);
		return rc;
	}
	rc = replay_open(&r, o, 1, detail);
	if (!rc)
		rc = replay_input(&r, &in, "");
	if (!rc && fflush(stdout) != 0) {
		errorf("cannot write the output: %s", strerror(errno));
		rc = EXIT_BAD;
	}
	if (!rc && compare) {
		/* The same feed with every change sent: what the filter spares the queue. */
		o->filter_off = 1;
		rc = replay_open(&off, o, 0, detail);
		if (!rc)
			rc = replay_input(&off, &in, msg(o->lang, MSG_FILTER_OFF));
		o->filter_off = 0;
	}
	if (!rc) {
		struct summary_in s;
		memset(&s, 0, sizeof s);
		s.o = o;
		s.log = r.log.log;
		s.f = &r.stats.all;
		s.off = compare ? &off.stats.all : NULL;
		s.integrations = r.pol.by_name.count;
		s.whatif = o->market || o->report;
		switch (summary_print(stderr, &s)) {
		case 0:
			break;
		case -1:
			errorf("cannot read the integration log: %s", stg_log_errmsg(r.log.log));
			rc = EXIT_INTERNAL;
			break;
		default:
			errorf("out of memory");
			rc = EXIT_INTERNAL;
		}
	}
	if (!rc && rep) {
		struct report_in ri;
		ri.o = o;
		ri.on = &r.stats;
		ri.off = compare ? &off.stats : NULL;
		ri.integrations = r.pol.by_name.count;
		rc = report_done(o, report_write(rep, &ri) != 0);
	} else if (rep) {
		/* No report after a failed run: leave no empty page behind. */
		fclose(rep);
		remove(o->report);
	}
	replay_close(&r);
	replay_close(&off);
	input_close(&in);
	return rc;
}

static void free_results(struct sweep_result *res, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(res[i].values);
	free(res);
}

/* One sweep row: the values, then the figures. */
static int print_sweep_row(const struct sweep *s, const struct sweep_result *x)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (printf("%s,", x->values[i]) < 0)
			return -1;
	return printf("%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", x->f.calls,
	              figures_saved(&x->f), x->f.warnings, x->f.zeros, x->f.late) < 0 ? -1 : 0;
}

/* --sweep: one run per combination, a CSV table on stdout. */
static int run_sweep(struct options *o)
{
	struct sweep *s = &o->sweep;
	size_t n = sweep_runs(s), done = 0, i;
	struct sweep_result *res = calloc(n, sizeof *res);
	struct input in;
	FILE *rep = NULL;
	int rc, more;

	if (!res) {
		errorf("out of memory");
		return EXIT_INTERNAL;
	}
	rc = report_open(o, &rep);
	if (!rc)
		rc = input_open(&in, o->input, n > 1);
	if (rc) {
		if (rep)
			fclose(rep);
		free(res);
		return rc;
	}
	for (i = 0; i < s->n; i++)
		printf("%s,", s->axes[i].setting);
	printf("calls,calls_saved,warnings,stockouts_published,late_updates\n");
	for (more = sweep_first(s); more && !rc; more = sweep_next(s)) {
		struct replay r;
		char label[48];
		struct sweep_result *x = &res[done];

		x->values = calloc(s->n, sizeof *x->values);
		if (!x->values) {
			errorf("out of memory");
			rc = EXIT_INTERNAL;
			break;
		}
		for (i = 0; i < s->n && !rc; i++) {
			x->values[i] = s->axes[i].values[s->at[i]];
			rc = set_option(o, setting_index(s->axes[i].setting), x->values[i]);
		}
		done++;
		if (rc)
			break;
		snprintf(label, sizeof label, "run %zu/%zu", done, n);
		rc = replay_open(&r, o, 0, 0);
		if (!rc)
			rc = replay_input(&r, &in, label);
		x->f = r.stats.all;
		replay_close(&r);
		if (!rc && print_sweep_row(s, x)) {
			errorf("cannot write the output: %s", strerror(errno));
			rc = EXIT_BAD;
		}
	}
	if (!s->at && !rc) {
		errorf("out of memory");
		rc = EXIT_INTERNAL;
	}
	if (!rc && rep)
		rc = report_done(o, report_write_sweep(rep, o, s, res, done) != 0);
	else if (rep) {
		fclose(rep);
		remove(o->report);
	}
	free_results(res, done);
	input_close(&in);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	const char *missing = i18n_missing();
	int rc;

	memset(&o, 0, sizeof o);
	o.window = 5;
	o.mode = STG_MODE_CUTOFF;
	o.latency_limit_ms = DEFAULT_LATENCY_LIMIT_MS;
	o.lang = lang_from_env();
	if (missing) {
		errorf("a message is missing (%s)", missing);
		return EXIT_INTERNAL;
	}
	rc = parse_args(&o, argc, argv);
	if (!rc)
		rc = o.sweep.n ? run_sweep(&o) : run_single(&o);
	else if (rc < 0)
		rc = 0;
	table_free(&o.per_min, NULL);
	table_free(&o.per_rate, NULL);
	sweep_free(&o.sweep);
	if (fflush(stdout) != 0 && !rc) {
		errorf("cannot write the output: %s", strerror(errno));
		rc = EXIT_BAD;
	}
	return rc;
}
