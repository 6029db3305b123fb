/*
 * The figures of one replay run, counted once and read by both the text
 * summary and the HTML report, so the two cannot disagree.
 *
 * Rows are counted at the row's time; calls (jobs handed to the simulated
 * marketplace) at the time they are sent; late updates at the time of the
 * acknowledgement. Per-hour series, per-integration and per-SKU figures are
 * kept only when a report is written (detail).
 */
#ifndef REPLAY_STATS_H
#define REPLAY_STATS_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

#include "table.h"

struct figures {
	uint64_t rows, exports, skips, coalesced;
	uint64_t by_reason[STG_REASON_COUNT];
	uint64_t warnings;     /* rows with min_stock_reached: oversells the minimum blocked */
	uint64_t calls;        /* jobs handed to the marketplace */
	uint64_t zeros;        /* calls that publish 0: stock-outs published */
	uint64_t acks;         /* acknowledgements */
	uint64_t late;         /* acknowledged later than the latency limit */
	uint64_t late_zeros;   /* of which published 0 */
	uint64_t delay_sum_ms; /* queue delay of the acknowledged calls (saturating) */
	int64_t delay_max_ms;  /* -1: none */
};

/* One bucket of the time series: `width` hours from `hour`. */
struct bucket {
	struct figures f;
};

struct series {
	struct bucket *b;
	size_t n;          /* buckets in use, from the first hour */
	int64_t first;     /* first hour (hours since the epoch, a multiple of width) */
	int64_t width;     /* hours per bucket: a power of two, so buckets merge in pairs */
};

/* At most this many buckets; a longer feed gets wider buckets. */
#define SERIES_MAX 2048

struct stats {
	int detail;          /* keep the series and the tables (for the report) */
	struct figures all;
	struct series hours;
	struct table integ;  /* integration -> ptr struct figures */
	struct table pairs;  /* "integration\x1fsku" -> num[0] exports, num[1] warnings */
	int oom;             /* a detail table could not grow: the run fails */
};

void figures_init(struct figures *f);
void stats_init(struct stats *s, int detail);
void stats_free(struct stats *s);

/* The key of a pair in @p buf (at least 2 * STG_KEY_MAX + 2 bytes); returns its length. */
size_t pair_key(char *buf, const char *integration, size_t ilen, const char *sku, size_t slen);

/* One row at @p t seconds. 0, or -1 out of memory. */
int stats_row(struct stats *s, int64_t t, const char *integration, size_t ilen, const char *sku,
              size_t slen, const stg_submit_result *res);
/* One call sent at @p now_ms. 0, or -1 out of memory. */
int stats_call(struct stats *s, int64_t now_ms, const char *integration, int64_t published);
/* One acknowledgement at @p now_ms. 0, or -1 out of memory. */
int stats_ack(struct stats *s, int64_t now_ms, const char *integration, int64_t published,
              int64_t delay_ms, int late);

/* Calls saved: rows - calls, of which the filter's skips; the rest by coalescing. */
uint64_t figures_saved(const struct figures *f);
uint64_t figures_saved_coalescing(const struct figures *f);
/* Mean queue delay in ms, rounded down (0 when nothing was acknowledged). */
uint64_t figures_delay_mean(const struct figures *f);

#endif
