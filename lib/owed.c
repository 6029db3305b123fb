/*
 * The list of entries whose storage write is owed (see owed.h).
 */
#include "owed.h"

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
