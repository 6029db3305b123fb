/*
 * The entry table of a log (chunks of hot records, inline or heap SKUs)
 * and what an entry reports. Never installed.
 */
#ifndef STOCKGUARD_ENTRIES_H
#define STOCKGUARD_ENTRIES_H

#include "log_state.h"

size_t stg__ent_sku_len(const stg__ent *e);
/* Set a fresh entry's SKU (allocates when long). */
int stg__ent_set_sku(stg_log *log, stg__ent *e, const char *sku, size_t len);
void stg__ent_free_sku(stg_log *log, stg__ent *e);
/* Room for one more entry: a slot in the table and in the index. */
int stg__ents_reserve(stg_log *log);
/* Room for one more entry in the table only (the load indexes at the end). */
int stg__ents_reserve_unindexed(stg_log *log);
void stg__ents_release(stg_log *log, uint32_t idx);
void stg__ents_free(stg_log *log);
/* What the entry reports: the hot record with its job and problem records. */
void stg__ent_view(const stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p,
                   int64_t now, stg_entry *out);
void stg__log_to_entry(const stg_log *log, uint32_t idx, int64_t now, stg_entry *out);

#endif
