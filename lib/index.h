/*
 * The (integration, SKU) hash index of a log's entries. Never installed.
 */
#ifndef STOCKGUARD_INDEX_H
#define STOCKGUARD_INDEX_H

#include "log_state.h"

/* A lookup key: the SKU zero-padded to 16 bytes when it is short. */
typedef struct stg__key {
	const char *sku;
	uint32_t len, integ;
	uint64_t w[2];
	uint64_t hash;
} stg__key;

void stg__key_make(stg__key *k, uint32_t integ, const char *sku, size_t len);
int stg__index_find(const stg_log *log, const stg__key *k, uint32_t *idx);
/* Whether live entry idx holds key k, so is its entry: a check of a
 * candidate, without a probe. */
int stg__index_is(const stg_log *log, const stg__key *k, uint32_t idx);
/* Room for log->live + 1 entries at a load of at most 3/4. */
int stg__index_reserve(stg_log *log);
/* Room for log->live + extra entries at once (one rehash where growing a
 * doubling at a time would make several); STG_ENOMEM leaves the table. */
int stg__index_reserve_for(stg_log *log, size_t extra);
void stg__index_insert(stg_log *log, uint64_t hash, uint32_t idx);
/*
 * Index every live entry at once, into a table sized for them (the load:
 * entries are appended unindexed, then indexed here). STG_ECORRUPT when two
 * entries have the same key, *dup then the later one; STG_ENOMEM.
 */
int stg__index_build(stg_log *log, uint32_t *dup);
void stg__index_delete(stg_log *log, uint32_t idx);
uint64_t stg__ent_hash(const stg__ent *e);

/* Slots in the index: how large the table is (0 before the first entry). */
static inline uint32_t stg__index_capacity(const stg_log *log)
{
	return log->slots_cap;
}

/* Ask for the cache line of a key's home slot (a batch, ahead of its use). */
static inline void stg__index_prefetch(const stg_log *log, uint64_t hash)
{
	STG__PREFETCH(&log->slots[(uint32_t)hash & (log->slots_cap - 1)]);
}

/* The entry of the first slot with the key's tag, UINT32_MAX when none: a
 * guess, nearly always the key's entry, for a batch to fetch ahead; the
 * caller confirms it with stg__index_is(). */
static inline uint32_t stg__index_candidate(const stg_log *log, uint64_t hash)
{
	uint32_t mask = log->slots_cap - 1, imask = log->slot_idx_mask, i, sl;
	uint32_t tag = (uint32_t)(hash >> 32) & ~imask;

	for (i = (uint32_t)hash & mask; (sl = log->slots[i]) != 0; i = (i + 1) & mask)
		if ((sl & ~imask) == tag && (sl & imask) - 1 < log->nents)
			return (sl & imask) - 1;
	return UINT32_MAX;
}

/* The live entry of (integ, sku): 1 and its index, or 0. */
int stg__log_find(const stg_log *log, uint32_t integ, const char *sku, size_t len, uint32_t *out);

#endif
