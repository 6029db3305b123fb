/*
 * The log's in-memory state (struct stg_log), the guard of its public entry
 * points, and the accessors that reach a record through the log. The files
 * of the log, each by concern:
 *
 *   open.c       open, load, close          host.c       every call of a hook
 *   integ.c      integrations, limits       durable.c    write-through, owed writes
 *   submit.c     submit, submit_batch       results.c    what each error class does
 *   pump.c       pump, complete, next_due   actions.c    reprocess, remove, pause
 *   retention.c  expire                     lifecycle.c  job end, entry delete, trim
 *   query.c      reads and stats            counters.c   counters, latency histogram
 *   ratelimit.c  the adaptive token bucket  cooldown.c   rate-limit scopes, cool-downs
 *   txn.c        transactions               undo.c       undoing a failed one
 *
 * and the record stores below them: entries.c, index.c, jobs.c, problems.c,
 * sched.c. Never installed.
 */
#ifndef STOCKGUARD_LOG_STATE_H
#define STOCKGUARD_LOG_STATE_H

#include "records.h"
#include "policy_internal.h"
#include "strmap.h"

typedef struct stg__integ stg__integ;
typedef struct stg__scope stg__scope;
typedef struct stg__undo stg__undo;
typedef struct stg__held_event stg__held_event;
typedef struct stg__saved_counters stg__saved_counters;

/* Kinds of transaction (txn.c). */
enum stg__txn_kind {
	STG__TXN_NONE = 0,
	STG__TXN_OWED, /* marketplace results and owed writes: kept in memory on failure */
	STG__TXN_UNDO  /* host-originated changes: undone in memory on failure */
};

/*
 * The open transaction, if any (txn.c). `kind` is set by the call (or the
 * host's stg_log_begin()) that opened it; storage hears `begin` only at
 * the first write. What a failed commit needs is kept as the writes go:
 * the entries an OWED transaction wrote (to owe them again), or for an
 * UNDO one each touched entry's records as they were before (undo.c), the
 * counters of the integrations it counted in, and its events, held until
 * the commit.
 */
typedef struct stg__txn {
	int kind, host, begun;
	uint32_t *written;           /* OWED: entries written */
	uint32_t nwritten, written_cap;
	stg__undo *undo;             /* UNDO: records as they were */
	uint32_t nundo, undo_cap;
	stg__saved_counters *saved;  /* UNDO: counters as they were */
	uint32_t nsaved, saved_cap;
	stg__held_event *events;     /* UNDO: delivered after the commit */
	uint32_t nevents, events_cap;
} stg__txn;

struct stg_log {
	stg__alloc alloc;
	stg_storage storage;
	stg_transport transport;
	stg_clock clock;
	stg_events events;
	int has_storage, has_transport;
	int64_t latency_limit, backoff_base, backoff_max, catalogue_retry, success_max_age;
	uint64_t success_max_count;
	uint32_t max_transient;
	uint64_t rng;

	stg_policy *default_policy;
	stg__integ *integs;
	uint32_t ninteg, integ_cap, last_integ;
	stg__strmap integ_names;  /* name -> index, once there are more than a few */
	stg__scope *scopes;       /* named rate-limit scopes (cooldown.c) */
	uint32_t nscopes, scopes_cap;

	stg__ent **chunks;
	uint32_t nchunks, chunks_cap;
	uint32_t nents, ents_cap, free_head, live;
	uint32_t *slots;          /* hash index: tag | entry index + 1, 0 empty (index.c) */
	uint32_t slots_cap, slot_idx_mask;

	stg__jobs jobs;
	stg__probs probs;
	stg__msgs msgs;
	struct stg__market *market; /* message rules, catalogue notices (market.h); NULL until used */

	uint32_t *dirty;          /* entries whose storage write is owed */
	uint32_t ndirty, dirty_cap;
	size_t dirty_unlisted;    /* owed entries not in the list (it could not grow) */

	int txn_capable;          /* storage has begin/commit/rollback */
	int fenced;               /* storage said STG_EFENCED: nothing is written any more */
	stg__txn txn;

	uint64_t job_counter;
	uint32_t order_counter;
	int in_hook;
	int load_rc;              /* the sink's verdict during a load, 0 if none */
	char errmsg[STG__ERRMSG_LEN];
};

/* Integration ids are 16 bits in the entry: marketplace connections per log. */
#define STG__MAX_INTEG 65535u
/* Up to this many integrations, finding one by name is a scan. */
#define STG__INTEG_SCAN 8u

/* Guard of every public entry point: refuses calls from inside a hook. */
#define STG__ENTER(log, fn)                                                              \
	do {                                                                             \
		if (!(log))                                                              \
			return stg__fail(NULL, STG_EINVAL, fn ": NULL log");             \
		if ((log)->in_hook)                                                      \
			return stg__fail(NULL, STG_ERECURSIVE,                           \
			                 fn ": called from inside one of the log's hooks");\
	} while (0)


static inline stg__ent *stg__ent_at(const stg_log *log, uint32_t idx)
{
	return &log->chunks[idx >> STG__CHUNK_SHIFT][idx & (STG__CHUNK - 1)];
}

static inline stg__job *stg__job_of(const stg_log *log, const stg__ent *e)
{
	return e->job ? &log->jobs.v[e->job - 1] : NULL;
}

static inline stg__prob *stg__prob_of(const stg_log *log, const stg__ent *e)
{
	return e->prob ? &log->probs.v[e->prob - 1] : NULL;
}

/* The index the next stg__ents_take() returns. */
static inline uint32_t stg__ents_next(const stg_log *log)
{
	return log->free_head != STG__NO_FREE ? log->free_head : log->nents;
}

/* Take the reserved slot (cannot fail after stg__ents_reserve()). */
static inline uint32_t stg__ents_take(stg_log *log)
{
	uint32_t idx;

	if (log->free_head != STG__NO_FREE) {
		idx = log->free_head;
		log->free_head = stg__ent_at(log, idx)->job;
	} else {
		idx = log->nents++;
	}
	log->live++;
	return idx;
}


#endif
