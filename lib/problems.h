/*
 * Problem records (failure details, wide values) and the interned
 * marketplace messages they point at: two stores, each with its own struct
 * and the allocator. Never installed.
 */
#ifndef STOCKGUARD_PROBLEMS_H
#define STOCKGUARD_PROBLEMS_H

#include "records.h"

/* Room for n more problem records. */
int stg__probs_reserve(stg__probs *ps, const stg__alloc *a, uint32_t n);
/* Take a reserved record (cannot fail), zeroed, owned by entry @ent: its index. */
uint32_t stg__probs_add(stg__probs *ps, uint32_t ent);
/* Remove record k; the last record takes its place, reported to @moved. */
void stg__probs_remove(stg__probs *ps, uint32_t k, stg__moved_fn moved, void *ctx);
void stg__probs_trim(stg__probs *ps, const stg__alloc *a);
void stg__probs_free(stg__probs *ps, const stg__alloc *a);

/* Intern a message (cut at STG_MESSAGE_MAX): its id, or 0 for NULL, "" or no memory. */
uint32_t stg__msg_intern(stg__msgs *m, const stg__alloc *a, const char *text);
void stg__msg_release(stg__msgs *m, const stg__alloc *a, uint32_t id);
void stg__msgs_free(stg__msgs *m, const stg__alloc *a);
static inline const char *stg__msg_text(const stg__msgs *m, uint32_t id)
{
	return id ? m->v[id - 1].text : NULL;
}

#endif
