/*
 * The library's one sort: an in-place heapsort with a context. In place,
 * because the callers sort where nothing may fail (no memory is asked
 * for); with a context, because qsort_r is not portable C. Never installed.
 */
#ifndef STOCKGUARD_SORT_H
#define STOCKGUARD_SORT_H

#include "internal.h"

/* Nonzero when a goes before b. */
typedef int (*stg__less_fn)(const void *a, const void *b, void *ctx);

/* Sort n elements of @size bytes (at most 64) ascending, O(n log n). An
 * array sorted ascending is also a valid min-heap. */
void stg__sort(void *base, size_t n, size_t size, stg__less_fn less, void *ctx);

#endif
