/*
 * evaluate + filter: stockguard against a plain inline C loop doing the
 * same cutoff + window rule on the same arrays, in the same process.
 *
 *   percall  stg_filter_decide() once per change (it evaluates from and to)
 *   batch    stg_filter_batch() over the arrays
 *   loop     the anchor: the rule written inline here, compiled with the
 *            same flags as the library (same Meson build)
 *
 * All three write the same four outputs per change (decision, reason,
 * published "to", warning) and their checksums must agree; the checksum is
 * printed so nothing can be optimised away. The minimum and the window are
 * read through volatile variables so the loop cannot be specialised on
 * constants. Repetitions alternate the order of the three kernels; the
 * median of each is reported. For small sizes each sample repeats the
 * kernel so it covers at least STG_BENCH_MIN_ITEMS changes (default 4M).
 *
 *   bench_filter [--sizes=10k,100k,1M,10M] [--reps=7] [--only=percall|batch|loop]
 *
 * --only runs one kernel once (for valgrind --tool=callgrind
 * --toggle-collect=kernel_<name>).
 */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static volatile int64_t g_min = 3;
static volatile int64_t g_window = 5;

typedef struct outs {
	uint8_t *decisions, *reasons, *warnings;
	int64_t *published;
} outs;

BENCH_NOINLINE static void kernel_loop(size_t n, const int64_t *from, const int64_t *to, outs *o)
{
	const int64_t m = g_min, w = g_window;
	uint8_t *restrict dec = o->decisions, *restrict rea = o->reasons, *restrict war = o->warnings;
	int64_t *restrict pub = o->published;
	size_t i;

	for (i = 0; i < n; i++) {
		int64_t a0 = from[i], a1 = to[i];
		int64_t p0 = a0 <= m ? 0 : a0;
		int64_t p1 = a1 <= m ? 0 : a1;
		uint8_t d, r;

		if (p0 == p1) {
			d = STG_DECISION_SKIP;
			r = STG_REASON_NO_CHANGE;
		} else if (p0 <= w || p1 <= w) {
			d = STG_DECISION_EXPORT;
			r = STG_REASON_LOW_STOCK;
		} else {
			d = STG_DECISION_SKIP;
			r = STG_REASON_OUTSIDE_WINDOW;
		}
		dec[i] = d;
		rea[i] = r;
		pub[i] = p1;
		war[i] = (uint8_t)(a1 > 0 && p1 == 0);
	}
}

BENCH_NOINLINE static void kernel_percall(const stg_policy *p, size_t n, const int64_t *from,
                                          const int64_t *to, outs *o)
{
	stg_change c = STG_CHANGE_INIT;
	stg_filter_result r;
	size_t i;

	c.flags = STG_CHANGE_HAS_FROM;
	for (i = 0; i < n; i++) {
		c.from = from[i];
		c.to = to[i];
		if (stg_filter_decide(p, &c, &r) != STG_OK)
			abort();
		o->decisions[i] = (uint8_t)r.decision;
		o->reasons[i] = (uint8_t)r.reason;
		o->published[i] = r.to.published;
		o->warnings[i] = (uint8_t)r.to.warnings;
	}
}

BENCH_NOINLINE static void kernel_batch(const stg_policy *p, size_t n, const int64_t *from,
                                        const int64_t *to, outs *o)
{
	if (stg_filter_batch(p, n, NULL, NULL, from, NULL, to, NULL, NULL, o->decisions, o->reasons,
	                     o->published, o->warnings) != STG_OK)
		abort();
}

static uint64_t checksum(size_t n, const outs *o)
{
	uint64_t h = 1469598103934665603u;
	size_t i;
	for (i = 0; i < n; i++) {
		h = (h ^ o->decisions[i]) * 1099511628211u;
		h = (h ^ o->reasons[i]) * 1099511628211u;
		h = (h ^ (uint64_t)o->published[i]) * 1099511628211u;
		h = (h ^ o->warnings[i]) * 1099511628211u;
	}
	return h;
}

static void outs_alloc(outs *o, size_t n)
{
	o->decisions = malloc(n);
	o->reasons = malloc(n);
	o->warnings = malloc(n);
	o->published = malloc(n * sizeof *o->published);
	if (!o->decisions || !o->reasons || !o->warnings || !o->published) {
		fprintf(stderr, "bench_filter: out of memory\n");
		exit(1);
	}
	memset(o->decisions, 0xff, n);
	memset(o->reasons, 0xff, n);
	memset(o->warnings, 0xff, n);
	memset(o->published, 0xff, n * sizeof *o->published);
}

static void outs_free(outs *o)
{
	free(o->decisions);
	free(o->reasons);
	free(o->warnings);
	free(o->published);
}

/* Stock levels as a connector sees them: many small moves around the low
 * end, some large values, a few oversold (negative) quantities. */
static void make_data(size_t n, int64_t *from, int64_t *to)
{
	uint64_t s = 0x9e3779b97f4a7c15u;
	size_t i;
	for (i = 0; i < n; i++) {
		uint64_t r = bench_rand(&s);
		int64_t a = (r % 100) < 40 ? (int64_t)((r >> 8) % 16) : (int64_t)((r >> 8) % 500);
		if ((r >> 20) % 100 == 0)
			a = -(int64_t)((r >> 28) % 5);
		from[i] = a;
		if ((r >> 32) % 100 < 70)
			to[i] = a + (int64_t)((r >> 40) % 7) - 3;
		else
			to[i] = (int64_t)((r >> 44) % 500);
	}
}

enum { K_LOOP, K_PERCALL, K_BATCH, K_N };
static const char *const knames[K_N] = { "loop", "percall", "batch" };

static void run_kernel(int k, const stg_policy *p, size_t n, const int64_t *from,
                       const int64_t *to, outs *o)
{
	switch (k) {
	case K_LOOP: kernel_loop(n, from, to, o); break;
	case K_PERCALL: kernel_percall(p, n, from, to, o); break;
	default: kernel_batch(p, n, from, to, o); break;
	}
}

int main(int argc, char **argv)
{
	bench_opts opt;
	stg_policy *p;
	size_t si, min_items = 4000000;
	const char *v;

	bench_parse(&opt, argc, argv, "FILTER", "10k,100k", 7);
	if ((v = getenv("STG_BENCH_MIN_ITEMS")) && *v)
		min_items = (size_t)strtod(v, NULL);
	if (stg_policy_new(&p, NULL) || stg_policy_set_min_stock(p, g_min) ||
	    stg_policy_set_window(p, g_window)) {
		fprintf(stderr, "policy: %s\n", stg_last_error());
		return 1;
	}
	printf("# evaluate+filter: cutoff mode, minimum %lld, window %lld, no overrides\n",
	       (long long)g_min, (long long)g_window);

	for (si = 0; si < opt.nsizes; si++) {
		size_t n = opt.sizes[si], inner, it;
		int64_t *from = malloc(n * sizeof *from), *to = malloc(n * sizeof *to);
		outs o[K_N];
		double *t[K_N], med[K_N], mn[K_N];
		uint64_t sum[K_N];
		int k, r, reps = bench_reps(&opt, n);
		char note[256];

		if (!from || !to) {
			fprintf(stderr, "bench_filter: out of memory\n");
			return 1;
		}
		make_data(n, from, to);
		inner = n >= min_items ? 1 : (min_items + n - 1) / n;
		if (opt.only) {
			inner = 1;
			reps = 1;
		}
		for (k = 0; k < K_N; k++) {
			outs_alloc(&o[k], n);
			t[k] = calloc((size_t)reps, sizeof(double));
		}
		for (r = 0; r < reps; r++) {
			int j;
			for (j = 0; j < K_N; j++) {
				/* rotate the order each repetition */
				int kk = (j + r) % K_N;
				double t0;
				if (!bench_want(&opt, knames[kk]))
					continue;
				t0 = bench_now();
				for (it = 0; it < inner; it++)
					run_kernel(kk, p, n, from, to, &o[kk]);
				t[kk][r] = (bench_now() - t0) / ((double)n * (double)inner) * 1e9;
			}
		}
		for (k = 0; k < K_N; k++) {
			sum[k] = bench_want(&opt, knames[k]) ? checksum(n, &o[k]) : 0;
			mn[k] = bench_min(t[k], reps);
			med[k] = bench_median(t[k], reps);
		}
		printf("# n=%zu inner=%zu checksums loop=%016llx percall=%016llx batch=%016llx\n", n,
		       inner, (unsigned long long)sum[K_LOOP], (unsigned long long)sum[K_PERCALL],
		       (unsigned long long)sum[K_BATCH]);
		if (!opt.only && (sum[K_LOOP] != sum[K_PERCALL] || sum[K_LOOP] != sum[K_BATCH])) {
			fprintf(stderr, "bench_filter: the library and the loop disagree at n=%zu\n", n);
			return 1;
		}
		if (!opt.only) {
			bench_row row = { 0 };
			row.figure = "evaluate+filter, one change per call";
			row.size = n;
			row.lib = med[K_PERCALL];
			row.lib_unit = "ns/change";
			row.anchor = med[K_LOOP];
			row.anchor_name = "inline C loop";
			row.ratio = med[K_PERCALL] / med[K_LOOP];
			row.ratio_def = "time lib / time loop";
			row.target = "<= 1.2x";
			row.met = row.ratio <= 1.2;
			row.reps = reps;
			snprintf(note, sizeof note, "min of reps: lib %.3g, loop %.3g ns; checksum %016llx",
			         mn[K_PERCALL], mn[K_LOOP], (unsigned long long)sum[K_LOOP]);
			row.note = note;
			bench_emit(&opt, &row);
			row.figure = "evaluate+filter, batch call";
			row.lib = med[K_BATCH];
			row.ratio = med[K_BATCH] / med[K_LOOP];
			row.target = "<= 1.0x";
			row.met = row.ratio <= 1.0;
			snprintf(note, sizeof note, "min of reps: lib %.3g, loop %.3g ns; checksum %016llx",
			         mn[K_BATCH], mn[K_LOOP], (unsigned long long)sum[K_LOOP]);
			bench_emit(&opt, &row);
		}
		for (k = 0; k < K_N; k++) {
			outs_free(&o[k]);
			free(t[k]);
		}
		free(from);
		free(to);
	}
	stg_policy_free(p);
	return 0;
}
