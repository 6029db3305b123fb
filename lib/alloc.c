/*
 * Allocation: the host's allocator resolved once per handle (checked by
 * its version), and the wrappers every record store allocates through.
 */
#include "versions.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t n, void *p) { (void)p; return malloc(n); }
static void *libc_realloc(void *q, size_t n, void *p) { (void)p; return realloc(q, n); }
static void libc_free(void *q, void *p) { (void)p; free(q); }

int stg__alloc_from(stg__alloc *out, const stg_allocator *given, const char *fn)
{
	stg_allocator copy, *host = &copy;
	int rc;

	if (!given) {
		out->malloc_fn = libc_malloc;
		out->realloc_fn = libc_realloc;
		out->free_fn = libc_free;
		out->payload = NULL;
		return STG_OK;
	}
	if ((rc = stg__version_copy(NULL, fn, &stg__v_allocator, given, &copy)))
		return rc;
	if (!host->malloc_fn && !host->realloc_fn && !host->free_fn) {
		rc = stg__alloc_from(out, NULL, fn);
		out->payload = host->payload;
		return rc;
	}
	if (!host->malloc_fn || !host->realloc_fn || !host->free_fn)
		return stg__fail(NULL, STG_EINVAL,
		                 "%s: allocator: set all of malloc_fn, realloc_fn and free_fn, or none", fn);
	out->malloc_fn = host->malloc_fn;
	out->realloc_fn = host->realloc_fn;
	out->free_fn = host->free_fn;
	out->payload = host->payload;
	return STG_OK;
}

void *stg__malloc(const stg__alloc *a, size_t size)
{
	return a->malloc_fn(size ? size : 1, a->payload);
}

void *stg__calloc(const stg__alloc *a, size_t count, size_t size)
{
	void *p;

	if (size && count > SIZE_MAX / size)
		return NULL;
	p = stg__malloc(a, count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

void *stg__realloc(const stg__alloc *a, void *ptr, size_t size)
{
	return a->realloc_fn(ptr, size ? size : 1, a->payload);
}

void stg__free(const stg__alloc *a, void *ptr)
{
	if (ptr)
		a->free_fn(ptr, a->payload);
}

char *stg__strdup(const stg__alloc *a, const char *s, size_t len)
{
	char *d = stg__malloc(a, len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/*
 * The library's one growth rule: by half (from @first when empty), until
 * @need elements fit. By half, not doubling: a log of millions of records
 * then carries at most a third of them as slack, and a large realloc moves
 * pages without copying them. At most UINT32_MAX / 2 elements (record
 * indexes are 32 bits).
 */
void *stg__grow(const stg__alloc *a, void *v, uint32_t *cap, uint64_t need, size_t size, uint32_t first)
{
	uint64_t ncap = *cap ? *cap + *cap / 2 : first;
	void *nv;

	if (need <= *cap)
		return v;
	if (need > UINT32_MAX / 2)
		return NULL;
	while (ncap < need)
		ncap += ncap / 2;
	if (ncap > UINT32_MAX / 2)
		ncap = UINT32_MAX / 2;
	nv = stg__realloc(a, v, (size_t)ncap * size);
	if (nv)
		*cap = (uint32_t)ncap;
	return nv;
}

/*
 * Memory back when at most a quarter is used (halving, never below 64
 * elements); all of it when @len is 0. A shrink that fails keeps the
 * larger block: nothing is lost. Returns the block to keep.
 */
void *stg__shrink(const stg__alloc *a, void *v, uint32_t *cap, uint32_t len, size_t size)
{
	uint32_t ncap;
	void *nv;

	if (len == 0) {
		stg__free(a, v);
		*cap = 0;
		return NULL;
	}
	if (*cap <= 64 || len >= *cap / 4)
		return v;
	for (ncap = *cap; ncap > 64 && len < ncap / 4; ncap /= 2)
		;
	nv = stg__realloc(a, v, (size_t)ncap * size);
	if (!nv)
		return v;
	*cap = ncap;
	return nv;
}
