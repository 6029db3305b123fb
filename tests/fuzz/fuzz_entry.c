/*
 * Fuzz target "entry": stg_entry_decode() on arbitrary bytes (SPEC 4: "decode
 * rejects bad bytes").
 *
 * Each input is decoded twice: as given, and with its last four bytes
 * replaced by the CRC-32 of the rest, so that the fuzzer gets past the
 * checksum and reaches the field checks. For each:
 *  - the status is OK, ETRUNCATED or ECORRUPT, and @p out is untouched on
 *    failure;
 *  - on success: the strings lie inside the buffer; stg_entry_encode() of
 *    the result succeeds and gives back the input byte for byte (also when
 *    asked for the size first, and EOVERFLOW one byte short); every proper
 *    prefix is ETRUNCATED; every single flipped byte is refused.
 */
#include "fuzz.h"

#include <stockguard.h>

#include <string.h>

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
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

static int inside(const uint8_t *buf, size_t len, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	return p >= buf && p < buf + len && memchr(p, '\0', (size_t)(buf + len - p)) != NULL;
}

static void check_one(const uint8_t *buf, size_t len)
{
	stg_entry out, sentinel;
	uint8_t *again;
	size_t need = 0, n2 = 0, i;
	int rc;

	memset(&sentinel, 0xa5, sizeof sentinel);
	out = sentinel;
	rc = stg_entry_decode(buf, len, &out);
	FUZZ_CHECK(rc == STG_OK || rc == STG_ETRUNCATED || rc == STG_ECORRUPT,
	           "stg_entry_decode returned %d (%s), not a documented status", rc, stg_strerror(rc));
	if (rc != STG_OK) {
		FUZZ_CHECK(memcmp(&out, &sentinel, sizeof out) == 0,
		           "stg_entry_decode wrote its output on failure (%d)", rc);
		FUZZ_CHECK(stg_last_error_code() == rc, "last error code %d, returned %d",
		           stg_last_error_code(), rc);
		return;
	}
	FUZZ_CHECK(out.version == STG_ENTRY_VERSION, "decoded version %u", out.version);
	FUZZ_CHECK(inside(buf, len, out.integration) && inside(buf, len, out.sku),
	           "decoded strings do not point into the buffer");
	FUZZ_CHECK(out.message == NULL || (inside(buf, len, out.message) && out.message[0] != '\0'),
	           "decoded message does not point into the buffer, or is empty");
	FUZZ_CHECK(!(out.flags & STG_ENTRY_LATE), "decoded an entry with the computed LATE flag");

	/* Round trip: size query, one byte short, then the real thing. */
	rc = stg_entry_encode(&out, NULL, 0, &need);
	FUZZ_CHECK(rc == STG_EOVERFLOW && need == len,
	           "size query: rc %d, need %zu, input %zu", rc, need, len);
	again = malloc(len);
	FUZZ_CHECK(again != NULL, "out of memory");
	rc = stg_entry_encode(&out, again, len - 1, &n2);
	FUZZ_CHECK(rc == STG_EOVERFLOW && n2 == len, "one byte short: rc %d, len %zu", rc, n2);
	rc = stg_entry_encode(&out, again, len, &n2);
	FUZZ_CHECK(rc == STG_OK, "re-encoding a decoded entry failed: %d (%s)", rc, stg_last_error());
	FUZZ_CHECK(n2 == len, "re-encoded %zu bytes, decoded %zu", n2, len);
	/* A record of format 1 (1.0) is written again as format 2: the same
	 * bytes but the format byte, and so the checksum. */
	FUZZ_CHECK(again[3] == 2, "re-encoded as format %u", again[3]);
	for (i = 0; i < len; i++)
		FUZZ_CHECK(again[i] == buf[i] || (buf[3] == 1 && (i == 3 || i >= len - 4)),
		           "round trip differs at byte %zu: %02x became %02x", i, buf[i], again[i]);

	/* Every proper prefix is a truncated record. */
	for (i = 0; i < len; i++) {
		out = sentinel;
		rc = stg_entry_decode(again, i, &out);
		FUZZ_CHECK(rc == STG_ETRUNCATED, "prefix of %zu of %zu bytes: rc %d, expected ETRUNCATED",
		           i, len, rc);
	}
	/* CRC-32 catches every single-byte error (all positions of short
	 * records, a spread of long ones: each try checksums the whole record). */
	for (i = 0; i < len; i += len <= 256 ? 1 : 1 + i % 61) {
		again[i] ^= (uint8_t)(1u << (i % 8));
		out = sentinel;
		rc = stg_entry_decode(again, len, &out);
		FUZZ_CHECK(rc != STG_OK, "a flipped bit in byte %zu of %zu was accepted", i, len);
		FUZZ_CHECK(rc == STG_ETRUNCATED || rc == STG_ECORRUPT, "flipped byte: rc %d", rc);
		again[i] ^= (uint8_t)(1u << (i % 8));
	}
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint32_t crc;

	/* Decode from an exact-size heap copy: a read past the end is an ASan report. */
	copy = calloc(size ? size : 1, 1);
	FUZZ_CHECK(copy != NULL, "out of memory");
	if (size)
		memcpy(copy, data, size);
	check_one(copy, size);
	if (size >= 4) {
		crc = crc32_ieee(copy, size - 4);
		copy[size - 4] = (uint8_t)crc;
		copy[size - 3] = (uint8_t)(crc >> 8);
		copy[size - 2] = (uint8_t)(crc >> 16);
		copy[size - 1] = (uint8_t)(crc >> 24);
		check_one(copy, size);
	}
	{
		stg_entry e;
		FUZZ_CHECK(stg_entry_decode(NULL, size, &e) == STG_EINVAL, "NULL buffer");
		FUZZ_CHECK(stg_entry_decode(copy, size, NULL) == STG_EINVAL, "NULL out");
	}
	free(copy);
	return 0;
}
