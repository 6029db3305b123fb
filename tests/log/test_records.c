/*
 * What the compact layout must not change (records.h): an entry keeps
 * its job fields only while it has a job (entry.h: they read 0 without
 * one), values too wide for the compact entry (latencies, late
 * completions, foreign flag bits) come back exactly, SKUs of any length
 * work, and a marketplace message shared by many entries stays each
 * entry's own.
 */
#include <criterion/criterion.h>

#include "harness.h"

static void setup(void)
{
	h_reset();
}

static void teardown(void)
{
	h_close();
}

TestSuite(records, .init = setup, .fini = teardown);

static void assert_no_job_fields(const stg_entry *e)
{
	cr_assert_eq(e->job_state, STG_JOB_NONE);
	cr_assert_eq(e->job_id, 0u);
	cr_assert_eq(e->job_since, 0);
	cr_assert_eq(e->next_attempt_at, 0);
	cr_assert_eq(e->job_attempts, 0u);
	cr_assert_eq(e->job_transient, 0u);
}

Test(records, job_fields_read_zero_without_a_job)
{
	stg_entry e;

	h_open();
	h_submit("amz", "A", 10, 1);
	e = h_get("amz", "A");
	cr_assert_neq(e.job_id, 0u);
	cr_assert_eq(e.job_since, T0);
	cr_assert_eq(e.next_attempt_at, T0);
	h_advance(500);
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_SUCCESS);
	assert_no_job_fields(&e);
	cr_assert_eq(e.last_attempt_at, T0 + 500);
	cr_assert_eq(e.acked_at, T0 + 500);
	cr_assert_eq(e.latency_ms, 500);

	/* Failed for good: no job either; the problem and the last attempt stay. */
	cr_assert_eq(h_submit_rc("amz", "A", 20, 2, STG_CHANGE_NON_STOCK, 0, NULL, NULL), STG_OK);
	h_advance(100);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 422, 0, "quantity not allowed");
	cr_assert_eq(h_pump(), 1u);
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_ERROR);
	assert_no_job_fields(&e);
	cr_assert_eq(e.last_attempt_at, T0 + 600);
	cr_assert_eq(e.first_failed_at, T0 + 600);
	cr_assert_eq(e.attempts, 1u);
	cr_assert_eq(e.http_status, 422);
	cr_assert_str_eq(e.message, "quantity not allowed");
	cr_assert_eq(e.acked_at, T0 + 500, "the last acknowledgement stays");
	cr_assert_eq(e.latency_ms, 500);

	/* A new job starts from the entry's last attempt. */
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	e = h_get("amz", "A");
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_eq(e.last_attempt_at, T0 + 600);
	cr_assert_eq(e.job_attempts, 0u);
}

Test(records, transient_budget_reads_zero_once_spent)
{
	stg_entry e;
	int i;

	H.opts.max_transient_attempts = 2;
	h_open();
	h_submit("amz", "A", 10, 1);
	for (i = 0; i < 2; i++) {
		h_push_http(503);
		cr_assert_eq(h_pump(), 1u);
		e = h_get("amz", "A");
		if (e.job_state != STG_JOB_NONE) {
			cr_assert_eq(e.job_transient, 1u);
			H.clock.now = e.next_attempt_at;
		}
	}
	e = h_get("amz", "A");
	cr_assert_eq(e.status, STG_ENTRY_ERROR);
	assert_no_job_fields(&e);
	cr_assert_eq(e.attempts, 2u, "the problem counts its attempts");
}

/* 24 days is where 32 bits of milliseconds end: latencies and late
 * completions beyond it are exact, in memory and after a reopen. */
Test(records, long_latency_and_late_completion_are_exact)
{
	const int64_t month = INT64_C(31) * 86400000;
	stg_entry before, after;
	stg_submit_result r;
	stg_job_result ok;
	uint64_t id;

	H.with_storage = 1;
	h_open();
	cr_assert_eq(h_submit_rc("amz", "A", 10, 1, 0, T0 - month, NULL, NULL), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("amz", "A").latency_ms, month);

	cr_assert_eq(h_submit_rc("amz", "A", 20, 2, STG_CHANGE_NON_STOCK, 0, NULL, &r), STG_OK);
	id = r.job_id;
	h_push_async();
	cr_assert_eq(h_pump(), 1u);
	h_advance(month); /* the marketplace answers a month later */
	cr_assert_eq(stg_job_result_init(&ok, STG_JOB_RESULT_VERSION), STG_OK);
	cr_assert_eq(stg_log_complete(H.log, id, &ok), STG_OK);
	before = h_get("amz", "A");
	cr_assert_eq(before.last_attempt_at, T0);
	cr_assert_eq(before.acked_at, T0 + month);
	cr_assert_eq(before.latency_ms, month);
	assert_no_job_fields(&before);
	before.integration = "amz"; /* the log's strings go with it */
	before.sku = "A";
	h_reopen();
	after = h_get("amz", "A");
	h_assert_entry_eq(&after, &before, "after reopen");
}

/* The longest SKU the harness records (it keeps names in 80 bytes); the
 * library's own limit, STG_KEY_MAX, is covered by the api tests. */
#define LONG_SKU 79

static stg_entry stored(const char *sku)
{
	stg_entry e;

	cr_assert_eq(stg_entry_init(&e, STG_ENTRY_VERSION), STG_OK);
	e.integration = "amz";
	e.sku = sku;
	e.status = STG_ENTRY_SUCCESS;
	e.available = 9;
	e.published = 9;
	e.acked = 9;
	e.sequence = 3;
	e.changed_at = T0 - 1000;
	e.acked_at = T0 - 500;
	e.last_attempt_at = T0 - 600;
	e.latency_ms = 500;
	e.flags = STG_ENTRY_HAS_ACKED;
	return e;
}

/* Stored entries, however odd, read back as they were stored. */
Test(records, stored_values_load_as_stored)
{
	static char longest[LONG_SKU + 1];
	stg_entry in[6];
	size_t i;

	memset(longest, 'k', LONG_SKU);
	H.with_storage = 1;
	in[0] = stored("WIDE");
	in[0].latency_ms = INT64_C(1) << 50;  /* beyond the 40 bits kept inline */
	in[0].last_attempt_at = 5;            /* 56 years before the acknowledgement */
	in[0].flags |= 0x40u | 0x100u;        /* flag bits this version does not know */
	in[1] = stored("NEG");
	in[1].latency_ms = -7;
	in[1].last_attempt_at = T0 + 1000;   /* after the acknowledgement */
	in[2] = stored("123456789012345"); /* 15 bytes: the longest inline SKU */
	in[3] = stored("1234567890123456");
	in[3].latency_ms = (int64_t)INT32_MAX + 1;
	in[4] = stored(longest);
	in[4].status = STG_ENTRY_ERROR;
	in[4].error_class = STG_ERRCLASS_REJECTED;
	in[4].http_status = 400;
	in[4].attempts = 7;
	in[4].first_failed_at = T0 - 9000;
	in[4].message = "rejected";
	in[5] = stored("PENDING");
	in[5].status = STG_ENTRY_PENDING;
	in[5].job_state = STG_JOB_HELD;
	in[5].job_since = T0 - 100;
	in[5].next_attempt_at = T0 + 3600000;
	in[5].job_attempts = 2;
	in[5].job_transient = 1;
	in[5].last_attempt_at = INT64_MAX;
	for (i = 0; i < 6; i++)
		h_store_put(&in[i]);
	h_open();
	for (i = 0; i < 6; i++) {
		stg_entry got = h_get("amz", in[i].sku);
		in[i].job_id = got.job_id; /* jobs get ids of this run */
		h_assert_entry_eq(&got, &in[i], in[i].sku);
	}

	/* A success replaces what it must and keeps the foreign flags. */
	cr_assert_eq(h_submit_rc("amz", "WIDE", 50, 4, STG_CHANGE_NON_STOCK, 0, NULL, NULL), STG_OK);
	h_advance(10);
	cr_assert_eq(h_pump(), 1u);
	{
		stg_entry e = h_get("amz", "WIDE");
		cr_assert_eq(e.latency_ms, H.clock.now - T0);
		cr_assert_eq(e.last_attempt_at, H.clock.now);
		cr_assert_eq(e.flags & (0x40u | 0x100u), 0x40u | 0x100u);
	}
}

Test(records, skus_of_every_length)
{
	static char longest[LONG_SKU + 1];
	const char *skus[5];
	size_t i;

	memset(longest, 'k', LONG_SKU);
	skus[0] = "A";
	skus[1] = "123456789012345";
	skus[2] = "1234567890123456";
	skus[3] = "12345678901234567890123";
	skus[4] = longest;
	h_open();
	for (i = 0; i < 5; i++)
		h_submit("amz", skus[i], (int64_t)i + 10, 1);
	cr_assert_eq(h_pump(), 5u);
	for (i = 0; i < 5; i++) {
		cr_assert_str_eq(h_get("amz", skus[i]).sku, skus[i]);
		cr_assert_eq(h_get("amz", skus[i]).acked, (int64_t)i + 10);
		cr_assert_not(h_exists("ebay", skus[i]), "the integration is part of the key");
	}
	/* Removing some moves others in the index: all stay found. */
	cr_assert_eq(stg_log_remove(H.log, "amz", skus[1], 0), STG_OK);
	cr_assert_eq(stg_log_remove(H.log, "amz", skus[4], 0), STG_OK);
	cr_assert_not(h_exists("amz", skus[1]));
	cr_assert_not(h_exists("amz", skus[4]));
	cr_assert(h_exists("amz", skus[0]) && h_exists("amz", skus[2]) && h_exists("amz", skus[3]));
	cr_assert_eq(h_submit("amz", skus[4], 3, 1).reason, STG_REASON_FIRST_SEEN);
	cr_assert_eq(h_submit("amz", skus[1], 3, 1).reason, STG_REASON_FIRST_SEEN);
	cr_assert_eq(h_pump(), 2u);
	cr_assert_str_eq(h_get("amz", skus[4]).sku, skus[4]);
}

/* Many entries failing with one text: each keeps it until its own success. */
Test(records, shared_messages_stay_each_entrys_own)
{
	const char *skus[3] = { "A", "B", "C" };
	size_t i;

	h_open();
	for (i = 0; i < 3; i++) {
		h_submit("amz", skus[i], 10, 1);
		h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 422, 0, "quantity not allowed");
	}
	cr_assert_eq(h_pump(), 3u);
	for (i = 0; i < 3; i++)
		cr_assert_str_eq(h_get("amz", skus[i]).message, "quantity not allowed");
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_null(h_get("amz", "A").message, "a success clears the message");
	cr_assert_str_eq(h_get("amz", "B").message, "quantity not allowed");
	cr_assert_eq(stg_log_remove(H.log, "amz", "B", 0), STG_OK);
	cr_assert_str_eq(h_get("amz", "C").message, "quantity not allowed");
	cr_assert_eq(stg_log_reprocess(H.log, "amz", "C"), STG_OK);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 400, 0, "another text");
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_get("amz", "C").message, "another text");
	cr_assert_eq(h_get("amz", "C").attempts, 2u);
	/* The text comes back after the last entry holding it let it go. */
	h_submit("amz", "D", 10, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 422, 0, "quantity not allowed");
	cr_assert_eq(h_pump(), 1u);
	cr_assert_str_eq(h_get("amz", "D").message, "quantity not allowed");
}
