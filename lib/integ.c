/*
 * Integrations: the registry by name, policies and limits, the token
 * bucket, the pause an auth failure causes.
 */
#include "host.h"
#include "integ.h"
#include "versions.h"

int stg__log_find_integ_slow(const stg_log *log, const char *name, size_t len, uint32_t *out)
{
	uint32_t i;

	/* Integrations are mostly few (marketplace connections), where a scan
	 * beats a hash; a connector with thousands of sellers gets the map. */
	if (log->ninteg > STG__INTEG_SCAN) {
		int64_t v;
		if (!stg__strmap_get(&log->integ_names, name, len, &v))
			return 0;
		*out = (uint32_t)v;
		return 1;
	}
	for (i = 0; i < log->ninteg; i++)
		if (log->integs[i].len == len && memcmp(log->integs[i].name, name, len) == 0) {
			*out = i;
			return 1;
		}
	return 0;
}

/* Find or create; the name was validated by the caller. A failure is
 * recorded on the log with @fn. */
int stg__log_get_integ_slow(stg_log *log, const char *fn, const char *name, size_t len, uint32_t *out)
{
	stg__integ *in;

	if (stg__log_find_integ_slow(log, name, len, out)) {
		log->last_integ = *out;
		return STG_OK;
	}
	if (log->ninteg >= STG__MAX_INTEG) /* entries keep 16-bit integration ids */
		return stg__fail(log->errmsg, STG_ELIMIT,
		                 "%s: a log holds at most %u integrations; '%.100s' would be one more",
		                 fn, STG__MAX_INTEG, name);
	if (log->ninteg == log->integ_cap) {
		stg__integ *n = stg__grow(&log->alloc, log->integs, &log->integ_cap,
		                          (uint64_t)log->ninteg + 1, sizeof *n, 4);
		if (!n)
			return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
		log->integs = n;
	}
	/* The map holds every name, so it is ready when the scan stops. */
	if (stg__strmap_put(&log->integ_names, &log->alloc, name, len, log->ninteg))
		return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
	in = &log->integs[log->ninteg];
	memset(in, 0, sizeof *in);
	in->name = stg__strdup(&log->alloc, name, len);
	if (!in->name) {
		stg__strmap_del(&log->integ_names, &log->alloc, name, len);
		return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
	}
	in->len = len;
	in->batch_size = 1;
	*out = log->ninteg++;
	return STG_OK;
}


static int need_name(stg_log *log, const char *fn, const char *what, const char *s)
{
	if (!stg__key_ok(s, NULL))
		return stg__fail(log->errmsg, STG_EINVAL, "%s: %s must be 1 to %d bytes", fn, what,
		                 STG_KEY_MAX);
	return STG_OK;
}

STG_EXTERN int stg_log_set_policy(stg_log *log, const char *integration, const stg_policy *policy)
{
	stg_policy *copy;
	uint32_t i;
	int rc;

	STG__ENTER(log, "stg_log_set_policy");
	if ((rc = need_name(log, "stg_log_set_policy", "integration", integration)))
		return rc;
	if (!policy)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_policy: NULL policy");
	if (stg__policy_copy_with(&copy, policy, &log->alloc))
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_set_policy: out of memory");
	if ((rc = stg__log_get_integ(log, "stg_log_set_policy", integration, strlen(integration), &i))) {
		stg_policy_free(copy);
		return rc;
	}
	stg_policy_free(log->integs[i].policy);
	log->integs[i].policy = copy;
	return STG_OK;
}

STG_EXTERN int stg_log_set_limits(stg_log *log, const char *integration, uint32_t batch_size,
                                  uint32_t max_jobs, int64_t per_ms)
{
	stg__integ *in;
	uint32_t i;
	int rc;

	STG__ENTER(log, "stg_log_set_limits");
	if ((rc = need_name(log, "stg_log_set_limits", "integration", integration)))
		return rc;
	if (batch_size < 1 || batch_size > 10000)
		return stg__fail(log->errmsg, STG_ERANGE,
		                 "stg_log_set_limits: batch size must be 1 to 10000, got %u", batch_size);
	if ((max_jobs == 0) != (per_ms == 0) || per_ms < 0 || per_ms > 86400000)
		return stg__fail(log->errmsg, STG_ERANGE,
		                 "stg_log_set_limits: rate needs max_jobs > 0 and per_ms in 1..86400000 "
		                 "(or both 0 for none)");
	if ((rc = stg__log_get_integ(log, "stg_log_set_limits", integration, strlen(integration), &i)))
		return rc;
	in = &log->integs[i];
	in->batch_size = batch_size;
	stg__bucket_set(&in->bucket, max_jobs, per_ms);
	return STG_OK;
}

void stg__integ_pause(stg_log *log, uint32_t integ, int http, const char *msg, int64_t now)
{
	stg__integ *in = &log->integs[integ];
	stg_event ev;

	if (in->paused)
		return;
	in->paused = 1;
	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_INTEGRATION_PAUSED;
	ev.integration = in->name;
	ev.http_status = http;
	ev.message = msg;
	ev.time = now;
	stg__log_event(log, &ev);
}

int stg__integ_arg(stg_log *log, const char *fn, const char *name, uint32_t *integ, int create)
{
	size_t len;

	if (!stg__key_ok(name, &len))
		return stg__fail(log->errmsg, STG_EINVAL, "%s: integration must be 1 to %d bytes", fn,
		                 STG_KEY_MAX);
	if (stg__log_find_integ(log, name, len, integ))
		return STG_OK;
	if (!create)
		return stg__fail(log->errmsg, STG_ENOTFOUND, "%s: no integration '%.100s'", fn, name);
	return stg__log_get_integ(log, fn, name, len, integ);
	return STG_OK;
}

int stg__integ_store_pause(stg_log *log, uint32_t integ, int paused, int64_t now)
{
	stg_integration_state s;

	stg_integration_state_init(&s, STG_INTEGRATION_STATE_VERSION);
	s.flags = paused ? STG_INTEGRATION_PAUSED : 0u;
	s.integration = log->integs[integ].name;
	s.updated_at = now;
	return stg__host_write_integration(log, &s);
}

/* One stored integration record: a manual pause comes back. */
static int state_sink(void *ctx, const stg_integration_state *s)
{
	stg_log *log = ctx;
	uint32_t integ;
	size_t len;
	int rc;

	if (log->load_rc)
		return log->load_rc;
	if (!s)
		rc = stg__fail(log->errmsg, STG_ECORRUPT, "stg_log_open: the load gave a NULL integration record");
	else if ((rc = stg__version_check(log->errmsg, "stg_log_open (load)", &stg__v_integration_state, s)))
		;
	else if (!stg__key_ok(s->integration, &len))
		rc = stg__fail(log->errmsg, STG_ECORRUPT,
		               "stg_log_open: stored integration record without a valid name");
	else if (!(s->flags & STG_INTEGRATION_PAUSED))
		return STG_OK; /* nothing to restore; unknown bits are a newer library's */
	else if (!(rc = stg__log_get_integ(log, "stg_log_open", s->integration, len, &integ)))
		log->integs[integ].paused = log->integs[integ].paused_by_host = 1;
	if (rc)
		log->load_rc = rc;
	return rc;
}

int stg__integ_load_states(stg_log *log)
{
	int rc = stg__host_load_integrations(log, state_sink, log);

	if (log->load_rc)
		return log->load_rc; /* the sink's verdict, whatever the hook returned */
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "stg_log_open: storage load of the integrations failed: hook returned %d", rc);
	return STG_OK;
}

STG_EXTERN int stg_log_is_paused(stg_log *log, const char *integration, int *paused)
{
	uint32_t integ;
	size_t len;

	STG__ENTER(log, "stg_log_is_paused");
	if (!paused || !stg__key_ok(integration, &len))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_is_paused: bad argument");
	*paused = stg__log_find_integ(log, integration, len, &integ) && log->integs[integ].paused;
	return STG_OK;
}
