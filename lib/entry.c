/* Entry names, HTTP classification and the versioned binary encoding. */
#include "internal.h"
#include "stockguard/entry.h"
#include "stockguard/filter.h"
#include "stockguard/policy.h"

#include <string.h>

#define FMT_VERSION 1
#define FIXED_LEN 124 /* magic(3) + version(1) + small(8) + flags(4) + 3 attempt counts(12) + 11*8 + id(8) */

STG__DEFINE_INIT(stg_entry_init, stg_entry, STG_ENTRY_VERSION, STG_ENTRY_INIT)

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

/* CRC-32 (IEEE, reflected polynomial 0xedb88320), one table lookup per
 * byte. The table is a constant (generated once, checked by the codec tests
 * against known CRCs), so nothing is initialised at run time and threads
 * have nothing to race on. */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
	0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
	0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
	0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
	0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
	0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
	0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
	0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
	0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
	0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
	0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
	0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
	0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
	0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
	0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
	0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
	0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
	0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
	0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
	0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
	0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
	0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;

	for (i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
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

STG_EXTERN int stg_entry_encode(const stg_entry *e, void *buf, size_t cap, size_t *len)
{
	size_t ilen, slen, mlen = 0, need;
	unsigned char *p;
	const int64_t *nums[11];
	int i;

	if (!e || !len)
		return stg__fail(NULL, STG_EINVAL, "stg_entry_encode: NULL %s", e ? "len" : "entry");
	if (e->version != STG_ENTRY_VERSION)
		return stg__fail(NULL, STG_EVERSION, "stg_entry_encode: entry version %u unknown",
		                 e->version);
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
	               e->http_status))
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
	*p++ = 0;
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
	if (b[3] != FMT_VERSION)
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
	if (b[9] != 0 || (e.flags & STG_ENTRY_LATE) ||
	    !fields_ok(e.status, e.job_state, e.error_class, e.priority, e.reason, e.http_status))
		return stg__fail(NULL, STG_ECORRUPT, "stg_entry_decode: a field is out of range");
	*out = e;
	return STG_OK;
bad:
	/* A string running past the end could also be a corrupted length; either
	 * way the caller learns the record cannot be read as it is. */
	return stg__fail(NULL, rc, "stg_entry_decode: %s", rc == STG_ETRUNCATED
	                 ? "record ends inside a string" : "malformed string");
}
