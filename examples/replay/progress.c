/* Progress on a terminal (see progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_start(struct progress *p, FILE *in, const char *label)
{
	struct stat st;

	memset(p, 0, sizeof *p);
	p->on = isatty(STDERR_FILENO);
	if (!p->on)
		return;
	p->start = p->last = now_s();
	p->quiet = 0.5;
	p->every = 0.2;
	{
		const char *env = getenv("STOCKGUARD_REPLAY_PROGRESS_MS");
		char *end;
		long ms = env && *env ? strtol(env, &end, 10) : -1;
		if (env && *env && !*end && ms >= 0 && ms <= 60000)
			p->quiet = p->every = (double)ms / 1000;
	}
	p->total = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
	snprintf(p->label, sizeof p->label, "%s%s", label, *label ? ": " : "");
}

void progress_tick(struct progress *p, uint64_t rows, int64_t bytes)
{
	double t, rate;

	if (!p->on)
		return;
	t = now_s();
	/* Quiet for the first half second: short feeds print nothing. */
	if (t - p->last < p->every || t - p->start < p->quiet)
		return;
	p->last = t;
	rate = (double)rows / (t - p->start);
	fprintf(stderr, "\r\033[K%s%llu rows, %.0f rows/s", p->label, (unsigned long long)rows, rate);
	if (p->total > 0 && bytes > 0 && bytes <= p->total) {
		double left = (t - p->start) * (double)(p->total - bytes) / (double)bytes;
		fprintf(stderr, ", %.0f s left", left);
	}
	p->shown = 1;
}

void progress_end(struct progress *p)
{
	if (p->on && p->shown)
		fputs("\r\033[K", stderr);
	p->shown = 0;
}
