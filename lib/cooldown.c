/*
 * Rate-limit scopes and cool-downs. A marketplace limits a seller account
 * or an application, not a SKU: once it answers 429, every further call
 * into the same limit is answered 429 too until the limit renews. So a
 * rate-limited answer cools down the whole scope, and the pump hands out
 * no job of it until the cool-down ends: one call into an exhausted limit
 * per cool-down, whatever the number of jobs waiting. Waiting jobs are
 * not touched (no attempt, same due time and order), so they go out in
 * their order once it ends.
 */
#include "backoff.h"
#include "cooldown.h"
#include "host.h"

void stg__cool_start(stg_log *log, uint32_t integ, int64_t retry_after, int64_t now)
{
	stg__integ *in = &log->integs[integ];
	stg__cool *c = stg__integ_cool(log, in);
	int64_t delay = retry_after;

	if (c->until > now) {
		/* Another answer of the same exhausted limit (a batch, or an async
		 * completion): only a longer retry-after changes anything. */
		if (retry_after > 0 && stg__later(now, retry_after) > c->until)
			c->until = stg__later(now, retry_after);
		return;
	}
	if (delay <= 0) {
		if (c->level < UINT32_MAX)
			c->level++;
		delay = stg__backoff(log, c->level, 0);
	}
	/* At least 1 ms: a cool-down that ends when it starts would let the
	 * rest of this pump call into the same limit. */
	c->until = stg__later(now, delay > 0 ? delay : 1);
	in->counters.cooldowns++;
	stg__bucket_cut(&in->bucket);
}

void stg__cool_success(stg_log *log, uint32_t integ)
{
	stg__integ_cool(log, &log->integs[integ])->level = 0;
}

void stg__scopes_free(stg_log *log)
{
	uint32_t i;

	for (i = 0; i < log->nscopes; i++)
		stg__free(&log->alloc, log->scopes[i].name);
	stg__free(&log->alloc, log->scopes);
	log->scopes = NULL;
	log->nscopes = log->scopes_cap = 0;
}

/* The named scope's index + 1, created when new; failures recorded. */
static int scope_get(stg_log *log, const char *name, size_t len, uint32_t *out)
{
	stg__scope *sc;
	uint32_t i;

	/* Scopes are a handful (application keys): a scan. */
	for (i = 0; i < log->nscopes; i++)
		if (log->scopes[i].len == len && memcmp(log->scopes[i].name, name, len) == 0) {
			*out = i + 1;
			return STG_OK;
		}
	if (log->nscopes >= STG__MAX_INTEG)
		return stg__fail(log->errmsg, STG_ELIMIT,
		                 "stg_log_set_limit_scope: a log holds at most %u scopes", STG__MAX_INTEG);
	if (log->nscopes == log->scopes_cap) {
		sc = stg__grow(&log->alloc, log->scopes, &log->scopes_cap, (uint64_t)log->nscopes + 1,
		               sizeof *sc, 4);
		if (!sc)
			return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_set_limit_scope: out of memory");
		log->scopes = sc;
	}
	sc = &log->scopes[log->nscopes];
	memset(sc, 0, sizeof *sc);
	if (!(sc->name = stg__strdup(&log->alloc, name, len)))
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_set_limit_scope: out of memory");
	sc->len = len;
	*out = ++log->nscopes;
	return STG_OK;
}

STG_EXTERN int stg_log_set_limit_scope(stg_log *log, const char *integration, const char *scope)
{
	uint32_t integ, s = 0;
	size_t len;
	int rc;

	STG__ENTER(log, "stg_log_set_limit_scope");
	if (!stg__key_ok(integration, NULL))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_set_limit_scope: integration must be 1 to %d bytes", STG_KEY_MAX);
	if (scope && !stg__key_ok(scope, &len))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_set_limit_scope: scope must be NULL or 1 to %d bytes", STG_KEY_MAX);
	/* The scope first: a failure then leaves no new integration behind
	 * with a scope it did not get (the scope itself is harmless). */
	if (scope && (rc = scope_get(log, scope, len, &s)))
		return rc;
	if ((rc = stg__integ_arg(log, "stg_log_set_limit_scope", integration, &integ, 1)))
		return rc;
	log->integs[integ].scope = s;
	return STG_OK;
}

STG_EXTERN int stg_log_limit_state(stg_log *log, const char *integration, stg_limit_state *out)
{
	const stg__integ *in;
	const stg__cool *c;
	uint32_t integ;
	int64_t now;
	int rc;

	STG__ENTER(log, "stg_log_limit_state");
	if (!out)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_limit_state: NULL out");
	if ((rc = stg__integ_arg(log, "stg_log_limit_state", integration, &integ, 0)))
		return rc;
	in = &log->integs[integ];
	c = in->scope ? &log->scopes[in->scope - 1].cool : &in->own_cool;
	now = stg__log_now(log);
	memset(out, 0, sizeof *out);
	out->cooling_until = c->until > now ? c->until : 0;
	out->backoff_level = c->level;
	out->rate_per_s = in->bucket.rate * 1000.0;
	out->ceiling_per_s = in->bucket.ceiling * 1000.0;
	out->announced_per_s = in->bucket.announced * 1000.0;
	out->cooldowns = in->counters.cooldowns;
	out->shared = in->scope != 0;
	return STG_OK;
}
