/*
 * Versions of the host-filled structs: the one check and the one copy every
 * entry point uses. Never installed.
 *
 * The rule (stated for users in hooks.h): a struct of any version from 1 to
 * the one this library knows is accepted. A struct the library keeps (a hook,
 * the allocator, the options) is copied by the size its version implies, and
 * the fields newer than that version take their defaults, so the copy is
 * always of the newest version and the rest of the library never looks at a
 * version again. A struct read in place (a change, a submit, a query, a
 * transport result, an entry) is only checked: code that reads a field
 * added in version n reads it only when `version >= n` (SQLite's iVersion
 * rule), else uses its default.
 */
#ifndef STOCKGUARD_VERSIONS_H
#define STOCKGUARD_VERSIONS_H

#include "internal.h"

/* What the library knows of one versioned struct. */
typedef struct stg__vstruct {
	const char *name;      /* in messages: "storage" */
	unsigned int known;    /* the newest version this library knows (its header's) */
	const size_t *sizes;   /* sizes[v - 1]: the bytes a struct of version v has */
	const void *defaults;  /* the _INIT value of version `known` */
} stg__vstruct;

extern const stg__vstruct stg__v_allocator, stg__v_change, stg__v_entry, stg__v_storage,
	stg__v_result, stg__v_transport, stg__v_clock, stg__v_events, stg__v_log_options,
	stg__v_submit, stg__v_query, stg__v_message_rule, stg__v_observation,
	stg__v_integration_state;

/* Nonzero when @v is outside 1..@known: one unsigned compare, for hot paths. */
#define STG__VERSION_BAD(v, known) ((unsigned int)(v) - 1u >= (unsigned int)(known))

/*
 * ::STG_EVERSION with "<fn>: <name> version <v> unknown (this library knows
 * versions 1 to <known>)", into @buf (a handle's message, may be NULL) and
 * the thread's last error. Out of line: only failing calls format.
 */
int stg__version_fail(char *buf, const char *fn, const stg__vstruct *t, unsigned int v);

/* STG_OK, or stg__version_fail() when the struct at @p has an unknown version. */
int stg__version_check(char *buf, const char *fn, const stg__vstruct *t, const void *p);

/*
 * Check @src and copy it into @dst (a struct of version t->known): the bytes
 * its version has, the defaults for the rest; dst's version becomes
 * t->known. Never reads past the size src's version implies.
 */
int stg__version_copy(char *buf, const char *fn, const stg__vstruct *t, const void *src, void *dst);

/* The body of every stg_<name>_init(): the defaults of version @v, its size only. */
int stg__version_init(const char *fn, const stg__vstruct *t, void *p, unsigned int v);

#define STG__DEFINE_INIT(fn, type, desc)                                                  \
	STG_EXTERN int fn(type *p, unsigned int version)                                   \
	{                                                                                  \
		return stg__version_init(#fn, &(desc), p, version);                        \
	}

#endif
