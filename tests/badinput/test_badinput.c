/*
 * Suite 'badinput': bad input to every public function (every STG_EXTERN of
 * the headers under include/stockguard). Each refused call must return its documented
 * code, leave a fresh, non-empty message (stg_last_error(), and the
 * handle's message when there is a handle it may write), and change
 * nothing: the policy or log reads back the same, out-parameters keep their
 * sentinel.
 *
 * What was tried and what came back is in TRIED.md. The rows are recorded by
 * this program: with STG_TRIED_OUT=<file> set, each check appends one
 * markdown row to that file (see make_tried.sh).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <criterion/criterion.h>

#include "fixture.h"

#include <stockguard.h>

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000)

/* ------------------------------------------------------------ recording */

static const char *code_name(int rc)
{
	static const char *const names[] = {
		"STG_OK", "STG_EINVAL", "STG_ENOMEM", "STG_ERANGE", "STG_ENOTFOUND",
		"STG_EVERSION", "STG_ESTORAGE", "STG_ETRANSPORT", "STG_EBUSY", "STG_ERECURSIVE",
		"STG_ECORRUPT", "STG_ETRUNCATED", "STG_ESTATE", "STG_EEXISTS", "STG_ECALLBACK",
		"STG_EOVERFLOW", "STG_ELIMIT", "STG_EFENCED",
	};
	static char other[32];

	if (rc <= 0 && rc > -(int)(sizeof names / sizeof names[0]))
		return names[-rc];
	snprintf(other, sizeof other, "%d", rc);
	return other;
}

/* Markdown cell: '|' escaped, bytes outside printable ASCII as \xHH, cut. */
static void cell(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '|')
			n += (size_t)snprintf(out + n, cap - n, "\\|");
		else if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	if (*s && n + 4 < cap)
		n += (size_t)snprintf(out + n, cap - n, "...");
	out[n] = '\0';
}

static void row(const char *area, const char *call, const char *input, const char *want,
                const char *got)
{
	const char *path = getenv("STG_TRIED_OUT");
	char c[5][400];
	FILE *f;

	if (!path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	cell(c[0], sizeof c[0], area);
	cell(c[1], sizeof c[1], call);
	cell(c[2], sizeof c[2], input);
	cell(c[3], sizeof c[3], want);
	cell(c[4], sizeof c[4], got);
	fprintf(f, "| %s | `%s` | %s | %s | %s |\n", c[0], c[1], c[2], c[3], c[4]);
	fclose(f);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void rowf(const char *area, const char *call, const char *input, const char *want,
                 const char *fmt, ...)
{
	char got[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(got, sizeof got, fmt, ap);
	va_end(ap);
	row(area, call, input, want, got);
}

/* A message no check below produces: set before each refused call, so the
 * message read after it is known to be the call's own. */
#define PRIME_VERSION 424242u
static void prime(void)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_log *l = NULL;

	o.version = PRIME_VERSION;
	stg_log_open(&l, &o);
}

static int primed_msg(const char *m)
{
	return strstr(m, "424242") != NULL;
}

/* Check a refused call's code and message; record the row. */
static void refused(const char *area, const char *call, const char *input, int want, int rc,
                    const char *handle_msg)
{
	const char *m = stg_last_error();

	cr_expect_eq(rc, want, "%s: %s [%s] returned %s, want %s (\"%s\")", area, call, input,
	             code_name(rc), code_name(want), m);
	cr_expect(rc == STG_OK || (m[0] != '\0' && !primed_msg(m)),
	          "%s: %s [%s]: no message of its own in stg_last_error() (\"%s\")", area, call,
	          input, m);
	cr_expect(rc == STG_OK || stg_last_error_code() == rc,
	          "%s: %s [%s]: stg_last_error_code() %d, returned %d", area, call, input,
	          stg_last_error_code(), rc);
	if (handle_msg)
		cr_expect(strcmp(handle_msg, m) == 0,
		          "%s: %s [%s]: the handle's message \"%s\" is not the last error \"%s\"",
		          area, call, input, handle_msg, m);
	rowf(area, call, input, code_name(want), "%s \"%s\"", code_name(rc), rc ? m : "");
}

/* Refused call without a handle (or a const one: readers never write it). */
#define REFUSED(area, input, want, call)                                       \
	do {                                                                   \
		int rc_;                                                       \
		prime();                                                       \
		rc_ = (call);                                                  \
		refused(area, #call, input, want, rc_, NULL);                  \
	} while (0)

/* ------------------------------------------------------ policy fixture */

static stg_policy *pol_fixture(void)
{
	stg_policy *p = NULL;

	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	cr_assert_eq(stg_policy_set_min_stock(p, 4), STG_OK);
	cr_assert_eq(stg_policy_set_mode(p, STG_MODE_RESERVE), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, 80), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, 50), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, 7), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, 30), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, 60000), STG_OK);
	cr_assert_eq(stg_policy_set_sku_min(p, "SKU1", 9), STG_OK);
	cr_assert_eq(stg_policy_set_category_min(p, "CAT1", 2), STG_OK);
	return p;
}

/* Everything a reader can see of a policy, as one string. */
static void pol_snap(const stg_policy *p, char *out, size_t cap)
{
	static const char *const keys[] = { NULL, "SKU1", "SKU2", "CAT1", "CAT2", "\xff\xfe" };
	size_t n;
	int i, j, a;

	n = (size_t)snprintf(out, cap, "%lld %d %d %lld %lld %d %lld |",
	                     (long long)stg_policy_min_stock(p), stg_policy_mode(p),
	                     stg_policy_allocation(p), (long long)stg_policy_cap(p),
	                     (long long)stg_policy_window(p), stg_policy_drift(p),
	                     (long long)stg_policy_heartbeat(p));
	for (i = 0; i < 6; i++)
		for (j = 0; j < 6; j++) {
			int64_t min = -1;
			int src = -1;
			stg_policy_resolve_min(p, keys[i], keys[j], &min, &src);
			n += (size_t)snprintf(out + n, cap - n, " %lld/%d", (long long)min, src);
			for (a = -1; a < 70; a += 7) {
				stg_evaluation ev;
				stg_policy_evaluate(p, keys[i], keys[j], a, &ev);
				n += (size_t)snprintf(out + n, cap - n, ",%lld", (long long)ev.published);
			}
		}
}

/* Refused call on a policy it may write: same code/message checks, the
 * policy's message equals the last error, and the policy is unchanged. */
#define REFUSED_POL(area, input, want, p, call)                                \
	do {                                                                   \
		char before_[8192], after_[8192];                              \
		int rc_;                                                       \
		pol_snap(p, before_, sizeof before_);                          \
		prime();                                                       \
		rc_ = (call);                                                  \
		refused(area, #call, input, want, rc_, stg_policy_errmsg(p));  \
		pol_snap(p, after_, sizeof after_);                            \
		cr_expect_str_eq(after_, before_, "%s: %s [%s] changed the policy", \
		                 area, #call, input);                          \
	} while (0)

/* --------------------------------------------------------- log fixture */

/* The shared fixture (tests/common/fixture.h): a clock, the recording
 * storage, an event recorder and the transport with this suite's answers. */
typedef struct fixture {
	stg_log *log;
	fx_clock clock;
	fx_storage st;              /* st.recs, st.n, st.writes, st.removes */
	fx_transport tr;            /* tr.nsent, tr.sent: the jobs handed out */
	fx_events ev;               /* ev.n, ev.ev: the events */
	uint64_t async_id;          /* last job answered asynchronously */
	const char *answer_message; /* message of error answers */
	int bad_result;             /* 1 outcome 999, 2 class 999, 3 version 0 */
} fixture;

static fixture F;

/* The answer by SKU: ASYNC*, FAIL* (422), AUTH* (401), else OK; bad_result
 * breaks it. */
static int answer_by_sku(const stg_job *j, stg_job_result *r, int *tag, void *ctx)
{
	fixture *fx = ctx;

	(void)tag;
	if (strncmp(j->sku, "ASYNC", 5) == 0) {
		r->outcome = STG_OUTCOME_ASYNC;
		fx->async_id = j->id;
	} else if (strncmp(j->sku, "FAIL", 4) == 0) {
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 422;
		r->message = fx->answer_message ? fx->answer_message : "rejected";
	} else if (strncmp(j->sku, "AUTH", 4) == 0) {
		r->outcome = STG_OUTCOME_ERROR;
		r->http_status = 401;
		r->message = fx->answer_message ? fx->answer_message : "token expired";
	}
	if (fx->bad_result == 1)
		r->outcome = 999;
	else if (fx->bad_result == 2) {
		r->outcome = STG_OUTCOME_ERROR;
		r->error_class = 999;
	} else if (fx->bad_result == 3)
		r->version = 0;
	return 0;
}

/* A broken expectation inside a fixture hook fails the test. */
static void fail_test(const char *message)
{
	cr_assert_fail("%s", message);
}

/* The last job's SKU and the last event's message ("" when none). */
static const char *last_job_sku(void)
{
	return F.tr.nsent ? F.tr.sent[F.tr.nsent - 1].sku : "";
}

static const char *last_event_message(void)
{
	return F.ev.n ? F.ev.ev[F.ev.n - 1].message : "";
}

static stg_storage hook_storage;
static stg_transport hook_transport;
static stg_clock hook_clock;
static stg_events hook_events;

static stg_log_options fx_options(void)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;

	fx_set_failure_handler(fail_test);
	F.tr.choose = answer_by_sku;
	F.tr.choose_ctx = &F;
	hook_storage = fx_storage_hook(&F.st);
	hook_transport = fx_transport_hook(&F.tr, 1);
	hook_clock = fx_clock_hook(&F.clock);
	hook_events = fx_events_hook(&F.ev);
	o.storage = &hook_storage;
	o.transport = &hook_transport;
	o.clock = &hook_clock;
	o.events = &hook_events;
	return o;
}

static void fx_submit(const char *integ, const char *sku, int64_t avail, int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;

	s.integration = integ;
	s.sku = sku;
	s.available = avail;
	s.sequence = seq;
	cr_assert_eq(stg_log_submit(F.log, &s, NULL), STG_OK, "%s", stg_log_errmsg(F.log));
}

/* A log with a success, an error, a pending job in flight, a held job of a
 * paused integration and a queued one. */
static void fx_open(void)
{
	stg_log_options o;
	stg_policy *p;

	memset(&F, 0, sizeof F);
	F.clock.now = T0;
	o = fx_options();
	cr_assert_eq(stg_log_open(&F.log, &o), STG_OK, "%s", stg_last_error());
	p = pol_fixture();
	cr_assert_eq(stg_log_set_policy(F.log, "amz", p), STG_OK);
	stg_policy_free(p);
	cr_assert_eq(stg_log_set_limits(F.log, "meli", 3, 0, 0), STG_OK);
	fx_submit("amz", "A", 30, 1);
	fx_submit("amz", "FAIL1", 2, 1);
	fx_submit("meli", "ASYNC1", 8, 1);
	fx_submit("meli", "M2", 9, 1);
	cr_assert_eq(stg_log_pump(F.log, 0, NULL), STG_OK, "%s", stg_log_errmsg(F.log));
	cr_assert_eq(stg_log_pause(F.log, "magalu"), STG_OK);
	fx_submit("magalu", "H1", 5, 1);
	F.clock.now += 1000;
	fx_submit("amz", "Q1", 12, 1);
}

static void fx_close(void)
{
	stg_log_close(F.log);
	F.log = NULL;
	fx_storage_free(&F.st);
	fx_transport_free(&F.tr);
	fx_events_free(&F.ev);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

typedef struct log_snap {
	uint64_t entries, store;
	stg_counts counts;
	stg_stats stats;
	int paused[3];
	int64_t next_due;
	unsigned long writes, removes, sent, events;
} log_snap;

static void snap_log(stg_log *log, log_snap *s)
{
	static const char *const integs[3] = { "amz", "meli", "magalu" };
	stg_entry page[8];
	uint64_t cursor = 0;
	size_t count, i;
	int k;

	memset(s, 0, sizeof *s);
	s->entries = 1469598103934665603ull;
	do {
		cr_assert_eq(stg_log_query(log, NULL, &cursor, page, 8, &count), STG_OK);
		for (i = 0; i < count; i++) {
			unsigned char buf[STG_ENTRY_ENCODED_MAX];
			size_t len;
			cr_assert_eq(stg_entry_encode(&page[i], buf, sizeof buf, &len), STG_OK);
			s->entries = fnv(s->entries, buf, len);
		}
	} while (count);
	cr_assert_eq(stg_log_counts(log, NULL, &s->counts), STG_OK);
	cr_assert_eq(stg_log_stats(log, NULL, &s->stats), STG_OK);
	for (k = 0; k < 3; k++)
		cr_assert_eq(stg_log_is_paused(log, integs[k], &s->paused[k]), STG_OK);
	cr_assert_eq(stg_log_next_due(log, &s->next_due), STG_OK);
	s->store = 1469598103934665603ull;
	for (i = 0; i < F.st.n; i++)
		s->store = fnv(s->store, F.st.recs[i].buf, F.st.recs[i].len);
	s->writes = F.st.writes;
	s->removes = F.st.removes;
	s->sent = F.tr.nsent;
	s->events = F.ev.n;
}

/* Refused call on the fixture's log: code, message (the log's own equals
 * the last error), and the log, its store and its hooks saw no change. */
#define REFUSED_LOG(area, input, want, call)                                   \
	do {                                                                   \
		log_snap before_, after_;                                      \
		int rc_;                                                       \
		snap_log(F.log, &before_);                                     \
		prime();                                                       \
		rc_ = (call);                                                  \
		refused(area, #call, input, want, rc_, stg_log_errmsg(F.log)); \
		snap_log(F.log, &after_);                                      \
		cr_expect(memcmp(&before_, &after_, sizeof before_) == 0,      \
		          "%s: %s [%s] changed the log", area, #call, input);  \
	} while (0)

/* ================================================================ tests */

TestSuite(badinput, .timeout = 60);

/* ---------------------------------------------------- common, version */

Test(badinput, common_and_version)
{
	static const int codes[] = { 1, 17, -18, -999, 999, INT_MIN, INT_MAX };
	size_t i;
	int a = -1, b = -1, c = -1;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *s = stg_strerror(codes[i]);
		char in[32];
		cr_expect(s != NULL && strcmp(s, "unknown error") == 0, "stg_strerror(%d) = %s",
		          codes[i], s ? s : "(null)");
		snprintf(in, sizeof in, "code %d", codes[i]);
		row("common", "stg_strerror(code)", in, "\"unknown error\"", s ? s : "(null)");
	}
	for (i = 0; i <= 15; i++)
		cr_expect(strcmp(stg_strerror(-(int)i), "unknown error") != 0, "code -%zu has no text", i);
	cr_expect(stg_last_error() != NULL);
	stg_version(NULL, NULL, NULL);
	stg_version(&a, NULL, NULL);
	stg_version(NULL, &b, &c);
	cr_expect(a == STG_VERSION_MAJOR && b == STG_VERSION_MINOR && c == STG_VERSION_PATCH);
	row("version", "stg_version(NULL, NULL, NULL)", "all NULL", "no-op (documented)", "no crash");
	REFUSED("common", "NULL struct", STG_EINVAL, stg_allocator_init(NULL, STG_ALLOCATOR_VERSION));
}

/* --------------------------------------------- every init, NULL and versions */

#define INIT_CASES(X)                                                                      \
	X(stg_allocator, stg_allocator_init, STG_ALLOCATOR_VERSION)                         \
	X(stg_change, stg_change_init, STG_CHANGE_VERSION)                                  \
	X(stg_entry, stg_entry_init, STG_ENTRY_VERSION)                                     \
	X(stg_storage, stg_storage_init, STG_STORAGE_VERSION)                               \
	X(stg_job_result, stg_job_result_init, STG_JOB_RESULT_VERSION)                                  \
	X(stg_transport, stg_transport_init, STG_TRANSPORT_VERSION)                         \
	X(stg_clock, stg_clock_init, STG_CLOCK_VERSION)                                     \
	X(stg_events, stg_events_init, STG_EVENTS_VERSION)                                  \
	X(stg_log_options, stg_log_options_init, STG_LOG_OPTIONS_VERSION)                   \
	X(stg_submit, stg_submit_init, STG_SUBMIT_VERSION)                                  \
	X(stg_query, stg_query_init, STG_QUERY_VERSION)

Test(badinput, init_functions)
{
#define X(type, fn, VERSION)                                                             \
	{                                                                                \
		type s_;                                                                 \
		REFUSED("init", "NULL struct", STG_EINVAL, fn(NULL, VERSION));           \
		memset(&s_, 0xAB, sizeof s_);                                            \
		REFUSED("init", "version 0", STG_EVERSION, fn(&s_, 0));                  \
		REFUSED("init", "version VERSION+1", STG_EVERSION, fn(&s_, VERSION + 1)); \
		REFUSED("init", "version UINT_MAX", STG_EVERSION, fn(&s_, UINT_MAX));    \
		{                                                                        \
			unsigned char pat_[sizeof s_];                                   \
			memset(pat_, 0xAB, sizeof pat_);                                 \
			cr_expect(memcmp(&s_, pat_, sizeof s_) == 0,                     \
			          #fn " wrote the struct on failure");                   \
		}                                                                        \
	}
	INIT_CASES(X)
#undef X
}

/* ---------------------------------------------------------------- policy */

Test(badinput, policy_null_pointers)
{
	stg_policy *p = pol_fixture(), *sentinel = (stg_policy *)&F, *out = sentinel;
	stg_evaluation ev;
	int64_t avail[2] = { 1, 2 }, pub[2] = { -7, -7 }, min = 0;
	int src = 0;

	REFUSED("policy", "NULL out", STG_EINVAL, stg_policy_new(NULL, NULL));
	REFUSED("policy", "NULL out", STG_EINVAL, stg_policy_copy(NULL, p));
	REFUSED("policy", "NULL src", STG_EINVAL, stg_policy_copy(&out, NULL));
	cr_expect(out == sentinel, "stg_policy_copy wrote out on failure");
	stg_policy_free(NULL);
	row("policy", "stg_policy_free(NULL)", "NULL", "no-op (documented)", "no crash");
	cr_expect_str_eq(stg_policy_errmsg(NULL), "");
	rowf("policy", "stg_policy_errmsg(NULL)", "NULL", "\"\" (documented)", "\"%s\"",
	     stg_policy_errmsg(NULL));

	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_min_stock(NULL, 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_mode(NULL, STG_MODE_CUTOFF));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_allocation(NULL, 50));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_cap(NULL, 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_window(NULL, 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_drift(NULL, 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_heartbeat(NULL, 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_sku_min(NULL, "S", 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_clear_sku_min(NULL, "S"));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_set_category_min(NULL, "C", 1));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_clear_category_min(NULL, "C"));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_resolve_min(NULL, "S", "C", &min, &src));
	REFUSED("policy", "NULL policy", STG_EINVAL, stg_policy_evaluate(NULL, "S", "C", 5, &ev));
	REFUSED("policy", "NULL policy", STG_EINVAL,
	        stg_policy_evaluate_batch(NULL, 2, NULL, NULL, avail, pub, NULL));

	REFUSED_POL("policy", "NULL sku", STG_EINVAL, p, stg_policy_set_sku_min(p, NULL, 1));
	REFUSED_POL("policy", "NULL sku", STG_EINVAL, p, stg_policy_clear_sku_min(p, NULL));
	REFUSED_POL("policy", "NULL category", STG_EINVAL, p, stg_policy_set_category_min(p, NULL, 1));
	REFUSED_POL("policy", "NULL category", STG_EINVAL, p, stg_policy_clear_category_min(p, NULL));
	REFUSED("policy", "NULL out", STG_EINVAL, stg_policy_evaluate(p, "S", NULL, 5, NULL));
	REFUSED("policy", "n=2, NULL available", STG_EINVAL,
	        stg_policy_evaluate_batch(p, 2, NULL, NULL, NULL, pub, NULL));
	REFUSED("policy", "n=2, NULL published", STG_EINVAL,
	        stg_policy_evaluate_batch(p, 2, NULL, NULL, avail, NULL, NULL));
	cr_expect(pub[0] == -7 && pub[1] == -7, "evaluate_batch wrote on failure");

	/* Documented optional pointers. */
	cr_expect_eq(stg_policy_resolve_min(p, NULL, NULL, NULL, NULL), STG_OK);
	row("policy", "stg_policy_resolve_min(p, NULL, NULL, NULL, NULL)", "NULL keys and outs",
	    "STG_OK (documented: may be NULL)", "STG_OK");
	cr_expect_eq(stg_policy_evaluate(p, NULL, NULL, 5, &ev), STG_OK);
	cr_expect_eq(stg_policy_evaluate_batch(p, 0, NULL, NULL, NULL, NULL, NULL), STG_OK);
	row("policy", "stg_policy_evaluate_batch(p, 0, NULL...)", "n=0, every array NULL",
	    "STG_OK", "STG_OK");

	/* Getters on NULL give the documented defaults. */
	cr_expect_eq(stg_policy_min_stock(NULL), 0);
	cr_expect_eq(stg_policy_mode(NULL), STG_MODE_CUTOFF);
	cr_expect_eq(stg_policy_allocation(NULL), 100);
	cr_expect_eq(stg_policy_cap(NULL), 0);
	cr_expect_eq(stg_policy_window(NULL), 5);
	cr_expect_eq(stg_policy_drift(NULL), 0);
	cr_expect_eq(stg_policy_heartbeat(NULL), 0);
	rowf("policy", "stg_policy_<getter>(NULL)", "NULL policy",
	     "defaults: min 0, cutoff, 100%, cap 0, window 5 (drift, heartbeat: undocumented)",
	     "min %lld, mode %d, allocation %d, cap %lld, window %lld, drift %d, heartbeat %lld",
	     (long long)stg_policy_min_stock(NULL), stg_policy_mode(NULL),
	     stg_policy_allocation(NULL), (long long)stg_policy_cap(NULL),
	     (long long)stg_policy_window(NULL), stg_policy_drift(NULL),
	     (long long)stg_policy_heartbeat(NULL));
	stg_policy_free(p);
}

Test(badinput, policy_ranges_and_enums)
{
	stg_policy *p = pol_fixture();
	static const int modes[] = { -1, 2, 999, INT_MIN, INT_MAX };
	static const int allocs[] = { 0, -1, 101, INT_MIN, INT_MAX };
	static const int drifts[] = { -1, 10001, INT_MIN, INT_MAX };
	static const int64_t quantities[] = { -1, INT64_MIN, STG_QUANTITY_MAX + 1, INT64_MAX };
	char in[64];
	size_t i;

	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		snprintf(in, sizeof in, "mode %d", modes[i]);
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_mode(p, modes[i]));
	}
	for (i = 0; i < sizeof allocs / sizeof allocs[0]; i++) {
		snprintf(in, sizeof in, "percent %d", allocs[i]);
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_allocation(p, allocs[i]));
	}
	for (i = 0; i < sizeof drifts / sizeof drifts[0]; i++) {
		snprintf(in, sizeof in, "percent %d", drifts[i]);
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_drift(p, drifts[i]));
	}
	for (i = 0; i < sizeof quantities / sizeof quantities[0]; i++) {
		snprintf(in, sizeof in, "%lld", (long long)quantities[i]);
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_min_stock(p, quantities[i]));
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_cap(p, quantities[i]));
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_window(p, quantities[i]));
		REFUSED_POL("policy", in, STG_ERANGE, p, stg_policy_set_sku_min(p, "SKU2", quantities[i]));
		REFUSED_POL("policy", in, STG_ERANGE, p,
		            stg_policy_set_category_min(p, "CAT2", quantities[i]));
	}
	REFUSED_POL("policy", "age -1 ms", STG_ERANGE, p, stg_policy_set_heartbeat(p, -1));
	REFUSED_POL("policy", "age INT64_MIN", STG_ERANGE, p, stg_policy_set_heartbeat(p, INT64_MIN));
	REFUSED_POL("policy", "no override for it", STG_ENOTFOUND, p, stg_policy_clear_sku_min(p, "SKU2"));
	REFUSED_POL("policy", "no override for it", STG_ENOTFOUND, p,
	            stg_policy_clear_category_min(p, "CAT2"));

	/* The largest accepted values still evaluate without overflow. */
	cr_expect_eq(stg_policy_set_min_stock(p, STG_QUANTITY_MAX), STG_OK);
	cr_expect_eq(stg_policy_set_cap(p, STG_QUANTITY_MAX), STG_OK);
	{
		stg_evaluation ev;
		cr_expect_eq(stg_policy_evaluate(p, NULL, NULL, INT64_MAX, &ev), STG_OK);
		cr_expect(ev.published >= 0 && ev.published <= INT64_MAX - STG_QUANTITY_MAX);
		rowf("policy", "stg_policy_evaluate(p, ..., INT64_MAX)",
		     "reserve, min = cap = STG_QUANTITY_MAX, 80%", "published in range",
		     "published %lld, rule %s", (long long)ev.published, stg_rule_name(ev.rule));
		cr_expect_eq(stg_policy_evaluate(p, NULL, NULL, INT64_MIN, &ev), STG_OK);
		cr_expect(ev.published == 0 && ev.rule == STG_RULE_NEGATIVE);
		rowf("policy", "stg_policy_evaluate(p, ..., INT64_MIN)", "available INT64_MIN",
		     "published 0, rule negative", "published %lld, rule %s", (long long)ev.published,
		     stg_rule_name(ev.rule));
	}

	/* Names of out-of-range enums. */
	{
		static const int bad[] = { -1, 999, INT_MIN, INT_MAX };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			snprintf(in, sizeof in, "%d", bad[i]);
			cr_expect_str_eq(stg_rule_name(bad[i]), "unknown");
			cr_expect_str_eq(stg_min_source_name(bad[i]), "unknown");
			cr_expect_str_eq(stg_decision_name(bad[i]), "unknown");
			cr_expect_str_eq(stg_reason_name(bad[i]), "unknown");
			cr_expect_str_eq(stg_entry_status_name(bad[i]), "unknown");
			cr_expect_str_eq(stg_error_class_name(bad[i]), "unknown");
			cr_expect_str_eq(stg_job_state_name(bad[i]), "unknown");
			cr_expect_eq(stg_classify_http(bad[i]), STG_ERRCLASS_TRANSIENT);
		}
		cr_expect_str_eq(stg_rule_name(6), "unknown");
		cr_expect_str_eq(stg_min_source_name(3), "unknown");
		cr_expect_str_eq(stg_decision_name(4), "unknown");
		cr_expect_str_eq(stg_reason_name(STG_REASON_COUNT), "unknown");
		cr_expect_str_eq(stg_entry_status_name(3), "unknown");
		cr_expect_str_eq(stg_error_class_name(STG_ERRCLASS_COUNT), "unknown");
		cr_expect_str_eq(stg_job_state_name(4), "unknown");
		row("names", "stg_rule_name, stg_min_source_name, stg_decision_name, stg_reason_name, "
		    "stg_entry_status_name, stg_error_class_name, stg_job_state_name",
		    "-1, 999, INT_MIN, INT_MAX, first value past the enum", "\"unknown\"",
		    "\"unknown\" for each");
		row("entry", "stg_classify_http(status)", "-1, 999, INT_MIN, INT_MAX",
		    "transient (\"anything else\")", "STG_ERRCLASS_TRANSIENT for each");
	}
	stg_policy_free(p);
}

/* ---------------------------------------------------------------- filter */

Test(badinput, filter_null_versions_flags)
{
	stg_policy *p = pol_fixture();
	stg_change c = STG_CHANGE_INIT;
	stg_filter_result r, pat;
	int64_t from[2] = { 10, 20 }, to[2] = { 3, 30 };
	uint8_t dec[2] = { 77, 77 }, hf0[2] = { 0, 0 }, hf1[2] = { 0, 1 };

	memset(&r, 0xAB, sizeof r);
	memset(&pat, 0xAB, sizeof pat);
	c.to = 3;
	REFUSED("filter", "NULL policy", STG_EINVAL, stg_filter_decide(NULL, &c, &r));
	REFUSED("filter", "NULL change", STG_EINVAL, stg_filter_decide(p, NULL, &r));
	REFUSED("filter", "NULL out", STG_EINVAL, stg_filter_decide(p, &c, NULL));
	c.version = 0;
	REFUSED("filter", "change version 0", STG_EVERSION, stg_filter_decide(p, &c, &r));
	c.version = STG_CHANGE_VERSION + 1;
	REFUSED("filter", "change version VERSION+1", STG_EVERSION, stg_filter_decide(p, &c, &r));
	cr_expect(memcmp(&r, &pat, sizeof r) == 0, "stg_filter_decide wrote out on failure");
	c.version = STG_CHANGE_VERSION;
	c.flags = 0x80u | STG_CHANGE_HAS_FROM;
	c.from = 10;
	{
		int rc = stg_filter_decide(p, &c, &r);
		rowf("filter", "stg_filter_decide(p, &c, &r)", "unknown flag bit 0x80 in change.flags",
		     "undocumented", "%s: unknown bits ignored (decision %s, reason %s)", code_name(rc),
		     stg_decision_name(r.decision), stg_reason_name(r.reason));
	}
	/* Heartbeat 60 s: an age of 120 s exports, a negative age is "unknown". */
	c.flags = STG_CHANGE_HAS_FROM;
	c.from = 40;
	c.to = 45;
	c.since_export_ms = 120000;
	cr_expect_eq(stg_filter_decide(p, &c, &r), STG_OK);
	cr_expect_eq(r.reason, STG_REASON_HEARTBEAT);
	c.since_export_ms = -5;
	cr_expect_eq(stg_filter_decide(p, &c, &r), STG_OK);
	cr_expect_eq(r.reason, STG_REASON_OUTSIDE_WINDOW);
	rowf("filter", "stg_filter_decide(p, &c, &r)", "since_export_ms -5 (negative, not -1), "
	     "heartbeat 60 s", "undocumented", "STG_OK: age treated as unknown (reason %s; "
	     "120000 gives heartbeat)", stg_reason_name(r.reason));
	c.flags = 0;

	REFUSED("filter", "NULL policy", STG_EINVAL,
	        stg_filter_batch(NULL, 2, NULL, NULL, from, NULL, to, NULL, NULL, dec, NULL, NULL, NULL));
	REFUSED("filter", "n=2, NULL to", STG_EINVAL,
	        stg_filter_batch(p, 2, NULL, NULL, from, NULL, NULL, NULL, NULL, dec, NULL, NULL, NULL));
	REFUSED("filter", "n=2, NULL decisions", STG_EINVAL,
	        stg_filter_batch(p, 2, NULL, NULL, from, NULL, to, NULL, NULL, NULL, NULL, NULL, NULL));
	REFUSED("filter", "n=2, NULL from and NULL has_from", STG_EINVAL,
	        stg_filter_batch(p, 2, NULL, NULL, NULL, NULL, to, NULL, NULL, dec, NULL, NULL, NULL));
	REFUSED("filter", "n=2, NULL from, has_from[1] = 1", STG_EINVAL,
	        stg_filter_batch(p, 2, NULL, NULL, NULL, hf1, to, NULL, NULL, dec, NULL, NULL, NULL));
	cr_expect(dec[0] == 77 && dec[1] == 77, "stg_filter_batch wrote on failure");
	cr_expect_eq(stg_filter_batch(p, 2, NULL, NULL, NULL, hf0, to, NULL, NULL, dec, NULL, NULL,
	                              NULL), STG_OK);
	cr_expect(dec[0] == STG_DECISION_EXPORT && dec[1] == STG_DECISION_EXPORT);
	row("filter", "stg_filter_batch(p, 2, ..., from NULL, has_from {0,0}, ...)",
	    "NULL from, every item first seen", "STG_OK (documented)", "STG_OK, both first_seen");
	cr_expect_eq(stg_filter_batch(p, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	                              NULL, NULL), STG_OK);
	row("filter", "stg_filter_batch(p, 0, NULL...)", "n=0, every array NULL", "STG_OK", "STG_OK");
	stg_policy_free(p);
}

/* ----------------------------------------------------------------- entry */

static stg_entry good_entry(void)
{
	stg_entry e = STG_ENTRY_INIT;

	e.integration = "amz";
	e.sku = "A";
	e.status = STG_ENTRY_SUCCESS;
	e.available = e.published = e.acked = 7;
	e.flags = STG_ENTRY_HAS_ACKED;
	return e;
}

Test(badinput, entry_codec)
{
	unsigned char buf[STG_ENTRY_ENCODED_MAX], pat[STG_ENTRY_ENCODED_MAX];
	stg_entry e = good_entry(), out, outpat;
	size_t len = 0, glen;
	char in[96];

	memset(pat, 0xAB, sizeof pat);
	memset(&outpat, 0xCD, sizeof outpat);
	REFUSED("entry", "NULL entry", STG_EINVAL, stg_entry_encode(NULL, buf, sizeof buf, &len));
	REFUSED("entry", "NULL len", STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, NULL));
	memset(buf, 0xAB, sizeof buf);
	e.integration = NULL;
	REFUSED("entry", "NULL integration", STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
	e.integration = "amz";
	e.sku = NULL;
	REFUSED("entry", "NULL sku", STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
	e.sku = "";
	REFUSED("entry", "empty sku", STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
	e.sku = "A";
	e.version = 0;
	REFUSED("entry", "entry version 0", STG_EVERSION, stg_entry_encode(&e, buf, sizeof buf, &len));
	e.version = STG_ENTRY_VERSION + 1;
	REFUSED("entry", "entry version VERSION+1", STG_EVERSION,
	        stg_entry_encode(&e, buf, sizeof buf, &len));
	e.version = STG_ENTRY_VERSION;
	{
		static const int bad[] = { -1, 999 };
		size_t i;
		for (i = 0; i < 2; i++) {
			stg_entry x;
#define FIELD(f)                                                                              \
	x = good_entry();                                                                     \
	x.f = bad[i];                                                                         \
	snprintf(in, sizeof in, #f " %d", bad[i]);                                            \
	REFUSED("entry", in, STG_EINVAL, stg_entry_encode(&x, buf, sizeof buf, &len));
			FIELD(status)
			FIELD(job_state)
			FIELD(error_class)
			FIELD(priority)
			FIELD(reason)
#undef FIELD
		}
		e.http_status = 1000;
		REFUSED("entry", "http_status 1000", STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
		e.http_status = -1;
		REFUSED("entry", "http_status -1", STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
		e.http_status = 0;
	}
	cr_expect(memcmp(buf, pat, sizeof buf) == 0, "stg_entry_encode wrote on failure");

	/* Sizes: asking, too small, NULL buffer with a capacity. */
	cr_expect_eq(stg_entry_encode(&e, NULL, 0, &glen), STG_EOVERFLOW);
	row("entry", "stg_entry_encode(&e, NULL, 0, &len)", "NULL buffer, cap 0 (size query)",
	    "STG_EOVERFLOW with *len set (documented)", glen > 0 ? "STG_EOVERFLOW, len set" : "len 0");
	REFUSED("entry", "cap one byte short", STG_EOVERFLOW, stg_entry_encode(&e, buf, glen - 1, &len));
	cr_expect(memcmp(buf, pat, sizeof buf) == 0, "stg_entry_encode wrote past a short cap");
	{
		int rc;
		prime();
		rc = stg_entry_encode(&e, NULL, SIZE_MAX, &len);
		cr_expect(rc != STG_OK, "stg_entry_encode(NULL buffer, SIZE_MAX) returned STG_OK");
		cr_expect(stg_last_error()[0] && !primed_msg(stg_last_error()));
		rowf("entry", "stg_entry_encode(&e, NULL, SIZE_MAX, &len)", "NULL buffer, cap SIZE_MAX",
		     "an error (buf may be NULL only when cap is 0)", "%s \"%s\"", code_name(rc),
		     stg_last_error());
	}

	/* Decode. */
	cr_assert_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
	out = outpat;
	REFUSED("entry", "NULL buffer", STG_EINVAL, stg_entry_decode(NULL, len, &out));
	REFUSED("entry", "NULL buffer, len SIZE_MAX", STG_EINVAL, stg_entry_decode(NULL, SIZE_MAX, &out));
	REFUSED("entry", "NULL out", STG_EINVAL, stg_entry_decode(buf, len, NULL));
	REFUSED("entry", "len 0", STG_ETRUNCATED, stg_entry_decode(buf, 0, &out));
	REFUSED("entry", "len - 1", STG_ETRUNCATED, stg_entry_decode(buf, len - 1, &out));
	{
		unsigned char big[STG_ENTRY_ENCODED_MAX + 1];
		memcpy(big, buf, len);
		big[len] = 0;
		REFUSED("entry", "one trailing byte", STG_ECORRUPT, stg_entry_decode(big, len + 1, &out));
		big[0] = 'X';
		REFUSED("entry", "bad magic", STG_ECORRUPT, stg_entry_decode(big, len, &out));
		memcpy(big, buf, len);
		big[3] = 3;
		REFUSED("entry", "format version 3", STG_ECORRUPT, stg_entry_decode(big, len, &out));
		memcpy(big, buf, len);
		big[9] = 0x87; /* an explain byte with rule 7 */
		REFUSED("entry", "unknown rule in the explain byte (checksum fixed)", STG_ECORRUPT,
		        stg_entry_decode(big, len, &out));
		memcpy(big, buf, len);
		big[20] ^= 1;
		REFUSED("entry", "one bit flipped (checksum)", STG_ECORRUPT, stg_entry_decode(big, len, &out));
	}
	cr_expect(memcmp(&out, &outpat, sizeof out) == 0, "stg_entry_decode wrote out on failure");
	cr_expect_eq(stg_entry_decode(buf, len, &out), STG_OK);
}

/* ------------------------------------------------------------------- log */

Test(badinput, log_null_pointers, .init = fx_open, .fini = fx_close)
{
	stg_log *sentinel = (stg_log *)&F, *out = sentinel;
	stg_submit s = STG_SUBMIT_INIT;
	stg_job_result res = STG_JOB_RESULT_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_policy *p = pol_fixture();
	stg_entry e, ents[4];
	stg_counts c;
	stg_stats st;
	uint64_t cursor = 0;
	size_t n = 99, count = 99;
	int64_t w;
	int paused;

	s.integration = "amz";
	s.sku = "A";
	s.available = 1;
	s.sequence = 5;

	/* NULL log: every function. */
	REFUSED("log", "NULL out", STG_EINVAL, stg_log_open(NULL, NULL));
	stg_log_close(NULL);
	row("log", "stg_log_close(NULL)", "NULL", "no-op (documented)", "no crash");
	cr_expect_str_eq(stg_log_errmsg(NULL), "");
	row("log", "stg_log_errmsg(NULL)", "NULL", "\"\" (undocumented)", "\"\"");
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_set_transport(NULL, &hook_transport));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_set_policy(NULL, "amz", p));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_set_limits(NULL, "amz", 1, 0, 0));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_submit(NULL, &s, NULL));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_submit_batch(NULL, &s, 1, NULL, &n));
	cr_expect(n == 0, "done not 0 after a refused batch");
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_pump(NULL, 0, &n));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_complete(NULL, 1, &res));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_next_due(NULL, &w));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_pause(NULL, "amz"));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_resume(NULL, "amz"));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_is_paused(NULL, "amz", &paused));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_set_catalogued(NULL, "amz", "A"));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_get(NULL, "amz", "A", &e));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_query(NULL, NULL, &cursor, ents, 4, &count));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_counts(NULL, NULL, &c));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_stats(NULL, NULL, &st));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_reprocess(NULL, "amz", "A"));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_reprocess_matching(NULL, NULL, &n));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_remove(NULL, "amz", "A", 0));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_remove_matching(NULL, NULL, 0, &n));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_expire(NULL, &n));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_flush(NULL, &n));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_set_limit_scope(NULL, "amz", "app"));
	REFUSED("log", "NULL log", STG_EINVAL, stg_log_limit_state(NULL, "amz", &(stg_limit_state){ 0 }));
	cr_expect(out == sentinel);

	/* NULL in every other pointer parameter of a live log. */
	REFUSED_LOG("log", "NULL transport", STG_EINVAL, stg_log_set_transport(F.log, NULL));
	REFUSED_LOG("log", "transport without send", STG_EINVAL, stg_log_set_transport(F.log, &t));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_set_policy(F.log, NULL, p));
	REFUSED_LOG("log", "NULL policy", STG_EINVAL, stg_log_set_policy(F.log, "amz", NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_set_limits(F.log, NULL, 1, 0, 0));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_set_limit_scope(F.log, NULL, "app"));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL,
	            stg_log_limit_state(F.log, NULL, &(stg_limit_state){ 0 }));
	REFUSED_LOG("log", "NULL out", STG_EINVAL, stg_log_limit_state(F.log, "amz", NULL));
	REFUSED_LOG("log", "NULL change", STG_EINVAL, stg_log_submit(F.log, NULL, NULL));
	s.integration = NULL;
	REFUSED_LOG("log", "change.integration NULL", STG_EINVAL, stg_log_submit(F.log, &s, NULL));
	s.integration = "amz";
	s.sku = NULL;
	REFUSED_LOG("log", "change.sku NULL", STG_EINVAL, stg_log_submit(F.log, &s, NULL));
	s.sku = "A";
	REFUSED_LOG("log", "NULL changes, n=1", STG_EINVAL, stg_log_submit_batch(F.log, NULL, 1, NULL, &n));
	REFUSED_LOG("log", "NULL result", STG_EINVAL, stg_log_complete(F.log, F.async_id, NULL));
	REFUSED_LOG("log", "NULL wait_ms", STG_EINVAL, stg_log_next_due(F.log, NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_pause(F.log, NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_resume(F.log, NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_is_paused(F.log, NULL, &paused));
	REFUSED_LOG("log", "NULL paused", STG_EINVAL, stg_log_is_paused(F.log, "amz", NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_set_catalogued(F.log, NULL, "A"));
	REFUSED_LOG("log", "NULL sku", STG_EINVAL, stg_log_set_catalogued(F.log, "amz", NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_get(F.log, NULL, "A", &e));
	REFUSED_LOG("log", "NULL sku", STG_EINVAL, stg_log_get(F.log, "amz", NULL, &e));
	REFUSED_LOG("log", "NULL out", STG_EINVAL, stg_log_get(F.log, "amz", "A", NULL));
	REFUSED_LOG("log", "NULL cursor", STG_EINVAL, stg_log_query(F.log, NULL, NULL, ents, 4, &count));
	REFUSED_LOG("log", "NULL count", STG_EINVAL, stg_log_query(F.log, NULL, &cursor, ents, 4, NULL));
	REFUSED_LOG("log", "NULL entries, cap 4", STG_EINVAL,
	            stg_log_query(F.log, NULL, &cursor, NULL, 4, &count));
	REFUSED_LOG("log", "NULL out", STG_EINVAL, stg_log_counts(F.log, NULL, NULL));
	REFUSED_LOG("log", "NULL out", STG_EINVAL, stg_log_stats(F.log, NULL, NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_reprocess(F.log, NULL, "A"));
	REFUSED_LOG("log", "NULL sku", STG_EINVAL, stg_log_reprocess(F.log, "amz", NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_remove(F.log, NULL, "A", 0));
	REFUSED_LOG("log", "NULL sku", STG_EINVAL, stg_log_remove(F.log, "amz", NULL, 0));
	cr_expect(cursor == 0 && count == 99, "stg_log_query wrote cursor or count on failure");

	/* Documented optional pointers: accepted. */
	{
		stg_log *l2 = NULL;
		cr_expect_eq(stg_log_open(&l2, NULL), STG_OK);
		stg_log_close(l2);
		row("log", "stg_log_open(&l, NULL)", "NULL options", "STG_OK, all defaults (documented)",
		    "STG_OK");
	}
	{
		log_snap a, b;
		snap_log(F.log, &a);
		cr_expect_eq(stg_log_query(F.log, NULL, &cursor, NULL, 0, &count), STG_OK);
		cr_expect_eq(stg_log_counts(F.log, NULL, &c), STG_OK);
		cr_expect_eq(stg_log_stats(F.log, NULL, &st), STG_OK);
		cr_expect_eq(stg_log_expire(F.log, NULL), STG_OK);
		cr_expect_eq(stg_log_flush(F.log, NULL), STG_OK);
		cr_expect_eq(stg_log_pump(F.log, 0, NULL), STG_OK);
		snap_log(F.log, &b);
		row("log", "stg_log_query(log, NULL query, &cursor, NULL, 0, &count); counts/stats "
		    "with NULL integration; expire/flush/pump with NULL counters",
		    "documented optional pointers", "STG_OK", "STG_OK for each");
	}
	stg_policy_free(p);
	(void)out;
}

static void *only_malloc(size_t n, void *payload)
{
	(void)payload;
	return malloc(n);
}

Test(badinput, log_versions_and_hooks)
{
	stg_log_options o;
	stg_log *l = NULL;
	stg_allocator a = STG_ALLOCATOR_INIT;
	stg_storage st = STG_STORAGE_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_clock ck = STG_CLOCK_INIT;
	stg_events ev = STG_EVENTS_INIT;
	stg_policy *p = NULL;
	static const unsigned bad[2] = { 0, 2 };
	char in[64];
	int i;

	memset(&F, 0, sizeof F);
	for (i = 0; i < 2; i++) {
		const char *v = i ? "VERSION+1" : "0";
		o = fx_options();
		o.version = bad[i] ? STG_LOG_OPTIONS_VERSION + 1 : 0;
		snprintf(in, sizeof in, "options version %s", v);
		REFUSED("log open", in, STG_EVERSION, stg_log_open(&l, &o));
#define HOOKV(name, var, VERSION)                                                       \
	o = fx_options();                                                               \
	var = *o.name;                                                                  \
	var.version = bad[i] ? VERSION + 1 : 0;                                         \
	o.name = &var;                                                                  \
	snprintf(in, sizeof in, #name " version %s", v);                                \
	REFUSED("log open", in, STG_EVERSION, stg_log_open(&l, &o));
		HOOKV(storage, st, STG_STORAGE_VERSION)
		HOOKV(transport, t, STG_TRANSPORT_VERSION)
		HOOKV(clock, ck, STG_CLOCK_VERSION)
		HOOKV(events, ev, STG_EVENTS_VERSION)
#undef HOOKV
		o = fx_options();
		a.version = bad[i] ? STG_ALLOCATOR_VERSION + 1 : 0;
		o.allocator = &a;
		snprintf(in, sizeof in, "allocator version %s", v);
		REFUSED("log open", in, STG_EVERSION, stg_log_open(&l, &o));
		p = (stg_policy *)&F;
		REFUSED("policy", in, STG_EVERSION, stg_policy_new(&p, &a));
		cr_expect(p == (stg_policy *)&F, "stg_policy_new wrote out on failure");
	}
	cr_expect(l == NULL, "stg_log_open wrote out on failure");
	cr_expect(F.st.writes == 0 && F.tr.nsent == 0 && F.ev.n == 0);

	/* Half-set hooks. */
	stg_allocator_init(&a, STG_ALLOCATOR_VERSION);
	a.malloc_fn = only_malloc;
	REFUSED("policy", "allocator with only malloc_fn", STG_EINVAL, stg_policy_new(&p, &a));
	o = fx_options();
	o.allocator = &a;
	REFUSED("log open", "allocator with only malloc_fn", STG_EINVAL, stg_log_open(&l, &o));
	o = fx_options();
	st = *o.storage;
	st.remove = NULL;
	o.storage = &st;
	REFUSED("log open", "storage without remove", STG_EINVAL, stg_log_open(&l, &o));
	st = *fx_options().storage;
	st.write = NULL;
	o.storage = &st;
	REFUSED("log open", "storage without write", STG_EINVAL, stg_log_open(&l, &o));
	o = fx_options();
	t = *o.transport;
	t.send = NULL;
	o.transport = &t;
	REFUSED("log open", "transport without send (send_batch set)", STG_EINVAL, stg_log_open(&l, &o));
	{
		static const int64_t neg[] = { -1, INT64_MIN };
		int k;
		for (k = 0; k < 2; k++) {
			const char *v = k ? "INT64_MIN" : "-1";
#define NEGOPT(field)                                                              \
	o = fx_options();                                                          \
	o.field = neg[k];                                                          \
	snprintf(in, sizeof in, #field " %s", v);                                  \
	REFUSED("log open", in, STG_EINVAL, stg_log_open(&l, &o));
			NEGOPT(latency_limit_ms)
			NEGOPT(backoff_base_ms)
			NEGOPT(backoff_max_ms)
			NEGOPT(catalogue_retry_ms)
			NEGOPT(success_max_age_ms)
#undef NEGOPT
		}
	}
	cr_expect(l == NULL, "stg_log_open wrote out on failure");
	cr_expect(F.st.writes == 0 && F.tr.nsent == 0 && F.ev.n == 0);
}

Test(badinput, log_versions_on_a_live_log, .init = fx_open, .fini = fx_close)
{
	static const unsigned bad[2] = { 0, 2 };
	stg_transport t = STG_TRANSPORT_INIT;
	stg_submit s[3];
	stg_submit_result res[3];
	stg_job_result r = STG_JOB_RESULT_INIT;
	stg_query q = STG_QUERY_INIT;
	stg_entry ents[4];
	uint64_t cursor = 0;
	size_t count, done = 99;
	char in[64];
	int i, k;

	for (k = 0; k < 3; k++) {
		stg_submit_init(&s[k], STG_SUBMIT_VERSION);
		s[k].integration = "amz";
		s[k].sku = k == 0 ? "NEW0" : k == 1 ? "NEW1" : "NEW2";
		s[k].available = 10;
	}
	for (i = 0; i < 2; i++) {
		const char *v = i ? "VERSION+1" : "0";
		t = hook_transport;
		t.version = bad[i] ? STG_TRANSPORT_VERSION + 1 : 0;
		snprintf(in, sizeof in, "transport version %s", v);
		REFUSED_LOG("log", in, STG_EVERSION, stg_log_set_transport(F.log, &t));
		s[0].version = bad[i] ? STG_SUBMIT_VERSION + 1 : 0;
		snprintf(in, sizeof in, "submit version %s", v);
		REFUSED_LOG("log", in, STG_EVERSION, stg_log_submit(F.log, &s[0], NULL));
		s[0].version = STG_SUBMIT_VERSION;
		r.version = bad[i] ? STG_JOB_RESULT_VERSION + 1 : 0;
		snprintf(in, sizeof in, "result version %s", v);
		REFUSED_LOG("log", in, STG_EVERSION, stg_log_complete(F.log, F.async_id, &r));
		r.version = STG_JOB_RESULT_VERSION;
		q.version = bad[i] ? STG_QUERY_VERSION + 1 : 0;
		snprintf(in, sizeof in, "query version %s", v);
		REFUSED_LOG("log", in, STG_EVERSION, stg_log_query(F.log, &q, &cursor, ents, 4, &count));
		REFUSED_LOG("log", in, STG_EVERSION, stg_log_reprocess_matching(F.log, &q, NULL));
		REFUSED_LOG("log", in, STG_EVERSION, stg_log_remove_matching(F.log, &q, STG_REMOVE_FORCE, NULL));
		q.version = STG_QUERY_VERSION;
	}
	/* A bad version in the middle of a batch: the ones before stay applied. */
	s[1].version = 0;
	prime();
	i = stg_log_submit_batch(F.log, s, 3, res, &done);
	cr_expect_eq(i, STG_EVERSION);
	cr_expect(stg_last_error()[0] && !primed_msg(stg_last_error()));
	cr_expect_eq(done, 1u);
	{
		stg_entry e;
		cr_expect_eq(stg_log_get(F.log, "amz", "NEW0", &e), STG_OK);
		cr_expect_eq(stg_log_get(F.log, "amz", "NEW1", &e), STG_ENOTFOUND);
		cr_expect_eq(stg_log_get(F.log, "amz", "NEW2", &e), STG_ENOTFOUND);
	}
	rowf("log", "stg_log_submit_batch(log, s, 3, res, &done)", "s[1].version 0",
	     "STG_EVERSION, changes before it stay applied (documented)",
	     "%s, done %zu, NEW0 applied, NEW1 and NEW2 not", code_name(i), done);
}

Test(badinput, log_enums_flags_ranges, .init = fx_open, .fini = fx_close)
{
	static const int bad[] = { -2, 3, 999, INT_MIN, INT_MAX };
	stg_submit s = STG_SUBMIT_INIT;
	stg_query q = STG_QUERY_INIT;
	stg_job_result r = STG_JOB_RESULT_INIT;
	stg_entry ents[4];
	uint64_t cursor = 0;
	size_t count;
	char in[64];
	size_t i;

	s.integration = "amz";
	s.sku = "A";
	s.available = 3;
	s.sequence = 9;
	s.flags = 0x80u;
	REFUSED_LOG("log", "submit flags 0x80", STG_EINVAL, stg_log_submit(F.log, &s, NULL));
	s.flags = 0;
	REFUSED_LOG("log", "flags 0x2", STG_EINVAL, stg_log_remove(F.log, "amz", "A", 0x2u));
	REFUSED_LOG("log", "flags 0x2", STG_EINVAL, stg_log_remove_matching(F.log, NULL, 0x2u, NULL));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		q = (stg_query)STG_QUERY_INIT;
		q.status = bad[i];
		snprintf(in, sizeof in, "query.status %d", bad[i]);
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_query(F.log, &q, &cursor, ents, 4, &count));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_reprocess_matching(F.log, &q, NULL));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_remove_matching(F.log, &q, STG_REMOVE_FORCE, NULL));
		q = (stg_query)STG_QUERY_INIT;
		q.error_class = bad[i] == 3 ? STG_ERRCLASS_COUNT : bad[i];
		snprintf(in, sizeof in, "query.error_class %d", q.error_class);
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_query(F.log, &q, &cursor, ents, 4, &count));
	}
	q = (stg_query)STG_QUERY_INIT;
	q.flags = 0x80u;
	REFUSED_LOG("log", "query.flags 0x80", STG_EINVAL, stg_log_query(F.log, &q, &cursor, ents, 4, &count));

	/* Limits. */
	REFUSED_LOG("log", "batch_size 0", STG_ERANGE, stg_log_set_limits(F.log, "amz", 0, 0, 0));
	REFUSED_LOG("log", "batch_size 10001", STG_ERANGE, stg_log_set_limits(F.log, "amz", 10001, 0, 0));
	REFUSED_LOG("log", "batch_size UINT32_MAX", STG_ERANGE,
	            stg_log_set_limits(F.log, "amz", UINT32_MAX, 0, 0));
	REFUSED_LOG("log", "max_jobs 5, per_ms 0", STG_ERANGE, stg_log_set_limits(F.log, "amz", 1, 5, 0));
	REFUSED_LOG("log", "max_jobs 0, per_ms 1000", STG_ERANGE, stg_log_set_limits(F.log, "amz", 1, 0, 1000));
	REFUSED_LOG("log", "per_ms -1", STG_ERANGE, stg_log_set_limits(F.log, "amz", 1, 5, -1));
	REFUSED_LOG("log", "per_ms INT64_MIN", STG_ERANGE, stg_log_set_limits(F.log, "amz", 1, 5, INT64_MIN));
	REFUSED_LOG("log", "per_ms 86400001", STG_ERANGE, stg_log_set_limits(F.log, "amz", 1, 5, 86400001));

	/* Completion results. */
	r.outcome = 999;
	REFUSED_LOG("log", "result.outcome 999", STG_EINVAL, stg_log_complete(F.log, F.async_id, &r));
	r.outcome = -1;
	REFUSED_LOG("log", "result.outcome -1", STG_EINVAL, stg_log_complete(F.log, F.async_id, &r));
	r.outcome = STG_OUTCOME_ASYNC;
	REFUSED_LOG("log", "result.outcome ASYNC", STG_EINVAL, stg_log_complete(F.log, F.async_id, &r));
	r.outcome = STG_OUTCOME_OK;
	REFUSED_LOG("log", "job id 0", STG_ENOTFOUND, stg_log_complete(F.log, 0, &r));
	REFUSED_LOG("log", "job id UINT64_MAX", STG_ENOTFOUND, stg_log_complete(F.log, UINT64_MAX, &r));
	REFUSED_LOG("log", "unknown integration", STG_ENOTFOUND, stg_log_resume(F.log, "nobody"));
	REFUSED_LOG("log", "unknown integration", STG_ENOTFOUND, stg_log_stats(F.log, "nobody", &(stg_stats){ 0 }));
	REFUSED_LOG("log", "unknown integration", STG_ENOTFOUND,
	            stg_log_limit_state(F.log, "nobody", &(stg_limit_state){ 0 }));
	REFUSED_LOG("log", "no entry", STG_ENOTFOUND, stg_log_get(F.log, "amz", "nope", ents));
	REFUSED_LOG("log", "no entry", STG_ENOTFOUND, stg_log_reprocess(F.log, "amz", "nope"));
	REFUSED_LOG("log", "no entry", STG_ENOTFOUND, stg_log_remove(F.log, "amz", "nope", 0));
	REFUSED_LOG("log", "no entry", STG_ENOTFOUND,
	            stg_log_observe(F.log, &(stg_observation){ STG_OBSERVATION_VERSION, 0u, "amz", "nope", 1, 0 }, NULL));
	REFUSED_LOG("log", "unknown integration", STG_ENOTFOUND,
	            stg_log_observe(F.log, &(stg_observation){ STG_OBSERVATION_VERSION, 0u, "nobody", "A", 1, 0 }, NULL));
	REFUSED_LOG("log", "job not held", STG_ESTATE, stg_log_set_catalogued(F.log, "amz", "A"));
	REFUSED_LOG("log", "job in flight", STG_EBUSY, stg_log_reprocess(F.log, "meli", "ASYNC1"));
	REFUSED_LOG("log", "pending job, no FORCE", STG_EBUSY, stg_log_remove(F.log, "amz", "Q1", 0));

	/* A quota out of range in a completion (stg_job_result version 2):
	 * refused before anything changes. */
	{
		static const struct { const char *what; int64_t limit, window, remaining, reset; } quota[] = {
			{ "quota_limit -1", -1, 0, -1, 0 },
			{ "quota_window_ms -1", 5, -1, -1, 0 },
			{ "quota_window_ms 86400001", 5, 86400001, -1, 0 },
			{ "quota_remaining -2", 5, 1000, -2, 0 },
			{ "quota_reset_ms INT64_MIN", 5, 1000, 0, INT64_MIN },
		};
		size_t b;
		for (b = 0; b < sizeof quota / sizeof quota[0]; b++) {
			stg_job_result_init(&r, STG_JOB_RESULT_VERSION);
			r.quota_limit = quota[b].limit;
			r.quota_window_ms = quota[b].window;
			r.quota_remaining = quota[b].remaining;
			r.quota_reset_ms = quota[b].reset;
			REFUSED_LOG("log", quota[b].what, STG_EINVAL, stg_log_complete(F.log, F.async_id, &r));
		}
		stg_job_result_init(&r, STG_JOB_RESULT_VERSION);
	}

	/* error_class out of range in a completion: the outcome is checked
	 * before anything changes; is the class too? */
	{
		log_snap before, after;
		stg_entry e;
		int rc;
		snap_log(F.log, &before);
		r.outcome = STG_OUTCOME_ERROR;
		r.error_class = 999;
		prime();
		rc = stg_log_complete(F.log, F.async_id, &r);
		snap_log(F.log, &after);
		stg_log_get(F.log, "meli", "ASYNC1", &e);
		rowf("log", "stg_log_complete(log, id, &r)", "result.error_class 999 (outcome ERROR)",
		     "STG_EINVAL, nothing changed (as for a bad outcome)",
		     "%s \"%s\"; job %s: %s, attempts %u, error class %s", code_name(rc),
		     stg_last_error(), memcmp(&before, &after, sizeof before) ? "CHANGED" : "unchanged",
		     stg_job_state_name(e.job_state), e.attempts, stg_error_class_name(e.error_class));
		cr_expect_eq(rc, STG_EINVAL);
		cr_expect(memcmp(&before, &after, sizeof before) == 0,
		          "stg_log_complete with error_class 999 returned %s but recorded the result "
		          "(job %s, attempts %u, class %s): a host that fixes its result and completes "
		          "again gets STG_ENOTFOUND", code_name(rc), stg_job_state_name(e.job_state),
		          e.attempts, stg_error_class_name(e.error_class));
	}
}

/* A transport that breaks its contract: documented as a transient failure. */
Test(badinput, transport_breaks_contract, .init = fx_open, .fini = fx_close)
{
	static const char *const what[4] = { "", "outcome 999", "error_class 999", "result version 0" };
	int k;

	for (k = 1; k <= 3; k++) {
		char sku[16];
		stg_entry e;
		size_t sent = 0;
		int rc;

		snprintf(sku, sizeof sku, "BAD%d", k);
		fx_submit("amz", sku, 20, 1);
		F.bad_result = k;
		prime();
		rc = stg_log_pump(F.log, 0, &sent);
		F.bad_result = 0;
		cr_expect_eq(rc, STG_EINVAL, "%s: pump returned %s", what[k], code_name(rc));
		cr_expect(stg_last_error()[0] && !primed_msg(stg_last_error()));
		cr_expect_eq(stg_log_get(F.log, "amz", sku, &e), STG_OK);
		cr_expect(e.status == STG_ENTRY_PENDING && e.job_state == STG_JOB_QUEUED &&
		          e.error_class == STG_ERRCLASS_TRANSIENT && e.attempts == 1,
		          "%s: entry %s/%s class %s attempts %u", what[k], stg_entry_status_name(e.status),
		          stg_job_state_name(e.job_state), stg_error_class_name(e.error_class), e.attempts);
		rowf("log", "stg_log_pump(log, 0, &sent)", what[k],
		     "STG_EINVAL, job treated as a transient failure (documented)",
		     "%s \"%s\"; entry %s/%s, class %s, attempts %u, message \"%s\"", code_name(rc),
		     stg_last_error(), stg_entry_status_name(e.status), stg_job_state_name(e.job_state),
		     stg_error_class_name(e.error_class), e.attempts, e.message ? e.message : "");
	}
}

/* ------------------------------------------------------- strings: length */

static char *key_of(size_t n, char c)
{
	char *k = malloc(n + 1);

	memset(k, c, n);
	k[n] = '\0';
	return k;
}

Test(badinput, overlong_and_empty_keys, .init = fx_open, .fini = fx_close)
{
	char *longk = key_of(STG_KEY_MAX + 1, 'k'), *maxk = key_of(STG_KEY_MAX, 'm');
	stg_policy *p = pol_fixture();
	stg_submit s = STG_SUBMIT_INIT;
	stg_query q = STG_QUERY_INIT;
	stg_entry e = good_entry(), ents[4];
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
	uint64_t cursor = 0;
	size_t len, count;
	int paused;
	const char *bad[2];
	const char *names[2] = { "STG_KEY_MAX+1 bytes", "empty" };
	int i;

	bad[0] = longk;
	bad[1] = "";
	for (i = 0; i < 2; i++) {
		const char *k = bad[i], *nm = names[i];
		char in[80];

		REFUSED_POL("policy", nm, STG_EINVAL, p, stg_policy_set_sku_min(p, k, 1));
		REFUSED_POL("policy", nm, STG_EINVAL, p, stg_policy_clear_sku_min(p, k));
		REFUSED_POL("policy", nm, STG_EINVAL, p, stg_policy_set_category_min(p, k, 1));
		REFUSED_POL("policy", nm, STG_EINVAL, p, stg_policy_clear_category_min(p, k));
		snprintf(in, sizeof in, "integration %s", nm);
		s.integration = k;
		s.sku = "A";
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_submit(F.log, &s, NULL));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_set_policy(F.log, k, p));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_set_limits(F.log, k, 1, 0, 0));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_set_limit_scope(F.log, k, "app"));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_limit_state(F.log, k, &(stg_limit_state){ 0 }));
		snprintf(in, sizeof in, "scope %s", nm);
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_set_limit_scope(F.log, "amz", k));
		snprintf(in, sizeof in, "integration %s", nm);
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_pause(F.log, k));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_resume(F.log, k));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_is_paused(F.log, k, &paused));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_set_catalogued(F.log, k, "A"));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_get(F.log, k, "A", ents));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_reprocess(F.log, k, "A"));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_remove(F.log, k, "A", STG_REMOVE_FORCE));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_counts(F.log, k, &(stg_counts){ 0 }));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_stats(F.log, k, &(stg_stats){ 0 }));
		q = (stg_query)STG_QUERY_INIT;
		q.integration = k;
		snprintf(in, sizeof in, "query.integration %s", nm);
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_query(F.log, &q, &cursor, ents, 4, &count));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_remove_matching(F.log, &q, STG_REMOVE_FORCE, NULL));
		snprintf(in, sizeof in, "sku %s", nm);
		s.integration = "amz";
		s.sku = k;
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_submit(F.log, &s, NULL));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_set_catalogued(F.log, "amz", k));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_get(F.log, "amz", k, ents));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_reprocess(F.log, "amz", k));
		REFUSED_LOG("log", in, STG_EINVAL, stg_log_remove(F.log, "amz", k, STG_REMOVE_FORCE));
		e = good_entry();
		e.sku = k;
		REFUSED("entry", in, STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
		e = good_entry();
		e.integration = k;
		snprintf(in, sizeof in, "integration %s", nm);
		REFUSED("entry", in, STG_EINVAL, stg_entry_encode(&e, buf, sizeof buf, &len));
	}
	q = (stg_query)STG_QUERY_INIT;
	q.sku_prefix = longk;
	REFUSED_LOG("log", "query.sku_prefix STG_KEY_MAX+1 bytes", STG_EINVAL,
	            stg_log_query(F.log, &q, &cursor, ents, 4, &count));
	q.sku_prefix = "";
	cr_expect_eq(stg_log_query(F.log, &q, &cursor, ents, 4, &count), STG_OK);
	row("log", "stg_log_query(log, &q, ...)", "query.sku_prefix \"\"", "undocumented",
	    "STG_OK: matches every SKU");
	cursor = 0;

	/* Exactly STG_KEY_MAX bytes: accepted everywhere. */
	cr_expect_eq(stg_policy_set_sku_min(p, maxk, 1), STG_OK);
	cr_expect_eq(stg_policy_set_category_min(p, maxk, 1), STG_OK);
	s.integration = maxk;
	s.sku = maxk;
	s.sequence = 1;
	cr_expect_eq(stg_log_submit(F.log, &s, NULL), STG_OK, "%s", stg_log_errmsg(F.log));
	cr_expect_eq(stg_log_get(F.log, maxk, maxk, &e), STG_OK);
	cr_expect_eq(strlen(e.sku), (size_t)STG_KEY_MAX);
	cr_expect_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
	row("keys", "policy overrides, stg_log_submit, stg_log_get, stg_entry_encode",
	    "integration and sku of exactly STG_KEY_MAX bytes", "accepted", "STG_OK, kept whole");

	/* An over-long category: the log refuses it (log.h); the evaluator,
	 * which only looks keys up, matches no override (policy.h). */
	{
		stg_submit_result res;
		stg_evaluation ev;
		int rc;
		s.integration = "amz";
		s.sku = "CATLONG";
		s.category = longk;
		s.available = 20;
		rc = stg_log_submit(F.log, &s, &res);
		refused("log", "stg_log_submit(log, &s, &res)", "category STG_KEY_MAX+1 bytes",
		        STG_EINVAL, rc, stg_log_errmsg(F.log));
		cr_expect_eq(stg_log_get(F.log, "amz", "CATLONG", &e), STG_ENOTFOUND, "nothing stored");
		s.category = NULL;
		cr_expect_eq(stg_policy_evaluate(p, longk, longk, 20, &ev), STG_OK);
		cr_expect_eq(ev.min_source, STG_MIN_DEFAULT);
		rowf("policy", "stg_policy_evaluate(p, sku, category, 20, &ev)",
		     "sku and category STG_KEY_MAX+1 bytes", "matches no override (policy.h)",
		     "STG_OK: treated as having no override (min source %s)",
		     stg_min_source_name(ev.min_source));
	}
	free(longk);
	free(maxk);
	stg_policy_free(p);
}

/* A key without a terminator within STG_KEY_MAX+1 bytes, right before a
 * page the process may not read: refused without reading past it. */
Test(badinput, unterminated_key_at_a_guard_page, .init = fx_open, .fini = fx_close)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = ((STG_KEY_MAX + 1) / (size_t)pg + 2) * (size_t)pg;
	char *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *key;
	stg_policy *p = pol_fixture();
	stg_submit s = STG_SUBMIT_INIT;
	stg_entry e;
	stg_evaluation ev;

	cr_assert(base != MAP_FAILED);
	cr_assert_eq(mprotect(base + span - (size_t)pg, (size_t)pg, PROT_NONE), 0);
	key = base + span - (size_t)pg - (STG_KEY_MAX + 1);
	memset(key, 'u', STG_KEY_MAX + 1);
	REFUSED_POL("policy", "STG_KEY_MAX+1 bytes, no terminator, guard page after", STG_EINVAL, p,
	            stg_policy_set_sku_min(p, key, 1));
	s.integration = "amz";
	s.sku = key;
	REFUSED_LOG("log", "sku: STG_KEY_MAX+1 bytes, no terminator, guard page after", STG_EINVAL,
	            stg_log_submit(F.log, &s, NULL));
	REFUSED_LOG("log", "integration: STG_KEY_MAX+1 bytes, no terminator, guard page after",
	            STG_EINVAL, stg_log_get(F.log, key, "A", &e));
	cr_expect_eq(stg_policy_evaluate(p, key, key, 5, &ev), STG_OK);
	row("policy", "stg_policy_evaluate(p, key, key, 5, &ev)",
	    "sku and category: STG_KEY_MAX+1 bytes, no terminator, guard page after",
	    "no read past the key", "STG_OK, no override, no fault");
	munmap(base, span);
	stg_policy_free(p);
}

/* ------------------------------------------------------ strings: message */

Test(badinput, long_messages_are_cut, .init = fx_open, .fini = fx_close)
{
	char *longm = key_of(5000, 'x'), *exact = key_of(STG_MESSAGE_MAX, 'y'),
	     *over = key_of(STG_MESSAGE_MAX + 1, 'z');
	stg_entry e;
	unsigned char buf[STG_ENTRY_ENCODED_MAX];
	size_t len;

	longm[0] = 'L';
	F.answer_message = longm;
	fx_submit("amz", "FAIL2", 30, 1);
	cr_assert_eq(stg_log_pump(F.log, 0, NULL), STG_OK, "%s", stg_log_errmsg(F.log));
	cr_assert_eq(stg_log_get(F.log, "amz", "FAIL2", &e), STG_OK);
	cr_assert(e.message != NULL);
	cr_expect_eq(strlen(e.message), (size_t)STG_MESSAGE_MAX, "message kept at %zu bytes",
	             strlen(e.message));
	cr_expect(strncmp(e.message, longm, STG_MESSAGE_MAX) == 0);
	rowf("log", "transport result.message", "5000 bytes", "cut at STG_MESSAGE_MAX (documented)",
	     "entry.message %zu bytes, the first %d of the answer", strlen(e.message), STG_MESSAGE_MAX);
	cr_expect_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
	/* The stored copy is cut too. */
	{
		size_t i;
		int found = 0;
		for (i = 0; i < F.st.n; i++)
			if (strcmp(F.st.recs[i].sku, "FAIL2") == 0) {
				stg_entry d;
				cr_expect_eq(stg_entry_decode(F.st.recs[i].buf, F.st.recs[i].len, &d), STG_OK);
				cr_expect_eq(strlen(d.message), (size_t)STG_MESSAGE_MAX);
				found = 1;
			}
		cr_expect(found);
	}
	/* A pausing answer carries the message in the event: cut as well? */
	F.answer_message = longm;
	fx_submit("amz", "AUTH1", 30, 1);
	cr_assert_eq(stg_log_pump(F.log, 0, NULL), STG_OK);
	rowf("log", "events: STG_EVENT_INTEGRATION_PAUSED", "401 answer with a 5000-byte message",
	     "undocumented", "event message %zu bytes (the transport's string, passed through)",
	     strlen(last_event_message()));
	F.answer_message = NULL;

	e = good_entry();
	e.message = exact;
	cr_expect_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
	e.message = over;
	REFUSED("entry", "message STG_MESSAGE_MAX+1 bytes", STG_EINVAL,
	        stg_entry_encode(&e, buf, sizeof buf, &len));
	row("entry", "stg_entry_encode(&e, ...)", "message of exactly STG_MESSAGE_MAX bytes",
	    "accepted", "STG_OK");
	free(longm);
	free(exact);
	free(over);
}

/* A stored entry with a message over the limit, given by a load hook. */
static const char *load_msg;
static int load_bad_kind;

static int bad_load(stg_entry_sink sink, void *ctx, void *payload)
{
	stg_entry e = good_entry();
	(void)payload;

	switch (load_bad_kind) {
	case 0: e.message = load_msg; return sink(ctx, &e);
	case 1: return sink(ctx, NULL);
	case 2: e.version = 0; return sink(ctx, &e);
	case 3: e.sku = NULL; return sink(ctx, &e);
	case 4: e.status = 7; return sink(ctx, &e);
	case 5: e.status = STG_ENTRY_PENDING; return sink(ctx, &e); /* pending without a job */
	case 6: { int rc = sink(ctx, &e); return rc ? rc : sink(ctx, &e); } /* twice */
	case 7: e.integration = ""; return sink(ctx, &e);
	default: return 3; /* the hook's own failure */
	}
}

Test(badinput, bad_loads)
{
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_storage st = STG_STORAGE_INIT;
	stg_log *l = NULL;
	stg_entry e;
	char *longm = key_of(5000, 'q');
	static const struct {
		int kind;
		const char *what;
		int want;
	} cases[] = {
		{ 1, "sink given NULL", STG_ECORRUPT },
		{ 2, "entry version 0", STG_EVERSION },
		{ 3, "entry without sku", STG_ECORRUPT },
		{ 4, "status 7", STG_ECORRUPT },
		{ 5, "pending without a job", STG_ECORRUPT },
		{ 6, "same entry twice", STG_ECORRUPT },
		{ 7, "empty integration", STG_ECORRUPT },
		{ 8, "load hook returns 3", STG_ESTORAGE },
	};
	size_t i;

	memset(&F, 0, sizeof F);
	st.load = bad_load;
	st.write = fx_storage_write;
	st.remove = fx_storage_remove;
	st.payload = &F.st;
	o.storage = &st;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		load_bad_kind = cases[i].kind;
		REFUSED("log open (load)", cases[i].what, cases[i].want, stg_log_open(&l, &o));
		cr_expect(l == NULL);
	}
	/* Documented at stg_log_open: ECORRUPT for an invalid stored entry; the
	 * NULL and version cases answer EINVAL / EVERSION instead (recorded). */
	load_bad_kind = 0;
	load_msg = longm;
	cr_assert_eq(stg_log_open(&l, &o), STG_OK, "%s", stg_last_error());
	cr_assert_eq(stg_log_get(l, "amz", "A", &e), STG_OK);
	rowf("log open (load)", "stg_log_open(&l, &o)", "stored entry with a 5000-byte message",
	     "undocumented (encode refuses over STG_MESSAGE_MAX)", "STG_OK: message cut to %zu bytes",
	     e.message ? strlen(e.message) : 0);
	cr_expect(e.message && strlen(e.message) == STG_MESSAGE_MAX);
	stg_log_close(l);
	free(longm);
}

/* ---------------------------------------------------- invalid UTF-8 bytes */

Test(badinput, invalid_utf8_round_trips, .init = fx_open, .fini = fx_close)
{
	static const char *const keys[] = {
		"\xff\xfe",             /* never valid */
		"\xc3\x28",             /* bad continuation */
		"\xc0\xaf",             /* overlong '/' */
		"\xed\xa0\x80",         /* UTF-16 surrogate */
		"\xf4\x90\x80\x80",     /* above U+10FFFF */
		"a\x80z",               /* lone continuation */
		"\xe2\x82",             /* cut sequence at the end */
		"caf\xc3\xa9",          /* valid, for contrast */
	};
	const char *integ = "mkt\xfe\xff";
	stg_policy *p = pol_fixture();
	size_t i, k;

	F.answer_message = "rejected: EAN \xff\xc0 invalid";
	cr_assert_eq(stg_policy_set_sku_min(p, "\xff\xfe", 25), STG_OK);
	cr_assert_eq(stg_log_set_policy(F.log, integ, p), STG_OK);
	cr_assert_eq(stg_log_pump(F.log, 0, NULL), STG_OK); /* nothing else due in the loop */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		stg_submit s = STG_SUBMIT_INIT;
		stg_submit_result res;
		stg_entry e, d;
		unsigned char buf[STG_ENTRY_ENCODED_MAX];
		size_t len;
		char fail[16];

		s.integration = integ;
		s.sku = keys[i];
		s.available = 20;
		s.sequence = 1;
		cr_assert_eq(stg_log_submit(F.log, &s, &res), STG_OK, "%s", stg_log_errmsg(F.log));
		/* The override keyed by invalid bytes applies to exactly those bytes. */
		cr_expect_eq(res.published, i == 0 ? 0 : 12, "key %zu: published %lld", i,
		             (long long)res.published);
		cr_assert_eq(stg_log_pump(F.log, 0, NULL), STG_OK);
		cr_expect_str_eq(last_job_sku(), keys[i], "the transport got other bytes");
		cr_assert_eq(stg_log_get(F.log, integ, keys[i], &e), STG_OK);
		cr_expect(strcmp(e.integration, integ) == 0 && strcmp(e.sku, keys[i]) == 0,
		          "key %zu did not come back byte for byte", i);
		cr_assert_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
		cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK);
		cr_expect(strcmp(d.integration, integ) == 0 && strcmp(d.sku, keys[i]) == 0,
		          "key %zu changed through encode/decode", i);
		/* An error message with invalid bytes is kept as given. */
		snprintf(fail, sizeof fail, "FAIL%s", keys[i]);
		s.sku = fail;
		cr_assert_eq(stg_log_submit(F.log, &s, NULL), STG_OK);
		cr_assert_eq(stg_log_pump(F.log, 0, NULL), STG_OK);
		cr_assert_eq(stg_log_get(F.log, integ, fail, &e), STG_OK);
		cr_expect(e.message && strcmp(e.message, F.answer_message) == 0,
		          "the message with invalid bytes changed");
		cr_assert_eq(stg_entry_encode(&e, buf, sizeof buf, &len), STG_OK);
		cr_assert_eq(stg_entry_decode(buf, len, &d), STG_OK);
		cr_expect_str_eq(d.message, F.answer_message);
	}
	/* Prefix query on raw bytes. */
	{
		stg_query q = STG_QUERY_INIT;
		stg_entry ents[16];
		uint64_t cursor = 0;
		size_t count;
		q.integration = integ;
		q.sku_prefix = "\xff";
		cr_expect_eq(stg_log_query(F.log, &q, &cursor, ents, 16, &count), STG_OK);
		cr_expect_eq(count, 1u);
		cr_expect(count == 1 && strcmp(ents[0].sku, "\xff\xfe") == 0);
	}
	/* Reload from the store: same bytes. */
	{
		stg_log_options o = fx_options();
		stg_log *l2 = NULL;
		stg_log_close(F.log);
		F.log = NULL;
		cr_assert_eq(stg_log_open(&l2, &o), STG_OK, "%s", stg_last_error());
		F.log = l2;
		for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			stg_entry e;
			cr_expect_eq(stg_log_get(F.log, integ, keys[k], &e), STG_OK, "key %zu lost on reload", k);
		}
		cr_expect_eq(stg_log_remove(F.log, integ, keys[0], 0), STG_OK);
	}
	row("utf-8", "stg_log_submit, transport job.sku, stg_log_get, stg_log_query (sku_prefix "
	    "\"\\xff\"), stg_entry_encode/decode, storage reload, stg_log_remove, policy override",
	    "integration \"mkt\\xfe\\xff\"; SKUs \\xff\\xfe, \\xc3\\x28, \\xc0\\xaf (overlong), "
	    "\\xed\\xa0\\x80 (surrogate), \\xf4\\x90\\x80\\x80 (> U+10FFFF), a\\x80z, \\xe2\\x82 (cut), "
	    "caf\\xc3\\xa9", "bytes kept as given (strings are bytes)",
	    "accepted; every key and the error message come back byte for byte");
	stg_policy_free(p);
}

/* ------------------------------------------------------------ huge counts */

Test(badinput, huge_counts, .init = fx_open, .fini = fx_close)
{
	stg_policy *p = pol_fixture();
	stg_entry out;
	uint64_t cursor = 0;
	size_t done = 99, count = 99, sent = 0;

	REFUSED("policy", "n = SIZE_MAX, NULL arrays", STG_EINVAL,
	        stg_policy_evaluate_batch(p, SIZE_MAX, NULL, NULL, NULL, NULL, NULL));
	REFUSED("filter", "n = SIZE_MAX, NULL arrays", STG_EINVAL,
	        stg_filter_batch(p, SIZE_MAX, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	                         NULL, NULL));
	REFUSED_LOG("log", "n = SIZE_MAX, NULL changes", STG_EINVAL,
	            stg_log_submit_batch(F.log, NULL, SIZE_MAX, NULL, &done));
	cr_expect_eq(done, 0u);
	REFUSED_LOG("log", "cap = SIZE_MAX, NULL entries", STG_EINVAL,
	            stg_log_query(F.log, NULL, &cursor, NULL, SIZE_MAX, &count));
	REFUSED("entry", "NULL buffer, len = SIZE_MAX", STG_EINVAL, stg_entry_decode(NULL, SIZE_MAX, &out));
	cr_expect_eq(stg_log_pump(F.log, SIZE_MAX, &sent), STG_OK);
	rowf("log", "stg_log_pump(log, SIZE_MAX, &sent)", "max_jobs SIZE_MAX",
	     "STG_OK (a limit, not a count)", "STG_OK, %zu sent", sent);
	cr_expect_eq(stg_log_set_limits(F.log, "amz", 10000, UINT32_MAX, 86400000), STG_OK);
	row("log", "stg_log_set_limits(log, \"amz\", 10000, UINT32_MAX, 86400000)",
	    "largest accepted batch and rate", "STG_OK", "STG_OK");
	stg_policy_free(p);
}

/* ---------------------------------------------------------- negative times */

static int64_t neg_now = -5;
static int64_t neg_clock(void *payload)
{
	(void)payload;
	return neg_now;
}

/* Issue 14: message rules and observations refuse bad input, change nothing. */
Test(badinput, rules_and_observations, .init = fx_open, .fini = fx_close)
{
	stg_message_rule r = STG_MESSAGE_RULE_INIT;
	stg_observation o = STG_OBSERVATION_INIT;
	char *over = key_of(STG_RULE_TEXT_MAX + 1, 'r'), *longkey = key_of(STG_KEY_MAX + 1, 'k');
	int cls;

	REFUSED("entry", "NULL rules", STG_EINVAL, stg_message_rules_default(NULL, &(size_t){ 0 }));
	REFUSED("entry", "NULL rule", STG_EINVAL, stg_message_rule_init(NULL, STG_MESSAGE_RULE_VERSION));
	REFUSED("entry", "version 0", STG_EVERSION, stg_message_rule_init(&r, 0));
	REFUSED("entry", "NULL observation", STG_EINVAL, stg_observation_init(NULL, STG_OBSERVATION_VERSION));
	REFUSED("entry", "NULL entry", STG_EINVAL, stg_entry_explain(NULL, NULL, 0, NULL));
	REFUSED_LOG("log", "NULL error_class", STG_EINVAL, stg_log_classify(F.log, "amz", 400, "x", NULL));
	REFUSED_LOG("log", "NULL integration", STG_EINVAL, stg_log_classify(F.log, NULL, 400, "x", &cls));
	REFUSED_LOG("log", "NULL rules, n 1", STG_EINVAL, stg_log_set_rules(F.log, "amz", NULL, 1, 0));
	REFUSED_LOG("log", "unknown flags", STG_EINVAL, stg_log_set_rules(F.log, "amz", &r, 1, 0x80));
	REFUSED_LOG("log", "n over STG_RULES_MAX", STG_ERANGE,
	            stg_log_set_rules(F.log, "amz", &r, STG_RULES_MAX + 1, 0));
	r.text = "";
	REFUSED_LOG("log", "empty rule text", STG_EINVAL, stg_log_set_rules(F.log, "amz", &r, 1, 0));
	r.text = over;
	REFUSED_LOG("log", "rule text over STG_RULE_TEXT_MAX", STG_EINVAL,
	            stg_log_set_rules(F.log, "amz", &r, 1, 0));
	r.text = "x";
	r.error_class = STG_ERRCLASS_COUNT;
	REFUSED_LOG("log", "unknown rule class", STG_EINVAL, stg_log_set_rules(F.log, "amz", &r, 1, 0));
	r.error_class = STG_ERRCLASS_AUTH;
	r.http_min = 600;
	r.http_max = 500;
	REFUSED_LOG("log", "reversed status range", STG_EINVAL, stg_log_set_rules(F.log, "amz", &r, 1, 0));
	r.http_min = 0;
	r.http_max = 999;
	r.match = -1;
	REFUSED_LOG("log", "unknown match", STG_EINVAL, stg_log_set_rules(F.log, "amz", &r, 1, 0));
	r.match = STG_MATCH_CONTAINS;
	r.version = 7;
	REFUSED_LOG("log", "rule version 7", STG_EVERSION, stg_log_set_rules(F.log, "amz", &r, 1, 0));

	REFUSED_LOG("log", "NULL observation", STG_EINVAL, stg_log_observe(F.log, NULL, NULL));
	o.integration = "amz";
	o.sku = "A";
	o.quantity = -1;
	REFUSED_LOG("log", "negative quantity", STG_EINVAL, stg_log_observe(F.log, &o, NULL));
	o.quantity = 1;
	o.observed_at = -1;
	REFUSED_LOG("log", "negative observed_at", STG_EINVAL, stg_log_observe(F.log, &o, NULL));
	o.observed_at = 0;
	o.flags = 0x2;
	REFUSED_LOG("log", "unknown flags", STG_EINVAL, stg_log_observe(F.log, &o, NULL));
	o.flags = 0;
	o.sku = longkey;
	REFUSED_LOG("log", "over-long sku", STG_EINVAL, stg_log_observe(F.log, &o, NULL));
	o.sku = "A";
	o.version = 0;
	REFUSED_LOG("log", "observation version 0", STG_EVERSION, stg_log_observe(F.log, &o, NULL));
	free(over);
	free(longkey);
}

Test(badinput, negative_times, .init = fx_open, .fini = fx_close)
{
	stg_submit s = STG_SUBMIT_INIT;
	stg_log_options o = STG_LOG_OPTIONS_INIT;
	stg_clock ck = STG_CLOCK_INIT;
	stg_transport t = STG_TRANSPORT_INIT;
	stg_log *l = NULL;
	stg_entry e;
	size_t sent;
	int k;

	s.integration = "amz";
	s.sku = "A";
	s.available = 1;
	s.sequence = 99;
	s.changed_at = -1;
	REFUSED_LOG("log", "changed_at -1", STG_EINVAL, stg_log_submit(F.log, &s, NULL));
	s.changed_at = INT64_MIN;
	REFUSED_LOG("log", "changed_at INT64_MIN", STG_EINVAL, stg_log_submit(F.log, &s, NULL));
	s.changed_at = INT64_MIN;
	{
		size_t done = 99;
		REFUSED_LOG("log", "changed_at INT64_MIN", STG_EINVAL,
		            stg_log_submit_batch(F.log, &s, 1, NULL, &done));
		cr_expect_eq(done, 0u);
	}

	/* A negative sequence is only an order: accepted. */
	s.changed_at = 0;
	s.sku = "NEGSEQ";
	s.sequence = INT64_MIN;
	cr_expect_eq(stg_log_submit(F.log, &s, NULL), STG_OK);
	row("log", "stg_log_submit(log, &s, NULL)", "sequence INT64_MIN", "accepted (an order)",
	    "STG_OK");

	/* A clock before the epoch reads as 0 (documented). */
	for (k = 0; k < 2; k++) {
		stg_job_result r = STG_JOB_RESULT_INIT;
		neg_now = k ? INT64_MIN : -5;
		ck.now_ms = neg_clock;
		t.send = hook_transport.send;
		t.payload = hook_transport.payload;
		o.clock = &ck;
		o.transport = &t;
		o.latency_limit_ms = 1;
		cr_assert_eq(stg_log_open(&l, &o), STG_OK);
		s.sku = "ASYNC9";
		s.sequence = 1;
		s.available = 5;
		cr_expect_eq(stg_log_submit(l, &s, NULL), STG_OK);
		cr_expect_eq(stg_log_pump(l, 0, &sent), STG_OK);
		neg_now = INT64_MAX;
		cr_expect_eq(stg_log_complete(l, F.async_id, &r), STG_OK, "%s", stg_log_errmsg(l));
		cr_expect_eq(stg_log_get(l, "amz", "ASYNC9", &e), STG_OK);
		cr_expect(e.changed_at == 0 && e.job_since == 0 && e.latency_ms >= 0,
		          "changed_at %lld job_since %lld latency %lld", (long long)e.changed_at,
		          (long long)e.job_since, (long long)e.latency_ms);
		rowf("log", "clock hook", k ? "now_ms() = INT64_MIN, then INT64_MAX"
		                            : "now_ms() = -5, then INT64_MAX",
		     "read as 0 (documented)", "changed_at %lld, job_since %lld, latency %lld ms, "
		     "flags 0x%x (no overflow)", (long long)e.changed_at, (long long)e.job_since,
		     (long long)e.latency_ms, e.flags);
		stg_log_close(l);
		l = NULL;
	}

	/* A negative retry-after is "none". */
	{
		stg_job_result r = STG_JOB_RESULT_INIT;
		stg_entry before;
		r.outcome = STG_OUTCOME_ERROR;
		r.http_status = 429;
		r.retry_after_ms = INT64_MIN;
		cr_assert_eq(stg_log_get(F.log, "meli", "ASYNC1", &before), STG_OK);
		cr_expect_eq(stg_log_complete(F.log, before.job_id, &r), STG_OK, "%s", stg_log_errmsg(F.log));
		cr_expect_eq(stg_log_get(F.log, "meli", "ASYNC1", &e), STG_OK);
		cr_expect(e.next_attempt_at >= F.clock.now && e.next_attempt_at <= F.clock.now + 15 * 60000,
		          "next attempt %lld", (long long)(e.next_attempt_at - F.clock.now));
		rowf("log", "stg_log_complete(log, id, &r)", "429 with retry_after_ms INT64_MIN",
		     "undocumented", "STG_OK: retry in %lld ms (the backoff; negative retry-after ignored)",
		     (long long)(e.next_attempt_at - F.clock.now));
	}
}
