/* Backward-shift deletion for the open-addressing tables (see hashtab.h). */
#include "hashtab.h"

void stg__table_delete(const stg__table *t, size_t i)
{
	unsigned char *s = t->slots;
	size_t j, home, size = t->size, mask = t->mask;

	memset(s + i * size, 0, size);
	for (j = (i + 1) & mask; (home = t->home(s + j * size, t->ctx)) != SIZE_MAX; j = (j + 1) & mask) {
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			memcpy(s + i * size, s + j * size, size);
			memset(s + j * size, 0, size);
			i = j;
		}
	}
}
