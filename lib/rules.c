/*
 * Message rules: what a marketplace's words mean (an HTTP status range and
 * a text give an error class), the built-in rules from the merchant
 * documentation, and the catalogue notices remembered for SKUs the log has
 * not seen yet.
 */
#include "index.h"
#include "integ.h"
#include "market.h"
#include "versions.h"

_Static_assert(STG_ERRCLASS_COUNT <= 8, "stg__ent.error_class is 3 bits");

/* ------------------------------------------------------- the built-in rules */

#define R(lo, hi, m, text, cls) { STG_MESSAGE_RULE_VERSION, lo, hi, m, text, cls }

/*
 * In the order they are checked. The texts are UTF-8 ("\xc3\xa3" is "ã").
 * The Carrefour messages are those of its merchant guide, the first one
 * whatever status carries it (the connector reports it with a 400). The
 * "not found" phrasings are limited to 4xx: a 5xx saying "not found" is
 * the marketplace's own trouble, to retry. A 409 is a stale stock version
 * (Mercado Livre's x-version): a conflict, whatever the text.
 */
static const stg_message_rule default_rules[] = {
	R(0, 999, STG_MATCH_CONTAINS, "n\xc3\xa3o foi catalogado", STG_ERRCLASS_NOT_CATALOGUED),
	R(0, 999, STG_MATCH_CONTAINS, "\"status\":401", STG_ERRCLASS_AUTH),
	R(0, 999, STG_MATCH_CONTAINS, "\"message\":\"Unauthorized\"", STG_ERRCLASS_AUTH),
	R(400, 499, STG_MATCH_CONTAINS, "n\xc3\xa3o encontrado", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "no encontrado", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "not catalogued", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "not cataloged", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "sku not found", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "product not found", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "item not found", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "listing not found", STG_ERRCLASS_NOT_CATALOGUED),
	R(400, 499, STG_MATCH_CONTAINS, "does not exist", STG_ERRCLASS_NOT_CATALOGUED),
	R(409, 409, STG_MATCH_CONTAINS, NULL, STG_ERRCLASS_CONFLICT),
};

#define NDEFAULT (sizeof default_rules / sizeof default_rules[0])

STG_EXTERN int stg_message_rules_default(const stg_message_rule **rules, size_t *n)
{
	if (!rules || !n)
		return stg__fail(NULL, STG_EINVAL, "stg_message_rules_default: NULL %s",
		                 rules ? "n" : "rules");
	*rules = default_rules;
	*n = NDEFAULT;
	return STG_OK;
}

/* ---------------------------------------------------------------- matching */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Whether @msg starts with @text, ASCII letters without regard to case. */
static int starts_with(const char *msg, const char *text)
{
	for (; *text; msg++, text++)
		if (lower((unsigned char)*msg) != lower((unsigned char)*text))
			return 0; /* also at the end of msg: its NUL differs from any text byte */
	return 1;
}

static int text_matches(const stg_message_rule *r, const char *msg)
{
	if (!r->text)
		return 1;
	if (!msg)
		return 0;
	if (r->match == STG_MATCH_PREFIX)
		return starts_with(msg, r->text);
	for (; *msg; msg++)
		if (starts_with(msg, r->text))
			return 1;
	return 0;
}

/* The class of the first rule of rules[0..n) that matches, 0 when none does. */
static int first_match(const stg_message_rule *rules, size_t n, int http, const char *msg)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (http >= rules[i].http_min && http <= rules[i].http_max &&
		    text_matches(&rules[i], msg))
			return rules[i].error_class;
	return STG_ERRCLASS_NONE;
}

int stg__rules_classify(const stg_log *log, uint32_t integ, int http, const char *msg)
{
	const stg__ruleset *set = log->market && integ < log->market->nsets ? &log->market->sets[integ] : NULL;
	int cls = STG_ERRCLASS_NONE;

	if (set && set->custom)
		cls = first_match(set->rules, set->n, http, msg);
	if (cls == STG_ERRCLASS_NONE && (!set || !set->custom || set->keep_defaults))
		cls = first_match(default_rules, NDEFAULT, http, msg);
	return cls != STG_ERRCLASS_NONE ? cls : stg_classify_http(http);
}

STG_EXTERN int stg_log_classify(stg_log *log, const char *integration, int http_status,
                                const char *message, int *error_class)
{
	uint32_t integ = UINT32_MAX;
	size_t len;

	STG__ENTER(log, "stg_log_classify");
	if (!error_class || !stg__key_ok(integration, &len))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_classify: %s",
		                 error_class ? "integration must be 1 to 1024 bytes" : "NULL error_class");
	/* An integration the log has not seen has the built-in rules. */
	if (!stg__log_find_integ(log, integration, len, &integ))
		integ = UINT32_MAX;
	*error_class = stg__rules_classify(log, integ, http_status, message);
	return STG_OK;
}

/* ----------------------------------------------------------- setting rules */

/* Why rule @r cannot be used, or NULL when it can. */
static const char *rule_problem(const stg_message_rule *r, size_t *tlen)
{
	*tlen = 0;
	if (r->http_min < 0 || r->http_max > 999 || r->http_min > r->http_max)
		return "its status range must be within 0..999, http_min <= http_max";
	if (r->match != STG_MATCH_CONTAINS && r->match != STG_MATCH_PREFIX)
		return "its match is unknown (STG_MATCH_CONTAINS or STG_MATCH_PREFIX)";
	if (r->error_class <= STG_ERRCLASS_NONE || r->error_class >= STG_ERRCLASS_COUNT)
		return "its error class is unknown (auth .. conflict)";
	if (r->text) {
		while (*tlen <= STG_RULE_TEXT_MAX && r->text[*tlen])
			++*tlen;
		if (*tlen == 0)
			return "its text is empty (NULL matches any message)";
		if (*tlen > STG_RULE_TEXT_MAX)
			return "its text is longer than STG_RULE_TEXT_MAX (256) bytes";
	}
	return NULL;
}

/* Check every rule (nothing changes on failure) and add up their texts. */
static int check_rules(stg_log *log, const stg_message_rule *rules, size_t n, size_t *text_bytes)
{
	size_t i, tlen;
	const char *why;
	int rc;

	*text_bytes = 0;
	for (i = 0; i < n; i++) {
		if ((rc = stg__version_check(log->errmsg, "stg_log_set_rules", &stg__v_message_rule, &rules[i])))
			return rc;
		if ((why = rule_problem(&rules[i], &tlen)))
			return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_rules: rule %zu refused: %s", i, why);
		*text_bytes += rules[i].text ? tlen + 1 : 0;
	}
	return STG_OK;
}

/* One block: the rules, then their texts. */
static stg_message_rule *copy_rules(const stg__alloc *a, const stg_message_rule *rules, size_t n,
                                    size_t text_bytes)
{
	stg_message_rule *v = stg__malloc(a, n * sizeof *v + text_bytes);
	char *t;
	size_t i;

	if (!v)
		return NULL;
	t = (char *)(v + n);
	for (i = 0; i < n; i++) {
		v[i] = rules[i];
		v[i].version = STG_MESSAGE_RULE_VERSION;
		if (rules[i].text) {
			size_t len = strlen(rules[i].text);
			memcpy(t, rules[i].text, len + 1);
			v[i].text = t;
			t += len + 1;
		}
	}
	return v;
}

static int need_market(stg_log *log)
{
	if (!log->market && !(log->market = stg__calloc(&log->alloc, 1, sizeof *log->market)))
		return STG_ENOMEM;
	return STG_OK;
}

/* The market state, and a rule set for every integration up to @integ. */
static int need_sets(stg_log *log, uint32_t integ)
{
	stg__market *m;
	stg__ruleset *v;
	uint32_t cap;

	if (need_market(log))
		return STG_ENOMEM;
	m = log->market;
	if (integ < m->nsets)
		return STG_OK;
	cap = m->nsets;
	if (!(v = stg__grow(&log->alloc, m->sets, &cap, (uint64_t)integ + 1, sizeof *v, 8)))
		return STG_ENOMEM;
	memset(v + m->nsets, 0, (cap - m->nsets) * sizeof *v);
	m->sets = v;
	m->nsets = cap;
	return STG_OK;
}

STG_EXTERN int stg_log_set_rules(stg_log *log, const char *integration,
                                 const stg_message_rule *rules, size_t n, unsigned int flags)
{
	stg_message_rule *copy = NULL;
	stg__ruleset *set;
	size_t text_bytes;
	uint32_t integ;
	int rc;

	STG__ENTER(log, "stg_log_set_rules");
	if (n && !rules)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_rules: NULL rules with n = %zu", n);
	if (flags & ~(unsigned)STG_RULES_KEEP_DEFAULTS)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_rules: unknown flags 0x%x", flags);
	if (n > STG_RULES_MAX)
		return stg__fail(log->errmsg, STG_ERANGE, "stg_log_set_rules: %zu rules, at most %d", n,
		                 STG_RULES_MAX);
	if (!stg__key_ok(integration, NULL))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_rules: integration must be 1 to %d bytes",
		                 STG_KEY_MAX);
	if ((rc = check_rules(log, rules, n, &text_bytes)))
		return rc;
	if (n && !(copy = copy_rules(&log->alloc, rules, n, text_bytes)))
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_set_rules: out of memory");
	if ((rc = stg__integ_arg(log, "stg_log_set_rules", integration, &integ, 1)) ||
	    (rc = need_sets(log, integ))) {
		stg__free(&log->alloc, copy);
		return rc == STG_ENOMEM ? stg__fail(log->errmsg, rc, "stg_log_set_rules: out of memory") : rc;
	}
	set = &log->market->sets[integ];
	stg__free(&log->alloc, set->rules);
	set->rules = copy;
	set->n = (uint32_t)n;
	set->custom = 1;
	set->keep_defaults = (flags & STG_RULES_KEEP_DEFAULTS) != 0;
	return STG_OK;
}

/* ------------------------------------------------------- catalogue notices */

/* The notice key of (integration, SKU): the name, a NUL, the SKU. By name,
 * so that a notice for an integration the log has not seen creates none. */
static size_t notice_key(char *buf, const char *integ, size_t ilen, const char *sku, size_t len)
{
	memcpy(buf, integ, ilen);
	buf[ilen] = '\0';
	memcpy(buf + ilen + 1, sku, len);
	return ilen + 1 + len;
}

int stg__notice_unseen(stg_log *log, const char *fn, const char *integration, const char *sku)
{
	char key[2 * STG_KEY_MAX + 1];
	size_t ilen, len;
	uint32_t integ, idx;

	if (!stg__key_ok(integration, &ilen) || !stg__key_ok(sku, &len))
		return 1;
	if (stg__log_find_integ(log, integration, ilen, &integ) && stg__log_find(log, integ, sku, len, &idx))
		return 1;
	if (need_market(log))
		return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
	len = notice_key(key, integration, ilen, sku, len);
	if (stg__strmap_get(&log->market->notices, key, len, NULL))
		return STG_OK;
	if (log->market->notices.count >= STG__NOTICES_MAX)
		return stg__fail(log->errmsg, STG_ELIMIT,
		                 "%s: %u catalogue notices for SKUs without an entry are remembered already",
		                 fn, STG__NOTICES_MAX);
	if (stg__strmap_put(&log->market->notices, &log->alloc, key, len, 0))
		return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
	return STG_OK;
}

int stg__notice_take(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);
	const stg__integ *in = &log->integs[e->integ];
	char key[2 * STG_KEY_MAX + 1];
	const char *sku;

	if (!log->market || !log->market->notices.count)
		return 0;
	sku = stg__ent_sku(e);
	return stg__strmap_del(&log->market->notices, &log->alloc, key,
	                       notice_key(key, in->name, in->len, sku, strlen(sku)));
}

void stg__market_free(stg_log *log)
{
	stg__market *m = log->market;
	uint32_t i;

	if (!m)
		return;
	for (i = 0; i < m->nsets; i++)
		stg__free(&log->alloc, m->sets[i].rules);
	stg__free(&log->alloc, m->sets);
	stg__strmap_free(&m->notices, &log->alloc);
	stg__free(&log->alloc, m);
	log->market = NULL;
}
