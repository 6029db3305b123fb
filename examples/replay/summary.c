/* The text summary (see summary.h). */
#include "summary.h"

#include "i18n.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Labels end at this column, so the numbers line up under each other. */
enum { LABEL_COL = 22, WHATIF_COL = 32 };

void fmt_percent(char *buf, size_t size, uint64_t part, uint64_t whole)
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

size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

const char *fmt_rate(char *buf, size_t size, int64_t per_s, const char *none)
{
	if (per_s <= 0)
		return none;
	snprintf(buf, size, "%" PRId64 "/s", per_s);
	return buf;
}

/* @p indent spaces, @p text, then spaces up to column @p col (at least one). */
static void label_at(FILE *f, int indent, const char *text, size_t col)
{
	size_t w = (size_t)indent + text_width(text);

	fprintf(f, "%*s%s", indent, "", text);
	do
		fputc(' ', f);
	while (++w < col);
}

static void label(FILE *f, int indent, const char *text)
{
	label_at(f, indent, text, LABEL_COL);
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

static int by_key(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	return strcmp(x->key, y->key);
}

static void collect_any(struct node *n, void *arg)
{
	struct min_list *l = arg;
	l->items[l->n++] = n;
}

/* "rate 5/s, amazon 2/s; answers in 200 ms; late after 3600000 ms" */
static int print_market(FILE *f, const struct options *o, int lang)
{
	struct min_list rl = { NULL, 0 };
	char buf[32];
	size_t i;

	label(f, 2, msg(lang, MSG_MARKET));
	fprintf(f, "%s %s", msg(lang, MSG_RATE),
	        fmt_rate(buf, sizeof buf, o->rate, msg(lang, MSG_NO_LIMIT)));
	if (o->per_rate.count) {
		rl.items = calloc(o->per_rate.count, sizeof *rl.items);
		if (!rl.items) {
			fputc('\n', f);
			return -2;
		}
		table_each(&o->per_rate, collect_any, &rl);
		qsort(rl.items, rl.n, sizeof *rl.items, by_key);
		for (i = 0; i < rl.n; i++)
			fprintf(f, ", %s %s%s", rl.items[i]->key,
			        fmt_rate(buf, sizeof buf, rl.items[i]->num[0], msg(lang, MSG_NO_LIMIT)),
			        rl.items[i]->flag ? "" : " (not in the feed)");
		free(rl.items);
	}
	fprintf(f, "; %s %" PRId64 " ms; %s %" PRId64 " ms\n", msg(lang, MSG_ANSWERS_IN),
	        o->latency_ms, msg(lang, MSG_LATE_AFTER), o->latency_limit_ms);
	return 0;
}

/* One line of the what-if part: the run, and the filter-off run when there is one. */
static void whatif_line(FILE *f, int indent, const char *text, int w, uint64_t on,
                        const uint64_t *off)
{
	label_at(f, indent, text, WHATIF_COL);
	fprintf(f, "%*" PRIu64, w, on);
	if (off)
		fprintf(f, "  %*" PRIu64, w, *off);
	fputc('\n', f);
}

enum { NWHATIF = 10 };

/* The what-if figures of one run, in the order of the lines. */
static void whatif_values(const struct figures *x, uint64_t v[NWHATIF])
{
	v[0] = x->calls;
	v[1] = figures_saved(x);
	v[2] = x->skips;
	v[3] = figures_saved_coalescing(x);
	v[4] = x->zeros;
	v[5] = x->warnings;
	v[6] = x->late;
	v[7] = x->late_zeros;
	v[8] = figures_delay_mean(x);
	v[9] = x->delay_max_ms < 0 ? 0 : (uint64_t)x->delay_max_ms;
}

static void print_whatif(FILE *f, const struct summary_in *in, int lang)
{
	/* MSG_NONE stands for min_stock_reached, a name that is not translated. */
	static const enum msg labels[NWHATIF] = {
		MSG_CALLS, MSG_CALLS_SAVED, MSG_BY_FILTER, MSG_BY_COALESCING, MSG_ZEROS,
		MSG_NONE, MSG_LATE, MSG_OF_THEM_ZEROS, MSG_MEAN, MSG_MAX
	};
	static const int indents[NWHATIF] = { 4, 4, 6, 6, 4, 4, 4, 6, 4, 4 };
	int w = digits_of(in->f->rows) > 10 ? digits_of(in->f->rows) : 10;
	uint64_t on[NWHATIF], off[NWHATIF];
	size_t i;

	whatif_values(in->f, on);
	if (in->off)
		whatif_values(in->off, off);
	label_at(f, 2, msg(lang, MSG_WHATIF), WHATIF_COL);
	fprintf(f, "%*s", w, msg(lang, MSG_R_FILTER_ON));
	if (in->off)
		fprintf(f, "  %*s", w, msg(lang, MSG_COL_FILTER_OFF));
	fputc('\n', f);
	for (i = 0; i < NWHATIF; i++) {
		char text[96];
		if (labels[i] == MSG_NONE)
			snprintf(text, sizeof text, "min_stock_reached");
		else if (i >= 8)
			snprintf(text, sizeof text, "%s %s (ms)", msg(lang, MSG_DELAY), msg(lang, labels[i]));
		else
			snprintf(text, sizeof text, "%s", msg(lang, labels[i]));
		whatif_line(f, indents[i], text, w, on[i], in->off ? &off[i] : NULL);
	}
}

/* A decision's count and share, then its reasons one per line. */
static void decision_lines(FILE *f, const char *text, const struct figures *n, uint64_t count,
                           int w, const int *reasons, size_t nreasons)
{
	char pct[32];
	size_t i;

	fmt_percent(pct, sizeof pct, count, n->rows);
	label(f, 2, text);
	fprintf(f, "%*" PRIu64 "  %s\n", w, count, pct);
	for (i = 0; i < nreasons; i++) {
		label(f, 4, stg_reason_name(reasons[i]));
		fprintf(f, "%*" PRIu64 "\n", w, n->by_reason[reasons[i]]);
	}
}

static const char *plural(int lang, uint64_t n, enum msg one, enum msg many)
{
	return msg(lang, n == 1 ? one : many);
}

int summary_print(FILE *f, const struct summary_in *in)
{
	static const int reasons[] = {
		STG_REASON_FIRST_SEEN, STG_REASON_NON_STOCK_CHANGE, STG_REASON_LOW_STOCK,
		STG_REASON_NO_CHANGE, STG_REASON_OUTSIDE_WINDOW
	};
	const struct options *o = in->o;
	const struct figures *n = in->f;
	int lang = o->lang;
	struct min_list ml = { NULL, 0 };
	char pct[32];
	int w = digits_of(n->rows);
	size_t i;
	stg_stats st;
	stg_counts cnt;
	uint64_t entries, saved = 0;

	/* Asked first, so that a failure prints no half summary. */
	if (stg_log_stats(in->log, NULL, &st) != STG_OK || stg_log_counts(in->log, NULL, &cnt) != STG_OK)
		return -1;
	if (o->per_min.count) {
		ml.items = calloc(o->per_min.count, sizeof *ml.items);
		if (!ml.items)
			return -2;
		table_each(&o->per_min, collect_min, &ml);
	}
	entries = cnt.success + cnt.pending + cnt.error;
	for (i = 0; i < STG_REASON_COUNT; i++)
		saved += st.skips[i];

	fprintf(f, PROG " %s\n", msg(lang, MSG_SUMMARY));
	label(f, 2, msg(lang, MSG_SETTINGS));
	fprintf(f, "%s %s, %s %" PRId64 ", %s ", msg(lang, MSG_MODE),
	        o->mode == STG_MODE_RESERVE ? "reserve" : "cutoff", msg(lang, MSG_WINDOW), o->window,
	        msg(lang, MSG_CAP));
	if (o->cap)
		fprintf(f, "%" PRId64 "\n", o->cap);
	else
		fprintf(f, "%s\n", msg(lang, MSG_NONE));
	label(f, 2, msg(lang, MSG_MIN_STOCK));
	fprintf(f, "%" PRId64 " %s", o->min_stock, msg(lang, MSG_DEFAULT));
	for (i = 0; i < ml.n; i++)
		fprintf(f, ", %s %" PRId64 "%s%s", ml.items[i]->key, ml.items[i]->num[0],
		        ml.items[i]->flag ? "" : " ", ml.items[i]->flag ? "" : msg(lang, MSG_NOT_IN_FEED));
	free(ml.items);
	fputc('\n', f);
	if (o->market && print_market(f, o, lang))
		return -2;
	label(f, 2, msg(lang, MSG_ROWS));
	fprintf(f, "%*" PRIu64 "  (%zu %s, %zu %s)\n", w, n->rows, in->integrations,
	        plural(lang, in->integrations, MSG_INTEGRATION_1, MSG_INTEGRATION_N), (size_t)entries,
	        plural(lang, entries, MSG_PAIR_1, MSG_PAIR_N));
	decision_lines(f, msg(lang, MSG_EXPORTS), n, n->exports, w, reasons, 3);
	decision_lines(f, msg(lang, MSG_SKIPS), n, n->skips, w, reasons + 3, 2);
	if (o->market) {
		/* Only a limited marketplace leaves jobs waiting long enough to merge changes. */
		fmt_percent(pct, sizeof pct, n->coalesced, n->rows);
		label(f, 2, "coalesced");
		fprintf(f, "%*" PRIu64 "  %s  %s\n", w, n->coalesced, pct, msg(lang, MSG_COALESCED_ROWS));
	}
	fmt_percent(pct, sizeof pct, figures_saved(n), n->rows);
	label(f, 2, msg(lang, MSG_CALLS_SAVED));
	fprintf(f, "%*" PRIu64 "  %s %s %" PRIu64 " %s\n", w, figures_saved(n), pct, msg(lang, MSG_OF),
	        n->rows, msg(lang, MSG_CALLS_PER_ROW));
	label(f, 2, "min_stock_reached");
	fprintf(f, "%*" PRIu64 "  %s\n", w, n->warnings,
	        plural(lang, n->warnings, MSG_WARN_ROW_1, MSG_WARN_ROW_N));

	/* What the integration log counted (stg_log_stats, stg_log_counts). */
	label(f, 2, msg(lang, MSG_LOG));
	fprintf(f, "%s\n", msg(lang, o->market ? MSG_LOG_LIMITED : MSG_LOG_ACCEPTS));
	label(f, 4, msg(lang, MSG_CHANGES));
	fprintf(f, "%*" PRIu64 "\n", w, st.changes);
	label(f, 4, msg(lang, MSG_EXPORTS));
	fprintf(f, "%*" PRIu64 "\n", w, st.exports);
	if (o->market) {
		label(f, 4, "coalesced");
		fprintf(f, "%*" PRIu64 "\n", w, st.coalesced);
	}
	label(f, 4, msg(lang, MSG_ATTEMPTS));
	fprintf(f, "%*" PRIu64 "\n", w, st.attempts);
	label(f, 4, msg(lang, MSG_SUCCESSES));
	fprintf(f, "%*" PRIu64 "\n", w, st.successes);
	label(f, 4, msg(lang, MSG_SKIPS));
	fprintf(f, "%*" PRIu64 "\n", w, saved);
	/* The reasons the filter skips with are always listed; any other one when counted. */
	for (i = 0; i < STG_REASON_COUNT; i++)
		if (st.skips[i] || i == STG_REASON_NO_CHANGE || i == STG_REASON_OUTSIDE_WINDOW) {
			label(f, 6, stg_reason_name((int)i));
			fprintf(f, "%*" PRIu64 "\n", w, st.skips[i]);
		}
	/* With a limited marketplace changes merge into waiting jobs: the log
	 * counts the calls that saved apart from the filter's (stg_stats). */
	fmt_percent(pct, sizeof pct, saved + (o->market ? st.saved_by_coalescing : 0), st.changes);
	label(f, 4, msg(lang, MSG_CALLS_SAVED));
	fprintf(f, "%*" PRIu64 "  %s %s %" PRIu64 " %s\n", w,
	        saved + (o->market ? st.saved_by_coalescing : 0), pct, msg(lang, MSG_OF), st.changes,
	        plural(lang, st.changes, MSG_CHANGE_1, MSG_CHANGE_N));
	if (o->market) {
		label(f, 6, msg(lang, MSG_BY_FILTER));
		fprintf(f, "%*" PRIu64 "\n", w, saved);
		label(f, 6, msg(lang, MSG_BY_COALESCING));
		fprintf(f, "%*" PRIu64 "\n", w, st.saved_by_coalescing);
	}
	label(f, 4, msg(lang, MSG_ENTRIES));
	fprintf(f, "%*" PRIu64 "  success %" PRIu64 ", pending %" PRIu64 ", error %" PRIu64 "\n", w,
	        entries, cnt.success, cnt.pending, cnt.error);
	/* Change to acknowledgement, from the log's histogram (-1: nothing acknowledged). */
	label(f, 4, msg(lang, MSG_LATENCY));
	if (st.latency_max_ms < 0) {
		fprintf(f, "%s\n", msg(lang, MSG_NONE_ACKED));
	} else {
		fprintf(f, "p50 %" PRId64 " ms, p99 %" PRId64 " ms, %s %" PRId64 " ms; %s %" PRIu64 " ",
		        st.latency_p50_ms, st.latency_p99_ms, msg(lang, MSG_MAX), st.latency_max_ms,
		        msg(lang, MSG_ABNORMAL), st.abnormal);
		if (o->latency_limit_ms == DEFAULT_LATENCY_LIMIT_MS)
			fprintf(f, "%s\n", msg(lang, MSG_LATER_THAN_HOUR));
		else
			fprintf(f, "(%s %" PRId64 " ms)\n", msg(lang, MSG_LATER_THAN), o->latency_limit_ms);
	}
	if (in->whatif)
		print_whatif(f, in, lang);
	return 0;
}
