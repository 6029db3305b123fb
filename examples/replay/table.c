/* The hash table of stockguard-replay (see table.h). */
#include "table.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h ^ (h >> 29);
}

struct node *table_find(const struct table *t, const char *key, size_t len)
{
	uint64_t h;
	struct node *n;

	if (!t->nslots)
		return NULL;
	h = hash_bytes(key, len);
	for (n = t->slots[h & (t->nslots - 1)]; n; n = n->next)
		if (n->hash == h && n->keylen == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static int table_grow(struct table *t)
{
	size_t i, nslots = t->nslots ? t->nslots * 2 : 16;
	struct node **slots;

	if (nslots > SIZE_MAX / sizeof *slots)
		return -1;
	slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return -1;
	for (i = 0; i < t->nslots; i++) {
		struct node *n = t->slots[i], *next;
		for (; n; n = next) {
			next = n->next;
			n->next = slots[n->hash & (nslots - 1)];
			slots[n->hash & (nslots - 1)] = n;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

/* Add a zeroed node for a key known to be absent. NULL when out of memory. */
struct node *table_add(struct table *t, const char *key, size_t len)
{
	struct node *n;
	size_t b;

	if (t->count >= t->nslots && table_grow(t))
		return NULL;
	if (len > SIZE_MAX - sizeof *n - 1)
		return NULL;
	n = calloc(1, sizeof *n + len + 1);
	if (!n)
		return NULL;
	memcpy(n->key, key, len);
	n->key[len] = '\0';
	n->keylen = len;
	n->hash = hash_bytes(key, len);
	b = n->hash & (t->nslots - 1);
	n->next = t->slots[b];
	t->slots[b] = n;
	t->count++;
	return n;
}

/* Call @p fn on every node (in no particular order). */
void table_each(const struct table *t, void (*fn)(struct node *, void *), void *arg)
{
	size_t i;
	struct node *n;

	for (i = 0; i < t->nslots; i++)
		for (n = t->slots[i]; n; n = n->next)
			fn(n, arg);
}

/* Free the nodes; @p fn (may be NULL) releases what a node's ptr owns. */
void table_free(struct table *t, void (*fn)(void *))
{
	size_t i;

	for (i = 0; i < t->nslots; i++) {
		struct node *n = t->slots[i], *next;
		for (; n; n = next) {
			next = n->next;
			if (fn)
				fn(n->ptr);
			free(n);
		}
	}
	free(t->slots);
	memset(t, 0, sizeof *t);
}

struct node *table_get(struct table *t, const char *key, size_t len)
{
	struct node *n = table_find(t, key, len);

	return n ? n : table_add(t, key, len);
}
