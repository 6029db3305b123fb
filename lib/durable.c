/*
 * Write-through to storage and the writes the log owes: an entry whose
 * write failed (an acknowledgement must never be forgotten) is marked
 * dirty and written by a later call, or by stg_log_flush().
 */
#include "durable.h"
#include "integ.h"
#include "entries.h"
#include "host.h"

int stg__log_write_view(stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p)
{
	stg_entry out;

	if (!log->has_storage || !log->storage.write)
		return STG_OK;
	stg__ent_view(log, e, j, p, 0, &out);
	return stg__host_write(log, &out);
}

int stg__log_write(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int rc = stg__log_write_view(log, e, stg__job_of(log, e), stg__prob_of(log, e));

	if (rc == STG_OK)
		stg__log_clear_dirty(log, idx); /* its owed write, if any, just happened */
	return rc;
}

void stg__log_mark_dirty(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	if (e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED))
		return;
	if (log->ndirty == log->dirty_cap) {
		uint32_t *n = stg__grow(&log->alloc, log->dirty, &log->dirty_cap, (uint64_t)log->ndirty + 1,
		                        sizeof *n, 16);
		if (!n) {
			/* Cannot even remember it: fall back to a full rescan at flush time. */
			e->bits |= STG__B_DIRTY_UNLISTED;
			log->dirty_unlisted++;
			return;
		}
		log->dirty = n;
	}
	log->dirty[log->ndirty++] = idx;
	e->bits |= STG__B_DIRTY;
}

int stg__log_flush_owed_slow(stg_log *log)
{
	size_t i, kept = 0;
	uint32_t k;
	int rc = STG_OK;

	for (i = 0; i < log->ndirty; i++) {
		uint32_t idx = log->dirty[i];
		const stg__ent *e = stg__ent_at(log, idx);
		if (!stg__ent_live(e) || !(e->bits & STG__B_DIRTY))
			continue;
		if (rc == STG_OK && stg__log_write(log, idx) == STG_OK)
			continue;
		rc = STG_ESTORAGE;
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
		rc = STG_ESTORAGE;
	}
	return rc;
}

int stg__log_remove_stored(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);

	if (!log->has_storage || !log->storage.remove)
		return STG_OK;
	return stg__host_remove(log, log->integs[e->integ].name, stg__ent_sku(e));
}

STG_EXTERN int stg_log_flush(stg_log *log, size_t *pending)
{
	uint32_t i;
	size_t owed = 0;
	int rc;

	STG__ENTER(log, "stg_log_flush");
	rc = stg__log_flush_owed(log);
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		owed += stg__ent_live(e) && (e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED));
	}
	if (pending)
		*pending = owed;
	if (rc)
		return stg__fail(log->errmsg, rc, "stg_log_flush: %zu entries still owed to storage", owed);
	return STG_OK;
}
