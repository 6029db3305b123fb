/*
 * Write the seeds of the "entry" fuzz target with the library's own encoder,
 * so they follow the current layout:
 *
 *   fuzz-gen-entry-seeds tests/fuzz/corpus/entry
 *
 * Valid encodings (each status and job state, every error class, extremes,
 * the longest keys and message, UTF-8) and invalid ones made from a valid
 * record by one change each (magic, format version, truncation, a trailing
 * byte, a bad checksum, the computed LATE flag, an out-of-range field, an
 * empty or NUL-split SKU), the checksum fixed again where the change is
 * elsewhere. Files are named seed-<what>.
 */
#define _POSIX_C_SOURCE 200809L
#include <stockguard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static int failures;

static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (b = 0; b < 8; b++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

static void fix_crc(unsigned char *b, size_t len)
{
	uint32_t c = crc32_ieee(b, len - 4);
	b[len - 4] = (unsigned char)c;
	b[len - 3] = (unsigned char)(c >> 8);
	b[len - 2] = (unsigned char)(c >> 16);
	b[len - 1] = (unsigned char)(c >> 24);
}

static void put(const char *name, const unsigned char *b, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/seed-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		failures++;
	}
}

/* Encode @p e into @p buf (STG_ENTRY_ENCODED_MAX + 16 bytes); returns the length. */
static size_t enc(const stg_entry *e, unsigned char *buf)
{
	size_t len = 0;
	int rc = stg_entry_encode(e, buf, STG_ENTRY_ENCODED_MAX, &len);

	if (rc != STG_OK) {
		fprintf(stderr, "encode failed: %s\n", stg_last_error());
		exit(1);
	}
	return len;
}

static stg_entry base(void)
{
	stg_entry e = STG_ENTRY_INIT;

	e.status = STG_ENTRY_SUCCESS;
	e.integration = "amazon";
	e.sku = "SKU-1";
	e.available = 10;
	e.published = 10;
	e.acked = 10;
	e.sequence = 1;
	e.changed_at = INT64_C(1700000000000);
	e.job_since = e.changed_at;
	e.last_attempt_at = e.changed_at;
	e.acked_at = e.changed_at + 1000;
	e.latency_ms = 1000;
	e.job_id = (UINT64_C(1) << 32) | 3;
	e.reason = STG_REASON_FIRST_SEEN;
	e.flags = STG_ENTRY_HAS_ACKED;
	return e;
}

int main(int argc, char **argv)
{
	static unsigned char buf[STG_ENTRY_ENCODED_MAX + 16], big[STG_ENTRY_ENCODED_MAX + 16];
	static char longi[STG_KEY_MAX + 1], longs[STG_KEY_MAX + 1], longm[STG_MESSAGE_MAX + 1];
	stg_entry e;
	size_t len, n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];

	e = base();
	len = enc(&e, buf);
	put("success", buf, len);

	e = base();
	e.status = STG_ENTRY_PENDING;
	e.job_state = STG_JOB_QUEUED;
	e.priority = STG_PRIORITY_URGENT;
	e.flags |= STG_ENTRY_MIN_STOCK_REACHED;
	put("pending-queued", buf, enc(&e, buf));

	e.job_state = STG_JOB_IN_FLIGHT;
	e.priority = STG_PRIORITY_LOW_STOCK;
	e.flags = STG_ENTRY_NON_STOCK;
	put("in-flight", buf, enc(&e, buf));

	e = base();
	e.status = STG_ENTRY_PENDING;
	e.job_state = STG_JOB_HELD;
	e.error_class = STG_ERRCLASS_NOT_CATALOGUED;
	e.http_status = 404;
	e.attempts = 1;
	e.message = "product not catalogued";
	put("pending-held", buf, enc(&e, buf));

	e.job_state = STG_JOB_QUEUED;
	e.error_class = STG_ERRCLASS_AUTH;
	e.http_status = 401;
	e.message = "token expired";
	put("auth", buf, enc(&e, buf));

	e = base();
	e.status = STG_ENTRY_ERROR;
	e.error_class = STG_ERRCLASS_TRANSIENT;
	e.http_status = 503;
	e.attempts = 5;
	e.message = "Service Unavailable";
	e.flags |= STG_ENTRY_ABNORMAL;
	put("error-transient", buf, enc(&e, buf));

	e.error_class = STG_ERRCLASS_REJECTED;
	e.http_status = 400;
	e.reason = STG_REASON_AFTER_ERROR;
	e.flags = 0;
	e.message = NULL;
	put("error-rejected", buf, enc(&e, buf));

	e = base();
	e.available = INT64_MIN;
	e.published = INT64_MAX;
	e.acked = 0;
	e.sequence = INT64_MIN;
	e.next_attempt_at = INT64_MAX;
	e.latency_ms = -1;
	e.http_status = 999;
	e.flags = ~(unsigned)STG_ENTRY_LATE;
	e.attempts = UINT32_MAX;
	e.job_id = UINT64_MAX;
	e.reason = STG_REASON_COUNT - 1;
	put("extremes", buf, enc(&e, buf));

	memset(longi, 'i', STG_KEY_MAX);
	memset(longs, 's', STG_KEY_MAX);
	memset(longm, 'm', STG_MESSAGE_MAX);
	e = base();
	e.integration = longi;
	e.sku = longs;
	e.message = longm;
	n = enc(&e, big);
	put("long-keys", big, n);

	e = base();
	e.integration = "mercadolivre";
	e.sku = "T\xc3\x8aNIS-42";
	e.message = "estoque m\xc3\xadnimo";
	put("utf8", buf, enc(&e, buf));

	/* Invalid: one change to the valid "success" record each. */
	e = base();
	len = enc(&e, buf);
	buf[len - 1] ^= 0x5a;
	put("bad-crc", buf, len);
	len = enc(&e, buf);
	buf[2] = 'F';
	put("bad-magic", buf, len);
	len = enc(&e, buf);
	buf[3] = 2;
	fix_crc(buf, len);
	put("bad-version", buf, len);
	len = enc(&e, buf);
	put("truncated", buf, len - 5);
	put("tiny", buf, 3);
	len = enc(&e, buf);
	memmove(buf + len - 3, buf + len - 4, 4);
	buf[len - 4] = 0;
	fix_crc(buf, len + 1);
	put("trailing", buf, len + 1);
	len = enc(&e, buf);
	buf[4] = 3; /* status */
	fix_crc(buf, len);
	put("bad-status", buf, len);
	len = enc(&e, buf);
	buf[9] = 1; /* the reserved byte */
	fix_crc(buf, len);
	put("reserved-byte", buf, len);
	len = enc(&e, buf);
	buf[10] = 0xe8; /* HTTP status 1000 */
	buf[11] = 0x03;
	fix_crc(buf, len);
	put("http-1000", buf, len);
	len = enc(&e, buf);
	buf[12] |= STG_ENTRY_LATE;
	fix_crc(buf, len);
	put("late-flag", buf, len);

	e.sku = "A?B";
	len = enc(&e, buf);
	{
		unsigned char *q = memchr(buf, '?', len);
		if (q)
			*q = '\0';
	}
	fix_crc(buf, len);
	put("nul-in-sku", buf, len);

	e.sku = "X";
	len = enc(&e, buf);
	{
		/* "X\0" becomes an empty SKU: length 0, then a stray byte. */
		unsigned char *q = memchr(buf, 'X', len);
		if (q && q[-2] == 1 && q[-1] == 0) {
			q[-2] = 0;
			*q = '\0';
		}
	}
	fix_crc(buf, len);
	put("empty-sku", buf, len);
	return failures ? 1 : 0;
}
