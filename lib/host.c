/*
 * The one place that calls host code (see host.h): the clock, events,
 * storage load/write/remove/begin/commit/rollback and transport
 * send/send_batch.
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

/* An event held until the commit, with copies of its strings. */
struct stg__held_event {
	stg_event ev;
	char *text; /* integration, sku and message, each NUL-terminated */
};

/* Keep @ev until the commit of the UNDO transaction it belongs to: 1 when
 * kept, 0 when it is to be delivered now. */
static int hold_event(stg_log *log, const stg_event *ev)
{
	stg__txn *t = &log->txn;
	const char *s[3] = { ev->integration, ev->sku, ev->message };
	size_t len[3], total = 0;
	stg__held_event *h;
	char *p;
	int k;

	if (t->kind != STG__TXN_UNDO)
		return 0;
	for (k = 0; k < 3; k++)
		total += (len[k] = s[k] ? strlen(s[k]) : 0) + 1;
	if (t->nevents == t->events_cap) {
		stg__held_event *n = stg__grow(&log->alloc, t->events, &t->events_cap,
		                               (uint64_t)t->nevents + 1, sizeof *n, 8);
		if (!n)
			return 0; /* cannot hold it: better told early than never */
		t->events = n;
	}
	if (!(p = stg__malloc(&log->alloc, total)))
		return 0;
	h = &t->events[t->nevents++];
	h->ev = *ev;
	h->text = p;
	for (k = 0; k < 3; k++) {
		memcpy(p, s[k] ? s[k] : "", len[k] + 1);
		if (k == 0)
			h->ev.integration = s[k] ? p : NULL;
		else if (k == 1)
			h->ev.sku = s[k] ? p : NULL;
		else
			h->ev.message = s[k] ? p : NULL;
		p += len[k] + 1;
	}
	return 1;
}

void stg__log_event(stg_log *log, stg_event *ev)
{
	if (!log->events.on_event)
		return;
	/* A change that a failed commit may undo is told once it is committed. */
	if (log->txn.kind == STG__TXN_UNDO && hold_event(log, ev))
		return;
	log->in_hook++;
	log->events.on_event(ev, log->events.payload);
	log->in_hook--;
}

/*
 * A store that answers STG_EFENCED says another instance owns the data now
 * (its lease moved on): from then on the log calls none of its writing
 * functions, so nothing this log does reaches storage, and says so.
 */
static int fenced(stg_log *log, int rc, const char *what)
{
	if (rc == STG_EFENCED)
		log->fenced = 1;
	return stg__fail(log->errmsg, STG_EFENCED,
	                 "storage %s refused: this log lost its ownership of the data (fenced); it "
	                 "writes nothing more: close it", what);
}

int stg__host_write(stg_log *log, const stg_entry *e)
{
	int rc;

	if (log->fenced)
		return fenced(log, 0, "write");
	log->in_hook++;
	rc = log->storage.write(e, log->storage.payload);
	log->in_hook--;
	if (rc == STG_EFENCED)
		return fenced(log, rc, "write");
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage write of (%.100s, %.100s) failed: hook returned %d",
		                 e->integration, e->sku, rc);
	return STG_OK;
}

int stg__host_remove(stg_log *log, const char *integration, const char *sku)
{
	int rc;

	if (log->fenced)
		return fenced(log, 0, "remove");
	log->in_hook++;
	rc = log->storage.remove(integration, sku, log->storage.payload);
	log->in_hook--;
	if (rc == STG_EFENCED)
		return fenced(log, rc, "remove");
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage remove of (%.100s, %.100s) failed: hook returned %d", integration,
		                 sku, rc);
	return STG_OK;
}

/* One of the transaction functions @fn of a version-2 store. */
static int txn_call(stg_log *log, int (*fn)(void *), const char *what)
{
	int rc;

	if (log->fenced)
		return fenced(log, 0, what);
	log->in_hook++;
	rc = fn(log->storage.payload);
	log->in_hook--;
	if (rc == STG_EFENCED)
		return fenced(log, rc, what);
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE, "storage %s failed: hook returned %d", what, rc);
	return STG_OK;
}

int stg__host_begin(stg_log *log)
{
	return txn_call(log, log->storage.begin, "begin");
}

int stg__host_commit(stg_log *log)
{
	return txn_call(log, log->storage.commit, "commit");
}

int stg__host_rollback(stg_log *log)
{
	char keep[STG__ERRMSG_LEN];
	int rc;

	/* The commit's message is the one the caller needs. */
	memcpy(keep, log->errmsg, sizeof keep);
	rc = txn_call(log, log->storage.rollback, "rollback");
	memcpy(log->errmsg, keep, sizeof keep);
	return rc;
}

/* Deliver (@deliver) or drop the held events, oldest first. */
void stg__host_events_release(stg_log *log, int deliver)
{
	stg__txn *t = &log->txn;
	uint32_t i, n = t->nevents;

	t->nevents = 0;
	t->kind = STG__TXN_NONE; /* delivered now, not held again */
	for (i = 0; i < n; i++) {
		if (deliver)
			stg__log_event(log, &t->events[i].ev);
		stg__free(&log->alloc, t->events[i].text);
	}
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
	if (log->fenced)
		return fenced(log, 0, "write of an integration record");
	log->in_hook++;
	rc = log->storage.write_integration(s, log->storage.payload);
	log->in_hook--;
	if (rc == STG_EFENCED)
		return fenced(log, rc, "write of an integration record");
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
