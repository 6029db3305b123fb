/* The fixture allocator; see fixture.h. */
#define _DEFAULT_SOURCE
#include "fixture.h"

#include <execinfo.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef union {
	size_t size;
	max_align_t align;
} fx_header;

static uint64_t stack_hash(void)
{
	void *frames[16];
	int n = backtrace(frames, 16), i;
	uint64_t h = 1469598103934665603ull;

	/* Frame 0 is this function, 1 should_fail, 2 the allocator: the rest is
	 * the path. (Inlining may drop frames; the hash only needs to be stable.) */
	for (i = 2; i < n; i++) {
		h ^= (uint64_t)(uintptr_t)frames[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int should_fail(fx_alloc *a)
{
	if (!fx_trips(&a->attempts, a->fail_at, a->persistent, &a->failures))
		return 0;
	if (a->record_sites && a->attempts == a->fail_at)
		a->last_site = stack_hash();
	return 1;
}

static void *t_malloc(size_t size, void *payload)
{
	fx_alloc *a = payload;
	fx_header *h;

	if (should_fail(a))
		return NULL;
	h = malloc(sizeof *h + size);
	FX_CHECK(h != NULL, "out of memory (the real one)");
	h->size = size;
	a->live_blocks++;
	a->live_bytes += (long long)size;
	return h + 1;
}

static void t_free(void *ptr, void *payload)
{
	fx_alloc *a = payload;
	fx_header *h;

	if (!ptr)
		return;
	h = (fx_header *)ptr - 1;
	a->live_blocks--;
	a->live_bytes -= (long long)h->size;
	memset(ptr, 0xdd, h->size); /* a use after free shows up as garbage */
	free(h);
}

static void *t_realloc(void *ptr, size_t size, void *payload)
{
	fx_alloc *a = payload;
	fx_header *h, *n;
	size_t old;

	if (!ptr)
		return t_malloc(size, payload);
	if (should_fail(a))
		return NULL;
	h = (fx_header *)ptr - 1;
	old = h->size;
	/* Always move, so stale pointers into the old block are caught. */
	n = malloc(sizeof *n + size);
	FX_CHECK(n != NULL, "out of memory (the real one)");
	n->size = size;
	memcpy(n + 1, ptr, old < size ? old : size);
	memset(ptr, 0xdd, old);
	free(h);
	a->live_bytes += (long long)size - (long long)old;
	return n + 1;
}

void fx_alloc_init(fx_alloc *a)
{
	void *warm[2];

	memset(a, 0, sizeof *a);
	a->hook.version = STG_ALLOCATOR_VERSION;
	a->hook.malloc_fn = t_malloc;
	a->hook.realloc_fn = t_realloc;
	a->hook.free_fn = t_free;
	a->hook.payload = a;
	backtrace(warm, 2); /* its first call loads libgcc; do it outside any count */
}

void fx_alloc_arm(fx_alloc *a, long fail_at, int persistent)
{
	a->attempts = 0;
	a->failures = 0;
	a->fail_at = fail_at;
	a->persistent = persistent;
	a->last_site = 0;
}

void fx_alloc_disarm(fx_alloc *a)
{
	a->fail_at = 0;
	a->persistent = 0;
}

int fx_site_add(uint64_t *sites, size_t *n, uint64_t site)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (sites[i] == site)
			return 0;
	if (*n < FX_SITE_MAX)
		sites[(*n)++] = site;
	return 1;
}
