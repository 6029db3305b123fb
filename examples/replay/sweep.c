/* Sweep axes and combinations (see sweep.h). */
#include "sweep.h"

#include <stdlib.h>
#include <string.h>

const char *const sweep_settings[] = {
	"min-stock", "window", "mode", "cap", "rate", "latency", "latency-limit", NULL
};

static void axis_free(struct sweep_axis *a)
{
	free(a->list);
	free(a->values);
}

int sweep_add(struct sweep *s, const char *arg, const char **why)
{
	const char *eq = strchr(arg, '=');
	size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg), i, k, n = 1, len;
	struct sweep_axis a, *axes;
	char *p;

	for (k = 0; sweep_settings[k]; k++)
		if (strlen(sweep_settings[k]) == namelen && strncmp(arg, sweep_settings[k], namelen) == 0)
			break;
	if (!sweep_settings[k]) {
		*why = "unknown setting (a sweep varies min-stock, window, mode, cap, rate, latency "
		       "or latency-limit)";
		return -1;
	}
	if (!eq || !eq[1]) {
		*why = "empty list of values (expected SETTING=V1,V2,...)";
		return -1;
	}
	len = strlen(eq + 1);
	for (i = 0; i < len; i++)
		n += eq[1 + i] == ',';
	memset(&a, 0, sizeof a);
	a.setting = sweep_settings[k];
	a.list = malloc(len + 1);
	a.values = malloc(n * sizeof *a.values);
	if (!a.list || !a.values) {
		axis_free(&a);
		return -2;
	}
	memcpy(a.list, eq + 1, len + 1);
	for (p = a.list, i = 0; i < n; i++) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p) {
			*why = "empty value in the list (expected SETTING=V1,V2,...)";
			axis_free(&a);
			return -1;
		}
		a.values[i] = p;
		p = comma ? comma + 1 : p + strlen(p);
	}
	a.n = n;
	for (i = 0; i < s->n; i++)
		if (s->axes[i].setting == a.setting) {
			axis_free(&s->axes[i]);
			s->axes[i] = a;
			return 0;
		}
	axes = realloc(s->axes, (s->n + 1) * sizeof *axes);
	if (!axes) {
		axis_free(&a);
		return -2;
	}
	s->axes = axes;
	s->axes[s->n++] = a;
	return 0;
}

void sweep_free(struct sweep *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		axis_free(&s->axes[i]);
	free(s->axes);
	free(s->at);
	memset(s, 0, sizeof *s);
}

size_t sweep_runs(const struct sweep *s)
{
	size_t i, runs = s->n ? 1 : 0;

	for (i = 0; i < s->n; i++) {
		if (runs > SWEEP_MAX_RUNS / s->axes[i].n + 1)
			return SWEEP_MAX_RUNS + 1;
		runs *= s->axes[i].n;
	}
	return runs;
}

int sweep_first(struct sweep *s)
{
	free(s->at);
	s->at = calloc(s->n ? s->n : 1, sizeof *s->at);
	return s->at != NULL && s->n > 0;
}

int sweep_next(struct sweep *s)
{
	size_t i = s->n;

	while (i-- > 0) {
		if (++s->at[i] < s->axes[i].n)
			return 1;
		s->at[i] = 0;
	}
	return 0;
}
