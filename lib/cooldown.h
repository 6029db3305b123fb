/*
 * Rate-limit scopes and their cool-downs: a 429 cools down the whole
 * scope (the integration, or a named scope several share) until the
 * retry-after or a backoff. Never installed.
 */
#ifndef STOCKGUARD_COOLDOWN_H
#define STOCKGUARD_COOLDOWN_H

#include "integ.h"

/* The cool-down of an integration's scope. */
static inline stg__cool *stg__integ_cool(stg_log *log, stg__integ *in)
{
	return in->scope ? &log->scopes[in->scope - 1].cool : &in->own_cool;
}

/* 1 while the integration's scope is cooling down at @now. */
static inline int stg__integ_cooling(stg_log *log, stg__integ *in, int64_t now)
{
	return stg__integ_cool(log, in)->until > now;
}

/* A rate-limited answer for integration @integ at @now, with the
 * transport's retry-after (0: none). The first one of a cool-down starts
 * it (and lowers the integration's rate); later ones only lengthen it. */
void stg__cool_start(stg_log *log, uint32_t integ, int64_t retry_after, int64_t now);
/* A success in the integration's scope: the next cool-down backs off from the start. */
void stg__cool_success(stg_log *log, uint32_t integ);
void stg__scopes_free(stg_log *log);

#endif
