/*
 * --sweep SETTING=V1,V2,...: the settings a sweep may vary and the
 * combinations of their values (the first --sweep varies slowest). The
 * values are kept as text and applied by the caller through the same parser
 * as the command line, so a sweep run and a separate run read a value the
 * same way.
 */
#ifndef REPLAY_SWEEP_H
#define REPLAY_SWEEP_H

#include <stddef.h>

/* The settings a sweep can vary, as their option names without "--". */
extern const char *const sweep_settings[];

struct sweep_axis {
	const char *setting;  /* one of sweep_settings */
	char *list;           /* a copy of the values, NUL-separated */
	const char **values;
	size_t n;
};

struct sweep {
	struct sweep_axis *axes;
	size_t n;
	size_t *at;           /* the current combination: one index per axis */
};

/* Combinations are capped so a typo cannot start a night-long run. */
#define SWEEP_MAX_RUNS 10000

/*
 * Add "SETTING=V1,V2,..." (@p arg) as one axis. A setting given twice
 * replaces its values (the last one wins, as for other options).
 * 0; -1 with *why set (a static string); -2 out of memory.
 */
int sweep_add(struct sweep *s, const char *arg, const char **why);
void sweep_free(struct sweep *s);
/* The number of runs (the product of the axes), 0 when there is no sweep. */
size_t sweep_runs(const struct sweep *s);
/* The first combination, then the next one: 1 while there is one. */
int sweep_first(struct sweep *s);
int sweep_next(struct sweep *s);

#endif
