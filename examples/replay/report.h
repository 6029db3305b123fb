/*
 * The HTML report of stockguard-replay: one self-contained page (inline CSS
 * and SVG, no script, no outside reference) a merchant opens in a browser.
 * Every number on it comes from the same struct figures as the text
 * summary, and each is tagged data-figure="NAME" (with data-run="on" or
 * "off") so tests can read them back.
 */
#ifndef REPLAY_REPORT_H
#define REPLAY_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "options.h"
#include "stats.h"

struct report_in {
	const struct options *o;
	const struct stats *on;    /* the run, with detail */
	const struct stats *off;   /* the filter-off run, or NULL */
	size_t integrations;
};

/* One run of a sweep: the value of each axis and its figures. */
struct sweep_result {
	const char **values;       /* one per axis */
	struct figures f;
};

/*
 * Write the page to @p f (opened before the run, so a bad path stops the
 * tool before any work) and close it. 0, or -1 with errno set.
 */
int report_write(FILE *f, const struct report_in *in);
int report_write_sweep(FILE *f, const struct options *o, const struct sweep *s,
                       const struct sweep_result *runs, size_t n);

#endif
