/*
 * Marketplace messages (issue 14, sections 2 and 5): message rules that
 * classify a failure from its status and text, the built-in rules of the
 * Carrefour guide and the common "not found" phrasings, the conflict class
 * of a 409, bad rules refused, catalogue notices for SKUs the log has not
 * seen, and messages cut on a UTF-8 character boundary.
 */
#include <criterion/criterion.h>

#include "harness.h"

#include <string.h>

/* The Carrefour guide's messages, as the seed gives them. */
#define CARREFOUR_NOT_CATALOGUED                                                         \
	"Produto ainda n\xc3\xa3o foi catalogado no Carrefour. Para reprocessar essa oferta, " \
	"aguarde a confirma\xc3\xa7\xc3\xa3o do Carrefour de que o produto foi catalogado. "    \
	"Para mais detalhes verifique o portal do carrefour."
#define CARREFOUR_UNAUTHORIZED "\"status\":401,\"message\":\"Unauthorized\""

static void setup(void)
{
	h_reset();
}

static void teardown(void)
{
	h_close();
}

TestSuite(rules, .init = setup, .fini = teardown);

static int classify(const char *integ, int http, const char *msg)
{
	int cls = -1;

	cr_assert_eq(stg_log_classify(H.log, integ, http, msg, &cls), STG_OK, "%s", stg_log_errmsg(H.log));
	return cls;
}

/* ---------------------------------------------------------- built-in rules */

Test(rules, carrefour_messages_by_their_text)
{
	stg_entry e;

	h_open();
	/* Without rules a 400 would be rejected: the text says not catalogued. */
	cr_assert_eq(stg_classify_http(400), STG_ERRCLASS_REJECTED);
	cr_assert_eq(classify("carrefour", 400, CARREFOUR_NOT_CATALOGUED), STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(classify("carrefour", 400, CARREFOUR_UNAUTHORIZED), STG_ERRCLASS_AUTH);
	cr_assert_eq(classify("carrefour", 400, "EAN inv\xc3\xa1lido"), STG_ERRCLASS_REJECTED);

	/* End to end: the not-catalogued answer holds the job, no reprocess needed. */
	h_submit("carrefour", "A", 3, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 400, 0, CARREFOUR_NOT_CATALOGUED);
	cr_assert_eq(h_pump(), 1u);
	e = h_get("carrefour", "A");
	cr_assert_eq(e.error_class, STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(e.job_state, STG_JOB_HELD);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_NOT_CATALOGUED], 1u);
	cr_assert_eq(stg_log_set_catalogued(H.log, "carrefour", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("carrefour", "A").status, STG_ENTRY_SUCCESS);

	/* The 401 message pauses the integration, whatever status carried it. */
	h_submit("carrefour", "B", 3, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 400, 0, CARREFOUR_UNAUTHORIZED);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("carrefour", "B").error_class, STG_ERRCLASS_AUTH);
	cr_assert_eq(h_event_count(STG_EVENT_INTEGRATION_PAUSED), 1u);
}

Test(rules, not_found_phrasings)
{
	h_open();
	cr_assert_eq(classify("meli", 400, "ProductId n\xc3\xa3o encontrado"), STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(classify("amz", 404, "SKU not found"), STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(classify("amz", 404, "The Product Not Found in catalog"), STG_ERRCLASS_NOT_CATALOGUED,
	             "ASCII letters without regard to case");
	cr_assert_eq(classify("amz", 400, "listing ABC does not exist"), STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(classify("x", 422, "producto no encontrado"), STG_ERRCLASS_NOT_CATALOGUED);
	/* Only from the marketplace's 4xx: a 5xx saying "not found" is retried. */
	cr_assert_eq(classify("amz", 503, "SKU not found"), STG_ERRCLASS_TRANSIENT);
	/* The status mapping still applies when no rule matches. */
	cr_assert_eq(classify("amz", 404, "no route"), STG_ERRCLASS_REJECTED);
	cr_assert_eq(classify("amz", 429, NULL), STG_ERRCLASS_RATE_LIMITED);
	cr_assert_eq(classify("amz", 401, NULL), STG_ERRCLASS_AUTH);
	cr_assert_eq(classify("amz", 0, NULL), STG_ERRCLASS_TRANSIENT);
}

Test(rules, the_defaults_are_visible)
{
	const stg_message_rule *r = NULL;
	size_t n = 0, i, conflict = 0;

	cr_assert_eq(stg_message_rules_default(&r, &n), STG_OK);
	cr_assert_gt(n, 5u);
	for (i = 0; i < n; i++) {
		cr_assert_eq(r[i].version, STG_MESSAGE_RULE_VERSION);
		cr_assert(r[i].error_class > STG_ERRCLASS_NONE && r[i].error_class < STG_ERRCLASS_COUNT);
		cr_assert(!r[i].text || (strlen(r[i].text) > 0 && strlen(r[i].text) <= STG_RULE_TEXT_MAX));
		if (r[i].error_class == STG_ERRCLASS_CONFLICT && r[i].http_min == 409)
			conflict++;
	}
	cr_assert_eq(conflict, 1u);
	cr_assert_eq(stg_message_rules_default(NULL, &n), STG_EINVAL);
	cr_assert_eq(stg_message_rules_default(&r, NULL), STG_EINVAL);
}

/* ------------------------------------------------------------ host rules */

Test(rules, host_rules_replace_or_keep_the_defaults)
{
	stg_message_rule r = STG_MESSAGE_RULE_INIT;

	h_open();
	r.http_min = 400;
	r.http_max = 499;
	r.match = STG_MATCH_PREFIX;
	r.text = "ERR-77";
	r.error_class = STG_ERRCLASS_TRANSIENT;
	cr_assert_eq(stg_log_set_rules(H.log, "amz", &r, 1, 0), STG_OK);
	cr_assert_eq(classify("amz", 400, "err-77: try later"), STG_ERRCLASS_TRANSIENT);
	cr_assert_eq(classify("amz", 400, "see ERR-77"), STG_ERRCLASS_REJECTED, "a prefix, not anywhere");
	/* Replaced: the built-in rules no longer apply to amz ... */
	cr_assert_eq(classify("amz", 404, "SKU not found"), STG_ERRCLASS_REJECTED);
	cr_assert_eq(classify("amz", 409, NULL), STG_ERRCLASS_REJECTED);
	/* ... but still to every other integration. */
	cr_assert_eq(classify("meli", 409, NULL), STG_ERRCLASS_CONFLICT);
	/* Kept after the host's own. */
	cr_assert_eq(stg_log_set_rules(H.log, "amz", &r, 1, STG_RULES_KEEP_DEFAULTS), STG_OK);
	cr_assert_eq(classify("amz", 404, "SKU not found"), STG_ERRCLASS_NOT_CATALOGUED);
	cr_assert_eq(classify("amz", 400, "ERR-77 SKU not found"), STG_ERRCLASS_TRANSIENT, "the host's first");
	/* No rules at all: the status mapping alone. */
	cr_assert_eq(stg_log_set_rules(H.log, "amz", NULL, 0, 0), STG_OK);
	cr_assert_eq(classify("amz", 400, "ERR-77"), STG_ERRCLASS_REJECTED);
	cr_assert_eq(classify("amz", 400, CARREFOUR_NOT_CATALOGUED), STG_ERRCLASS_REJECTED);
}

Test(rules, the_rules_are_copied)
{
	char text[16] = "maintenance";
	stg_message_rule r = STG_MESSAGE_RULE_INIT;

	h_open();
	r.text = text;
	r.error_class = STG_ERRCLASS_TRANSIENT;
	cr_assert_eq(stg_log_set_rules(H.log, "amz", &r, 1, 0), STG_OK);
	memcpy(text, "xxxxxxxxxxx", 11);
	r.error_class = STG_ERRCLASS_AUTH;
	cr_assert_eq(classify("amz", 400, "down for maintenance"), STG_ERRCLASS_TRANSIENT);
}

Test(rules, a_class_given_by_the_transport_wins)
{
	h_open();
	h_submit("carrefour", "A", 3, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_REJECTED, 400, 0, CARREFOUR_NOT_CATALOGUED);
	h_pump();
	cr_assert_eq(h_get("carrefour", "A").error_class, STG_ERRCLASS_REJECTED);
	cr_assert_eq(h_get("carrefour", "A").status, STG_ENTRY_ERROR);
}

static void assert_refused(stg_message_rule r, int want, const char *says)
{
	stg_message_rule good = STG_MESSAGE_RULE_INIT, two[2];

	good.text = "kept";
	good.error_class = STG_ERRCLASS_TRANSIENT;
	two[0] = good;
	two[1] = r;
	cr_assert_eq(stg_log_set_rules(H.log, "amz", two, 2, 0), want, "%s", says);
	cr_assert(strstr(stg_log_errmsg(H.log), says), "message '%s' says '%s'", stg_log_errmsg(H.log), says);
	/* Nothing changed: the earlier rules still apply. */
	cr_assert_eq(classify("amz", 400, "kept"), STG_ERRCLASS_AUTH);
}

Test(rules, bad_rules_are_refused_and_change_nothing)
{
	stg_message_rule r = STG_MESSAGE_RULE_INIT, prev = STG_MESSAGE_RULE_INIT, many[STG_RULES_MAX + 1];
	char longtext[STG_RULE_TEXT_MAX + 2];
	size_t i;

	h_open();
	prev.text = "kept";
	prev.error_class = STG_ERRCLASS_AUTH;
	cr_assert_eq(stg_log_set_rules(H.log, "amz", &prev, 1, 0), STG_OK);

	r.text = "";
	assert_refused(r, STG_EINVAL, "rule 1 refused: its text is empty");
	memset(longtext, 'a', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	r.text = longtext;
	assert_refused(r, STG_EINVAL, "longer than STG_RULE_TEXT_MAX");
	longtext[STG_RULE_TEXT_MAX] = '\0'; /* exactly the limit is fine */
	r.text = "x";
	r.error_class = STG_ERRCLASS_COUNT;
	assert_refused(r, STG_EINVAL, "error class is unknown");
	r.error_class = STG_ERRCLASS_NONE;
	assert_refused(r, STG_EINVAL, "error class is unknown");
	r.error_class = STG_ERRCLASS_AUTH;
	r.http_min = 500;
	r.http_max = 400;
	assert_refused(r, STG_EINVAL, "status range");
	r.http_min = -1;
	assert_refused(r, STG_EINVAL, "status range");
	r.http_min = 0;
	r.http_max = 1000;
	assert_refused(r, STG_EINVAL, "status range");
	r.http_max = 999;
	r.match = 2;
	assert_refused(r, STG_EINVAL, "match is unknown");
	r.match = STG_MATCH_CONTAINS;
	r.version = 0;
	assert_refused(r, STG_EVERSION, "message rule version 0 unknown");
	r.version = STG_MESSAGE_RULE_VERSION;

	cr_assert_eq(stg_log_set_rules(H.log, "amz", NULL, 1, 0), STG_EINVAL);
	cr_assert_eq(stg_log_set_rules(H.log, "amz", &r, 1, 0x8), STG_EINVAL);
	cr_assert_eq(stg_log_set_rules(H.log, "", &r, 1, 0), STG_EINVAL);
	cr_assert_eq(stg_log_set_rules(NULL, "amz", &r, 1, 0), STG_EINVAL);
	for (i = 0; i < STG_RULES_MAX + 1; i++)
		many[i] = prev;
	cr_assert_eq(stg_log_set_rules(H.log, "amz", many, STG_RULES_MAX + 1, 0), STG_ERANGE);
	cr_assert_eq(stg_log_set_rules(H.log, "amz", many, STG_RULES_MAX, 0), STG_OK);
	cr_assert_eq(classify("amz", 400, "kept"), STG_ERRCLASS_AUTH);
	cr_assert_eq(stg_log_classify(H.log, "amz", 400, "x", NULL), STG_EINVAL);
	cr_assert_eq(stg_log_classify(H.log, NULL, 400, "x", &r.error_class), STG_EINVAL);
}

/* ---------------------------------------------------------------- conflict */

Test(rules, conflict_retries_at_once_within_the_budget)
{
	stg_entry e;
	int64_t wait = -5;
	int i;

	H.opts.max_transient_attempts = 3;
	h_open();
	h_submit("meli", "A", 7, 1);
	/* A 409 (stale x-version): due again at once, no backoff. */
	h_push_http(409);
	cr_assert_eq(h_pump_n(1), 1u);
	e = h_get("meli", "A");
	cr_assert_eq(e.error_class, STG_ERRCLASS_CONFLICT);
	cr_assert_eq(e.status, STG_ENTRY_PENDING);
	cr_assert_eq(e.job_state, STG_JOB_QUEUED);
	cr_assert_eq(e.next_attempt_at, H.clock.now, "at once");
	cr_assert_eq(e.job_transient, 1u);
	cr_assert_eq(stg_log_next_due(H.log, &wait), STG_OK);
	cr_assert_eq(wait, 0);
	cr_assert_str_eq(stg_error_class_name(STG_ERRCLASS_CONFLICT), "conflict");
	/* A bounded number of times: the job's retry budget (the transport
	 * would answer OK after these two). */
	for (i = 0; i < 2; i++)
		h_push_http(409);
	cr_assert_eq(h_pump(), 2u, "the budget of 3 ends it");
	e = h_get("meli", "A");
	cr_assert_eq(e.status, STG_ENTRY_ERROR);
	cr_assert_eq(e.attempts, 3u);
	cr_assert_eq(h_stats(NULL).errors[STG_ERRCLASS_CONFLICT], 3u);
	/* A reprocess starts afresh and may succeed. */
	h_push_ok();
	cr_assert_eq(stg_log_reprocess(H.log, "meli", "A"), STG_OK);
	cr_assert_eq(h_pump(), 1u);
	cr_assert_eq(h_get("meli", "A").status, STG_ENTRY_SUCCESS);
}

Test(rules, conflict_entries_reload)
{
	H.with_storage = 1;
	h_open();
	h_submit("meli", "A", 7, 1);
	h_push_http(409);
	h_pump_n(1);
	h_reopen();
	cr_assert_eq(h_get("meli", "A").error_class, STG_ERRCLASS_CONFLICT);
	cr_assert_eq(h_get("meli", "A").job_state, STG_JOB_QUEUED);
}

/* ------------------------------------------------------- catalogue notices */

Test(rules, a_notice_before_the_first_change_is_remembered)
{
	stg_entry e;

	h_open();
	/* Carrefour confirms the catalogue before the connector ever sent stock. */
	cr_assert_eq(stg_log_set_catalogued(H.log, "carrefour", "A"), STG_OK);
	cr_assert_not(h_exists("carrefour", "A"), "a notice makes no entry");
	h_submit("carrefour", "A", 3, 1);
	/* Its catalogue lags: the first answer is still "not catalogued". */
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 400, 0, CARREFOUR_NOT_CATALOGUED);
	cr_assert_eq(h_pump_n(1), 1u);
	e = h_get("carrefour", "A");
	cr_assert_eq(e.job_state, STG_JOB_QUEUED, "the remembered notice releases the hold");
	cr_assert_eq(e.next_attempt_at, H.clock.now);
	/* Used once: a second such answer holds it for the slow retry. */
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NONE, 400, 0, CARREFOUR_NOT_CATALOGUED);
	cr_assert_eq(h_pump_n(1), 1u);
	e = h_get("carrefour", "A");
	cr_assert_eq(e.job_state, STG_JOB_HELD);
	cr_assert_gt(e.next_attempt_at, H.clock.now);
}

Test(rules, an_acknowledgement_forgets_the_notice)
{
	h_open();
	cr_assert_eq(stg_log_set_catalogued(H.log, "carrefour", "A"), STG_OK);
	cr_assert_eq(stg_log_set_catalogued(H.log, "carrefour", "A"), STG_OK, "twice is once");
	h_submit("carrefour", "A", 3, 1);
	h_pump();
	cr_assert_eq(h_get("carrefour", "A").status, STG_ENTRY_SUCCESS);
	h_submit("carrefour", "A", 2, 2);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_NOT_CATALOGUED, 400, 0, NULL);
	h_pump();
	cr_assert_eq(h_get("carrefour", "A").job_state, STG_JOB_HELD, "no notice left");
	/* Bad keys are still refused; an entry without a held job still is too. */
	cr_assert_eq(stg_log_set_catalogued(H.log, "", "A"), STG_EINVAL);
	cr_assert_eq(stg_log_set_catalogued(H.log, "carrefour", NULL), STG_EINVAL);
	h_submit("carrefour", "B", 3, 1);
	cr_assert_eq(stg_log_set_catalogued(H.log, "carrefour", "B"), STG_ESTATE);
}

/* ------------------------------------------------------------ UTF-8 cuts */

Test(rules, a_long_message_is_cut_on_a_character_boundary)
{
	char msg[STG_MESSAGE_MAX + 64];
	stg_entry e;
	size_t i, len;
	int shift;

	h_open();
	for (shift = 0; shift < 4; shift++) {
		char sku[8];
		/* 'a' * shift, then "ã" (2 bytes) and "€" (3) and "😀" (4) over and over:
		 * every way a character can straddle the limit. */
		for (i = 0; i < (size_t)shift; i++)
			msg[i] = 'a';
		while (i < STG_MESSAGE_MAX + 32) {
			static const char *const parts[] = { "\xc3\xa3", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
			const char *p = parts[i % 3];
			memcpy(msg + i, p, strlen(p));
			i += strlen(p);
		}
		msg[i] = '\0';
		snprintf(sku, sizeof sku, "S%d", shift);
		h_submit("amz", sku, 3, 1);
		h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_REJECTED, 400, 0, msg);
		h_pump();
		e = h_get("amz", sku);
		len = strlen(e.message);
		cr_assert(len <= STG_MESSAGE_MAX && len > STG_MESSAGE_MAX - 4, "shift %d: %zu bytes", shift, len);
		cr_assert_eq(memcmp(e.message, msg, len), 0, "a prefix of the message");
		/* It ends where a character begins in the original. */
		cr_assert_neq((unsigned char)msg[len] & 0xc0u, 0x80u, "shift %d: cut inside a character", shift);
	}
	/* A message of exactly the limit is kept whole. */
	memset(msg, 'b', STG_MESSAGE_MAX);
	msg[STG_MESSAGE_MAX] = '\0';
	h_submit("amz", "X", 3, 1);
	h_push(STG_OUTCOME_ERROR, STG_ERRCLASS_REJECTED, 400, 0, msg);
	h_pump();
	cr_assert_eq(strlen(h_get("amz", "X").message), (size_t)STG_MESSAGE_MAX);
}
