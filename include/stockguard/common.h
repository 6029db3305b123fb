/**
 * @file stockguard/common.h
 * @brief Export macro, status codes, error messages and the allocator hook.
 *
 * Everything else in stockguard builds on this header: every function
 * returns one of the ::stg_status codes (0 success, negative failure), every
 * handle remembers the message of its last failure, and every handle can be
 * given its own allocator.
 */
#ifndef STOCKGUARD_COMMON_H
#define STOCKGUARD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Longest integration name, SKU or category accepted, in bytes, without the
 * terminator. Here, not in policy.h, because entries, submits and queries
 * use it too.
 */
#define STG_KEY_MAX 1024

/** @cond STG_INTERNAL */
#if defined(_WIN32) && defined(STG_BUILDING_DLL)
#  define STG_EXTERN __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define STG_EXTERN __attribute__((visibility("default")))
#else
#  define STG_EXTERN
#endif
/** @endcond */

/**
 * @brief Status codes returned by every fallible function.
 *
 * 0 is success; failures are negative. The numbers are part of the ABI:
 * they are never renumbered and never reused. A code that stops being
 * returned keeps its number and its name.
 */
typedef enum stg_status {
	STG_OK = 0,              /**< Success. */
	STG_EINVAL = -1,         /**< An argument is NULL, out of range or malformed. */
	STG_ENOMEM = -2,         /**< The allocator returned NULL. */
	STG_ERANGE = -3,         /**< A setting or quantity is outside its allowed range. */
	STG_ENOTFOUND = -4,      /**< No such entry, integration or override. */
	STG_EVERSION = -5,       /**< A host struct has a version this library does not know. */
	STG_ESTORAGE = -6,       /**< The storage hook reported a failure. */
	STG_ETRANSPORT = -7,     /**< The transport hook reported a failure of its own. */
	STG_EBUSY = -8,          /**< The entry has a job in flight (or, for stg_log_remove() without ::STG_REMOVE_FORCE, any pending job). */
	STG_ERECURSIVE = -9,     /**< A library call was made from inside one of its own hooks. */
	STG_ECORRUPT = -10,      /**< Encoded bytes fail their checksum or are malformed. */
	STG_ETRUNCATED = -11,    /**< Encoded bytes end before the record does. */
	STG_ESTATE = -12,        /**< The call does not fit the object's current state. */
	STG_EEXISTS = -13,       /**< Reserved: not returned by 1.x (kept so the number is never reused). */
	STG_ECALLBACK = -14,     /**< Reserved: not returned by 1.x; the clock and event hooks cannot fail. */
	STG_EOVERFLOW = -15,     /**< A result or buffer would not fit its type. */
	STG_ELIMIT = -16,        /**< A fixed limit of the library is reached (65,535 integrations per log). */
	STG_EFENCED = -17        /**< Storage says this log lost its ownership of the data (since 1.1.0; see ::stg_storage): it writes nothing more. */
} stg_status;

/**
 * @brief Static English text for a status code.
 *
 * @param code any integer; unknown codes give "unknown error".
 * @return a string with static storage duration; never NULL. Thread-safe.
 */
STG_EXTERN const char *stg_strerror(int code);

/**
 * @brief Message of the last failure of a constructor on this thread.
 *
 * Every failing call records its message here. Constructors such as
 * stg_policy_new() and stg_log_open() have no handle to keep it in, and the
 * calls that only read a shared policy must not write into it, so for them
 * this is the only place; the other calls record it on their handle as well
 * (stg_log_errmsg(), stg_policy_errmsg()).
 *
 * @return a string owned by the library, valid on this thread until the next
 *         stockguard call on this thread fails; "" when nothing failed yet.
 *         Never NULL. Thread-safe (thread-local storage).
 */
STG_EXTERN const char *stg_last_error(void);

/**
 * @brief Code of the last failure on this thread (0 when none yet).
 *
 * Thread-safe (thread-local storage).
 */
STG_EXTERN int stg_last_error_code(void);

/** Version of ::stg_allocator this header describes. */
#define STG_ALLOCATOR_VERSION 1

/**
 * @brief A host-supplied allocator, given to a constructor.
 *
 * The three functions follow the C library's contracts (realloc with a NULL
 * pointer allocates; free with NULL does nothing) and receive @p payload as
 * their last argument. All three must be set, or all three NULL for the C
 * library's malloc/realloc/free. The struct is copied by the constructor;
 * the functions and payload must stay valid until the handle is freed, and
 * must be safe to call from whichever thread uses the handle.
 */
typedef struct stg_allocator {
	unsigned int version;                                   /**< ::STG_ALLOCATOR_VERSION */
	void *(*malloc_fn)(size_t size, void *payload);         /**< allocate @p size bytes */
	void *(*realloc_fn)(void *ptr, size_t size, void *payload); /**< resize */
	void (*free_fn)(void *ptr, void *payload);              /**< release */
	void *payload;                                          /**< passed to each function */
} stg_allocator;

/** Static initialiser equal to stg_allocator_init(a, ::STG_ALLOCATOR_VERSION). */
#define STG_ALLOCATOR_INIT { STG_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL }

/**
 * @brief Fill @p a with the defaults for @p version (all functions NULL).
 *
 * @return ::STG_OK, ::STG_EINVAL when @p a is NULL, ::STG_EVERSION when
 *         @p version is not one this library knows.
 */
STG_EXTERN int stg_allocator_init(stg_allocator *a, unsigned int version);

#ifdef __cplusplus
}
#endif

#endif /* STOCKGUARD_COMMON_H */
