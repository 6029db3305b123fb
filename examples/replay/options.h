/*
 * The settings of one stockguard-replay run, shared by the replay loop
 * (stockguard-replay.c), the text summary and the HTML report.
 */
#ifndef REPLAY_OPTIONS_H
#define REPLAY_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "sweep.h"
#include "table.h"

/* The log's own latency limit when none is given (stg_log_options: one hour). */
#define DEFAULT_LATENCY_LIMIT_MS INT64_C(3600000)

struct options {
	const char *input;        /* path, or "-" */
	int64_t min_stock;        /* default minimum */
	int64_t window;
	int64_t cap;
	int mode;                 /* stg_mode */
	struct table per_min;     /* integration -> num[0] minimum, flag: seen in the feed */
	size_t per_min_order;     /* for printing in command-line order */

	const char *report;       /* --report FILE.html, or NULL */
	int market;               /* --rate or --latency given: simulate a limited marketplace */
	int64_t rate;             /* --rate N/s for every integration: jobs per second; 0: none */
	struct table per_rate;    /* integration -> num[0] jobs per second, flag: seen in the feed */
	int64_t latency_ms;       /* --latency: every call is acknowledged this much later */
	int64_t latency_limit_ms; /* --latency-limit: later than this is late */
	int lang;                 /* enum lang */
	struct sweep sweep;
	int filter_off;           /* the comparison run: every change is sent */
	int explain;              /* --explain: a column with the library's explanation */
};

/* The options that take a value, indexed 0 .. NOPTIONS - 1. */
enum { NOPTIONS = 10 };
/* The index of option @p name (@p len bytes, with "--"), or NOPTIONS when unknown. */
size_t option_find(const char *name, size_t len);
const char *option_name(size_t k);
/* Option @p k set to @p v, with a message on failure. 0, or the exit status. */
int set_option(struct options *o, size_t k, const char *v);
/* The index of a sweep setting (its option name without "--"). */
size_t setting_index(const char *setting);

#endif
