/*
 * The one place that calls host code (see host.h): the clock, events,
 * storage load/write/remove and transport send/send_batch.
 */
#define _POSIX_C_SOURCE 200809L
#include "host.h"

#include <time.h>

static int64_t system_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t stg__log_now(stg_log *log)
{
	int64_t t;

	if (!log->clock.now_ms)
		return system_now();
	log->in_hook++;
	t = log->clock.now_ms(log->clock.payload);
	log->in_hook--;
	/* Times stay in 0..INT64_MAX so that no difference of two can overflow. */
	return t < 0 ? 0 : t;
}

void stg__log_event(stg_log *log, stg_event *ev)
{
	if (!log->events.on_event)
		return;
	log->in_hook++;
	log->events.on_event(ev, log->events.payload);
	log->in_hook--;
}

int stg__host_write(stg_log *log, const stg_entry *e)
{
	int rc;

	log->in_hook++;
	rc = log->storage.write(e, log->storage.payload);
	log->in_hook--;
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage write of (%.100s, %.100s) failed: hook returned %d",
		                 e->integration, e->sku, rc);
	return STG_OK;
}

int stg__host_remove(stg_log *log, const char *integration, const char *sku)
{
	int rc;

	log->in_hook++;
	rc = log->storage.remove(integration, sku, log->storage.payload);
	log->in_hook--;
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage remove of (%.100s, %.100s) failed: hook returned %d", integration,
		                 sku, rc);
	return STG_OK;
}

int stg__host_load(stg_log *log, stg_entry_sink sink, void *ctx)
{
	int rc;

	if (!log->storage.load)
		return 0;
	log->in_hook++;
	rc = log->storage.load(sink, ctx, log->storage.payload);
	log->in_hook--;
	return rc;
}

int stg__host_write_integration(stg_log *log, const stg_integration_state *s)
{
	int rc;

	if (!log->storage.write_integration)
		return STG_OK; /* a version-1 hook, or none: nothing to keep it in */
	log->in_hook++;
	rc = log->storage.write_integration(s, log->storage.payload);
	log->in_hook--;
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage write of integration %.100s failed: hook returned %d",
		                 s->integration, rc);
	return STG_OK;
}

int stg__host_load_integrations(stg_log *log, stg_integration_sink sink, void *ctx)
{
	int rc;

	if (!log->storage.load_integrations)
		return 0;
	log->in_hook++;
	rc = log->storage.load_integrations(sink, ctx, log->storage.payload);
	log->in_hook--;
	return rc;
}

int stg__host_send(stg_log *log, const stg_job *jobs, size_t n, stg_job_result *results)
{
	size_t k;
	int rc = 0;

	log->in_hook++;
	if (n == 1 || !log->transport.send_batch)
		for (k = 0; k < n && !rc; k++)
			rc = log->transport.send(&jobs[k], &results[k], log->transport.payload);
	else
		rc = log->transport.send_batch(jobs, n, results, log->transport.payload);
	log->in_hook--;
	return rc;
}
