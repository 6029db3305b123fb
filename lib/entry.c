/* Entry names, HTTP classification and the versioned binary encoding. */
#include "explained.h"
#include "records.h"
#include "versions.h"
#include "crc32_tables.h"
#include "stockguard/entry.h"
#include "stockguard/filter.h"
#include "stockguard/policy.h"

#include <string.h>

/* Format 2 (1.1) stores the explain byte (stg__explain_pack()) where format 1
 * had a zero byte; both decode. */
#define FMT_VERSION 2
#define FIXED_LEN 124 /* magic(3) + version(1) + small(8: 5 enums, explain, http) + flags(4) + 3 attempt counts(12) + 11*8 + id(8) */


STG_EXTERN const char *stg_entry_status_name(int status)
{
	switch (status) {
	case STG_ENTRY_PENDING: return "pending";
	case STG_ENTRY_SUCCESS: return "success";
	case STG_ENTRY_ERROR: return "error";
	default: return "unknown";
	}
}

STG_EXTERN const char *stg_error_class_name(int c)
{
	switch (c) {
	case STG_ERRCLASS_NONE: return "none";
	case STG_ERRCLASS_AUTH: return "auth";
	case STG_ERRCLASS_NOT_CATALOGUED: return "not_catalogued";
	case STG_ERRCLASS_RATE_LIMITED: return "rate_limited";
	case STG_ERRCLASS_TRANSIENT: return "transient";
	case STG_ERRCLASS_REJECTED: return "rejected";
	case STG_ERRCLASS_CONFLICT: return "conflict";
	default: return "unknown";
	}
}

STG_EXTERN const char *stg_job_state_name(int s)
{
	switch (s) {
	case STG_JOB_NONE: return "none";
	case STG_JOB_QUEUED: return "queued";
	case STG_JOB_IN_FLIGHT: return "in_flight";
	case STG_JOB_HELD: return "held";
	default: return "unknown";
	}
}

STG_EXTERN int stg_classify_http(int status)
{
	if (status == 401 || status == 403)
		return STG_ERRCLASS_AUTH;
	if (status == 429)
		return STG_ERRCLASS_RATE_LIMITED;
	if (status == 408 || status == 425)
		return STG_ERRCLASS_TRANSIENT;
	if (status >= 400 && status < 500)
		return STG_ERRCLASS_REJECTED;
	return STG_ERRCLASS_TRANSIENT;
}

/* CRC-32 (IEEE, reflected polynomial 0xedb88320), slicing-by-8: eight
 * bytes per step through eight tables, about a fifth of the byte-at-a-time
 * work (the checksum was most of a decode, and a reopen decodes every
 * entry). The bytes are assembled explicitly, so the result does not depend
 * on the host's byte order. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	const uint32_t(*t)[256] = stg__crc32_slice;
	uint32_t c = 0xffffffffu;

	for (; n >= 8; p += 8, n -= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		                   (uint32_t)p[3] << 24);
		c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^
		    t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
	}
	for (; n; p++, n--)
		c = t[0][(c ^ *p) & 0xffu] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static unsigned char *put_u16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	return p + 2;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
	int i;
	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
	int i;
	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return p + 8;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int fields_ok(int status, int job_state, int error_class, int priority, int reason,
                     int http_status)
{
	return status >= STG_ENTRY_PENDING && status <= STG_ENTRY_ERROR &&
	       job_state >= STG_JOB_NONE && job_state <= STG_JOB_HELD &&
	       error_class >= 0 && error_class < STG_ERRCLASS_COUNT &&
	       priority >= STG_PRIORITY_URGENT && priority <= STG_PRIORITY_NORMAL &&
	       reason >= 0 && reason < STG_REASON_COUNT && http_status >= 0 && http_status <= 999;
}

/* A stored explain byte: recorded, a known source and rule, no other bits. */
static int explain_byte_ok(unsigned x)
{
	return (x & STG__EXPLAIN_SET) && !(x & 0x60u) && ((x >> 3) & 3) <= STG_MIN_SKU &&
	       (x & 7) <= STG_RULE_CAP;
}

STG_EXTERN int stg_entry_encode(const stg_entry *e, void *buf, size_t cap, size_t *len)
{
	size_t ilen, slen, mlen = 0, need;
	unsigned char *p;
	const int64_t *nums[11];
	uint8_t explain;
	int i;

	if (!e || !len)
		return stg__fail(NULL, STG_EINVAL, "stg_entry_encode: NULL %s", e ? "len" : "entry");
	if ((i = stg__version_check(NULL, "stg_entry_encode", &stg__v_entry, e)))
		return i;
	if (!stg__key_ok(e->integration, &ilen) || !stg__key_ok(e->sku, &slen))
		return stg__fail(NULL, STG_EINVAL,
		                 "stg_entry_encode: integration and sku must be 1 to %d bytes",
		                 STG_KEY_MAX);
	if (e->message) {
		while (mlen <= STG_MESSAGE_MAX && e->message[mlen])
			mlen++;
		if (mlen > STG_MESSAGE_MAX)
			return stg__fail(NULL, STG_EINVAL, "stg_entry_encode: message over %d bytes",
			                 STG_MESSAGE_MAX);
	}
	if (!fields_ok(e->status, e->job_state, e->error_class, e->priority, e->reason,
	               e->http_status) || !stg__explain_of_entry(e, &explain))
		return stg__fail(NULL, STG_EINVAL, "stg_entry_encode: a field is out of range");
	if (!buf && cap)
		return stg__fail(NULL, STG_EINVAL, "stg_entry_encode: NULL buffer with capacity %zu", cap);
	need = FIXED_LEN + 2 + ilen + 1 + 2 + slen + 1 + 2 + mlen + 1 + 4;
	*len = need;
	if (cap < need || !buf)
		return stg__fail(NULL, STG_EOVERFLOW, "stg_entry_encode: needs %zu bytes, has %zu",
		                 need, cap);
	p = buf;
	*p++ = 'S';
	*p++ = 'G';
	*p++ = 'E';
	*p++ = FMT_VERSION;
	*p++ = (unsigned char)e->status;
	*p++ = (unsigned char)e->job_state;
	*p++ = (unsigned char)e->error_class;
	*p++ = (unsigned char)e->priority;
	*p++ = (unsigned char)e->reason;
	*p++ = explain;
	p = put_u16(p, (unsigned)e->http_status);
	p = put_u32(p, e->flags & ~STG_ENTRY_LATE);
	p = put_u32(p, e->attempts);
	p = put_u32(p, e->job_attempts);
	p = put_u32(p, e->job_transient);
	nums[0] = &e->available; nums[1] = &e->published; nums[2] = &e->acked;
	nums[3] = &e->sequence; nums[4] = &e->changed_at; nums[5] = &e->job_since;
	nums[6] = &e->first_failed_at; nums[7] = &e->last_attempt_at; nums[8] = &e->acked_at;
	nums[9] = &e->next_attempt_at; nums[10] = &e->latency_ms;
	for (i = 0; i < 11; i++)
		p = put_u64(p, (uint64_t)*nums[i]);
	p = put_u64(p, e->job_id);
	p = put_u16(p, (unsigned)ilen);
	memcpy(p, e->integration, ilen + 1);
	p += ilen + 1;
	p = put_u16(p, (unsigned)slen);
	memcpy(p, e->sku, slen + 1);
	p += slen + 1;
	p = put_u16(p, (unsigned)mlen);
	if (mlen)
		memcpy(p, e->message, mlen);
	p[mlen] = '\0';
	p += mlen + 1;
	put_u32(p, crc32_of(buf, (size_t)(p - (unsigned char *)buf)));
	return STG_OK;
}

/* Read one length-prefixed, NUL-terminated string at *pos; bounds-checked. */
static int get_str(const unsigned char *b, size_t end, size_t *pos, size_t max, const char **out,
                   size_t *out_len)
{
	size_t n;

	if (end - *pos < 2)
		return STG_ETRUNCATED;
	n = (size_t)b[*pos] | (size_t)b[*pos + 1] << 8;
	*pos += 2;
	if (n > max)
		return STG_ECORRUPT;
	if (end - *pos < n + 1)
		return STG_ETRUNCATED;
	if (b[*pos + n] != '\0' || memchr(b + *pos, '\0', n))
		return STG_ECORRUPT;
	*out = (const char *)b + *pos;
	*out_len = n;
	*pos += n + 1;
	return STG_OK;
}

STG_EXTERN int stg_entry_decode(const void *buf, size_t len, stg_entry *out)
{
	const unsigned char *b = buf;
	stg_entry e = STG_ENTRY_INIT;
	int64_t *nums[11];
	size_t pos, end, n;
	const char *msg;
	int i, rc;

	if (!buf || !out)
		return stg__fail(NULL, STG_EINVAL, "stg_entry_decode: NULL %s", buf ? "out" : "buffer");
	if (len < 4)
		return stg__fail(NULL, STG_ETRUNCATED, "stg_entry_decode: %zu bytes is too short", len);
	if (b[0] != 'S' || b[1] != 'G' || b[2] != 'E')
		return stg__fail(NULL, STG_ECORRUPT, "stg_entry_decode: bad magic");
	if (b[3] != 1 && b[3] != FMT_VERSION)
		return stg__fail(NULL, STG_ECORRUPT, "stg_entry_decode: format version %u unknown", b[3]);
	if (len < FIXED_LEN + 3 * 3 + 4)
		return stg__fail(NULL, STG_ETRUNCATED, "stg_entry_decode: %zu bytes is too short", len);
	/* The checksum sits after the strings; find the record's end first. */
	end = len - 4;
	e.status = b[4];
	e.job_state = b[5];
	e.error_class = b[6];
	e.priority = b[7];
	e.reason = b[8];
	e.http_status = b[10] | b[11] << 8;
	e.flags = get_u32(b + 12);
	e.attempts = get_u32(b + 16);
	e.job_attempts = get_u32(b + 20);
	e.job_transient = get_u32(b + 24);
	nums[0] = &e.available; nums[1] = &e.published; nums[2] = &e.acked;
	nums[3] = &e.sequence; nums[4] = &e.changed_at; nums[5] = &e.job_since;
	nums[6] = &e.first_failed_at; nums[7] = &e.last_attempt_at; nums[8] = &e.acked_at;
	nums[9] = &e.next_attempt_at; nums[10] = &e.latency_ms;
	pos = 28;
	for (i = 0; i < 11; i++, pos += 8)
		*nums[i] = (int64_t)get_u64(b + pos);
	e.job_id = get_u64(b + pos);
	pos += 8;
	rc = get_str(b, end, &pos, STG_KEY_MAX, &e.integration, &n);
	if (rc == STG_OK && n == 0)
		rc = STG_ECORRUPT;
	if (rc)
		goto bad;
	rc = get_str(b, end, &pos, STG_KEY_MAX, &e.sku, &n);
	if (rc == STG_OK && n == 0)
		rc = STG_ECORRUPT;
	if (rc)
		goto bad;
	if ((rc = get_str(b, end, &pos, STG_MESSAGE_MAX, &msg, &n)))
		goto bad;
	e.message = n ? msg : NULL;
	if (pos != end)
		return stg__fail(NULL, STG_ECORRUPT, "stg_entry_decode: %zu bytes after the record",
		                 end - pos);
	if (get_u32(b + end) != crc32_of(b, end))
		return stg__fail(NULL, STG_ECORRUPT, "stg_entry_decode: checksum mismatch");
	/* Format 1 has a zero byte where format 2 keeps the explanation. */
	if ((b[3] == 1 && b[9] != 0) || (b[9] && !explain_byte_ok(b[9])) || (e.flags & STG_ENTRY_LATE) ||
	    !fields_ok(e.status, e.job_state, e.error_class, e.priority, e.reason, e.http_status))
		return stg__fail(NULL, STG_ECORRUPT, "stg_entry_decode: a field is out of range");
	stg__explain_unpack(b[9], &e.min_source, &e.rule);
	*out = e;
	return STG_OK;
bad:
	/* A string running past the end could also be a corrupted length; either
	 * way the caller learns the record cannot be read as it is. */
	return stg__fail(NULL, rc, "stg_entry_decode: %s", rc == STG_ETRUNCATED
	                 ? "record ends inside a string" : "malformed string");
}
