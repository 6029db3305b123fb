/*
 * Undoing an UNDO transaction whose commit failed: each entry it touched is
 * put back as it was at its first touch, so that memory agrees with storage
 * (rolled back to the same point).
 *
 * Why it needs (almost) no memory: the undo first strips every touched
 * entry of its records, then rebuilds each from its copy. Record stores only
 * grow while a transaction is open (the trim waits for its end), so after
 * the strip there is room for what the entries had at the transaction's
 * start. A rebuilt entry keeps its index when it never left it, and with it
 * the job id the host may hold (stg_log_complete() finds jobs by it).
 */
#include "undo.h"
#include "durable.h"
#include "entries.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "problems.h"
#include "txn.h"

int stg__undo_keep(stg_log *log, uint32_t idx, const stg__ent *e)
{
	stg__txn *t = &log->txn;
	stg__undo *r;
	stg__ent *cur = idx == STG__TXN_NEW ? NULL : stg__ent_at(log, idx);
	const stg__ent *src = cur ? cur : e;

	if (t->nundo == t->undo_cap) {
		stg__undo *n = stg__grow(&log->alloc, t->undo, &t->undo_cap, (uint64_t)t->nundo + 1,
		                         sizeof *n, 64);
		if (!n)
			return STG_ENOMEM;
		t->undo = n;
	}
	r = &t->undo[t->nundo];
	memset(r, 0, sizeof *r);
	r->ent = cur ? *cur : *e;
	r->ent.bits &= ~(STG__B_SKU_HEAP | STG__B_TXN | STG__B_DIRTY | STG__B_DIRTY_UNLISTED);
	if (!cur)
		r->ent.bits &= ~STG__B_LIVE;
	/* The record owns a copy of the SKU: the entry may be gone when it is needed. */
	if (stg__ent_set_sku(log, &r->ent, stg__ent_sku(src), stg__ent_sku_len(src)))
		return STG_ENOMEM;
	r->idx = idx;
	if (cur) {
		r->was_dirty = (cur->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED)) != 0;
		if (cur->job)
			r->job = *stg__job_of(log, cur);
		if (cur->prob) {
			r->prob = *stg__prob_of(log, cur);
			if (r->prob.msg)
				log->msgs.v[r->prob.msg - 1].refs++; /* the message outlives the entry's */
		}
		cur->bits |= STG__B_TXN;
	}
	t->nundo++;
	return STG_OK;
}

static void release(stg_log *log, stg__undo *r)
{
	stg__ent_free_sku(log, &r->ent);
	if (r->ent.prob && r->prob.msg)
		stg__msg_release(&log->msgs, &log->alloc, r->prob.msg);
	r->prob.msg = 0;
}

/* The entry of record @r's key now, if any. */
static int current(const stg_log *log, const stg__undo *r, uint32_t *idx)
{
	return stg__log_find(log, r->ent.integ, stg__ent_sku(&r->ent), stg__ent_sku_len(&r->ent), idx);
}

/* Room for what record @r rebuilds (its slot is taken already). */
static int room_for(stg_log *log, const stg__undo *r)
{
	int js = stg__ent_job_state(&r->ent);

	return stg__index_reserve(log) ||
	       (r->ent.job && stg__jobs_reserve(&log->jobs, &log->alloc, 1)) ||
	       (r->ent.job && js != STG_JOB_IN_FLIGHT &&
	        stg__sched_reserve(log, r->ent.integ, (int)r->ent.priority, 1)) ||
	       (r->ent.prob && stg__probs_reserve(&log->probs, &log->alloc, 1));
}

/* Rebuild the entry of @r in its slot: stripped (@in_place), or free and
 * taken back. */
static void rebuild(stg_log *log, stg__undo *r, int in_place)
{
	uint32_t idx = r->idx;
	stg__ent *e = stg__ent_at(log, idx);

	if (!in_place) {
		*e = r->ent;
		e->bits = STG__B_LIVE | (r->ent.bits & (STG__B_SKU_HEAP | STG__B_JOB_MASK));
		memset(&r->ent.sku, 0, sizeof r->ent.sku); /* the entry owns the copy now */
		r->ent.bits &= ~STG__B_SKU_HEAP;
		stg__index_insert(log, stg__ent_hash(e), idx);
	} else {
		unsigned keep = e->bits & (STG__B_LIVE | STG__B_SKU_HEAP);
		stg__sku sku = e->sku;
		*e = r->ent;
		e->sku = sku;
		e->bits = keep | (r->ent.bits & STG__B_JOB_MASK);
	}
	e->job = 0;
	e->prob = 0;
	if (r->ent.job) {
		uint32_t kj = stg__jobs_take(&log->jobs, idx);
		stg__job *j = &log->jobs.v[kj];
		*j = r->job;
		j->ent = idx;
		j->used = 1;
		j->qslot = 0;
		e->job = kj + 1;
		/* An in-flight job has no queue item: it is the transport's. */
		if (stg__ent_job_state(e) != STG_JOB_IN_FLIGHT)
			stg__sched_push(log, idx, INT64_MIN);
	}
	if (r->ent.prob) {
		uint32_t k = stg__probs_add(&log->probs, idx);
		log->probs.v[k] = r->prob;
		log->probs.v[k].ent = idx;
		e->prob = k + 1;
		r->prob.msg = 0; /* its reference is the entry's now */
	}
	if (r->was_dirty)
		stg__log_mark_dirty(log, idx);
}

/* Take the free slots marked STG__B_TXN off the free list (one walk). */
static void reclaim_marked(stg_log *log)
{
	uint32_t *link = &log->free_head;

	while (*link != STG__NO_FREE) {
		stg__ent *e = stg__ent_at(log, *link);
		if (e->bits == STG__B_TXN) {
			*link = e->job;
			e->bits = 0;
			e->job = 0;
			log->live++;
		} else {
			link = &e->job;
		}
	}
}

uint32_t stg__undo_apply(stg_log *log)
{
	stg__txn *t = &log->txn;
	uint32_t i, idx, lost = 0, reclaim = 0;

	/* Strip first, so that the rebuilds find the room the strips freed. A
	 * key has more than one record only when it was removed and created
	 * again: its first is then the one to rebuild, and going backwards the
	 * later ones delete the entry that is there now before it is reached. */
	for (i = t->nundo; i-- > 0;) {
		stg__undo *r = &t->undo[i];
		int had = (r->ent.bits & STG__B_LIVE) != 0, found = current(log, r, &idx);
		r->was_live = 0;
		if (found && had && idx == r->idx) {
			stg__log_strip_entry(log, idx);
			r->was_live = 1;
			continue;
		}
		if (found)
			stg__log_delete_entry(log, idx);
		reclaim += had;
	}
	/* An entry that went comes back in its own slot, so that the job id the
	 * host holds still finds it. The slot is free: whatever took it during
	 * the transaction was created there and is gone again. */
	for (i = 0; reclaim && i < t->nundo; i++) {
		stg__undo *r = &t->undo[i];
		if ((r->ent.bits & STG__B_LIVE) && !r->was_live)
			stg__ent_at(log, r->idx)->bits = STG__B_TXN;
	}
	if (reclaim)
		reclaim_marked(log);
	for (i = 0; i < t->nundo; i++) {
		stg__undo *r = &t->undo[i];
		if (!(r->ent.bits & STG__B_LIVE))
			continue;
		if (room_for(log, r)) {
			/* Storage has it as it was; memory cannot hold it now. */
			if (r->was_live)
				stg__log_delete_entry(log, r->idx);
			else
				stg__ents_release(log, r->idx);
			lost++;
			continue;
		}
		rebuild(log, r, r->was_live);
	}
	return lost;
}

void stg__undo_forget(stg_log *log)
{
	stg__txn *t = &log->txn;
	uint32_t i, idx;

	for (i = 0; i < t->nundo; i++) {
		stg__undo *r = &t->undo[i];
		if (current(log, r, &idx))
			stg__ent_at(log, idx)->bits &= ~STG__B_TXN;
		release(log, r);
	}
	t->nundo = 0;
	if (t->undo_cap > 256) {
		stg__free(&log->alloc, t->undo);
		t->undo = NULL;
		t->undo_cap = 0;
	}
}
