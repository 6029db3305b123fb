/* The reference model of the log; see model.h. */
#include "model.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void sm_policy_default(sm_policy *p, const char *min_sku, const char *min_category)
{
	memset(p, 0, sizeof *p);
	p->min = 0;
	p->cap = 0;
	p->window = 5;
	p->mode = STG_MODE_CUTOFF;
	p->alloc = 100;
	p->min_sku = min_sku;
	p->min_category = min_category;
}

int64_t sm_min_for(const sm_policy *p, const char *sku, const char *category)
{
	if (p->has_sku_min && p->min_sku && sku && strcmp(sku, p->min_sku) == 0)
		return p->sku_min;
	if (p->has_cat_min && p->min_category && category && strcmp(category, p->min_category) == 0)
		return p->cat_min;
	return p->min;
}

int64_t sm_publish(const sm_policy *p, const char *sku, const char *category, int64_t a,
                   unsigned *warn)
{
	int64_t min = sm_min_for(p, sku, category), q;

	*warn = 0;
	if (a < 0)
		return 0;
	if (p->mode == STG_MODE_CUTOFF) {
		if (a <= min) {
			*warn = a > 0;
			return 0;
		}
		q = a;
	} else {
		q = a - min;
		if (q <= 0) {
			*warn = a > 0;
			return 0;
		}
	}
	if (p->alloc != 100)
		q = (q / 100) * p->alloc + (q % 100) * p->alloc / 100;
	if (p->cap > 0 && q > p->cap)
		q = p->cap;
	return q;
}

int sm_decide(const sm_prior *b, const stg_submit *s, int64_t p1, int64_t window, int *reason)
{
	int64_t p0;

	if (!b->exists) {
		*reason = STG_REASON_FIRST_SEEN;
		return STG_DECISION_EXPORT;
	}
	if (s->sequence < b->sequence) {
		*reason = STG_REASON_STALE;
		return STG_DECISION_STALE;
	}
	if (b->job_state != STG_JOB_NONE) {
		*reason = STG_REASON_COALESCED;
		return STG_DECISION_COALESCED;
	}
	if (b->status == STG_ENTRY_ERROR && !b->has_acked) {
		*reason = STG_REASON_AFTER_ERROR;
		return STG_DECISION_EXPORT;
	}
	/* After an error the table compares with what the marketplace has. */
	p0 = b->status == STG_ENTRY_ERROR ? b->acked : b->published;
	if (s->flags & STG_CHANGE_NON_STOCK) {
		*reason = STG_REASON_NON_STOCK_CHANGE;
		return STG_DECISION_EXPORT;
	}
	if (p0 == p1) {
		*reason = STG_REASON_NO_CHANGE;
		return STG_DECISION_SKIP;
	}
	if (p0 <= window || p1 <= window) {
		*reason = STG_REASON_LOW_STOCK;
		return STG_DECISION_EXPORT;
	}
	*reason = STG_REASON_OUTSIDE_WINDOW;
	return STG_DECISION_SKIP;
}

int sm_classify(int http)
{
	if (http == 401 || http == 403)
		return STG_ERRCLASS_AUTH;
	if (http == 429)
		return STG_ERRCLASS_RATE_LIMITED;
	if (http == 408 || http == 425)
		return STG_ERRCLASS_TRANSIENT;
	if (http >= 400 && http < 500)
		return STG_ERRCLASS_REJECTED;
	return STG_ERRCLASS_TRANSIENT;
}

/* The built-in rules as marketplace.h and docs/contract.md document them,
 * in their order: Carrefour's "not catalogued" text whatever the status and
 * its 401 body as auth; Mercado Livre's "ProductId não encontrado" and the
 * English phrasings as not catalogued when a 4xx carries them; any 409 a
 * conflict. Written here from the documentation, not taken from the
 * library, so that a slip in its table shows. */
static const stg_message_rule sm_builtin[] = {
	{ STG_MESSAGE_RULE_VERSION, 0, 999, STG_MATCH_CONTAINS, "n\xc3\xa3o foi catalogado",
	  STG_ERRCLASS_NOT_CATALOGUED },
	{ STG_MESSAGE_RULE_VERSION, 0, 999, STG_MATCH_CONTAINS, "\"status\":401,\"message\":\"Unauthorized\"",
	  STG_ERRCLASS_AUTH },
	{ STG_MESSAGE_RULE_VERSION, 400, 499, STG_MATCH_CONTAINS, "n\xc3\xa3o encontrado",
	  STG_ERRCLASS_NOT_CATALOGUED },
	{ STG_MESSAGE_RULE_VERSION, 400, 499, STG_MATCH_CONTAINS, "sku not found", STG_ERRCLASS_NOT_CATALOGUED },
	{ STG_MESSAGE_RULE_VERSION, 400, 499, STG_MATCH_CONTAINS, "product not found",
	  STG_ERRCLASS_NOT_CATALOGUED },
	{ STG_MESSAGE_RULE_VERSION, 400, 499, STG_MATCH_CONTAINS, "does not exist", STG_ERRCLASS_NOT_CATALOGUED },
	{ STG_MESSAGE_RULE_VERSION, 400, 499, STG_MATCH_CONTAINS, "not catalogued", STG_ERRCLASS_NOT_CATALOGUED },
	{ STG_MESSAGE_RULE_VERSION, 409, 409, STG_MATCH_CONTAINS, NULL, STG_ERRCLASS_CONFLICT },
};

void sm_rules_default(sm_rules *s)
{
	memset(s, 0, sizeof *s);
}

int sm_rule_check(const stg_message_rule *r)
{
	if (r->version != STG_MESSAGE_RULE_VERSION)
		return STG_EVERSION;
	if (r->http_min < 0 || r->http_max > 999 || r->http_min > r->http_max ||
	    (r->match != STG_MATCH_CONTAINS && r->match != STG_MATCH_PREFIX) ||
	    r->error_class <= STG_ERRCLASS_NONE || r->error_class >= STG_ERRCLASS_COUNT ||
	    (r->text && (!r->text[0] || strlen(r->text) > STG_RULE_TEXT_MAX)))
		return STG_EINVAL;
	return STG_OK;
}

void sm_rules_set(sm_rules *s, const stg_message_rule *r, size_t n, unsigned flags)
{
	size_t i;

	memset(s, 0, sizeof *s);
	s->custom = 1;
	s->keep_defaults = (flags & STG_RULES_KEEP_DEFAULTS) != 0;
	s->n = n < SM_RULES_MAX ? n : SM_RULES_MAX;
	for (i = 0; i < s->n; i++) {
		s->r[i] = r[i];
		if (r[i].text) {
			strcpy(s->text[i], r[i].text);
			s->r[i].text = s->text[i];
		}
	}
}

/* ASCII letters without regard to case, other bytes exactly (marketplace.h). */
static int sm_fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int sm_starts(const char *msg, const char *text)
{
	size_t i;

	for (i = 0; text[i]; i++)
		if (!msg[i] || sm_fold((unsigned char)msg[i]) != sm_fold((unsigned char)text[i]))
			return 0;
	return 1;
}

static int sm_rule_matches(const stg_message_rule *r, int http, const char *msg)
{
	const char *p;

	if (http < r->http_min || http > r->http_max)
		return 0;
	if (!r->text)
		return 1;
	if (!msg)
		return 0;
	if (r->match == STG_MATCH_PREFIX)
		return sm_starts(msg, r->text);
	for (p = msg; *p; p++)
		if (sm_starts(p, r->text))
			return 1;
	return 0;
}

static int sm_first(const stg_message_rule *r, size_t n, int http, const char *msg)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sm_rule_matches(&r[i], http, msg))
			return r[i].error_class;
	return STG_ERRCLASS_NONE;
}

int sm_rules_class(const sm_rules *s, int http, const char *msg)
{
	int c = STG_ERRCLASS_NONE;

	if (s && s->custom)
		c = sm_first(s->r, s->n, http, msg);
	if (c == STG_ERRCLASS_NONE && (!s || !s->custom || s->keep_defaults))
		c = sm_first(sm_builtin, sizeof sm_builtin / sizeof *sm_builtin, http, msg);
	return c != STG_ERRCLASS_NONE ? c : sm_classify(http);
}

int sm_result_class_in(const sm_rules *s, const stg_job_result *r)
{
	if (r->error_class != STG_ERRCLASS_NONE)
		return r->error_class;
	return sm_rules_class(s, r->http_status, r->message);
}

int sm_result_class(const stg_job_result *r)
{
	return sm_result_class_in(NULL, r);
}

void sm_key_applied(sm_key *k, const stg_submit *s, int64_t published)
{
	k->exists = 1;
	k->seq = s->sequence;
	k->avail = s->available;
	k->published = published; /* the newest evaluation, also for a skip (entry.h) */
}

int64_t sm_key_result(sm_key *k, uint64_t id, int64_t published, int outcome)
{
	if (outcome == STG_OUTCOME_ASYNC) {
		k->async_id = id;
		k->async_pub = published;
		return published;
	}
	if (k->async_id)
		published = k->async_pub; /* a completion acknowledges what was handed out */
	k->async_id = 0;
	if (outcome == STG_OUTCOME_OK) {
		k->has_ack = 1;
		k->acked = published;
	}
	return published;
}

int sm_job_check(const sm_key *k, const stg_job *j, char *why, size_t cap)
{
	if (!k->exists) {
		snprintf(why, cap, "job for (%s, %s), which has no entry", j->integration, j->sku);
		return 1;
	}
	if (k->async_id) {
		snprintf(why, cap, "second job for (%s, %s) while job %" PRIu64 " is in flight",
		         j->integration, j->sku, k->async_id);
		return 1;
	}
	if (j->published != k->published) {
		snprintf(why, cap, "job for (%s, %s) publishes %" PRId64 ", the newest change published %" PRId64,
		         j->integration, j->sku, j->published, k->published);
		return 1;
	}
	if (j->available != k->avail) {
		snprintf(why, cap, "job for (%s, %s) carries available %" PRId64 ", the newest change %" PRId64,
		         j->integration, j->sku, j->available, k->avail);
		return 1;
	}
	if (j->published < 0 || j->attempt < 1) {
		snprintf(why, cap, "job published %" PRId64 ", attempt %u", j->published, j->attempt);
		return 1;
	}
	return 0;
}
