/*
 * Progress of a long replay on standard error (rows, rows/s, time left),
 * only when standard error is a terminal: pipes, files and tests see
 * nothing. It starts after half a second and is redrawn at most five times
 * a second; STOCKGUARD_REPLAY_PROGRESS_MS=N sets both to N ms (0: from the
 * first 4,096 rows, every 4,096 rows), so that a test on a pseudo-terminal
 * does not depend on how fast the machine is.
 */
#ifndef REPLAY_PROGRESS_H
#define REPLAY_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct progress {
	int on;
	int shown;           /* something is on the line: erase it before other output */
	double start, last;  /* seconds, monotonic */
	double quiet, every; /* seconds before the first line, between lines */
	int64_t total;       /* bytes of the input, -1 when unknown (a pipe) */
	char label[48];      /* "run 3/12" for a sweep, else empty */
};

/* Start for the input @p in (its size when it is a regular file). */
void progress_start(struct progress *p, FILE *in, const char *label);
/* Rows done and bytes read so far; prints at most a few times a second. */
void progress_tick(struct progress *p, uint64_t rows, int64_t bytes);
/* Erase the line. */
void progress_end(struct progress *p);

#endif
