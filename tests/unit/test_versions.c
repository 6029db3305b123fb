/*
 * The version rule of host-filled structs (lib/versions.h): any version from
 * 1 to the one the library knows is accepted, a struct is read only as far
 * as its version reaches, and the fields it lacks take their defaults.
 *
 * No public struct is at version 2 yet, so the older-host case is made with
 * a descriptor of a struct that is: version 1 ends before its last field.
 * The version-1 struct given to the copy is a heap block of exactly its
 * size, so reading one byte further is caught by ASan and valgrind (both
 * run this test in CI). Linked with the static library (internal symbols).
 */
#include "versions.h"
#include "stockguard/log.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hook as it would look at version 2: version 1 had no `flush`. */
typedef struct grown_hook {
	unsigned int version;
	int (*write)(void *);
	void *payload;
	int (*flush)(void *); /* version 2 */
	int64_t limit;        /* version 2 */
} grown_hook;

static int dummy_write(void *p) { (void)p; return 0; }
static int dummy_flush(void *p) { (void)p; return 1; }

static const size_t grown_sizes[] = { offsetof(grown_hook, flush), sizeof(grown_hook) };
static const grown_hook grown_defaults = { 2, NULL, NULL, NULL, 42 };
static const stg__vstruct grown = { "grown", 2, grown_sizes, &grown_defaults };

Test(versions, older_struct_is_read_only_as_far_as_its_version)
{
	/* What a host built against the version-1 header passes: a smaller struct. */
	unsigned char *v1 = malloc(grown_sizes[0]);
	grown_hook host, copy;
	int marker = 7;

	cr_assert_not_null(v1);
	memset(&host, 0, sizeof host);
	host.version = 1;
	host.write = dummy_write;
	host.payload = &marker;
	memcpy(v1, &host, grown_sizes[0]);
	memset(&copy, 0xa5, sizeof copy);
	cr_assert_eq(stg__version_copy(NULL, "test", &grown, v1, &copy), STG_OK);
	cr_expect_eq(copy.version, 2u, "the copy is of the newest version");
	cr_expect(copy.write == dummy_write);
	cr_expect(copy.payload == &marker);
	cr_expect(copy.flush == NULL, "a field newer than the host's version takes its default");
	cr_expect_eq(copy.limit, 42);
	free(v1);
}

Test(versions, current_struct_is_copied_whole)
{
	grown_hook host = { 2, dummy_write, NULL, dummy_flush, 9 }, copy;

	cr_assert_eq(stg__version_copy(NULL, "test", &grown, &host, &copy), STG_OK);
	cr_expect(copy.flush == dummy_flush);
	cr_expect_eq(copy.limit, 9);
}

Test(versions, init_of_an_older_version_writes_only_its_size)
{
	/* A version-1 caller's struct, with a guard right after it. */
	unsigned char buf[sizeof(grown_hook) + 8];
	grown_hook *p = (grown_hook *)(void *)buf;

	memset(buf, 0xee, sizeof buf);
	cr_assert_eq(stg__version_init("grown_init", &grown, p, 1), STG_OK);
	cr_expect_eq(p->version, 1u);
	cr_expect(p->write == NULL);
	for (size_t i = grown_sizes[0]; i < sizeof buf; i++)
		cr_expect_eq(buf[i], 0xee, "byte %zu past the version-1 size was written", i);
}

Test(versions, unknown_versions_are_refused_with_the_range)
{
	grown_hook h = { 0, NULL, NULL, NULL, 0 }, copy;
	char msg[256] = "";

	cr_expect_eq(stg__version_copy(msg, "fn", &grown, &h, &copy), STG_EVERSION);
	cr_expect_str_eq(msg, "fn: grown version 0 unknown (this library knows versions 1 to 2)");
	h.version = 3;
	cr_expect_eq(stg__version_copy(msg, "fn", &grown, &h, &copy), STG_EVERSION);
	cr_expect_str_eq(msg, "fn: grown version 3 unknown (this library knows versions 1 to 2)");
	cr_expect_str_eq(stg_last_error(), msg);
	cr_expect(STG__VERSION_BAD(0u, 2u) && STG__VERSION_BAD(3u, 2u) && STG__VERSION_BAD(~0u, 2u));
	cr_expect(!STG__VERSION_BAD(1u, 2u) && !STG__VERSION_BAD(2u, 2u));
}

/* Through the public API: a hook of version 0 or one above the known one. */
Test(versions, log_open_refuses_an_unknown_hook_version)
{
	stg_storage st = STG_STORAGE_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_log *log = NULL;
	char want[200];

	o.storage = &st;
	st.version = 0;
	cr_expect_eq(stg_log_open(&log, &o), STG_EVERSION);
	snprintf(want, sizeof want,
	         "stg_log_open: storage version 0 unknown (this library knows versions 1 to %d)",
	         STG_STORAGE_VERSION);
	cr_expect_str_eq(stg_last_error(), want);
	st.version = STG_STORAGE_VERSION + 1;
	cr_expect_eq(stg_log_open(&log, &o), STG_EVERSION);
	snprintf(want, sizeof want,
	         "stg_log_open: storage version %u unknown (this library knows versions 1 to %u)",
	         STG_STORAGE_VERSION + 1, STG_STORAGE_VERSION);
	cr_expect_str_eq(stg_last_error(), want);
	cr_expect_null(log);
	o.storage = NULL;
	o.version = 0;
	cr_expect_eq(stg_log_open(&log, &o), STG_EVERSION);
	cr_expect_str_eq(stg_last_error(),
	                 "stg_log_open: options version 0 unknown (this library knows versions 1 to 1)");
}

/* Every descriptor agrees with its header: the newest size is the struct's. */
Test(versions, descriptors_match_the_headers)
{
	const struct { const stg__vstruct *t; size_t size; unsigned version; } rows[] = {
		{ &stg__v_allocator, sizeof(stg_allocator), STG_ALLOCATOR_VERSION },
		{ &stg__v_change, sizeof(stg_change), STG_CHANGE_VERSION },
		{ &stg__v_entry, sizeof(stg_entry), STG_ENTRY_VERSION },
		{ &stg__v_storage, sizeof(stg_storage), STG_STORAGE_VERSION },
		{ &stg__v_result, sizeof(stg_job_result), STG_JOB_RESULT_VERSION },
		{ &stg__v_transport, sizeof(stg_transport), STG_TRANSPORT_VERSION },
		{ &stg__v_clock, sizeof(stg_clock), STG_CLOCK_VERSION },
		{ &stg__v_events, sizeof(stg_events), STG_EVENTS_VERSION },
		{ &stg__v_log_options, sizeof(stg_log_options), STG_LOG_OPTIONS_VERSION },
		{ &stg__v_submit, sizeof(stg_submit), STG_SUBMIT_VERSION },
		{ &stg__v_query, sizeof(stg_query), STG_QUERY_VERSION },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		cr_expect_eq(rows[i].t->known, rows[i].version, "%s", rows[i].t->name);
		cr_expect_eq(rows[i].t->sizes[rows[i].version - 1], rows[i].size, "%s", rows[i].t->name);
		for (unsigned v = 1; v < rows[i].version; v++)
			cr_expect(rows[i].t->sizes[v - 1] <= rows[i].t->sizes[v], "%s grows", rows[i].t->name);
	}
}
