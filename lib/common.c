/* Status text, last-error slots, key checks and hashing. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "internal.h"
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
	case STG_EFENCED: return "storage ownership lost (fenced)";
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
