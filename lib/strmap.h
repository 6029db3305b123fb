/*
 * A small open-addressing map from strings (copied, owned) to int64 values,
 * used for the policy's overrides. Linear probing with backward-shift
 * deletion, so there are no tombstones and lookups stay short.
 */
#ifndef STOCKGUARD_STRMAP_H
#define STOCKGUARD_STRMAP_H

#include "internal.h"

typedef struct stg__strmap_slot {
	char *key;       /* NULL: empty */
	size_t len;
	uint64_t hash;
	int64_t value;
} stg__strmap_slot;

typedef struct stg__strmap {
	stg__strmap_slot *slots;
	size_t cap;      /* 0 or a power of two */
	size_t count;
} stg__strmap;

void stg__strmap_free(stg__strmap *m, const stg__alloc *a);
/* Returns 1 and the value when found. */
int stg__strmap_get(const stg__strmap *m, const char *key, size_t len, int64_t *value);
/* Insert or replace; STG_ENOMEM leaves the map unchanged. */
int stg__strmap_put(stg__strmap *m, const stg__alloc *a, const char *key, size_t len, int64_t value);
/* Returns 1 when a key was removed. */
int stg__strmap_del(stg__strmap *m, const stg__alloc *a, const char *key, size_t len);
/* Deep copy into an empty map; STG_ENOMEM leaves @dst empty. */
int stg__strmap_copy(stg__strmap *dst, const stg__strmap *src, const stg__alloc *a);

#endif
