/*
 * The text summary of stockguard-replay (standard error). Without a new
 * option it is byte for byte the summary tests/replay/sample.golden.summary
 * holds; --rate, --latency and --report add a what-if part, and --lang
 * changes the words (not the reason and warning names, which are the CSV's).
 */
#ifndef REPLAY_SUMMARY_H
#define REPLAY_SUMMARY_H

#include <stockguard.h>

#include <stdio.h>

#include "options.h"
#include "stats.h"

struct summary_in {
	const struct options *o;
	stg_log *log;
	const struct figures *f;    /* the run */
	const struct figures *off;  /* the same feed with the filter off, or NULL */
	size_t integrations;
	int whatif;                 /* print the what-if part */
};

/* 0; -1 the log could not be read (see stg_log_errmsg()); -2 out of memory. */
int summary_print(FILE *f, const struct summary_in *in);

/* "12.3%" with one decimal rounded half up, "-" when @p whole is 0. */
void fmt_percent(char *buf, size_t size, uint64_t part, uint64_t whole);
/* Columns @p s takes on a terminal (UTF-8: continuation bytes take none). */
size_t text_width(const char *s);
/* The rate of an integration as text: "5/s", or @p none when unlimited. */
const char *fmt_rate(char *buf, size_t size, int64_t per_s, const char *none);

#endif
