/*
 * stockguard-replay: run a CSV feed of stock changes through stockguard's
 * integration log (minimum stock policy, export-change filter, in-memory
 * store, a simulated marketplace that accepts everything) and print every
 * decision.
 *
 * The input and output formats are a contract (SPEC section 7, and
 * examples/README.md for the details this file decides):
 *
 *   in:  time,integration,sku,available,fields
 *   out: time,integration,sku,from,to,published_from,published_to,decision,reason,warning
 *
 * The file is laid out in parts:
 *   1. small utilities (messages, a string-keyed hash table);
 *   2. value parsers (time, integers, text);
 *   3. command line;
 *   4. the integration log the feed runs through (fake clock, simulated
 *      marketplace); it keeps the previous available of each
 *      (integration, SKU);
 *   5. policies, one per integration;
 *   6. the replay loop, the output and the summary.
 *
 * Exit status: 0 done; 2 bad option, bad input row or I/O error; 1 out of
 * memory or an unexpected library failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <stockguard.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "stockguard-replay"

#if defined(__GNUC__)
#  define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#  define PRINTF_LIKE(f, a)
#endif

enum { EXIT_BAD = 2, EXIT_INTERNAL = 1 };

/* Columns of the input, 1-based as in the messages. */
enum { COL_TIME = 1, COL_INTEGRATION, COL_SKU, COL_AVAILABLE, COL_FIELDS, NCOLS = COL_FIELDS };

static const char *const col_names[NCOLS + 1] = {
	"", "time", "integration", "sku", "available", "fields"
};

static const char header_in[] = "time,integration,sku,available,fields";
static const char header_out[] =
	"time,integration,sku,from,to,published_from,published_to,decision,reason,warning";

/* ------------------------------------------------------------------------
 * 1. Utilities
 * ------------------------------------------------------------------------ */

/* How many bytes of a value a message quotes before cutting it with "...". */
#define QUOTE_MAX 64

/*
 * Write @p s (@p len bytes) for a message: at most QUOTE_MAX bytes, control
 * bytes and quotes escaped, so a long or binary value cannot flood the
 * terminal. Only used for display; the data itself is never truncated.
 */
static void put_quoted(FILE *f, const char *s, size_t len)
{
	size_t i, n = len > QUOTE_MAX ? QUOTE_MAX : len;

	fputc('\'', f);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('\'', f);
	if (n < len)
		fprintf(f, "... (%zu bytes)", len);
}

static void PRINTF_LIKE(1, 0) vmessage(const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* "stockguard-replay: <message>\n" */
static void PRINTF_LIKE(1, 2) errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "stockguard-replay: <message> '<value>'<tail>\n" -- @p fmt ends where the value goes. */
static void PRINTF_LIKE(4, 5) errorq(const char *v, size_t vlen, const char *tail, const char *fmt,
                                     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	put_quoted(stderr, v, vlen);
	fputs(tail, stderr);
	fputc('\n', stderr);
}

/*
 * A string-keyed hash table (separate chaining, grows at load 1). Keys are
 * byte strings with a length, copied into the node. Each node has room for
 * a pointer and two integers; the users below say what they mean.
 */
struct node {
	struct node *next;
	uint64_t hash;
	void *ptr;
	int64_t num[2];
	int flag;
	size_t keylen;
	char key[];
};

struct table {
	struct node **slots;
	size_t nslots; /* a power of two, or 0 before the first insert */
	size_t count;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h ^ (h >> 29);
}

static struct node *table_find(const struct table *t, const char *key, size_t len)
{
	uint64_t h;
	struct node *n;

	if (!t->nslots)
		return NULL;
	h = hash_bytes(key, len);
	for (n = t->slots[h & (t->nslots - 1)]; n; n = n->next)
		if (n->hash == h && n->keylen == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static int table_grow(struct table *t)
{
	size_t i, nslots = t->nslots ? t->nslots * 2 : 16;
	struct node **slots;

	if (nslots > SIZE_MAX / sizeof *slots)
		return -1;
	slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return -1;
	for (i = 0; i < t->nslots; i++) {
		struct node *n = t->slots[i], *next;
		for (; n; n = next) {
			next = n->next;
			n->next = slots[n->hash & (nslots - 1)];
			slots[n->hash & (nslots - 1)] = n;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

/* Add a zeroed node for a key known to be absent. NULL when out of memory. */
static struct node *table_add(struct table *t, const char *key, size_t len)
{
	struct node *n;
	size_t b;

	if (t->count >= t->nslots && table_grow(t))
		return NULL;
	if (len > SIZE_MAX - sizeof *n - 1)
		return NULL;
	n = calloc(1, sizeof *n + len + 1);
	if (!n)
		return NULL;
	memcpy(n->key, key, len);
	n->key[len] = '\0';
	n->keylen = len;
	n->hash = hash_bytes(key, len);
	b = n->hash & (t->nslots - 1);
	n->next = t->slots[b];
	t->slots[b] = n;
	t->count++;
	return n;
}

/* Call @p fn on every node (in no particular order). */
static void table_each(const struct table *t, void (*fn)(struct node *, void *), void *arg)
{
	size_t i;
	struct node *n;

	for (i = 0; i < t->nslots; i++)
		for (n = t->slots[i]; n; n = n->next)
			fn(n, arg);
}

/* Free the nodes; @p fn (may be NULL) releases what a node's ptr owns. */
static void table_free(struct table *t, void (*fn)(void *))
{
	size_t i;

	for (i = 0; i < t->nslots; i++) {
		struct node *n = t->slots[i], *next;
		for (; n; n = next) {
			next = n->next;
			if (fn)
				fn(n->ptr);
			free(n);
		}
	}
	free(t->slots);
	memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------
 * 2. Value parsers (time, integers, text)
 * ------------------------------------------------------------------------ */

/* Parse a whole decimal integer with an optional sign into int64. */
enum { NUM_OK, NUM_SYNTAX, NUM_RANGE };

static int parse_int64(const char *s, size_t len, int allow_sign, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, limit;

	size_t first;

	if (allow_sign && len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	first = i;
	if (i == len)
		return NUM_SYNTAX;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return NUM_SYNTAX;
	/* Syntax first, so "99999999999999999999x" is junk, not overflow. */
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (i = first; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			return NUM_RANGE;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return NUM_OK;
}

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

/*
 * Text (integration, SKU, one entry of fields): non-empty, no surrounding
 * blanks, no control bytes, no double quotes (quoted CSV is not supported,
 * so a quote would only hide a comma), at most @p max bytes (0: no limit).
 * Returns NULL when fine, else what is wrong.
 */
static const char *check_text(const char *s, size_t len, size_t max)
{
	size_t i;

	if (!len)
		return "is empty";
	if (s[0] == ' ' || s[len - 1] == ' ')
		return "has leading or trailing spaces";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return "contains a control character";
		if (c == '"')
			return "contains a double quote (quoted CSV fields are not supported)";
	}
	if (max && len > max)
		return "is too long";
	return NULL;
}

/* ------------------------------------------------------------------------
 * 3. Command line
 * ------------------------------------------------------------------------ */

struct options {
	const char *input;      /* path, or "-" */
	int64_t min_stock;      /* default minimum */
	int64_t window;
	int64_t cap;
	int mode;               /* stg_mode */
	struct table per_min;   /* integration -> num[0] minimum, flag: seen in the feed */
	size_t per_min_order;   /* for printing in command-line order */
};

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
	        "  --help                     show this help and exit\n"
	        "  --version                  show the library version and exit\n"
	        "\n"
	        "Output (stdout), one line per input row, in input order:\n"
	        "  %s\n"
	        "A summary goes to standard error.\n"
	        "\n"
	        "Exit status: 0 done; 2 bad option, bad input or I/O error (the message names\n"
	        "the line and column); 1 out of memory or a library failure.\n",
	        header_in, header_out);
}

static void usage_hint(void)
{
	fputs("Try '" PROG " --help' for more information.\n", stderr);
}

/* A quantity option value: 0 .. STG_QUANTITY_MAX. 0, or EXIT_BAD. */
static int parse_quantity_opt(const char *opt, const char *v, int64_t *out)
{
	int64_t q;
	int rc = parse_int64(v, strlen(v), 1, &q);

	if (rc == NUM_OK && q >= 0 && q <= STG_QUANTITY_MAX) {
		*out = q;
		return 0;
	}
	if (rc == NUM_SYNTAX)
		errorq(v, strlen(v), " is not an integer", "%s: ", opt);
	else if (rc == NUM_OK && q < 0)
		errorq(v, strlen(v), " is negative (must be 0 or more)", "%s: ", opt);
	else
		errorq(v, strlen(v), "", "%s: must be at most %" PRId64 ", got ", opt,
		       (int64_t)STG_QUANTITY_MAX);
	usage_hint();
	return EXIT_BAD;
}

/* --min-stock N or --min-stock INTEGRATION=N (split at the last '='). 0, or the exit status. */
static int parse_min_stock(struct options *o, const char *v)
{
	const char *eq = strrchr(v, '=');
	const char *why;
	struct node *n;
	size_t len;
	int64_t q;

	if (!eq)
		return parse_quantity_opt("--min-stock", v, &o->min_stock);
	len = (size_t)(eq - v);
	why = check_text(v, len, STG_KEY_MAX);
	if (!why && memchr(v, ',', len))
		why = "contains a comma";
	if (why) {
		errorq(v, len, "", "--min-stock: the integration name %s: ", why);
		usage_hint();
		return EXIT_BAD;
	}
	if (parse_quantity_opt("--min-stock", eq + 1, &q))
		return EXIT_BAD;
	n = table_find(&o->per_min, v, len);
	if (!n) {
		n = table_add(&o->per_min, v, len);
		if (!n) {
			errorf("out of memory");
			return EXIT_INTERNAL;
		}
		n->num[1] = (int64_t)o->per_min_order++;
	}
	n->num[0] = q; /* the last one given wins */
	return 0;
}

/*
 * Options may come before or after FILE; "--opt=value" and "--opt value"
 * are both accepted; "--" ends the options.
 * Returns 0 to run, -1 when done (help, version), or the exit status.
 */
static int parse_args(struct options *o, int argc, char **argv)
{
	static const char *const with_value[] = { "--min-stock", "--window", "--mode", "--cap" };
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
		namelen = strcspn(a, "=");
		for (k = 0; k < sizeof with_value / sizeof *with_value; k++)
			if (strlen(with_value[k]) == namelen && strncmp(a, with_value[k], namelen) == 0)
				break;
		if (k == sizeof with_value / sizeof *with_value) {
			errorq(a, strlen(a), "", "unknown option ");
			usage_hint();
			return EXIT_BAD;
		}
		if (a[namelen] == '=') {
			v = a + namelen + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			errorf("%s needs a value", with_value[k]);
			usage_hint();
			return EXIT_BAD;
		}
		if (k == 0) {
			rc = parse_min_stock(o, v);
		} else if (k == 1) {
			rc = parse_quantity_opt("--window", v, &o->window);
		} else if (k == 2) {
			if (strcmp(v, "cutoff") == 0) {
				o->mode = STG_MODE_CUTOFF;
			} else if (strcmp(v, "reserve") == 0) {
				o->mode = STG_MODE_RESERVE;
			} else {
				errorq(v, strlen(v), " (expected cutoff or reserve)", "--mode: unknown mode ");
				usage_hint();
				rc = EXIT_BAD;
			}
		} else {
			rc = parse_quantity_opt("--cap", v, &o->cap);
		}
		if (rc)
			return rc;
	}
	if (!o->input) {
		errorf("no input file (give a CSV file, or - for standard input)");
		usage_hint();
		return EXIT_BAD;
	}
	return 0;
}

/* ========================================================================
 * 4. The log
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

/* The simulated marketplace: every job is acknowledged. */
static int feed_send(const stg_job *job, stg_job_result *result, void *payload)
{
	(void)job;
	(void)payload;
	result->outcome = STG_OUTCOME_OK;
	return 0;
}

/* 0, or -1 with a message printed. The hook structs are copied by the log. */
static int feed_log_open(struct feed_log *fl)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_clock clock = STG_CLOCK_INIT;
	stg_transport transport = STG_TRANSPORT_INIT;

	clock.now_ms = feed_clock;
	clock.payload = fl;
	transport.send = feed_send;
	o.clock = &clock;
	o.transport = &transport;
	if (stg_log_open(&fl->log, &o) != STG_OK) {
		errorf("cannot open the integration log: %s", stg_last_error());
		return -1;
	}
	return 0;
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

	s.flags = non_stock ? STG_CHANGE_NON_STOCK : 0u;
	s.integration = integration;
	s.sku = sku;
	s.available = available;
	s.sequence = t;
	s.changed_at = seconds_to_ms(t);
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
 * 5. Policies, one per integration
 * ------------------------------------------------------------------------ */

struct policies {
	stg_policy *base;      /* the command-line defaults */
	struct table by_name;  /* integration -> ptr stg_policy* */
};

static void free_policy(void *p)
{
	stg_policy_free(p);
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
 * 6. Replay
 * ------------------------------------------------------------------------ */

struct counts {
	uint64_t rows, exports, skips, warnings;
	uint64_t by_reason[STG_REASON_COUNT];
};

struct replay {
	struct options *opt;
	struct policies pol;
	struct feed_log log;
	struct counts n;
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

static int print_row(const struct span *cols, const struct feed_prev *prev, int64_t to,
                     int64_t published_from, const stg_submit_result *res)
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
	w = printf("%s,%s,%s\n", stg_decision_name(res->decision), stg_reason_name(res->reason),
	           (res->warnings & STG_WARN_MIN_STOCK_REACHED) ? "min_stock_reached" : "");
	return w < 0 ? -1 : 0;
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
	if (print_row(cols, &prev, to, from.published, &res)) {
		errorf("cannot write the output: %s", strerror(errno));
		return EXIT_BAD;
	}

	r->n.rows++;
	if (res.decision == STG_DECISION_EXPORT)
		r->n.exports++;
	else
		r->n.skips++;
	if (res.reason >= 0 && res.reason < STG_REASON_COUNT)
		r->n.by_reason[res.reason]++;
	if (res.warnings & STG_WARN_MIN_STOCK_REACHED)
		r->n.warnings++;
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
			if (printf("%s\n", header_out) < 0) {
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
	}
	if (!rc && ferror(in)) {
		errorf("cannot read '%s': %s", name, strerror(errno));
		rc = EXIT_BAD;
	} else if (!rc && !header_done) {
		r->line = 1;
		row_error(r, 0, "the input is empty (expected the header %s)", header_in);
		rc = EXIT_BAD;
	}
	free(line);
	return rc;
}

/* Summary ---------------------------------------------------------------- */

struct min_list {
	const struct node **items;
	size_t n;
};

static void collect_min(struct node *n, void *arg)
{
	struct min_list *l = arg;
	l->items[(size_t)n->num[1]] = n;
	l->n++;
}

static int digits_of(uint64_t v)
{
	int d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static void percent(char *buf, size_t size, uint64_t part, uint64_t whole)
{
	if (!whole) {
		snprintf(buf, size, "-");
		return;
	}
	/* One decimal, rounded half up, in integers so every platform prints the same. */
	{
		uint64_t tenths = (part * 1000 + whole / 2) / whole;
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%%", tenths / 10, tenths % 10);
	}
}

static int summary(struct replay *r, size_t integrations)
{
	static const int reasons[] = {
		STG_REASON_FIRST_SEEN, STG_REASON_NON_STOCK_CHANGE, STG_REASON_LOW_STOCK,
		STG_REASON_NO_CHANGE, STG_REASON_OUTSIDE_WINDOW
	};
	const struct options *o = r->opt;
	const struct counts *n = &r->n;
	struct min_list ml = { NULL, 0 };
	char pct[32];
	int w = digits_of(n->rows);
	size_t i;
	FILE *f = stderr;
	stg_stats st;
	stg_counts cnt;
	uint64_t entries, saved = 0;

	/* Asked first, so that a failure prints no half summary. */
	if (stg_log_stats(r->log.log, NULL, &st) != STG_OK ||
	    stg_log_counts(r->log.log, NULL, &cnt) != STG_OK) {
		errorf("cannot read the integration log: %s", stg_log_errmsg(r->log.log));
		return EXIT_INTERNAL;
	}
	entries = cnt.success + cnt.pending + cnt.error;
	for (i = 0; i < STG_REASON_COUNT; i++)
		saved += st.skips[i];

	fprintf(f, PROG " summary\n");
	fprintf(f, "  settings            mode %s, window %" PRId64 ", cap ",
	        o->mode == STG_MODE_RESERVE ? "reserve" : "cutoff", o->window);
	if (o->cap)
		fprintf(f, "%" PRId64 "\n", o->cap);
	else
		fprintf(f, "none\n");
	fprintf(f, "  minimum stock       %" PRId64 " (default)", o->min_stock);
	if (o->per_min.count) {
		ml.items = calloc(o->per_min.count, sizeof *ml.items);
		if (!ml.items) {
			fputc('\n', f);
			errorf("out of memory");
			return EXIT_INTERNAL;
		}
		table_each(&o->per_min, collect_min, &ml);
		for (i = 0; i < ml.n; i++)
			fprintf(f, ", %s %" PRId64 "%s", ml.items[i]->key, ml.items[i]->num[0],
			        ml.items[i]->flag ? "" : " (not in the feed)");
	}
	fputc('\n', f);
	fprintf(f, "  rows                %*" PRIu64 "  (%zu integration%s, %zu integration/SKU pair%s)\n",
	        w, n->rows, integrations, integrations == 1 ? "" : "s", (size_t)entries,
	        entries == 1 ? "" : "s");
	percent(pct, sizeof pct, n->exports, n->rows);
	fprintf(f, "  exports             %*" PRIu64 "  %s\n", w, n->exports, pct);
	for (i = 0; i < 3; i++)
		fprintf(f, "    %-18s%*" PRIu64 "\n", stg_reason_name(reasons[i]), w,
		        n->by_reason[reasons[i]]);
	percent(pct, sizeof pct, n->skips, n->rows);
	fprintf(f, "  skips               %*" PRIu64 "  %s\n", w, n->skips, pct);
	for (i = 3; i < 5; i++)
		fprintf(f, "    %-18s%*" PRIu64 "\n", stg_reason_name(reasons[i]), w,
		        n->by_reason[reasons[i]]);
	fprintf(f, "  API calls saved     %*" PRIu64 "  %s of %" PRIu64 " calls (one per row)\n", w,
	        n->skips, pct, n->rows);
	fprintf(f, "  min_stock_reached   %*" PRIu64 "  row%s where a positive stock publishes 0\n", w,
	        n->warnings, n->warnings == 1 ? "" : "s");

	/* What the integration log counted (stg_log_stats, stg_log_counts). */
	fprintf(f, "  integration log     in memory; the simulated marketplace accepts everything\n");
	fprintf(f, "    changes           %*" PRIu64 "\n", w, st.changes);
	fprintf(f, "    exports           %*" PRIu64 "\n", w, st.exports);
	fprintf(f, "    attempts          %*" PRIu64 "\n", w, st.attempts);
	fprintf(f, "    successes         %*" PRIu64 "\n", w, st.successes);
	fprintf(f, "    skips             %*" PRIu64 "\n", w, saved);
	/* The reasons the filter skips with are always listed; any other one when counted. */
	for (i = 0; i < STG_REASON_COUNT; i++)
		if (st.skips[i] || i == STG_REASON_NO_CHANGE || i == STG_REASON_OUTSIDE_WINDOW)
			fprintf(f, "      %-16s%*" PRIu64 "\n", stg_reason_name((int)i), w, st.skips[i]);
	percent(pct, sizeof pct, saved, st.changes);
	fprintf(f, "    API calls saved   %*" PRIu64 "  %s of %" PRIu64 " change%s\n", w, saved, pct,
	        st.changes, st.changes == 1 ? "" : "s");
	fprintf(f, "    entries           %*" PRIu64 "  success %" PRIu64 ", pending %" PRIu64
	        ", error %" PRIu64 "\n", w, entries, cnt.success, cnt.pending, cnt.error);
	/* Change to acknowledgement, from the log's histogram (-1: nothing acknowledged). */
	if (st.latency_max_ms < 0)
		fprintf(f, "    latency           none acknowledged\n");
	else
		fprintf(f, "    latency           p50 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64
		        " ms; abnormal %" PRIu64 " (later than one hour)\n", st.latency_p50_ms,
		        st.latency_p99_ms, st.latency_max_ms, st.abnormal);
	free(ml.items);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct replay r;
	FILE *in = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	memset(&r, 0, sizeof r);
	o.window = 5;
	o.mode = STG_MODE_CUTOFF;
	r.opt = &o;

	rc = parse_args(&o, argc, argv);
	if (rc) {
		rc = rc < 0 ? 0 : rc;
		goto out;
	}
	if (stg_policy_new(&r.pol.base, NULL) != STG_OK) {
		errorf("cannot create a policy: %s", stg_last_error());
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (stg_policy_set_min_stock(r.pol.base, o.min_stock) != STG_OK ||
	    stg_policy_set_window(r.pol.base, o.window) != STG_OK ||
	    stg_policy_set_mode(r.pol.base, o.mode) != STG_OK ||
	    stg_policy_set_cap(r.pol.base, o.cap) != STG_OK) {
		/* The options were checked above; this would be a library bug. */
		errorf("%s", stg_policy_errmsg(r.pol.base));
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (feed_log_open(&r.log)) {
		rc = EXIT_INTERNAL;
		goto out;
	}

	if (strcmp(o.input, "-") == 0) {
		in = stdin;
	} else {
		in = fopen(o.input, "r");
		if (!in) {
			errorf("cannot open '%s': %s", o.input, strerror(errno));
			rc = EXIT_BAD;
			goto out;
		}
	}
	rc = replay_stream(&r, in, strcmp(o.input, "-") == 0 ? "standard input" : o.input);
	if (!rc && fflush(stdout) != 0) {
		errorf("cannot write the output: %s", strerror(errno));
		rc = EXIT_BAD;
	}
	if (!rc)
		rc = summary(&r, r.pol.by_name.count);

out:
	if (in && in != stdin)
		fclose(in);
	table_free(&r.pol.by_name, free_policy);
	stg_policy_free(r.pol.base);
	feed_log_close(&r.log);
	table_free(&o.per_min, NULL);
	if (fflush(stdout) != 0 && !rc) {
		errorf("cannot write the output: %s", strerror(errno));
		rc = EXIT_BAD;
	}
	return rc;
}
