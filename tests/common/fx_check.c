/* The failure handler and the small helpers of the fixture; see fixture.h. */
#include "fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*fx_handler)(const char *message);

void fx_set_failure_handler(void (*handler)(const char *message))
{
	fx_handler = handler;
}

char *fx_strdup(const char *s)
{
	size_t n;
	char *d;

	if (!s)
		s = "";
	n = strlen(s) + 1;
	d = malloc(n);
	FX_CHECK(d != NULL, "out of memory");
	memcpy(d, s, n);
	return d;
}

int fx_trips(long *calls, long fail_at, int persistent, long *failures)
{
	++*calls;
	if (fail_at && (*calls == fail_at || (persistent && *calls > fail_at))) {
		++*failures;
		return 1;
	}
	return 0;
}

void *fx_grow(void *p, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : first;
	q = realloc(p, ncap * size);
	FX_CHECK(q != NULL, "out of memory");
	*cap = ncap;
	return q;
}

void fx_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	int n;
	va_list ap;

	n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	if (fx_handler)
		fx_handler(msg);
	fprintf(stderr, "fixture check failed: %s\n", msg);
	fflush(stderr);
	abort();
}
