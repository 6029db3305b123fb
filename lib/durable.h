/*
 * Write-through to the storage hook, and the writes the log owes (an
 * acknowledgement whose write failed is kept and written later). Never
 * installed.
 */
#ifndef STOCKGUARD_DURABLE_H
#define STOCKGUARD_DURABLE_H

#include "log_state.h"

/* Write a prospective state of an entry through the storage hook. */
int stg__log_write_view(stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p);
/* Write entry idx; its owed write, if any, is then done. */
int stg__log_write(stg_log *log, uint32_t idx);
/* Remove entry idx from storage. */
int stg__log_remove_stored(stg_log *log, uint32_t idx);
void stg__log_mark_dirty(stg_log *log, uint32_t idx);
/* Its write is done: no longer owed. */
static inline void stg__log_clear_dirty(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	if (!(e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED)))
		return;
	if (e->bits & STG__B_DIRTY_UNLISTED)
		log->dirty_unlisted--;
	e->bits &= ~(STG__B_DIRTY | STG__B_DIRTY_UNLISTED);
}
int stg__log_flush_owed_slow(stg_log *log);
/* Write what is owed; cheap when nothing is. */
static inline int stg__log_flush_owed(stg_log *log)
{
	return (log->ndirty || log->dirty_unlisted) ? stg__log_flush_owed_slow(log) : STG_OK;
}

#endif
