/*
 * The HTML report (see report.h). The page is written in one pass from the
 * counted figures; charts are inline SVG drawn here, so the page needs
 * nothing but itself: no script, no font, no image from anywhere.
 */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <stockguard.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "summary.h"
#include "util.h"

/* Chart geometry, in SVG user units (the page scales it to its width). */
enum { CW = 960, CH = 240, PAD_L = 56, PAD_R = 12, PAD_T = 12, PAD_B = 34 };

/* One colour per series; the browser test looks for them in the screenshot. */
struct series_style {
	const char *name;   /* data-series, and the legend when not translated */
	const char *colour;
};

static const struct series_style reason_series[] = {
	{ "first_seen", "#1f77b4" }, { "non_stock_change", "#9467bd" }, { "low_stock", "#ff7f0e" },
	{ "no_change", "#8c8c8c" }, { "outside_window", "#2ca02c" }, { "coalesced", "#17becf" }
};
static const int reason_ids[] = {
	STG_REASON_FIRST_SEEN, STG_REASON_NON_STOCK_CHANGE, STG_REASON_LOW_STOCK,
	STG_REASON_NO_CHANGE, STG_REASON_OUTSIDE_WINDOW, STG_REASON_COALESCED
};
enum { NREASONS = sizeof reason_ids / sizeof *reason_ids };

static const char COLOUR_ZEROS[] = "#d62728", COLOUR_WARN[] = "#e6a800",
                  COLOUR_OFF[] = "#7f7f7f", COLOUR_ON[] = "#1f77b4";

struct out {
	FILE *f;
	int lang;
};

static void PRINTF_LIKE(2, 3) put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

/* Text into HTML (element content and attribute values alike). */
static void esc(struct out *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", o->f); break;
		case '<': fputs("&lt;", o->f); break;
		case '>': fputs("&gt;", o->f); break;
		case '"': fputs("&quot;", o->f); break;
		case '\'': fputs("&#39;", o->f); break;
		default: fputc(*s, o->f);
		}
	}
}

static void esc_n(struct out *o, const char *s, size_t len)
{
	char buf[2 * STG_KEY_MAX + 2];

	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	esc(o, buf);
}

static const char *m(const struct out *o, enum msg k)
{
	return msg(o->lang, k);
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, int *mo, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*mo = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*mo <= 2);
}

/* "2026-01-31 08:00" for an hour since the epoch. */
static void fmt_hour(char *buf, size_t size, int64_t hour)
{
	int64_t y, day = hour >= 0 ? hour / 24 : -((-hour + 23) / 24);
	int mo, d;

	civil_from_days(day, &y, &mo, &d);
	snprintf(buf, size, "%04" PRId64 "-%02d-%02d %02d:00", y, mo, d, (int)(hour - day * 24));
}

static void head(struct out *o, const char *title)
{
	put(o, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n",
	    o->lang == LANG_PT ? "pt" : o->lang == LANG_ES ? "es" : "en");
	/* The page may load nothing at all: the policy says so to the browser, too. */
	put(o, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	       "style-src 'unsafe-inline'\">\n<title>");
	esc(o, title);
	put(o, "</title>\n<style>\n"
	       "body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1000px;"
	       "color:#222;background:#fff;padding:0 12px}\n"
	       "h1{font-size:22px}h2{font-size:17px;margin-top:28px}\n"
	       ".meta{color:#555}\n"
	       ".tiles{display:flex;flex-wrap:wrap;gap:10px}\n"
	       ".tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:130px}\n"
	       ".tile .v{display:block;font-size:22px;font-weight:600}\n"
	       ".tile .k{color:#555;font-size:12px}\n"
	       "svg{width:100%%;height:auto;border:1px solid #eee;background:#fcfcfc}\n"
	       "svg text{font:11px sans-serif;fill:#444}\n"
	       ".legend span{display:inline-block;margin-right:14px}\n"
	       ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px;"
	       "vertical-align:-2px}\n"
	       "table{border-collapse:collapse;margin-top:6px}\n"
	       "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\n"
	       "td:first-child,th:first-child{text-align:left}\n"
	       ".note{color:#555;font-style:italic}\n"
	       "</style>\n</head>\n<body>\n<h1>");
	esc(o, title);
	put(o, "</h1>\n");
}

static void tile(struct out *o, const char *figure, const char *run, uint64_t v, const char *label)
{
	put(o, "<div class=\"tile\"><span class=\"v\" data-figure=\"%s\" data-run=\"%s\">%" PRIu64
	       "</span><span class=\"k\">", figure, run, v);
	esc(o, label);
	put(o, "</span></div>\n");
}

static void legend(struct out *o, const struct series_style *s, const char *const *labels,
                   size_t n)
{
	size_t i;

	put(o, "<p class=\"legend\">");
	for (i = 0; i < n; i++) {
		put(o, "<span><i style=\"background:%s\"></i>", s[i].colour);
		esc(o, labels ? labels[i] : s[i].name);
		put(o, "</span>");
	}
	put(o, "</p>\n");
}

/* A value axis from 0 to @p max and the frame; returns the top value (never 0). */
static uint64_t axis(struct out *o, uint64_t max)
{
	/* A multiple of 4, so the four grid lines fall on whole numbers. */
	uint64_t top = max ? (max + 3) / 4 * 4 : 4;
	int k;

	put(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", PAD_L, CH - PAD_B,
	    CW - PAD_R, CH - PAD_B);
	for (k = 0; k <= 4; k++) {
		double y = CH - PAD_B - (double)k * (CH - PAD_B - PAD_T) / 4;
		put(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
		       "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%" PRIu64 "</text>\n",
		    PAD_L, y, CW - PAD_R, y, PAD_L - 4, y + 4, top / 4 * (uint64_t)k);
	}
	return top;
}

/* The time axis of a chart: @p n bars of @p width hours from hour @p first. */
struct grid {
	int64_t first, width;
	size_t n;
};

static struct grid grid_of(const struct series *h)
{
	struct grid g;

	g.first = h->first;
	g.width = h->width;
	g.n = h->n;
	return g;
}

static int64_t series_end(const struct series *h)
{
	return h->first + (int64_t)h->n * h->width;
}

/*
 * One grid over two series (the two runs queue differently, so their late
 * acknowledgements span different hours). Widths are powers of two and
 * each series starts at a multiple of its width, so the wider width aligns
 * both.
 */
static struct grid grid_union(const struct series *a, const struct series *b)
{
	struct grid g;
	int64_t w = a->width > b->width ? a->width : b->width, lo, hi;

	if (!b->n)
		return grid_of(a);
	if (!a->n)
		return grid_of(b);
	lo = a->first < b->first ? a->first : b->first;
	hi = series_end(a) > series_end(b) ? series_end(a) : series_end(b);
	g.width = w;
	g.first = (lo >= 0 ? lo / w : -((-lo + w - 1) / w)) * w;
	g.n = (size_t)((hi - g.first + w - 1) / w);
	return g;
}

/* What a chart shows of a bucket, and how buckets sharing a bar combine. */
struct measure {
	uint64_t (*get)(const struct figures *);
	int max;   /* the largest (a delay), not the sum (a count) */
};

/* The measure over the buckets of @p h inside bar @p i of @p g. */
static uint64_t bar_value(const struct series *h, const struct grid *g, size_t i,
                          const struct measure *ms)
{
	int64_t lo = g->first + (int64_t)i * g->width, hi = lo + g->width, at;
	uint64_t v = 0;

	if (!h->n)
		return 0;
	at = lo > h->first ? lo : h->first;
	for (; at < hi && at < series_end(h); at += h->width) {
		uint64_t x = ms->get(&h->b[(at - h->first) / h->width].f);
		v = ms->max ? (x > v ? x : v) : v + x;
	}
	return v;
}

/* Labels under a few of the bars. */
static void time_labels(struct out *o, const struct grid *g)
{
	double bw = (double)(CW - PAD_L - PAD_R) / (double)(g->n ? g->n : 1);
	size_t step = g->n / 6 + 1, i;
	char buf[32];

	for (i = 0; i < g->n; i += step) {
		/* A label needs about 100 units: one that would run off the right edge is left out. */
		if (i && PAD_L + bw * (double)i > CW - PAD_R - 100)
			break;
		fmt_hour(buf, sizeof buf, g->first + (int64_t)i * g->width);
		put(o, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", PAD_L + bw * (double)i, CH - PAD_B + 16, buf);
	}
}

/* The value of series @p k of a bucket for the reasons chart. */
static uint64_t reason_value(const struct figures *f, size_t k)
{
	return reason_ids[k] == STG_REASON_COALESCED ? f->coalesced : f->by_reason[reason_ids[k]];
}

static void chart_reasons(struct out *o, const struct series *h)
{
	struct grid g;
	double bw = (double)(CW - PAD_L - PAD_R) / (double)(h->n ? h->n : 1), plot = CH - PAD_B - PAD_T;
	uint64_t max = 0, top;
	size_t i, k;

	for (i = 0; i < h->n; i++)
		if (h->b[i].f.rows > max)
			max = h->b[i].f.rows;
	put(o, "<svg id=\"chart-reasons\" viewBox=\"0 0 %d %d\" role=\"img\">\n", CW, CH);
	top = axis(o, max);
	for (i = 0; i < h->n; i++) {
		double y = CH - PAD_B;
		for (k = 0; k < NREASONS; k++) {
			uint64_t v = reason_value(&h->b[i].f, k);
			double hgt = plot * (double)v / (double)top;
			if (!v)
				continue;
			y -= hgt;
			put(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
			       "data-series=\"%s\" data-n=\"%" PRIu64 "\"/>\n",
			    PAD_L + bw * (double)i, y, bw > 1.5 ? bw - 0.5 : bw, hgt,
			    reason_series[k].colour, reason_series[k].name, v);
		}
	}
	g = grid_of(h);
	time_labels(o, &g);
	put(o, "</svg>\n");
	legend(o, reason_series, NULL, NREASONS);
}

/* Two series side by side per bar: @p a of @p ha, @p b of @p hb (may be the same). */
static void chart_pair(struct out *o, const char *id, const struct series *ha,
                       const struct series *hb, const struct measure *a,
                       const struct measure *b, const struct series_style st[2])
{
	struct grid g = grid_union(ha, hb);
	double bw = (double)(CW - PAD_L - PAD_R) / (double)(g.n ? g.n : 1), plot = CH - PAD_B - PAD_T;
	uint64_t max = 0, top;
	size_t i, k;

	for (i = 0; i < g.n; i++) {
		uint64_t va = bar_value(ha, &g, i, a), vb = bar_value(hb, &g, i, b);
		max = va > max ? va : max;
		max = vb > max ? vb : max;
	}
	put(o, "<svg id=\"%s\" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, CW, CH);
	top = axis(o, max);
	for (i = 0; i < g.n; i++)
		for (k = 0; k < 2; k++) {
			uint64_t v = k == 0 ? bar_value(ha, &g, i, a) : bar_value(hb, &g, i, b);
			double hgt = plot * (double)v / (double)top;
			if (!v)
				continue;
			put(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
			       "data-series=\"%s\" data-n=\"%" PRIu64 "\"/>\n",
			    PAD_L + bw * (double)i + (double)k * bw / 2, CH - PAD_B - hgt, bw / 2, hgt,
			    st[k].colour, st[k].name, v);
		}
	time_labels(o, &g);
	put(o, "</svg>\n");
}

static uint64_t get_zeros(const struct figures *f) { return f->zeros; }
static uint64_t get_warnings(const struct figures *f) { return f->warnings; }
static uint64_t get_late(const struct figures *f) { return f->late; }
static uint64_t get_none(const struct figures *f) { (void)f; return 0; }
static uint64_t get_delay_max(const struct figures *f)
{
	return f->delay_max_ms < 0 ? 0 : (uint64_t)f->delay_max_ms;
}

static const struct measure zeros_m = { get_zeros, 0 }, warnings_m = { get_warnings, 0 },
                            late_m = { get_late, 0 }, none_m = { get_none, 0 },
                            delay_m = { get_delay_max, 1 };

/* Horizontal bars: calls with one call per row, with the filter, with the filter off. */
static void chart_saved(struct out *o, const struct figures *on, const struct figures *off)
{
	struct { const char *series, *colour; uint64_t v; enum msg label; } bars[3];
	size_t n = 0, i;
	uint64_t top = on->rows ? on->rows : 1;
	double plot = CW - PAD_L - PAD_R - 240;

	bars[n].series = "rows"; bars[n].colour = COLOUR_OFF; bars[n].v = on->rows;
	bars[n++].label = MSG_CALLS_PER_ROW;
	if (off) {
		bars[n].series = "calls-off"; bars[n].colour = "#bcbd22"; bars[n].v = off->calls;
		bars[n++].label = MSG_COL_FILTER_OFF;
	}
	bars[n].series = "calls-on"; bars[n].colour = COLOUR_ON; bars[n].v = on->calls;
	bars[n++].label = MSG_R_FILTER_ON;
	put(o, "<svg id=\"chart-saved\" viewBox=\"0 0 %d %d\" role=\"img\">\n", CW, 40 + 36 * (int)n);
	for (i = 0; i < n; i++) {
		double w = plot * (double)bars[i].v / (double)top;
		int y = 16 + 36 * (int)i;
		put(o, "<text x=\"8\" y=\"%d\">", y + 16);
		esc(o, m(o, MSG_CALLS));
		put(o, ": ");
		esc(o, m(o, bars[i].label));
		put(o, "</text><rect x=\"240\" y=\"%d\" width=\"%.2f\" height=\"24\" fill=\"%s\" "
		       "data-series=\"%s\" data-n=\"%" PRIu64 "\"/><text x=\"%.1f\" y=\"%d\">%" PRIu64
		       "</text>\n", y, w, bars[i].colour, bars[i].series, bars[i].v, 246 + w, y + 16,
		    bars[i].v);
	}
	put(o, "</svg>\n");
}

/* "queue delay mean (ms)", as the summary says it. */
static void delay_label(const struct out *o, char *buf, size_t size, enum msg which)
{
	snprintf(buf, size, "%s %s (ms)", m(o, MSG_DELAY), m(o, which));
}

static void figures_tiles(struct out *o, const struct figures *f, const char *run)
{
	char pct[32], buf[96];

	tile(o, "rows", run, f->rows, m(o, MSG_ROWS));
	tile(o, "calls", run, f->calls, m(o, MSG_CALLS));
	tile(o, "calls_saved", run, figures_saved(f), m(o, MSG_CALLS_SAVED));
	tile(o, "saved_filter", run, f->skips, m(o, MSG_BY_FILTER));
	tile(o, "saved_coalescing", run, figures_saved_coalescing(f), m(o, MSG_BY_COALESCING));
	tile(o, "zeros", run, f->zeros, m(o, MSG_ZEROS));
	tile(o, "warnings", run, f->warnings, "min_stock_reached");
	tile(o, "late", run, f->late, m(o, MSG_LATE));
	tile(o, "late_zeros", run, f->late_zeros, m(o, MSG_OF_THEM_ZEROS));
	delay_label(o, buf, sizeof buf, MSG_MEAN);
	tile(o, "delay_mean_ms", run, figures_delay_mean(f), buf);
	delay_label(o, buf, sizeof buf, MSG_MAX);
	tile(o, "delay_max_ms", run, f->delay_max_ms < 0 ? 0 : (uint64_t)f->delay_max_ms, buf);
	fmt_percent(pct, sizeof pct, figures_saved(f), f->rows);
	put(o, "<div class=\"tile\"><span class=\"v\">%s</span><span class=\"k\">", pct);
	esc(o, m(o, MSG_CALLS_SAVED));
	put(o, "</span></div>\n");
}

/* "label value", or for a swept setting "label V1/V2/V3" (its values, as given). */
static void one_setting(struct out *o, const struct sweep *sw, const char *setting,
                        const char *label, const char *value, const char *unit)
{
	size_t i, k;

	esc(o, label);
	put(o, " ");
	for (i = 0; sw && i < sw->n; i++)
		if (strcmp(sw->axes[i].setting, setting) == 0) {
			for (k = 0; k < sw->axes[i].n; k++) {
				put(o, "%s", k ? "/" : "");
				esc(o, sw->axes[i].values[k]);
			}
			esc(o, unit);
			return;
		}
	esc(o, value);
	esc(o, unit);
}

/* The feed and the settings; @p sw (may be NULL) names the swept ones. */
static void settings_line(struct out *o, const struct options *opt, const struct sweep *sw)
{
	char buf[32], num[32];

	put(o, "<p class=\"meta\">");
	esc(o, m(o, MSG_R_FEED));
	put(o, ": ");
	esc(o, strcmp(opt->input, "-") == 0 ? "-" : opt->input);
	put(o, " &middot; ");
	one_setting(o, sw, "mode", m(o, MSG_MODE), opt->mode == STG_MODE_RESERVE ? "reserve" : "cutoff",
	            "");
	put(o, ", ");
	snprintf(num, sizeof num, "%" PRId64, opt->window);
	one_setting(o, sw, "window", m(o, MSG_WINDOW), num, "");
	put(o, ", ");
	snprintf(num, sizeof num, "%" PRId64, opt->cap);
	one_setting(o, sw, "cap", m(o, MSG_CAP), opt->cap ? num : m(o, MSG_NONE), "");
	put(o, ", ");
	snprintf(num, sizeof num, "%" PRId64, opt->min_stock);
	one_setting(o, sw, "min-stock", m(o, MSG_MIN_STOCK), num, "");
	put(o, " %s", m(o, MSG_DEFAULT));
	if (opt->market) {
		put(o, " &middot; ");
		esc(o, m(o, MSG_MARKET));
		put(o, ": ");
		one_setting(o, sw, "rate", m(o, MSG_RATE),
		            fmt_rate(buf, sizeof buf, opt->rate, m(o, MSG_NO_LIMIT)), "");
		put(o, ", ");
		snprintf(num, sizeof num, "%" PRId64, opt->latency_ms);
		one_setting(o, sw, "latency", m(o, MSG_ANSWERS_IN), num, " ms");
		put(o, ", ");
		snprintf(num, sizeof num, "%" PRId64, opt->latency_limit_ms);
		one_setting(o, sw, "latency-limit", m(o, MSG_LATE_AFTER), num, " ms");
	}
	put(o, "</p>\n");
}

struct row_list {
	const struct node **v;
	size_t n;
};

static void collect(struct node *n, void *arg)
{
	struct row_list *l = arg;
	l->v[l->n++] = n;
}

static int by_name(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	return strcmp(x->key, y->key);
}

/* Most exports first; ties by name so the page is the same every time. */
static int by_exports(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	if (x->num[0] != y->num[0])
		return x->num[0] > y->num[0] ? -1 : 1;
	return by_name(a, b);
}

static int sorted(const struct table *t, int (*cmp)(const void *, const void *),
                  struct row_list *l)
{
	l->n = 0;
	l->v = calloc(t->count ? t->count : 1, sizeof *l->v);
	if (!l->v)
		return -1;
	table_each(t, collect, l);
	qsort(l->v, l->n, sizeof *l->v, cmp);
	return 0;
}

static void th(struct out *o, const char *text)
{
	put(o, "<th>");
	esc(o, text);
	put(o, "</th>");
}

/*
 * A header row of translated labels; two names are not translated:
 * MSG_NONE stands for min_stock_reached and MSG_COUNT for coalesced.
 */
static void header_row(struct out *o, const enum msg *cols, size_t n)
{
	size_t i;

	put(o, "<tr>");
	for (i = 0; i < n; i++)
		th(o, cols[i] == MSG_NONE ? "min_stock_reached" : cols[i] == MSG_COUNT ? "coalesced"
		                                                                        : m(o, cols[i]));
	put(o, "</tr>\n");
}

static int table_integrations(struct out *o, const struct stats *s)
{
	struct row_list l;
	size_t i;
	static const enum msg cols[] = {
		MSG_INTEGRATION_1, MSG_ROWS, MSG_EXPORTS, MSG_SKIPS, MSG_COUNT, MSG_CALLS,
		MSG_CALLS_SAVED, MSG_R_SHARE, MSG_NONE, MSG_ZEROS, MSG_LATE
	};

	if (sorted(&s->integ, by_name, &l))
		return -1;
	put(o, "<table id=\"integrations\">\n");
	header_row(o, cols, sizeof cols / sizeof *cols);
	for (i = 0; i < l.n; i++) {
		const struct figures *f = l.v[i]->ptr;
		char pct[32];
		fmt_percent(pct, sizeof pct, figures_saved(f), f->rows);
		put(o, "<tr data-integration=\"");
		esc(o, l.v[i]->key);
		put(o, "\"><td>");
		esc(o, l.v[i]->key);
		put(o, "</td><td data-figure=\"rows\">%" PRIu64 "</td><td data-figure=\"exports\">%" PRIu64
		       "</td><td data-figure=\"skips\">%" PRIu64 "</td><td data-figure=\"coalesced\">%"
		       PRIu64 "</td><td data-figure=\"calls\">%" PRIu64 "</td><td data-figure=\""
		       "calls_saved\">%" PRIu64 "</td><td>%s</td><td data-figure=\"warnings\">%" PRIu64
		       "</td><td data-figure=\"zeros\">%" PRIu64 "</td><td data-figure=\"late\">%" PRIu64
		       "</td></tr>\n", f->rows, f->exports, f->skips, f->coalesced, f->calls,
		    figures_saved(f), pct, f->warnings, f->zeros, f->late);
	}
	put(o, "</table>\n");
	free(l.v);
	return 0;
}

/* The SKUs with the most exports (the pairs table holds only pairs with one). */
enum { TOP_SKUS = 20 };

static int table_top(struct out *o, const struct stats *s)
{
	static const enum msg cols[] = { MSG_INTEGRATION_1, MSG_R_SKU, MSG_EXPORTS, MSG_NONE };
	struct row_list l;
	size_t i;

	if (sorted(&s->pairs, by_exports, &l))
		return -1;
	put(o, "<table id=\"top-skus\">\n");
	header_row(o, cols, sizeof cols / sizeof *cols);
	for (i = 0; i < l.n && i < TOP_SKUS; i++) {
		const char *k = l.v[i]->key, *sep = memchr(k, '\x1f', l.v[i]->keylen);
		size_t il = sep ? (size_t)(sep - k) : l.v[i]->keylen;
		if (!l.v[i]->num[0])
			break;
		put(o, "<tr><td>");
		esc_n(o, k, il);
		put(o, "</td><td>");
		esc(o, sep ? sep + 1 : "");
		put(o, "</td><td data-figure=\"sku_exports\">%" PRId64 "</td><td>%" PRId64 "</td></tr>\n",
		    l.v[i]->num[0], l.v[i]->num[1]);
	}
	put(o, "</table>\n");
	free(l.v);
	return 0;
}

static void h2(struct out *o, enum msg title)
{
	put(o, "<h2>");
	esc(o, m(o, title));
	put(o, "</h2>\n");
}

static int finish(struct out *o, int rc)
{
	int e;

	put(o, "</body>\n</html>\n");
	if (ferror(o->f))
		rc = -1;
	e = errno;
	if (fclose(o->f) != 0)
		rc = -1;
	else
		errno = e;
	return rc;
}

int report_write(FILE *f, const struct report_in *in)
{
	struct out o;
	const struct series *h = &in->on->hours;
	const struct figures *on = &in->on->all, *off = in->off ? &in->off->all : NULL;
	char from[32], to[32];
	int rc = 0;
	static const struct series_style stock_series[2] = {
		{ "zeros", COLOUR_ZEROS }, { "warnings", COLOUR_WARN }
	};
	static const struct series_style late_series[2] = {
		{ "late-on", COLOUR_ON }, { "late-off", COLOUR_OFF }
	};
	static const struct series_style delay_series[2] = {
		{ "delay-on", COLOUR_ON }, { "delay-off", COLOUR_OFF }
	};
	const char *labels[2];

	o.lang = in->o->lang;
	o.f = f;
	head(&o, m(&o, MSG_R_TITLE));
	settings_line(&o, in->o, NULL);
	if (h->n) {
		fmt_hour(from, sizeof from, h->first);
		fmt_hour(to, sizeof to, h->first + (int64_t)h->n * h->width);
		put(&o, "<p class=\"meta\">");
		esc(&o, m(&o, MSG_R_SPAN));
		/* "1 h per bar": with the unit short, no language needs a plural. */
		put(&o, ": %s &ndash; %s UTC (%" PRId64 " ", from, to, h->width);
		esc(&o, m(&o, MSG_R_HOURS_PER_BAR));
		put(&o, ")</p>\n");
	}
	put(&o, "<div class=\"tiles\" id=\"figures\">\n");
	figures_tiles(&o, on, "on");
	put(&o, "</div>\n");

	h2(&o, MSG_R_PER_HOUR);
	chart_reasons(&o, h);

	h2(&o, MSG_R_SAVED_TITLE);
	chart_saved(&o, on, off);

	h2(&o, MSG_R_STOCKOUTS_TITLE);
	put(&o, "<p class=\"note\">min_stock_reached: ");
	esc(&o, m(&o, MSG_R_BLOCKED));
	put(&o, "</p>\n");
	chart_pair(&o, "chart-stockouts", h, h, &zeros_m, &warnings_m, stock_series);
	labels[0] = m(&o, MSG_ZEROS);
	labels[1] = "min_stock_reached";
	legend(&o, stock_series, labels, 2);

	h2(&o, MSG_R_LATE_TITLE);
	if (!in->o->market) {
		put(&o, "<p class=\"note\">");
		esc(&o, m(&o, MSG_R_NO_MARKET));
		put(&o, "</p>\n");
	} else {
		chart_pair(&o, "chart-late", h, off ? &in->off->hours : h, &late_m,
		           off ? &late_m : &none_m, late_series);
		labels[0] = m(&o, MSG_R_FILTER_ON);
		labels[1] = m(&o, MSG_COL_FILTER_OFF);
		legend(&o, late_series, labels, off ? 2 : 1);
		put(&o, "<h3>");
		esc(&o, m(&o, MSG_R_DELAY_TITLE));
		put(&o, "</h3>\n");
		chart_pair(&o, "chart-delay", h, off ? &in->off->hours : h, &delay_m,
		           off ? &delay_m : &none_m, delay_series);
		legend(&o, delay_series, labels, off ? 2 : 1);
		if (off) {
			put(&o, "<h3>");
			esc(&o, m(&o, MSG_FILTER_OFF));
			put(&o, "</h3>\n<div class=\"tiles\" id=\"figures-off\">\n");
			figures_tiles(&o, off, "off");
			put(&o, "</div>\n");
		}
	}

	h2(&o, MSG_R_PER_INTEGRATION);
	if (table_integrations(&o, in->on))
		rc = -1;
	h2(&o, MSG_R_TOP_SKUS);
	if (!rc && table_top(&o, in->on))
		rc = -1;
	if (rc)
		errno = ENOMEM;
	return finish(&o, rc);
}

int report_write_sweep(FILE *f, const struct options *opt, const struct sweep *s,
                       const struct sweep_result *runs, size_t n)
{
	struct out o;
	uint64_t xmin = 0, xmax = 0, ymax = 0, ytop;
	double pw = CW - PAD_L - PAD_R, ph = CH - PAD_B - PAD_T;
	size_t i, k;

	o.lang = opt->lang;
	o.f = f;
	head(&o, m(&o, MSG_R_TITLE));
	settings_line(&o, opt, s);
	h2(&o, MSG_R_SWEEP_TITLE);
	for (i = 0; i < n; i++) {
		uint64_t x = figures_saved(&runs[i].f);
		xmin = i == 0 || x < xmin ? x : xmin;
		xmax = x > xmax ? x : xmax;
		ymax = runs[i].f.warnings > ymax ? runs[i].f.warnings : ymax;
	}
	/* The calls saved of a sweep differ by a few per cent: the axis spans only them. */
	if (xmax == xmin)
		xmax = xmin + 1;
	put(&o, "<svg id=\"chart-sweep\" viewBox=\"0 0 %d %d\" role=\"img\">\n", CW, CH);
	ytop = axis(&o, ymax + ymax / 8 + 1); /* headroom for the labels above the points */
	put(&o, "<text x=\"%d\" y=\"%d\">%" PRIu64 "</text><text x=\"%d\" y=\"%d\" "
	        "text-anchor=\"end\">%" PRIu64 " ", PAD_L, CH - PAD_B + 16, xmin, CW - PAD_R - 20,
	    CH - PAD_B + 16, xmax);
	esc(&o, m(&o, MSG_CALLS_SAVED));
	put(&o, "</text><text x=\"%d\" y=\"%d\">min_stock_reached</text>\n", PAD_L + 4, PAD_T + 12);
	for (i = 0; i < n; i++) {
		double x = PAD_L + 10 + (pw - 40) * (double)(figures_saved(&runs[i].f) - xmin) /
		                        (double)(xmax - xmin);
		double y = CH - PAD_B - ph * (double)runs[i].f.warnings / (double)ytop;
		int first = 1;
		put(&o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" data-series=\"sweep\"/>\n",
		    x, y, COLOUR_ZEROS);
		/* Runs that land on the same point share one label: "10, 11, 12" (the table's #). */
		for (k = 0; k < i; k++)
			if (figures_saved(&runs[k].f) == figures_saved(&runs[i].f) &&
			    runs[k].f.warnings == runs[i].f.warnings)
				break;
		if (k < i)
			continue;
		put(&o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x + (x > CW / 2 ? -9 : 9),
		    y - 8, x > CW / 2 ? "end" : "start");
		for (k = i; k < n; k++)
			if (figures_saved(&runs[k].f) == figures_saved(&runs[i].f) &&
			    runs[k].f.warnings == runs[i].f.warnings) {
				put(&o, "%s%zu", first ? "" : ", ", k + 1);
				first = 0;
			}
		put(&o, "</text>\n");
	}
	put(&o, "</svg>\n");
	h2(&o, MSG_R_SWEEP_TABLE);
	put(&o, "<table id=\"sweep\">\n<tr><th>#</th>");
	for (k = 0; k < s->n; k++)
		th(&o, s->axes[k].setting);
	th(&o, m(&o, MSG_CALLS));
	th(&o, m(&o, MSG_CALLS_SAVED));
	th(&o, "min_stock_reached");
	th(&o, m(&o, MSG_ZEROS));
	th(&o, m(&o, MSG_LATE));
	put(&o, "</tr>\n");
	for (i = 0; i < n; i++) {
		put(&o, "<tr data-run=\"%zu\"><td>%zu</td>", i + 1, i + 1);
		for (k = 0; k < s->n; k++) {
			put(&o, "<td>");
			esc(&o, runs[i].values[k]);
			put(&o, "</td>");
		}
		put(&o, "<td data-figure=\"calls\">%" PRIu64 "</td><td data-figure=\"calls_saved\">%"
		        PRIu64 "</td><td data-figure=\"warnings\">%" PRIu64 "</td><td data-figure=\""
		        "zeros\">%" PRIu64 "</td><td data-figure=\"late\">%" PRIu64 "</td></tr>\n",
		    runs[i].f.calls, figures_saved(&runs[i].f), runs[i].f.warnings, runs[i].f.zeros,
		    runs[i].f.late);
	}
	put(&o, "</table>\n");
	return finish(&o, 0);
}
