/*
 * Internal helpers shared by the library's source files. Never installed.
 * Names shared between files use the double underscore (stg__name).
 */
#ifndef STOCKGUARD_INTERNAL_H
#define STOCKGUARD_INTERNAL_H

#include "stockguard/common.h"

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#if defined(__GNUC__)
#  define STG__PRINTF(f, a) __attribute__((format(printf, f, a)))
#  define STG__LIKELY(x) __builtin_expect(!!(x), 1)
#  define STG__UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define STG__PREFETCH(p) __builtin_prefetch(p)
/* Error paths: out of line and out of the hot code's cache lines. */
#  define STG__COLD __attribute__((cold, noinline))
#else
#  define STG__PRINTF(f, a)
#  define STG__LIKELY(x) (x)
#  define STG__UNLIKELY(x) (x)
#  define STG__PREFETCH(p) ((void)(p))
#  define STG__COLD
#endif

/*
 * Batch kernels built twice, for AVX2 and for the baseline, the right one
 * picked once at load time (an ifunc). The baseline x86-64 has no 64-bit
 * signed compare in SIMD, so without this the batch loops over int64 cannot
 * be vectorised at all. Only where ifuncs exist: GCC on x86-64 glibc Linux.
 * Not under ThreadSanitizer: the ifunc resolver runs while the dynamic
 * loader relocates the library, before the TSan runtime is up, and its
 * instrumented entry crashes the process.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
	defined(__GLIBC__) && !defined(STG_NO_TARGET_CLONES) && !defined(__SANITIZE_THREAD__)
#  define STG__VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#  define STG__VECTOR_CLONES
#endif

/* Length of the per-handle message buffers. */
#define STG__ERRMSG_LEN 256

/* The allocator a handle was created with, resolved to callable functions. */
typedef struct stg__alloc {
	void *(*malloc_fn)(size_t, void *);
	void *(*realloc_fn)(void *, size_t, void *);
	void (*free_fn)(void *, void *);
	void *payload;
} stg__alloc;

/* Resolve a host allocator (NULL = libc), checking its version. Records the
 * error, prefixed with @fn, on failure. */
int stg__alloc_from(stg__alloc *out, const stg_allocator *host, const char *fn);

void *stg__malloc(const stg__alloc *a, size_t size);
void *stg__calloc(const stg__alloc *a, size_t count, size_t size);
void *stg__realloc(const stg__alloc *a, void *ptr, size_t size);
void stg__free(const stg__alloc *a, void *ptr);
char *stg__strdup(const stg__alloc *a, const char *s, size_t len);
/* Room for @need elements of @size bytes in block @v of *cap: the block's
 * new address with *cap updated, or NULL (block and *cap unchanged). */
void *stg__grow(const stg__alloc *a, void *v, uint32_t *cap, uint64_t need, size_t size, uint32_t first);
/* Give memory back when little of *cap is used: the block to keep. */
void *stg__shrink(const stg__alloc *a, void *v, uint32_t *cap, uint32_t len, size_t size);

/*
 * Record a failure: formats the message into @buf (a handle's buffer, may be
 * NULL) and into the thread's last-error slot, and returns @code so callers
 * can write `return stg__fail(...)`.
 */
int stg__fail(char *buf, int code, const char *fmt, ...) STG__PRINTF(3, 4);

/* Validate a NUL-terminated key: non-NULL, 1..STG_KEY_MAX bytes. */
int stg__key_ok(const char *key, size_t *len);

/* 64-bit FNV-1a then a final mix; good enough for open addressing. */
uint64_t stg__hash(const void *data, size_t len, uint64_t seed);

#endif
