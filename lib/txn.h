/*
 * Transactions: the storage commit that groups the writes of one call (or
 * of the host's stg_log_begin() .. stg_log_commit()), and what a failed
 * commit does in memory. See stg_log_commit() in log.h for the contract.
 * Never installed.
 */
#ifndef STOCKGUARD_TXN_H
#define STOCKGUARD_TXN_H

#include "log_state.h"

/* The index of an entry not in the log yet (a submit's new SKU). */
#define STG__TXN_NEW UINT32_MAX

/*
 * Open a transaction of @kind for the call @fn: 1 when the call owns it and
 * must end it with stg__txn_end(), 0 when there is nothing to group (storage
 * without transactions) or the call runs inside one already open. Cannot
 * fail: storage hears `begin` only at the first write.
 */
static inline int stg__txn_start(stg_log *log, int kind)
{
	if (!log->txn_capable || log->txn.kind != STG__TXN_NONE)
		return 0;
	log->txn.kind = kind;
	return 1;
}

/*
 * End the call's transaction (when stg__txn_start() said it owns one):
 * commit what it wrote. 0 when committed (*rc unchanged); 1 when the commit
 * failed: then an UNDO transaction's changes are undone, an OWED one's
 * writes are owed again, and *rc is the failure (STG_ESTORAGE, or
 * STG_ENOMEM when an undo ran out of memory) with the message naming @fn.
 */
int stg__txn_end(stg_log *log, const char *fn, int *rc);

/* Carry the transaction's mark from @now, an entry, to @next, the copy
 * that replaces it (the mark says the entry is kept already). */
static inline void stg__txn_carry(const stg__ent *now, stg__ent *next)
{
	next->bits = (next->bits & ~STG__B_TXN) | (now->bits & STG__B_TXN);
}

/*
 * Before entry @idx (or, STG__TXN_NEW, the new entry @e) is written or
 * removed inside a transaction: storage's `begin` at the first, and what a
 * failed commit will need. STG_OK, STG_ESTORAGE (begin failed) or
 * STG_ENOMEM; either failure means the write must not happen.
 */
int stg__txn_touch_slow(stg_log *log, uint32_t idx, const stg__ent *e);
static inline int stg__txn_touch(stg_log *log, uint32_t idx, const stg__ent *e)
{
	if (log->txn.kind == STG__TXN_NONE)
		return STG_OK;
	return stg__txn_touch_slow(log, idx, e);
}

/* Room to keep @n more entries in the open transaction (an UNDO one's
 * records, an OWED one's list of entries written), asked for before a call
 * changes any, so that running out of memory changes nothing. STG_OK or
 * STG_ENOMEM with the message. */
int stg__txn_reserve_slow(stg_log *log, const char *fn, uint64_t n);
static inline int stg__txn_reserve(stg_log *log, const char *fn, uint64_t n)
{
	if (log->txn.kind == STG__TXN_NONE || !n)
		return STG_OK;
	return stg__txn_reserve_slow(log, fn, n);
}

/* A submit is about to count in integration @integ: inside an UNDO
 * transaction its counters are kept as they were. STG_OK or STG_ENOMEM. */
int stg__txn_count_slow(stg_log *log, uint32_t integ);
static inline int stg__txn_count(stg_log *log, uint32_t integ)
{
	if (log->txn.kind != STG__TXN_UNDO)
		return STG_OK;
	return stg__txn_count_slow(log, integ);
}

/* The bit a new entry carries inside an UNDO transaction (it was touched). */
static inline unsigned stg__txn_new_bits(const stg_log *log)
{
	return log->txn.kind == STG__TXN_UNDO ? STG__B_TXN : 0;
}

/* A call that may not run inside the host's transaction: STG_ESTATE. */
int stg__txn_refuse(stg_log *log, const char *fn);

/* The log closes: a transaction still open is given up. */
void stg__txn_abandon(stg_log *log);

#endif
