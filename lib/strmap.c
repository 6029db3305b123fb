/* String-keyed map for policy overrides (see strmap.h). */
#include "hashtab.h"
#include "strmap.h"

#include <string.h>

void stg__strmap_free(stg__strmap *m, const stg__alloc *a)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		stg__free(a, m->slots[i].key);
	stg__free(a, m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

static size_t find(const stg__strmap *m, const char *key, size_t len, uint64_t h, int *found)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;

	for (;;) {
		const stg__strmap_slot *s = &m->slots[i];
		if (!s->key) {
			*found = 0;
			return i;
		}
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

int stg__strmap_get(const stg__strmap *m, const char *key, size_t len, int64_t *value)
{
	int found;
	size_t i;

	if (m->count == 0)
		return 0;
	i = find(m, key, len, stg__hash(key, len, 0), &found);
	if (found && value)
		*value = m->slots[i].value;
	return found;
}

static int grow(stg__strmap *m, const stg__alloc *a)
{
	size_t ncap = m->cap ? m->cap * 2 : 8, i;
	stg__strmap_slot *ns = stg__calloc(a, ncap, sizeof *ns);

	if (!ns)
		return STG_ENOMEM;
	for (i = 0; i < m->cap; i++) {
		stg__strmap_slot *s = &m->slots[i];
		size_t j;
		if (!s->key)
			continue;
		j = (size_t)s->hash & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	stg__free(a, m->slots);
	m->slots = ns;
	m->cap = ncap;
	return STG_OK;
}

int stg__strmap_put(stg__strmap *m, const stg__alloc *a, const char *key, size_t len, int64_t value)
{
	uint64_t h = stg__hash(key, len, 0);
	int found = 0;
	size_t i;
	char *copy;

	if (m->cap) {
		i = find(m, key, len, h, &found);
		if (found) {
			m->slots[i].value = value;
			return STG_OK;
		}
	}
	copy = stg__strdup(a, key, len);
	if (!copy)
		return STG_ENOMEM;
	/* Keep the load factor at or below 3/4. */
	if ((m->count + 1) * 4 > m->cap * 3 && grow(m, a) != STG_OK) {
		stg__free(a, copy);
		return STG_ENOMEM;
	}
	i = find(m, key, len, h, &found);
	m->slots[i].key = copy;
	m->slots[i].len = len;
	m->slots[i].hash = h;
	m->slots[i].value = value;
	m->count++;
	return STG_OK;
}

/* A slot's home from its stored hash; @ctx is the table's mask. */
static size_t slot_home(const void *slot, void *ctx)
{
	const stg__strmap_slot *s = slot;

	return s->key ? (size_t)s->hash & *(const size_t *)ctx : SIZE_MAX;
}

int stg__strmap_del(stg__strmap *m, const stg__alloc *a, const char *key, size_t len)
{
	stg__table t;
	size_t i;
	int found;

	if (m->count == 0)
		return 0;
	i = find(m, key, len, stg__hash(key, len, 0), &found);
	if (!found)
		return 0;
	stg__free(a, m->slots[i].key);
	m->count--;
	t = (stg__table){ m->slots, sizeof *m->slots, m->cap - 1, slot_home, NULL };
	t.ctx = &t.mask;
	stg__table_delete(&t, i);
	return 1;
}

int stg__strmap_copy(stg__strmap *dst, const stg__strmap *src, const stg__alloc *a)
{
	size_t i;

	dst->slots = NULL;
	dst->cap = dst->count = 0;
	if (src->count == 0)
		return STG_OK;
	dst->slots = stg__calloc(a, src->cap, sizeof *dst->slots);
	if (!dst->slots)
		return STG_ENOMEM;
	dst->cap = src->cap;
	for (i = 0; i < src->cap; i++) {
		if (!src->slots[i].key)
			continue;
		dst->slots[i] = src->slots[i];
		dst->slots[i].key = stg__strdup(a, src->slots[i].key, src->slots[i].len);
		if (!dst->slots[i].key) {
			stg__strmap_free(dst, a);
			return STG_ENOMEM;
		}
		dst->count++;
	}
	return STG_OK;
}
