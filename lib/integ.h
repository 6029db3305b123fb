/*
 * Integrations (marketplace connections) of a log: the registry by name,
 * the policy, batch size and rate limit (a token bucket), the pause, the
 * due queues and the counters. Never installed.
 */
#ifndef STOCKGUARD_INTEG_H
#define STOCKGUARD_INTEG_H

#include "counters.h"
#include "log_state.h"
#include "ratelimit.h"
#include "sched.h"

/* A rate-limit scope's cool-down (cooldown.c). */
typedef struct stg__cool {
	int64_t until;     /* no job of the scope goes out before this; 0: none yet */
	uint32_t level;    /* cool-downs in a row without a retry-after: the backoff's n */
} stg__cool;

/* A named scope several integrations share (stg_log_set_limit_scope()). */
struct stg__scope {
	char *name;
	size_t len;
	stg__cool cool;
};

typedef struct stg__integ {
	char *name;
	size_t len;
	stg_policy *policy;       /* NULL: the log's default policy */
	uint32_t batch_size;
	stg__bucket bucket;       /* the rate limit (ratelimit.c) */
	uint32_t scope;           /* 0: its own (own_cool); else log->scopes[scope - 1] */
	stg__cool own_cool;
	int paused;
	int paused_by_host;       /* stg_log_pause(): written as an integration record */
	stg__queue q[STG__PRIORITIES]; /* by ::stg_priority: the pump takes the lowest due first */
	stg__counters counters;
} stg__integ;


int stg__log_find_integ_slow(const stg_log *log, const char *name, size_t len, uint32_t *out);
int stg__log_get_integ_slow(stg_log *log, const char *fn, const char *name, size_t len, uint32_t *out);

/* Consecutive calls are mostly for one integration: the last one used is
 * tried first, inline (every submit and every loaded entry asks). */
static inline int stg__log_last_integ_is(const stg_log *log, const char *name, size_t len)
{
	uint32_t i = log->last_integ;

	return i < log->ninteg && log->integs[i].len == len && memcmp(log->integs[i].name, name, len) == 0;
}

/* Find an integration by name; 1 and its index when it exists. */
static inline int stg__log_find_integ(const stg_log *log, const char *name, size_t len, uint32_t *out)
{
	if (stg__log_last_integ_is(log, name, len)) {
		*out = log->last_integ;
		return 1;
	}
	return stg__log_find_integ_slow(log, name, len, out);
}

/* Find or create; the name was validated by the caller. A failure
 * (STG_ENOMEM, STG_ELIMIT) is recorded on the log with @fn. */
static inline int stg__log_get_integ(stg_log *log, const char *fn, const char *name, size_t len,
                                     uint32_t *out)
{
	if (stg__log_last_integ_is(log, name, len)) {
		*out = log->last_integ;
		return STG_OK;
	}
	return stg__log_get_integ_slow(log, fn, name, len, out);
}
/* A public call's integration argument: checked, found, or created when
 * @create (else STG_ENOTFOUND); failures recorded with @fn. */
int stg__integ_arg(stg_log *log, const char *fn, const char *name, uint32_t *integ, int create);
/* The integration's policy, or the log's default. */
static inline const stg_policy *stg__log_policy(const stg_log *log, uint32_t integ)
{
	const stg_policy *p = log->integs[integ].policy;
	return p ? p : log->default_policy;
}
/* Give the token bucket what time has earned it since the last refill. */
static inline void stg__integ_refill(stg__integ *in, int64_t now)
{
	stg__bucket_refill(&in->bucket, now);
}
/* How many jobs the bucket allows now (SIZE_MAX without a rate limit). */
static inline size_t stg__integ_budget(const stg__integ *in)
{
	return stg__bucket_budget(&in->bucket);
}
/* Write the integration's record with or without the host's pause
 * (storage version 2; STG_OK without one). STG_ESTORAGE on failure. */
int stg__integ_store_pause(stg_log *log, uint32_t integ, int paused, int64_t now);
/* At open, after the entries: the stored integration records. */
int stg__integ_load_states(stg_log *log);
/* An auth failure pauses the integration (event, once). */
void stg__integ_pause(stg_log *log, uint32_t integ, int http, const char *msg, int64_t now);

/* Room for n more items in a queue: nearly always there already. */
static inline int stg__sched_reserve(stg_log *log, uint32_t integ, int prio, uint32_t n)
{
	const stg__queue *q = log->integs[integ].q;
	int p;

	/* Nearly always there is room already (each submit asks, and the pump
	 * for every priority before each batch). */
	for (p = prio < 0 ? 0 : prio; p < (prio < 0 ? STG__PRIORITIES : prio + 1); p++)
		if (q[p].cap - q[p].len < n || q[p].hcap - q[p].hlen < n)
			return stg__sched_reserve_slow(log, integ, prio, n);
	return STG_OK;
}

#endif
