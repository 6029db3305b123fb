/*
 * A string-keyed hash table for stockguard-replay (separate chaining, grows
 * at load 1). Keys are byte strings with a length, copied into the node.
 * Each node has room for a pointer and two integers; each user says what
 * they mean.
 */
#ifndef REPLAY_TABLE_H
#define REPLAY_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct node {
	struct node *next;
	uint64_t hash;
	void *ptr;
	int64_t num[2];
	int flag;
	size_t keylen;
	char key[];
};

struct table {
	struct node **slots;
	size_t nslots; /* a power of two, or 0 before the first insert */
	size_t count;
};

struct node *table_find(const struct table *t, const char *key, size_t len);
/* Add a zeroed node for a key known to be absent. NULL when out of memory. */
struct node *table_add(struct table *t, const char *key, size_t len);
/* The node of @p key, added zeroed when absent. NULL when out of memory. */
struct node *table_get(struct table *t, const char *key, size_t len);
/* Call @p fn on every node (in no particular order). */
void table_each(const struct table *t, void (*fn)(struct node *, void *), void *arg);
/* Free the nodes; @p fn (may be NULL) releases what a node's ptr owns. */
void table_free(struct table *t, void (*fn)(void *));

#endif
