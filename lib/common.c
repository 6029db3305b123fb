/* Status text, last-error slots and the allocator plumbing. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "versions.h"
#include "stockguard/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_MSC_VER)
#  define STG__TLS __declspec(thread)
#else
#  define STG__TLS _Thread_local
#endif

static STG__TLS char tls_msg[STG__ERRMSG_LEN];
static STG__TLS int tls_code;

STG_EXTERN const char *stg_strerror(int code)
{
	switch (code) {
	case STG_OK: return "success";
	case STG_EINVAL: return "invalid argument";
	case STG_ENOMEM: return "out of memory";
	case STG_ERANGE: return "value out of range";
	case STG_ENOTFOUND: return "not found";
	case STG_EVERSION: return "unsupported struct version";
	case STG_ESTORAGE: return "storage hook failed";
	case STG_ETRANSPORT: return "transport hook failed";
	case STG_EBUSY: return "entry has a job in flight or pending";
	case STG_ERECURSIVE: return "library called from inside its own hook";
	case STG_ECORRUPT: return "corrupt encoded data";
	case STG_ETRUNCATED: return "truncated encoded data";
	case STG_ESTATE: return "operation not valid in the current state";
	case STG_EEXISTS: return "already exists";
	case STG_ECALLBACK: return "hook failed";
	case STG_EOVERFLOW: return "result does not fit";
	case STG_ELIMIT: return "limit of the library reached";
	default: return "unknown error";
	}
}

STG_EXTERN const char *stg_last_error(void)
{
	return tls_msg;
}

STG_EXTERN int stg_last_error_code(void)
{
	return tls_code;
}

int stg__fail(char *buf, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tls_msg, sizeof tls_msg, fmt, ap);
	va_end(ap);
	tls_code = code;
	if (buf)
		memcpy(buf, tls_msg, sizeof tls_msg);
	return code;
}

static void *libc_malloc(size_t n, void *p) { (void)p; return malloc(n); }
static void *libc_realloc(void *q, size_t n, void *p) { (void)p; return realloc(q, n); }
static void libc_free(void *q, void *p) { (void)p; free(q); }

int stg__alloc_from(stg__alloc *out, const stg_allocator *given, const char *fn)
{
	stg_allocator copy, *host = &copy;
	int rc;

	if (!given) {
		out->malloc_fn = libc_malloc;
		out->realloc_fn = libc_realloc;
		out->free_fn = libc_free;
		out->payload = NULL;
		return STG_OK;
	}
	if ((rc = stg__version_copy(NULL, fn, &stg__v_allocator, given, &copy)))
		return rc;
	if (!host->malloc_fn && !host->realloc_fn && !host->free_fn) {
		rc = stg__alloc_from(out, NULL, fn);
		out->payload = host->payload;
		return rc;
	}
	if (!host->malloc_fn || !host->realloc_fn || !host->free_fn)
		return stg__fail(NULL, STG_EINVAL,
		                 "%s: allocator: set all of malloc_fn, realloc_fn and free_fn, or none", fn);
	out->malloc_fn = host->malloc_fn;
	out->realloc_fn = host->realloc_fn;
	out->free_fn = host->free_fn;
	out->payload = host->payload;
	return STG_OK;
}

void *stg__malloc(const stg__alloc *a, size_t size)
{
	return a->malloc_fn(size ? size : 1, a->payload);
}

void *stg__calloc(const stg__alloc *a, size_t count, size_t size)
{
	void *p;

	if (size && count > SIZE_MAX / size)
		return NULL;
	p = stg__malloc(a, count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

void *stg__realloc(const stg__alloc *a, void *ptr, size_t size)
{
	return a->realloc_fn(ptr, size ? size : 1, a->payload);
}

void stg__free(const stg__alloc *a, void *ptr)
{
	if (ptr)
		a->free_fn(ptr, a->payload);
}

char *stg__strdup(const stg__alloc *a, const char *s, size_t len)
{
	char *d = stg__malloc(a, len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

int stg__key_ok(const char *key, size_t *len)
{
	size_t n;

	if (!key)
		return 0;
	/* Bounded scan: a key without a terminator in range is refused, not read
	 * on. strnlen: the library's, a word at a time (every submit checks two keys). */
	n = strnlen(key, STG_KEY_MAX + 1);
	if (n == 0 || n > STG_KEY_MAX)
		return 0;
	if (len)
		*len = n;
	return 1;
}

uint64_t stg__hash(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ull ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}
