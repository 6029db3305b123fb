/*
 * A model-checked random API sequence.
 *
 * A deterministic PRNG (fixed seeds) drives random operations on three
 * integrations and 20 SKUs: submit (random quantities, negatives included,
 * random sequence numbers, stale ones included), batches, pump through a
 * scripted transport that answers at random (ok, 401, 429 with retry-after,
 * 500, 400, not catalogued, async), completion of async jobs (and of ids that
 * no longer exist), a fake clock moving on, pause/resume, set_catalogued,
 * reprocess, remove (forced or not), expire, close + reopen from a
 * recording storage, and host transactions (stg_log_begin() .. commit()
 * around a few of those calls; half the seeds run with a transactional
 * store, where a third of the commits fail and everything the transaction
 * did must be undone: the model goes back to its state at the begin). The reference model of the log (tests/common/model.h,
 * shared with the fuzz target) predicts each submit's decision and published
 * quantity and keeps each key's newest change and acknowledged quantity; the
 * job's life (states, retry times, statistics) is predicted here. Each result
 * is checked; after every step the library's view (stg_log_get, query,
 * counts, stats, is_paused, next_due) is compared with the model:
 *  - one entry per (integration, SKU), never two jobs, removed entries gone;
 *  - a stale change is never applied;
 *  - the quantity of a job (pending or handed to the transport) is the
 *    newest evaluation of the newest applied change;
 *  - the acknowledged quantity is the last one the transport acknowledged;
 *  - no job of a paused integration is sent, none before its hold or its
 *    retry-after ends, none twice at once; due jobs go out at a pump;
 *  - a 429 cools down its whole scope (amazon and magalu share one, meli
 *    has its own): no job of a cooling scope is sent until the retry-after
 *    ends, and the log's cool-down is the model's; a manual pause comes
 *    back after a reopen (the storage has integration records);
 *  - counts per status add up; the stats count what happened.
 *
 * STG_MODEL_STEPS sets the steps per seed (default 6000; four seeds).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include "harness.h"
#include "model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NI 3
#define NK 20
#define BACKOFF_BASE 1000
#define CATALOGUE_RETRY (30 * 60000)
#define MAX_TRANSIENT 3
#define MAX_SUCCESS 15
#define RETRY_AFTER 2000

static const char *const integ_names[NI] = { "amazon", "meli", "magalu" };
/* Rate-limit scopes: amazon and magalu share the application's, meli its own. */
#define NSCOPES 2
static const int scope_of[NI] = { 0, 1, 0 };

/* Per key: the shared model's sm_key (existence, newest change, acknowledged
 * quantity, async job in flight) and the job's life, which this check
 * predicts and the fuzz target reads back from the log. */
typedef struct ment {
	sm_key k;
	int status;
	int job;              /* stg_job_state */
	int errclass;
	uint32_t attempts;    /* failures since the last success (the library's count) */
	uint32_t job_attempts;/* failures since this job started */
	uint32_t job_transient;/* its transient failures: the retry budget */
	int64_t not_before;   /* the job may not go out before this time */
	int ambiguous;        /* transient bound read two ways: take the library's */
	int was_held;         /* the job in flight was held (not catalogued) before */
	int64_t acked_at;     /* time of the last acknowledgement (stale observations) */
} ment;

typedef struct model {
	uint64_t rng;
	fx_storage store;
	fx_clock clock;
	stg_storage sh;
	stg_clock ch;
	stg_transport th;
	stg_log_options opt;
	stg_log *log;
	stg_policy *pol_a, *pol_c;
	ment m[NI][NK];
	sm_policy pol[NI];         /* as set on the log at each open */
	int paused[NI];
	int host_paused[NI];       /* by stg_log_pause(): stored, back after a reopen */
	int64_t cool[NSCOPES];     /* the scope cools down until then (0: never since the open) */
	uint64_t cooldowns, followups; /* since the last open */
	int notice[NI][NK];        /* a catalogue notice remembered for a SKU without an entry */
	int64_t market[NI][NK];    /* the marketplace's last acknowledged quantity */
	int market_has[NI][NK];
	int64_t next_seq;
	uint64_t dead_ids[64];
	size_t ndead;
	/* counters since the last open */
	uint64_t changes, exports, coalesced, stale, attempts, successes, corrections,
		errors[STG_ERRCLASS_COUNT];
	/* during a pump */
	size_t pump_sent, pump_sent_integ[NI], pump_max;
	/* totals */
	long steps, ops[16], sends, acks_checked, reloaded_held, undone;
} model;


static uint64_t rnd(model *m)
{
	uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int below(model *m, int n)
{
	return (int)(rnd(m) % (uint64_t)n);
}

static int integ_of(const char *name)
{
	int i;

	for (i = 0; i < NI; i++)
		if (!strcmp(name, integ_names[i]))
			return i;
	cr_assert_fail("unknown integration %s", name);
	return -1;
}

static int sku_of(const char *sku)
{
	cr_assert(sku[0] == 'k' && sku[1] >= '0' && sku[1] <= '9' && sku[2] >= '0' && sku[2] <= '9' && !sku[3]);
	return (sku[1] - '0') * 10 + (sku[2] - '0');
}

static const char *sku_name(int k)
{
	static char names[NK][4];

	snprintf(names[k], sizeof names[k], "k%02d", k);
	return names[k];
}

/* The policies: amazon cutoff at 3, meli the defaults, magalu reserve 2. */
static void model_policies(sm_policy pol[NI])
{
	int i;

	for (i = 0; i < NI; i++)
		sm_policy_default(&pol[i], NULL, NULL);
	pol[0].min = 3;
	pol[2].min = 2;
	pol[2].mode = STG_MODE_RESERVE;
}

/* ----------------------------------------------------------- transport */

static void apply_result(model *m, int i, int k, const stg_job_result *r, uint64_t id);

static int choose_answer(model *m)
{
	int r = below(m, 100);

	if (r < 40)
		return RH_OK;
	if (r < 43)
		return RH_AUTH;
	if (r < 51)
		return RH_RATE;
	if (r < 63)
		return RH_TRANSIENT;
	if (r < 70)
		return RH_REJECT;
	if (r < 75)
		return RH_NOTCAT;
	if (r < 78)
		return RH_NOTCAT_TEXT;
	if (r < 82)
		return RH_CONFLICT;
	return RH_ASYNC;
}

static void check_job(model *m, const stg_job *j)
{
	int i = integ_of(j->integration), k = sku_of(j->sku);
	ment *e = &m->m[i][k];
	char why[256];

	cr_assert_eq(sm_job_check(&e->k, j, why, sizeof why), 0, "%s", why);
	cr_assert(!m->paused[i], "job of paused integration %s sent", j->integration);
	cr_assert(m->clock.now >= m->cool[scope_of[i]], "(%s, %s) sent into a limit cooling down for %" PRId64
	          " ms more", j->integration, j->sku, m->cool[scope_of[i]] - m->clock.now);
	cr_assert(e->job == STG_JOB_QUEUED || e->job == STG_JOB_HELD,
	          "(%s, %s) sent with job state %d in the model", j->integration, j->sku, e->job);
	cr_assert(m->clock.now >= e->not_before, "(%s, %s) sent %" PRId64 " ms before it was due",
	          j->integration, j->sku, e->not_before - m->clock.now);
	e->was_held = e->job == STG_JOB_HELD;
	m->pump_sent++;
	m->pump_sent_integ[i]++;
	m->attempts++;
	m->sends++;
	cr_assert(!m->pump_max || m->pump_sent <= m->pump_max, "pump sent more than max_jobs");
	cr_assert(i != 1 || m->pump_sent_integ[1] <= 2, "meli's rate limit (2 per second) exceeded");
}

static void answer_job(model *m, const stg_job *j, stg_job_result *r)
{
	int a = choose_answer(m);

	rh_result_for(a, r);
	apply_result(m, integ_of(j->integration), sku_of(j->sku), r, j->id);
	if (a == RH_OK) {
		m->market[integ_of(j->integration)][sku_of(j->sku)] = j->published;
		m->market_has[integ_of(j->integration)][sku_of(j->sku)] = 1;
	}
}

static int md_send(const stg_job *j, stg_job_result *r, void *payload)
{
	model *m = payload;

	check_job(m, j);
	answer_job(m, j, r);
	return 0;
}

static int md_send_batch(const stg_job *jobs, size_t n, stg_job_result *rs, void *payload)
{
	model *m = payload;
	size_t x, y;

	cr_assert(n >= 1 && n <= 3, "batch of %zu (batch size 3)", n);
	for (x = 0; x < n; x++) {
		cr_assert_str_eq(jobs[x].integration, jobs[0].integration, "a batch mixes integrations");
		for (y = 0; y < x; y++)
			cr_assert(strcmp(jobs[x].sku, jobs[y].sku), "one SKU twice in a batch");
		check_job(m, &jobs[x]);
	}
	for (x = 0; x < n; x++)
		answer_job(m, &jobs[x], &rs[x]);
	return 0;
}

/* What the library does with a result, as the header tells it. */
static void apply_result(model *m, int i, int k, const stg_job_result *r, uint64_t id)
{
	ment *e = &m->m[i][k];
	/* what the result is for: the job sent now, or the async one completed */
	int64_t sent = sm_key_result(&e->k, id, e->k.published, r->outcome);

	e->ambiguous = 0;
	if (r->outcome == STG_OUTCOME_ASYNC) {
		e->job = STG_JOB_IN_FLIGHT;
		return;
	}
	if (r->outcome == STG_OUTCOME_OK) {
		m->successes++;
		m->notice[i][k] = 0;
		e->acked_at = m->clock.now;
		e->errclass = STG_ERRCLASS_NONE;
		e->attempts = e->job_attempts = e->job_transient = 0;
		e->not_before = 0;
		if (e->k.published != sent) {
			e->job = STG_JOB_QUEUED; /* a newer change follows at once */
			e->status = STG_ENTRY_PENDING;
			m->followups++;
		} else {
			e->job = STG_JOB_NONE;
			e->status = STG_ENTRY_SUCCESS;
		}
		return;
	}
	e->attempts++;
	e->job_attempts++;
	e->status = STG_ENTRY_PENDING;
	e->job = STG_JOB_QUEUED;
	e->errclass = sm_result_class(r);
	switch (e->errclass) {
	case STG_ERRCLASS_AUTH:
		e->not_before = 0;
		m->paused[i] = 1;
		break;
	case STG_ERRCLASS_NOT_CATALOGUED:
		e->job = STG_JOB_HELD;
		e->not_before = m->clock.now + CATALOGUE_RETRY;
		if (m->notice[i][k]) {
			/* A notice that came before the first change releases it once. */
			m->notice[i][k] = 0;
			e->job = STG_JOB_QUEUED;
			e->not_before = 0;
		}
		break;
	case STG_ERRCLASS_CONFLICT:
		/* At once, within the job's retry budget (shared with transient). */
		e->not_before = 0;
		if (++e->job_transient >= MAX_TRANSIENT) {
			e->job = STG_JOB_NONE;
			e->status = STG_ENTRY_ERROR;
		}
		break;
	case STG_ERRCLASS_RATE_LIMITED: {
		/* The scope cools down (a second 429 meanwhile only lengthens it);
		 * the job is due when the cool-down ends. */
		int64_t *cool = &m->cool[scope_of[i]];
		cr_assert_eq(r->retry_after_ms, RETRY_AFTER);
		if (*cool <= m->clock.now)
			m->cooldowns++;
		if (*cool < m->clock.now + RETRY_AFTER)
			*cool = m->clock.now + RETRY_AFTER;
		e->not_before = *cool;
		break;
	}
	case STG_ERRCLASS_TRANSIENT:
		/* The retry budget is the job's, counted in transient failures. */
		e->not_before = m->clock.now + BACKOFF_BASE / 2;
		if (++e->job_transient >= MAX_TRANSIENT) {
			e->job = STG_JOB_NONE;
			e->status = STG_ENTRY_ERROR;
		}
		break;
	default:
		cr_assert_eq(e->errclass, STG_ERRCLASS_REJECTED, "class %d", e->errclass);
		e->job = STG_JOB_NONE;
		e->status = STG_ENTRY_ERROR;
		break;
	}
	if (e->job == STG_JOB_NONE && e->k.published != sent) {
		/* Failed for good, but a newer change came while it was out: that
		 * change is a job of its own (log.h) and still goes out. */
		e->job = STG_JOB_QUEUED;
		e->status = STG_ENTRY_PENDING;
		e->job_attempts = e->job_transient = 0;
		e->not_before = 0;
		m->followups++;
	}
	m->errors[e->errclass]++;
}

/* ---------------------------------------------------------------- open */

static void md_open(model *m)
{
	int i;

	cr_assert_eq(stg_log_open(&m->log, &m->opt), STG_OK, "open: %s", stg_last_error());
	cr_assert_eq(stg_log_set_policy(m->log, integ_names[0], m->pol_a), STG_OK);
	cr_assert_eq(stg_log_set_policy(m->log, integ_names[2], m->pol_c), STG_OK);
	cr_assert_eq(stg_log_set_limits(m->log, integ_names[1], 1, 2, 1000), STG_OK);
	cr_assert_eq(stg_log_set_limits(m->log, integ_names[2], 3, 0, 0), STG_OK);
	/* Scopes are not stored: set again at every open, cool-downs gone. */
	cr_assert_eq(stg_log_set_limit_scope(m->log, integ_names[0], "app"), STG_OK);
	cr_assert_eq(stg_log_set_limit_scope(m->log, integ_names[2], "app"), STG_OK);
	memset(m->cool, 0, sizeof m->cool);
	m->cooldowns = m->followups = 0;
	m->changes = m->exports = m->coalesced = m->stale = m->attempts = m->successes = 0;
	m->corrections = 0;
	memset(m->notice, 0, sizeof m->notice); /* notices are kept in memory only */
	memset(m->errors, 0, sizeof m->errors);
	for (i = 0; i < NI; i++) {
		int k, paused = 0;
		for (k = 0; k < NK; k++) {
			ment *e = &m->m[i][k];
			if (!e->k.exists)
				continue;
			if (e->job == STG_JOB_IN_FLIGHT) {
				/* Handed out, never completed: pending again, due now. The
				 * hand-off is not written, so a held job that went out on
				 * its slow retry comes back held (log.h says "queued"). */
				if (e->k.async_id && m->ndead < 64)
					m->dead_ids[m->ndead++] = e->k.async_id;
				e->job = STG_JOB_QUEUED;
				if (e->was_held) {
					stg_entry g;
					cr_assert_eq(stg_log_get(m->log, integ_names[i], sku_name(k), &g), STG_OK);
					cr_assert(g.job_state == STG_JOB_QUEUED || g.job_state == STG_JOB_HELD);
					e->job = g.job_state;
					m->reloaded_held += g.job_state == STG_JOB_HELD;
				}
				e->not_before = 0;
				e->k.async_id = 0;
			}
			paused |= e->job == STG_JOB_QUEUED && e->errclass == STG_ERRCLASS_AUTH;
		}
		m->paused[i] = paused || m->host_paused[i];
	}
}

static model *model_new(uint64_t seed, int txn)
{
	model *m = calloc(1, sizeof *m);

	cr_assert_not_null(m);
	m->rng = seed;
	model_policies(m->pol);
	rh_store_init(&m->store);
	m->store.transactional = txn;
	m->clock.now = INT64_C(1700000000000);
	m->sh = fx_storage_hook_v2(&m->store);
	m->ch = fx_clock_hook(&m->clock);
	m->th.version = STG_TRANSPORT_VERSION;
	m->th.send = md_send;
	m->th.send_batch = md_send_batch;
	m->th.payload = m;
	stg_log_options_init(&m->opt, STG_LOG_OPTIONS_VERSION);
	m->opt.storage = &m->sh;
	m->opt.clock = &m->ch;
	m->opt.transport = &m->th;
	m->opt.backoff_base_ms = BACKOFF_BASE;
	m->opt.backoff_max_ms = 60000;
	m->opt.catalogue_retry_ms = CATALOGUE_RETRY;
	m->opt.max_transient_attempts = MAX_TRANSIENT;
	m->opt.success_max_count = MAX_SUCCESS;
	m->opt.jitter_seed = seed;
	cr_assert_eq(stg_policy_new(&m->pol_a, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(m->pol_a, 3), STG_OK);
	cr_assert_eq(stg_policy_new(&m->pol_c, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(m->pol_c, 2), STG_OK);
	cr_assert_eq(stg_policy_set_mode(m->pol_c, STG_MODE_RESERVE), STG_OK);
	m->next_seq = 100;
	md_open(m);
	return m;
}

static void model_free(model *m)
{
	stg_log_close(m->log);
	stg_policy_free(m->pol_a);
	stg_policy_free(m->pol_c);
	fx_storage_free(&m->store);
	free(m);
}

/* ------------------------------------------------------------- checks */

/* Settle what the model could not know in advance (see ambiguous). */
static void resolve(model *m)
{
	int i, k;

	for (i = 0; i < NI; i++)
		for (k = 0; k < NK; k++) {
			ment *e = &m->m[i][k];
			stg_entry got;
			if (!e->ambiguous)
				continue;
			cr_assert_eq(stg_log_get(m->log, integ_names[i], sku_name(k), &got), STG_OK);
			cr_assert(got.job_state == STG_JOB_QUEUED || got.job_state == STG_JOB_NONE);
			if (got.job_state == STG_JOB_NONE) {
				e->job = STG_JOB_NONE;
				e->status = STG_ENTRY_ERROR;
			}
			e->ambiguous = 0;
		}
}

static void check_all(model *m, const char *step)
{
	stg_counts c, ci;
	stg_stats st;
	fx_snap snap;
	uint64_t pending = 0, success = 0, error = 0, held = 0, live = 0, waiting = 0;
	uint64_t due_now_in[NI] = { 0 };
	stg_limit_state ls;
	int64_t wait, bound;
	int i, k;

	for (i = 0; i < NI; i++) {
		uint64_t ip = 0, is = 0, ie = 0, ih = 0;
		int paused = -1;
		cr_assert_eq(stg_log_is_paused(m->log, integ_names[i], &paused), STG_OK);
		cr_assert_eq(paused, m->paused[i], "%s: %s paused %d, model %d", step, integ_names[i], paused,
		             m->paused[i]);
		for (k = 0; k < NK; k++) {
			const ment *e = &m->m[i][k];
			stg_entry g;
			int rc = stg_log_get(m->log, integ_names[i], sku_name(k), &g);
			if (!e->k.exists) {
				cr_assert_eq(rc, STG_ENOTFOUND, "%s: (%s, %s) should not exist", step, integ_names[i],
				             sku_name(k));
				continue;
			}
			cr_assert_eq(rc, STG_OK, "%s: (%s, %s) missing", step, integ_names[i], sku_name(k));
			live++;
			cr_assert_eq(g.status, e->status, "%s: (%s, %s) status %d, model %d", step, g.integration,
			             g.sku, g.status, e->status);
			cr_assert_eq(g.job_state, e->job, "%s: (%s, %s) job state %d, model %d", step,
			             g.integration, g.sku, g.job_state, e->job);
			cr_assert_eq(g.sequence, e->k.seq, "%s: (%s, %s) sequence", step, g.integration, g.sku);
			cr_assert_eq(g.available, e->k.avail, "%s: (%s, %s) available", step, g.integration, g.sku);
			cr_assert_eq(g.published, e->k.published, "%s: (%s, %s) published %" PRId64 ", newest evaluation %" PRId64,
			             step, g.integration, g.sku, g.published, e->k.published);
			cr_assert_eq(!!(g.flags & STG_ENTRY_HAS_ACKED), e->k.has_ack, "%s: (%s, %s) has-acked",
			             step, g.integration, g.sku);
			if (e->k.has_ack) {
				cr_assert_eq(g.acked, e->k.acked, "%s: (%s, %s) acked", step, g.integration, g.sku);
				cr_assert(m->market_has[i][k] && m->market[i][k] == g.acked,
				          "%s: (%s, %s) acked %" PRId64 ", the marketplace last acknowledged %" PRId64,
				          step, g.integration, g.sku, g.acked, m->market[i][k]);
				m->acks_checked++;
			}
			cr_assert_eq(g.error_class, e->errclass, "%s: (%s, %s) error class %d, model %d", step,
			             g.integration, g.sku, g.error_class, e->errclass);
			cr_assert_eq(g.status == STG_ENTRY_PENDING, g.job_state != STG_JOB_NONE);
			if (e->status == STG_ENTRY_PENDING) {
				pending++;
				ip++;
				if (e->job == STG_JOB_HELD || m->paused[i]) {
					held++;
					ih++;
				}
			} else if (e->status == STG_ENTRY_SUCCESS) {
				success++;
				is++;
			} else {
				error++;
				ie++;
			}
			if (!m->paused[i] && (e->job == STG_JOB_QUEUED || e->job == STG_JOB_HELD)) {
				waiting++;
				/* Due now, unless its scope cools down (it then waits for that). */
				if (e->job == STG_JOB_QUEUED && e->not_before == 0 &&
				    m->cool[scope_of[i]] <= m->clock.now)
					due_now_in[i]++;
			}
		}
		cr_assert_eq(stg_log_counts(m->log, integ_names[i], &ci), STG_OK);
		cr_assert(ci.pending == ip && ci.success == is && ci.error == ie && ci.held == ih,
		          "%s: %s counts %" PRIu64 "/%" PRIu64 "/%" PRIu64 " held %" PRIu64 ", model %" PRIu64
		          "/%" PRIu64 "/%" PRIu64 " held %" PRIu64, step, integ_names[i], ci.pending, ci.success,
		          ci.error, ci.held, ip, is, ie, ih);
	}
	cr_assert_eq(stg_log_counts(m->log, NULL, &c), STG_OK);
	cr_assert(c.pending == pending && c.success == success && c.error == error && c.held == held,
	          "%s: counts do not add up", step);
	cr_assert_eq(c.pending + c.success + c.error, live);
	fx_snap_log(m->log, &snap); /* fails on a key seen twice */
	cr_assert_eq(snap.n, (size_t)live, "%s: query lists %zu entries, model has %" PRIu64, step, snap.n, live);
	for (i = 0; i < (int)snap.n; i++)
		cr_assert(m->m[integ_of(snap.v[i].integration)][sku_of(snap.v[i].sku)].k.exists);
	fx_snap_free(&snap);
	cr_assert_eq(stg_log_stats(m->log, NULL, &st), STG_OK);
	cr_assert(st.changes == m->changes && st.exports == m->exports && st.coalesced == m->coalesced &&
	          st.stale == m->stale,
	          "%s: stats changes/exports/coalesced/stale %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64
	          ", model %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64, step, st.changes, st.exports,
	          st.coalesced, st.stale, m->changes, m->exports, m->coalesced, m->stale);
	cr_assert_eq(st.corrections, m->corrections, "%s: stats corrections", step);
	cr_assert(st.attempts == m->attempts && st.successes == m->successes,
	          "%s: stats attempts/successes %" PRIu64 "/%" PRIu64 ", model %" PRIu64 "/%" PRIu64, step,
	          st.attempts, st.successes, m->attempts, m->successes);
	for (i = 1; i < STG_ERRCLASS_COUNT; i++)
		cr_assert_eq(st.errors[i], m->errors[i], "%s: errors of class %d", step, i);
	cr_assert(st.cooldowns == m->cooldowns, "%s: %" PRIu64 " cool-downs, model %" PRIu64, step,
	          st.cooldowns, m->cooldowns);
	cr_assert(st.saved_by_coalescing == m->coalesced - m->followups,
	          "%s: %" PRIu64 " calls saved by coalescing, model %" PRIu64 " merges less %" PRIu64
	          " follow-ups", step, st.saved_by_coalescing, m->coalesced, m->followups);
	for (i = 0; i < NI; i++) {
		int64_t cool = m->cool[scope_of[i]];
		cr_assert_eq(stg_log_limit_state(m->log, integ_names[i], &ls), STG_OK);
		cr_assert_eq(ls.cooling_until, cool > m->clock.now ? cool : 0,
		             "%s: %s cools down until %" PRId64 ", model %" PRId64, step, integ_names[i],
		             ls.cooling_until, cool);
	}
	cr_assert_eq(stg_log_next_due(m->log, &wait), STG_OK);
	/* A due job goes now where there is no rate limit; on meli it may
	 * wait for a token: one at the adaptive rate (2 per second, 7/8 of
	 * that after each 429, recovering). */
	if (due_now_in[0] || due_now_in[2])
		cr_assert_eq(wait, 0, "%s: a job is due now but next_due says %" PRId64, step, wait);
	cr_assert_eq(stg_log_limit_state(m->log, integ_names[1], &ls), STG_OK);
	bound = (int64_t)(1000.0 / ls.rate_per_s) + 1;
	if (due_now_in[1])
		cr_assert(wait >= 0 && wait <= bound, "%s: a meli job is due now but next_due says %" PRId64
		          " (a token at %.3f per second comes within %" PRId64 ")", step, wait, ls.rate_per_s, bound);
	cr_assert_eq(wait < 0, waiting == 0, "%s: next_due %" PRId64 " with %" PRIu64 " jobs waiting", step,
	             wait, waiting);
}

/* ------------------------------------------------------------- steps */

static stg_submit random_change(model *m, int *pi, int *pk)
{
	int i = below(m, NI), k = below(m, NK), r = below(m, 100);
	const ment *e = &m->m[i][k];
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = integ_names[i];
	s.sku = sku_name(k);
	if (r < 40)
		s.available = below(m, 12) - 2;      /* around the minimum and the window */
	else if (r < 90)
		s.available = below(m, 40);
	else
		s.available = 100 + below(m, 50);
	if (e->k.exists && below(m, 100) < 15)
		s.sequence = e->k.seq - below(m, 4);   /* stale, or equal */
	else
		s.sequence = m->next_seq += 1 + below(m, 3);
	if (below(m, 100) < 8)
		s.flags = STG_CHANGE_NON_STOCK;
	*pi = i;
	*pk = k;
	return s;
}

/* Predict and apply one change to the model; check the library's result. */
static void model_submit(model *m, int i, int k, const stg_submit *s, const stg_submit_result *res)
{
	ment *e = &m->m[i][k];
	unsigned warn;
	int64_t p1 = sm_publish(&m->pol[i], s->sku, s->category, s->available, &warn);
	/* The policies do not change, so the stored evaluation is the previous
	 * available as this change's policy publishes it. */
	sm_prior b = { e->k.exists, e->k.seq, e->status, e->job, e->k.has_ack, e->k.acked, e->k.published };
	int reason, decision = sm_decide(&b, s, p1, m->pol[i].window, &reason);

	m->changes++;
	if (decision == STG_DECISION_STALE) {
		m->stale++;
		cr_assert_eq(res->decision, STG_DECISION_STALE, "(%s, %s) seq %" PRId64 " < %" PRId64 " not stale",
		             s->integration, s->sku, s->sequence, e->k.seq);
		return;
	}
	cr_assert_eq(res->decision, decision, "(%s, %s) %" PRId64 " -> %" PRId64 ": decision %d, model %d",
	             s->integration, s->sku, e->k.published, p1, res->decision, decision);
	cr_assert_eq(res->reason, reason, "(%s, %s) reason %d, model %d", s->integration, s->sku, res->reason,
	             reason);
	cr_assert_eq(res->published, p1);
	cr_assert_eq(res->warnings, warn ? STG_WARN_MIN_STOCK_REACHED : 0u, "(%s, %s) available %" PRId64
	             ": warnings %u", s->integration, s->sku, s->available, res->warnings);
	if (!e->k.exists) {
		memset(e, 0, sizeof *e);
		e->k.exists = 1;
		m->market_has[i][k] = 0;
	}
	if (decision == STG_DECISION_EXPORT) {
		m->exports++;
		e->job = STG_JOB_QUEUED;
		e->status = STG_ENTRY_PENDING;
		e->not_before = 0;
		e->job_attempts = e->job_transient = 0;
	} else if (decision == STG_DECISION_COALESCED) {
		m->coalesced++;
	}
	sm_key_applied(&e->k, s, p1);
}

static void step_submit(model *m)
{
	stg_submit s;
	stg_submit_result res;
	stg_entry before, after;
	int i, k, rc, had;

	s = random_change(m, &i, &k);
	had = stg_log_get(m->log, s.integration, s.sku, &before) == STG_OK;
	rc = stg_log_submit(m->log, &s, &res);
	cr_assert_eq(rc, STG_OK, "submit: %s", stg_log_errmsg(m->log));
	if (res.decision == STG_DECISION_STALE) {
		char why[256];
		cr_assert(had);
		cr_assert_eq(stg_log_get(m->log, s.integration, s.sku, &after), STG_OK);
		cr_assert_eq(rh_entry_diff(&before, &after, RH_CMP_EXACT, why, sizeof why), 0,
		             "a stale change was applied: %s", why);
	}
	model_submit(m, i, k, &s, &res);
}

static void step_batch(model *m)
{
	stg_submit s[4];
	stg_submit_result res[4];
	int ii[4], kk[4], n = 2 + below(m, 3), x;
	size_t done = 0;

	for (x = 0; x < n; x++)
		s[x] = random_change(m, &ii[x], &kk[x]);
	/* changes are applied in order: later ones of the same SKU see earlier ones */
	cr_assert_eq(stg_log_submit_batch(m->log, s, (size_t)n, res, &done), STG_OK);
	cr_assert_eq(done, (size_t)n);
	for (x = 0; x < n; x++) {
		/* a stale draw was made against the state before the batch; recompute */
		model_submit(m, ii[x], kk[x], &s[x], &res[x]);
	}
}

static void step_pump(model *m)
{
	static const size_t maxes[] = { 0, 0, 1, 3 };
	size_t sent = 0;
	int rc, i, k;

	m->pump_max = maxes[below(m, 4)];
	m->pump_sent = 0;
	memset(m->pump_sent_integ, 0, sizeof m->pump_sent_integ);
	rc = stg_log_pump(m->log, m->pump_max, &sent);
	cr_assert_eq(rc, STG_OK, "pump: %d %s", rc, stg_log_errmsg(m->log));
	cr_assert_eq(sent, m->pump_sent);
	resolve(m);
	if (m->pump_max)
		return;
	/* Everything due now in integrations without a rate limit went out. */
	for (i = 0; i < NI; i += 2)
		for (k = 0; k < NK && !m->paused[i] && m->cool[scope_of[i]] <= m->clock.now; k++)
			cr_assert(!(m->m[i][k].k.exists && m->m[i][k].job == STG_JOB_QUEUED && m->m[i][k].not_before == 0),
			          "(%s, %s) was due but the pump did not send it", integ_names[i], sku_name(k));
}

static void step_complete(model *m)
{
	int i, k, n = 0, pick, answer, rc;
	stg_job_result r;

	if (below(m, 10) == 0 && m->ndead) {
		/* an id that is no longer in flight (a retry keeps its job's id) */
		uint64_t id = m->dead_ids[below(m, (int)m->ndead)];
		for (i = 0; i < NI; i++)
			for (k = 0; k < NK; k++)
				if (m->m[i][k].k.exists && m->m[i][k].job == STG_JOB_IN_FLIGHT && m->m[i][k].k.async_id == id)
					return;
		rh_result_for(RH_OK, &r);
		rc = stg_log_complete(m->log, id, &r);
		cr_assert_eq(rc, STG_ENOTFOUND, "completing a dead id: %d", rc);
		return;
	}
	for (i = 0; i < NI; i++)
		for (k = 0; k < NK; k++)
			n += m->m[i][k].k.exists && m->m[i][k].job == STG_JOB_IN_FLIGHT;
	if (!n)
		return;
	pick = below(m, n);
	for (i = 0; i < NI; i++)
		for (k = 0; k < NK; k++) {
			ment *e = &m->m[i][k];
			if (!(e->k.exists && e->job == STG_JOB_IN_FLIGHT) || pick-- != 0)
				continue;
			do
				answer = choose_answer(m);
			while (answer == RH_ASYNC);
			rh_result_for(answer, &r);
			rc = stg_log_complete(m->log, e->k.async_id, &r);
			cr_assert_eq(rc, STG_OK, "complete: %d %s", rc, stg_log_errmsg(m->log));
			if (m->ndead < 64)
				m->dead_ids[m->ndead++] = e->k.async_id;
			else
				m->dead_ids[below(m, 64)] = e->k.async_id;
			if (answer == RH_OK) {
				m->market[i][k] = e->k.async_pub;
				m->market_has[i][k] = 1;
			}
			apply_result(m, i, k, &r, 0);
			resolve(m);
			return;
		}
}

static void step_clock(model *m)
{
	static const int64_t steps[] = { 0, 300, 1500, 5000, 60000, CATALOGUE_RETRY + 1, 2 * 3600000 };
	m->clock.now += steps[below(m, 7)];
}

static void step_pause_resume(model *m)
{
	int i = below(m, NI), k;

	if (below(m, 2)) {
		cr_assert_eq(stg_log_pause(m->log, integ_names[i]), STG_OK);
		m->paused[i] = m->host_paused[i] = 1;
		return;
	}
	cr_assert_eq(stg_log_resume(m->log, integ_names[i]), STG_OK, "resume: %s", stg_log_errmsg(m->log));
	for (k = 0; k < NK; k++) {
		ment *e = &m->m[i][k];
		if (e->k.exists && e->job == STG_JOB_QUEUED && e->errclass == STG_ERRCLASS_AUTH) {
			e->errclass = STG_ERRCLASS_NONE;
			e->not_before = 0;
		}
	}
	m->paused[i] = m->host_paused[i] = 0;
}

static void step_catalogued(model *m)
{
	int i = below(m, NI), k = below(m, NK), rc;
	ment *e = &m->m[i][k];

	rc = stg_log_set_catalogued(m->log, integ_names[i], sku_name(k));
	if (!e->k.exists) {
		cr_assert_eq(rc, STG_OK, "a notice for a SKU without an entry is remembered");
		m->notice[i][k] = 1;
	} else if (e->job != STG_JOB_HELD) {
		cr_assert_eq(rc, STG_ESTATE, "set_catalogued on job state %d: %d", e->job, rc);
	} else {
		cr_assert_eq(rc, STG_OK);
		e->job = STG_JOB_QUEUED;
		e->not_before = 0;
	}
}

/* What the marketplace shows (marketplace.h, stg_log_observe()): the
 * quantity the log expects, another one, an old read, or "no such SKU". */
static void step_observe(model *m)
{
	int i = below(m, NI), k = below(m, NK), rc, out = -1, want, kind = below(m, 4);
	ment *e = &m->m[i][k];
	stg_observation o = STG_OBSERVATION_INIT;

	o.integration = integ_names[i];
	o.sku = sku_name(k);
	o.quantity = kind == 0 ? e->k.published : kind == 1 && e->k.has_ack ? e->k.acked : 1000 + below(m, 5);
	o.flags = kind == 3 ? STG_OBSERVE_MISSING : 0u;
	o.observed_at = below(m, 4) == 0 ? m->clock.now - 1 : 0;
	rc = stg_log_observe(m->log, &o, &out);
	if (!e->k.exists) {
		cr_assert_eq(rc, STG_ENOTFOUND);
		return;
	}
	cr_assert_eq(rc, STG_OK, "observe: %s", stg_log_errmsg(m->log));
	if ((o.observed_at ? o.observed_at : m->clock.now) < e->acked_at)
		want = STG_OBSERVED_STALE;
	else if (o.flags & STG_OBSERVE_MISSING)
		want = e->job == STG_JOB_IN_FLIGHT || e->job == STG_JOB_HELD ||
		       (e->job == STG_JOB_QUEUED && e->errclass == STG_ERRCLASS_AUTH)
		       ? STG_OBSERVED_PENDING : STG_OBSERVED_NOT_CATALOGUED;
	else if (e->job != STG_JOB_NONE)
		want = STG_OBSERVED_PENDING;
	else if (o.quantity == e->k.published || (e->k.has_ack && o.quantity == e->k.acked))
		want = STG_OBSERVED_IN_SYNC;
	else
		want = STG_OBSERVED_CORRECTED;
	cr_assert_eq(out, want, "observe (%s, %s) kind %d: outcome %d, model %d", o.integration, o.sku,
	             kind, out, want);
	if (want != STG_OBSERVED_CORRECTED && want != STG_OBSERVED_NOT_CATALOGUED)
		return;
	m->corrections++;
	if (e->job == STG_JOB_NONE)
		e->job_attempts = e->job_transient = 0; /* a new job */
	e->status = STG_ENTRY_PENDING;
	if (want == STG_OBSERVED_NOT_CATALOGUED) {
		e->job = STG_JOB_HELD;
		e->errclass = STG_ERRCLASS_NOT_CATALOGUED;
		e->not_before = m->clock.now + CATALOGUE_RETRY;
	} else {
		e->job = STG_JOB_QUEUED;
		e->not_before = 0;
	}
}

static void step_reprocess(model *m)
{
	int i = below(m, NI), k = below(m, NK), rc;
	ment *e = &m->m[i][k];

	rc = stg_log_reprocess(m->log, integ_names[i], sku_name(k));
	if (!e->k.exists) {
		cr_assert_eq(rc, STG_ENOTFOUND);
	} else if (e->job == STG_JOB_IN_FLIGHT) {
		cr_assert_eq(rc, STG_EBUSY);
	} else {
		cr_assert_eq(rc, STG_OK, "reprocess: %d %s", rc, stg_log_errmsg(m->log));
		if (e->job == STG_JOB_NONE)
			e->job_attempts = e->job_transient = 0;
		e->job = STG_JOB_QUEUED;
		e->status = STG_ENTRY_PENDING;
		e->not_before = 0;
	}
}

static void step_remove(model *m)
{
	int i = below(m, NI), k = below(m, NK), rc, force = below(m, 2);
	ment *e = &m->m[i][k];

	rc = stg_log_remove(m->log, integ_names[i], sku_name(k), force ? STG_REMOVE_FORCE : 0);
	if (!e->k.exists) {
		cr_assert_eq(rc, STG_ENOTFOUND);
	} else if (e->job != STG_JOB_NONE && !force) {
		cr_assert_eq(rc, STG_EBUSY);
	} else {
		cr_assert_eq(rc, STG_OK, "remove: %d %s", rc, stg_log_errmsg(m->log));
		if (e->k.async_id && m->ndead < 64)
			m->dead_ids[m->ndead++] = e->k.async_id;
		memset(e, 0, sizeof *e);
	}
}

static void step_expire(model *m)
{
	int64_t acked_at[NI][NK];
	int i, k, nsucc = 0, gone = 0;
	int64_t newest_gone = INT64_MIN, oldest_kept = INT64_MAX;
	size_t removed = 0;

	memset(acked_at, 0, sizeof acked_at);
	for (i = 0; i < NI; i++)
		for (k = 0; k < NK; k++) {
			stg_entry g;
			if (!m->m[i][k].k.exists)
				continue;
			cr_assert_eq(stg_log_get(m->log, integ_names[i], sku_name(k), &g), STG_OK);
			acked_at[i][k] = g.acked_at;
			nsucc += m->m[i][k].status == STG_ENTRY_SUCCESS;
		}
	cr_assert_eq(stg_log_expire(m->log, &removed), STG_OK);
	cr_assert_eq(removed, (size_t)(nsucc > MAX_SUCCESS ? nsucc - MAX_SUCCESS : 0));
	for (i = 0; i < NI; i++)
		for (k = 0; k < NK; k++) {
			stg_entry g;
			ment *e = &m->m[i][k];
			if (!e->k.exists)
				continue;
			if (stg_log_get(m->log, integ_names[i], sku_name(k), &g) == STG_ENOTFOUND) {
				cr_assert_eq(e->status, STG_ENTRY_SUCCESS, "expire removed a non-success entry");
				if (acked_at[i][k] > newest_gone)
					newest_gone = acked_at[i][k];
				memset(e, 0, sizeof *e);
				gone++;
			} else if (e->status == STG_ENTRY_SUCCESS && acked_at[i][k] < oldest_kept) {
				oldest_kept = acked_at[i][k];
			}
		}
	cr_assert_eq((size_t)gone, removed);
	cr_assert(!gone || newest_gone <= oldest_kept, "expire kept an older success than one it dropped");
}

/* A host transaction around a few calls; with a transactional store a
 * third of the commits fail, and then the log must be as at the begin. */
static void step_txn(model *m)
{
	model *saved = malloc(sizeof *saved);
	int n = 1 + below(m, 6), x, fail = m->store.transactional && below(m, 3) == 0, rc;

	cr_assert_not_null(saved);
	memcpy(saved, m, sizeof *m);
	cr_assert_eq(stg_log_begin(m->log), STG_OK);
	for (x = 0; x < n; x++) {
		switch (below(m, 7)) {
		case 0: case 1: step_submit(m); break;
		case 2: step_batch(m); break;
		case 3: step_reprocess(m); break;
		case 4: step_remove(m); break;
		case 5: step_catalogued(m); break;
		default: step_expire(m); break;
		}
	}
	if (fail) {
		m->store.arm_txn = 1;
		fx_storage_arm(&m->store, 1, 0); /* the next storage call: the commit */
	}
	rc = stg_log_commit(m->log);
	fx_storage_disarm(&m->store);
	m->store.arm_txn = 0;
	if (fail && m->store.failures) {
		cr_assert_eq(rc, STG_ESTORAGE, "failed commit: %d %s", rc, stg_log_errmsg(m->log));
		/* Undone: what the calls did, and what the model learnt from them. */
		memcpy(m->m, saved->m, sizeof m->m);
		memcpy(m->dead_ids, saved->dead_ids, sizeof m->dead_ids);
		m->ndead = saved->ndead;
		m->changes = saved->changes;
		m->exports = saved->exports;
		m->coalesced = saved->coalesced;
		m->stale = saved->stale;
		m->undone++;
	} else {
		cr_assert_eq(rc, STG_OK, "commit: %d %s", rc, stg_log_errmsg(m->log));
	}
	free(saved);
}

static void step_reopen(model *m)
{
	size_t pending = 99;

	cr_assert_eq(stg_log_flush(m->log, &pending), STG_OK);
	cr_assert_eq(pending, (size_t)0);
	stg_log_close(m->log);
	m->log = NULL;
	md_open(m);
}

static void run_seed(uint64_t seed, int txn, long steps, long *checked)
{
	/* Upper bounds of each operation's share of 100 draws. */
	static const int share[] = { 36, 40, 57, 64, 73, 76, 80, 85, 90, 92, 94, 97, 100 };
	model *m = model_new(seed, txn);
	long s;
	char what[64];

	for (s = 0; s < steps; s++) {
		int r = below(m, 100), op = 0;
		while (r >= share[op])
			op++;
		switch (op) {
		case 0: step_submit(m); break;
		case 1: step_batch(m); break;
		case 2: step_pump(m); break;
		case 3: step_complete(m); break;
		case 4: step_clock(m); break;
		case 5: step_pause_resume(m); break;
		case 6: step_catalogued(m); break;
		case 7: step_reprocess(m); break;
		case 8: step_remove(m); break;
		case 9: step_expire(m); break;
		case 10: step_reopen(m); break;
		case 11: step_txn(m); break;
		default: step_observe(m); break;
		}
		m->ops[op]++;
		snprintf(what, sizeof what, "seed %" PRIu64 " step %ld (op %d)", seed, s, op);
		check_all(m, what);
		(*checked)++;
	}
	fprintf(stderr,
	        "model seed %-6" PRIu64 " %s %ld steps: submit %ld, batch %ld, pump %ld (%ld jobs sent), complete %ld, "
	        "clock %ld, pause/resume %ld, catalogued %ld, reprocess %ld, remove %ld, expire %ld, reopen %ld, "
	        "transactions %ld (%ld undone), observe %ld; %ld acknowledged quantities checked\n",
	        seed, txn ? "txn" : "v1 ", steps, m->ops[0], m->ops[1], m->ops[2], m->sends, m->ops[3],
	        m->ops[4], m->ops[5], m->ops[6], m->ops[7], m->ops[8], m->ops[9], m->ops[10], m->ops[11],
	        m->undone, m->ops[12], m->acks_checked);
	model_free(m);
}

Test(reliability, model_random_sequences, .timeout = 100)
{
	static const uint64_t seeds[] = { 1, 42, 4242, 987654321 };
	const char *env = getenv("STG_MODEL_STEPS");
	long steps = env ? atol(env) : 6000, checked = 0;
	size_t x;

	cr_assert_gt(steps, 0, "STG_MODEL_STEPS must be positive");
	for (x = 0; x < sizeof seeds / sizeof seeds[0]; x++)
		run_seed(seeds[x], (int)(x & 1), steps, &checked);
	fprintf(stderr, "model: %ld steps checked against the model (%zu seeds)\n", checked,
	        sizeof seeds / sizeof seeds[0]);
}

/* --------------------------------------------------- transient budget */

/*
 * "transient (5xx, timeouts): a bounded number of backoff retries, then
 * error, waiting for a manual reprocess." A job queued again by that manual
 * reprocess, or by a new change, gets its retries again: one 500 must not
 * put it straight back into error.
 */
static int g_answer;

static int fixed_send(const stg_job *j, stg_job_result *r, void *payload)
{
	rh_result_for(g_answer, r);
	return 0;
}

Test(reliability, transient_retries_after_reprocess)
{
	stg_transport t = STG_TRANSPORT_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	fx_clock clock;
	stg_clock ck;
	stg_submit s = rh_change("amazon", "k00", 50, 1);
	stg_log *log;
	stg_entry e;
	int tries;

	fx_clock_init(&clock, INT64_C(1700000000000));
	ck = fx_clock_hook(&clock);
	t.send = fixed_send;
	o.transport = &t;
	o.clock = &ck;
	o.max_transient_attempts = 3;
	cr_assert_eq(stg_log_open(&log, &o), STG_OK);
	cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	g_answer = RH_TRANSIENT;
	for (tries = 0; tries < 10; tries++) {
		cr_assert_eq(stg_log_get(log, "amazon", "k00", &e), STG_OK);
		if (e.status == STG_ENTRY_ERROR)
			break;
		clock.now += 3600000;
		cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
	}
	cr_assert_eq(e.status, STG_ENTRY_ERROR, "transient failures never became an error");
	cr_assert_eq(tries, 3);

	/* The merchant reprocesses; the marketplace has one more 500. */
	cr_assert_eq(stg_log_reprocess(log, "amazon", "k00"), STG_OK);
	cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
	cr_assert_eq(stg_log_get(log, "amazon", "k00", &e), STG_OK);
	cr_expect_eq(e.status, STG_ENTRY_PENDING,
	             "after a reprocess one 500 ended the job in error at once (attempts %u): the "
	             "reprocessed job got no backoff retries", e.attempts);

	/* Same for a new change after the error. */
	clock.now += 3600000;
	for (tries = 0; tries < 10 && e.status != STG_ENTRY_ERROR; tries++) {
		clock.now += 3600000;
		cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
		cr_assert_eq(stg_log_get(log, "amazon", "k00", &e), STG_OK);
	}
	s.available = 2;
	s.sequence = 2;
	cr_assert_eq(stg_log_submit(log, &s, NULL), STG_OK);
	cr_assert_eq(stg_log_pump(log, 0, NULL), STG_OK);
	cr_assert_eq(stg_log_get(log, "amazon", "k00", &e), STG_OK);
	cr_expect_eq(e.status, STG_ENTRY_PENDING,
	             "a new change after an error: one 500 ended its job in error at once (attempts %u)",
	             e.attempts);
	stg_log_close(log);
}
