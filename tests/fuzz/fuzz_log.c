/*
 * Fuzz target "log": the integration log (SPEC 3 and 4) driven by a
 * sequence of API calls decoded from the fuzz bytes, with hook faults, and
 * checked against the shared reference model after every step.
 *
 * Input: 4 configuration bytes (hooks, options; bits 6-7 of the third choose
 * a transactional, SQLite-like or version-1 store), then actions of one
 * opcode byte and its argument bytes (see the OP_ list and decode_op();
 * missing bytes read as 0). tests/fuzz/gen_corpus.py writes seeds in this
 * format.
 *
 * The world: three integrations x six SKUs; a fake clock; a recording
 * storage hook that keeps entries as stg_entry_encode() bytes (or no
 * storage: the in-memory default), with begin/commit/rollback when
 * transactional (begin keeps a copy of the store, rollback puts it back;
 * faults on each, a commit that lies, a rollback that cannot undo, and a
 * SQLite-like mode where a failed write ends the transaction); the host's
 * transactions (stg_log_begin/commit); a scripted transport (ok, async, every
 * error class, classify-from-HTTP, messages the message rules classify,
 * broken results, failing as a whole, calls into the log from inside);
 * observations of what the marketplace shows (stg_log_observe) and message
 * rules (stg_log_set_rules); an event recorder; a counting allocator that
 * can fail chosen allocations of the next action.
 *
 * The reference model is the one the model check uses too
 * (tests/common/model.h): per (integration, SKU) exists, newest applied
 * sequence, available and published, the acknowledged quantity, the async
 * job in flight; the policy's published quantity and min-stock warning; each
 * submit's decision (stale, coalesced, filter table on published values);
 * the error class of a result under an integration's message rules; the job
 * check. Kept here, for the hook
 * faults only this target makes: per integration paused, limits; the
 * statuses each call may return; what storage holds.
 *
 * Properties checked (FUZZ_CHECK aborts):
 *  - every call returns a status code its header documents; ENOMEM only
 *    with an allocation fault armed, ESTORAGE only with a storage fault;
 *  - one entry per (integration, SKU); at most one job per SKU in flight;
 *    no job id handed out again after its job was acknowledged; a job
 *    carries the newest change's published and available quantities;
 *  - a stale change is never applied; calls that fail change nothing;
 *  - an acknowledged quantity is never forgotten, also when its storage
 *    write fails; after stg_log_flush() succeeds, storage equals memory;
 *    what a reopen loads equals what storage holds;
 *  - no job of a paused integration is sent; an auth failure pauses; resume
 *    clears; a stored auth failure pauses again at open;
 *  - a 429 cools its integration down: no job of it is sent before the
 *    retry-after (at least 1 ms) ends; the job that met it is due when the
 *    cool-down ends; the log's cool-down is within the model's bounds; an
 *    announced quota makes the integration rate-limited;
 *  - counts per status add up to the entries; counts, LATE flags, stats,
 *    next_due and events agree with the entries and the model;
 *  - an unlimited pump sends every due job; priorities go out in order;
 *  - transactions (log.h stg_log_commit()): storage hears begin only before
 *    a write, never nested, and no call returns with one open (outside the
 *    host's); a call whose own commit failed is undone (a batch reports 0
 *    done, the matching calls count 0, memory as before the call) or, for a
 *    pump, complete or flush, keeps its results owed and returns ESTORAGE;
 *    inside the host's transaction pump, complete, flush, pause and resume
 *    return ESTATE, min_stock events wait for the commit; a failed host
 *    commit puts the model back as at the begin (keys, counters, events
 *    dropped); memory equals storage after each commit or undo, and after
 *    every call while no storage hook failed since the last clean flush
 *    (storage in doubt after a rollback that could not undo: until reopen);
 *    a close gives an open transaction up (storage rolled back);
 *  - message rules (marketplace.h): a bad rule set is refused with one of
 *    its documented codes and changes nothing; stg_log_classify() and the
 *    class each failure records follow the model's rules (the host's, the
 *    built-in ones as documented, then the status); not stored; a conflict
 *    is retried at once and ends in error after the transient budget;
 *  - observations: bad input and unknown SKUs refused with nothing changed;
 *    the outcome in the documented order (stale before the last
 *    acknowledgement, missing held as not catalogued, pending, in sync,
 *    corrected); a correction is pending with reason out_of_sync, due now
 *    (or held until the slow retry), counted in stats.corrections (put back
 *    by a failed host commit) and told as STG_EVENT_OUT_OF_SYNC (held until
 *    the host's commit).
 *
 * STG_FUZZ_SKIP=name[,name] turns off named checks (to explore past a known
 * finding): idreuse, heldfail, corrundo (tests/fuzz/README.md).
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <stockguard.h>

/* The reference model shared with the model check (tests/common/model.h).
 * tools/fuzz.sh builds this file with lib/ alone, so its source comes in here. */
#include "../common/model.c"

#include <inttypes.h>
#include <string.h>

#define NI 3
#define NS 24 /* six busy SKUs, then more so that the tables grow */
#define MAX_ACTIONS 400
#define T0 INT64_C(1700000000000)

static const char *const INTEG[NI] = { "amz", "meli", "mgl" };
static const char *const SKU[NS] = { "A", "AB", "B", "C1", "C2", "D", "E00", "E01", "E02",
                                     "E03", "E04", "E05", "E06", "E07", "E08", "E09", "E10",
                                     "E11", "E12", "E13", "E14", "E15", "E16", "E17" };

/* A key from one byte: mostly the six busy SKUs. */
static void pick_key(unsigned a, int *i, int *k)
{
	unsigned r = a / 3;

	*i = (int)(a % 3);
	*k = r < 60 ? (int)(r % 6) : 6 + (int)((r - 60) % 18);
}

/* Status sets (bit per -code). */
#define B(x) (1u << (unsigned)(-(x)))
#define OKB 1u

/* ------------------------------------------------------------------ model */

struct mkey {
	sm_key mk;          /* the shared model's key: newest change, ack, async job */
	int handed;         /* handed out during the current pump */
	int may_resend;     /* a conflict made it due at once: this pump may send it again */
	int failed_handoff; /* handed to a transport call that failed as a whole */
	int due_kind;       /* after a failure: the job state expected, with its due range */
	int64_t due_lo, due_hi;
	uint64_t due_job;   /* the failed job (a follow-up after a final failure is new) */
	int due_cls;        /* the class its failure must be recorded with */
	int64_t acked_at;   /* when the marketplace last acknowledged (0: never) */
};

struct minteg {
	int paused;
	int known;          /* the log certainly knows the integration */
	sm_policy pol;      /* overrides for SKU "A" and category "c" */
	int limited;        /* a rate limit is set, or a quota was announced */
	int announced;      /* a quota was announced (stays until the close) */
	int64_t cool_lo, cool_hi; /* the cool-down lasts at least / at most until (0: none) */
	int cooled_in_pump; /* a 429 in this pump: later due jobs of it wait */
	sm_rules rules;     /* its message rules (not stored: built-in again at open) */
	int paused_in_pump;
	int last_prio;      /* priority of the last job handed out in this pump */
};

struct rec {
	int used;
	uint8_t *bytes;
	size_t len;
};

struct world {
	stg_log *log;
	int notice[NI][NS];   /* catalogue notices remembered for SKUs without an entry (memory only) */
	int64_t now;
	int neg_clock, clock_back;
	int use_storage, have_transport, use_batch, use_events, page;
	int64_t latency_limit, max_age, backoff_max, catalogue_retry;
	uint64_t max_count;
	stg_log_options opt;
	stg_storage storage;
	stg_transport transport;
	stg_clock clock;
	stg_events events;
	stg_allocator alloc;

	struct mkey k[NI][NS];
	struct minteg in[NI];
	struct rec store[NI][NS];

	/* storage faults: bit 0 applies to the next write / remove */
	unsigned write_fail, remove_fail;
	int load_mode;

	/* A transactional store (version 2: begin/commit/rollback). begin keeps a
	 * copy of store[][], rollback puts it back, commit drops it. Fault bits
	 * as for writes: bit 0 applies to the next begin / commit / rollback.
	 * doubt: a failing commit did commit after all (and the rollback that
	 * follows fails), a failing rollback keeps the changes: storage is then
	 * in doubt until a reopen reads it. sqlite_like: a failing write or
	 * remove inside a transaction ends it (store back as at begin), and
	 * later writes, removes and the commit fail until the log rolls back. */
	int txn_store, sqlite_like;
	unsigned begin_fail, commit_fail, rollback_fail;
	int doubt;
	struct rec saved[NI][NS]; /* the store at begin */
	int st_open, st_dead, st_lied, st_ops;
	int in_doubt;             /* storage may differ from memory: no store checks */
	/* this action's storage transactions: how many commits, the first's and
	 * the last's outcome (1 committed, 2 failed) */
	int call_commits, call_first_commit, call_last_commit, call_rollbacks;
	int maybe_owed;           /* a storage hook failed since the last clean flush */

	/* The host's transaction (stg_log_begin()), and the model at its begin. */
	int host_open, owed_at_begin;
	int host_began;           /* storage heard begin for it */
	struct mkey k_begin[NI][NS];
	uint64_t changes_begin, exports_begin, coalesced_begin, stale_begin, skips_begin;
	uint64_t stale_ids_begin[32];
	size_t nstale_begin;
	/* min_stock events of the host transaction: expected at its commit, and
	 * told early (an event the log could not hold: out of memory) */
	uint64_t min_pending, min_early;
	/* allocator: fail allocations number [fail_from, fail_to) while armed */
	uint64_t allocs, fail_from, fail_to;
	int alloc_armed;

	/* transport script for the current pump */
	uint8_t script[8];
	size_t script_len, script_pos;
	int in_pump, transport_failed, invalid_result;
	size_t handed_ok;

	/* ids of acknowledged jobs; ids of jobs dropped by a remove or a reopen */
	uint64_t finished[1024];
	size_t nfinished;
	uint64_t stale_ids[32];
	size_t nstale;

	/* counters since open, as the log should report them */
	uint64_t changes, exports, coalesced, stale, skips, attempts, successes, errors;
	/* events: expected and seen */
	uint64_t exp_paused[NI], got_paused[NI], exp_resumed[NI], got_resumed[NI];
	uint64_t exp_min, got_min, got_abnormal;
	/* out_of_sync events (stg_log_observe()): as min_stock ones, held in the
	 * host's transaction; the one expected next outside it (key, observed) */
	uint64_t exp_oos, got_oos, oos_pending, oos_early, corrections, corrections_begin;
	int oos_want, oos_i, oos_s;
	int64_t oos_observed;

	int probe;          /* hooks call into the log and expect ERECURSIVE */
	int releasing;      /* inside stg_log_commit(): the transaction's held events come */
	int hook_failed;    /* a storage hook failed during the current action */
	int in_call;
};

static struct world W;
static int skip_idreuse = -1, skip_heldfail, skip_corrundo;
static int trace;

/* STG_FUZZ_TRACE=1 prints the actions and results (to read a finding). */
#define TRACE(...)                                                                       \
	do {                                                                             \
		if (trace) {                                                             \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                            \
		}                                                                        \
	} while (0)

static int64_t eff_now(void)
{
	return W.neg_clock ? 0 : W.now;
}

static int key_of(const char *integ, const char *sku, int *i, int *s)
{
	int a, b;

	if (!integ || !sku)
		return 0;
	for (a = 0; a < NI; a++)
		if (strcmp(integ, INTEG[a]) == 0)
			for (b = 0; b < NS; b++)
				if (strcmp(sku, SKU[b]) == 0) {
					*i = a;
					*s = b;
					return 1;
				}
	return 0;
}

static int integ_of(const char *name)
{
	int a;

	for (a = 0; a < NI; a++)
		if (name && strcmp(name, INTEG[a]) == 0)
			return a;
	return -1;
}

/* What the policy of integration i publishes (the shared model). */
static int64_t pub(const struct minteg *in, int k, const char *cat, int64_t a, unsigned *warn)
{
	return sm_publish(&in->pol, SKU[k], cat, a, warn);
}

static void rc_in(const char *fn, int rc, unsigned allowed)
{
	unsigned bit;

	if (W.in_call && strcmp(fn, "stg_log_get") != 0)
		TRACE("  %s: %d", fn, rc);
	if (rc > 0 || rc < -31) {
		FUZZ_CHECK(0, "%s returned %d, not a status code", fn, rc);
	}
	bit = rc == 0 ? OKB : B(rc);
	FUZZ_CHECK(allowed & bit, "%s returned %d (%s), which its documentation does not list; "
	           "message: %s", fn, rc, stg_strerror(rc), W.log ? stg_log_errmsg(W.log) : "");
	if (rc == STG_ENOMEM)
		FUZZ_CHECK(W.alloc_armed, "%s returned ENOMEM without an allocation fault", fn);
	if (rc == STG_ESTORAGE)
		FUZZ_CHECK(W.use_storage && W.hook_failed,
		           "%s returned ESTORAGE but no storage hook failed", fn);
}

static void add_stale_id(uint64_t id)
{
	if (id && W.nstale < sizeof W.stale_ids / sizeof *W.stale_ids)
		W.stale_ids[W.nstale++] = id;
}

static int is_finished(uint64_t id)
{
	size_t i;

	for (i = 0; i < W.nfinished; i++)
		if (W.finished[i] == id)
			return 1;
	return 0;
}

static void add_finished(uint64_t id)
{
	if (W.nfinished < sizeof W.finished / sizeof *W.finished && !is_finished(id))
		W.finished[W.nfinished++] = id;
}

/* ------------------------------------------------------------- allocator */

/* The hooks below are this target's own, not the shared fixture's
 * (tests/common/fixture.h): the input bytes drive their faults (a fault bit
 * per storage write and remove, load modes that corrupt or repeat entries, a
 * range of failing allocations, a transport answer per byte), each calls
 * into the log from inside (probe()), and they check properties of what the
 * log hands them as it hands it (keys known, no LATE flag stored, loadable
 * states). */

static int alloc_fails(void)
{
	uint64_t n = W.allocs++;
	return W.alloc_armed && n >= W.fail_from && n < W.fail_to;
}

static void *fz_malloc(size_t n, void *p)
{
	(void)p;
	return alloc_fails() ? NULL : malloc(n);
}

static void *fz_realloc(void *q, size_t n, void *p)
{
	(void)p;
	return alloc_fails() ? NULL : realloc(q, n);
}

static void fz_free(void *q, void *p)
{
	(void)p;
	free(q);
}

/* ------------------------------------------------------- recursion probe */

static void probe(void)
{
	stg_entry e = STG_ENTRY_INIT;
	stg_submit s = STG_SUBMIT_INIT;
	size_t n = 0;
	int rc;

	if (!W.probe || !W.log || !W.in_call)
		return;
	s.integration = INTEG[0];
	s.sku = SKU[0];
	s.available = 12345;
	s.sequence = INT64_MAX;
	rc = stg_log_submit(W.log, &s, NULL);
	FUZZ_CHECK(rc == STG_ERECURSIVE, "submit from inside a hook returned %d", rc);
	rc = stg_log_get(W.log, INTEG[0], SKU[0], &e);
	FUZZ_CHECK(rc == STG_ERECURSIVE, "get from inside a hook returned %d", rc);
	rc = stg_log_pump(W.log, 0, &n);
	FUZZ_CHECK(rc == STG_ERECURSIVE && n == 0, "pump from inside a hook returned %d", rc);
	rc = stg_log_remove(W.log, INTEG[0], SKU[0], STG_REMOVE_FORCE);
	FUZZ_CHECK(rc == STG_ERECURSIVE, "remove from inside a hook returned %d", rc);
	rc = stg_log_begin(W.log);
	FUZZ_CHECK(rc == STG_ERECURSIVE, "begin from inside a hook returned %d", rc);
	rc = stg_log_commit(W.log);
	FUZZ_CHECK(rc == STG_ERECURSIVE, "commit from inside a hook returned %d", rc);
	/* log.h: close from inside a hook does nothing (last error ERECURSIVE). */
	stg_log_close(W.log);
	FUZZ_CHECK(stg_last_error_code() == STG_ERECURSIVE, "close from inside a hook");
}

/* ------------------------------------------------------------------ clock */

static int64_t fz_now(void *payload)
{
	(void)payload;
	probe();
	return W.neg_clock ? -5 : W.now;
}

/* ----------------------------------------------------------------- events */

static void fz_event(const stg_event *ev, void *payload)
{
	int i = integ_of(ev->integration);

	(void)payload;
	FUZZ_CHECK(i >= 0, "event for an unknown integration");
	TRACE("  event %d for %s", ev->type, ev->integration);
	probe();
	switch (ev->type) {
	case STG_EVENT_INTEGRATION_PAUSED:
		W.got_paused[i]++;
		break;
	case STG_EVENT_INTEGRATION_RESUMED:
		W.got_resumed[i]++;
		break;
	case STG_EVENT_MIN_STOCK_REACHED:
		FUZZ_CHECK(ev->sku != NULL && ev->available > 0, "min_stock event without sku/stock");
		W.got_min++;
		/* log.h: events of the host's transaction come after its commit; one
		 * comes early only when the log had no memory to hold it. */
		if (W.host_open && W.txn_store) {
			FUZZ_CHECK(W.alloc_armed, "min_stock event delivered inside the host's transaction, "
			           "before its commit");
			W.min_early++;
		}
		break;
	case STG_EVENT_OUT_OF_SYNC:
		W.got_oos++;
		if (W.host_open && W.txn_store) {
			/* held for the commit like min_stock: early only without memory */
			FUZZ_CHECK(W.alloc_armed, "out_of_sync event delivered inside the host's transaction, "
			           "before its commit");
			W.oos_early++;
		} else if (W.oos_want) {
			FUZZ_CHECK(ev->sku && strcmp(ev->integration, INTEG[W.oos_i]) == 0 &&
			           strcmp(ev->sku, SKU[W.oos_s]) == 0 && ev->observed == W.oos_observed &&
			           ev->available == W.k[W.oos_i][W.oos_s].mk.avail,
			           "out_of_sync event for (%s, %s) observed %" PRId64 " available %" PRId64
			           ", expected (%s, %s) observed %" PRId64, ev->integration,
			           ev->sku ? ev->sku : "(null)", ev->observed, ev->available, INTEG[W.oos_i],
			           SKU[W.oos_s], W.oos_observed);
			W.oos_want = 0;
		} else {
			FUZZ_CHECK(W.releasing, "an out_of_sync event nobody expected");
		}
		break;
	case STG_EVENT_ABNORMAL_LATENCY:
		FUZZ_CHECK(ev->latency_ms > W.latency_limit, "abnormal event with latency %" PRId64
		           " within the limit %" PRId64, ev->latency_ms, W.latency_limit);
		W.got_abnormal++;
		break;
	default:
		FUZZ_CHECK(0, "unknown event type %d", ev->type);
	}
}

/* ---------------------------------------------------------------- storage */

static void recs_free(struct rec r[NI][NS])
{
	int i, s;

	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++)
			free(r[i][s].bytes);
	memset(r, 0, sizeof(struct rec) * NI * NS);
}

/* The store goes back to what begin saw (a rollback, or SQLite ending a
 * transaction by itself). */
static void store_restore(void)
{
	recs_free(W.store);
	memcpy(W.store, W.saved, sizeof W.store);
	memset(W.saved, 0, sizeof W.saved);
	W.st_open = 0;
}

/* A write or remove failed inside a transaction: with sqlite_like, that ends it. */
static void failed_inside(void)
{
	if (W.sqlite_like && W.st_open) {
		store_restore();
		W.st_dead = 1;
	}
}

/* A write or remove is about to happen: inside the host's transaction (on a
 * transactional store) the log must have begun a storage one (hooks.h: a
 * write outside one is durable at once, which the host's transaction is to
 * avoid). */
static int store_gone(void)
{
	if (W.txn_store && W.host_open)
		FUZZ_CHECK(W.st_open || W.st_dead, "a write inside the host's transaction, but storage "
		           "has no transaction open: it is durable before the commit");
	if (W.st_open)
		W.st_ops++;
	if (W.st_dead) {
		/* a careful store refuses writes once its transaction is gone */
		W.hook_failed = 1;
		return 1;
	}
	return 0;
}

static int fz_begin(void *payload)
{
	unsigned fail = W.begin_fail & 1u;
	int i, s;

	(void)payload;
	W.begin_fail >>= 1;
	FUZZ_CHECK(!W.st_open && !W.st_dead && !W.st_lied, "storage begin inside an open transaction "
	           "(hooks.h: transactions never nest)");
	probe();
	if (fail) {
		W.hook_failed = 1;
		return -7;
	}
	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++) {
			W.saved[i][s] = W.store[i][s];
			if (W.store[i][s].used) {
				W.saved[i][s].bytes = malloc(W.store[i][s].len);
				FUZZ_CHECK(W.saved[i][s].bytes != NULL, "out of memory");
				memcpy(W.saved[i][s].bytes, W.store[i][s].bytes, W.store[i][s].len);
			}
		}
	W.st_open = 1;
	W.st_ops = 0;
	W.host_began |= W.host_open;
	return 0;
}

/* The action's commits: @outcome 1 committed, 2 failed. */
static void note_commit(int outcome)
{
	W.call_commits++;
	if (!W.call_first_commit)
		W.call_first_commit = outcome;
	W.call_last_commit = outcome;
}

static int fz_commit(void *payload)
{
	unsigned fail = W.commit_fail & 1u;

	(void)payload;
	W.commit_fail >>= 1;
	FUZZ_CHECK(W.st_open || W.st_dead, "storage commit without a transaction open");
	/* hooks.h: "A call that writes nothing calls none of them." */
	FUZZ_CHECK(W.st_dead || W.st_ops > 0, "storage transaction committed without a write or remove");
	probe();
	note_commit(W.st_dead || fail ? 2 : 1);
	if (W.st_dead || fail) {
		W.hook_failed = 1;
		if (W.st_dead) {
			W.st_dead = 0; /* the rollback has nothing left to undo */
			return -11;
		}
		if (W.doubt) {
			recs_free(W.saved); /* it did commit */
			W.st_open = 0;
			W.st_lied = 1;
		}
		return -8;
	}
	recs_free(W.saved);
	W.st_open = 0;
	return 0;
}

static int fz_rollback(void *payload)
{
	unsigned fail = W.rollback_fail & 1u;

	(void)payload;
	W.rollback_fail >>= 1;
	W.call_rollbacks++;
	probe();
	if (W.st_lied) {
		/* What the failing commit made durable cannot be undone. */
		W.st_lied = 0;
		W.in_doubt = 1;
		W.hook_failed = 1;
		return -12;
	}
	W.st_dead = 0;
	if (!W.st_open)
		return 0; /* hooks.h: a rollback with no transaction open returns 0 */
	if (fail) {
		W.hook_failed = 1;
		if (W.doubt) {
			recs_free(W.saved); /* the changes stay */
			W.st_open = 0;
			W.in_doubt = 1;
		} else {
			store_restore(); /* the connection is gone: the transaction is over */
		}
		return -10;
	}
	store_restore();
	return 0;
}

static int fz_write(const stg_entry *e, void *payload)
{
	uint8_t buf[STG_ENTRY_ENCODED_MAX], *copy;
	size_t len = 0;
	int i, s, rc;
	unsigned fail = W.write_fail & 1u;

	(void)payload;
	W.write_fail >>= 1;
	FUZZ_CHECK(e && e->version == STG_ENTRY_VERSION, "storage write of a bad entry");
	FUZZ_CHECK(key_of(e->integration, e->sku, &i, &s), "storage write of an unknown key");
	FUZZ_CHECK(!(e->flags & STG_ENTRY_LATE), "storage write carries the computed LATE flag");
	FUZZ_CHECK((e->status == STG_ENTRY_PENDING) == (e->job_state != STG_JOB_NONE),
	           "storage write of (%s, %s): status %d with job state %d cannot be loaded again",
	           e->integration, e->sku, e->status, e->job_state);
	rc = stg_entry_encode(e, buf, sizeof buf, &len);
	FUZZ_CHECK(rc == STG_OK, "the log wrote an entry that does not encode: %d (%s)", rc,
	           stg_last_error());
	probe();
	if (store_gone())
		return -11;
	if (fail) {
		W.hook_failed = 1;
		failed_inside();
		return -1;
	}
	copy = malloc(len);
	FUZZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, buf, len);
	free(W.store[i][s].bytes);
	W.store[i][s].bytes = copy;
	W.store[i][s].len = len;
	W.store[i][s].used = 1;
	return 0;
}

static int fz_remove(const char *integ, const char *sku, void *payload)
{
	int i, s;
	unsigned fail = W.remove_fail & 1u;

	(void)payload;
	W.remove_fail >>= 1;
	FUZZ_CHECK(key_of(integ, sku, &i, &s), "storage remove of an unknown key");
	probe();
	if (store_gone())
		return -11;
	if (fail) {
		W.hook_failed = 1;
		failed_inside();
		return 7;
	}
	free(W.store[i][s].bytes);
	memset(&W.store[i][s], 0, sizeof W.store[i][s]);
	return 0;
}

static void decode_rec(int i, int s, stg_entry *e)
{
	int rc = stg_entry_decode(W.store[i][s].bytes, W.store[i][s].len, e);
	FUZZ_CHECK(rc == STG_OK, "stored bytes of (%s, %s) do not decode", INTEG[i], SKU[s]);
}

static int fz_load(stg_entry_sink sink, void *ctx, void *payload)
{
	int i, s, rc, first = 1;
	stg_entry e;

	(void)payload;
	if (W.load_mode == 1 || W.load_mode == 2)
		W.hook_failed = 1;
	if (W.load_mode == 1)
		return 3;
	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++) {
			if (!W.store[i][s].used)
				continue;
			decode_rec(i, s, &e);
			if (first && W.load_mode == 4)
				e.status = 7;
			if (first && W.load_mode == 5)
				e.version = 99;
			rc = sink(ctx, &e);
			if (rc && W.load_mode != 6)
				return rc;
			if (first && (W.load_mode == 3 || W.load_mode == 6)) {
				rc = sink(ctx, &e);
				if (rc && W.load_mode != 6)
					return rc;
			}
			first = 0;
		}
	return W.load_mode == 2 ? 3 : 0;
}

/* -------------------------------------------------------------- transport */

enum { BH_OK, BH_ASYNC, BH_ERROR, BH_INVALID, BH_FAIL };

static const int HTTP[16] = { 0, 401, 403, 404, 408, 425, 429, 500, 503, 399, 600, 1000, -5, 200,
                              451, 499 };
static char long_msg[2000];
static char long_notfound[1600]; /* the rule's text lies past STG_MESSAGE_MAX */

/* Answers whose class the log takes from the message rules (behaviour 14,
 * high nibble 1-15): the merchant documents' texts (marketplace.h), their
 * look-alikes that must not match, and plain ones a host rule may claim. */
static const struct answer {
	int http;
	const char *msg;
} ANSWER[16] = {
	{ 0, NULL }, /* (0: the long transient message, as before) */
	{ 400, "Produto ainda n\xc3\xa3o foi catalogado no Carrefour. Para reprocessar essa oferta, "
	       "aguarde a confirma\xc3\xa7\xc3\xa3o do Carrefour de que o produto foi catalogado." },
	{ 500, "Produto ainda n\xc3\xa3o foi catalogado no Carrefour." },
	{ 400, "{\"status\":401,\"message\":\"Unauthorized\"}" },
	{ 404, "ProductId n\xc3\xa3o encontrado" },
	{ 503, "ProductId n\xc3\xa3o encontrado" }, /* a 5xx: no built-in rule, transient */
	{ 400, "SKU NOT FOUND in catalog" },
	{ 422, "The product does not exist" },
	{ 409, "x-version is stale" },
	{ 409, NULL },
	{ 400, "Invalid quantity" },
	{ 404, long_notfound },
	{ 429, "Too many requests, slow down" },
	{ 503, "Service temporarily unavailable; retry later" },
	{ 0, "connection reset" },
	{ 400, "Produto ainda nao foi catalogado" }, /* no "ã": UTF-8 compares exactly */
};

/* Fill @p r from behaviour byte @p b for a job of integration @p i (-1: the
 * built-in rules); returns BH_*; *cls the class the log should record. */
static int behaviour(unsigned b, stg_job_result *r, int *cls, int i)
{
	r->message = NULL;
	r->retry_after_ms = 0;
	switch (b % 16) {
	case 13:
		/* An answer with the quota headers: (b >> 4) requests a second,
		 * the last few with none remaining for a while. */
		r->outcome = STG_OUTCOME_OK;
		r->quota_limit = (int64_t)(b >> 4);
		r->quota_window_ms = (b >> 4) & 1 ? 1000 : 0;
		r->quota_remaining = (b >> 4) >= 12 ? 0 : -1;
		r->quota_reset_ms = (b >> 4) >= 14 ? 1500 : 0;
		return BH_OK;
	case 0: case 1: case 2:
		r->outcome = STG_OUTCOME_OK;
		return BH_OK;
	case 3: case 15:
		r->outcome = STG_OUTCOME_ASYNC;
		return BH_ASYNC;
	case 4:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_AUTH;
		r->http_status = 401;
		r->message = "token expired";
		break;
	case 5:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_NOT_CATALOGUED;
		r->http_status = 404;
		r->message = "product not catalogued";
		break;
	case 6:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_RATE_LIMITED;
		r->http_status = 429;
		r->retry_after_ms = (int64_t)(b >> 4) * 1000 - 2000;
		break;
	case 7:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_TRANSIENT;
		r->http_status = 503;
		break;
	case 8:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_REJECTED;
		r->http_status = 400;
		r->message = "";
		break;
	case 9:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_NONE;
		r->http_status = HTTP[b >> 4];
		break;
	case 10:
		r->outcome = 7;
		*cls = STG_ERRCLASS_TRANSIENT;
		return BH_INVALID;
	case 11:
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = 9;
		*cls = STG_ERRCLASS_TRANSIENT;
		return BH_INVALID;
	case 12:
		return BH_FAIL;
	default: /* 14 */
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = STG_ERRCLASS_TRANSIENT;
		r->http_status = 502;
		r->message = long_msg;
		if (b >> 4) {
			/* the class is left to the integration's rules */
			r->error_class = STG_ERRCLASS_NONE;
			r->http_status = ANSWER[b >> 4].http;
			r->message = ANSWER[b >> 4].msg;
		}
		break;
	}
	*cls = sm_result_class_in(i >= 0 ? &W.in[i].rules : NULL, r);
	return BH_ERROR;
}

static void job_checks(const stg_job *j, int *i, int *s)
{
	struct mkey *m;
	char why[256];

	FUZZ_CHECK(key_of(j->integration, j->sku, i, s), "job for an unknown key");
	m = &W.k[*i][*s];
	FUZZ_CHECK(!W.in[*i].paused, "job %" PRIu64 " of paused integration %s was sent", j->id,
	           INTEG[*i]);
	FUZZ_CHECK(W.clock_back || eff_now() >= W.in[*i].cool_lo, "job %" PRIu64 " of %s sent into a "
	           "limit cooling down for %" PRId64 " ms more", j->id, INTEG[*i],
	           W.in[*i].cool_lo - eff_now());
	/* exists, not a second job while one is in flight, the newest evaluation */
	FUZZ_CHECK(sm_job_check(&m->mk, j, why, sizeof why) == 0, "%s", why);
	FUZZ_CHECK(!m->handed || m->mk.async_id || m->may_resend, "(%s, %s) handed out twice in one "
	           "pump", INTEG[*i], SKU[*s]);
	m->may_resend = 0;
	if (!skip_idreuse)
		FUZZ_CHECK(!is_finished(j->id), "job id %" PRIu64 " for (%s, %s) was handed out again "
		           "after its job was acknowledged (published %" PRId64 ")", j->id, INTEG[*i],
		           SKU[*s], j->published);
	FUZZ_CHECK(j->priority >= W.in[*i].last_prio, "job of priority %d after one of %d in one "
	           "pump (%s)", j->priority, W.in[*i].last_prio, INTEG[*i]);
	W.in[*i].last_prio = j->priority;
	m->handed = 1;
}

/* Model effects of one applied result. */
static void result_effect(int i, int s, uint64_t id, int64_t published, int bh, int cls,
                          int64_t retry_after)
{
	struct mkey *m = &W.k[i][s];
	int64_t now = eff_now();

	TRACE("  result (%s, %s) job %" PRIu64 " published %" PRId64 ": behaviour %d class %d", INTEG[i],
	      SKU[s], id, published, bh, cls);
	sm_key_result(&m->mk, id, published,
	              bh == BH_ASYNC ? STG_OUTCOME_ASYNC : bh == BH_OK ? STG_OUTCOME_OK : STG_OUTCOME_ERROR);
	m->due_cls = 0; /* a failure before it in this pump is over */
	if (bh == BH_ASYNC)
		return;
	if (bh == BH_OK) {
		W.successes++;
		W.notice[i][s] = 0;
		m->acked_at = now;
		add_finished(id);
		return;
	}
	W.errors++;
	if (bh == BH_INVALID)
		W.invalid_result = 1;
	/* When the job waits again: backoff in (now, now + max(backoff max, retry-after)]
	 * for rate limits and transient failures, the slow retry when not catalogued.
	 * Checked only while it is the same job: after a final failure, a change that
	 * came while it was out goes at once as a job of its own. */
	m->due_job = id;
	m->due_cls = cls;
	switch (cls) {
	case STG_ERRCLASS_RATE_LIMITED: {
		/* The integration cools down: at least the retry-after (1 ms
		 * without one), at most the longest delay it may have drawn. */
		struct minteg *in = &W.in[i];
		int64_t lo = now + (retry_after > 1 ? retry_after : 1);
		int64_t hi = now + (retry_after > W.backoff_max ? retry_after : W.backoff_max);
		if (in->cool_lo < lo)
			in->cool_lo = lo;
		if (in->cool_hi < hi)
			in->cool_hi = hi;
		in->cooled_in_pump = 1;
		m->due_kind = STG_JOB_QUEUED;
		m->due_lo = now + 1;
		m->due_hi = in->cool_hi;
		break;
	}
	case STG_ERRCLASS_TRANSIENT:
		m->due_kind = STG_JOB_QUEUED;
		m->due_lo = now + 1;
		m->due_hi = now + (retry_after > W.backoff_max ? retry_after : W.backoff_max);
		break;
	case STG_ERRCLASS_NOT_CATALOGUED:
		m->due_kind = STG_JOB_HELD;
		m->due_lo = m->due_hi = now + W.catalogue_retry;
		if (W.notice[i][s]) {
			/* A remembered catalogue notice releases the hold once, at once. */
			W.notice[i][s] = 0;
			m->due_kind = STG_JOB_QUEUED;
			m->due_lo = m->due_hi = now;
			m->handed = 0; /* due at once: this pump may hand it out again */
		}
		break;
	case STG_ERRCLASS_AUTH:
		m->due_kind = STG_JOB_QUEUED;
		m->due_lo = m->due_hi = now;
		break;
	case STG_ERRCLASS_CONFLICT:
		/* contract.md: retried at once, within the transient budget */
		m->due_kind = STG_JOB_QUEUED;
		m->due_lo = m->due_hi = now;
		m->may_resend = 1;
		break;
	default:
		m->due_kind = 0;
		break;
	}
	if (cls == STG_ERRCLASS_AUTH) {
		if (!W.in[i].paused)
			W.exp_paused[i]++;
		W.in[i].paused = 1;
		W.in[i].paused_in_pump = 1;
	}
}

static int run_jobs(const stg_job *jobs, size_t n, stg_job_result *res)
{
	int bh[64], cls[64], ii[64], ss[64];
	size_t k;

	FUZZ_CHECK(n >= 1 && n <= 64, "transport given %zu jobs", n);
	FUZZ_CHECK(W.in_pump, "transport called outside a pump");
	for (k = 0; k < n; k++) {
		unsigned b = W.script_pos < W.script_len ? W.script[W.script_pos++] : 0;
		job_checks(&jobs[k], &ii[k], &ss[k]);
		FUZZ_CHECK(k == 0 || ii[k] == ii[0], "a batch mixes integrations");
		FUZZ_CHECK(res[k].version == STG_JOB_RESULT_VERSION && res[k].outcome == STG_OUTCOME_OK,
		           "result not pre-filled");
		cls[k] = STG_ERRCLASS_NONE;
		bh[k] = behaviour(b, &res[k], &cls[k], ii[k]);
		if (b % 16 == 13 || b % 16 == 15)
			probe();
	}
	for (k = 0; k < n; k++)
		if (bh[k] == BH_FAIL) {
			W.transport_failed = 1;
			for (k = 0; k < n; k++) {
				W.k[ii[k]][ss[k]].handed = 0; /* not sent after all: may go again later */
				W.k[ii[k]][ss[k]].failed_handoff = 1;
			}
			return -1;
		}
	for (k = 0; k < n; k++) {
		result_effect(ii[k], ss[k], jobs[k].id, jobs[k].published, bh[k], cls[k],
		              res[k].retry_after_ms);
		if (bh[k] == BH_OK && res[k].quota_limit > 0)
			W.in[ii[k]].announced = W.in[ii[k]].limited = 1; /* the bucket follows it */
	}
	W.attempts += n;
	W.handed_ok += n;
	return 0;
}

static int fz_send(const stg_job *job, stg_job_result *r, void *payload)
{
	(void)payload;
	return run_jobs(job, 1, r);
}

static int fz_send_batch(const stg_job *jobs, size_t n, stg_job_result *r, void *payload)
{
	(void)payload;
	FUZZ_CHECK(W.use_batch, "send_batch called while the transport has none");
	return run_jobs(jobs, n, r);
}

/* -------------------------------------------------------------- snapshots */

static int get_entry(int i, int s, stg_entry *e)
{
	int rc = stg_log_get(W.log, INTEG[i], SKU[s], e);

	rc_in("stg_log_get", rc, OKB | B(STG_ENOTFOUND));
	FUZZ_CHECK((rc == STG_OK) == (W.k[i][s].mk.exists != 0), "get (%s, %s): %d, model exists %d",
	           INTEG[i], SKU[s], rc, W.k[i][s].mk.exists);
	return rc == STG_OK;
}

/* Every entry, by one paged query (a failed lookup per absent key costs a message). */
static void snapshot(stg_entry e[NI][NS], int ex[NI][NS])
{
	stg_entry page[8];
	uint64_t cursor = 0;
	size_t n, j;
	int i, k;

	memset(ex, 0, sizeof(int) * NI * NS);
	for (;;) {
		int rc = stg_log_query(W.log, NULL, &cursor, page, 8, &n);
		FUZZ_CHECK(rc == STG_OK, "query: %d", rc);
		if (!n)
			break;
		for (j = 0; j < n; j++) {
			FUZZ_CHECK(key_of(page[j].integration, page[j].sku, &i, &k), "unknown key");
			FUZZ_CHECK(!ex[i][k], "two entries for (%s, %s)", INTEG[i], SKU[k]);
			ex[i][k] = 1;
			e[i][k] = page[j];
		}
	}
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			FUZZ_CHECK(ex[i][k] == W.k[i][k].mk.exists, "(%s, %s): in the log %d, model %d",
			           INTEG[i], SKU[k], ex[i][k], W.k[i][k].mk.exists);
}

static int same_msg(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Memory unchanged by a failed call (LATE is computed, the clock did not move). */
static void check_unchanged(const char *fn, int i, int s, int existed, const stg_entry *b)
{
	stg_entry a;
	int rc = stg_log_get(W.log, INTEG[i], SKU[s], &a);

	FUZZ_CHECK((rc == STG_OK) == (existed != 0), "%s failed but (%s, %s) %s", fn, INTEG[i],
	           SKU[s], existed ? "disappeared" : "appeared");
	if (!existed)
		return;
	FUZZ_CHECK(a.status == b->status && a.job_state == b->job_state &&
	           a.available == b->available && a.published == b->published &&
	           a.acked == b->acked && a.sequence == b->sequence && a.job_id == b->job_id &&
	           a.next_attempt_at == b->next_attempt_at && a.flags == b->flags &&
	           a.error_class == b->error_class && a.attempts == b->attempts &&
	           a.job_attempts == b->job_attempts && a.job_transient == b->job_transient &&
	           a.job_since == b->job_since && a.priority == b->priority,
	           "%s failed but changed (%s, %s): job state %d -> %d, due %" PRId64 " -> %" PRId64
	           ", job %" PRIu64 " -> %" PRIu64, fn, INTEG[i], SKU[s], b->job_state, a.job_state,
	           b->next_attempt_at, a.next_attempt_at, b->job_id, a.job_id);
}

/* Every entry of a snapshot unchanged (a call that failed with nothing applied). */
static void check_none_changed(const char *fn, stg_entry b[NI][NS], int ex[NI][NS])
{
	int i, k;

	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			check_unchanged(fn, i, k, ex[i][k], &b[i][k]);
}

/*
 * Whether the commit of the transaction a call made by itself (an UNDO one:
 * batch, reprocess/remove_matching, expire, resume) failed. Such a call may
 * first write owed entries in a transaction of their own, so its own is the
 * last of the call when there were two, or when nothing can have been owed.
 */
static int own_commit_failed(void)
{
	return !W.host_open && W.call_last_commit == 2 && (W.call_commits >= 2 || !W.maybe_owed);
}

/* Store and memory hold the same entries (after a flush that succeeded, or an open). */
static void check_store_is_memory(const char *when)
{
	int i, s;

	/* log.h: after a failed rollback "storage may hold the undone changes;
	 * reopen the log to read storage's state". */
	if (!W.use_storage || W.in_doubt)
		return;
	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++) {
			stg_entry m, d;
			int rc = stg_log_get(W.log, INTEG[i], SKU[s], &m);
			FUZZ_CHECK((rc == STG_OK) == (W.store[i][s].used != 0),
			           "%s: (%s, %s) is %s in memory but %s in storage", when, INTEG[i],
			           SKU[s], rc == STG_OK ? "present" : "absent",
			           W.store[i][s].used ? "present" : "absent");
			if (rc != STG_OK)
				continue;
			decode_rec(i, s, &d);
			FUZZ_CHECK(m.status == d.status && m.available == d.available &&
			           m.published == d.published && m.acked == d.acked &&
			           m.sequence == d.sequence && m.changed_at == d.changed_at &&
			           m.job_since == d.job_since && m.first_failed_at == d.first_failed_at &&
			           m.acked_at == d.acked_at && m.next_attempt_at == d.next_attempt_at &&
			           m.latency_ms == d.latency_ms && m.attempts == d.attempts &&
			           m.job_attempts == d.job_attempts && m.job_transient == d.job_transient &&
			           m.error_class == d.error_class && m.http_status == d.http_status &&
			           m.priority == d.priority && m.reason == d.reason &&
			           (m.flags & ~STG_ENTRY_LATE) == d.flags && same_msg(m.message, d.message),
			           "%s: (%s, %s) differs between memory and storage: status %d/%d "
			           "published %" PRId64 "/%" PRId64 " acked %" PRId64 "/%" PRId64
			           " flags %x/%x class %d/%d attempts %u/%u next %" PRId64 "/%" PRId64,
			           when, INTEG[i], SKU[s], m.status, d.status, m.published, d.published,
			           m.acked, d.acked, m.flags, d.flags, m.error_class, d.error_class,
			           m.attempts, d.attempts, m.next_attempt_at, d.next_attempt_at);
			FUZZ_CHECK((m.job_state != STG_JOB_NONE) == (d.job_state != STG_JOB_NONE),
			           "%s: (%s, %s) job state %d in memory, %d in storage", when, INTEG[i],
			           SKU[s], m.job_state, d.job_state);
			if (m.job_state != STG_JOB_IN_FLIGHT) {
				/* A job stored in flight is pending again after a load (queued, or
				 * held when it was a slow retry). */
				FUZZ_CHECK((d.job_state == STG_JOB_IN_FLIGHT ? m.job_state != STG_JOB_NONE
				            : m.job_state == d.job_state ||
				              (skip_heldfail && d.job_state == STG_JOB_HELD &&
				               m.job_state == STG_JOB_QUEUED)) &&
				           m.last_attempt_at == d.last_attempt_at,
				           "%s: (%s, %s) job state %d/%d or last attempt differ", when,
				           INTEG[i], SKU[s], m.job_state, d.job_state);
			}
			if (m.job_state == STG_JOB_NONE)
				FUZZ_CHECK(m.job_id == d.job_id, "%s: (%s, %s) job id differs", when,
				           INTEG[i], SKU[s]);
		}
}

/* --------------------------------------------------------- global checks */

static int is_late(const stg_entry *e)
{
	int64_t now = eff_now();
	return now && e->job_state != STG_JOB_NONE && now - e->job_since > W.latency_limit;
}

static void check_all(int with_stats)
{
	stg_entry page[5], ents[NI][NS];
	int seen[NI][NS];
	uint64_t cursor = 0;
	size_t count, total = 0, k;
	stg_counts c, ci, sum;
	stg_stats st;
	int i, s, rc, any_waiting = 0, limited = 0;
	int64_t wait, best = -1, now = eff_now(), integ_best[NI] = { -1, -1, -1 };
	uint64_t pending = 0, success = 0, error = 0, held = 0, late = 0, abnormal = 0;

	memset(seen, 0, sizeof seen);
	for (;;) {
		rc = stg_log_query(W.log, NULL, &cursor, page, (size_t)W.page, &count);
		rc_in("stg_log_query", rc, OKB);
		if (!count)
			break;
		FUZZ_CHECK(count <= (size_t)W.page, "query returned %zu for a page of %d", count, W.page);
		for (k = 0; k < count; k++) {
			const stg_entry *e = &page[k];
			FUZZ_CHECK(key_of(e->integration, e->sku, &i, &s), "query: unknown key");
			FUZZ_CHECK(!seen[i][s], "two entries for (%s, %s)", INTEG[i], SKU[s]);
			seen[i][s] = 1;
			ents[i][s] = *e;
			total++;
		}
		FUZZ_CHECK(total <= NI * NS, "query never ends");
	}
	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++) {
			const struct mkey *m = &W.k[i][s];
			const stg_entry *e = &ents[i][s];
			FUZZ_CHECK(seen[i][s] == m->mk.exists, "(%s, %s): in the log %d, in the model %d",
			           INTEG[i], SKU[s], seen[i][s], m->mk.exists);
			if (!seen[i][s])
				continue;
			FUZZ_CHECK(e->available == m->mk.avail && e->sequence == m->mk.seq,
			           "(%s, %s): available %" PRId64 " seq %" PRId64 ", model %" PRId64
			           " %" PRId64, INTEG[i], SKU[s], e->available, e->sequence, m->mk.avail,
			           m->mk.seq);
			FUZZ_CHECK(e->published == m->mk.published, "(%s, %s): published %" PRId64
			           ", model %" PRId64, INTEG[i], SKU[s], e->published, m->mk.published);
			FUZZ_CHECK(!m->mk.has_ack || e->acked_at == m->acked_at, "(%s, %s): acknowledged at %"
			           PRId64 ", the marketplace answered at %" PRId64, INTEG[i], SKU[s],
			           e->acked_at, m->acked_at);
			FUZZ_CHECK(((e->flags & STG_ENTRY_HAS_ACKED) != 0) == (m->mk.has_ack != 0) &&
			           (!m->mk.has_ack || e->acked == m->mk.acked),
			           "(%s, %s): acknowledged %" PRId64 " (flag %d), the marketplace "
			           "acknowledged %" PRId64 " (%d): an acknowledgement was forgotten",
			           INTEG[i], SKU[s], e->acked, (e->flags & STG_ENTRY_HAS_ACKED) != 0,
			           m->mk.acked, m->mk.has_ack);
			FUZZ_CHECK((e->status == STG_ENTRY_PENDING) == (e->job_state != STG_JOB_NONE),
			           "(%s, %s): status %d with job state %d", INTEG[i], SKU[s], e->status,
			           e->job_state);
			FUZZ_CHECK(e->status != STG_ENTRY_SUCCESS ||
			           (e->error_class == STG_ERRCLASS_NONE && (e->flags & STG_ENTRY_HAS_ACKED)),
			           "(%s, %s): success with class %d", INTEG[i], SKU[s], e->error_class);
			FUZZ_CHECK(e->status != STG_ENTRY_SUCCESS ||
			           (e->attempts == 0 && e->first_failed_at == 0 && e->http_status == 0 &&
			            e->message == NULL),
			           "(%s, %s): success with attempts %u, first failure %" PRId64 ", http %d, "
			           "message %s", INTEG[i], SKU[s], e->attempts, e->first_failed_at,
			           e->http_status, e->message ? e->message : "(none)");
			FUZZ_CHECK(e->status != STG_ENTRY_SUCCESS ||
			           (e->latency_ms >= 0 &&
			            ((e->flags & STG_ENTRY_ABNORMAL) != 0) == (e->latency_ms > W.latency_limit)),
			           "(%s, %s): success with latency %" PRId64 " (limit %" PRId64 ") and "
			           "abnormal flag %d", INTEG[i], SKU[s], e->latency_ms, W.latency_limit,
			           (e->flags & STG_ENTRY_ABNORMAL) != 0);
			/* contract.md: transient and conflict end in error after their budget */
			FUZZ_CHECK(e->status != STG_ENTRY_ERROR || e->error_class == STG_ERRCLASS_TRANSIENT ||
			           e->error_class == STG_ERRCLASS_REJECTED ||
			           e->error_class == STG_ERRCLASS_CONFLICT,
			           "(%s, %s): error with class %d", INTEG[i], SKU[s], e->error_class);
			FUZZ_CHECK(e->job_state != STG_JOB_HELD ||
			           e->error_class == STG_ERRCLASS_NOT_CATALOGUED,
			           "(%s, %s): held with class %d", INTEG[i], SKU[s], e->error_class);
			FUZZ_CHECK((e->job_state == STG_JOB_IN_FLIGHT) == (m->mk.async_id != 0) &&
			           (!m->mk.async_id || e->job_id == m->mk.async_id),
			           "(%s, %s): job state %d id %" PRIu64 ", async job %" PRIu64, INTEG[i],
			           SKU[s], e->job_state, e->job_id, m->mk.async_id);
			FUZZ_CHECK(((e->flags & STG_ENTRY_LATE) != 0) == is_late(e),
			           "(%s, %s): LATE flag %x wrong", INTEG[i], SKU[s], e->flags);
			FUZZ_CHECK(!e->message || (e->message[0] && strlen(e->message) <= STG_MESSAGE_MAX),
			           "(%s, %s): bad message", INTEG[i], SKU[s]);
			FUZZ_CHECK(e->http_status >= 0 && e->http_status <= 999 && e->priority >= 0 &&
			           e->priority <= 2 && e->reason >= 0 && e->reason < STG_REASON_COUNT,
			           "(%s, %s): field out of range", INTEG[i], SKU[s]);
			if (e->status == STG_ENTRY_PENDING) {
				pending++;
				held += e->job_state == STG_JOB_HELD || W.in[i].paused;
				late += (e->flags & STG_ENTRY_LATE) != 0;
			} else if (e->status == STG_ENTRY_SUCCESS) {
				success++;
			} else {
				error++;
			}
			abnormal += (e->flags & STG_ENTRY_ABNORMAL) != 0;
			if (!W.in[i].paused &&
			    (e->job_state == STG_JOB_QUEUED || e->job_state == STG_JOB_HELD)) {
				int64_t w = e->next_attempt_at - now;
				any_waiting = 1;
				if (w < 0)
					w = 0;
				if (integ_best[i] < 0 || w < integ_best[i])
					integ_best[i] = w;
			}
		}

	rc = stg_log_counts(W.log, NULL, &c);
	rc_in("stg_log_counts", rc, OKB);
	FUZZ_CHECK(c.pending + c.success + c.error == total,
	           "counts %" PRIu64 "+%" PRIu64 "+%" PRIu64 " for %zu entries", c.pending, c.success,
	           c.error, total);
	FUZZ_CHECK(c.pending == pending && c.success == success && c.error == error &&
	           c.held == held && c.abnormal == abnormal,
	           "counts pending %" PRIu64 "/%" PRIu64 " success %" PRIu64 "/%" PRIu64
	           " error %" PRIu64 "/%" PRIu64 " held %" PRIu64 "/%" PRIu64 " abnormal %" PRIu64
	           "/%" PRIu64, c.pending, pending, c.success, success, c.error, error, c.held, held,
	           c.abnormal, abnormal);
	if (now)
		FUZZ_CHECK(c.late == late, "counts late %" PRIu64 ", entries flagged late %" PRIu64,
		           c.late, late);
	memset(&sum, 0, sizeof sum);
	for (i = 0; i < NI; i++) {
		rc = stg_log_counts(W.log, INTEG[i], &ci);
		rc_in("stg_log_counts", rc, OKB);
		sum.pending += ci.pending;
		sum.success += ci.success;
		sum.error += ci.error;
		sum.held += ci.held;
	}
	FUZZ_CHECK(sum.pending == c.pending && sum.success == c.success && sum.error == c.error &&
	           sum.held == c.held, "counts per integration do not add up to the total");

	rc = with_stats ? stg_log_stats(W.log, NULL, &st) : STG_OK;
	rc_in("stg_log_stats", rc, OKB);
	if (with_stats) {
		uint64_t skips = 0, errs = 0;
		for (k = 0; k < STG_REASON_COUNT; k++)
			skips += st.skips[k];
		for (k = 0; k < STG_ERRCLASS_COUNT; k++)
			errs += st.errors[k];
		FUZZ_CHECK(st.changes == st.exports + st.coalesced + st.stale + skips,
		           "stats: %" PRIu64 " changes != %" PRIu64 " exports + %" PRIu64
		           " coalesced + %" PRIu64 " stale + %" PRIu64 " skips", st.changes, st.exports,
		           st.coalesced, st.stale, skips);
		FUZZ_CHECK(st.changes == W.changes && st.exports == W.exports &&
		           st.coalesced == W.coalesced && st.stale == W.stale && skips == W.skips,
		           "stats changes/exports/coalesced/stale/skips %" PRIu64 "/%" PRIu64 "/%" PRIu64
		           "/%" PRIu64 "/%" PRIu64 ", model %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64
		           "/%" PRIu64, st.changes, st.exports, st.coalesced, st.stale, skips, W.changes,
		           W.exports, W.coalesced, W.stale, W.skips);
		FUZZ_CHECK(st.attempts == W.attempts && st.successes == W.successes && errs == W.errors,
		           "stats attempts/successes/errors %" PRIu64 "/%" PRIu64 "/%" PRIu64
		           ", transport saw %" PRIu64 "/%" PRIu64 "/%" PRIu64, st.attempts,
		           st.successes, errs, W.attempts, W.successes, W.errors);
		FUZZ_CHECK(st.abnormal == W.got_abnormal, "stats abnormal %" PRIu64 ", events %" PRIu64,
		           st.abnormal, W.got_abnormal);
		FUZZ_CHECK(st.corrections == W.corrections, "stats corrections %" PRIu64 ", the model's "
		           "observations queued or held %" PRIu64, st.corrections, W.corrections);
		FUZZ_CHECK(st.saved_by_coalescing <= st.coalesced && st.cooldowns <= st.errors[STG_ERRCLASS_RATE_LIMITED],
		           "stats: %" PRIu64 " calls saved by %" PRIu64 " merges, %" PRIu64 " cool-downs of %"
		           PRIu64 " 429s", st.saved_by_coalescing, st.coalesced, st.cooldowns,
		           st.errors[STG_ERRCLASS_RATE_LIMITED]);
	}

	for (i = 0; i < NI; i++) {
		int p = -1;
		rc = stg_log_is_paused(W.log, INTEG[i], &p);
		rc_in("stg_log_is_paused", rc, OKB);
		FUZZ_CHECK(p == W.in[i].paused, "%s paused %d, model %d", INTEG[i], p, W.in[i].paused);
		FUZZ_CHECK(W.got_paused[i] == W.exp_paused[i] && W.got_resumed[i] == W.exp_resumed[i],
		           "%s: %" PRIu64 " paused events (expected %" PRIu64 "), %" PRIu64
		           " resumed (expected %" PRIu64 ")", INTEG[i], W.got_paused[i], W.exp_paused[i],
		           W.got_resumed[i], W.exp_resumed[i]);
	}
	FUZZ_CHECK(W.got_oos == W.exp_oos + W.oos_early, "%" PRIu64 " out_of_sync events, expected %"
	           PRIu64 " (and %" PRIu64 " told early in the open transaction, %" PRIu64
	           " held for its commit)", W.got_oos, W.exp_oos, W.oos_early, W.oos_pending);
	FUZZ_CHECK(W.got_min == W.exp_min + W.min_early, "%" PRIu64 " min_stock events, expected %"
	           PRIu64 " (and %" PRIu64 " told early in the open transaction, %" PRIu64
	           " held for its commit)", W.got_min, W.exp_min, W.min_early, W.min_pending);
	{
		int open = -1;
		rc = stg_log_in_transaction(W.log, &open);
		rc_in("stg_log_in_transaction", rc, OKB);
		FUZZ_CHECK(open == W.host_open, "in_transaction says %d, the host's transaction is %s", open,
		           W.host_open ? "open" : "closed");
	}
	/* hooks.h: a call "returns only after the commit"; outside the host's
	 * transaction no storage transaction stays open between calls. */
	FUZZ_CHECK(W.host_open || (!W.st_open && !W.st_dead && !W.st_lied),
	           "a call returned with a storage transaction open (open %d, ended %d)", W.st_open,
	           W.st_dead);

	rc = stg_log_next_due(W.log, &wait);
	rc_in("stg_log_next_due", rc, OKB);
	FUZZ_CHECK((wait == -1) == !any_waiting, "next_due %" PRId64 " but %s job waits", wait,
	           any_waiting ? "a" : "no");
	/* A cooling integration's jobs wait for the cool-down's end too. */
	best = -1;
	for (i = 0; i < NI; i++) {
		stg_limit_state ls;
		rc = stg_log_limit_state(W.log, INTEG[i], &ls);
		rc_in("stg_log_limit_state", rc, OKB | B(STG_ENOTFOUND));
		if (rc == STG_OK && ls.cooling_until && !W.clock_back)
			FUZZ_CHECK(ls.cooling_until >= W.in[i].cool_lo && ls.cooling_until <= W.in[i].cool_hi,
			           "%s cools down until %" PRId64 ", the model says %" PRId64 " to %" PRId64,
			           INTEG[i], ls.cooling_until, W.in[i].cool_lo, W.in[i].cool_hi);
		if (rc == STG_OK && !ls.cooling_until && !W.clock_back)
			FUZZ_CHECK(W.in[i].cool_lo <= now, "%s: no cool-down, the model's lasts until %" PRId64,
			           INTEG[i], W.in[i].cool_lo);
		if (integ_best[i] >= 0) {
			int64_t w = integ_best[i];
			if (rc == STG_OK && ls.cooling_until && ls.cooling_until - now > w)
				w = ls.cooling_until - now;
			if (best < 0 || w < best)
				best = w;
		}
	}
	for (i = 0; i < NI; i++)
		limited |= W.in[i].limited;
	if (limited && !W.clock_back)
		FUZZ_CHECK(wait >= best, "next_due %" PRId64 " before the earliest job (%" PRId64 ")",
		           wait, best);
	else if (!limited && !W.clock_back)
		FUZZ_CHECK(wait == best, "next_due %" PRId64 ", the earliest waiting job is due in %"
		           PRId64, wait, best);
}

/* ---------------------------------------------------------------- cursor */

struct cur {
	const uint8_t *p;
	size_t n, i;
};

static unsigned u8(struct cur *c)
{
	return c->i < c->n ? c->p[c->i++] : 0;
}

/* ------------------------------------------------------------ open, close */

/* stg_log_classify() answers every scripted message of integration i (and of
 * one the log has not seen: the built-in rules) as the model's rules do. */
static void check_classify(int i)
{
	size_t a;
	int cls, want, rc;

	for (a = 1; a < sizeof ANSWER / sizeof *ANSWER; a++) {
		cls = -1;
		rc = stg_log_classify(W.log, INTEG[i], ANSWER[a].http, ANSWER[a].msg, &cls);
		rc_in("stg_log_classify", rc, OKB);
		want = sm_rules_class(&W.in[i].rules, ANSWER[a].http, ANSWER[a].msg);
		FUZZ_CHECK(cls == want, "classify (%s, %d, %.60s): %s, the model's rules (%s, %zu of "
		           "them%s) say %s", INTEG[i], ANSWER[a].http, ANSWER[a].msg ? ANSWER[a].msg : "(none)",
		           stg_error_class_name(cls), W.in[i].rules.custom ? "the host's" : "built-in",
		           W.in[i].rules.n, W.in[i].rules.keep_defaults ? " and the built-in" : "",
		           stg_error_class_name(want));
		if (i == 0) {
			rc = stg_log_classify(W.log, "never-seen", ANSWER[a].http, ANSWER[a].msg, &cls);
			rc_in("stg_log_classify", rc, OKB);
			want = sm_rules_class(NULL, ANSWER[a].http, ANSWER[a].msg);
			FUZZ_CHECK(cls == want, "classify for an unseen integration (%d, %.60s): %s, the "
			           "built-in rules say %s", ANSWER[a].http,
			           ANSWER[a].msg ? ANSWER[a].msg : "(none)", stg_error_class_name(cls),
			           stg_error_class_name(want));
		}
	}
}

static void model_reset_counters(void)
{
	W.changes = W.exports = W.coalesced = W.stale = W.skips = 0;
	W.attempts = W.successes = W.errors = 0;
	W.got_abnormal = 0;
	W.corrections = 0;
}

static void close_log(void)
{
	int i, s;

	stg_log_close(W.log);
	W.log = NULL;
	/* log.h: "stg_log_close() with a transaction open gives it up (storage
	 * `rollback`)"; its held events are dropped, those told early stay told. */
	FUZZ_CHECK(!W.st_open && !W.st_dead && !W.st_lied, "the log closed with a storage "
	           "transaction open");
	if (W.host_open) {
		W.exp_min += W.min_early;
		W.min_early = W.min_pending = 0;
		W.exp_oos += W.oos_early;
		W.oos_early = W.oos_pending = 0;
		W.host_open = 0;
	}
	W.nfinished = 0; /* ids are unique within one open log */
	memset(W.notice, 0, sizeof W.notice); /* not stored: gone with the log */
	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++) {
			add_stale_id(W.k[i][s].mk.async_id);
			W.k[i][s].mk.async_id = 0;
		}
}

/* Open; on an injected failure, check it and open again without faults. */
static void open_log(void)
{
	stg_log *l = (stg_log *)&W; /* sentinel: must stay untouched on failure */
	int rc, i, s, injected = W.load_mode != 0 && W.use_storage;
	int any = 0;

	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++)
			any |= W.store[i][s].used;
	rc = stg_log_open(&l, &W.opt);
	rc_in("stg_log_open", rc, OKB | B(STG_EINVAL) | B(STG_EVERSION) | B(STG_ESTORAGE) |
	      B(STG_ECORRUPT) | B(STG_ENOMEM));
	if (rc == STG_OK && injected) {
		FUZZ_CHECK(!any && W.load_mode >= 3, "open succeeded despite load fault %d",
		           W.load_mode);
	}
	if (rc != STG_OK) {
		FUZZ_CHECK(l == (stg_log *)&W, "stg_log_open wrote *out on failure");
		if (rc == STG_ESTORAGE)
			FUZZ_CHECK(W.load_mode == 1 || W.load_mode == 2, "open: ESTORAGE, load mode %d",
			           W.load_mode);
		if (rc == STG_ECORRUPT)
			FUZZ_CHECK(W.load_mode == 3 || W.load_mode == 4 || W.load_mode == 6,
			           "open: ECORRUPT with load mode %d: the log cannot load what it stored "
			           "(%s)", W.load_mode, stg_last_error());
		if (rc == STG_EVERSION)
			FUZZ_CHECK(W.load_mode == 5, "open: EVERSION with load mode %d", W.load_mode);
		FUZZ_CHECK(rc != STG_EINVAL, "open: EINVAL for valid options: %s", stg_last_error());
		W.load_mode = 0;
		W.alloc_armed = 0;
		rc = stg_log_open(&l, &W.opt);
		FUZZ_CHECK(rc == STG_OK, "open without faults failed: %d (%s)", rc, stg_last_error());
	}
	W.load_mode = 0;
	W.log = l;
	W.in_doubt = 0; /* what storage holds is what the log now has */
	W.maybe_owed = 1; /* (an open might owe writes of what it loaded: assume so) */
	model_reset_counters();
	for (i = 0; i < NI; i++) {
		W.in[i].paused = 0;
		W.in[i].known = 0;
		W.in[i].limited = 0;
		W.in[i].announced = 0;
		W.in[i].cool_lo = W.in[i].cool_hi = 0; /* cool-downs are not stored */
		sm_policy_default(&W.in[i].pol, SKU[0], "c");
		sm_rules_default(&W.in[i].rules); /* rules are not stored (marketplace.h) */
	}
	for (i = 0; i < NI; i++)
		for (s = 0; s < NS; s++) {
			struct mkey *m = &W.k[i][s];
			stg_entry d;
			memset(m, 0, sizeof *m);
			if (!W.use_storage || !W.store[i][s].used)
				continue;
			decode_rec(i, s, &d);
			m->mk.exists = 1;
			m->mk.seq = d.sequence;
			m->mk.avail = d.available;
			m->mk.published = d.published;
			m->mk.has_ack = (d.flags & STG_ENTRY_HAS_ACKED) != 0;
			m->mk.acked = d.acked;
			m->acked_at = d.acked_at;
			W.in[i].known = 1;
			/* "an entry holding an auth failure pauses its integration again" */
			if ((d.job_state == STG_JOB_QUEUED || d.job_state == STG_JOB_IN_FLIGHT) &&
			    d.error_class == STG_ERRCLASS_AUTH)
				W.in[i].paused = 1;
		}
	for (i = 0; i < NI; i++) {
		int p = 0;
		rc = stg_log_is_paused(W.log, INTEG[i], &p);
		FUZZ_CHECK(rc == STG_OK, "is_paused after open");
		FUZZ_CHECK(p >= W.in[i].paused, "%s holds a stored auth failure but is not paused "
		           "after open", INTEG[i]);
		W.in[i].paused = p;
		W.got_paused[i] = W.exp_paused[i];
		W.got_resumed[i] = W.exp_resumed[i];
		check_classify(i);
	}
	check_store_is_memory("after open");
}

/* ------------------------------------------------------------------ query */

static void make_query(struct cur *c, stg_query *q)
{
	static const char *const prefixes[5] = { NULL, "A", "C", "", "Z" };
	unsigned b = u8(c), f = u8(c);

	stg_query_init(q, STG_QUERY_VERSION);
	q->integration = (b & 3) < NI ? INTEG[b & 3] : NULL;
	q->sku_prefix = prefixes[(b >> 2) % 5];
	q->status = (int)(f & 3) - 1;            /* -1 .. 2 */
	q->error_class = (b >> 5) < 7 ? (int)(b >> 5) - 1 : -1; /* -1 .. 5 */
	q->flags = (f >> 2) & 7u;
}

static int matches(const stg_query *q, int i, int s, const stg_entry *e)
{
	if (q->integration && strcmp(q->integration, INTEG[i]) != 0)
		return 0;
	if (q->sku_prefix && strncmp(SKU[s], q->sku_prefix, strlen(q->sku_prefix)) != 0)
		return 0;
	if (q->status >= 0 && e->status != q->status)
		return 0;
	if (q->error_class >= 0 && e->error_class != q->error_class)
		return 0;
	if ((q->flags & STG_QUERY_ABNORMAL) && !(e->flags & STG_ENTRY_ABNORMAL))
		return 0;
	if ((q->flags & STG_QUERY_MIN_STOCK_REACHED) && !(e->flags & STG_ENTRY_MIN_STOCK_REACHED))
		return 0;
	if ((q->flags & STG_QUERY_LATE) && !(e->flags & STG_ENTRY_LATE))
		return 0;
	return 1;
}

/* ----------------------------------------------------------------- submit */

/* What the log knows of a key between the changes of one batch. */
struct before {
	int exists;
	int status, job_state;
	unsigned flags;
	int64_t acked;
	uint64_t job_id;
};

static void before_set(struct before *b, int exists, const stg_entry *e)
{
	memset(b, 0, sizeof *b);
	b->exists = exists;
	if (b->exists) {
		b->status = e->status;
		b->job_state = e->job_state;
		b->flags = e->flags;
		b->acked = e->acked;
		b->job_id = e->job_id;
	}
}

static void before_of(int i, int s, struct before *b, stg_entry *e)
{
	before_set(b, get_entry(i, s, e), e);
}

static const int64_t AVAIL[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 10, 12, 20, 50, -1, -3, INT64_MAX,
                                   INT64_MIN };

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static void make_submit(struct cur *c, stg_submit *s, int *i, int *k, int *valid)
{
	unsigned a = u8(c), b = u8(c), d = u8(c);
	int64_t seq;
	const struct mkey *m;

	stg_submit_init(s, STG_SUBMIT_VERSION);
	pick_key(a, i, k);
	m = &W.k[*i][*k];
	s->integration = INTEG[*i];
	s->sku = SKU[*k];
	/* b: 0xxxxxxx available b & 0x3f, category "c" with bit 6;
	 *    1cccvvvv available AVAIL[v], ccc 1 "c", 2 "other", 6-7 an invalid change. */
	if (b & 0x80) {
		s->available = AVAIL[b & 15];
		s->category = ((b >> 4) & 7) == 1 ? "c" : ((b >> 4) & 7) == 2 ? "other" : NULL;
	} else {
		s->available = (int64_t)(b & 0x3f);
		s->category = (b & 0x40) ? "c" : NULL;
	}
	switch (d & 7) {
	case 0: seq = sat_add(m->mk.seq, -1); break;
	case 1: seq = m->mk.seq; break;
	case 5: seq = sat_add(m->mk.seq, -100); break;
	case 6: seq = (d & 8) ? INT64_MAX : INT64_MIN; break;
	default: seq = sat_add(m->mk.seq, (int64_t)(d & 7)); break;
	}
	s->sequence = seq;
	s->flags = (d & 0x10) ? STG_CHANGE_NON_STOCK : 0u;
	switch ((d >> 5) & 7) {
	case 0: case 1: case 2: s->changed_at = 0; break;
	case 3: s->changed_at = eff_now() > 5000 ? eff_now() - 5000 : 0; break;
	case 4: s->changed_at = eff_now() > 7200000 ? eff_now() - 7200000 : 1; break;
	case 5: s->changed_at = eff_now() + 1000; break;
	case 6: s->changed_at = INT64_MAX; break;
	default: s->changed_at = 1; break;
	}
	*valid = 1;
	if ((b & 0x80) && ((b >> 4) & 7) >= 6) {
		/* An invalid change: nothing may happen. */
		*valid = 0;
		switch (d % 6) {
		case 0: s->flags = 0x4u; break;
		case 1: s->changed_at = -1; break;
		case 2: s->version = 2; break;
		case 3: s->sku = ""; break;
		case 4: s->category = ""; break;
		default: s->integration = NULL; break;
		}
	}
}

/* Predict one valid change against @p b (the shared model); returns the
 * expected decision, sets *reason. */
static int predict(int i, int k, const struct before *b, const stg_submit *s, int64_t p1,
                   int *reason)
{
	const struct mkey *m = &W.k[i][k];
	unsigned w;
	sm_prior pr;

	pr.exists = b->exists;
	pr.sequence = m->mk.seq;
	pr.status = b->status;
	pr.job_state = b->job_state;
	pr.has_acked = (b->flags & STG_ENTRY_HAS_ACKED) != 0;
	pr.acked = b->acked;
	/* The previous available is judged with the minimum this change resolves. */
	pr.published = pub(&W.in[i], k, s->category, m->mk.avail, &w);
	return sm_decide(&pr, s, p1, W.in[i].pol.window, reason);
}

/* Check one applied result and move the model (and @p b) forward. */
static void applied(int i, int k, struct before *b, const stg_submit *s,
                    const stg_submit_result *r)
{
	struct mkey *m = &W.k[i][k];
	unsigned warn;
	int64_t p1 = pub(&W.in[i], k, s->category, s->available, &warn);
	int reason, dec = predict(i, k, b, s, p1, &reason);

	TRACE("  submit (%s, %s) available %" PRId64 " seq %" PRId64 " flags %u: %s/%s published %"
	      PRId64 " job %" PRIu64, INTEG[i], SKU[k], s->available, s->sequence, s->flags,
	      stg_decision_name(r->decision), stg_reason_name(r->reason), r->published, r->job_id);

	FUZZ_CHECK(r->decision == dec && r->reason == reason,
	           "submit (%s, %s) available %" PRId64 " seq %" PRId64 " (model seq %" PRId64
	           "): decision %s/%s, expected %s/%s", INTEG[i], SKU[k], s->available, s->sequence,
	           m->mk.seq, stg_decision_name(r->decision), stg_reason_name(r->reason),
	           stg_decision_name(dec), stg_reason_name(reason));
	W.changes++;
	W.in[i].known = 1;
	if (dec == STG_DECISION_STALE) {
		W.stale++;
		FUZZ_CHECK(r->job_id == 0, "stale change with a job id");
		return;
	}
	FUZZ_CHECK(r->published == p1 && r->warnings == (warn ? STG_WARN_MIN_STOCK_REACHED : 0u),
	           "submit (%s, %s) available %" PRId64 ": published %" PRId64 " warn %u, expected %"
	           PRId64 " %u", INTEG[i], SKU[k], s->available, r->published, r->warnings, p1, warn);
	if (warn && !(b->flags & STG_ENTRY_MIN_STOCK_REACHED)) {
		/* log.h: held until the host's transaction commits, dropped if it fails */
		if (W.host_open && W.txn_store)
			W.min_pending++;
		else
			W.exp_min++;
	}
	if (dec == STG_DECISION_EXPORT) {
		W.exports++;
		FUZZ_CHECK(r->job_id != 0 && r->job_id != b->job_id, "export without a new job id");
		FUZZ_CHECK(p1 != 0 || r->priority == STG_PRIORITY_URGENT, "a change to 0 is not urgent");
		b->job_state = STG_JOB_QUEUED;
		b->status = STG_ENTRY_PENDING;
		b->job_id = r->job_id;
	} else if (dec == STG_DECISION_COALESCED) {
		W.coalesced++;
		FUZZ_CHECK(r->job_id == b->job_id, "coalesced into job %" PRIu64 ", the SKU's job is %"
		           PRIu64, r->job_id, b->job_id);
		FUZZ_CHECK(p1 != 0 || r->priority == STG_PRIORITY_URGENT, "a change to 0 is not urgent");
	} else {
		W.skips++;
		FUZZ_CHECK(r->job_id == 0, "skipped change with a job id");
	}
	b->exists = 1;
	b->flags = warn ? (b->flags | STG_ENTRY_MIN_STOCK_REACHED)
	                : (b->flags & ~STG_ENTRY_MIN_STOCK_REACHED);
	sm_key_applied(&m->mk, s, p1);
	W.in[i].known = 1;
}

static void after_submit_entry(int i, int k, const struct before *b)
{
	stg_entry e;

	if (!get_entry(i, k, &e))
		return;
	FUZZ_CHECK(e.job_state == b->job_state && e.status == b->status && e.job_id == b->job_id,
	           "(%s, %s) after submit: state %d/%d status %d/%d job %" PRIu64 "/%" PRIu64,
	           INTEG[i], SKU[k], e.job_state, b->job_state, e.status, b->status, e.job_id,
	           b->job_id);
}

static int change_valid(const stg_submit *s)
{
	return s->version == STG_SUBMIT_VERSION && s->integration && s->sku[0] &&
	       (!s->category || s->category[0]) && s->changed_at >= 0 &&
	       !(s->flags & ~STG_CHANGE_NON_STOCK);
}

static unsigned faults_submit(int valid)
{
	unsigned ok = OKB | B(STG_ERECURSIVE);

	if (!valid)
		return B(STG_EINVAL) | B(STG_EVERSION);
	ok |= B(STG_ESTORAGE);
	if (W.alloc_armed)
		ok |= B(STG_ENOMEM);
	return ok;
}

static void do_submit(struct cur *c)
{
	stg_submit s;
	stg_submit_result r;
	stg_entry e;
	struct before b;
	int i, k, valid, rc;

	make_submit(c, &s, &i, &k, &valid);
	before_of(i, k, &b, &e);
	memset(&r, 0x5a, sizeof r);
	rc = stg_log_submit(W.log, &s, &r);
	rc_in("stg_log_submit", rc, faults_submit(valid));
	if (rc != STG_OK) {
		check_unchanged("stg_log_submit", i, k, b.exists, &e);
		return;
	}
	applied(i, k, &b, &s, &r);
	after_submit_entry(i, k, &b);
}

static void do_submit_batch(struct cur *c)
{
	stg_submit s[4];
	stg_submit_result r[4];
	struct before b[NI][NS];
	stg_entry e[NI][NS];
	int ex[NI][NS], ii[4], kk[4], valid = 1, v, rc, i, k;
	size_t n = 1 + u8(c) % 4, j, done = 99;
	uint64_t got_min;

	snapshot(e, ex);
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			before_set(&b[i][k], ex[i][k], &e[i][k]);
	for (j = 0; j < n; j++) {
		make_submit(c, &s[j], &ii[j], &kk[j], &v);
		valid &= v;
	}
	got_min = W.got_min;
	rc = stg_log_submit_batch(W.log, s, n, r, &done);
	rc_in("stg_log_submit_batch", rc, faults_submit(1) | B(STG_EINVAL) | B(STG_EVERSION));
	FUZZ_CHECK(done <= n && (rc != STG_OK || done == n), "batch: rc %d done %zu of %zu", rc,
	           done, n);
	/* log.h: a batch whose own commit failed is undone, "reports 0 done". */
	if (own_commit_failed())
		FUZZ_CHECK(done == 0 && (rc == STG_ESTORAGE || rc == STG_ENOMEM),
		           "batch: its commit failed, but rc %d done %zu", rc, done);
	if (rc != STG_OK && done == 0) {
		/* Nothing applied: nothing changed, and a warning of an undone change
		 * is not told (unless the log had no memory to hold it). */
		check_none_changed("stg_log_submit_batch", e, ex);
		FUZZ_CHECK(W.got_min == got_min || W.alloc_armed, "an undone batch told %" PRIu64
		           " min_stock events", W.got_min - got_min);
		if (!(W.host_open && W.txn_store)) /* else counted as told early */
			W.exp_min += W.got_min - got_min;
	}
	for (j = 0; j < done; j++) {
		FUZZ_CHECK(change_valid(&s[j]), "batch applied an invalid change");
		/* A model that sees the change after the earlier ones of the batch. */
		applied(ii[j], kk[j], &b[ii[j]][kk[j]], &s[j], &r[j]);
	}
	if (rc != STG_OK) {
		rc_in("stg_log_submit_batch (failing item)", rc, faults_submit(change_valid(&s[done])));
	}
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			if (b[i][k].exists)
				after_submit_entry(i, k, &b[i][k]);
			else
				FUZZ_CHECK(!W.k[i][k].mk.exists, "entry appeared");
	(void)valid;
}

/* ------------------------------------------------------------------- pump */

/* A failed job waits as its class says (see result_effect()). */
static void check_retry_times(void)
{
	int i, k;
	stg_entry e;

	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++) {
			struct mkey *m = &W.k[i][k];
			if (!m->due_kind)
				continue;
			if (get_entry(i, k, &e) && e.job_state == m->due_kind && e.job_id == m->due_job)
				FUZZ_CHECK(e.next_attempt_at >= m->due_lo && e.next_attempt_at <= m->due_hi,
				           "(%s, %s) after a %s failure is due at %" PRId64 ", expected %" PRId64
				           " to %" PRId64, INTEG[i], SKU[k], stg_error_class_name(e.error_class),
				           e.next_attempt_at, m->due_lo, m->due_hi);
			m->due_kind = 0;
		}
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++) {
			struct mkey *m = &W.k[i][k];
			/* The failure of the job, while it is still the entry's problem,
			 * has the class the model gives it (its rules, or the status). */
			if (m->due_cls && get_entry(i, k, &e) && e.job_id == m->due_job &&
			    e.status != STG_ENTRY_SUCCESS && e.job_state != STG_JOB_IN_FLIGHT)
				FUZZ_CHECK(e.error_class == m->due_cls, "(%s, %s) failed with class %s, the "
				           "model (its integration's message rules) says %s; http %d message %.80s",
				           INTEG[i], SKU[k], stg_error_class_name(e.error_class),
				           stg_error_class_name(m->due_cls), e.http_status,
				           e.message ? e.message : "(none)");
			m->due_cls = 0;
		}
}

static void do_pump(struct cur *c)
{
	size_t max = u8(c) % 4, sent = 99, j;
	unsigned len = u8(c) % 9;
	int due[NI][NS], ex[NI][NS], i, k, rc, check_due;
	stg_entry snap[NI][NS];
	int64_t now = eff_now();
	unsigned allowed = OKB | B(STG_ESTATE) | B(STG_ETRANSPORT) | B(STG_ESTORAGE) |
	                   B(STG_ERECURSIVE) | B(STG_EINVAL);

	if (W.alloc_armed)
		allowed |= B(STG_ENOMEM);
	W.script_len = len;
	W.script_pos = 0;
	for (j = 0; j < len; j++)
		W.script[j] = (uint8_t)u8(c);
	memset(due, 0, sizeof due);
	snapshot(snap, ex);
	check_due = max == 0 && !W.alloc_armed;
	for (i = 0; i < NI; i++) {
		stg_limit_state ls;
		check_due &= !W.in[i].limited;
		W.in[i].paused_in_pump = 0;
		W.in[i].cooled_in_pump = stg_log_limit_state(W.log, INTEG[i], &ls) == STG_OK &&
		                         ls.cooling_until > now; /* cooling: nothing of it is due */
		W.in[i].last_prio = 0;
		for (k = 0; k < NS; k++) {
			const stg_entry *e = &snap[i][k];
			W.k[i][k].handed = 0;
			W.k[i][k].may_resend = 0;
			W.k[i][k].failed_handoff = 0;
			if (ex[i][k] && !W.in[i].paused &&
			    (e->job_state == STG_JOB_QUEUED || e->job_state == STG_JOB_HELD) &&
			    e->next_attempt_at <= now)
				due[i][k] = 1;
		}
	}
	W.transport_failed = 0;
	W.invalid_result = 0;
	W.handed_ok = 0;
	W.in_pump = 1;
	rc = stg_log_pump(W.log, max, &sent);
	W.in_pump = 0;
	TRACE("  pump(max %zu): %d, sent %zu", max, rc, sent);
	rc_in("stg_log_pump", rc, allowed);
	if (!W.have_transport || W.host_open) {
		/* log.h: refused inside the host's transaction, nothing sent */
		FUZZ_CHECK(rc == STG_ESTATE && sent == 0 && W.handed_ok == 0,
		           "pump without a transport or inside a transaction: %d, sent %zu", rc, sent);
		return;
	}
	FUZZ_CHECK(rc != STG_ESTATE, "pump: ESTATE with a transport set");
	/* The pump is one transaction (its owed writes join it). log.h: when its
	 * commit fails the results stay in memory, owed, and it "returns
	 * ::STG_ESTORAGE with `sent` as it was". */
	FUZZ_CHECK(W.call_commits <= 1, "pump made %d storage commits, not one", W.call_commits);
	if (W.call_last_commit == 2)
		FUZZ_CHECK(rc == STG_ESTORAGE, "pump: its commit failed, but it returned %d", rc);
	else
		FUZZ_CHECK((rc == STG_ETRANSPORT) == (W.transport_failed != 0),
		           "pump returned %d, the transport %s", rc,
		           W.transport_failed ? "failed" : "did not fail");
	FUZZ_CHECK(rc != STG_EINVAL || W.invalid_result, "pump: EINVAL without a broken result");
	FUZZ_CHECK(sent == W.handed_ok, "pump says %zu jobs sent, the transport took %zu", sent,
	           W.handed_ok);
	FUZZ_CHECK(!max || sent <= max, "pump sent %zu for max %zu", sent, max);
	check_retry_times();
	/* hooks.h: when the transport fails as a whole "the jobs stay queued unchanged". */
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			if (W.k[i][k].failed_handoff && !(skip_heldfail &&
			                                  snap[i][k].job_state == STG_JOB_HELD))
				check_unchanged("stg_log_pump (transport failed)", i, k, 1, &snap[i][k]);
	if (check_due && (rc == STG_OK || rc == STG_EINVAL))
		for (i = 0; i < NI; i++)
			for (k = 0; k < NS; k++)
				FUZZ_CHECK(!due[i][k] || W.k[i][k].handed || W.in[i].paused_in_pump ||
				           W.in[i].cooled_in_pump || W.in[i].limited /* announced meanwhile */,
				           "(%s, %s) was due and its integration has no limit, but an "
				           "unlimited pump did not send it", INTEG[i], SKU[k]);
}

/* --------------------------------------------------------------- complete */

static void do_complete(struct cur *c)
{
	unsigned a = u8(c), b = u8(c);
	uint64_t id = 0;
	int i, k, ti = -1, tk = -1, bh, cls = STG_ERRCLASS_NONE, rc, n = 0;
	stg_job_result r;
	stg_entry before;
	unsigned allowed = OKB | B(STG_ENOTFOUND) | B(STG_EINVAL) | B(STG_EVERSION) |
	                   B(STG_ESTORAGE) | B(STG_ENOMEM) | B(STG_ERECURSIVE);

	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			n += W.k[i][k].mk.async_id != 0;
	if ((a & 0x80) == 0 && n) {
		int want = (int)(a % (unsigned)n);
		for (i = 0; i < NI; i++)
			for (k = 0; k < NS; k++)
				if (W.k[i][k].mk.async_id && want-- == 0) {
					id = W.k[i][k].mk.async_id;
					ti = i;
					tk = k;
				}
	} else if ((a & 0x40) && W.nstale) {
		id = W.stale_ids[a % W.nstale];
	} else {
		id = (uint64_t)(a & 0x3f) << 32 | (b & 0x1f);
	}
	/* An old id may name a job in flight again: ids restart with a new log (no
	 * storage), or after the entry holding the highest id was removed. */
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			if (id && W.k[i][k].mk.async_id == id) {
				ti = i;
				tk = k;
			}
	stg_job_result_init(&r, STG_JOB_RESULT_VERSION);
	bh = behaviour(b, &r, &cls, ti);
	if (bh == BH_FAIL)
		r.version = 3;
	if (ti >= 0)
		get_entry(ti, tk, &before);
	rc = stg_log_complete(W.log, id, &r);
	TRACE("  complete(%" PRIu64 ", behaviour %d): %d", id, bh, rc);
	rc_in("stg_log_complete", rc, allowed | (W.host_open ? B(STG_ESTATE) : 0u));
	FUZZ_CHECK(W.call_commits <= 1, "complete made %d storage commits, not one", W.call_commits);
	if (W.host_open) {
		/* log.h: refused inside the host's transaction, nothing recorded */
		FUZZ_CHECK(rc == STG_ESTATE, "complete inside a transaction: %d", rc);
		if (ti >= 0)
			check_unchanged("stg_log_complete (inside a transaction)", ti, tk, 1, &before);
	} else if (bh == BH_FAIL) {
		FUZZ_CHECK(rc == STG_EVERSION, "complete with result version 3: %d", rc);
	} else if (bh == BH_ASYNC || bh == BH_INVALID) {
		/* log.h: an outcome other than OK or ERROR, an unknown class: nothing recorded */
		FUZZ_CHECK(rc == STG_EINVAL, "complete with outcome %d class %d: %d", r.outcome,
		           r.error_class, rc);
		if (ti >= 0)
			check_unchanged("stg_log_complete (broken result)", ti, tk, 1, &before);
	} else if (ti < 0) {
		FUZZ_CHECK(rc == STG_ENOTFOUND, "complete of job %" PRIu64 ", not in flight: %d", id, rc);
	} else {
		FUZZ_CHECK(rc != STG_ENOTFOUND, "complete of job %" PRIu64 " in flight: ENOTFOUND", id);
		/* log.h: a result is never undone; a failed commit leaves it owed */
		if (W.call_last_commit == 2)
			FUZZ_CHECK(rc == STG_ESTORAGE, "complete: its commit failed, but it returned %d", rc);
		if (rc == STG_OK || rc == STG_ESTORAGE) {
			if (cls == STG_ERRCLASS_AUTH && !W.in[ti].paused)
				W.exp_paused[ti]++;
			if (cls == STG_ERRCLASS_AUTH)
				W.in[ti].paused = 1;
			result_effect(ti, tk, id, 0, bh, cls, r.retry_after_ms);
			if (bh == BH_OK && r.quota_limit > 0)
				W.in[ti].announced = W.in[ti].limited = 1;
			check_retry_times();
		} else {
			check_unchanged("stg_log_complete", ti, tk, 1, &before);
		}
	}
}

/* ------------------------------------------------------------- management */

static void do_reprocess(struct cur *c)
{
	unsigned a = u8(c);
	int i, k, rc, ex;
	stg_entry b, e;
	unsigned allowed = OKB | B(STG_ENOTFOUND) | B(STG_EBUSY) | B(STG_ESTORAGE) | B(STG_EINVAL) |
	                   B(STG_ERECURSIVE) | B(STG_ENOMEM);

	pick_key(a, &i, &k);
	ex = get_entry(i, k, &b);
	rc = stg_log_reprocess(W.log, INTEG[i], SKU[k]);
	rc_in("stg_log_reprocess", rc, allowed);
	if (!ex) {
		FUZZ_CHECK(rc == STG_ENOTFOUND, "reprocess of no entry: %d", rc);
		return;
	}
	if (b.job_state == STG_JOB_IN_FLIGHT) {
		FUZZ_CHECK(rc == STG_EBUSY, "reprocess of a job in flight: %d", rc);
		return;
	}
	if (rc != STG_OK) {
		check_unchanged("stg_log_reprocess", i, k, 1, &b);
		return;
	}
	get_entry(i, k, &e);
	FUZZ_CHECK(e.status == STG_ENTRY_PENDING && e.job_state == STG_JOB_QUEUED &&
	           e.next_attempt_at == eff_now() && e.published == b.published,
	           "after reprocess (%s, %s): status %d state %d due %" PRId64 " (now %" PRId64 ")",
	           INTEG[i], SKU[k], e.status, e.job_state, e.next_attempt_at, eff_now());
	FUZZ_CHECK(b.job_state != STG_JOB_NONE || e.job_id != b.job_id,
	           "reprocess of a finished entry reuses job id %" PRIu64, b.job_id);
}

static void do_reprocess_matching(struct cur *c)
{
	stg_query q;
	stg_entry b[NI][NS], e;
	int ex[NI][NS], i, k, rc;
	size_t count = 99, cand = 0;

	make_query(c, &q);
	snapshot(b, ex);
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			cand += ex[i][k] && b[i][k].job_state != STG_JOB_IN_FLIGHT &&
			        matches(&q, i, k, &b[i][k]);
	rc = stg_log_reprocess_matching(W.log, &q, &count);
	rc_in("stg_log_reprocess_matching", rc, OKB | B(STG_ENOTFOUND) | B(STG_ESTORAGE) |
	      B(STG_ENOMEM) | B(STG_EINVAL) | B(STG_ERECURSIVE));
	FUZZ_CHECK(count <= cand && (rc != STG_OK || count == cand),
	           "reprocess_matching: rc %d count %zu of %zu", rc, count, cand);
	/* log.h: undone when its commit failed, "the `count` of the matching calls" 0 */
	if (own_commit_failed())
		FUZZ_CHECK(count == 0 && (rc == STG_ESTORAGE || rc == STG_ENOMEM),
		           "reprocess_matching: its commit failed, but rc %d count %zu", rc, count);
	if (rc != STG_OK && count == 0)
		check_none_changed("stg_log_reprocess_matching", b, ex);
	if (rc != STG_OK)
		return;
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			if (ex[i][k] && b[i][k].job_state != STG_JOB_IN_FLIGHT &&
			    matches(&q, i, k, &b[i][k])) {
				get_entry(i, k, &e);
				FUZZ_CHECK(e.job_state == STG_JOB_QUEUED && e.next_attempt_at == eff_now(),
				           "(%s, %s) matched but was not queued", INTEG[i], SKU[k]);
			}
}

static void forget(int i, int k)
{
	add_stale_id(W.k[i][k].mk.async_id);
	memset(&W.k[i][k], 0, sizeof W.k[i][k]);
}

static void do_remove(struct cur *c)
{
	unsigned a = u8(c);
	int i, k, rc, ex;
	unsigned flags = (a & 0x80) ? STG_REMOVE_FORCE : 0u;
	stg_entry b;

	pick_key(a, &i, &k);
	ex = get_entry(i, k, &b);
	rc = stg_log_remove(W.log, INTEG[i], SKU[k], flags);
	rc_in("stg_log_remove", rc, OKB | B(STG_ENOTFOUND) | B(STG_EBUSY) | B(STG_ESTORAGE) |
	      B(STG_EINVAL) | B(STG_ERECURSIVE));
	if (!ex) {
		FUZZ_CHECK(rc == STG_ENOTFOUND, "remove of no entry: %d", rc);
		return;
	}
	if (b.job_state != STG_JOB_NONE && !flags) {
		FUZZ_CHECK(rc == STG_EBUSY, "remove of an entry with a job, not forced: %d", rc);
		return;
	}
	FUZZ_CHECK(rc == STG_OK || rc == STG_ESTORAGE, "remove: %d", rc);
	if (rc != STG_OK) {
		check_unchanged("stg_log_remove", i, k, 1, &b);
		return;
	}
	forget(i, k);
	FUZZ_CHECK(!W.use_storage || !W.store[i][k].used, "removed (%s, %s) is still stored",
	           INTEG[i], SKU[k]);
}

static void do_remove_matching(struct cur *c)
{
	stg_query q;
	stg_entry b[NI][NS], e;
	int ex[NI][NS], i, k, rc, force = (int)(u8(c) & 1);
	size_t count = 99, gone = 0, cand = 0;

	make_query(c, &q);
	snapshot(b, ex);
	rc = stg_log_remove_matching(W.log, &q, force ? STG_REMOVE_FORCE : 0u, &count);
	rc_in("stg_log_remove_matching", rc, OKB | B(STG_ENOTFOUND) | B(STG_EBUSY) |
	      B(STG_ESTORAGE) | B(STG_EINVAL) | B(STG_ERECURSIVE));
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++) {
			int c1, still;
			if (!ex[i][k])
				continue;
			c1 = matches(&q, i, k, &b[i][k]) && (force || b[i][k].job_state == STG_JOB_NONE);
			cand += c1;
			still = stg_log_get(W.log, INTEG[i], SKU[k], &e) == STG_OK;
			FUZZ_CHECK(c1 || still, "remove_matching removed (%s, %s), which it should not",
			           INTEG[i], SKU[k]);
			FUZZ_CHECK(rc != STG_OK || !c1 || !still,
			           "remove_matching kept (%s, %s), which matched", INTEG[i], SKU[k]);
			if (!still) {
				gone++;
				forget(i, k);
			}
		}
	FUZZ_CHECK(count == gone && gone <= cand, "remove_matching: count %zu, removed %zu", count,
	           gone);
	if (own_commit_failed())
		FUZZ_CHECK(count == 0 && (rc == STG_ESTORAGE || rc == STG_ENOMEM),
		           "remove_matching: its commit failed, but rc %d count %zu", rc, count);
	if (rc != STG_OK && count == 0)
		check_none_changed("stg_log_remove_matching", b, ex);
}

static void do_expire(void)
{
	stg_entry b[NI][NS], e;
	int ex[NI][NS], i, k, rc, still[NI][NS];
	size_t removed = 99, gone = 0;
	uint64_t succ = 0;
	int64_t now = eff_now(), newest_gone = INT64_MIN, oldest_kept = INT64_MAX;

	snapshot(b, ex);
	rc = stg_log_expire(W.log, &removed);
	rc_in("stg_log_expire", rc, OKB | B(STG_ESTORAGE) | B(STG_ENOMEM) | B(STG_EINVAL) |
	      B(STG_ERECURSIVE));
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++) {
			if (!ex[i][k])
				continue;
			still[i][k] = stg_log_get(W.log, INTEG[i], SKU[k], &e) == STG_OK;
			if (!still[i][k]) {
				FUZZ_CHECK(b[i][k].status == STG_ENTRY_SUCCESS, "expire removed a %s entry",
				           stg_entry_status_name(b[i][k].status));
				gone++;
				if (b[i][k].acked_at > newest_gone)
					newest_gone = b[i][k].acked_at;
				forget(i, k);
			} else if (b[i][k].status == STG_ENTRY_SUCCESS) {
				succ++;
				if (b[i][k].acked_at < oldest_kept)
					oldest_kept = b[i][k].acked_at;
				if (rc == STG_OK && W.max_age)
					FUZZ_CHECK(now - b[i][k].acked_at <= W.max_age,
					           "expire kept a success older than the maximum age");
			}
		}
	FUZZ_CHECK(removed == gone, "expire says %zu removed, %zu are gone", removed, gone);
	if (own_commit_failed())
		FUZZ_CHECK(removed == 0 && (rc == STG_ESTORAGE || rc == STG_ENOMEM),
		           "expire: its commit failed, but rc %d removed %zu", rc, removed);
	if (rc != STG_OK && removed == 0)
		check_none_changed("stg_log_expire", b, ex);
	if (!W.max_age && !W.max_count)
		FUZZ_CHECK(gone == 0, "expire without retention options removed %zu", gone);
	if (rc == STG_OK) {
		FUZZ_CHECK(!W.max_count || succ <= W.max_count, "expire kept %" PRIu64 " successes, "
		           "maximum %" PRIu64, succ, W.max_count);
		FUZZ_CHECK(newest_gone <= oldest_kept, "expire dropped a newer success than one it kept");
	}
}

static void do_flush(void)
{
	size_t pending = 99;
	int rc;

	/* (also called after another call in one action: count this one's commits) */
	W.call_commits = W.call_first_commit = W.call_last_commit = W.call_rollbacks = 0;
	rc = stg_log_flush(W.log, &pending);

	rc_in("stg_log_flush", rc, OKB | B(STG_ESTORAGE) | B(STG_EINVAL) | B(STG_ERECURSIVE) |
	      (W.host_open ? B(STG_ESTATE) : 0u));
	if (W.host_open) {
		FUZZ_CHECK(rc == STG_ESTATE, "flush inside a transaction: %d", rc);
		return;
	}
	FUZZ_CHECK((rc == STG_OK) == (pending == 0), "flush: rc %d with %zu still owed", rc, pending);
	FUZZ_CHECK(W.call_commits <= 1, "flush made %d storage commits, not one", W.call_commits);
	/* its commit failed: what it wrote is owed again */
	if (W.call_last_commit == 2)
		FUZZ_CHECK(rc == STG_ESTORAGE && pending > 0, "flush: its commit failed, but rc %d "
		           "with %zu owed", rc, pending);
	if (rc == STG_OK) {
		W.maybe_owed = 0;
		check_store_is_memory("after a flush that succeeded");
	}
}

static void do_reopen(struct cur *c)
{
	unsigned a = u8(c);

	if (a & 1)
		do_flush();
	{
		/* The counters die with the log: check them first, outside any fault. */
		int armed = W.alloc_armed;
		uint64_t n = W.allocs;
		W.alloc_armed = 0;
		check_all(1);
		W.alloc_armed = armed;
		W.allocs = n;
	}
	close_log();
	if (!W.use_storage) {
		int i, k;
		for (i = 0; i < NI; i++)
			for (k = 0; k < NS; k++)
				memset(&W.k[i][k], 0, sizeof W.k[i][k]);
	}
	W.load_mode = (int)((a >> 1) % 8);
	if (W.load_mode == 7)
		W.load_mode = 0;
	if (a & 0x10) {
		W.alloc_armed = 1;
		W.fail_from = W.allocs + (a >> 5) * 3;
		W.fail_to = W.fail_from + 1;
	}
	open_log();
	W.alloc_armed = 0;
}

static void do_pause(struct cur *c)
{
	unsigned a = u8(c);
	int i = (int)(a % NI), rc;
	unsigned allowed = OKB | B(STG_EINVAL) | B(STG_ERECURSIVE) | (W.alloc_armed ? B(STG_ENOMEM) : 0u);

	if (W.host_open)
		allowed = B(STG_ESTATE); /* log.h: refused inside the host's transaction */
	if (a & 0x80) {
		rc = stg_log_pause(W.log, (a & 0x40) ? "" : NULL);
		rc_in("stg_log_pause", rc, W.host_open ? B(STG_ESTATE) : B(STG_EINVAL));
		return;
	}
	rc = stg_log_pause(W.log, INTEG[i]);
	rc_in("stg_log_pause", rc, allowed);
	if (rc == STG_OK) {
		if (!W.in[i].paused)
			W.exp_paused[i]++;
		W.in[i].paused = 1;
		W.in[i].known = 1;
	}
}

static void do_resume(struct cur *c)
{
	unsigned a = u8(c);
	int i = (int)(a % NI), rc, k;
	stg_entry e;

	rc = stg_log_resume(W.log, INTEG[i]);
	rc_in("stg_log_resume", rc, W.host_open ? B(STG_ESTATE) : OKB | B(STG_ENOTFOUND) |
	      B(STG_EINVAL) | B(STG_ESTORAGE) | B(STG_ENOMEM) | B(STG_ERECURSIVE));
	/* log.h: its commit failed: the auth failures come back, it stays paused */
	if (own_commit_failed())
		FUZZ_CHECK(rc == STG_ESTORAGE || rc == STG_ENOMEM, "resume: its commit failed, but it "
		           "returned %d", rc);
	if (rc == STG_ENOTFOUND)
		FUZZ_CHECK(!W.in[i].known, "resume: %s not found, but the log knows it", INTEG[i]);
	if (rc != STG_OK)
		return;
	if (W.in[i].paused)
		W.exp_resumed[i]++;
	W.in[i].paused = 0;
	for (k = 0; k < NS; k++)
		if (get_entry(i, k, &e))
			FUZZ_CHECK(!(e.job_state == STG_JOB_QUEUED && e.error_class == STG_ERRCLASS_AUTH),
			           "(%s, %s) still holds an auth failure after resume", INTEG[i], SKU[k]);
}

static void do_catalogued(struct cur *c)
{
	unsigned a = u8(c);
	int i, k, rc, ex;
	stg_entry b, e;

	pick_key(a, &i, &k);
	ex = get_entry(i, k, &b);
	rc = stg_log_set_catalogued(W.log, INTEG[i], SKU[k]);
	rc_in("stg_log_set_catalogued", rc, OKB | B(STG_ESTATE) |
	      B(STG_ESTORAGE) | B(STG_ENOMEM) | B(STG_EINVAL) | B(STG_ERECURSIVE));
	if (!ex) {
		/* 1.1: remembered for the SKU's first hold (marketplace.h). */
		FUZZ_CHECK(rc == STG_OK || rc == STG_ENOMEM, "catalogued of no entry: %d", rc);
		if (rc == STG_OK)
			W.notice[i][k] = 1;
		return;
	}
	if (b.job_state != STG_JOB_HELD) {
		FUZZ_CHECK(rc == STG_ESTATE, "catalogued of an entry not held: %d", rc);
		return;
	}
	if (rc != STG_OK) {
		check_unchanged("stg_log_set_catalogued", i, k, 1, &b);
		return;
	}
	get_entry(i, k, &e);
	FUZZ_CHECK(e.job_state == STG_JOB_QUEUED && e.next_attempt_at == eff_now(),
	           "catalogued (%s, %s): state %d due %" PRId64, INTEG[i], SKU[k], e.job_state,
	           e.next_attempt_at);
}

/* ----------------------------------------------------- what the market shows */

/*
 * stg_log_observe() (marketplace.h). a: the key; b: bits 0-2 the quantity
 * (what the log published, what was acknowledged, another one, 0, a large
 * one, negative, INT64_MAX, published + 1), bits 3-5 the read time
 * (now, just before / at / just after the last acknowledgement, the future,
 * long ago, negative, a millisecond ago), bits 6-7 the flags (none,
 * missing, an unknown flag, missing and an unknown one); d: bits 0-2 a bad
 * call (version 0, NULL, empty SKU, unknown SKU, unknown integration,
 * NULL outcome), else none.
 */
static void do_observe(struct cur *c)
{
	unsigned a = u8(c), b = u8(c), d = u8(c);
	stg_observation o;
	stg_entry before, after;
	const struct mkey *m;
	int i, k, ex, ex0, rc, out = -77, want, js, valid = 1, fresh;
	unsigned allowed = 0;
	int64_t now = eff_now(), acked_at, at;
	uint64_t got_oos = W.got_oos;

	pick_key(a, &i, &k);
	m = &W.k[i][k];
	ex = ex0 = get_entry(i, k, &before);
	acked_at = ex ? before.acked_at : 0;
	stg_observation_init(&o, STG_OBSERVATION_VERSION);
	o.integration = INTEG[i];
	o.sku = SKU[k];
	switch (b & 7) {
	case 0: o.quantity = m->mk.published; break;
	case 1: o.quantity = m->mk.has_ack ? m->mk.acked : m->mk.published + 1; break;
	case 2: o.quantity = m->mk.published + 2; break;
	case 3: o.quantity = 0; break;
	case 4: o.quantity = 1000; break;
	case 5: o.quantity = -1; valid = 0; break;
	case 6: o.quantity = INT64_MAX; break;
	default: o.quantity = m->mk.published + 1; break;
	}
	switch ((b >> 3) & 7) {
	case 0: o.observed_at = 0; break;
	case 1: o.observed_at = acked_at > 1 ? acked_at - 1 : 1; break;
	case 2: o.observed_at = acked_at ? acked_at : 1; break;
	case 3: o.observed_at = acked_at + 1; break;
	case 4: o.observed_at = now + 1000; break;
	case 5: o.observed_at = 1; break;
	case 6: o.observed_at = -1; valid = 0; break;
	default: o.observed_at = now > 1 ? now - 1 : 1; break;
	}
	o.flags = (b >> 6) == 1 || (b >> 6) == 3 ? STG_OBSERVE_MISSING : 0u;
	if ((b >> 6) >= 2) {
		o.flags |= (b >> 6) == 2 ? 0x2u : 0x4u;
		valid = 0;
	}
	if (!valid)
		allowed |= B(STG_EINVAL);
	switch (d & 7) {
	case 1: o.version = 0; valid = 0; allowed |= B(STG_EVERSION); break;
	case 2: valid = 0; allowed = B(STG_EINVAL); break; /* NULL observation */
	case 3: o.sku = ""; valid = 0; allowed |= B(STG_EINVAL); break;
	case 4: o.sku = "ZZ"; ex = 0; break;                /* a SKU the log has no entry for */
	case 5: o.integration = "nope"; ex = 0; break;
	default: break;
	}
	if (valid)
		allowed = ex ? OKB | B(STG_ESTORAGE) | (W.alloc_armed ? B(STG_ENOMEM) : 0u)
		             : B(STG_ENOTFOUND) | (W.alloc_armed ? B(STG_ENOMEM) : 0u);
	/* The model's outcome (marketplace.h, in its order; the model check's step_observe()). */
	at = o.observed_at ? o.observed_at : now;
	js = ex ? before.job_state : STG_JOB_NONE;
	fresh = js == STG_JOB_NONE;
	if (at < acked_at)
		want = STG_OBSERVED_STALE;
	else if (o.flags & STG_OBSERVE_MISSING)
		/* a job held by an auth pause keeps its auth failure (observe.c) */
		want = js == STG_JOB_IN_FLIGHT || js == STG_JOB_HELD ||
		       (js == STG_JOB_QUEUED && before.error_class == STG_ERRCLASS_AUTH)
		       ? STG_OBSERVED_PENDING : STG_OBSERVED_NOT_CATALOGUED;
	else if (js != STG_JOB_NONE)
		want = STG_OBSERVED_PENDING;
	else if (o.quantity == m->mk.published || (m->mk.has_ack && o.quantity == m->mk.acked))
		want = STG_OBSERVED_IN_SYNC;
	else
		want = STG_OBSERVED_CORRECTED;
	W.oos_want = valid && ex && !(W.host_open && W.txn_store) &&
	             (want == STG_OBSERVED_CORRECTED || want == STG_OBSERVED_NOT_CATALOGUED);
	W.oos_i = i;
	W.oos_s = k;
	W.oos_observed = (o.flags & STG_OBSERVE_MISSING) ? 0 : o.quantity;
	rc = stg_log_observe(W.log, (d & 7) == 2 ? NULL : &o, (d & 7) == 6 ? NULL : &out);
	TRACE("  observe (%s, %s) quantity %" PRId64 " at %" PRId64 " flags %x: %d outcome %d, model %d",
	      o.integration, o.sku, o.quantity, o.observed_at, o.flags, rc, out, want);
	rc_in("stg_log_observe", rc, allowed);
	if (rc != STG_OK) {
		/* marketplace.h: bad input, an unknown SKU, a failed write: nothing changes */
		W.oos_want = 0;
		FUZZ_CHECK(W.got_oos == got_oos, "stg_log_observe failed (%d) but told out_of_sync", rc);
		check_unchanged("stg_log_observe", i, k, ex0, &before);
		return;
	}
	FUZZ_CHECK((d & 7) == 6 || out == want, "observe (%s, %s) quantity %" PRId64 " at %" PRId64
	           " flags %x (job state %d, published %" PRId64 ", acknowledged %" PRId64 " at %" PRId64
	           "): outcome %d, the model says %d", INTEG[i], SKU[k], o.quantity, o.observed_at,
	           o.flags, js, m->mk.published, m->mk.acked, acked_at, out, want);
	if (want != STG_OBSERVED_CORRECTED && want != STG_OBSERVED_NOT_CATALOGUED) {
		check_unchanged("stg_log_observe (nothing to do)", i, k, 1, &before);
		FUZZ_CHECK(W.got_oos == got_oos, "observe: outcome %d, but out_of_sync told", want);
		return;
	}
	/* A correction: counted, told (held in the host's transaction), written through. */
	W.corrections++;
	if (W.host_open && W.txn_store)
		W.oos_pending++;
	else
		W.exp_oos++;
	FUZZ_CHECK(!W.oos_want, "observe corrected (%s, %s) but told no out_of_sync event", INTEG[i],
	           SKU[k]);
	get_entry(i, k, &after);
	FUZZ_CHECK(after.status == STG_ENTRY_PENDING && after.reason == STG_REASON_OUT_OF_SYNC &&
	           after.published == before.published && after.available == before.available &&
	           (fresh ? after.job_id != before.job_id : after.job_id == before.job_id),
	           "observe (%s, %s) outcome %d: status %d reason %s published %" PRId64 "/%" PRId64
	           " job %" PRIu64 " (was %" PRIu64 ", fresh %d)", INTEG[i], SKU[k], want, after.status,
	           stg_reason_name(after.reason), after.published, before.published, after.job_id,
	           before.job_id, fresh);
	if (want == STG_OBSERVED_CORRECTED)
		FUZZ_CHECK(after.job_state == STG_JOB_QUEUED && after.next_attempt_at == now,
		           "observe corrected (%s, %s): job state %d due %" PRId64 ", now %" PRId64,
		           INTEG[i], SKU[k], after.job_state, after.next_attempt_at, now);
	else
		FUZZ_CHECK(after.job_state == STG_JOB_HELD &&
		           after.error_class == STG_ERRCLASS_NOT_CATALOGUED &&
		           after.next_attempt_at == (now > INT64_MAX - W.catalogue_retry ? INT64_MAX
		                                     : now + W.catalogue_retry),
		           "observe missing (%s, %s): job state %d class %s due %" PRId64 ", expected held "
		           "until %" PRId64, INTEG[i], SKU[k], after.job_state,
		           stg_error_class_name(after.error_class), after.next_attempt_at,
		           now + W.catalogue_retry);
}

/* ------------------------------------------------------------ message rules */

/* Rule texts: the merchant documents' words, other spellings, and the limits. */
static char text_256[STG_RULE_TEXT_MAX + 1], text_257[STG_RULE_TEXT_MAX + 2];
static const char *const RULE_TEXT[16] = {
	NULL, "catalogado", "n\xc3\xa3o foi catalogado", "NOT FOUND", "Produto", "x-version",
	"slow down", "invalid", "UNAUTHORIZED", "" /* refused */, text_257 /* refused */,
	text_256, "connection", "{\"status\"", "retry later", "does not exist"
};
static const int RANGE[8][2] = { { 0, 999 }, { 400, 499 }, { 409, 409 }, { 404, 404 },
                                 { 500, 599 }, { 400, 400 }, { -1, 500 } /* refused */,
                                 { 500, 400 } /* refused */ };
static stg_message_rule too_many[STG_RULES_MAX + 1];

/*
 * stg_log_set_rules() (marketplace.h). a: bits 0-1 the integration (3: an
 * empty name), bits 2-3 how many rules of the host's (two bytes each
 * below), bit 4 STG_RULES_KEEP_DEFAULTS, bit 5 the library's built-in
 * rules (stg_message_rules_default()) given as the host's too, bit 6 those
 * after the host's rules instead of before; f: 5 an unknown flag, 6 NULL
 * rules, 7 one rule more than STG_RULES_MAX; rule bytes r0: bits 0-2 the
 * class (0 and 7 unknown), bit 3 prefix match, bits 4-6 the status range,
 * r1: bits 0-3 the text, bits 4-5 2: version 0, 3: an unknown match, bit 6
 * a status of 1000.
 */
static void do_set_rules(struct cur *c)
{
	unsigned a = u8(c), f = u8(c) % 8, flags = 0;
	int i = (int)(a & 3), rc, j;
	size_t nh = (a >> 2) & 3, n = 0, nd = 0;
	stg_message_rule host[3], rules[SM_RULES_MAX];
	const stg_message_rule *def = NULL, *arg;
	unsigned allowed = 0;

	if (!text_256[0]) {
		memset(text_256, 'm', STG_RULE_TEXT_MAX);
		memset(text_257, 'm', STG_RULE_TEXT_MAX + 1);
		for (j = 0; j <= STG_RULES_MAX; j++)
			stg_message_rule_init(&too_many[j], STG_MESSAGE_RULE_VERSION);
	}
	for (j = 0; j < (int)nh; j++) {
		unsigned r0 = u8(c), r1 = u8(c);
		stg_message_rule *r = &host[j];
		FUZZ_CHECK(stg_message_rule_init(r, STG_MESSAGE_RULE_VERSION) == STG_OK, "rule init");
		r->error_class = (int)(r0 & 7);
		r->match = (r0 & 8) ? STG_MATCH_PREFIX : STG_MATCH_CONTAINS;
		r->http_min = RANGE[(r0 >> 4) & 7][0];
		r->http_max = RANGE[(r0 >> 4) & 7][1];
		r->text = RULE_TEXT[r1 & 15];
		if (((r1 >> 4) & 3) == 2)
			r->version = 0;
		else if (((r1 >> 4) & 3) == 3)
			r->match = 5;
		if (r1 & 0x40)
			r->http_max = 1000;
	}
	if (a & 0x20)
		FUZZ_CHECK(stg_message_rules_default(&def, &nd) == STG_OK && nd + 3 <= SM_RULES_MAX,
		           "the built-in rules: %zu", nd);
	/* The rules in order: the built-in ones before (or after, bit 6) the host's. */
	if (def && !(a & 0x40))
		for (j = 0; j < (int)nd; j++)
			rules[n++] = def[j];
	for (j = 0; j < (int)nh; j++)
		rules[n++] = host[j];
	if (def && (a & 0x40))
		for (j = 0; j < (int)nd; j++)
			rules[n++] = def[j];
	if (a & 0x10)
		flags |= STG_RULES_KEEP_DEFAULTS;
	arg = rules;
	if (f == 5) {
		flags |= 0x2u;
		allowed |= B(STG_EINVAL);
	} else if (f == 6 && n) {
		arg = NULL;
		allowed |= B(STG_EINVAL);
	} else if (f == 7) {
		arg = too_many;
		n = STG_RULES_MAX + 1;
		allowed |= B(STG_ERANGE);
	}
	if (i == 3)
		allowed |= B(STG_EINVAL);
	if (arg == rules)
		for (j = 0; j < (int)n; j++) {
			int why = sm_rule_check(&rules[j]);
			if (why)
				allowed |= B(why);
		}
	if (W.alloc_armed)
		allowed |= B(STG_ENOMEM);
	if (!(allowed & ~B(STG_ENOMEM)))
		allowed |= OKB;
	rc = stg_log_set_rules(W.log, i == 3 ? "" : INTEG[i], arg, n, flags);
	TRACE("  set_rules(%s, %zu, flags %x): %d %s", i == 3 ? "\"\"" : INTEG[i], n, flags, rc,
	      rc ? stg_log_errmsg(W.log) : "");
	rc_in("stg_log_set_rules", rc, allowed);
	if (rc == STG_OK) {
		sm_rules_set(&W.in[i].rules, rules, n, flags);
		W.in[i].known = 1;
	} else {
		FUZZ_CHECK(stg_log_errmsg(W.log)[0], "stg_log_set_rules refused them without a message");
	}
	/* Refused: the integration keeps the rules it had; else the new ones apply. */
	check_classify(i == 3 ? 0 : i);
}

static void do_set_policy(struct cur *c)
{
	static const int allocs[4] = { 100, 50, 33, 1 };
	unsigned a = u8(c), b = u8(c), d = u8(c), e = u8(c);
	int i = (int)(a % NI), rc;
	stg_policy *p = NULL;
	struct minteg want = W.in[i];

	want.pol.min = (int64_t)(b % 21);
	want.pol.mode = (a >> 2) & 1 ? STG_MODE_RESERVE : STG_MODE_CUTOFF;
	want.pol.alloc = allocs[(a >> 3) & 3];
	want.pol.cap = (d & 0x80) ? (int64_t)(d % 31) : 0;
	want.pol.window = (int64_t)((b >> 5) * 3);
	want.pol.has_sku_min = (e & 1) != 0;
	want.pol.sku_min = (int64_t)((e >> 1) & 7) * 3;
	want.pol.has_cat_min = (e & 0x10) != 0;
	want.pol.cat_min = (int64_t)(e >> 5) * 4;
	if (stg_policy_new(&p, &W.alloc) != STG_OK)
		return; /* an allocation fault hit the host's own call */
	if ((want.pol.has_sku_min && stg_policy_set_sku_min(p, SKU[0], want.pol.sku_min) != STG_OK) ||
	    (want.pol.has_cat_min && stg_policy_set_category_min(p, "c", want.pol.cat_min) != STG_OK)) {
		stg_policy_free(p); /* out of memory in the host's own call */
		return;
	}
	FUZZ_CHECK(stg_policy_set_min_stock(p, want.pol.min) == STG_OK &&
	           stg_policy_set_mode(p, want.pol.mode) == STG_OK &&
	           stg_policy_set_allocation(p, want.pol.alloc) == STG_OK &&
	           stg_policy_set_cap(p, want.pol.cap) == STG_OK &&
	           stg_policy_set_window(p, want.pol.window) == STG_OK, "policy setters failed");
	if (a & 0x80) {
		rc = stg_log_set_policy(W.log, (a & 0x40) ? "" : INTEG[i], (a & 0x40) ? p : NULL);
		rc_in("stg_log_set_policy", rc, B(STG_EINVAL));
	} else {
		rc = stg_log_set_policy(W.log, INTEG[i], p);
		rc_in("stg_log_set_policy", rc, OKB | B(STG_EINVAL) | B(STG_ENOMEM) | B(STG_ERECURSIVE));
		FUZZ_CHECK(rc != STG_EINVAL, "set_policy refused a valid policy");
		if (rc == STG_OK) {
			W.in[i] = want;
			W.in[i].known = 1;
		}
	}
	stg_policy_free(p);
}

static void do_set_limits(struct cur *c)
{
	static const int64_t per[4] = { 0, 1, 1000, 86400001 };
	static const uint32_t batches[8] = { 0, 1, 2, 3, 4, 100, 10000, 10001 };
	unsigned a = u8(c), b = u8(c);
	int i = (int)(a % NI), rc;
	uint32_t batch = batches[(a >> 2) & 7], max_jobs = b % 3;
	int64_t per_ms = per[(b >> 2) & 3];
	int bad = batch < 1 || (max_jobs == 0) != (per_ms == 0) || per_ms > 86400000;

	bad |= batch > 10000;
	rc = stg_log_set_limits(W.log, INTEG[i], batch, max_jobs, per_ms);
	rc_in("stg_log_set_limits", rc, OKB | B(STG_EINVAL) | B(STG_ERANGE) | B(STG_ENOMEM) |
	      B(STG_ERECURSIVE));
	FUZZ_CHECK(bad == (rc == STG_ERANGE), "set_limits(%u, %u, %" PRId64 "): %d", batch,
	           max_jobs, per_ms, rc);
	if (rc == STG_OK) {
		W.in[i].limited = max_jobs != 0 || W.in[i].announced;
		W.in[i].known = 1;
	}
}

static void do_set_transport(struct cur *c)
{
	unsigned a = u8(c);
	stg_transport t = STG_TRANSPORT_INIT;
	int rc;

	t.send = fz_send;
	t.send_batch = (a & 1) ? fz_send_batch : NULL;
	if (a & 2)
		t.send = NULL;
	else if (a & 4)
		t.version = 9;
	rc = stg_log_set_transport(W.log, &t);
	rc_in("stg_log_set_transport", rc, OKB | B(STG_EINVAL) | B(STG_EVERSION) | B(STG_ERECURSIVE));
	if (a & 2) {
		FUZZ_CHECK(rc == STG_EINVAL, "set_transport without send: %d", rc);
	} else if (a & 4) {
		FUZZ_CHECK(rc == STG_EVERSION, "set_transport with version 9: %d", rc);
	} else {
		FUZZ_CHECK(rc == STG_OK, "set_transport: %d", rc);
		W.have_transport = 1;
		W.use_batch = (a & 1) != 0;
		/* A reopen gives the log the same transport. */
		W.transport.send_batch = t.send_batch;
		W.opt.transport = &W.transport;
	}
}

static void do_clock(struct cur *c)
{
	static const int64_t step[16] = { 0, 1, 7, 100, 999, 1000, 4000, 60000, 3600000, 3600001,
	                                  21600000, 21600001, 86400000, 2, 500, 30000 };
	unsigned a = u8(c);

	if ((a & 0xe0) == 0xe0) {
		W.neg_clock = !W.neg_clock;
		W.clock_back = 1;
		return;
	}
	if (a & 0x80) {
		W.now -= step[a & 15];
		if (step[a & 15])
			W.clock_back = 1;
	} else {
		W.now += step[a & 15];
	}
}

static void do_bad_args(struct cur *c)
{
	unsigned a = u8(c);
	stg_entry e;
	stg_counts cn;
	stg_stats st;
	stg_query q = STG_QUERY_INIT;
	uint64_t cursor = 0;
	size_t n = 0;
	int64_t w;
	int p, rc;
	static char longkey[STG_KEY_MAX + 2];

	memset(longkey, 'k', sizeof longkey - 1);
	switch (a % 16) {
	case 10: case 11: case 12: case 15: {
		/* stg_log_open refuses bad options and leaves *out alone. */
		stg_log_options o = W.opt;
		stg_storage st2 = W.storage;
		stg_transport tr = W.transport;
		stg_allocator al = W.alloc;
		stg_log *l = (stg_log *)&W;
		unsigned want = B(STG_EINVAL);
		switch ((a % 16 == 15) ? 8 : (a >> 4) % 8) {
		case 0: o.version = 0; want = B(STG_EVERSION); break;
		case 1: o.latency_limit_ms = -1; break;
		case 2: o.backoff_max_ms = -5; break;
		case 3: st2.write = NULL; o.storage = &st2; break;
		case 4: st2.remove = NULL; o.storage = &st2; break;
		case 5: tr.send = NULL; o.transport = &tr; break;
		case 6: al.version = 7; o.allocator = &al; want = B(STG_EVERSION); break;
		case 7: al.free_fn = NULL; o.allocator = &al; break;
		default: break;
		}
		rc = stg_log_open(a % 16 == 15 ? NULL : &l, &o);
		rc_in("stg_log_open", rc, want | (W.alloc_armed ? B(STG_ENOMEM) : 0u));
		FUZZ_CHECK(l == (stg_log *)&W, "stg_log_open wrote *out on failure");
		break;
	}
	case 13: {
		size_t done = 7;
		rc = stg_log_submit(W.log, NULL, NULL);
		rc_in("stg_log_submit", rc, B(STG_EINVAL));
		rc = stg_log_submit_batch(W.log, NULL, 2, NULL, &done);
		rc_in("stg_log_submit_batch", rc, B(STG_EINVAL));
		FUZZ_CHECK(done == 0, "batch of NULL changes says %zu done", done);
		break;
	}
	case 14:
		rc = stg_log_complete(W.log, 1, NULL);
		rc_in("stg_log_complete", rc, W.host_open ? B(STG_ESTATE) : B(STG_EINVAL));
		rc = stg_log_remove(W.log, "", SKU[0], 0);
		rc_in("stg_log_remove", rc, B(STG_EINVAL));
		rc = stg_log_remove_matching(W.log, NULL, 0x8u, &n);
		rc_in("stg_log_remove_matching", rc, B(STG_EINVAL));
		rc = stg_log_reprocess(W.log, INTEG[0], NULL);
		rc_in("stg_log_reprocess", rc, B(STG_EINVAL));
		rc = stg_log_set_catalogued(W.log, NULL, SKU[0]);
		rc_in("stg_log_set_catalogued", rc, B(STG_EINVAL));
		rc = stg_log_resume(W.log, longkey);
		rc_in("stg_log_resume", rc, W.host_open ? B(STG_ESTATE) : B(STG_EINVAL));
		break;
	case 0:
		rc = stg_log_get(W.log, INTEG[0], longkey, &e);
		rc_in("stg_log_get", rc, B(STG_EINVAL));
		break;
	case 1:
		rc = stg_log_get(W.log, INTEG[0], SKU[0], NULL);
		rc_in("stg_log_get", rc, B(STG_EINVAL));
		break;
	case 2:
		rc = stg_log_counts(W.log, "", &cn);
		rc_in("stg_log_counts", rc, B(STG_EINVAL));
		break;
	case 3:
		rc = stg_log_stats(W.log, "nope", &st);
		rc_in("stg_log_stats", rc, B(STG_ENOTFOUND));
		break;
	case 4:
		q.status = 5;
		rc = stg_log_query(W.log, &q, &cursor, &e, 1, &n);
		rc_in("stg_log_query", rc, B(STG_EINVAL));
		break;
	case 5:
		q.version = 0;
		rc = stg_log_query(W.log, &q, &cursor, &e, 1, &n);
		rc_in("stg_log_query", rc, B(STG_EVERSION));
		break;
	case 6:
		rc = stg_log_next_due(W.log, NULL);
		rc_in("stg_log_next_due", rc, B(STG_EINVAL));
		break;
	case 7:
		rc = stg_log_is_paused(W.log, NULL, &p);
		rc_in("stg_log_is_paused", rc, B(STG_EINVAL));
		break;
	case 8:
		rc = stg_log_remove(W.log, INTEG[0], SKU[0], 0x8u);
		rc_in("stg_log_remove", rc, B(STG_EINVAL));
		break;
	default:
		rc = stg_log_next_due(NULL, &w);
		rc_in("stg_log_next_due", rc, B(STG_EINVAL));
		rc = stg_log_stats(W.log, INTEG[a % NI], &st);
		rc_in("stg_log_stats", rc, OKB | B(STG_ENOTFOUND) | (W.alloc_armed ? B(STG_ENOMEM) : 0u));
		break;
	}
}

static void do_query(struct cur *c)
{
	stg_query q;
	stg_entry page[3], all[NI][NS];
	int ex[NI][NS], seen[NI][NS], i, k, rc;
	uint64_t cursor = 0;
	size_t n, cap = 1 + u8(c) % 3;

	make_query(c, &q);
	snapshot(all, ex);
	memset(seen, 0, sizeof seen);
	for (;;) {
		rc = stg_log_query(W.log, &q, &cursor, page, cap, &n);
		rc_in("stg_log_query", rc, OKB);
		if (!n)
			break;
		while (n--) {
			FUZZ_CHECK(key_of(page[n].integration, page[n].sku, &i, &k), "query: unknown key");
			FUZZ_CHECK(!seen[i][k], "query returned (%s, %s) twice", INTEG[i], SKU[k]);
			seen[i][k] = 1;
		}
	}
	for (i = 0; i < NI; i++)
		for (k = 0; k < NS; k++)
			FUZZ_CHECK(seen[i][k] == (ex[i][k] && matches(&q, i, k, &all[i][k])),
			           "query: (%s, %s) %s", INTEG[i], SKU[k],
			           seen[i][k] ? "returned but does not match" : "matches but was not returned");
}

/* ---------------------------------------------------------- transactions */

/* What a failed host commit undoes in the model (keys, the jobs in flight
 * of removed entries, the submit counters): kept at the begin (@back 0),
 * put back (1). Policies, limits and known integrations stay (log.h). */
static void model_at_begin(int back)
{
	struct {
		void *now, *then;
		size_t n;
	} part[] = {
		{ W.k, W.k_begin, sizeof W.k },
		{ W.stale_ids, W.stale_ids_begin, sizeof W.stale_ids },
		{ &W.nstale, &W.nstale_begin, sizeof W.nstale },
		{ &W.changes, &W.changes_begin, sizeof W.changes },
		{ &W.exports, &W.exports_begin, sizeof W.exports },
		{ &W.coalesced, &W.coalesced_begin, sizeof W.coalesced },
		{ &W.stale, &W.stale_begin, sizeof W.stale },
		{ &W.skips, &W.skips_begin, sizeof W.skips },
		/* log.h: "the stats counters as they were" */
		{ &W.corrections, &W.corrections_begin, sizeof W.corrections },
	};
	size_t j;

	for (j = 0; j < sizeof part / sizeof *part; j++)
		memcpy(back ? part[j].now : part[j].then, back ? part[j].then : part[j].now, part[j].n);
}

static void do_begin(void)
{
	int rc = stg_log_begin(W.log);

	rc_in("stg_log_begin", rc, W.host_open ? B(STG_ESTATE) : OKB);
	if (W.host_open)
		return; /* log.h: "one is open already" */
	/* Owed writes go first, in a transaction of their own: none stays open. */
	FUZZ_CHECK(!W.st_open && !W.st_dead, "begin left a storage transaction open");
	W.host_open = 1;
	W.owed_at_begin = W.maybe_owed || W.hook_failed;
	W.host_began = 0;
	model_at_begin(0);
	W.min_pending = W.min_early = 0;
	W.oos_pending = W.oos_early = 0;
}

/* Commit the host's transaction; a: bit 0 its storage commit fails, bit 1
 * the rollback after it too. */
static void do_commit(struct cur *c)
{
	unsigned a = u8(c), cf = W.commit_fail, rf = W.rollback_fail;
	int rc, was = W.host_open;

	if (a & 1)
		W.commit_fail |= 1u;
	if (a & 2)
		W.rollback_fail |= 1u;
	W.host_open = 0; /* the events it held come during the call */
	W.releasing = 1;
	rc = stg_log_commit(W.log);
	W.releasing = 0;
	TRACE("  commit: %d (storage commit %d)", rc, W.call_first_commit);
	/* Bits the call did not use are not left for another call. */
	if (!W.call_commits)
		W.commit_fail = cf;
	if (!W.call_rollbacks)
		W.rollback_fail = rf;
	if (!was) {
		rc_in("stg_log_commit", rc, B(STG_ESTATE));
		return;
	}
	/* When storage heard its begin, the first storage commit of the call is
	 * the transaction's; owed writes come after, and their failure is not
	 * the commit's. */
	if (W.host_began && W.call_first_commit == 2) {
		/* log.h: undone as a whole, memory as at the begin; events dropped */
		rc_in("stg_log_commit", rc, B(STG_ESTORAGE) | B(STG_ENOMEM));
		model_at_begin(1);
		W.exp_min += W.min_early;
		W.exp_oos += W.oos_early;
		if (skip_corrundo) {
			/* STG_FUZZ_SKIP=corrundo: take the log's count (see README, Findings) */
			stg_stats st;
			if (stg_log_stats(W.log, NULL, &st) == STG_OK)
				W.corrections = st.corrections;
		}
	} else {
		/* Nothing written (no storage commit), or committed: every change holds. */
		rc_in("stg_log_commit", rc, OKB);
		FUZZ_CHECK(W.txn_store || !W.call_commits, "a store without transactions was committed");
		FUZZ_CHECK(!W.host_began || W.call_first_commit == 1, "the transaction was not committed");
		W.exp_min += W.min_pending;
		W.exp_oos += W.oos_pending;
	}
	W.min_pending = W.min_early = 0;
	W.oos_pending = W.oos_early = 0;
	/* Memory and storage agree, committed or undone (unless something was
	 * owed from before, or storage is in doubt). */
	if (!W.owed_at_begin && rc != STG_ENOMEM)
		check_store_is_memory(rc ? "after a failed commit" : "after a commit");
	if (rc == STG_ENOMEM) {
		/* log.h: entries that could not be put back are missing from memory
		 * "until the log is reopened" (storage has them). */
		W.in_call = 0;
		close_log();
		open_log();
	}
}

/* Storage transaction faults: a bits 0-1 the next begins fail, 2-3 the next
 * commits, 4-5 the next rollbacks; bit 6 a failing commit or rollback leaves
 * the changes in storage (in doubt); bit 7 every commit fails until re-armed. */
static void do_fault_txn(struct cur *c)
{
	unsigned a = u8(c);

	W.begin_fail = a & 3u;
	W.commit_fail = (a & 0x80) ? ~0u : (a >> 2) & 3u;
	W.rollback_fail = (a >> 4) & 3u;
	W.doubt = (a >> 6) & 1;
}

/* ------------------------------------------------------------------ setup */

static void setup(struct cur *c)
{
	static const int64_t lat[4] = { 0, 1000, 60000, 3600000 };
	static const int64_t base[4] = { 0, 10, 1000, 50 };
	static const int64_t maxb[4] = { 0, 100, 5000, 20 };
	static const int64_t cat[4] = { 0, 500, 100000, 21600000 };
	static const int64_t age[4] = { 0, 1000, 100000, 0 };
	static const uint64_t cnt[4] = { 0, 1, 2, 5 };
	unsigned a = u8(c), b = u8(c), d = u8(c), e = u8(c);
	const char *env;

	if (skip_idreuse < 0) {
		env = getenv("STG_FUZZ_SKIP");
		skip_idreuse = env && strstr(env, "idreuse") != NULL;
		skip_heldfail = env && strstr(env, "heldfail") != NULL;
		skip_corrundo = env && strstr(env, "corrundo") != NULL;
		trace = getenv("STG_FUZZ_TRACE") != NULL;
		memset(long_msg, 'm', sizeof long_msg - 1);
		memset(long_notfound, 'm', sizeof long_notfound - 1);
		memcpy(long_notfound + sizeof long_notfound - 19, " product not found", 18);
	}
	memset(&W, 0, sizeof W);
	W.now = T0;
	W.use_storage = (a & 1) == 0;
	W.have_transport = (a & 2) == 0;
	W.use_batch = (a & 4) != 0;
	W.use_events = 1;
	W.probe = (a & 8) != 0;
	W.page = 1 + (int)((a >> 4) % 5);

	stg_log_options_init(&W.opt, STG_LOG_OPTIONS_VERSION);
	stg_allocator_init(&W.alloc, STG_ALLOCATOR_VERSION);
	W.alloc.malloc_fn = fz_malloc;
	W.alloc.realloc_fn = fz_realloc;
	W.alloc.free_fn = fz_free;
	stg_storage_init(&W.storage, STG_STORAGE_VERSION);
	W.storage.load = fz_load;
	W.storage.write = fz_write;
	W.storage.remove = fz_remove;
	stg_transport_init(&W.transport, STG_TRANSPORT_VERSION);
	W.transport.send = fz_send;
	W.transport.send_batch = W.use_batch ? fz_send_batch : NULL;
	stg_clock_init(&W.clock, STG_CLOCK_VERSION);
	W.clock.now_ms = fz_now;
	stg_events_init(&W.events, STG_EVENTS_VERSION);
	W.events.on_event = fz_event;

	W.opt.allocator = &W.alloc;
	W.opt.storage = W.use_storage ? &W.storage : NULL;
	W.opt.transport = W.have_transport ? &W.transport : NULL;
	W.opt.clock = &W.clock;
	W.opt.events = &W.events;
	W.opt.latency_limit_ms = lat[b & 3];
	W.opt.backoff_base_ms = base[(b >> 2) & 3];
	W.opt.backoff_max_ms = maxb[(b >> 4) & 3];
	W.opt.catalogue_retry_ms = cat[(b >> 6) & 3];
	W.opt.success_max_age_ms = age[d & 3];
	W.opt.success_max_count = cnt[(d >> 2) & 3];
	/* d bit 6: a transactional store (version 2); bit 7: SQLite-like */
	W.txn_store = W.use_storage && (d & 0x40) != 0;
	W.sqlite_like = W.txn_store && (d & 0x80) != 0;
	if (W.txn_store) {
		W.storage.begin = fz_begin;
		W.storage.commit = fz_commit;
		W.storage.rollback = fz_rollback;
	} else if (d & 0x80) {
		/* hooks.h: a version-1 struct (no transaction fields) works as before */
		stg_storage_init(&W.storage, 1);
		W.storage.load = fz_load;
		W.storage.write = fz_write;
		W.storage.remove = fz_remove;
	}
	W.opt.max_transient_attempts = (d >> 4) & 3;
	W.opt.jitter_seed = e;
	W.latency_limit = W.opt.latency_limit_ms ? W.opt.latency_limit_ms : 3600000;
	/* log.h options: the longest retry delay (never below the first), the slow retry */
	W.backoff_max = W.opt.backoff_max_ms ? W.opt.backoff_max_ms : 15 * 60000;
	if (W.backoff_max < (W.opt.backoff_base_ms ? W.opt.backoff_base_ms : 1000))
		W.backoff_max = W.opt.backoff_base_ms ? W.opt.backoff_base_ms : 1000;
	W.catalogue_retry = W.opt.catalogue_retry_ms ? W.opt.catalogue_retry_ms : 6 * 3600000;
	W.max_age = W.opt.success_max_age_ms;
	W.max_count = W.opt.success_max_count;
	open_log();
}

static void teardown(void)
{
	close_log();
	recs_free(W.store);
	recs_free(W.saved);
}

enum {
	OP_SUBMIT, OP_SUBMIT2, OP_SUBMIT3, OP_BATCH, OP_PUMP, OP_PUMP2, OP_COMPLETE, OP_CLOCK,
	OP_PAUSE, OP_RESUME, OP_CATALOGUED, OP_REPROCESS, OP_REPROCESS_MATCHING, OP_REMOVE,
	OP_REMOVE_MATCHING, OP_EXPIRE, OP_QUERY, OP_FLUSH, OP_REOPEN, OP_FAULT_STORAGE,
	OP_FAULT_ALLOC, OP_POLICY, OP_LIMITS, OP_TRANSPORT, OP_BAD_ARGS, OP_COUNT,
	/* Opcode bytes from OP_TXN_FIRST on: the host's transaction and storage
	 * transaction faults, each twice. Below it a byte is an opcode modulo
	 * OP_COUNT as before: an input found before them keeps its meaning up to
	 * its first opcode byte of 250-255 (about half of them have one). */
	OP_TXN_FIRST = 250, OP_BEGIN = OP_TXN_FIRST, OP_COMMIT, OP_FAULT_TXN,
	/* Opcode bytes 244-249 (1.1, marketplace.h): 244-247 an observation,
	 * 248-249 message rules. Below 244 a byte is still an opcode modulo
	 * OP_COUNT: an input found before keeps its meaning up to its first
	 * opcode byte of 244-249. */
	OP_MARKET_FIRST = 244, OP_OBSERVE = OP_MARKET_FIRST, OP_RULES = OP_MARKET_FIRST + 4
};

static unsigned decode_op(unsigned byte)
{
	if (byte >= OP_TXN_FIRST)
		return OP_BEGIN + (byte - OP_TXN_FIRST) % 3;
	if (byte >= OP_MARKET_FIRST)
		return byte < OP_RULES ? OP_OBSERVE : OP_RULES;
	return byte % OP_COUNT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cur c;
	int steps = 0;

	c.p = data;
	c.n = size;
	c.i = 0;
	setup(&c);
	check_all(1);
	while (c.i < c.n && steps++ < MAX_ACTIONS) {
		unsigned op = decode_op(u8(&c)), a;

		TRACE("step %d: op %u at byte %zu (now %" PRId64 ")", steps, op, c.i - 1, eff_now());

		if (op == OP_FAULT_ALLOC) {
			/* Fail allocations of the next action: from the a-th on, b of them. */
			a = u8(&c);
			W.alloc_armed = 1;
			W.fail_from = W.allocs + (a & 31);
			W.fail_to = W.fail_from + ((a >> 5) == 7 ? 1000000 : 1 + (a >> 5));
			continue;
		}
		W.in_call = 1;
		W.hook_failed = 0;
		W.call_commits = W.call_first_commit = W.call_last_commit = W.call_rollbacks = 0;
		switch (op) {
		case OP_SUBMIT: case OP_SUBMIT2: case OP_SUBMIT3: do_submit(&c); break;
		case OP_BATCH: do_submit_batch(&c); break;
		case OP_PUMP: case OP_PUMP2: do_pump(&c); break;
		case OP_COMPLETE: do_complete(&c); break;
		case OP_CLOCK: do_clock(&c); break;
		case OP_PAUSE: do_pause(&c); break;
		case OP_RESUME: do_resume(&c); break;
		case OP_CATALOGUED: do_catalogued(&c); break;
		case OP_REPROCESS: do_reprocess(&c); break;
		case OP_REPROCESS_MATCHING: do_reprocess_matching(&c); break;
		case OP_REMOVE: do_remove(&c); break;
		case OP_REMOVE_MATCHING: do_remove_matching(&c); break;
		case OP_EXPIRE: do_expire(); break;
		case OP_QUERY: do_query(&c); break;
		case OP_FLUSH: do_flush(); break;
		case OP_REOPEN: W.in_call = 0; do_reopen(&c); break;
		case OP_FAULT_STORAGE:
			a = u8(&c);
			W.write_fail = a & 0x3f;
			W.remove_fail = a >> 6;
			break;
		case OP_POLICY: do_set_policy(&c); break;
		case OP_LIMITS: do_set_limits(&c); break;
		case OP_TRANSPORT: do_set_transport(&c); break;
		case OP_BEGIN: do_begin(); break;
		case OP_COMMIT: do_commit(&c); break;
		case OP_FAULT_TXN: do_fault_txn(&c); break;
		case OP_OBSERVE: do_observe(&c); break;
		case OP_RULES: do_set_rules(&c); break;
		default: do_bad_args(&c); break;
		}
		W.in_call = 0;
		/* Only a failing hook (or a failing allocation) can leave writes owed. */
		if (W.hook_failed || W.alloc_armed)
			W.maybe_owed = 1;
		else if (!W.maybe_owed && !W.host_open)
			check_store_is_memory("no storage failure since the last flush");
		W.alloc_armed = 0;
		/* The counters are cumulative: every fourth step is enough to see a slip. */
		check_all((steps & 3) == 0 || op == OP_REOPEN);
	}
	/* Storage recovers: the log catches up and storage equals memory. */
	W.write_fail = W.remove_fail = 0;
	W.begin_fail = W.commit_fail = W.rollback_fail = 0;
	W.hook_failed = 0;
	W.alloc_armed = 0;
	if (W.host_open) {
		static const uint8_t no_fault[1] = { 0 };
		struct cur nc = { no_fault, 1, 0 };
		W.call_commits = W.call_first_commit = W.call_last_commit = W.call_rollbacks = 0;
		do_commit(&nc); /* fails still when a SQLite-like store ended it */
		check_all(1);
		W.hook_failed = 0;
	}
	do_flush();
	check_all(1);
	teardown();
	return 0;
}
