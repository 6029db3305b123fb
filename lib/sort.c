/* The in-place heapsort (see sort.h). */
#include "sort.h"

static void swap(unsigned char *a, unsigned char *b, size_t size)
{
	unsigned char t[64];

	memcpy(t, a, size);
	memcpy(a, b, size);
	memcpy(b, t, size);
}

static void sift(unsigned char *v, size_t n, size_t r, size_t size, stg__less_fn less, void *ctx)
{
	for (;;) {
		size_t l = 2 * r + 1, m = r;
		if (l < n && less(v + m * size, v + l * size, ctx))
			m = l;
		if (l + 1 < n && less(v + m * size, v + (l + 1) * size, ctx))
			m = l + 1;
		if (m == r)
			return;
		swap(v + r * size, v + m * size, size);
		r = m;
	}
}

/* The heap is built once (a max-heap by less), then each maximum moves to the end. */
void stg__sort(void *base, size_t n, size_t size, stg__less_fn less, void *ctx)
{
	unsigned char *v = base;
	size_t i, end;

	for (i = n / 2; i-- > 0;)
		sift(v, n, i, size, less, ctx);
	for (end = n; end > 1; end--) {
		swap(v, v + (end - 1) * size, size);
		sift(v, end - 1, 0, size, less, ctx);
	}
}
