/*
 * Write-through to storage and the writes the log owes: an entry whose
 * write failed (an acknowledgement must never be forgotten) is marked
 * dirty and written by a later call, or by stg_log_flush().
 */
#include "durable.h"
#include "integ.h"
#include "entries.h"
#include "host.h"
#include "jobs.h"
#include "lifecycle.h"
#include "txn.h"

int stg__log_write_view(stg_log *log, uint32_t idx, const stg__ent *e, const stg__job *j,
                        const stg__prob *p)
{
	stg_entry out;
	int rc;

	if (!log->has_storage || !log->storage.write)
		return STG_OK;
	if ((rc = stg__txn_touch(log, idx, e)))
		return rc;
	stg__ent_view(log, e, j, p, 0, &out);
	return stg__host_write(log, &out);
}

int stg__log_write(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int rc = stg__log_write_view(log, idx, e, stg__job_of(log, e), stg__prob_of(log, e));

	if (rc == STG_OK)
		stg__log_clear_dirty(log, idx); /* its owed write, if any, just happened */
	return rc;
}

/* Owed writes are acknowledgements: their own OWED transaction, or the
 * call's when it is one; never inside an UNDO one (they would be undone
 * with it), which leaves them owed until it ends. */
int stg__log_flush_owed_slow(stg_log *log)
{
	size_t i, kept = 0;
	uint32_t k;
	int rc = STG_OK, own;

	if (log->txn.kind == STG__TXN_UNDO)
		return STG_OK;
	own = stg__txn_start(log, STG__TXN_OWED);
	/* Without room to remember what it wrote, it writes nothing: still owed. */
	if (stg__txn_reserve(log, "flushing owed writes", (uint64_t)log->ndirty + log->dirty_unlisted))
		rc = STG_ESTORAGE;
	if (log->fenced)
		rc = STG_EFENCED; /* nothing goes out: the owed writes are not this log's to make */
	for (i = 0; i < log->ndirty; i++) {
		uint32_t idx = log->dirty[i];
		const stg__ent *e = stg__ent_at(log, idx);
		if (!stg__ent_live(e) || !(e->bits & STG__B_DIRTY))
			continue;
		if (rc == STG_OK && stg__log_write(log, idx) == STG_OK)
			continue;
		rc = stg__storage_rc(log, rc);
		log->dirty[kept++] = idx;
	}
	log->ndirty = kept;
	/* Entries that could not even be listed (out of memory) are found by scan. */
	for (k = 0; log->dirty_unlisted && k < log->nents; k++) {
		const stg__ent *e = stg__ent_at(log, k);
		if (!stg__ent_live(e) || !(e->bits & STG__B_DIRTY_UNLISTED))
			continue;
		if (rc == STG_OK && stg__log_write(log, k) == STG_OK)
			continue;
		rc = stg__storage_rc(log, rc);
	}
	if (own)
		stg__txn_end(log, "flushing owed writes", &rc);
	return rc;
}

int stg__log_requeue_commit(stg_log *log, uint32_t idx, stg__ent *ec, const stg__job *jc,
                            int fresh, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	int rc;

	if ((rc = stg__log_write_view(log, idx, ec, jc, stg__prob_of(log, e))))
		return rc;
	stg__txn_carry(e, ec);
	if (fresh)
		ec->job = stg__jobs_take(&log->jobs, idx) + 1;
	log->jobs.v[ec->job - 1] = *jc;
	*e = *ec;
	stg__log_clear_dirty(log, idx);
	stg__sched_push(log, idx, now);
	return STG_OK;
}

int stg__log_remove_stored(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int rc;

	if (!log->has_storage || !log->storage.remove)
		return STG_OK;
	if ((rc = stg__txn_touch(log, idx, NULL)))
		return rc;
	return stg__host_remove(log, log->integs[e->integ].name, stg__ent_sku(e));
}

int stg__log_remove_entry(stg_log *log, uint32_t idx, unsigned flags)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int rc;

	if (e->job && !(flags & STG_REMOVE_FORCE))
		return stg__fail(log->errmsg, STG_EBUSY,
		                 "stg_log_remove: (%.100s, %.100s) has a pending job (use STG_REMOVE_FORCE)",
		                 log->integs[e->integ].name, stg__ent_sku(e));
	if ((rc = stg__log_remove_stored(log, idx)))
		return rc;
	stg__log_delete_entry(log, idx);
	return STG_OK;
}

STG_EXTERN int stg_log_flush(stg_log *log, size_t *pending)
{
	uint32_t i;
	size_t owed = 0;
	int rc;

	STG__ENTER(log, "stg_log_flush");
	if (log->txn.host)
		return stg__txn_refuse(log, "stg_log_flush");
	rc = stg__log_flush_owed(log);
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		owed += stg__ent_live(e) && (e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED));
	}
	if (pending)
		*pending = owed;
	if (log->fenced)
		return stg__fail(log->errmsg, STG_EFENCED,
		                 "stg_log_flush: this log lost its storage ownership (fenced): %zu entries "
		                 "stay unwritten", owed);
	if (rc)
		return stg__fail(log->errmsg, rc, "stg_log_flush: %zu entries still owed to storage", owed);
	return STG_OK;
}

/* ---------------------------------------------------------- public calls */

STG_EXTERN int stg_log_begin(stg_log *log)
{
	STG__ENTER(log, "stg_log_begin");
	if (log->txn.host)
		return stg__fail(log->errmsg, STG_ESTATE, "stg_log_begin: a transaction is already open");
	/* Owed writes go first, on their own: the host's transaction is for its changes. */
	stg__log_flush_owed(log);
	log->txn.host = 1;
	if (log->txn_capable)
		log->txn.kind = STG__TXN_UNDO;
	return STG_OK;
}

STG_EXTERN int stg_log_commit(stg_log *log)
{
	int rc = STG_OK;

	STG__ENTER(log, "stg_log_commit");
	if (!log->txn.host)
		return stg__fail(log->errmsg, STG_ESTATE, "stg_log_commit: no transaction open");
	log->txn.host = 0;
	if (log->txn.kind != STG__TXN_NONE)
		stg__txn_end(log, "stg_log_commit", &rc);
	stg__log_trim(log);
	if (rc == STG_OK)
		stg__log_flush_owed(log);
	return rc;
}

STG_EXTERN int stg_log_in_transaction(stg_log *log, int *open)
{
	STG__ENTER(log, "stg_log_in_transaction");
	if (!open)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_in_transaction: NULL out");
	*open = log->txn.host;
	return STG_OK;
}
