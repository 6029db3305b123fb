/*
 * Write-through to the storage hook, and the writes the log owes (an
 * acknowledgement whose write failed is kept and written later). Never
 * installed.
 */
#ifndef STOCKGUARD_DURABLE_H
#define STOCKGUARD_DURABLE_H

#include "log_state.h"
#include "owed.h"

/* Write a prospective state @e of entry @idx (STG__TXN_NEW: a new entry)
 * through the storage hook; inside a transaction, what a failed commit
 * needs is kept first. */
int stg__log_write_view(stg_log *log, uint32_t idx, const stg__ent *e, const stg__job *j,
                        const stg__prob *p);
/* Write entry idx; its owed write, if any, is then done. */
int stg__log_write(stg_log *log, uint32_t idx);
/* Entry idx's job queued again as @ec / @jc (@fresh: a new job record,
 * reserved by the caller, as is its queue item): written through, then,
 * once the write succeeded, put in place and queued. STG_OK, or the
 * write's failure with nothing changed. */
int stg__log_requeue_commit(stg_log *log, uint32_t idx, stg__ent *ec, const stg__job *jc,
                            int fresh, int64_t now);
/* Remove entry idx from storage. */
int stg__log_remove_stored(stg_log *log, uint32_t idx);
/* Remove entry idx, from storage then memory (STG_REMOVE_FORCE: even with a job). */
int stg__log_remove_entry(stg_log *log, uint32_t idx, unsigned flags);
int stg__log_flush_owed_slow(stg_log *log);
/* Write what is owed; cheap when nothing is. */
static inline int stg__log_flush_owed(stg_log *log)
{
	return (log->ndirty || log->dirty_unlisted) ? stg__log_flush_owed_slow(log) : STG_OK;
}

#endif
