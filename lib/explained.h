/*
 * The explain byte: where an entry's minimum came from and which rule set
 * its quantity, in one byte of the hot entry (stg__ent.explain) and of the
 * stored encoding (entry format 2). Never installed.
 */
#ifndef STOCKGUARD_EXPLAINED_H
#define STOCKGUARD_EXPLAINED_H

#include "stockguard/entry.h"
#include "stockguard/policy.h"

#include <stdint.h>

/* stg__ent.explain: bit 7 recorded, bits 3-4 ::stg_min_source, bits 0-2 ::stg_rule.
 * The same byte is stored by the entry codec (format version 2). */
#define STG__EXPLAIN_SET 0x80u

static inline uint8_t stg__explain_pack(int source, int rule)
{
	return (uint8_t)(STG__EXPLAIN_SET | (unsigned)source << 3 | (unsigned)rule);
}

/* Unpack into min_source and rule, -1 each when not recorded. */
static inline void stg__explain_unpack(uint8_t x, int *source, int *rule)
{
	*source = (x & STG__EXPLAIN_SET) ? (x >> 3) & 3 : -1;
	*rule = (x & STG__EXPLAIN_SET) ? x & 7 : -1;
}

/* The explain byte of a host's entry: 1 and the byte (0 for a version-1
 * entry, or min_source and rule both -1), or 0 when the fields are out of
 * range (one known and one -1 included). */
static inline int stg__explain_of_entry(const stg_entry *in, uint8_t *out)
{
	*out = 0;
	if (in->version < 2 || (in->min_source == -1 && in->rule == -1))
		return 1;
	if (in->min_source < STG_MIN_DEFAULT || in->min_source > STG_MIN_SKU ||
	    in->rule < STG_RULE_AVAILABLE || in->rule > STG_RULE_CAP)
		return 0;
	*out = stg__explain_pack(in->min_source, in->rule);
	return 1;
}

#endif
