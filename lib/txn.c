/*
 * Transactions (see txn.h): what each kind keeps while it is open, the
 * commit, and what a failed one leaves in memory. A call opens one around
 * its writes; the host's stg_log_begin() / stg_log_commit() open one around
 * several calls, which then join it. Storage hears `begin` at the first
 * write only, so a call that writes nothing costs nothing.
 */
#include "txn.h"
#include "counters.h"
#include "host.h"
#include "integ.h"
#include "owed.h"
#include "undo.h"

/* An integration's counters as they were at the first change it counted. */
struct stg__saved_counters {
	uint32_t integ;
	stg__counters c;
};

int stg__txn_touch_slow(stg_log *log, uint32_t idx, const stg__ent *e)
{
	stg__txn *t = &log->txn;
	int rc;

	if (t->kind == STG__TXN_UNDO) {
		/* An entry's first touch is kept; later ones find it marked. */
		rc = idx != STG__TXN_NEW && (stg__ent_at(log, idx)->bits & STG__B_TXN)
		     ? STG_OK : stg__undo_keep(log, idx, e);
	} else if (idx == STG__TXN_NEW || t->nwritten < t->written_cap) {
		rc = STG_OK;
	} else {
		uint32_t *n = stg__grow(&log->alloc, t->written, &t->written_cap, (uint64_t)t->nwritten + 1,
		                        sizeof *n, 64);
		rc = n ? STG_OK : STG_ENOMEM;
		if (n)
			t->written = n;
	}
	if (t->kind == STG__TXN_OWED && idx != STG__TXN_NEW && rc == STG_OK)
		t->written[t->nwritten++] = idx;
	if (rc)
		return stg__fail(log->errmsg, rc, "out of memory keeping what a failed commit would need");
	if (!t->begun) {
		if ((rc = stg__host_begin(log)))
			return rc;
		t->begun = 1;
	}
	return STG_OK;
}

int stg__txn_reserve_slow(stg_log *log, const char *fn, uint64_t n)
{
	stg__txn *t = &log->txn;

	if (t->kind == STG__TXN_UNDO && (uint64_t)t->nundo + n > t->undo_cap) {
		stg__undo *v = stg__grow(&log->alloc, t->undo, &t->undo_cap, (uint64_t)t->nundo + n,
		                         sizeof *v, 64);
		if (!v)
			return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
		t->undo = v;
	} else if (t->kind == STG__TXN_OWED && (uint64_t)t->nwritten + n > t->written_cap) {
		uint32_t *v = stg__grow(&log->alloc, t->written, &t->written_cap,
		                        (uint64_t)t->nwritten + n, sizeof *v, 64);
		if (!v)
			return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
		t->written = v;
	}
	return STG_OK;
}

int stg__txn_count_slow(stg_log *log, uint32_t integ)
{
	stg__txn *t = &log->txn;
	uint32_t i;

	/* Most transactions count in one integration: look at the newest first. */
	for (i = t->nsaved; i-- > 0;)
		if (t->saved[i].integ == integ)
			return STG_OK;
	if (t->nsaved == t->saved_cap) {
		stg__saved_counters *n = stg__grow(&log->alloc, t->saved, &t->saved_cap,
		                                   (uint64_t)t->nsaved + 1, sizeof *n, 4);
		if (!n)
			return stg__fail(log->errmsg, STG_ENOMEM, "out of memory");
		t->saved = n;
	}
	t->saved[t->nsaved].integ = integ;
	t->saved[t->nsaved].c = log->integs[integ].counters;
	t->nsaved++;
	return STG_OK;
}

/* Put the counters back as they were (the latency histogram only moves on
 * acknowledgements, which an UNDO transaction has none of). */
static void restore_counters(stg_log *log)
{
	stg__txn *t = &log->txn;
	uint32_t i;

	for (i = 0; i < t->nsaved; i++) {
		stg__counters *c = &log->integs[t->saved[i].integ].counters;
		uint64_t *hist = c->hist;
		*c = t->saved[i].c;
		c->hist = hist;
	}
}

/* The OWED transaction failed: what it wrote is owed again. */
static void owe_written(stg_log *log)
{
	stg__txn *t = &log->txn;
	uint32_t i;

	for (i = 0; i < t->nwritten; i++) {
		uint32_t idx = t->written[i];
		if (idx < log->nents && stg__ent_live(stg__ent_at(log, idx)))
			stg__log_mark_dirty(log, idx);
	}
}

static void reset(stg_log *log)
{
	stg__txn *t = &log->txn;

	t->kind = STG__TXN_NONE;
	t->begun = 0;
	t->nwritten = 0;
	t->nsaved = 0;
	if (t->written_cap > 1024) {
		stg__free(&log->alloc, t->written);
		t->written = NULL;
		t->written_cap = 0;
	}
}

/* The commit failed (its message is on the log): undo or owe, then say so. */
static int failed(stg_log *log, const char *fn)
{
	stg__txn *t = &log->txn;
	char why[STG__ERRMSG_LEN];
	int kind = t->kind, rb;
	uint32_t lost = 0, n = kind == STG__TXN_UNDO ? t->nundo : t->nwritten;

	memcpy(why, log->errmsg, sizeof why);
	rb = stg__host_rollback(log);
	if (kind == STG__TXN_UNDO) {
		lost = stg__undo_apply(log);
		restore_counters(log);
		stg__undo_forget(log);
		stg__host_events_release(log, 0);
	} else {
		owe_written(log);
	}
	reset(log);
	if (kind == STG__TXN_OWED)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "%s: %.200s; the %u entries it wrote are kept in memory and owed to storage%s",
		                 fn, why, (unsigned)n, rb ? " (rollback failed too)" : "");
	if (lost)
		return stg__fail(log->errmsg, STG_ENOMEM,
		                 "%s: %.200s; undoing its changes ran out of memory: %u entries are missing "
		                 "from memory until the log is reopened", fn, why, (unsigned)lost);
	return stg__fail(log->errmsg, STG_ESTORAGE, "%s: %.200s; its changes to %u entries are undone%s", fn,
	                 why, (unsigned)n,
	                 rb ? "; the rollback failed too, so storage may hold them: reopen the log to read it" : "");
}

int stg__txn_end(stg_log *log, const char *fn, int *rc)
{
	stg__txn *t = &log->txn;

	if (t->begun && stg__host_commit(log)) {
		*rc = failed(log, fn);
		return 1;
	}
	if (t->kind == STG__TXN_UNDO)
		stg__undo_forget(log);
	stg__host_events_release(log, 1);
	reset(log);
	return 0;
}

int stg__txn_refuse(stg_log *log, const char *fn)
{
	return stg__fail(log->errmsg, STG_ESTATE,
	                 "%s: not allowed inside a transaction (stg_log_commit() it first)", fn);
}

void stg__txn_abandon(stg_log *log)
{
	stg__txn *t = &log->txn;
	if (t->begun)
		stg__host_rollback(log);
	stg__undo_forget(log);
	t->kind = STG__TXN_NONE;
	stg__host_events_release(log, 0);
	stg__free(&log->alloc, t->undo);
	stg__free(&log->alloc, t->written);
	stg__free(&log->alloc, t->saved);
	stg__free(&log->alloc, t->events);
	memset(t, 0, sizeof *t);
}

