/*
 * Shared helpers of the benchmarks (tests/bench): options, clock, medians,
 * a seeded generator, a counting allocator hook, RSS, forked measurements
 * and the result records tools/bench.sh turns into docs/benchmarks.md.
 *
 * Every benchmark binary takes its settings from the command line
 * (--sizes=10000,100000 --reps=7 --out=FILE --only=NAME), else from the
 * environment (STG_BENCH_<NAME>_SIZES, STG_BENCH_REPS, STG_BENCH_REPS_LARGE,
 * STG_BENCH_OUT), else
 * from short defaults, so `meson test --benchmark` stays quick.
 */
#ifndef STG_BENCH_COMMON_H
#define STG_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <stockguard.h>

#if defined(__GNUC__)
#  define BENCH_NOINLINE __attribute__((noinline))
#else
#  define BENCH_NOINLINE
#endif

#define BENCH_MAX_SIZES 16

typedef struct bench_opts {
	size_t sizes[BENCH_MAX_SIZES];
	size_t nsizes;
	int reps;
	int reps_large;    /* repetitions at sizes >= 5M (STG_BENCH_REPS_LARGE; default reps) */
	const char *out;   /* JSON-lines file to append results to, or NULL */
	const char *only;  /* run only this part (for callgrind), or NULL */
} bench_opts;

/* Parse argv and the environment (STG_BENCH_<env_name>_SIZES ...). */
void bench_parse(bench_opts *o, int argc, char **argv, const char *env_name,
                 const char *default_sizes, int default_reps);
/* The repetitions for size @n. */
int bench_reps(const bench_opts *o, size_t n);
/* 1 when --only is unset or equals @name. */
int bench_want(const bench_opts *o, const char *name);

/*
 * CPU seconds of this process (CLOCK_PROCESS_CPUTIME_ID): the machine the
 * figures come from is shared, so time spent waiting for a CPU is left out.
 * Single-threaded figures use it; the threads figure uses bench_wall().
 */
double bench_now(void);
double bench_wall(void);          /* monotonic seconds */
double bench_median(double *v, int n);   /* sorts v */
double bench_min(const double *v, int n);

/* xorshift64*, fixed seeds: every run sees the same data. */
uint64_t bench_rand(uint64_t *state);
/* Fisher-Yates permutation of 0..n-1. */
void bench_shuffle(uint32_t *v, size_t n, uint64_t *state);

/* Resident set size of this process, in bytes (from /proc/self/statm). */
size_t bench_rss(void);
/* Return the allocator's free memory to the system (glibc malloc_trim;
 * nothing elsewhere), so that an RSS figure counts what is live. */
void bench_trim(void);

/*
 * A stg_allocator that counts exactly the bytes the library asks for (a
 * 16-byte header keeps each block's size; the header is not counted).
 * Also a histogram of live blocks by requested size, for the breakdown.
 * Not the shared fixture's counting allocator (tests/common/fixture.h):
 * that one moves every realloc and scribbles over freed blocks to catch
 * stale pointers, which would weigh on the figures; this one reallocates in
 * place and measures the peak and the histogram instead.
 */
typedef struct bench_counter {
	size_t live_bytes, peak_bytes, live_blocks, calls;
	/* live blocks with size <= 256, by size; larger ones grouped by size
	 * (the first 64 distinct sizes; the rest land in big_other_*) */
	size_t small_count[257];
	size_t big_sizes[64], big_counts[64];
	size_t nbig;
	size_t big_other_blocks, big_other_bytes;
} bench_counter;

void bench_counter_init(bench_counter *c, stg_allocator *a);
/* The @k-th largest group of large live blocks by total bytes (k from 0):
 * its block size and count; 0 when there is none. */
size_t bench_counter_group(const bench_counter *c, size_t k, size_t *count);
/* The live blocks by size, and per entry when @per is not 0. */
void bench_counter_print(const bench_counter *c, FILE *f, size_t per);

/*
 * Run @fn(arg, out, nout) in a forked child and copy its @nout doubles
 * back: each measurement starts from a fresh heap and its RSS is its own.
 * Returns 0, or -1 when the child failed (out is then NaN).
 */
int bench_in_child(void (*fn)(void *arg, double *out, int nout), void *arg, double *out, int nout);

/*
 * One result row. Strings may be NULL. ratio is as defined by ratio_def.
 * met: 1 yes, 0 no, -1 not applicable (report only).
 */
typedef struct bench_row {
	const char *figure;
	size_t size;
	double lib;
	const char *lib_unit;
	double anchor;          /* NaN when the figure has no anchor */
	const char *anchor_name;
	double ratio;           /* NaN when none */
	const char *ratio_def;
	const char *target;
	int met;
	int reps;
	const char *note;
} bench_row;

void bench_emit(const bench_opts *o, const bench_row *r);

/* SKU strings "SKU-%08zu" (12 characters) in one block: sku(i) = base + 13*i. */
char *bench_make_skus(size_t n);
#define BENCH_SKU(base, i) ((base) + (size_t)13 * (i))

/*
 * The workload of the durable benchmarks (bench_durable.c, bench_pg.c): N
 * SKUs of one integration, first seen, so each change is an export and its
 * entry is written with a pending job (policy: minimum 3, window 5;
 * available stock from a seeded generator), and the entries those changes
 * make, encoded with stg_entry_encode() (taken from an in-memory log fed
 * the same changes) for the raw anchors, which write the same bytes.
 */
typedef struct bench_work {
	const char *integration;
	size_t n;
	char *skus;
	int64_t *avail;
	unsigned char *enc; /* the encoded entries, back to back */
	size_t *off;        /* enc + off[i]: entry i, off[i + 1] - off[i] bytes */
} bench_work;

/* Exits with a message when out of memory or when the log fails. */
void bench_work_make(bench_work *w, const char *integration, size_t n, uint64_t seed);
void bench_work_free(bench_work *w);
/* The change of SKU @i. */
stg_submit bench_work_change(const bench_work *w, size_t i);
/* The workload's policy, set on @integration of @log: STG_OK or the error. */
int bench_work_policy(stg_log *log, const char *integration);
/* A transport's send that acknowledges at once, counting in *(size_t *)payload. */
int bench_ack_send(const stg_job *job, stg_job_result *r, void *payload);

#endif
