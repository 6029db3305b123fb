/**
 * @file stockguard/version.h
 * @brief Compile-time and run-time version of stockguard.
 *
 * This header is the single source of the version: the build reads the
 * macros below, and the library reports the same numbers at run time, so a
 * host can check that the library it loaded is the one it compiled against:
 * @code
 * assert(stg_version_number() == STG_VERSION_NUM);
 * @endcode
 */
#ifndef STOCKGUARD_VERSION_H
#define STOCKGUARD_VERSION_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STG_VERSION_MAJOR 1        /**< Incompatible ABI changes (the SONAME). */
#define STG_VERSION_MINOR 1        /**< Compatible additions. */
#define STG_VERSION_PATCH 0        /**< Fixes only. */
#define STG_VERSION_STRING "1.1.0" /**< "MAJOR.MINOR.PATCH". */

/** The version as 0xMMmmpp, comparable with <. */
#define STG_VERSION_NUM \
	((STG_VERSION_MAJOR << 16) | (STG_VERSION_MINOR << 8) | STG_VERSION_PATCH)

/** True when the headers are at least version @p x.@p y.@p z. */
#define STG_VERSION_AT_LEAST(x, y, z) \
	(STG_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))

/**
 * @brief The library's version as 0xMMmmpp (equals ::STG_VERSION_NUM of the
 *        headers it was built with). Thread-safe.
 */
STG_EXTERN unsigned int stg_version_number(void);

/**
 * @brief The library's version as "MAJOR.MINOR.PATCH".
 * @return static storage; never NULL. Thread-safe.
 */
STG_EXTERN const char *stg_version_string(void);

/**
 * @brief The library's version split in parts; any pointer may be NULL.
 * Thread-safe.
 */
STG_EXTERN void stg_version(int *major, int *minor, int *patch);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_VERSION_H */
