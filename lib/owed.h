/*
 * The entries whose storage write is owed: an acknowledgement whose write
 * failed (or whose commit did) is kept in memory and written by a later
 * call. The list, and the entries' marks. Never installed.
 */
#ifndef STOCKGUARD_OWED_H
#define STOCKGUARD_OWED_H

#include "log_state.h"

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

#endif
