/*
 * The core the library's three hash tables share (the entry index, the
 * string map of overrides and integrations, the interned messages): open
 * addressing with linear probing in a power-of-two table, and deletion by
 * backward shift, so there are no tombstones and probe runs stay short.
 * Each table keeps its own slot layout; this core sees a slot as bytes and
 * asks the table where a slot's key would start. Never installed.
 */
#ifndef STOCKGUARD_HASHTAB_H
#define STOCKGUARD_HASHTAB_H

#include "internal.h"

/* The home slot of a full slot (its hash & mask), or SIZE_MAX when @slot is empty. */
typedef size_t (*stg__home_fn)(const void *slot, void *ctx);

typedef struct stg__table {
	void *slots;       /* mask + 1 slots of @size bytes; an all-zero slot is empty */
	size_t size, mask;
	stg__home_fn home;
	void *ctx;
} stg__table;

/* Empty slot @i and pull the later members of its probe run into the hole
 * when their home is not in the cyclic range (hole, member]. */
void stg__table_delete(const stg__table *t, size_t i);

#endif
