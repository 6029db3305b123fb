/*
 * The entry encoding (SPEC 4: "a versioned binary encoding ... decode
 * rejects bad bytes"): random round trips, every truncation and every
 * single-bit flip of valid encodings refused, size limits, EOVERFLOW with
 * the needed size, and hand-crafted records with a valid checksum but bad
 * contents. Buffers are allocated at their exact size so that a read past
 * the end shows up under valgrind/ASan.
 */
#include <criterion/criterion.h>

#include "harness.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

/* Storage for one random entry's strings. */
typedef struct strings {
	char integ[STG_KEY_MAX + 1];
	char sku[STG_KEY_MAX + 1];
	char msg[STG_MESSAGE_MAX + 1];
} strings;

static void rnd_string(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		s[i] = (char)(1 + rnd_below(255)); /* any byte but NUL */
	s[len] = '\0';
}

static size_t rnd_len(size_t max)
{
	switch (rnd_below(8)) {
	case 0: return max;
	case 1: return 1;
	default: return 1 + rnd_below(max < 64 ? max : 64);
	}
}

static stg_entry rnd_entry(strings *st)
{
	stg_entry e;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	rnd_string(st->integ, rnd_len(STG_KEY_MAX));
	rnd_string(st->sku, rnd_len(STG_KEY_MAX));
	e.integration = st->integ;
	e.sku = st->sku;
	if (rnd_below(3)) {
		rnd_string(st->msg, rnd_len(STG_MESSAGE_MAX));
		e.message = st->msg;
	} else {
		e.message = NULL;
	}
	e.status = (int)rnd_below(3);
	e.job_state = (int)rnd_below(4);
	e.error_class = (int)rnd_below(STG_ERRCLASS_COUNT);
	e.priority = (int)rnd_below(3);
	e.reason = (int)rnd_below(STG_REASON_COUNT);
	e.http_status = (int)rnd_below(1000);
	e.flags = (unsigned)rnd() & ~STG_ENTRY_LATE;
	e.attempts = (uint32_t)rnd();
	e.available = (int64_t)rnd();
	e.published = (int64_t)rnd();
	e.acked = (int64_t)rnd();
	e.sequence = (int64_t)rnd();
	e.changed_at = (int64_t)rnd();
	e.job_since = (int64_t)rnd();
	e.first_failed_at = (int64_t)rnd();
	e.last_attempt_at = (int64_t)rnd();
	e.acked_at = (int64_t)rnd();
	e.next_attempt_at = (int64_t)rnd();
	e.latency_ms = rnd_below(4) ? (int64_t)rnd() : -1;
	e.job_id = rnd();
	/* Recorded (a known source and rule) or not (-1 both), as entries are. */
	if (rnd_below(4)) {
		e.min_source = (int)rnd_below(3);
		e.rule = (int)rnd_below(6);
	}
	return e;
}

/* Encode into an exactly sized heap buffer. */
static unsigned char *encode(const stg_entry *e, size_t *len)
{
	unsigned char *buf;
	size_t need = 0, got = 0;
	int rc;

	rc = stg_entry_encode(e, NULL, 0, &need);
	cr_assert_eq(rc, STG_EOVERFLOW, "size query: %s", stg_strerror(rc));
	cr_assert_leq(need, (size_t)STG_ENTRY_ENCODED_MAX);
	buf = malloc(need);
	cr_assert_not_null(buf);
	rc = stg_entry_encode(e, buf, need, &got);
	cr_assert_eq(rc, STG_OK, "encode: %s (%s)", stg_strerror(rc), stg_last_error());
	cr_assert_eq(got, need);
	*len = need;
	return buf;
}

static unsigned char *exact_copy(const unsigned char *src, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	cr_assert_not_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

static int is_refusal(int rc)
{
	return rc == STG_ETRUNCATED || rc == STG_ECORRUPT;
}

/* IEEE CRC-32, to craft records with a valid checksum. */
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

static void reseal(unsigned char *buf, size_t len)
{
	uint32_t c = crc32_ieee(buf, len - 4);

	buf[len - 4] = (unsigned char)c;
	buf[len - 3] = (unsigned char)(c >> 8);
	buf[len - 2] = (unsigned char)(c >> 16);
	buf[len - 1] = (unsigned char)(c >> 24);
}

static void assert_same(const stg_entry *d, const stg_entry *e)
{
	stg_entry want = *e;

	want.flags &= ~STG_ENTRY_LATE;
	if (want.message && !want.message[0])
		want.message = NULL; /* an empty message is no message */
	h_assert_entry_eq(d, &want, "decoded");
	cr_assert_eq(d->reserved_[0] | d->reserved_[1], 0u);
}

Test(codec, random_round_trips)
{
	strings st;
	int i;

	rng_state = 20260131;
	for (i = 0; i < 3000; i++) {
		stg_entry e = rnd_entry(&st), d;
		size_t len;
		unsigned char *buf = encode(&e, &len);
		int rc;
		memset(&d, 0xa5, sizeof d);
		rc = stg_entry_decode(buf, len, &d);
		cr_assert_eq(rc, STG_OK, "case %d: decode %s (%s)", i, stg_strerror(rc), stg_last_error());
		assert_same(&d, &e);
		/* Strings point into the buffer. */
		cr_assert((const unsigned char *)d.sku > buf && (const unsigned char *)d.sku < buf + len);
		/* Encoding is deterministic: decode then encode gives the same bytes. */
		{
			size_t len2;
			unsigned char *buf2 = encode(&d, &len2);
			cr_assert_eq(len2, len);
			cr_assert_arr_eq(buf2, buf, len);
			free(buf2);
		}
		free(buf);
	}
}

Test(codec, layout)
{
	strings st;
	stg_entry e;
	size_t len;
	unsigned char *buf;

	rng_state = 1;
	e = rnd_entry(&st);
	e.integration = "amz";
	e.sku = "A";
	e.message = NULL;
	buf = encode(&e, &len);
	cr_assert_eq(memcmp(buf, "SGE", 3), 0);
	cr_assert_eq(buf[3], 2, "format version 2 (1.1)");
	cr_assert_eq(len, 124u + 6 + 4 + 3 + 4, "fixed part, three strings, CRC: %zu", len);
	cr_assert_eq(crc32_ieee(buf, len - 4),
	             (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
	             (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24,
	             "trailing CRC-32 of everything before it");
	free(buf);
}

/* A record of format version 1, as 1.0 wrote it: the same bytes with a
 * zero where format 2 keeps the explanation. */
static unsigned char *encode_v1(stg_entry *e, size_t *len)
{
	unsigned char *buf;

	e->min_source = e->rule = -1;
	buf = encode(e, len);
	cr_assert_eq(buf[9], 0, "nothing recorded: the byte of format 1");
	buf[3] = 1;
	reseal(buf, *len);
	return buf;
}

Test(codec, format_1_records_of_1_0_still_decode)
{
	strings st;
	int i;

	rng_state = 77;
	for (i = 0; i < 200; i++) {
		stg_entry e = rnd_entry(&st), d;
		size_t len;
		unsigned char *buf = encode_v1(&e, &len);
		cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK, "case %d: %s", i, stg_last_error());
		cr_assert_eq(d.version, STG_ENTRY_VERSION);
		cr_assert_eq(d.min_source, -1, "1.0 recorded no explanation");
		cr_assert_eq(d.rule, -1);
		assert_same(&d, &e);
		free(buf);
	}
}

Test(codec, the_explanation_byte_is_checked)
{
	strings st;
	stg_entry e, d;
	size_t len;
	unsigned char *buf;

	rng_state = 5;
	e = rnd_entry(&st);
	e.min_source = STG_MIN_SKU;
	e.rule = STG_RULE_CUTOFF;
	buf = encode(&e, &len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK);
	cr_assert_eq(d.min_source, STG_MIN_SKU);
	cr_assert_eq(d.rule, STG_RULE_CUTOFF);
	/* Format 1 has a zero there: a format-1 record with anything else is corrupt. */
	buf[3] = 1;
	reseal(buf, len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_ECORRUPT);
	/* Format 2 with an unknown rule (7), or bits no field uses (0x40), is corrupt too. */
	buf[3] = 2;
	buf[9] = 0x80 | 7;
	reseal(buf, len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_ECORRUPT);
	buf[9] = 0x80 | 0x40 | STG_RULE_CAP;
	reseal(buf, len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_ECORRUPT);
	buf[9] = 0x80 | (3 << 3);
	reseal(buf, len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_ECORRUPT, "min source 3 is unknown");
	free(buf);
	/* Encoding refuses half a record, or values out of range. */
	e.rule = -1;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL, "a source without a rule");
	e.rule = 6;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL, "rule 6 is unknown");
	e.rule = STG_RULE_CAP;
	e.min_source = 3;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL, "source 3 is unknown");
	/* A version-1 struct has reserved words there: they are not read. */
	e.version = 1;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EOVERFLOW, "asks the size: valid");
}

Test(codec, every_truncation_is_refused)
{
	strings st;
	int i;

	rng_state = 77;
	for (i = 0; i < 40; i++) {
		stg_entry e = rnd_entry(&st), d, untouched;
		size_t len, cut;
		unsigned char *buf;
		if (i == 0) { /* the largest record */
			memset(st.integ, 'i', STG_KEY_MAX);
			memset(st.sku, 's', STG_KEY_MAX);
			memset(st.msg, 'm', STG_MESSAGE_MAX);
			st.integ[STG_KEY_MAX] = st.sku[STG_KEY_MAX] = st.msg[STG_MESSAGE_MAX] = '\0';
			e.message = st.msg;
		}
		buf = encode(&e, &len);
		if (i == 0)
			cr_assert_eq(len, (size_t)STG_ENTRY_ENCODED_MAX);
		memset(&untouched, 0x5a, sizeof untouched);
		for (cut = 0; cut < len; cut++) {
			unsigned char *p = exact_copy(buf, cut);
			int rc;
			d = untouched;
			rc = stg_entry_decode(p, cut, &d);
			cr_assert(is_refusal(rc), "case %d: %zu of %zu bytes decoded with %s", i, cut, len,
			          stg_strerror(rc));
			cr_assert_arr_eq(&d, &untouched, sizeof d, "out written on failure");
			free(p);
		}
		free(buf);
	}
}

Test(codec, every_bit_flip_is_refused)
{
	strings st;
	int i;

	rng_state = 4242;
	for (i = 0; i < 12; i++) {
		stg_entry e = rnd_entry(&st), d;
		size_t len, bit;
		unsigned char *buf;
		if (i == 0) {
			e.message = NULL;
			e.integration = "a";
			e.sku = "b";
		}
		if (i == 1) {
			memset(st.msg, 'm', STG_MESSAGE_MAX);
			st.msg[STG_MESSAGE_MAX] = '\0';
			e.message = st.msg;
		}
		buf = encode(&e, &len);
		for (bit = 0; bit < len * 8; bit++) {
			int rc;
			buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			rc = stg_entry_decode(buf, len, &d);
			cr_assert(is_refusal(rc), "case %d: flipping bit %zu of %zu: %s", i, bit, len * 8,
			          stg_strerror(rc));
			buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		}
		cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK);
		free(buf);
	}
}

/* Valid checksum, bad contents: still refused. */
Test(codec, crafted_records_with_valid_checksum)
{
	stg_entry e, d;
	size_t len;
	unsigned char *buf, *p;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = "SKU";
	e.message = "m";
	buf = encode(&e, &len);
	cr_assert_eq(len, 124u + 6 + 6 + 4 + 4);

#define CRAFT(offset, value, expect)                                                    \
	do {                                                                             \
		p = exact_copy(buf, len);                                                \
		p[offset] = (unsigned char)(value);                                      \
		reseal(p, len);                                                          \
		cr_assert_eq(stg_entry_decode(p, len, &d), expect, "byte %d = %d",       \
		             (int)(offset), (int)(value));                               \
		free(p);                                                                 \
	} while (0)

	CRAFT(0, 'X', STG_ECORRUPT);          /* magic */
	CRAFT(3, 3, STG_ECORRUPT);            /* format version (1 and 2 are known) */
	CRAFT(3, 0, STG_ECORRUPT);
	CRAFT(4, 3, STG_ECORRUPT);            /* status */
	CRAFT(5, 4, STG_ECORRUPT);            /* job state */
	CRAFT(6, STG_ERRCLASS_COUNT, STG_ECORRUPT);
	CRAFT(7, 3, STG_ECORRUPT);            /* priority */
	CRAFT(8, STG_REASON_COUNT, STG_ECORRUPT);
	CRAFT(9, 1, STG_ECORRUPT);            /* reserved byte */
	CRAFT(10, 0xe8, STG_OK);              /* http 232: fine */
	CRAFT(11, 0x03, STG_OK);              /* http 768: fine */
	CRAFT(11, 0x04, STG_ECORRUPT);        /* http 1024 > 999 */
	CRAFT(12, STG_ENTRY_LATE, STG_ECORRUPT); /* LATE is never stored */
	CRAFT(124, 0, STG_ECORRUPT);          /* integration length 0 */
	CRAFT(124 + 2 + 1, 0, STG_ECORRUPT);  /* NUL inside "amz" */
	CRAFT(124 + 2 + 3, 'x', STG_ECORRUPT); /* integration not terminated */
	CRAFT(124 + 1, 0x04, STG_ECORRUPT);   /* integration length 1027 > KEY_MAX */
	CRAFT(124 + 6, 0, STG_ECORRUPT);      /* sku length 0 */
	CRAFT(124 + 12, 2, STG_ETRUNCATED);   /* message length 2: runs into the CRC */
#undef CRAFT

	/* A trailing byte, resealed. */
	p = malloc(len + 1);
	cr_assert_not_null(p);
	memcpy(p, buf, len - 4);
	p[len - 4] = 0;
	reseal(p, len + 1);
	cr_assert(is_refusal(stg_entry_decode(p, len + 1, &d)));
	free(p);
	/* A trailing byte after a valid record, not resealed. */
	p = malloc(len + 1);
	cr_assert_not_null(p);
	memcpy(p, buf, len);
	p[len] = 0;
	cr_assert(is_refusal(stg_entry_decode(p, len + 1, &d)));
	free(p);
	free(buf);
}

Test(codec, size_limits)
{
	static char big[STG_MESSAGE_MAX + 2];
	static char key[STG_KEY_MAX + 2];
	stg_entry e;
	size_t len = 0;
	unsigned char *buf;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	memset(key, 'k', STG_KEY_MAX + 1);
	memset(big, 'm', STG_MESSAGE_MAX + 1);
	e.integration = key;                         /* KEY_MAX + 1 */
	e.sku = "A";
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);
	e.integration = "amz";
	e.sku = key;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);
	e.sku = "";
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);
	e.sku = NULL;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);
	e.sku = "A";
	e.integration = "";
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);
	e.integration = NULL;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);
	e.integration = "amz";
	e.message = big;                             /* MESSAGE_MAX + 1 */
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EINVAL);

	/* Exactly at the limits: accepted, and the size is the documented max. */
	key[STG_KEY_MAX] = '\0';
	big[STG_MESSAGE_MAX] = '\0';
	e.integration = key;
	e.sku = key;
	e.message = big;
	buf = encode(&e, &len);
	cr_assert_eq(len, (size_t)STG_ENTRY_ENCODED_MAX);
	free(buf);
}

Test(codec, overflow_reports_needed_size)
{
	stg_entry e;
	size_t need = 0, len = 0;
	unsigned char buf[512];

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = "SKU-1";
	e.message = "hello";
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &need), STG_EOVERFLOW);
	cr_assert_eq(need, 124u + 6 + 8 + 8 + 4);
	memset(buf, 0xee, sizeof buf);
	cr_assert_eq(stg_entry_encode(&e, buf, need - 1, &len), STG_EOVERFLOW);
	cr_assert_eq(len, need);
	cr_assert_eq(buf[0], 0xee, "nothing written");
	cr_assert_eq(buf[need - 2], 0xee);
	cr_assert_eq(stg_entry_encode(&e, NULL, need, &len), STG_EINVAL, "NULL buffer, cap > 0");
	cr_assert_eq(stg_entry_encode(&e, buf, need, &len), STG_OK);
	cr_assert_eq(buf[need], 0xee, "no byte past the record");
	cr_assert_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
	cr_assert_eq(len, need);
}

Test(codec, bad_arguments)
{
	stg_entry e, d;
	size_t len;
	unsigned char *buf;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = "A";
	cr_assert_eq(stg_entry_encode(NULL, NULL, 0, &len), STG_EINVAL);
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, NULL), STG_EINVAL);
	e.version = STG_ENTRY_VERSION + 1;
	cr_assert_eq(stg_entry_encode(&e, NULL, 0, &len), STG_EVERSION);
	e.version = STG_ENTRY_VERSION;
#define BAD(field, value)                                                              \
	do {                                                                           \
		stg_entry b = e;                                                       \
		b.field = value;                                                       \
		cr_assert_eq(stg_entry_encode(&b, NULL, 0, &len), STG_EINVAL,          \
		             #field " = %d", (int)(value));                            \
	} while (0)
	BAD(status, -1);
	BAD(status, 3);
	BAD(job_state, -1);
	BAD(job_state, 4);
	BAD(error_class, -1);
	BAD(error_class, STG_ERRCLASS_COUNT);
	BAD(priority, -1);
	BAD(priority, 3);
	BAD(reason, -1);
	BAD(reason, STG_REASON_COUNT);
	BAD(http_status, -1);
	BAD(http_status, 1000);
#undef BAD
	/* LATE is computed: encode drops it. */
	e.flags = STG_ENTRY_LATE | STG_ENTRY_ABNORMAL;
	buf = encode(&e, &len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK);
	cr_assert_eq(d.flags, STG_ENTRY_ABNORMAL);
	cr_assert_eq(stg_entry_decode(NULL, len, &d), STG_EINVAL);
	cr_assert_eq(stg_entry_decode(buf, len, NULL), STG_EINVAL);
	free(buf);
	/* An empty message is no message. */
	e.message = "";
	buf = encode(&e, &len);
	cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK);
	cr_assert_null(d.message);
	free(buf);
	cr_assert_eq(stg_entry_init(NULL, STG_ENTRY_VERSION), STG_EINVAL);
	cr_assert_eq(stg_entry_init(&e, 0), STG_EVERSION);
}

Test(codec, names)
{
	cr_assert_str_eq(stg_entry_status_name(STG_ENTRY_PENDING), "pending");
	cr_assert_str_eq(stg_entry_status_name(STG_ENTRY_SUCCESS), "success");
	cr_assert_str_eq(stg_entry_status_name(STG_ENTRY_ERROR), "error");
	cr_assert_str_eq(stg_entry_status_name(3), "unknown");
	cr_assert_str_eq(stg_error_class_name(STG_ERRCLASS_AUTH), "auth");
	cr_assert_str_eq(stg_error_class_name(STG_ERRCLASS_NOT_CATALOGUED), "not_catalogued");
	cr_assert_str_eq(stg_error_class_name(STG_ERRCLASS_RATE_LIMITED), "rate_limited");
	cr_assert_str_eq(stg_error_class_name(STG_ERRCLASS_TRANSIENT), "transient");
	cr_assert_str_eq(stg_error_class_name(STG_ERRCLASS_REJECTED), "rejected");
	cr_assert_str_eq(stg_error_class_name(-1), "unknown");
	cr_assert_str_eq(stg_job_state_name(STG_JOB_IN_FLIGHT), "in_flight");
	cr_assert_str_eq(stg_job_state_name(STG_JOB_HELD), "held");
	cr_assert_str_eq(stg_job_state_name(9), "unknown");
}
