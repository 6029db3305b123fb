/*
 * Progress of a long replay on standard error (rows, rows/s, time left),
 * only when standard error is a terminal: pipes, files and tests see
 * nothing.
 */
#ifndef REPLAY_PROGRESS_H
#define REPLAY_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct progress {
	int on;
	int shown;           /* something is on the line: erase it before other output */
	double start, last;  /* seconds, monotonic */
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
