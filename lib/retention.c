/*
 * Retention: stg_log_expire() removes the oldest success entries by age
 * and by count.
 */
#include "durable.h"
#include "host.h"
#include "integ.h"
#include "lifecycle.h"
#include "sort.h"
#include "txn.h"

/* Entry a was acknowledged before entry b: the oldest go first. */
static int older_ack(const void *a, const void *b, void *ctx)
{
	const stg_log *log = ctx;

	return stg__ent_at(log, *(const uint32_t *)a)->acked_at <
	       stg__ent_at(log, *(const uint32_t *)b)->acked_at;
}

static int is_success(const stg_log *log, uint32_t i)
{
	const stg__ent *e = stg__ent_at(log, i);
	return stg__ent_live(e) && e->status == STG_ENTRY_SUCCESS;
}

STG_EXTERN int stg_log_expire(stg_log *log, size_t *removed)
{
	uint32_t i, *succ = NULL;
	size_t n = 0, nsucc = 0, k;
	int64_t now;
	int rc = STG_OK, own;

	if (removed)
		*removed = 0;
	STG__ENTER(log, "stg_log_expire");
	stg__log_flush_owed(log);
	own = stg__txn_start(log, STG__TXN_UNDO);
	now = stg__log_now(log);
	/* At most every success goes: room to keep them, before any does. */
	for (i = 0; log->txn.kind == STG__TXN_UNDO && i < log->nents; i++)
		nsucc += is_success(log, i);
	rc = stg__txn_reserve(log, "stg_log_expire", nsucc);
	nsucc = 0;
	if (rc == STG_OK && log->success_max_age) {
		for (i = 0; i < log->nents && rc == STG_OK; i++) {
			const stg__ent *e = stg__ent_at(log, i);
			if (!stg__ent_live(e) || e->status != STG_ENTRY_SUCCESS ||
			    now - e->acked_at <= log->success_max_age)
				continue;
			if ((rc = stg__log_remove_entry(log, i, 0)) == STG_OK)
				n++;
		}
	}
	if (rc == STG_OK && log->success_max_count) {
		for (i = 0; i < log->nents; i++)
			nsucc += is_success(log, i);
		if (nsucc > log->success_max_count) {
			succ = stg__calloc(&log->alloc, nsucc, sizeof *succ);
			if (!succ) {
				rc = stg__fail(log->errmsg, STG_ENOMEM, "stg_log_expire: out of memory");
			} else {
				for (i = 0, k = 0; i < log->nents; i++)
					if (is_success(log, i))
						succ[k++] = i;
				stg__sort(succ, nsucc, sizeof *succ, older_ack, log);
				for (k = 0; k < nsucc - log->success_max_count; k++) {
					if ((rc = stg__log_remove_entry(log, succ[k], 0)))
						break;
					n++;
				}
				stg__free(&log->alloc, succ);
			}
		}
	}
	if (own && stg__txn_end(log, "stg_log_expire", &rc))
		n = 0;
	stg__log_trim(log);
	if (removed)
		*removed = n;
	return rc;
}
