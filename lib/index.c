/*
 * The (integration, SKU) index: open addressing over 4-byte slots, linear
 * probing at a load of at most 3/4, backward-shift deletion (no
 * tombstones); 4 bytes per slot, 5.3 to 10.7 bytes per entry.
 *
 * A slot holds the entry index + 1 (0 is empty) in its low bits and, in the
 * bits the index does not need, a tag: bits of the key's hash. A probe
 * past another key then reads the entry only when the tags agree, instead
 * of a cache miss into the entry table per slot passed. Entry indices stay
 * below the slot count (the table never holds more entries than 3/4 of the
 * slots), so a table of 2^k slots needs k + 1 bits: 10 tag bits at a
 * million entries, 7 at ten million. The full hash is not stored: the
 * rehash on growth or deletion reads the inline SKU from the entry.
 *
 * The hash takes the SKU 8 bytes at a time (multiply and xor-shift per word,
 * then a 64-bit finaliser): a few cycles for a 12-character SKU where
 * byte-wise FNV took one multiply per byte, and every output bit depends on
 * every input bit, which linear probing with a power-of-two mask needs.
 */
#include "hashtab.h"
#include "index.h"
#include "entries.h"

#define K_SEED 0x9e3779b97f4a7c15ull
#define K_WORD 0xff51afd7ed558ccdull
#define K_FIN 0xc4ceb9fe1a85ec53ull

static inline uint64_t word_mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= K_WORD;
	return h ^ (h >> 32);
}

static inline uint64_t finish(uint64_t h)
{
	h ^= h >> 33;
	h *= K_FIN;
	return h ^ (h >> 29);
}

/* A short SKU: its two zero-padded words. A NUL cannot occur in a key, so
 * the padding is unambiguous. */
static inline uint64_t hash_short(uint32_t integ, const uint64_t w[2])
{
	uint64_t h = ((uint64_t)integ + 1) * K_SEED;
	h = word_mix(h, w[0]);
	h = word_mix(h, w[1]);
	return finish(h);
}

static uint64_t hash_long(uint32_t integ, const char *s, size_t len)
{
	uint64_t h = ((uint64_t)integ + 1) * K_SEED ^ (uint64_t)len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = word_mix(h, w);
	}
	if (i < len) {
		uint64_t w = 0;
		memcpy(&w, s + i, len - i);
		h = word_mix(h, w);
	}
	return finish(h);
}

void stg__key_make(stg__key *k, uint32_t integ, const char *sku, size_t len)
{
	k->sku = sku;
	k->len = (uint32_t)len;
	k->integ = integ;
	if (len <= STG__SKU_INLINE_MAX) {
		k->w[0] = k->w[1] = 0;
		memcpy(k->w, sku, len);
		k->hash = hash_short(integ, k->w);
	} else {
		k->hash = hash_long(integ, sku, len);
	}
}

uint64_t stg__ent_hash(const stg__ent *e)
{
	uint64_t w[2];

	if (e->bits & STG__B_SKU_HEAP)
		return hash_long(e->integ, e->sku.out.ptr, e->sku.out.len);
	memcpy(w, e->sku.in, sizeof w);
	return hash_short(e->integ, w);
}

static inline int key_eq(const stg__ent *e, const stg__key *k)
{
	if (e->integ != k->integ)
		return 0;
	if (k->len <= STG__SKU_INLINE_MAX) {
		uint64_t w[2];
		memcpy(w, e->sku.in, sizeof w); /* two loads, no call */
		return !(e->bits & STG__B_SKU_HEAP) && w[0] == k->w[0] && w[1] == k->w[1];
	}
	return (e->bits & STG__B_SKU_HEAP) && e->sku.out.len == k->len &&
	       memcmp(e->sku.out.ptr, k->sku, k->len) == 0;
}

/* The tag of a hash: its high half, in the slot bits above the index. */
static inline uint32_t tag_of(uint64_t hash, uint32_t idx_mask)
{
	return (uint32_t)(hash >> 32) & ~idx_mask;
}

int stg__index_find(const stg_log *log, const stg__key *k, uint32_t *idx)
{
	uint32_t mask, i, s, imask = log->slot_idx_mask, tag;

	if (!log->slots_cap)
		return 0;
	mask = log->slots_cap - 1;
	tag = tag_of(k->hash, imask);
	for (i = (uint32_t)k->hash & mask; (s = log->slots[i]) != 0; i = (i + 1) & mask) {
		if ((s & ~imask) == tag && key_eq(stg__ent_at(log, (s & imask) - 1), k)) {
			*idx = (s & imask) - 1;
			return 1;
		}
	}
	return 0;
}

int stg__index_is(const stg_log *log, const stg__key *k, uint32_t idx)
{
	const stg__ent *e;

	if (idx >= log->nents)
		return 0;
	e = stg__ent_at(log, idx);
	return stg__ent_live(e) && key_eq(e, k);
}

static void place(uint32_t *slots, uint32_t mask, uint32_t imask, uint64_t hash, uint32_t idx)
{
	uint32_t i;

	for (i = (uint32_t)hash & mask; slots[i]; i = (i + 1) & mask)
		;
	slots[i] = tag_of(hash, imask) | (idx + 1);
}

/* Same integration and SKU. */
static int ent_eq(const stg__ent *a, const stg__ent *b)
{
	if (a->integ != b->integ || (a->bits & STG__B_SKU_HEAP) != (b->bits & STG__B_SKU_HEAP))
		return 0;
	if (!(a->bits & STG__B_SKU_HEAP))
		return memcmp(a->sku.in, b->sku.in, sizeof a->sku.in) == 0;
	return a->sku.out.len == b->sku.out.len &&
	       memcmp(a->sku.out.ptr, b->sku.out.ptr, a->sku.out.len) == 0;
}

/*
 * Walk the entries, not the old slots (the table is read in order), in
 * blocks: the hashes of a block first, with a prefetch of each home slot,
 * then the placements. With a table far larger than the caches every
 * placement is a miss; issued a block ahead, the misses overlap instead of
 * following one another. With dup, a key met twice stops the fill:
 * STG_ECORRUPT, *dup the later entry.
 */
#define FILL_BLOCK 32

static int fill(stg_log *log, uint32_t *ns, uint32_t ncap, uint32_t imask, uint32_t *dup)
{
	uint32_t mask = ncap - 1, base, i;
	uint64_t hashes[FILL_BLOCK];
	uint32_t ids[FILL_BLOCK];

	for (base = 0; base < log->nents; base += FILL_BLOCK) {
		uint32_t n = 0, end = log->nents - base < FILL_BLOCK ? log->nents : base + FILL_BLOCK;

		for (i = base; i < end; i++) {
			const stg__ent *e = stg__ent_at(log, i);
			if (!stg__ent_live(e))
				continue;
			hashes[n] = stg__ent_hash(e);
			ids[n] = i;
			STG__PREFETCH(&ns[(uint32_t)hashes[n] & mask]);
			n++;
		}
		for (i = 0; i < n; i++) {
			uint32_t j, s, tag = tag_of(hashes[i], imask);

			for (j = (uint32_t)hashes[i] & mask; (s = ns[j]) != 0; j = (j + 1) & mask) {
				if (dup && (s & ~imask) == tag &&
				    ent_eq(stg__ent_at(log, (s & imask) - 1), stg__ent_at(log, ids[i]))) {
					*dup = ids[i];
					return STG_ECORRUPT;
				}
			}
			ns[j] = tag | (ids[i] + 1);
		}
	}
	return STG_OK;
}

/* The index mask of a table of ncap slots: index + 1 <= ncap needs
 * log2(ncap) + 1 bits; the rest is tag. */
static uint32_t idx_mask_for(uint32_t ncap)
{
	unsigned bits;

	for (bits = 1; (UINT64_C(1) << (bits - 1)) < ncap; bits++)
		;
	return bits >= 32 ? UINT32_MAX : (UINT32_C(1) << bits) - 1;
}

/* A new table of ncap slots filled from the entries (twins refused when dup
 * is given), swapped in on success; the old one stays on failure. */
static int rebuild(stg_log *log, uint32_t ncap, uint32_t *dup)
{
	uint32_t imask = idx_mask_for(ncap);
	uint32_t *ns = stg__calloc(&log->alloc, ncap, sizeof *ns);
	int rc;

	if (!ns)
		return STG_ENOMEM;
	if ((rc = fill(log, ns, ncap, imask, dup))) {
		stg__free(&log->alloc, ns);
		return rc;
	}
	stg__free(&log->alloc, log->slots);
	log->slots = ns;
	log->slots_cap = ncap;
	log->slot_idx_mask = imask;
	return STG_OK;
}

int stg__index_reserve(stg_log *log)
{
	if ((uint64_t)(log->live + 1) * 4 <= (uint64_t)log->slots_cap * 3)
		return STG_OK;
	if (log->slots_cap >= (UINT32_C(1) << 31))
		return STG_ENOMEM;
	/* The keys are known distinct: no twin check. */
	return rebuild(log, log->slots_cap ? log->slots_cap * 2 : 16, NULL);
}

void stg__index_insert(stg_log *log, uint64_t hash, uint32_t idx)
{
	place(log->slots, log->slots_cap - 1, log->slot_idx_mask, hash, idx);
}

/* The smallest table (from 16 slots) for live + extra entries at a load of
 * at most 3/4, as stg__index_reserve() keeps; 0 when it would pass 2^31. */
static uint32_t cap_for(const stg_log *log, uint64_t extra)
{
	uint32_t ncap = 16;

	while (((uint64_t)log->live + extra) * 4 > (uint64_t)ncap * 3) {
		if (ncap >= (UINT32_C(1) << 31))
			return 0;
		ncap *= 2;
	}
	return ncap;
}

int stg__index_reserve_for(stg_log *log, size_t extra)
{
	uint32_t ncap;

	if (extra > (UINT32_C(1) << 30))
		extra = UINT32_C(1) << 30;
	if (!(ncap = cap_for(log, extra)))
		return STG_ENOMEM;
	return ncap > log->slots_cap ? rebuild(log, ncap, NULL) : STG_OK;
}

int stg__index_build(stg_log *log, uint32_t *dup)
{
	uint32_t ncap = cap_for(log, 1);

	return ncap ? rebuild(log, ncap, dup) : STG_ENOMEM;
}

/* A slot's home: the hash of the entry it holds (slots keep no hash). */
static size_t slot_home(const void *slot, void *ctx)
{
	const stg_log *log = ctx;
	uint32_t v;

	memcpy(&v, slot, sizeof v);
	if (!v)
		return SIZE_MAX;
	return (size_t)stg__ent_hash(stg__ent_at(log, (v & log->slot_idx_mask) - 1)) & (log->slots_cap - 1);
}

void stg__index_delete(stg_log *log, uint32_t idx)
{
	uint32_t mask = log->slots_cap - 1, imask = log->slot_idx_mask, i;
	const stg__table t = { log->slots, sizeof *log->slots, mask, slot_home, log };

	for (i = (uint32_t)stg__ent_hash(stg__ent_at(log, idx)) & mask;
	     (log->slots[i] & imask) != idx + 1; i = (i + 1) & mask)
		;
	stg__table_delete(&t, i);
}

int stg__log_find(const stg_log *log, uint32_t integ, const char *sku, size_t len, uint32_t *out)
{
	stg__key k;

	stg__key_make(&k, integ, sku, len);
	return stg__index_find(log, &k, out);
}
