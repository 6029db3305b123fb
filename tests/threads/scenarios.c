/*
 * Thread-model scenarios; see scenarios.h. Public API only.
 */
#define _POSIX_C_SOURCE 200809L
#include "scenarios.h"

#include "fixture.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 INT64_C(1700000000000)

/* --------------------------------------------------------------- failures */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void thr_fail(thr_err *err, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (err->failed)
		return; /* keep the first */
	err->failed = 1;
	n = (size_t)snprintf(err->msg, sizeof err->msg, "scenarios.c:%d: (%s) ", line, cond);
	if (n >= sizeof err->msg)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
	va_end(ap);
}

#define CHECK(err, cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			thr_fail((err), __LINE__, #cond, __VA_ARGS__);     \
			return -1;                                         \
		}                                                          \
	} while (0)

/* A call that must succeed; the log's message goes into the failure. */
#define CHECK_OK(err, log, call)                                                        \
	do {                                                                            \
		int rc_ = (call);                                                       \
		CHECK(err, rc_ == STG_OK, "%s returned %d (%s): %s", #call, rc_,        \
		      stg_strerror(rc_), (log) ? stg_log_errmsg(log) : stg_last_error()); \
	} while (0)

thr_sizes thr_sizes_default(void)
{
	thr_sizes s = { 4, 3000, 60, 300, 20000, 20000 };
	const char *env = getenv("STG_THREADS_SCALE");
	long pct = env ? strtol(env, NULL, 10) : 100;

	if (pct <= 0 || pct > 10000)
		pct = 100;
	s.policy_items = (int)(s.policy_items * pct / 100) + 50;
	s.policy_rounds = (int)(s.policy_rounds * pct / 100) + 1;
	s.log_rounds = (int)(s.log_rounds * pct / 100) + 10;
	s.shared_ops = (int)(s.shared_ops * pct / 100) + 50;
	s.error_iters = (int)(s.error_iters * pct / 100) + 50;
	return s;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s)
{
	return mix64(*s += 0x9e3779b97f4a7c15ull);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
	return fnv(h, &v, sizeof v);
}

#define FNV0 1469598103934665603ull

/* Run fn in n threads; the first failure is copied into err. */
typedef struct thr_worker {
	pthread_t th;
	int id;
	void *ctx;
	int (*fn)(struct thr_worker *);
	thr_err err;
	int rc;
} thr_worker;

static void *worker_main(void *p)
{
	thr_worker *w = p;

	w->rc = w->fn(w);
	return NULL;
}

static int run_workers(int n, int (*fn)(thr_worker *), void *ctx, thr_err *err)
{
	thr_worker *w = calloc((size_t)n, sizeof *w);
	int i, started = 0, rc = 0;

	CHECK(err, w != NULL, "out of memory");
	for (i = 0; i < n; i++) {
		w[i].id = i;
		w[i].ctx = ctx;
		w[i].fn = fn;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	if (started < n) {
		thr_fail(err, __LINE__, "pthread_create", "only %d of %d threads started", started, n);
		rc = -1;
	}
	for (i = 0; i < started && rc == 0; i++)
		if (w[i].rc) {
			thr_fail(err, __LINE__, "worker", "thread %d: %s", i, w[i].err.msg);
			rc = -1;
		}
	free(w);
	return rc;
}

/* ------------------------------------------------------- in-memory store */

/* The shared fixture's recording storage (tests/common/fixture.h), one per
 * log; the log calls a handle's hooks one at a time. soft: an entry that
 * does not encode sets store.broken, which the scenario reports through its
 * thr_err (a thread must not fail the test from inside a hook). */
static stg_storage fs_hook(fx_storage *fs)
{
	fs->soft = 1;
	return fx_storage_hook(fs);
}

static uint64_t fs_digest(const fx_storage *fs)
{
	uint64_t h = FNV0;
	size_t i;

	for (i = 0; i < fs->n; i++)
		h = fnv(h, fs->recs[i].buf, fs->recs[i].len);
	return fnv_i64(h, (int64_t)fs->n);
}


/* Digest of every entry of a log (query pages of @p page), of its counts and
 * of its stats. Entries are encoded, so every field counts. */
static int log_digest(stg_log *log, size_t page, uint64_t *out, thr_err *err)
{
	stg_entry ents[16];
	uint64_t cursor = 0, h = FNV0;
	size_t count, i, total = 0;
	stg_counts c;
	stg_stats s;

	if (page > 16)
		page = 16;
	for (;;) {
		CHECK_OK(err, log, stg_log_query(log, NULL, &cursor, ents, page, &count));
		if (count == 0)
			break;
		for (i = 0; i < count; i++) {
			unsigned char buf[STG_ENTRY_ENCODED_MAX];
			size_t len;
			CHECK_OK(err, log, stg_entry_encode(&ents[i], buf, sizeof buf, &len));
			h = fnv(h, buf, len);
			total++;
		}
	}
	CHECK_OK(err, log, stg_log_counts(log, NULL, &c));
	CHECK(err, c.pending + c.success + c.error == total, "counts %llu+%llu+%llu != %zu entries",
	      (unsigned long long)c.pending, (unsigned long long)c.success,
	      (unsigned long long)c.error, total);
	h = fnv(h, &c, sizeof c);
	CHECK_OK(err, log, stg_log_stats(log, NULL, &s));
	h = fnv(h, &s, sizeof s);
	*out = h;
	return 0;
}

/* ======================================================= (a) shared policy */

typedef struct pol_out {
	stg_evaluation *ev;      /* stg_policy_evaluate of to */
	int64_t *bpub;           /* stg_policy_evaluate_batch */
	uint8_t *bwarn;
	stg_filter_result *fr;   /* stg_filter_decide */
	uint8_t *fdec, *freas, *fwarn; /* stg_filter_batch */
	int64_t *fpub;
	int64_t *rmin;           /* stg_policy_resolve_min */
	int *rsrc;
} pol_out;

typedef struct pol_ctx {
	const stg_policy *pol[2];
	int n, rounds;
	const char **skus, **cats;
	int64_t *from, *to, *since;
	uint8_t *has_from, *non_stock;
	pol_out ref[2];
	pthread_barrier_t bar;
} pol_ctx;

static int pol_out_alloc(pol_out *o, int n)
{
	size_t k = (size_t)n;

	memset(o, 0, sizeof *o);
	o->ev = calloc(k, sizeof *o->ev);
	o->bpub = calloc(k, sizeof *o->bpub);
	o->bwarn = calloc(k, 1);
	o->fr = calloc(k, sizeof *o->fr);
	o->fdec = calloc(k, 1);
	o->freas = calloc(k, 1);
	o->fwarn = calloc(k, 1);
	o->fpub = calloc(k, sizeof *o->fpub);
	o->rmin = calloc(k, sizeof *o->rmin);
	o->rsrc = calloc(k, sizeof *o->rsrc);
	return o->ev && o->bpub && o->bwarn && o->fr && o->fdec && o->freas && o->fwarn &&
	       o->fpub && o->rmin && o->rsrc ? 0 : -1;
}

static void pol_out_free(pol_out *o)
{
	free(o->ev);
	free(o->bpub);
	free(o->bwarn);
	free(o->fr);
	free(o->fdec);
	free(o->freas);
	free(o->fwarn);
	free(o->fpub);
	free(o->rmin);
	free(o->rsrc);
}

/* Everything a reader can ask of policy @p k, into @p o. */
static int pol_compute(const pol_ctx *c, int k, pol_out *o, thr_err *err)
{
	const stg_policy *p = c->pol[k];
	int i;

	for (i = 0; i < c->n; i++) {
		stg_change ch = STG_CHANGE_INIT;
		CHECK_OK(err, NULL, stg_policy_evaluate(p, c->skus[i], c->cats[i], c->to[i], &o->ev[i]));
		CHECK_OK(err, NULL, stg_policy_resolve_min(p, c->skus[i], c->cats[i], &o->rmin[i],
		                                           &o->rsrc[i]));
		ch.flags = (c->has_from[i] ? STG_CHANGE_HAS_FROM : 0u) |
		           (c->non_stock[i] ? STG_CHANGE_NON_STOCK : 0u);
		ch.sku = c->skus[i];
		ch.category = c->cats[i];
		ch.from = c->from[i];
		ch.to = c->to[i];
		ch.since_export_ms = c->since[i];
		CHECK_OK(err, NULL, stg_filter_decide(p, &ch, &o->fr[i]));
	}
	CHECK_OK(err, NULL, stg_policy_evaluate_batch(p, (size_t)c->n, c->skus, c->cats, c->to,
	                                              o->bpub, o->bwarn));
	CHECK_OK(err, NULL, stg_filter_batch(p, (size_t)c->n, c->skus, c->cats, c->from, c->has_from,
	                                     c->to, c->non_stock, c->since, o->fdec, o->freas,
	                                     o->fpub, o->fwarn));
	return 0;
}

static int pol_compare(const pol_ctx *c, const pol_out *ref, const pol_out *o, const char *what,
                       thr_err *err)
{
	int i;

	for (i = 0; i < c->n; i++) {
		CHECK(err, memcmp(&ref->ev[i], &o->ev[i], sizeof o->ev[i]) == 0,
		      "%s: evaluate of item %d differs (published %lld vs %lld)", what, i,
		      (long long)ref->ev[i].published, (long long)o->ev[i].published);
		CHECK(err, ref->rmin[i] == o->rmin[i] && ref->rsrc[i] == o->rsrc[i],
		      "%s: resolve_min of item %d differs", what, i);
		CHECK(err, memcmp(&ref->fr[i], &o->fr[i], sizeof o->fr[i]) == 0,
		      "%s: filter_decide of item %d differs", what, i);
		CHECK(err, ref->bpub[i] == o->bpub[i] && ref->bwarn[i] == o->bwarn[i],
		      "%s: evaluate_batch of item %d differs", what, i);
		CHECK(err, ref->fdec[i] == o->fdec[i] && ref->freas[i] == o->freas[i] &&
		      ref->fpub[i] == o->fpub[i] && ref->fwarn[i] == o->fwarn[i],
		      "%s: filter_batch of item %d differs", what, i);
	}
	return 0;
}

static int pol_worker(thr_worker *w)
{
	pol_ctx *c = w->ctx;
	pol_out o;
	int r, rc = 0;

	if (pol_out_alloc(&o, c->n)) {
		thr_fail(&w->err, __LINE__, "alloc", "out of memory");
		pthread_barrier_wait(&c->bar);
		pol_out_free(&o);
		return -1;
	}
	pthread_barrier_wait(&c->bar);
	for (r = 0; r < c->rounds && rc == 0; r++) {
		int k = (r + w->id) & 1;
		stg_policy *copy = NULL;

		rc = pol_compute(c, k, &o, &w->err);
		if (rc == 0)
			rc = pol_compare(c, &c->ref[k], &o, "concurrent run", &w->err);
		/* Copying and the getters are reads too. */
		if (rc == 0 && stg_policy_copy(&copy, c->pol[k]) != STG_OK) {
			thr_fail(&w->err, __LINE__, "copy", "stg_policy_copy: %s", stg_last_error());
			rc = -1;
		}
		if (rc == 0) {
			stg_evaluation ev;
			int i;
			for (i = 0; i < c->n && rc == 0; i += 7) {
				stg_policy_evaluate(copy, c->skus[i], c->cats[i], c->to[i], &ev);
				if (memcmp(&ev, &c->ref[k].ev[i], sizeof ev) != 0) {
					thr_fail(&w->err, __LINE__, "copy", "copy evaluates item %d differently", i);
					rc = -1;
				}
			}
			if (rc == 0 && (stg_policy_min_stock(copy) != stg_policy_min_stock(c->pol[k]) ||
			                stg_policy_mode(copy) != stg_policy_mode(c->pol[k]) ||
			                stg_policy_allocation(copy) != stg_policy_allocation(c->pol[k]) ||
			                stg_policy_cap(copy) != stg_policy_cap(c->pol[k]) ||
			                stg_policy_window(copy) != stg_policy_window(c->pol[k]) ||
			                stg_policy_drift(copy) != stg_policy_drift(c->pol[k]) ||
			                stg_policy_heartbeat(copy) != stg_policy_heartbeat(c->pol[k]) ||
			                stg_policy_errmsg(c->pol[k])[0] != '\0')) {
				thr_fail(&w->err, __LINE__, "getters", "a getter differs on the copy");
				rc = -1;
			}
		}
		stg_policy_free(copy);
	}
	pol_out_free(&o);
	return rc;
}

static int pol_make(stg_policy **out, int reserve, thr_err *err)
{
	stg_policy *p;
	char key[32];
	int i;

	CHECK_OK(err, NULL, stg_policy_new(&p, NULL));
	*out = p;
	CHECK_OK(err, NULL, stg_policy_set_min_stock(p, reserve ? 4 : 10));
	CHECK_OK(err, NULL, stg_policy_set_mode(p, reserve ? STG_MODE_RESERVE : STG_MODE_CUTOFF));
	CHECK_OK(err, NULL, stg_policy_set_allocation(p, reserve ? 75 : 90));
	CHECK_OK(err, NULL, stg_policy_set_cap(p, reserve ? 0 : 400));
	CHECK_OK(err, NULL, stg_policy_set_window(p, reserve ? 3 : 6));
	CHECK_OK(err, NULL, stg_policy_set_drift(p, reserve ? 0 : 25));
	CHECK_OK(err, NULL, stg_policy_set_heartbeat(p, reserve ? 0 : 3600000));
	for (i = 0; i < 150; i += 3) {
		snprintf(key, sizeof key, "SKU-%d", i);
		CHECK_OK(err, NULL, stg_policy_set_sku_min(p, key, i % 17));
	}
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "C-%d", i);
		CHECK_OK(err, NULL, stg_policy_set_category_min(p, key, i * 2));
	}
	return 0;
}

int thr_policy_shared(const thr_sizes *sz, thr_err *err)
{
	static char sku_names[300][16], cat_names[12][8];
	stg_policy *pol[2] = { NULL, NULL };
	pol_ctx c;
	uint64_t s = 12345;
	int i, k, rc = -1, have_bar = 0;

	memset(&c, 0, sizeof c);
	for (i = 0; i < 300; i++)
		snprintf(sku_names[i], sizeof sku_names[i], "SKU-%d", i);
	for (i = 0; i < 12; i++)
		snprintf(cat_names[i], sizeof cat_names[i], "C-%d", i);
	c.n = sz->policy_items;
	c.rounds = sz->policy_rounds;
	c.skus = calloc((size_t)c.n, sizeof *c.skus);
	c.cats = calloc((size_t)c.n, sizeof *c.cats);
	c.from = calloc((size_t)c.n, sizeof *c.from);
	c.to = calloc((size_t)c.n, sizeof *c.to);
	c.since = calloc((size_t)c.n, sizeof *c.since);
	c.has_from = calloc((size_t)c.n, 1);
	c.non_stock = calloc((size_t)c.n, 1);
	if (!c.skus || !c.cats || !c.from || !c.to || !c.since || !c.has_from || !c.non_stock ||
	    pol_out_alloc(&c.ref[0], c.n) || pol_out_alloc(&c.ref[1], c.n)) {
		thr_fail(err, __LINE__, "alloc", "out of memory");
		goto out;
	}
	for (i = 0; i < c.n; i++) {
		c.skus[i] = i % 5 == 0 ? NULL : sku_names[rnd(&s) % 300];
		c.cats[i] = i % 4 == 0 ? NULL : cat_names[rnd(&s) % 12];
		c.from[i] = (int64_t)(rnd(&s) % 1200) - 100;
		c.to[i] = i % 3 ? c.from[i] + (int64_t)(rnd(&s) % 21) - 10 : (int64_t)(rnd(&s) % 30) - 3;
		c.has_from[i] = i % 9 != 0;
		c.non_stock[i] = i % 13 == 0;
		c.since[i] = i % 3 == 0 ? -1 : (int64_t)(rnd(&s) % 7200000);
	}
	if (pol_make(&pol[0], 0, err) || pol_make(&pol[1], 1, err))
		goto out;
	c.pol[0] = pol[0];
	c.pol[1] = pol[1];

	/* The single-threaded reference, and single against batch. */
	for (k = 0; k < 2; k++) {
		if (pol_compute(&c, k, &c.ref[k], err))
			goto out;
		for (i = 0; i < c.n; i++) {
			const pol_out *o = &c.ref[k];
			if (o->bpub[i] != o->ev[i].published || o->bwarn[i] != o->ev[i].warnings ||
			    o->fdec[i] != o->fr[i].decision || o->freas[i] != o->fr[i].reason ||
			    o->fpub[i] != o->fr[i].to.published || o->fwarn[i] != o->fr[i].to.warnings) {
				thr_fail(err, __LINE__, "single == batch",
				         "policy %d item %d: batch and single calls disagree", k, i);
				goto out;
			}
		}
	}
	if (pthread_barrier_init(&c.bar, NULL, (unsigned)sz->threads) != 0) {
		thr_fail(err, __LINE__, "barrier", "pthread_barrier_init failed");
		goto out;
	}
	have_bar = 1;
	rc = run_workers(sz->threads, pol_worker, &c, err);
	/* Readers changed nothing. */
	if (rc == 0) {
		pol_out again;
		if (pol_out_alloc(&again, c.n) == 0) {
			for (k = 0; k < 2 && rc == 0; k++) {
				rc = pol_compute(&c, k, &again, err);
				if (rc == 0)
					rc = pol_compare(&c, &c.ref[k], &again, "after the threads", err);
			}
		}
		pol_out_free(&again);
	}
out:
	if (have_bar)
		pthread_barrier_destroy(&c.bar);
	stg_policy_free(pol[0]);
	stg_policy_free(pol[1]);
	pol_out_free(&c.ref[0]);
	pol_out_free(&c.ref[1]);
	free(c.skus);
	free(c.cats);
	free(c.from);
	free(c.to);
	free(c.since);
	free(c.has_from);
	free(c.non_stock);
	return rc;
}

/* ======================================================== (b) own logs */

/* The storage is the shared fixture's. The clock, transport and event hooks
 * of these scenarios stay their own: answers are a hash of the job (so that
 * runs in different threads can be compared), and jobs and events are folded
 * into digests instead of recorded; the shared log's clock is an atomic that
 * every thread moves; the re-entrancy and close-in-hook hooks call into the
 * log; the quarantine allocator keeps freed blocks to catch a use after a
 * close inside a hook. None of that is what the fixture's pieces do. */

typedef struct plog {
	int64_t now;
	fx_storage store;
	uint64_t *async_ids;
	size_t nasync, async_cap;
	int drain;               /* answer everything OK */
	unsigned long calls, batch_calls, clock_calls;
	uint64_t tx_digest, ev_digest;
	unsigned long events[5];
	int oom;
} plog;

static int64_t p_now(void *payload)
{
	plog *pl = payload;

	pl->clock_calls++;
	return pl->now;
}

static void p_event(const stg_event *ev, void *payload)
{
	plog *pl = payload;
	uint64_t h = pl->ev_digest;

	if (ev->type >= 1 && ev->type <= 4)
		pl->events[ev->type]++;
	h = fnv(h, &ev->type, sizeof ev->type);
	h = fnv(h, &ev->http_status, sizeof ev->http_status);
	h = fnv_str(h, ev->integration);
	h = fnv_str(h, ev->sku);
	h = fnv_str(h, ev->message);
	h = fnv_i64(h, ev->available);
	h = fnv_i64(h, ev->min_stock);
	h = fnv_i64(h, ev->latency_ms);
	h = fnv_i64(h, ev->time);
	pl->ev_digest = h;
}

static void p_answer(plog *pl, const stg_job *j, stg_job_result *r)
{
	uint64_t h = mix64(fnv_str(FNV0, j->sku) ^ ((uint64_t)j->attempt << 20) ^ pl->calls);
	unsigned k = (unsigned)(h % 100);

	pl->calls++;
	pl->tx_digest = fnv(pl->tx_digest, &j->id, sizeof j->id);
	pl->tx_digest = fnv_str(pl->tx_digest, j->integration);
	pl->tx_digest = fnv_str(pl->tx_digest, j->sku);
	pl->tx_digest = fnv_i64(pl->tx_digest, j->published);
	pl->tx_digest = fnv_i64(pl->tx_digest, j->available);
	pl->tx_digest = fnv(pl->tx_digest, &j->attempt, sizeof j->attempt);
	pl->tx_digest = fnv(pl->tx_digest, &j->priority, sizeof j->priority);
	if (pl->drain || k < 66) {
		r->outcome = STG_OUTCOME_OK;
	} else if (k < 76) {
		r->outcome = STG_OUTCOME_ASYNC;
		if (pl->nasync == pl->async_cap) {
			size_t ncap = pl->async_cap ? pl->async_cap * 2 : 16;
			uint64_t *n = realloc(pl->async_ids, ncap * sizeof *n);
			if (!n) {
				pl->oom = 1;
				r->outcome = STG_OUTCOME_OK;
				return;
			}
			pl->async_ids = n;
			pl->async_cap = ncap;
		}
		pl->async_ids[pl->nasync++] = j->id;
	} else if (k < 84) {
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 503;
		r->message = "service unavailable";
	} else if (k < 89) {
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 429;
		r->retry_after_ms = 2000;
		r->message = "slow down";
	} else if (k < 93) {
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_NOT_CATALOGUED;
		r->http_status = 404;
		r->message = "product not catalogued";
	} else if (k < 97) {
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 422;
		r->message = "rejected: bad EAN";
	} else {
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 401;
		r->message = "token expired";
	}
}

static int p_send(const stg_job *j, stg_job_result *r, void *payload)
{
	p_answer(payload, j, r);
	return 0;
}

static int p_batch(const stg_job *jobs, size_t n, stg_job_result *results, void *payload)
{
	plog *pl = payload;
	size_t i;

	pl->batch_calls++;
	for (i = 0; i < n; i++)
		p_answer(pl, &jobs[i], &results[i]);
	return 0;
}

static const char *const integ_names[3] = { "amz", "meli", "magalu" };

static int p_complete_all(stg_log *log, plog *pl, thr_err *err)
{
	size_t i, n = pl->nasync;

	pl->nasync = 0;
	for (i = 0; i < n; i++) {
		stg_job_result r = STG_JOB_RESULT_INIT;
		if (i % 4 == 3) {
			r.outcome = STG_OUTCOME_ERROR;
			r.http_status = 500;
			r.message = "late failure";
		}
		CHECK_OK(err, log, stg_log_complete(log, pl->async_ids[i], &r));
	}
	return 0;
}

/* One log, its own hooks and clock, a script seeded by @p seed. */
static int log_script(int seed, int rounds, const stg_policy *shared, uint64_t *digest, thr_err *err)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_clock ck = STG_CLOCK_INIT;
	stg_events ev = STG_EVENTS_INIT;
	stg_storage st;
	stg_log *log = NULL;
	plog *pl = calloc(1, sizeof *pl);
	uint64_t s = 0xabcdef00u + (uint64_t)seed, h = FNV0, d;
	int r, i, rc = -1;
	size_t n;

	CHECK(err, pl != NULL, "out of memory");
	pl->now = T0 + seed * 1000;
	st = fs_hook(&pl->store);
	t.send = p_send;
	t.send_batch = p_batch;
	t.payload = pl;
	ck.now_ms = p_now;
	ck.payload = pl;
	ev.on_event = p_event;
	ev.payload = pl;
	o.storage = &st;
	o.transport = &t;
	o.clock = &ck;
	o.events = &ev;
	o.latency_limit_ms = 600000;
	o.backoff_base_ms = 500;
	o.backoff_max_ms = 20000;
	o.catalogue_retry_ms = 30000;
	o.success_max_age_ms = 3600000;
	o.success_max_count = 120;
	o.jitter_seed = 1000u + (uint64_t)seed;
	o.max_transient_attempts = 3;

#define STEP(call)                                                                         \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (rc_ != STG_OK) {                                                       \
			thr_fail(err, __LINE__, #call, "round %d: returned %d (%s): %s", r,  \
			         rc_, stg_strerror(rc_), stg_log_errmsg(log));             \
			goto out;                                                          \
		}                                                                          \
	} while (0)

	r = -1;
	STEP(stg_log_open(&log, &o));
	STEP(stg_log_set_policy(log, "amz", shared));
	STEP(stg_log_set_limits(log, "meli", 4, 0, 0));
	STEP(stg_log_set_limits(log, "magalu", 2, 6, 1000));
	for (r = 0; r < rounds; r++) {
		stg_submit subs[24];
		stg_submit_result res[24];
		char skus[24][8];
		static const char *const cats[3] = { "C-1", "C-3", "C-7" };
		int64_t wait;
		size_t done;

		pl->now += 700 + (int64_t)(rnd(&s) % 3000);
		for (i = 0; i < 24; i++) {
			stg_submit_init(&subs[i], STG_SUBMIT_VERSION);
			snprintf(skus[i], sizeof skus[i], "S%03u", (unsigned)(rnd(&s) % 70));
			subs[i].integration = integ_names[rnd(&s) % 3];
			subs[i].sku = skus[i];
			subs[i].category = rnd(&s) % 4 ? cats[rnd(&s) % 3] : NULL;
			subs[i].available = (int64_t)(rnd(&s) % 45) - 4;
			subs[i].sequence = rnd(&s) % 11 == 0 ? (int64_t)r * 100 - 150 : (int64_t)r * 100 + i;
			subs[i].flags = rnd(&s) % 17 == 0 ? STG_CHANGE_NON_STOCK : 0u;
			subs[i].changed_at = rnd(&s) % 5 == 0 ? pl->now - (int64_t)(rnd(&s) % 900000) : 0;
		}
		if (r % 2) {
			STEP(stg_log_submit_batch(log, subs, 24, res, &done));
			CHECK(err, done == 24, "round %d: submit_batch applied %zu of 24", r, done);
		} else {
			for (i = 0; i < 24; i++)
				STEP(stg_log_submit(log, &subs[i], &res[i]));
		}
		for (i = 0; i < 24; i++)
			h = fnv(h, &res[i], sizeof res[i]);
		STEP(stg_log_pump(log, r % 3 == 0 ? 5 : 0, &n));
		h = fnv(h, &n, sizeof n);
		if (p_complete_all(log, pl, err))
			goto out;
		if (r % 6 == 5) {
			for (i = 0; i < 3; i++) {
				int paused = -1;
				STEP(stg_log_is_paused(log, integ_names[i], &paused));
				if (paused)
					STEP(stg_log_resume(log, integ_names[i]));
			}
		}
		if (r % 7 == 3) {
			/* Catalogue every held SKU (copy the keys: they are borrowed). */
			stg_query q = STG_QUERY_INIT;
			stg_entry page[5];
			char held[64][2][16];
			int nheld = 0, k;
			uint64_t cur = 0;
			size_t cnt;
			q.status = STG_ENTRY_PENDING;
			do {
				STEP(stg_log_query(log, &q, &cur, page, 5, &cnt));
				for (n = 0; n < cnt && nheld < 64; n++)
					if (page[n].job_state == STG_JOB_HELD) {
						snprintf(held[nheld][0], 16, "%s", page[n].integration);
						snprintf(held[nheld][1], 16, "%s", page[n].sku);
						nheld++;
					}
			} while (cnt);
			for (k = 0; k < nheld; k++)
				STEP(stg_log_set_catalogued(log, held[k][0], held[k][1]));
		}
		if (r % 9 == 4) {
			stg_query q = STG_QUERY_INIT;
			q.status = STG_ENTRY_ERROR;
			STEP(stg_log_reprocess_matching(log, &q, &n));
			h = fnv(h, &n, sizeof n);
		}
		if (r % 10 == 7) {
			stg_query q = STG_QUERY_INIT;
			q.status = STG_ENTRY_SUCCESS;
			q.sku_prefix = "S0";
			STEP(stg_log_remove_matching(log, &q, 0, &n));
			h = fnv(h, &n, sizeof n);
		}
		if (r % 8 == 2) {
			int rrc = stg_log_remove(log, "amz", "S001", 0);
			CHECK(err, rrc == STG_OK || rrc == STG_ENOTFOUND || rrc == STG_EBUSY,
			      "round %d: stg_log_remove returned %d", r, rrc);
			h = fnv(h, &rrc, sizeof rrc);
		}
		if (r % 13 == 6) {
			STEP(stg_log_expire(log, &n));
			h = fnv(h, &n, sizeof n);
		}
		STEP(stg_log_next_due(log, &wait));
		if (wait > 0 && wait < 5000)
			pl->now += wait;
		{
			stg_counts c;
			stg_stats stt;
			int src;
			STEP(stg_log_counts(log, "amz", &c));
			h = fnv(h, &c, sizeof c);
			src = stg_log_stats(log, "meli", &stt);
			CHECK(err, src == STG_OK || src == STG_ENOTFOUND, "stats returned %d", src);
			if (src == STG_OK)
				h = fnv(h, &stt, sizeof stt);
		}
		STEP(stg_log_flush(log, &n));
		CHECK(err, n == 0, "round %d: %zu writes still owed", r, n);
	}
	CHECK(err, !pl->oom && !pl->store.broken, "the hooks ran out of memory or got a bad entry");
	if (p_complete_all(log, pl, err))
		goto out;
	if (log_digest(log, 7, &d, err))
		goto out;
	h = fnv(h, &d, sizeof d);
	h = fnv_i64(h, (int64_t)fs_digest(&pl->store));
	h = fnv(h, &pl->tx_digest, sizeof pl->tx_digest);
	h = fnv(h, &pl->ev_digest, sizeof pl->ev_digest);
	h = fnv(h, pl->events, sizeof pl->events);
	h = fnv(h, &pl->calls, sizeof pl->calls);
	h = fnv(h, &pl->batch_calls, sizeof pl->batch_calls);
	CHECK(err, pl->events[STG_EVENT_MIN_STOCK_REACHED] > 0 && pl->batch_calls > 0 && pl->calls > 0,
	      "the script did not reach every path (events %lu, batch calls %lu)",
	      pl->events[STG_EVENT_MIN_STOCK_REACHED], pl->batch_calls);
	if (getenv("STG_THREADS_VERBOSE")) {
		stg_stats stt;
		stg_counts cn;
		stg_log_stats(log, NULL, &stt);
		stg_log_counts(log, NULL, &cn);
		fprintf(stderr, "# log script %d: %llu changes, %llu exports, %llu coalesced, %llu stale, "
		        "%llu attempts, %llu successes, errors auth %llu nc %llu rl %llu tr %llu rej %llu; "
		        "entries %llu pending %llu success %llu error; events %lu/%lu/%lu/%lu; "
		        "%lu send calls, %lu batches, %ld writes, %ld removes\n", seed,
		        (unsigned long long)stt.changes, (unsigned long long)stt.exports,
		        (unsigned long long)stt.coalesced, (unsigned long long)stt.stale,
		        (unsigned long long)stt.attempts, (unsigned long long)stt.successes,
		        (unsigned long long)stt.errors[1], (unsigned long long)stt.errors[2],
		        (unsigned long long)stt.errors[3], (unsigned long long)stt.errors[4],
		        (unsigned long long)stt.errors[5], (unsigned long long)cn.pending,
		        (unsigned long long)cn.success, (unsigned long long)cn.error, pl->events[1],
		        pl->events[2], pl->events[3], pl->events[4], pl->calls, pl->batch_calls,
		        pl->store.writes, pl->store.removes);
	}
	stg_log_close(log);
	log = NULL;

	/* Reload from the store: same entries (jobs in flight come back queued). */
	r = rounds;
	STEP(stg_log_open(&log, &o));
	if (log_digest(log, 16, &d, err))
		goto out;
	h = fnv(h, &d, sizeof d);
	pl->drain = 1;
	for (i = 0; i < 3; i++) {
		int paused = -1;
		STEP(stg_log_is_paused(log, integ_names[i], &paused));
		if (paused)
			STEP(stg_log_resume(log, integ_names[i]));
	}
	for (i = 0; i < 50; i++) {
		int64_t wait;
		STEP(stg_log_pump(log, 0, &n));
		STEP(stg_log_next_due(log, &wait));
		if (wait < 0)
			break;
		pl->now += wait + 1;
	}
	if (log_digest(log, 3, &d, err))
		goto out;
	h = fnv(h, &d, sizeof d);
	*digest = h;
	rc = 0;
#undef STEP
out:
	stg_log_close(log);
	fx_storage_free(&pl->store);
	free(pl->async_ids);
	free(pl);
	return rc;
}

typedef struct plogs_ctx {
	const stg_policy *shared;
	int rounds;
	uint64_t ref[64];
	pthread_barrier_t bar;
} plogs_ctx;

static int plogs_worker(thr_worker *w)
{
	plogs_ctx *c = w->ctx;
	uint64_t d = 0;
	int rc;

	pthread_barrier_wait(&c->bar);
	rc = log_script(w->id, c->rounds, c->shared, &d, &w->err);
	if (rc == 0 && d != c->ref[w->id]) {
		thr_fail(&w->err, __LINE__, "digest", "log of thread %d ended differently from the "
		         "same script run alone (%016llx vs %016llx)", w->id, (unsigned long long)d,
		         (unsigned long long)c->ref[w->id]);
		rc = -1;
	}
	return rc;
}

int thr_logs_private(const thr_sizes *sz, thr_err *err)
{
	plogs_ctx c;
	stg_policy *p = NULL;
	int i, rc;

	memset(&c, 0, sizeof c);
	CHECK(err, sz->threads <= 64, "at most 64 threads");
	CHECK_OK(err, NULL, stg_policy_new(&p, NULL));
	stg_policy_set_min_stock(p, 5);
	stg_policy_set_window(p, 8);
	stg_policy_set_category_min(p, "C-3", 12);
	c.shared = p;
	c.rounds = sz->log_rounds;
	for (i = 0; i < sz->threads; i++) {
		if (log_script(i, c.rounds, p, &c.ref[i], err)) {
			stg_policy_free(p);
			return -1;
		}
		if (i > 0 && c.ref[i] == c.ref[0]) {
			/* Different seeds must give different logs, or the test proves little. */
			thr_fail(err, __LINE__, "seeds", "scripts %d and 0 ended alike", i);
			stg_policy_free(p);
			return -1;
		}
	}
	if (pthread_barrier_init(&c.bar, NULL, (unsigned)sz->threads) != 0) {
		stg_policy_free(p);
		CHECK(err, 0, "pthread_barrier_init failed");
	}
	rc = run_workers(sz->threads, plogs_worker, &c, err);
	pthread_barrier_destroy(&c.bar);
	stg_policy_free(p);
	return rc;
}

/* ===================================================== (c) one shared log */

#define SH_SKUS 64

typedef struct shared_ctx {
	pthread_mutex_t mu;
	stg_log *log;
	fx_storage store;
	const stg_policy *pol;
	_Atomic int64_t clock;
	_Atomic int64_t seq;
	int ops;
	/* under mu */
	uint64_t async_ids[4096];
	size_t nasync;
	int drain, overflow;
	unsigned long sent;
	int64_t maxseq[64][SH_SKUS]; /* per thread, per SKU */
	unsigned long long submitted;
	pthread_barrier_t bar;
} shared_ctx;

static int64_t sh_now(void *payload)
{
	shared_ctx *c = payload;

	return atomic_fetch_add(&c->clock, 3);
}

static int sh_send(const stg_job *j, stg_job_result *r, void *payload)
{
	shared_ctx *c = payload;

	c->sent++;
	if (!c->drain && mix64(j->id) % 5 == 0) {
		if (c->nasync == sizeof c->async_ids / sizeof c->async_ids[0]) {
			c->overflow = 1;
			return 0;
		}
		c->async_ids[c->nasync++] = j->id;
		r->outcome = STG_OUTCOME_ASYNC;
	}
	return 0;
}

static int sh_batch(const stg_job *jobs, size_t n, stg_job_result *results, void *payload)
{
	size_t i;

	for (i = 0; i < n; i++)
		sh_send(&jobs[i], &results[i], payload);
	return 0;
}

static int64_t sh_avail(int64_t seq)
{
	return (seq * 7919) % 50 - 2;
}

static void sh_key(int k, const char **integ, char *sku, size_t cap)
{
	*integ = k % 2 ? "meli" : "amz";
	snprintf(sku, cap, "P%02d", k / 2);
}

static int sh_worker(thr_worker *w)
{
	shared_ctx *c = w->ctx;
	uint64_t s = 777 + (uint64_t)w->id;
	int i;

	pthread_barrier_wait(&c->bar);
	for (i = 0; i < c->ops; i++) {
		int k = (int)(rnd(&s) % SH_SKUS), rc;
		stg_submit sub = STG_SUBMIT_INIT;
		stg_submit_result res;
		char sku[16];
		int64_t seq = atomic_fetch_add(&c->seq, 1) + 1; /* taken outside the lock: reordered */

		sh_key(k, &sub.integration, sku, sizeof sku);
		sub.sku = sku;
		sub.available = sh_avail(seq);
		sub.sequence = seq;
		if (seq > c->maxseq[w->id][k])
			c->maxseq[w->id][k] = seq;
		if (i % 3 == 0)
			sched_yield();
		pthread_mutex_lock(&c->mu);
		c->submitted++;
		rc = stg_log_submit(c->log, &sub, &res);
		if (rc == STG_OK && i % 4 == 0)
			rc = stg_log_pump(c->log, 8, NULL);
		if (rc == STG_OK && i % 16 == 0) {
			size_t m = c->nasync < 3 ? c->nasync : 3;
			while (m-- && rc == STG_OK) {
				stg_job_result r = STG_JOB_RESULT_INIT;
				rc = stg_log_complete(c->log, c->async_ids[--c->nasync], &r);
			}
		}
		if (rc == STG_OK && i % 32 == 0) {
			stg_entry e, page[4];
			uint64_t cur = 0;
			size_t cnt;
			stg_counts cn;
			rc = stg_log_get(c->log, sub.integration, sku, &e);
			if (rc == STG_OK && (strcmp(e.sku, sku) != 0 || e.sequence < seq))
				rc = -100; /* the change just applied (or a newer one) must show */
			if (rc == STG_OK)
				rc = stg_log_query(c->log, NULL, &cur, page, 4, &cnt);
			if (rc == STG_OK)
				rc = stg_log_counts(c->log, NULL, &cn);
		}
		if (rc != STG_OK) {
			thr_fail(&w->err, __LINE__, "shared log call", "op %d: %d (%s): %s", i, rc,
			         stg_strerror(rc), rc == -100 ? "entry older than the change just applied"
			                                      : stg_log_errmsg(c->log));
			pthread_mutex_unlock(&c->mu);
			return -1;
		}
		pthread_mutex_unlock(&c->mu);
	}
	return 0;
}

int thr_log_shared(const thr_sizes *sz, thr_err *err)
{
	shared_ctx *c = calloc(1, sizeof *c);
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_clock ck = STG_CLOCK_INIT;
	stg_storage st;
	stg_policy *p = NULL;
	stg_stats s;
	uint64_t skips = 0;
	int i, k, rc = -1;

	CHECK(err, c != NULL, "out of memory");
	if (sz->threads > 64) {
		free(c);
		CHECK(err, 0, "at most 64 threads");
	}
	pthread_mutex_init(&c->mu, NULL);
	atomic_init(&c->clock, T0);
	atomic_init(&c->seq, 0);
	c->ops = sz->shared_ops;
	st = fs_hook(&c->store);
	t.send = sh_send;
	t.send_batch = sh_batch;
	t.payload = c;
	ck.now_ms = sh_now;
	ck.payload = c;
	o.storage = &st;
	o.transport = &t;
	o.clock = &ck;
	/* A window above every quantity: no change is skipped as outside the
	 * window, so in the end the marketplace holds the newest evaluation. */
	if (stg_policy_new(&p, NULL) || stg_policy_set_min_stock(p, 3) ||
	    stg_policy_set_window(p, 1000)) {
		thr_fail(err, __LINE__, "policy", "%s", stg_last_error());
		goto out;
	}
	c->pol = p;
	if (stg_log_open(&c->log, &o) || stg_log_set_policy(c->log, "amz", p) ||
	    stg_log_set_policy(c->log, "meli", p) || stg_log_set_limits(c->log, "meli", 5, 0, 0)) {
		thr_fail(err, __LINE__, "open", "%s", stg_last_error());
		goto out;
	}
	if (pthread_barrier_init(&c->bar, NULL, (unsigned)sz->threads) != 0) {
		thr_fail(err, __LINE__, "barrier", "pthread_barrier_init failed");
		goto out;
	}
	rc = run_workers(sz->threads, sh_worker, c, err);
	pthread_barrier_destroy(&c->bar);
	if (rc)
		goto out;
	rc = -1;

	/* Drain: complete what is out, pump until nothing waits. */
	c->drain = 1;
	for (i = 0; i < 100; i++) {
		int64_t wait;
		size_t n;
		while (c->nasync) {
			stg_job_result r = STG_JOB_RESULT_INIT;
			if (stg_log_complete(c->log, c->async_ids[--c->nasync], &r)) {
				thr_fail(err, __LINE__, "complete", "%s", stg_log_errmsg(c->log));
				goto out;
			}
		}
		if (stg_log_pump(c->log, 0, &n) || stg_log_next_due(c->log, &wait)) {
			thr_fail(err, __LINE__, "drain", "%s", stg_log_errmsg(c->log));
			goto out;
		}
		if (wait < 0 && c->nasync == 0)
			break;
	}
	if (c->overflow || c->store.broken) {
		thr_fail(err, __LINE__, "hooks", "async list overflow or a bad entry in a write");
		goto out;
	}

	/* The newest sequence of every SKU won; everything was acknowledged. */
	for (k = 0; k < SH_SKUS; k++) {
		int64_t maxseq = 0;
		stg_entry e;
		stg_evaluation ev;
		const char *integ;
		char sku[16];
		const fx_record *rec;
		unsigned char buf[STG_ENTRY_ENCODED_MAX];
		size_t len;
		int th;

		for (th = 0; th < sz->threads; th++)
			if (c->maxseq[th][k] > maxseq)
				maxseq = c->maxseq[th][k];
		sh_key(k, &integ, sku, sizeof sku);
		if (maxseq == 0)
			continue;
		if (stg_log_get(c->log, integ, sku, &e) != STG_OK) {
			thr_fail(err, __LINE__, "get", "(%s, %s): %s", integ, sku, stg_log_errmsg(c->log));
			goto out;
		}
		stg_policy_evaluate(p, sku, NULL, sh_avail(maxseq), &ev);
		if (e.sequence != maxseq || e.available != sh_avail(maxseq) ||
		    e.status != STG_ENTRY_SUCCESS || e.published != ev.published ||
		    e.acked != e.published || !(e.flags & STG_ENTRY_HAS_ACKED)) {
			thr_fail(err, __LINE__, "newest wins",
			         "(%s, %s): sequence %lld (want %lld), available %lld (want %lld), status %d, "
			         "published %lld (want %lld), acked %lld", integ, sku, (long long)e.sequence,
			         (long long)maxseq, (long long)e.available, (long long)sh_avail(maxseq),
			         e.status, (long long)e.published, (long long)ev.published,
			         (long long)e.acked);
			goto out;
		}
		/* Storage agrees with memory. */
		rec = fx_storage_find(&c->store, integ, sku);
		if (!rec || stg_entry_encode(&e, buf, sizeof buf, &len) != STG_OK ||
		    len != rec->len || memcmp(buf, rec->buf, len) != 0) {
			thr_fail(err, __LINE__, "store", "(%s, %s): stored bytes differ from the log's entry",
			         integ, sku);
			goto out;
		}
	}
	if (stg_log_stats(c->log, NULL, &s) != STG_OK) {
		thr_fail(err, __LINE__, "stats", "%s", stg_log_errmsg(c->log));
		goto out;
	}
	for (k = 0; k < STG_REASON_COUNT; k++)
		skips += s.skips[k];
	if (s.changes != c->submitted || s.exports + s.coalesced + s.stale + skips != s.changes ||
	    s.attempts != s.successes || s.attempts != c->sent) {
		thr_fail(err, __LINE__, "stats",
		         "changes %llu (submitted %llu), exports %llu + coalesced %llu + stale %llu + "
		         "skips %llu; attempts %llu, successes %llu, handed to the hook %lu",
		         (unsigned long long)s.changes, c->submitted, (unsigned long long)s.exports,
		         (unsigned long long)s.coalesced, (unsigned long long)s.stale,
		         (unsigned long long)skips, (unsigned long long)s.attempts,
		         (unsigned long long)s.successes, c->sent);
		goto out;
	}
	rc = 0;
out:
	stg_log_close(c->log);
	stg_policy_free(p);
	fx_storage_free(&c->store);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return rc;
}

/* ================================================ (d) thread-local errors */

typedef struct lasterr_ctx {
	int iters;
	pthread_barrier_t bar;
} lasterr_ctx;

static int lasterr_worker(thr_worker *w)
{
	lasterr_ctx *c = w->ctx;
	char want[64];
	int i;

	pthread_barrier_wait(&c->bar);
	for (i = 0; i < c->iters; i++) {
		int rc, code;
		const char *msg;

		switch (i % 4) {
		case 0: {
			stg_allocator a = STG_ALLOCATOR_INIT;
			stg_policy *p = (stg_policy *)&want; /* sentinel: must stay */
			a.version = 1000u + (unsigned)w->id;
			rc = stg_policy_new(&p, &a);
			CHECK(&w->err, p == (stg_policy *)&want, "stg_policy_new wrote out on failure");
			snprintf(want, sizeof want, "allocator version %u unknown", a.version);
			code = STG_EVERSION;
			break;
		}
		case 1: {
			stg_log_options o = STG_LOG_OPTIONS_INIT;
			stg_log *l = NULL;
			o.version = 2000u + (unsigned)w->id;
			rc = stg_log_open(&l, &o);
			CHECK(&w->err, l == NULL, "stg_log_open wrote out on failure");
			snprintf(want, sizeof want, "options version %u unknown", o.version);
			code = STG_EVERSION;
			break;
		}
		case 2: {
			stg_log_options o = STG_LOG_OPTIONS_INIT;
			stg_log *l = NULL;
			o.latency_limit_ms = -1 - w->id;
			rc = stg_log_open(&l, &o);
			snprintf(want, sizeof want, "stg_log_open: negative time");
			code = STG_EINVAL;
			break;
		}
		default: {
			stg_policy *p = NULL;
			/* A success in between leaves the last failure alone. */
			CHECK(&w->err, stg_policy_new(&p, NULL) == STG_OK, "stg_policy_new failed");
			stg_policy_free(p);
			rc = stg_entry_init(NULL, 1);
			snprintf(want, sizeof want, "stg_entry_init: NULL struct");
			code = STG_EINVAL;
			break;
		}
		}
		msg = stg_last_error();
		CHECK(&w->err, rc == code, "iteration %d: returned %d, want %d", i, rc, code);
		CHECK(&w->err, stg_last_error_code() == code, "iteration %d: last code %d, want %d", i,
		      stg_last_error_code(), code);
		CHECK(&w->err, strstr(msg, want) != NULL,
		      "iteration %d: this thread's last error is \"%s\", want \"%s\"", i, msg, want);
		if (i % 4 == 0) {
			/* A later success does not clear it. */
			stg_policy *p = NULL;
			CHECK(&w->err, stg_policy_new(&p, NULL) == STG_OK, "stg_policy_new failed");
			stg_policy_free(p);
			CHECK(&w->err, strstr(stg_last_error(), want) != NULL && stg_last_error_code() == code,
			      "a successful call changed the last error to \"%s\"", stg_last_error());
		}
		if (i % 64 == 0)
			sched_yield();
	}
	return 0;
}

static void *fresh_thread(void *p)
{
	int *ok = p;

	*ok = stg_last_error()[0] == '\0' && stg_last_error_code() == 0;
	return NULL;
}

int thr_last_error(const thr_sizes *sz, thr_err *err)
{
	lasterr_ctx c;
	pthread_t th;
	int rc, ok = 0;

	c.iters = sz->error_iters;
	CHECK(err, pthread_barrier_init(&c.bar, NULL, (unsigned)sz->threads + 2) == 0, "barrier");
	rc = run_workers(sz->threads + 2, lasterr_worker, &c, err);
	pthread_barrier_destroy(&c.bar);
	if (rc)
		return rc;
	/* A thread that never failed sees nothing, whatever the others did. */
	CHECK(err, stg_entry_init(NULL, 1) == STG_EINVAL, "stg_entry_init(NULL)");
	CHECK(err, pthread_create(&th, NULL, fresh_thread, &ok) == 0, "pthread_create");
	pthread_join(th, NULL);
	CHECK(err, ok, "a new thread sees another thread's last error");
	return 0;
}

/* ======================================================= (e) re-entrancy */

enum { HOOK_LOAD = THR_HOOK_COUNT, HOOK_ALL };

static const char *const hook_names[HOOK_ALL] = {
	"transport send", "transport send_batch", "storage write", "storage remove", "clock",
	"events", "storage load",
};

const char *thr_hook_name(int hook)
{
	return hook >= 0 && hook < HOOK_ALL ? hook_names[hook] : "?";
}

typedef struct reent {
	stg_log *log;           /* set once open returned */
	int probing;
	fx_storage store;
	int64_t now;
	const stg_policy *policy;
	stg_transport transport;
	unsigned long probes[HOOK_ALL];
	unsigned long other_log_ok;
	thr_err err;            /* first failure seen inside a hook */
	uint64_t ev_digest, tx_digest;
	uint64_t async_ids[16];
	size_t nasync;
	void *load_ctx;
} reent;

static void probe_check(reent *r, int hook, const char *call, int rc, stg_log *log,
                        const char *before)
{
	if (r->err.failed)
		return;
	if (rc != STG_ERECURSIVE)
		thr_fail(&r->err, __LINE__, call, "inside the %s hook: returned %d (%s), want "
		         "STG_ERECURSIVE", hook_names[hook], rc, stg_strerror(rc));
	else if (stg_last_error_code() != STG_ERECURSIVE || stg_last_error()[0] == '\0')
		thr_fail(&r->err, __LINE__, call, "inside the %s hook: last error %d \"%s\"",
		         hook_names[hook], stg_last_error_code(), stg_last_error());
	else if (strcmp(stg_log_errmsg(log), before) != 0)
		thr_fail(&r->err, __LINE__, call, "inside the %s hook: the log's message changed to "
		         "\"%s\"", hook_names[hook], stg_log_errmsg(log));
}

static int untouched(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0xAB)
			return 0;
	return 1;
}

/* Every int-returning call of log.h, with arguments that would succeed or
 * change the log outside a hook. */
static void probe_all(reent *r, stg_log *log, int hook)
{
	char before[512];
	stg_submit sub = STG_SUBMIT_INIT, subs[2];
	stg_submit_result sres, bres[2];
	stg_job_result res = STG_JOB_RESULT_INIT;
	stg_entry e, page[4];
	stg_stats st;
	stg_counts cn;
	int64_t wait = 12345;
	int paused = 7;
	uint64_t cursor = 0;
	size_t cnt = 99, n;

	snprintf(before, sizeof before, "%s", stg_log_errmsg(log));
	r->probes[hook]++;
	sub.integration = "amz";
	sub.sku = "PROBE";
	sub.available = 1;
	sub.sequence = 99;
	subs[0] = sub;
	subs[1] = sub;
	subs[1].sku = "PROBE2";
	memset(&sres, 0xAB, sizeof sres);
	memset(bres, 0xAB, sizeof bres);
	memset(&e, 0xAB, sizeof e);
	memset(page, 0xAB, sizeof page);
	memset(&st, 0xAB, sizeof st);
	memset(&cn, 0xAB, sizeof cn);

#define P(call) probe_check(r, hook, #call, (call), log, before)
	P(stg_log_set_transport(log, &r->transport));
	P(stg_log_set_policy(log, "amz", r->policy));
	P(stg_log_set_limits(log, "amz", 5, 0, 0));
	P(stg_log_submit(log, &sub, &sres));
	P(stg_log_submit(log, &sub, NULL));
	n = 99;
	P(stg_log_submit_batch(log, subs, 2, bres, &n));
	if (n != 0 && n != 99)
		thr_fail(&r->err, __LINE__, "submit_batch", "done = %zu inside a hook", n);
	n = 99;
	P(stg_log_pump(log, 0, &n));
	if (n != 0 && n != 99)
		thr_fail(&r->err, __LINE__, "pump", "sent = %zu inside a hook", n);
	P(stg_log_complete(log, r->nasync ? r->async_ids[0] : 1, &res));
	P(stg_log_next_due(log, &wait));
	P(stg_log_pause(log, "meli"));
	P(stg_log_resume(log, "meli"));
	P(stg_log_is_paused(log, "meli", &paused));
	P(stg_log_set_catalogued(log, "amz", "OLD2"));
	P(stg_log_get(log, "amz", "A", &e));
	P(stg_log_query(log, NULL, &cursor, page, 4, &cnt));
	P(stg_log_counts(log, NULL, &cn));
	P(stg_log_stats(log, NULL, &st));
	P(stg_log_reprocess(log, "amz", "A"));
	n = 99;
	P(stg_log_reprocess_matching(log, NULL, &n));
	if (n != 0 && n != 99)
		thr_fail(&r->err, __LINE__, "reprocess_matching", "count = %zu inside a hook", n);
	P(stg_log_remove(log, "amz", "A", STG_REMOVE_FORCE));
	n = 99;
	P(stg_log_remove_matching(log, NULL, STG_REMOVE_FORCE, &n));
	if (n != 0 && n != 99)
		thr_fail(&r->err, __LINE__, "remove_matching", "count = %zu inside a hook", n);
	n = 99;
	P(stg_log_expire(log, &n));
	if (n != 0 && n != 99)
		thr_fail(&r->err, __LINE__, "expire", "removed = %zu inside a hook", n);
	n = 99;
	P(stg_log_flush(log, &n));
	if (n != 0 && n != 99)
		thr_fail(&r->err, __LINE__, "flush", "pending = %zu inside a hook", n);
#undef P
	if (!r->err.failed && (wait != 12345 || paused != 7 || cursor != 0 || cnt != 99 ||
	                       !untouched(&sres, sizeof sres) || !untouched(bres, sizeof bres) ||
	                       !untouched(&e, sizeof e) || !untouched(page, sizeof page) ||
	                       !untouched(&st, sizeof st) || !untouched(&cn, sizeof cn)))
		thr_fail(&r->err, __LINE__, "out-parameters", "a refused call inside the %s hook wrote "
		         "an out-parameter", hook_names[hook]);
	/* Reading the policy is not a call into the log: allowed. */
	if (!r->err.failed) {
		stg_evaluation ev;
		if (stg_policy_evaluate(r->policy, "A", NULL, 9, &ev) != STG_OK)
			thr_fail(&r->err, __LINE__, "policy", "stg_policy_evaluate failed inside a hook");
	}
}

static int64_t r_now(void *payload)
{
	reent *r = payload;

	if (r->probing && r->log)
		probe_all(r, r->log, THR_HOOK_CLOCK);
	return r->now;
}

static void r_event(const stg_event *ev, void *payload)
{
	reent *r = payload;
	uint64_t h = r->ev_digest;

	if (r->probing)
		probe_all(r, r->log, THR_HOOK_EVENT);
	h = fnv(h, &ev->type, sizeof ev->type);
	h = fnv(h, &ev->http_status, sizeof ev->http_status);
	h = fnv_str(h, ev->integration);
	h = fnv_str(h, ev->sku);
	h = fnv_str(h, ev->message);
	h = fnv_i64(h, ev->available);
	h = fnv_i64(h, ev->min_stock);
	h = fnv_i64(h, ev->latency_ms);
	h = fnv_i64(h, ev->time);
	r->ev_digest = h;
}

static int r_write(const stg_entry *e, void *payload)
{
	reent *r = payload;

	if (r->probing && r->log)
		probe_all(r, r->log, THR_HOOK_WRITE);
	return fx_storage_write(e, &r->store);
}

static int r_remove(const char *integ, const char *sku, void *payload)
{
	reent *r = payload;

	if (r->probing)
		probe_all(r, r->log, THR_HOOK_REMOVE);
	return fx_storage_remove(integ, sku, &r->store);
}

static int r_load(stg_entry_sink sink, void *ctx, void *payload)
{
	reent *r = payload;

	/* White box: this library passes the log being opened as the sink's
	 * context, the only handle a load hook could call into (checked against
	 * the handle open returns). */
	r->load_ctx = ctx;
	if (r->probing)
		probe_all(r, (stg_log *)ctx, HOOK_LOAD);
	return fx_storage_load(sink, ctx, &r->store);
}

static void r_answer(reent *r, const stg_job *j, stg_job_result *res)
{
	r->tx_digest = fnv(r->tx_digest, &j->id, sizeof j->id);
	r->tx_digest = fnv_str(r->tx_digest, j->sku);
	r->tx_digest = fnv_i64(r->tx_digest, j->published);
	r->tx_digest = fnv(r->tx_digest, &j->attempt, sizeof j->attempt);
	if (j->attempt != 1)
		return;
	if (strcmp(j->sku, "B") == 0) {
		res->outcome = STG_OUTCOME_ASYNC;
		if (r->nasync < 16)
			r->async_ids[r->nasync++] = j->id;
	} else if (strcmp(j->sku, "OLD2") == 0) {
		res->outcome = STG_OUTCOME_ERROR;
		res->error_class = STG_ERRCLASS_NOT_CATALOGUED;
		res->http_status = 404;
		res->message = "not catalogued yet";
	} else if (strcmp(j->sku, "M2") == 0) {
		res->outcome = STG_OUTCOME_ERROR;
		res->http_status = 503;
		res->message = "try later";
	} else if (strcmp(j->sku, "M4") == 0) {
		res->outcome = STG_OUTCOME_ERROR;
		res->http_status = 401;
		res->message = "ShopKey expired";
	}
}

/* A different log is independent: usable from inside a hook. */
static void use_other_log(reent *r)
{
	stg_log *other = NULL;
	stg_submit sub = STG_SUBMIT_INIT;
	stg_entry e;

	sub.integration = "amz";
	sub.sku = "A";
	sub.available = 3;
	if (stg_log_open(&other, NULL) == STG_OK && stg_log_submit(other, &sub, NULL) == STG_OK &&
	    stg_log_get(other, "amz", "A", &e) == STG_OK && e.available == 3)
		r->other_log_ok++;
	else if (!r->err.failed)
		thr_fail(&r->err, __LINE__, "other log", "a second log failed inside a hook: %s",
		         stg_last_error());
	stg_log_close(other);
}

static int r_send(const stg_job *j, stg_job_result *res, void *payload)
{
	reent *r = payload;

	if (r->probing) {
		probe_all(r, r->log, THR_HOOK_SEND);
		use_other_log(r);
	}
	r_answer(r, j, res);
	return 0;
}

static int r_batch(const stg_job *jobs, size_t n, stg_job_result *results, void *payload)
{
	reent *r = payload;
	size_t i;

	if (r->probing)
		probe_all(r, r->log, THR_HOOK_BATCH);
	for (i = 0; i < n; i++)
		r_answer(r, &jobs[i], &results[i]);
	return 0;
}

static int seed_store(fx_storage *fs, thr_err *err)
{
	stg_entry e = STG_ENTRY_INIT;

	e.integration = "amz";
	e.sku = "OLD1";
	e.status = STG_ENTRY_SUCCESS;
	e.available = e.published = e.acked = 9;
	e.flags = STG_ENTRY_HAS_ACKED;
	e.sequence = 1;
	e.changed_at = T0 - 1000;
	e.acked_at = T0 - 900;
	e.latency_ms = 100;
	e.job_id = (UINT64_C(1) << 32) | 0;
	CHECK(err, fx_storage_put(fs, &e) == 0, "seed OLD1");
	e.sku = "OLD2";
	e.status = STG_ENTRY_PENDING;
	e.job_state = STG_JOB_QUEUED;
	e.available = e.published = 4;
	e.acked = 0;
	e.flags = 0;
	e.changed_at = e.job_since = e.next_attempt_at = T0 - 500;
	e.acked_at = 0;
	e.latency_ms = -1;
	e.priority = STG_PRIORITY_LOW_STOCK;
	e.job_id = (UINT64_C(2) << 32) | 1;
	CHECK(err, fx_storage_put(fs, &e) == 0, "seed OLD2");
	return 0;
}

/* The script of (e); the same with and without probes. */
static int reent_script(int probing, uint64_t *digest, unsigned long *probes, thr_err *err)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_clock ck = STG_CLOCK_INIT;
	stg_events ev = STG_EVENTS_INIT;
	stg_storage st = STG_STORAGE_INIT;
	stg_submit sub = STG_SUBMIT_INIT, subs[4];
	stg_policy *pol = NULL;
	reent *r = calloc(1, sizeof *r);
	stg_log *log = NULL;
	uint64_t h = FNV0, d;
	size_t n;
	int i, rc = -1, paused;
	int64_t wait;

	CHECK(err, r != NULL, "out of memory");
	r->probing = probing;
	r->now = T0;
	if (seed_store(&r->store, err))
		goto out;
	if (stg_policy_new(&pol, NULL) || stg_policy_set_min_stock(pol, 3)) {
		thr_fail(err, __LINE__, "policy", "%s", stg_last_error());
		goto out;
	}
	r->policy = pol;
	stg_transport_init(&r->transport, STG_TRANSPORT_VERSION);
	r->transport.send = r_send;
	r->transport.send_batch = r_batch;
	r->transport.payload = r;
	st.load = r_load;
	st.write = r_write;
	st.remove = r_remove;
	st.payload = r;
	ck.now_ms = r_now;
	ck.payload = r;
	ev.on_event = r_event;
	ev.payload = r;
	o.storage = &st;
	o.transport = &r->transport;
	o.clock = &ck;
	o.events = &ev;
	o.latency_limit_ms = 60000;
	o.jitter_seed = 7;

#define STEP(call)                                                                         \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (r->err.failed) {                                                       \
			thr_fail(err, __LINE__, #call, "%s", r->err.msg);                  \
			goto out;                                                          \
		}                                                                          \
		if (rc_ != STG_OK) {                                                       \
			thr_fail(err, __LINE__, #call, "returned %d (%s): %s", rc_,          \
			         stg_strerror(rc_), log ? stg_log_errmsg(log) : stg_last_error()); \
			goto out;                                                          \
		}                                                                          \
		h = fnv(h, &rc_, sizeof rc_);                                              \
	} while (0)

	STEP(stg_log_open(&log, &o));
	CHECK(err, r->load_ctx == (void *)log, "the load hook's context is not the log (the "
	      "white-box assumption of r_load no longer holds)");
	r->log = log;
	STEP(stg_log_set_policy(log, "amz", pol));
	STEP(stg_log_set_limits(log, "meli", 3, 0, 0));
	sub.integration = "amz";
	sub.sku = "A";
	sub.available = 2; /* at the minimum: event */
	sub.sequence = 1;
	STEP(stg_log_submit(log, &sub, NULL));
	sub.sku = "B";
	sub.available = 50;
	STEP(stg_log_submit(log, &sub, NULL));
	for (i = 0; i < 4; i++) {
		static const char *const m[4] = { "M1", "M2", "M3", "M4" };
		stg_submit_init(&subs[i], STG_SUBMIT_VERSION);
		subs[i].integration = "meli";
		subs[i].sku = m[i];
		subs[i].available = 10 * (i + 1);
		subs[i].sequence = 1;
	}
	STEP(stg_log_submit_batch(log, subs, 4, NULL, &n));
	STEP(stg_log_pump(log, 0, &n));
	h = fnv(h, &n, sizeof n);
	r->now += 120000;
	CHECK(err, r->nasync == 1, "B was not answered asynchronously");
	{
		stg_job_result res = STG_JOB_RESULT_INIT;
		STEP(stg_log_complete(log, r->async_ids[0], &res)); /* abnormal latency event */
	}
	STEP(stg_log_is_paused(log, "meli", &paused));
	CHECK(err, paused == 1, "meli not paused by the 401");
	STEP(stg_log_resume(log, "meli"));
	STEP(stg_log_set_catalogued(log, "amz", "OLD2"));
	sub.sku = "A";
	sub.available = 40;
	sub.sequence = 2;
	STEP(stg_log_submit(log, &sub, NULL));
	STEP(stg_log_pump(log, 0, &n));
	h = fnv(h, &n, sizeof n);
	STEP(stg_log_remove(log, "amz", "OLD1", 0));
	STEP(stg_log_reprocess(log, "amz", "B"));
	r->now += 1000;
	STEP(stg_log_pump(log, 0, &n));
	h = fnv(h, &n, sizeof n);
	STEP(stg_log_pause(log, "amz"));
	sub.sku = "C";
	sub.available = 1;
	sub.sequence = 1;
	STEP(stg_log_submit(log, &sub, NULL));
	STEP(stg_log_expire(log, &n));
	STEP(stg_log_flush(log, &n));
	STEP(stg_log_next_due(log, &wait));
	h = fnv_i64(h, wait);
#undef STEP
	if (log_digest(log, 4, &d, err))
		goto out;
	h = fnv(h, &d, sizeof d);
	h = fnv_i64(h, (int64_t)fs_digest(&r->store));
	h = fnv(h, &r->ev_digest, sizeof r->ev_digest);
	h = fnv(h, &r->tx_digest, sizeof r->tx_digest);
	h = fnv_str(h, stg_log_errmsg(log));
	*digest = h;
	memcpy(probes, r->probes, sizeof r->probes);
	if (probing && r->other_log_ok == 0) {
		thr_fail(err, __LINE__, "other log", "the send hook never ran");
		goto out;
	}
	rc = 0;
out:
	stg_log_close(log);
	stg_policy_free(pol);
	fx_storage_free(&r->store);
	free(r);
	return rc;
}

int thr_reentrancy(thr_err *err)
{
	uint64_t with = 0, without = 0;
	unsigned long probes[HOOK_ALL], none[HOOK_ALL];
	int k;

	if (reent_script(0, &without, none, err) || reent_script(1, &with, probes, err))
		return -1;
	for (k = 0; k < HOOK_ALL; k++)
		CHECK(err, probes[k] > 0, "the %s hook was never reached: not probed", hook_names[k]);
	CHECK(err, with == without, "the refused calls changed the log: it ended differently from "
	      "the same script without them (%016llx vs %016llx)", (unsigned long long)with,
	      (unsigned long long)without);
	return 0;
}

static int reent_worker(thr_worker *w)
{
	pthread_barrier_t *bar = w->ctx;

	pthread_barrier_wait(bar);
	return thr_reentrancy(&w->err);
}

int thr_reentrancy_parallel(const thr_sizes *sz, thr_err *err)
{
	pthread_barrier_t bar;
	int rc;

	CHECK(err, pthread_barrier_init(&bar, NULL, (unsigned)sz->threads) == 0, "barrier");
	rc = run_workers(sz->threads, reent_worker, &bar, err);
	pthread_barrier_destroy(&bar);
	return rc;
}

/* ============================================== close from inside a hook */

typedef struct qblock {
	void *p;
	size_t size;
	int freed;
} qblock;

/* Never frees before the end: a free inside a hook is counted, and any use
 * of the block afterwards stays defined. */
typedef struct quarantine {
	qblock *b;
	size_t n, cap;
	int in_hook, oom;
	unsigned long frees_in_hook, double_frees, unknown_frees, reuse_after_free;
} quarantine;

static qblock *q_find(quarantine *q, void *p)
{
	size_t i;

	for (i = q->n; i-- > 0;)
		if (q->b[i].p == p)
			return &q->b[i];
	return NULL;
}

static void *q_malloc(size_t size, void *payload)
{
	quarantine *q = payload;
	void *p;

	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		qblock *nb = realloc(q->b, ncap * sizeof *nb);
		if (!nb) {
			q->oom = 1;
			return NULL;
		}
		q->b = nb;
		q->cap = ncap;
	}
	p = malloc(size ? size : 1);
	if (!p)
		return NULL;
	q->b[q->n].p = p;
	q->b[q->n].size = size;
	q->b[q->n].freed = 0;
	q->n++;
	return p;
}

static void q_free(void *p, void *payload)
{
	quarantine *q = payload;
	qblock *b;

	if (!p)
		return;
	b = q_find(q, p);
	if (!b)
		q->unknown_frees++;
	else if (b->freed)
		q->double_frees++;
	else
		b->freed = 1;
	if (q->in_hook)
		q->frees_in_hook++;
}

static void *q_realloc(void *p, size_t size, void *payload)
{
	quarantine *q = payload;
	qblock *b;
	size_t old;
	void *np;

	if (!p)
		return q_malloc(size, payload);
	b = q_find(q, p);
	old = b ? b->size : 0;
	if (b && b->freed)
		q->reuse_after_free++;
	np = q_malloc(size, payload);
	if (!np)
		return NULL;
	memcpy(np, p, old < size ? old : size);
	q_free(p, payload);
	return np;
}

static size_t q_live(const quarantine *q)
{
	size_t i, live = 0;

	for (i = 0; i < q->n; i++)
		live += !q->b[i].freed;
	return live;
}

typedef struct closer {
	quarantine q;
	stg_log *log;
	int hook, done;
	int64_t now;
	fx_storage store;
} closer;

static void c_maybe_close(closer *c, int hook)
{
	if (c->hook != hook || c->done || !c->log)
		return;
	c->done = 1;
	c->q.in_hook = 1;
	stg_log_close(c->log); /* must do nothing */
	c->q.in_hook = 0;
}

static int c_send(const stg_job *j, stg_job_result *r, void *payload)
{
	(void)j;
	(void)r;
	c_maybe_close(payload, THR_HOOK_SEND);
	return 0;
}

static int c_batch(const stg_job *j, size_t n, stg_job_result *r, void *payload)
{
	(void)j;
	(void)n;
	(void)r;
	c_maybe_close(payload, THR_HOOK_BATCH);
	return 0;
}

static int c_write(const stg_entry *e, void *payload)
{
	closer *c = payload;

	c_maybe_close(c, THR_HOOK_WRITE);
	return fx_storage_write(e, &c->store);
}

static int c_remove(const char *integ, const char *sku, void *payload)
{
	closer *c = payload;

	c_maybe_close(c, THR_HOOK_REMOVE);
	return fx_storage_remove(integ, sku, &c->store);
}

static int64_t c_now(void *payload)
{
	closer *c = payload;

	c_maybe_close(c, THR_HOOK_CLOCK);
	return c->now;
}

static void c_event(const stg_event *ev, void *payload)
{
	(void)ev;
	c_maybe_close(payload, THR_HOOK_EVENT);
}

int thr_close_in_hook(int hook, thr_err *err)
{
	closer *c = calloc(1, sizeof *c);
	stg_allocator a = STG_ALLOCATOR_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_storage st = STG_STORAGE_INIT;
	stg_clock ck = STG_CLOCK_INIT;
	stg_events ev = STG_EVENTS_INIT;
	stg_submit sub = STG_SUBMIT_INIT;
	stg_policy *pol = NULL;
	stg_entry e;
	size_t i, n;
	int rc = -1, steps_ok = 1;

	CHECK(err, c != NULL, "out of memory");
	c->hook = hook;
	c->now = T0;
	a.malloc_fn = q_malloc;
	a.realloc_fn = q_realloc;
	a.free_fn = q_free;
	a.payload = &c->q;
	t.send = c_send;
	t.send_batch = c_batch;
	t.payload = c;
	st.write = c_write;
	st.remove = c_remove;
	st.payload = c;
	ck.now_ms = c_now;
	ck.payload = c;
	ev.on_event = c_event;
	ev.payload = c;
	o.allocator = &a;
	o.storage = &st;
	o.transport = &t;
	o.clock = &ck;
	o.events = &ev;
	if (stg_policy_new(&pol, NULL) || stg_policy_set_min_stock(pol, 5) ||
	    stg_log_open(&c->log, &o) || stg_log_set_policy(c->log, "amz", pol) ||
	    stg_log_set_limits(c->log, "meli", 2, 0, 0)) {
		thr_fail(err, __LINE__, "setup", "%s", stg_last_error());
		goto out;
	}
	/* Reach every hook: submit (clock, write, event), pump (send, batch), remove. */
	sub.integration = "amz";
	sub.sku = "A";
	sub.available = 3;
	sub.sequence = 1;
	steps_ok &= stg_log_submit(c->log, &sub, NULL) == STG_OK;
	sub.integration = "meli";
	sub.sku = "M1";
	steps_ok &= stg_log_submit(c->log, &sub, NULL) == STG_OK;
	sub.sku = "M2";
	steps_ok &= stg_log_submit(c->log, &sub, NULL) == STG_OK;
	steps_ok &= stg_log_pump(c->log, 0, &n) == STG_OK;
	steps_ok &= stg_log_remove(c->log, "amz", "A", 0) == STG_OK;
	if (!c->done) {
		thr_fail(err, __LINE__, "reach", "the %s hook was never called", thr_hook_name(hook));
		goto out;
	}
	if (c->q.frees_in_hook) {
		thr_fail(err, __LINE__, "stg_log_close inside a hook",
		         "stg_log_close() called from inside the %s hook freed %lu blocks of the log "
		         "(hooks.h: a call from inside a hook \"does nothing\"); the library went on "
		         "using them afterwards (quarantined here, a use-after-free in a real host)",
		         thr_hook_name(hook), c->q.frees_in_hook);
		c->log = NULL; /* do not close it twice */
		goto out;
	}
	if (!steps_ok || stg_log_get(c->log, "meli", "M1", &e) != STG_OK) {
		thr_fail(err, __LINE__, "after", "the log misbehaved after a refused close: %s",
		         stg_log_errmsg(c->log));
		goto out;
	}
	stg_log_close(c->log);
	c->log = NULL;
	if (q_live(&c->q) || c->q.double_frees || c->q.unknown_frees || c->q.reuse_after_free ||
	    c->q.oom) {
		thr_fail(err, __LINE__, "close", "after the real close: %zu blocks live, %lu double "
		         "frees, %lu unknown frees, %lu reallocs of freed blocks", q_live(&c->q),
		         c->q.double_frees, c->q.unknown_frees, c->q.reuse_after_free);
		goto out;
	}
	rc = 0;
out:
	stg_log_close(c->log);
	stg_policy_free(pol);
	for (i = 0; i < c->q.n; i++)
		free(c->q.b[i].p);
	free(c->q.b);
	fx_storage_free(&c->store);
	free(c);
	return rc;
}
