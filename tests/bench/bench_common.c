/* Helpers of the benchmarks; see bench_common.h. */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static void parse_sizes(bench_opts *o, const char *s)
{
	o->nsizes = 0;
	while (*s && o->nsizes < BENCH_MAX_SIZES) {
		char *end;
		double v = strtod(s, &end);
		if (end == s) {
			fprintf(stderr, "bench: bad size list near '%s'\n", s);
			exit(2);
		}
		if (*end == 'k' || *end == 'K') { v *= 1e3; end++; }
		else if (*end == 'M' || *end == 'm') { v *= 1e6; end++; }
		o->sizes[o->nsizes++] = (size_t)v;
		s = end;
		if (*s == ',')
			s++;
	}
}

void bench_parse(bench_opts *o, int argc, char **argv, const char *env_name,
                 const char *default_sizes, int default_reps)
{
	char name[96];
	const char *v;
	int i;

	memset(o, 0, sizeof *o);
	parse_sizes(o, default_sizes);
	o->reps = default_reps;
	snprintf(name, sizeof name, "STG_BENCH_%s_SIZES", env_name);
	if ((v = getenv(name)) && *v)
		parse_sizes(o, v);
	if ((v = getenv("STG_BENCH_REPS")) && *v)
		o->reps = atoi(v);
	o->reps_large = 0;
	if ((v = getenv("STG_BENCH_REPS_LARGE")) && *v)
		o->reps_large = atoi(v);
	if ((v = getenv("STG_BENCH_OUT")) && *v)
		o->out = v;
	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--sizes=", 8))
			parse_sizes(o, argv[i] + 8);
		else if (!strncmp(argv[i], "--reps=", 7))
			o->reps = atoi(argv[i] + 7);
		else if (!strncmp(argv[i], "--reps-large=", 13))
			o->reps_large = atoi(argv[i] + 13);
		else if (!strncmp(argv[i], "--out=", 6))
			o->out = argv[i] + 6;
		else if (!strncmp(argv[i], "--only=", 7))
			o->only = argv[i] + 7;
		else {
			fprintf(stderr, "usage: %s [--sizes=10k,1M] [--reps=N] [--reps-large=N] [--out=FILE]"
			        " [--only=PART]\n"
			        "  env: STG_BENCH_%s_SIZES, STG_BENCH_REPS, STG_BENCH_REPS_LARGE,"
			        " STG_BENCH_OUT\n",
			        argv[0], env_name);
			exit(2);
		}
	}
	if (o->reps < 1)
		o->reps = 1;
	if (o->reps_large < 1)
		o->reps_large = o->reps;
}

int bench_reps(const bench_opts *o, size_t n)
{
	return n >= 5000000 ? o->reps_large : o->reps;
}

int bench_want(const bench_opts *o, const char *name)
{
	return !o->only || !strcmp(o->only, name);
}

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_min(const double *v, int n)
{
	double m = v[0];
	int i;
	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(2685821657736338717);
}

void bench_shuffle(uint32_t *v, size_t n, uint64_t *state)
{
	size_t i;
	for (i = 0; i < n; i++)
		v[i] = (uint32_t)i;
	for (i = n; i > 1; i--) {
		size_t j = (size_t)(bench_rand(state) % i);
		uint32_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

size_t bench_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

void bench_trim(void)
{
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}

/* ------------------------------------------------------ counting allocator */

#define HDR 16

static void count_add(bench_counter *c, size_t size)
{
	size_t i;

	c->live_bytes += size;
	c->live_blocks++;
	if (c->live_bytes > c->peak_bytes)
		c->peak_bytes = c->live_bytes;
	if (size <= 256) {
		c->small_count[size]++;
		return;
	}
	for (i = 0; i < c->nbig; i++)
		if (c->big_sizes[i] == size) {
			c->big_counts[i]++;
			return;
		}
	if (c->nbig < sizeof c->big_sizes / sizeof c->big_sizes[0]) {
		c->big_sizes[c->nbig] = size;
		c->big_counts[c->nbig++] = 1;
		return;
	}
	c->big_other_blocks++;
	c->big_other_bytes += size;
}

static void count_del(bench_counter *c, size_t size)
{
	size_t i;

	c->live_bytes -= size;
	c->live_blocks--;
	if (size <= 256) {
		c->small_count[size]--;
		return;
	}
	for (i = 0; i < c->nbig; i++)
		if (c->big_sizes[i] == size) {
			if (--c->big_counts[i] == 0) {
				c->nbig--;
				c->big_sizes[i] = c->big_sizes[c->nbig];
				c->big_counts[i] = c->big_counts[c->nbig];
			}
			return;
		}
	c->big_other_blocks--;
	c->big_other_bytes -= size;
}

size_t bench_counter_group(const bench_counter *c, size_t k, size_t *count)
{
	size_t order[64], i, j;

	for (i = 0; i < c->nbig; i++) {
		/* insertion sort of the group indexes by total bytes, largest first */
		for (j = i; j > 0 && c->big_sizes[order[j - 1]] * c->big_counts[order[j - 1]] <
		                         c->big_sizes[i] * c->big_counts[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	if (k >= c->nbig) {
		*count = 0;
		return 0;
	}
	*count = c->big_counts[order[k]];
	return c->big_sizes[order[k]];
}

static void *cnt_malloc(size_t size, void *payload)
{
	bench_counter *c = payload;
	unsigned char *p = malloc(size + HDR);
	c->calls++;
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof size);
	count_add(c, size);
	return p + HDR;
}

static void cnt_free(void *ptr, void *payload)
{
	bench_counter *c = payload;
	unsigned char *p;
	size_t size;
	if (!ptr)
		return;
	c->calls++;
	p = (unsigned char *)ptr - HDR;
	memcpy(&size, p, sizeof size);
	count_del(c, size);
	free(p);
}

static void *cnt_realloc(void *ptr, size_t size, void *payload)
{
	bench_counter *c = payload;
	unsigned char *p, *q;
	size_t old;
	if (!ptr)
		return cnt_malloc(size, payload);
	c->calls++;
	p = (unsigned char *)ptr - HDR;
	memcpy(&old, p, sizeof old);
	q = realloc(p, size + HDR);
	if (!q)
		return NULL;
	/* new before old: a moving realloc has both alive for a moment (peak) */
	count_add(c, size);
	count_del(c, old);
	memcpy(q, &size, sizeof size);
	return q + HDR;
}

void bench_counter_init(bench_counter *c, stg_allocator *a)
{
	memset(c, 0, sizeof *c);
	stg_allocator_init(a, STG_ALLOCATOR_VERSION);
	a->malloc_fn = cnt_malloc;
	a->realloc_fn = cnt_realloc;
	a->free_fn = cnt_free;
	a->payload = c;
}

void bench_counter_print(const bench_counter *c, FILE *f, size_t per)
{
	size_t i, small_bytes = 0, small_blocks = 0;
	fprintf(f, "  live %zu bytes in %zu blocks (peak %zu), %.1f bytes per entry\n",
	        c->live_bytes, c->live_blocks, c->peak_bytes,
	        per ? (double)c->live_bytes / (double)per : 0.0);
	for (i = 0; i <= 256; i++)
		if (c->small_count[i]) {
			fprintf(f, "  %zu blocks of %zu bytes (%.2f per entry)\n", c->small_count[i], i,
			        per ? (double)c->small_count[i] / (double)per : 0.0);
			small_blocks += c->small_count[i];
			small_bytes += c->small_count[i] * i;
		}
	for (i = 0; i < c->nbig; i++) {
		size_t count, sz = bench_counter_group(c, i, &count);
		fprintf(f, "  %zu block%s of %zu bytes (%.1f bytes per entry)\n", count,
		        count > 1 ? "s" : "", sz, per ? (double)(sz * count) / (double)per : 0.0);
	}
	if (c->big_other_blocks)
		fprintf(f, "  %zu other large blocks, %zu bytes\n", c->big_other_blocks,
		        c->big_other_bytes);
	fprintf(f, "  small blocks: %zu, %zu bytes\n", small_blocks, small_bytes);
}

/* ------------------------------------------------------------ in a child */

int bench_in_child(void (*fn)(void *arg, double *out, int nout), void *arg, double *out, int nout)
{
	int fd[2], status, i;
	pid_t pid;
	size_t want = sizeof(double) * (size_t)nout, got = 0;

	for (i = 0; i < nout; i++)
		out[i] = NAN;
	fflush(NULL);
	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		double *buf = calloc((size_t)nout, sizeof *buf);
		size_t off = 0;
		close(fd[0]);
		fn(arg, buf, nout);
		while (off < want) {
			ssize_t w = write(fd[1], (char *)buf + off, want - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		fflush(NULL);
		_exit(0);
	}
	close(fd[1]);
	while (got < want) {
		ssize_t r = read(fd[0], (char *)out + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != want || !WIFEXITED(status) || WEXITSTATUS(status)) {
		for (i = 0; i < nout; i++)
			out[i] = NAN;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- results */

static void json_str(FILE *f, const char *k, const char *v, int comma)
{
	fprintf(f, "\"%s\": ", k);
	if (!v) {
		fputs("null", f);
	} else {
		fputc('"', f);
		for (; *v; v++) {
			if (*v == '"' || *v == '\\')
				fputc('\\', f);
			fputc(*v, f);
		}
		fputc('"', f);
	}
	if (comma)
		fputs(", ", f);
}

static void json_num(FILE *f, const char *k, double v, int comma)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\": null", k);
	else
		fprintf(f, "\"%s\": %.6g", k, v);
	if (comma)
		fputs(", ", f);
}

void bench_emit(const bench_opts *o, const bench_row *r)
{
	FILE *f;

	printf("%-44s %10zu  lib %12.4g %-10s", r->figure, r->size, r->lib,
	       r->lib_unit ? r->lib_unit : "");
	if (!isnan(r->anchor))
		printf("  anchor %12.4g", r->anchor);
	if (!isnan(r->ratio))
		printf("  ratio %8.3f", r->ratio);
	if (r->target)
		printf("  target %s %s", r->target, r->met < 0 ? "" : r->met ? "MET" : "MISSED");
	if (r->note)
		printf("  (%s)", r->note);
	printf("\n");
	fflush(stdout);
	if (!o->out)
		return;
	f = fopen(o->out, "a");
	if (!f) {
		perror(o->out);
		return;
	}
	fputc('{', f);
	json_str(f, "figure", r->figure, 1);
	fprintf(f, "\"size\": %zu, ", r->size);
	json_num(f, "lib", r->lib, 1);
	json_str(f, "lib_unit", r->lib_unit, 1);
	json_num(f, "anchor", r->anchor, 1);
	json_str(f, "anchor_name", r->anchor_name, 1);
	json_num(f, "ratio", r->ratio, 1);
	json_str(f, "ratio_def", r->ratio_def, 1);
	json_str(f, "target", r->target, 1);
	fprintf(f, "\"met\": %s, ", r->met < 0 ? "null" : r->met ? "true" : "false");
	fprintf(f, "\"reps\": %d, ", r->reps);
	json_str(f, "note", r->note, 0);
	fputs("}\n", f);
	fclose(f);
}

char *bench_make_skus(size_t n)
{
	char *b = malloc(n * 13 + 1);
	size_t i;
	if (!b) {
		fprintf(stderr, "bench: out of memory for %zu SKUs\n", n);
		exit(1);
	}
	if (n > 100000000) {
		fprintf(stderr, "bench: at most 100M SKUs (8 digits)\n");
		exit(2);
	}
	for (i = 0; i < n; i++) {
		char *s = BENCH_SKU(b, i);
		size_t v = i;
		int d;
		memcpy(s, "SKU-", 4);
		for (d = 11; d >= 4; d--) {
			s[d] = (char)('0' + v % 10);
			v /= 10;
		}
		s[12] = '\0';
	}
	return b;
}

/* ---------------------------------------------------- durable workload */

static void work_die(const char *why)
{
	fprintf(stderr, "bench: workload: %s\n", why);
	exit(1);
}

stg_submit bench_work_change(const bench_work *w, size_t i)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = w->integration;
	s.sku = BENCH_SKU(w->skus, i);
	s.available = w->avail[i];
	s.sequence = 1;
	return s;
}

int bench_ack_send(const stg_job *job, stg_job_result *r, void *payload)
{
	(void)job;
	++*(size_t *)payload;
	r->outcome = STG_OUTCOME_OK;
	return 0;
}

int bench_work_policy(stg_log *log, const char *integration)
{
	stg_policy *p;
	int rc;

	if ((rc = stg_policy_new(&p, NULL)) != STG_OK)
		return rc;
	if ((rc = stg_policy_set_min_stock(p, 3)) == STG_OK &&
	    (rc = stg_policy_set_window(p, 5)) == STG_OK)
		rc = stg_log_set_policy(log, integration, p);
	stg_policy_free(p);
	return rc;
}

void bench_work_make(bench_work *w, const char *integration, size_t n, uint64_t seed)
{
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
	stg_transport t = STG_TRANSPORT_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_submit *sub = malloc(n * sizeof *sub);
	size_t i, acks = 0, done, len, cap = n * 128;
	stg_log *log;

	w->integration = integration;
	w->n = n;
	w->skus = bench_make_skus(n);
	w->avail = malloc(n * sizeof *w->avail);
	w->off = malloc((n + 1) * sizeof *w->off);
	w->enc = malloc(cap);
	if (!sub || !w->avail || !w->off || !w->enc)
		work_die("out of memory");
	for (i = 0; i < n; i++)
		w->avail[i] = (int64_t)(bench_rand(&seed) % 120);
	for (i = 0; i < n; i++)
		sub[i] = bench_work_change(w, i);
	t.send = bench_ack_send;
	t.payload = &acks;
	o.transport = &t;
	if (stg_log_open(&log, &o) != STG_OK)
		work_die(stg_last_error());
	if (bench_work_policy(log, integration) != STG_OK ||
	    stg_log_submit_batch(log, sub, n, NULL, &done) != STG_OK || done != n)
		work_die(stg_log_errmsg(log));
	w->off[0] = 0;
	for (i = 0; i < n; i++) {
		stg_entry e;
		if (stg_log_get(log, integration, BENCH_SKU(w->skus, i), &e) != STG_OK ||
		    stg_entry_encode(&e, buf, sizeof buf, &len) != STG_OK)
			work_die(stg_log_errmsg(log));
		while (w->off[i] + len > cap)
			if (!(w->enc = realloc(w->enc, cap *= 2)))
				work_die("out of memory");
		memcpy(w->enc + w->off[i], buf, len);
		w->off[i + 1] = w->off[i] + len;
	}
	stg_log_close(log);
	free(sub);
}

void bench_work_free(bench_work *w)
{
	free(w->skus);
	free(w->avail);
	free(w->enc);
	free(w->off);
}
