/*
 * The records of entries as they were before an UNDO transaction touched
 * them, and putting them back when its commit failed. Seen by txn.c and
 * undo.c only. Never installed.
 */
#ifndef STOCKGUARD_UNDO_H
#define STOCKGUARD_UNDO_H

#include "log_state.h"

/* One touched entry as it was: `ent` without STG__B_LIVE says it did not
 * exist. The record owns its SKU copy and a reference to its message. */
struct stg__undo {
	stg__ent ent;
	stg__job job;   /* when ent.job */
	stg__prob prob; /* when ent.prob */
	uint32_t idx;   /* where it was (STG__TXN_NEW: nowhere) */
	int was_dirty;  /* its storage write was owed */
	int was_live;   /* during the undo: the entry is still in its slot */
};

/* Keep entry @idx, or the absence of new entry @e, as it is now. */
int stg__undo_keep(stg_log *log, uint32_t idx, const stg__ent *e);
/* Put every kept entry back as it was; the number that could not be (out
 * of memory: they are missing from memory until the log is reopened). */
uint32_t stg__undo_apply(stg_log *log);
/* The transaction is over: forget the records, and the entries' marks. */
void stg__undo_forget(stg_log *log);

#endif
