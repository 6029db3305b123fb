/*
 * The integration log: opening and loading, integrations, write-through to
 * storage, and the host calls that change entries (submit, remove, expire,
 * flush). The entry table, the index, the job and problem records and the
 * due queues have files of their own (see log_internal.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "log_internal.h"
#include "versions.h"

#include <time.h>

/* ------------------------------------------------------------ hook calls */

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

/* ---------------------------------------------------------- integrations */

int stg__log_find_integ(const stg_log *log, const char *name, size_t len, uint32_t *out)
{
	uint32_t i = log->last_integ;

	/* Consecutive calls are mostly for one integration: try it first. */
	if (i < log->ninteg && log->integs[i].len == len && memcmp(log->integs[i].name, name, len) == 0) {
		*out = i;
		return 1;
	}
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
int stg__log_get_integ(stg_log *log, const char *fn, const char *name, size_t len, uint32_t *out)
{
	stg__integ *in;

	if (stg__log_find_integ(log, name, len, out)) {
		log->last_integ = *out;
		return STG_OK;
	}
	if (log->ninteg >= STG__MAX_INTEG) /* entries keep 16-bit integration ids */
		return stg__fail(log->errmsg, STG_ELIMIT,
		                 "%s: a log holds at most %u integrations; '%.100s' would be one more",
		                 fn, STG__MAX_INTEG, name);
	if (log->ninteg == log->integ_cap) {
		uint32_t ncap = log->integ_cap ? log->integ_cap * 2 : 4;
		stg__integ *n = stg__realloc(&log->alloc, log->integs, ncap * sizeof *n);
		if (!n)
			return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
		log->integs = n;
		log->integ_cap = ncap;
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

const stg_policy *stg__log_policy(const stg_log *log, uint32_t integ)
{
	const stg_policy *p = log->integs[integ].policy;
	return p ? p : log->default_policy;
}

int stg__log_find(const stg_log *log, uint32_t integ, const char *sku, size_t len, uint32_t *out)
{
	stg__key k;

	stg__key_make(&k, integ, sku, len);
	return stg__index_find(log, &k, out);
}

/* --------------------------------------------------------------- storage */

int stg__log_write_view(stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p)
{
	stg_entry out;
	int rc;

	if (!log->has_storage || !log->storage.write)
		return STG_OK;
	stg__ent_view(log, e, j, p, 0, &out);
	log->in_hook++;
	rc = log->storage.write(&out, log->storage.payload);
	log->in_hook--;
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage write of (%.100s, %.100s) failed: hook returned %d",
		                 out.integration, out.sku, rc);
	return STG_OK;
}

int stg__log_write(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int rc = stg__log_write_view(log, e, stg__job_of(log, e), stg__prob_of(log, e));

	if (rc == STG_OK)
		stg__log_clear_dirty(log, idx); /* its owed write, if any, just happened */
	return rc;
}

void stg__log_clear_dirty(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	if (!(e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED)))
		return;
	if (e->bits & STG__B_DIRTY_UNLISTED)
		log->dirty_unlisted--;
	e->bits &= ~(STG__B_DIRTY | STG__B_DIRTY_UNLISTED);
}

void stg__log_mark_dirty(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	if (e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED))
		return;
	if (log->ndirty == log->dirty_cap) {
		size_t ncap = log->dirty_cap ? log->dirty_cap * 2 : 16;
		uint32_t *n = stg__realloc(&log->alloc, log->dirty, ncap * sizeof *n);
		if (!n) {
			/* Cannot even remember it: fall back to a full rescan at flush time. */
			e->bits |= STG__B_DIRTY_UNLISTED;
			log->dirty_unlisted++;
			return;
		}
		log->dirty = n;
		log->dirty_cap = ncap;
	}
	log->dirty[log->ndirty++] = idx;
	e->bits |= STG__B_DIRTY;
}

int stg__log_flush_owed_slow(stg_log *log)
{
	size_t i, kept = 0;
	uint32_t k;
	int rc = STG_OK;

	for (i = 0; i < log->ndirty; i++) {
		uint32_t idx = log->dirty[i];
		const stg__ent *e = stg__ent_at(log, idx);
		if (!stg__ent_live(e) || !(e->bits & STG__B_DIRTY))
			continue;
		if (rc == STG_OK && stg__log_write(log, idx) == STG_OK)
			continue;
		rc = STG_ESTORAGE;
		log->dirty[kept++] = idx;
	}
	log->ndirty = kept;
	/* Entries that could not even be listed (out of memory) are found by scan. */
	for (k = 0; log->dirty_unlisted && k < log->nents; k++) {
		const stg__ent *e = stg__ent_at(log, k);
		if (!stg__ent_live(e) || !(e->bits & STG__B_DIRTY_UNLISTED))
			continue;
		if (rc == STG_OK && stg__log_write(log, k) == STG_OK)
			continue;
		rc = STG_ESTORAGE;
	}
	return rc;
}

static int remove_stored(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);
	const char *name = log->integs[e->integ].name;
	int rc;

	if (!log->has_storage || !log->storage.remove)
		return STG_OK;
	log->in_hook++;
	rc = log->storage.remove(name, stg__ent_sku(e), log->storage.payload);
	log->in_hook--;
	if (rc)
		return stg__fail(log->errmsg, STG_ESTORAGE,
		                 "storage remove of (%.100s, %.100s) failed: hook returned %d", name,
		                 stg__ent_sku(stg__ent_at(log, idx)), rc);
	return STG_OK;
}

/* ------------------------------------------------------------------ jobs */

uint32_t stg__log_new_job_id(stg_log *log)
{
	return (uint32_t)++log->job_counter;
}

void stg__log_end_job(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);
	int64_t last = log->jobs.v[e->job - 1].last_attempt;
	int32_t gap;

	stg__jobs_release(log, e->job - 1);
	e->job = 0;
	stg__ent_set_job_state(e, STG_JOB_NONE);
	if (!e->prob && stg__gap32(e->acked_at, last, &gap)) {
		e->ack_delay = gap;
		return;
	}
	stg__prob_need(log, idx)->last_attempt_at = last;
}

static void delete_entry(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	stg__index_delete(log, idx);
	stg__sched_forget(log, idx);
	if (e->job)
		stg__jobs_release(log, e->job - 1);
	e->job = 0;
	stg__prob_drop(log, idx);
	stg__log_clear_dirty(log, idx);
	stg__ent_free_sku(log, e);
	stg__ents_release(log, idx);
}

void stg__log_trim(stg_log *log)
{
	uint32_t i;

	stg__jobs_trim(log);
	stg__probs_trim(log);
	for (i = 0; i < log->ninteg; i++)
		stg__sched_trim(log, &log->integs[i]);
}

/* ------------------------------------------------------------ open/close */

/* A hook the host may leave out (NULL): copied by the size of its version. */
static int copy_hook(const stg__vstruct *t, const void *src, void *dst)
{
	return src ? stg__version_copy(NULL, "stg_log_open", t, src, dst) : STG_OK;
}

static int load_entry(stg_log *log, const stg_entry *in);

/* Remember the first verdict, so open can tell it from the hook's own failure. */
static int load_sink(void *ctx, const stg_entry *in)
{
	stg_log *log = ctx;
	int rc = log->load_rc ? log->load_rc : load_entry(log, in);

	if (rc && !log->load_rc)
		log->load_rc = rc;
	return rc;
}

static int load_entry(stg_log *log, const stg_entry *in)
{
	size_t ilen, slen;
	uint32_t integ, idx, msg = 0;
	unsigned flags;
	int32_t gap = 0;
	int has_job, need_prob, rc;
	stg__ent e;

	if (!in)
		return stg__fail(log->errmsg, STG_ECORRUPT, "stg_log_open: the load gave a NULL entry");
	if ((rc = stg__version_check(log->errmsg, "stg_log_open (load)", &stg__v_entry, in)))
		return rc;
	if (!stg__key_ok(in->integration, &ilen) || !stg__key_ok(in->sku, &slen))
		return stg__fail(log->errmsg, STG_ECORRUPT,
		                 "stg_log_open: stored entry without a valid integration or sku");
	if (in->status < STG_ENTRY_PENDING || in->status > STG_ENTRY_ERROR ||
	    in->job_state < STG_JOB_NONE || in->job_state > STG_JOB_HELD ||
	    in->error_class < 0 || in->error_class >= STG_ERRCLASS_COUNT ||
	    in->priority < STG_PRIORITY_URGENT || in->priority > STG_PRIORITY_NORMAL ||
	    in->reason < 0 || in->reason >= STG_REASON_COUNT ||
	    in->http_status < 0 || in->http_status > 999 ||
	    (in->status == STG_ENTRY_PENDING) != (in->job_state != STG_JOB_NONE))
		return stg__fail(log->errmsg, STG_ECORRUPT,
		                 "stg_log_open: stored entry (%.100s, %.100s) has fields out of range",
		                 in->integration, in->sku);
	if ((rc = stg__log_get_integ(log, "stg_log_open", in->integration, ilen, &integ)))
		return rc;
	/* Not indexed yet (nor checked for a twin): stg__index_build() does
	 * both once the load is over. */
	has_job = in->job_state != STG_JOB_NONE;
	flags = in->flags & ~STG_ENTRY_LATE;
	/* What the hot entry cannot hold goes to a problem record. */
	need_prob = (in->message && in->message[0]) || in->http_status || in->attempts ||
	            in->first_failed_at || (flags & ~STG__FLAGS_MASK) ||
	            !stg__latency_fits(in->latency_ms) ||
	            (!has_job && !stg__gap32(in->acked_at, in->last_attempt_at, &gap));
	if ((rc = stg__ents_reserve_unindexed(log)) || (need_prob && (rc = stg__probs_reserve(log, 1))) ||
	    (has_job && (rc = stg__jobs_reserve(log, 1))))
		return stg__fail(log->errmsg, rc, "stg_log_open: out of memory");
	if (in->message && in->message[0] && !(msg = stg__msg_intern(log, in->message)))
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_open: out of memory");
	memset(&e, 0, sizeof e);
	if (stg__ent_set_sku(log, &e, in->sku, slen)) {
		stg__msg_release(log, msg);
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_open: out of memory");
	}
	e.integ = (uint16_t)integ;
	e.available = in->available;
	e.published = in->published;
	e.acked = in->acked;
	e.sequence = in->sequence;
	e.changed_at = in->changed_at;
	e.acked_at = in->acked_at;
	stg__ent_set_latency(&e, stg__latency_fits(in->latency_ms) ? in->latency_ms : STG__LAT_WIDE);
	e.status = (unsigned)in->status;
	e.error_class = (unsigned)in->error_class;
	e.priority = (unsigned)in->priority;
	e.reason = (unsigned)in->reason;
	e.flags = flags & STG__FLAGS_MASK;
	e.bits |= STG__B_LIVE;
	if (!has_job)
		e.ack_delay = gap;
	/* A job handed out before the stop may never have arrived: send it again. */
	stg__ent_set_job_state(&e, in->job_state == STG_JOB_IN_FLIGHT ? STG_JOB_QUEUED : in->job_state);
	if ((in->job_id >> 32) >= log->job_counter)
		log->job_counter = (in->job_id >> 32) + 1;

	idx = stg__ents_take(log);
	*stg__ent_at(log, idx) = e;
	if (has_job) {
		uint32_t kj = stg__jobs_take(log, idx);
		stg__job *j = &log->jobs.v[kj];
		j->since = in->job_since;
		j->due = in->next_attempt_at;
		j->last_attempt = in->last_attempt_at;
		j->attempts = in->job_attempts;
		j->transient = in->job_transient;
		stg__ent_at(log, idx)->job = kj + 1;
	}
	if (need_prob) {
		stg__prob *p = stg__prob_need(log, idx);
		p->msg = msg;
		p->http_status = (uint16_t)in->http_status;
		p->attempts = in->attempts;
		p->first_failed_at = in->first_failed_at;
		p->last_attempt_at = in->last_attempt_at;
		p->latency_ms = in->latency_ms;
		p->xflags = flags & ~STG__FLAGS_MASK;
	}
	return STG_OK;
}

/* The loaded entries went in unindexed: index them at once, which is also
 * where an entry stored twice shows. */
static int index_loaded(stg_log *log)
{
	uint32_t dup = 0;
	int rc = stg__index_build(log, &dup);

	if (rc == STG_ECORRUPT) {
		const stg__ent *e = stg__ent_at(log, dup);
		return stg__fail(log->errmsg, rc, "stg_log_open: entry (%.100s, %.100s) stored twice",
		                 log->integs[e->integ].name, stg__ent_sku(e));
	}
	if (rc)
		return stg__fail(log->errmsg, rc, "stg_log_open: out of memory");
	return STG_OK;
}

/* After the load: ids for the jobs, queues, pauses. */
static int settle_loaded(stg_log *log)
{
	uint32_t i;
	int rc;

	for (i = 0; i < log->nents; i++) {
		stg__ent *e = stg__ent_at(log, i);
		if (!stg__ent_live(e) || !e->job)
			continue;
		e->job_id = stg__log_new_job_id(log);
		if (stg__ent_job_state(e) == STG_JOB_QUEUED && e->error_class == STG_ERRCLASS_AUTH)
			log->integs[e->integ].paused = 1;
		if ((rc = stg__sched_reserve(log, e->integ, e->priority, 1)))
			return stg__fail(log->errmsg, rc, "stg_log_open: out of memory");
		/* Loaded jobs come in storage order, not due order: heap them. */
		stg__sched_push(log, i, INT64_MIN);
	}
	return STG_OK;
}

STG_EXTERN void stg_log_close(stg_log *log)
{
	stg__alloc a;
	uint32_t i;

	if (!log)
		return;
	if (log->in_hook) {
		/* Freeing the log under the call that runs the hook would leave it
		 * using freed memory: refused, and said where it can be read. */
		stg__fail(log->errmsg, STG_ERECURSIVE,
		          "stg_log_close: called from inside one of the log's hooks; not closed");
		return;
	}
	a = log->alloc;
	stg__ents_free(log);
	stg__jobs_free(log);
	stg__probs_free(log);
	stg__msgs_free(log);
	for (i = 0; i < log->ninteg; i++) {
		stg__integ *in = &log->integs[i];
		stg__free(&a, in->name);
		stg_policy_free(in->policy);
		stg__sched_free(log, in);
		stg__counters_free(log, &in->counters);
	}
	stg_policy_free(log->default_policy);
	stg__strmap_free(&log->integ_names, &a);
	stg__free(&a, log->integs);
	stg__free(&a, log->slots);
	stg__free(&a, log->dirty);
	stg__free(&a, log);
}

STG_EXTERN int stg_log_open(stg_log **out, const stg_log_options *given)
{
	static const stg_log_options defaults = STG_LOG_OPTIONS_INIT;
	stg_log_options options;
	const stg_log_options *opt = &options;
	stg_allocator host_alloc;
	stg__alloc a;
	stg_log *log;
	int rc;

	if (!out)
		return stg__fail(NULL, STG_EINVAL, "stg_log_open: NULL out");
	if ((rc = stg__version_copy(NULL, "stg_log_open", &stg__v_log_options,
	                            given ? given : &defaults, &options)))
		return rc;
	if (opt->latency_limit_ms < 0 || opt->backoff_base_ms < 0 || opt->backoff_max_ms < 0 ||
	    opt->catalogue_retry_ms < 0 || opt->success_max_age_ms < 0)
		return stg__fail(NULL, STG_EINVAL, "stg_log_open: negative time in the options");
	if ((rc = copy_hook(&stg__v_allocator, opt->allocator, &host_alloc)))
		return rc;
	if ((rc = stg__alloc_from(&a, opt->allocator ? &host_alloc : NULL, "stg_log_open")))
		return rc;
	log = stg__calloc(&a, 1, sizeof *log);
	if (!log)
		return stg__fail(NULL, STG_ENOMEM, "stg_log_open: out of memory");
	log->alloc = a;
	log->free_head = STG__NO_FREE;
	log->jobs.free_head = STG__NO_FREE;
	log->msgs.free_head = STG__NO_FREE;
	if ((rc = copy_hook(&stg__v_storage, opt->storage, &log->storage)) ||
	    (rc = copy_hook(&stg__v_transport, opt->transport, &log->transport)) ||
	    (rc = copy_hook(&stg__v_clock, opt->clock, &log->clock)) ||
	    (rc = copy_hook(&stg__v_events, opt->events, &log->events)))
		goto fail;
	if (opt->storage && (!log->storage.write || !log->storage.remove)) {
		rc = stg__fail(NULL, STG_EINVAL, "stg_log_open: storage needs write and remove");
		goto fail;
	}
	if (opt->transport && !log->transport.send) {
		rc = stg__fail(NULL, STG_EINVAL, "stg_log_open: transport needs send");
		goto fail;
	}
	log->has_storage = opt->storage != NULL;
	log->has_transport = opt->transport != NULL;
	log->latency_limit = opt->latency_limit_ms ? opt->latency_limit_ms : 3600000;
	log->backoff_base = opt->backoff_base_ms ? opt->backoff_base_ms : 1000;
	log->backoff_max = opt->backoff_max_ms ? opt->backoff_max_ms : 15 * 60000;
	if (log->backoff_max < log->backoff_base)
		log->backoff_max = log->backoff_base;
	log->catalogue_retry = opt->catalogue_retry_ms ? opt->catalogue_retry_ms : 6 * 3600000;
	log->success_max_age = opt->success_max_age_ms;
	log->success_max_count = opt->success_max_count;
	log->max_transient = opt->max_transient_attempts ? opt->max_transient_attempts : 5;
	log->rng = opt->jitter_seed ? opt->jitter_seed : 0x5eed5eed5eed5eedull;
	if ((rc = stg_policy_new(&log->default_policy, opt->allocator ? &host_alloc : NULL)))
		goto fail;
	if (log->has_storage && log->storage.load) {
		log->in_hook++;
		rc = log->storage.load(load_sink, log, log->storage.payload);
		log->in_hook--;
		if (log->load_rc) {
			/* The sink refused an entry: that verdict, whatever the hook returned. */
			rc = log->load_rc;
			stg__fail(NULL, rc, "%s", log->errmsg);
			goto fail;
		}
		if (rc) {
			rc = stg__fail(NULL, STG_ESTORAGE, "stg_log_open: storage load failed: hook returned %d", rc);
			goto fail;
		}
	}
	if (log->live && (rc = index_loaded(log))) {
		stg__fail(NULL, rc, "%s", log->errmsg);
		goto fail;
	}
	if ((rc = settle_loaded(log))) {
		stg__fail(NULL, rc, "%s", log->errmsg);
		goto fail;
	}
	log->errmsg[0] = '\0';
	*out = log;
	return STG_OK;
fail:
	stg_log_close(log);
	return rc;
}

STG_EXTERN const char *stg_log_errmsg(const stg_log *log)
{
	return log ? log->errmsg : "";
}

STG_EXTERN int stg_log_set_transport(stg_log *log, const stg_transport *t)
{
	stg_transport copy;
	int rc;

	STG__ENTER(log, "stg_log_set_transport");
	if (!t)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_transport: NULL transport");
	if ((rc = stg__version_copy(log->errmsg, "stg_log_set_transport", &stg__v_transport, t, &copy)))
		return rc;
	if (!copy.send)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_set_transport: send is required");
	log->transport = copy;
	log->has_transport = 1;
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
	in->max_jobs = max_jobs;
	in->per_ms = per_ms;
	in->tokens = (int64_t)max_jobs * per_ms; /* start with a full bucket */
	in->refilled_at = 0;
	return STG_OK;
}

/* ---------------------------------------------------------------- submit */

/*
 * Priority of a job publishing p1, the marketplace last having p0 (or not).
 * Crossing the cutoff either way is urgent: down, an oversell risk; up, a
 * restocked SKU that cannot be sold until the marketplace hears of it.
 */
static int job_priority(const stg_policy *p, int has_p0, int64_t p0, int64_t p1, unsigned warn)
{
	if (p1 == 0 || warn || (has_p0 && p0 == 0))
		return STG_PRIORITY_URGENT;
	if (p1 <= p->window || (has_p0 && p0 <= p->window))
		return STG_PRIORITY_LOW_STOCK;
	return STG_PRIORITY_NORMAL;
}

/* The clock, read at most once per call and only when a change needs it
 * (a coalescing change with its own time does not). */
static int64_t now_of(stg_log *log, int64_t *now)
{
	if (*now < 0)
		*now = stg__log_now(log);
	return *now;
}

/*
 * One change. Works on copies of the entry (and of its job record when that
 * changes), writes them through, then commits them: everything that could
 * fail (memory for a new entry, job record or queue item) is reserved
 * before storage sees the change, so after a successful write nothing can
 * fail any more. A change to an existing SKU allocates nothing unless a
 * table has to grow.
 */
/* The checks of a change, without side effects: 0 when it is not
 * acceptable. change_rest_ok() leaves out the integration name, which a
 * batch may have checked already for the previous change. */
static int change_rest_ok(const stg_submit *s, size_t *slen)
{
	return !STG__VERSION_BAD(s->version, STG_SUBMIT_VERSION) && stg__key_ok(s->sku, slen) &&
	       !(s->flags & ~(unsigned)STG_CHANGE_NON_STOCK) &&
	       (!s->category || stg__key_ok(s->category, NULL)) && s->changed_at >= 0;
}

static int change_ok(const stg_submit *s, size_t *ilen, size_t *slen)
{
	/* The version first (in change_rest_ok): it says how to read the rest. */
	return change_rest_ok(s, slen) && stg__key_ok(s->integration, ilen);
}

/*
 * One change. @pre is its key when the batch prepared it (checked, its
 * integration known), else NULL. Works on copies of the entry (and of its
 * job record when that changes), writes them through, then commits them:
 * everything that could fail (memory for a new entry, job record or queue
 * item) is reserved before storage sees the change, so after a successful
 * write nothing can fail any more. A change to an existing SKU allocates
 * nothing unless a table has to grow.
 */
static int submit_one(stg_log *log, const stg_submit *s, stg_submit_result *res, int64_t *nowp,
                      const stg__key *pre, uint32_t hint)
{
	size_t ilen, slen;
	uint32_t integ, idx = 0;
	const stg_policy *pol;
	stg__counters *c;
	stg__ent e, *ent = NULL;
	stg__job j, *jold = NULL;
	const stg__job *jview = NULL;
	stg__key k;
	int found, rc, decision, reason, fresh_warning, js, new_job = 0, resched = 0;
	int64_t min, changed_at, pub;
	unsigned warn;
	int source;

	if (pre) {
		k = *pre;
		integ = k.integ;
		slen = k.len;
	} else {
		if (STG__UNLIKELY(!change_ok(s, &ilen, &slen))) {
			if (STG__VERSION_BAD(s->version, STG_SUBMIT_VERSION))
				return stg__version_fail(log->errmsg, "stg_log_submit", &stg__v_submit,
				                         s->version);
			if (!stg__key_ok(s->integration, &ilen) || !stg__key_ok(s->sku, &slen))
				return stg__fail(log->errmsg, STG_EINVAL,
				                 "stg_log_submit: integration and sku must be 1 to %d bytes",
				                 STG_KEY_MAX);
			if (s->flags & ~(unsigned)STG_CHANGE_NON_STOCK)
				return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: unknown flags 0x%x",
				                 s->flags);
			if (s->category && !stg__key_ok(s->category, NULL))
				return stg__fail(log->errmsg, STG_EINVAL,
				                 "stg_log_submit: category must be NULL or 1 to %d bytes",
				                 STG_KEY_MAX);
			return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: changed_at %lld is negative",
			                 (long long)s->changed_at);
		}
		if ((rc = stg__log_get_integ(log, "stg_log_submit", s->integration, ilen, &integ)))
			return rc;
		stg__key_make(&k, integ, s->sku, slen);
	}
	pol = stg__log_policy(log, integ);
	c = &log->integs[integ].counters;
	/* A batch's prefetch already walked the probe: when the entry it found
	 * holds this key, it is this key's entry (keys are unique). */
	if (hint != UINT32_MAX && stg__index_is(log, &k, hint)) {
		found = 1;
		idx = hint;
	} else {
		found = stg__index_find(log, &k, &idx);
	}
	memset(res, 0, sizeof *res);

	if (found) {
		ent = stg__ent_at(log, idx);
		if (s->sequence < ent->sequence) {
			c->changes++;
			c->stale++;
			res->decision = STG_DECISION_STALE;
			res->reason = STG_REASON_STALE;
			res->priority = STG_PRIORITY_NORMAL;
			res->published = ent->published;
			return STG_OK;
		}
		e = *ent;
	} else {
		if ((rc = stg__ents_reserve(log)))
			return stg__fail(log->errmsg, rc, "stg_log_submit: out of memory");
		memset(&e, 0, sizeof e);
		e.integ = (uint16_t)integ;
		stg__ent_set_latency(&e, -1);
		e.priority = STG_PRIORITY_NORMAL;
		e.bits = STG__B_LIVE;
	}
	stg__policy_resolve(pol, s->sku, s->category, &min, &source);
	pub = stg__policy_pub(pol, min, s->available, &warn);
	fresh_warning = warn && !(e.flags & STG_ENTRY_MIN_STOCK_REACHED);
	changed_at = s->changed_at ? s->changed_at : now_of(log, nowp);
	js = stg__ent_job_state(&e);

	if (js != STG_JOB_NONE) {
		int prio;
		/* One job per SKU: the newest quantity rides on the waiting one. */
		decision = STG_DECISION_COALESCED;
		reason = STG_REASON_COALESCED;
		jold = &log->jobs.v[e.job - 1];
		jview = jold;
		/* The latency of a follow-up job starts at its oldest change. */
		if (js == STG_JOB_IN_FLIGHT && e.published == jold->sent && pub != jold->sent) {
			j = *jold;
			j.follow_since = changed_at;
			jview = &j;
		}
		prio = job_priority(pol, (e.flags & STG_ENTRY_HAS_ACKED) != 0, e.acked, pub, warn);
		resched = js != STG_JOB_IN_FLIGHT && prio != e.priority;
		e.priority = (unsigned)prio;
	} else {
		int has_p0 = 0;
		int64_t p0 = 0;
		if (found && e.status == STG_ENTRY_ERROR) {
			/* The marketplace holds what it last acknowledged, not our last change. */
			has_p0 = (e.flags & STG_ENTRY_HAS_ACKED) != 0;
			p0 = e.acked;
		} else if (found) {
			unsigned w0;
			has_p0 = 1;
			p0 = stg__policy_pub(pol, min, e.available, &w0);
		}
		if (found && e.status == STG_ENTRY_ERROR && !has_p0) {
			decision = STG_DECISION_EXPORT;
			reason = STG_REASON_AFTER_ERROR;
		} else {
			/* p0 may be an acknowledged quantity with no available behind
			 * it, so the table is applied to published values directly.
			 * The time since the last export matters to the heartbeat only. */
			int64_t since = pol->heartbeat_ms && (e.flags & STG_ENTRY_HAS_ACKED)
			                ? now_of(log, nowp) - e.acked_at : -1;
			decision = stg__filter_table(pol, has_p0, (s->flags & STG_CHANGE_NON_STOCK) != 0,
			                             p0, pub, since, &reason);
		}
		if (decision == STG_DECISION_EXPORT) {
			new_job = 1;
			memset(&j, 0, sizeof j);
			j.since = changed_at;
			j.due = now_of(log, nowp);
			/* Read before job_id takes the place of the acked_at gap. */
			j.last_attempt = stg__ent_last_attempt(&e, NULL, found ? stg__prob_of(log, ent) : NULL);
			j.ent = found ? idx : stg__ents_next(log);
			j.used = 1;
			jview = &j;
			e.job_id = stg__log_new_job_id(log);
			e.status = STG_ENTRY_PENDING;
			stg__ent_set_job_state(&e, STG_JOB_QUEUED);
			e.priority = (unsigned)job_priority(pol, has_p0, p0, pub, warn);
		}
	}
	if (decision != STG_DECISION_SKIP && (s->flags & STG_CHANGE_NON_STOCK))
		e.flags |= STG_ENTRY_NON_STOCK;
	/* Always the newest evaluation: what a job, or a reprocess, sends. */
	e.published = pub;
	e.available = s->available;
	e.sequence = s->sequence;
	e.changed_at = changed_at;
	e.reason = (unsigned)reason;
	if (warn)
		e.flags |= STG_ENTRY_MIN_STOCK_REACHED;
	else
		e.flags &= ~STG_ENTRY_MIN_STOCK_REACHED;

	if (!found && (rc = stg__ent_set_sku(log, &e, s->sku, slen)))
		return stg__fail(log->errmsg, rc, "stg_log_submit: out of memory");
	/* A new job record may move the records: jold is not used after this. */
	if ((new_job && stg__jobs_reserve(log, 1)) ||
	    ((new_job || resched) && stg__sched_reserve(log, integ, e.priority, 1))) {
		if (!found)
			stg__ent_free_sku(log, &e);
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_submit: out of memory");
	}
	if (log->has_storage &&
	    (rc = stg__log_write_view(log, &e, jview, found ? stg__prob_of(log, ent) : NULL))) {
		if (!found)
			stg__ent_free_sku(log, &e);
		return rc;
	}

	/* Commit: nothing below can fail. */
	if (!found) {
		idx = stg__ents_take(log);
		stg__index_insert(log, k.hash, idx);
	}
	if (new_job) {
		uint32_t kj = stg__jobs_take(log, idx);
		j.ent = idx;
		log->jobs.v[kj] = j;
		e.job = kj + 1;
	} else if (jview == &j) {
		*jold = j;
	}
	ent = stg__ent_at(log, idx);
	*ent = e;
	stg__log_clear_dirty(log, idx);
	if (new_job || resched)
		stg__sched_push(log, idx, now_of(log, nowp));

	c->changes++;
	if (decision == STG_DECISION_EXPORT)
		c->exports++;
	else if (decision == STG_DECISION_COALESCED)
		c->coalesced++;
	else
		c->skips[reason]++;
	if (warn)
		c->warnings++;
	res->decision = decision;
	res->reason = reason;
	res->published = pub;
	res->warnings = warn;
	res->priority = decision == STG_DECISION_SKIP ? STG_PRIORITY_NORMAL : e.priority;
	res->job_id = decision == STG_DECISION_SKIP ? 0 : (uint64_t)e.job_id << 32 | idx;
	if (fresh_warning) {
		stg_event ev;
		memset(&ev, 0, sizeof ev);
		ev.type = STG_EVENT_MIN_STOCK_REACHED;
		ev.integration = log->integs[integ].name;
		ev.sku = stg__ent_sku(ent);
		ev.available = s->available;
		ev.min_stock = min;
		ev.time = now_of(log, nowp);
		stg__log_event(log, &ev);
	}
	return STG_OK;
}

STG_EXTERN int stg_log_submit(stg_log *log, const stg_submit *s, stg_submit_result *out)
{
	stg_submit_result tmp;
	int64_t now = -1;

	STG__ENTER(log, "stg_log_submit");
	if (!s)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit: NULL change");
	stg__log_flush_owed(log);
	return submit_one(log, s, out ? out : &tmp, &now, NULL, UINT32_MAX);
}

/*
 * Batches hide memory latency. In a large log each change costs two cache
 * misses in a row (its index slot, then its entry), far more than the work
 * on it. A batch overlaps them: change i + PF_AHEAD is checked, hashed and
 * its slot fetched; at i + PF_AHEAD / 2 the entry that slot points to is
 * fetched, and at i + PF_AHEAD / 4 its job record; change i then finds
 * them in cache and, when the entry found holds its key, skips the probe.
 * The caller's SKU text is fetched before prepare() hashes it (a host's
 * strings are scattered too). A change whose integration does not exist
 * yet, or that fails a check, is not prepared and goes the ordinary way
 * (creating the integration, or failing, in order).
 */
#define PF_AHEAD 16
#define PF_MIN_SLOTS (UINT32_C(1) << 17) /* smaller logs stay in cache: no need */

typedef struct prep {
	stg__key k;
	uint32_t ent; /* the entry prefetch_entry() found, UINT32_MAX: none */
	int ok;
} prep;

/* The integration of the last prepared change: a batch is mostly for one
 * integration, passed as one pointer, whose id then needs no lookup. Ids
 * never change, and the text behind the pointer is the caller's, constant
 * for the call (as the SKU text prepare() hashes ahead). */
typedef struct prep_integ {
	const char *name; /* NULL: none yet */
	uint32_t integ;
} prep_integ;

static void prepare(const stg_log *log, const stg_submit *s, prep *p, prep_integ *last)
{
	size_t ilen, slen;
	uint32_t integ = 0;

	p->ent = UINT32_MAX;
	if (s->integration && s->integration == last->name) {
		p->ok = change_rest_ok(s, &slen);
		integ = last->integ;
	} else {
		p->ok = change_ok(s, &ilen, &slen) &&
		        stg__log_find_integ(log, s->integration, ilen, &integ);
		if (p->ok) {
			last->name = s->integration;
			last->integ = integ;
		}
	}
	if (!p->ok)
		return;
	stg__key_make(&p->k, integ, s->sku, slen);
	STG__PREFETCH(&log->slots[(uint32_t)p->k.hash & (log->slots_cap - 1)]);
}

static void prefetch_entry(const stg_log *log, prep *p)
{
	uint32_t mask = log->slots_cap - 1, imask = log->slot_idx_mask, i, sl;
	uint32_t tag = (uint32_t)(p->k.hash >> 32) & ~imask;

	if (!p->ok)
		return;
	/* The first slot with the key's tag is nearly always its entry. */
	for (i = (uint32_t)p->k.hash & mask; (sl = log->slots[i]) != 0; i = (i + 1) & mask) {
		if ((sl & ~imask) == tag && (sl & imask) - 1 < log->nents) {
			const char *e = (const char *)stg__ent_at(log, (sl & imask) - 1);
			p->ent = (sl & imask) - 1;
			STG__PREFETCH(e);
			STG__PREFETCH(e + 64);
			STG__PREFETCH(e + sizeof(stg__ent) - 1);
			return;
		}
	}
}

/* A change to a SKU with a waiting job may move that job to another queue,
 * which reads and writes its record: fetch it once the entry is in. */
static void prefetch_job(const stg_log *log, const prep *p)
{
	const stg__ent *e;

	if (p->ent == UINT32_MAX)
		return;
	e = stg__ent_at(log, p->ent);
	if (e->job)
		STG__PREFETCH(&log->jobs.v[e->job - 1]);
}

STG_EXTERN int stg_log_submit_batch(stg_log *log, const stg_submit *s, size_t n,
                                    stg_submit_result *results, size_t *done)
{
	stg_submit_result tmp;
	prep ring[PF_AHEAD];
	prep_integ last = { NULL, 0 };
	int64_t now = -1;
	size_t i;
	int rc = STG_OK, pf;

	if (done)
		*done = 0;
	STG__ENTER(log, "stg_log_submit_batch");
	if (n && !s)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_submit_batch: NULL changes");
	stg__log_flush_owed(log);
	pf = log->slots_cap >= PF_MIN_SLOTS && n > PF_AHEAD;
	for (i = 0; pf && i < PF_AHEAD; i++)
		prepare(log, &s[i], &ring[i], &last);
	for (i = 0; i < n; i++) {
		prep *p = &ring[i % PF_AHEAD];
		if (pf && i + PF_AHEAD / 2 < n)
			prefetch_entry(log, &ring[(i + PF_AHEAD / 2) % PF_AHEAD]);
		if (pf && i + PF_AHEAD / 4 < n)
			prefetch_job(log, &ring[(i + PF_AHEAD / 4) % PF_AHEAD]);
		/* A prepared key stays right whatever happened since: the hash
		 * depends on the key alone, the integration ids never change. */
		rc = submit_one(log, &s[i], results ? &results[i] : &tmp, &now, pf && p->ok ? &p->k : NULL,
		                pf && p->ok ? p->ent : UINT32_MAX);
		if (rc)
			break;
		if (pf && i + PF_AHEAD < n)
			prepare(log, &s[i + PF_AHEAD], p, &last);
		/* The caller's SKU text, read by prepare() PF_AHEAD / 2 changes later. */
		if (pf && i + PF_AHEAD + PF_AHEAD / 2 < n && s[i + PF_AHEAD + PF_AHEAD / 2].sku)
			STG__PREFETCH(s[i + PF_AHEAD + PF_AHEAD / 2].sku);
	}
	if (done)
		*done = i;
	return rc;
}

/* ---------------------------------------------------------------- remove */

static int remove_idx(stg_log *log, uint32_t idx, unsigned flags)
{
	const stg__ent *e = stg__ent_at(log, idx);
	int rc;

	if (e->job && !(flags & STG_REMOVE_FORCE))
		return stg__fail(log->errmsg, STG_EBUSY,
		                 "stg_log_remove: (%.100s, %.100s) has a pending job (use STG_REMOVE_FORCE)",
		                 log->integs[e->integ].name, stg__ent_sku(e));
	if ((rc = remove_stored(log, idx)))
		return rc;
	delete_entry(log, idx);
	return STG_OK;
}

STG_EXTERN int stg_log_remove(stg_log *log, const char *integration, const char *sku,
                              unsigned int flags)
{
	size_t ilen, slen;
	uint32_t integ, idx;
	int rc;

	STG__ENTER(log, "stg_log_remove");
	if (!stg__key_ok(integration, &ilen) || !stg__key_ok(sku, &slen))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_remove: integration and sku must be 1 to %d bytes", STG_KEY_MAX);
	if (flags & ~(unsigned)STG_REMOVE_FORCE)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_remove: unknown flags 0x%x", flags);
	if (!stg__log_find_integ(log, integration, ilen, &integ) ||
	    !stg__log_find(log, integ, sku, slen, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "stg_log_remove: no entry (%.100s, %.100s)",
		                 integration, sku);
	stg__log_flush_owed(log);
	rc = remove_idx(log, idx, flags);
	stg__log_trim(log);
	return rc;
}

STG_EXTERN int stg_log_remove_matching(stg_log *log, const stg_query *q, unsigned int flags,
                                       size_t *count)
{
	uint32_t i;
	size_t n = 0;
	int64_t now;
	int rc;

	if (count)
		*count = 0;
	STG__ENTER(log, "stg_log_remove_matching");
	if ((rc = stg__query_check(log, q, "stg_log_remove_matching")))
		return rc;
	if (flags & ~(unsigned)STG_REMOVE_FORCE)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_remove_matching: unknown flags 0x%x",
		                 flags);
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		if (!stg__ent_live(e) || !stg__query_match(log, q, e, now))
			continue;
		if (e->job && !(flags & STG_REMOVE_FORCE))
			continue;
		if ((rc = remove_idx(log, i, flags)))
			break;
		n++;
	}
	stg__log_trim(log);
	if (count)
		*count = n;
	return rc;
}

/* ------------------------------------------------------ retention, flush */

static int older_ack(const void *a, const void *b, void *ctx)
{
	const stg_log *log = ctx;
	int64_t x = stg__ent_at(log, *(const uint32_t *)a)->acked_at;
	int64_t y = stg__ent_at(log, *(const uint32_t *)b)->acked_at;
	return (x > y) - (x < y);
}

static void sift_idx(uint32_t *v, size_t n, size_t r, int (*cmp)(const void *, const void *, void *),
                     void *ctx)
{
	for (;;) {
		size_t l = 2 * r + 1, m = r;
		uint32_t t;
		if (l < n && cmp(&v[l], &v[m], ctx) > 0)
			m = l;
		if (l + 1 < n && cmp(&v[l + 1], &v[m], ctx) > 0)
			m = l + 1;
		if (m == r)
			return;
		t = v[r]; v[r] = v[m]; v[m] = t;
		r = m;
	}
}

/* In-place heapsort with a context (qsort_r is not portable C): the heap is
 * built once, then each maximum moves to the end, O(n log n). */
static void sort_idx(uint32_t *v, size_t n, int (*cmp)(const void *, const void *, void *), void *ctx)
{
	size_t i, end;

	for (i = n / 2; i-- > 0;)
		sift_idx(v, n, i, cmp, ctx);
	for (end = n; end > 1; end--) {
		uint32_t t = v[0]; v[0] = v[end - 1]; v[end - 1] = t;
		sift_idx(v, end - 1, 0, cmp, ctx);
	}
}

static int is_success(const stg_log *log, uint32_t i)
{
	const stg__ent *e = stg__ent_at(log, i);
	return stg__ent_live(e) && e->status == STG_ENTRY_SUCCESS;
}

STG_EXTERN int stg_log_expire(stg_log *log, size_t *removed)
{
	uint32_t i, *succ = NULL;
	size_t n = 0, nsucc = 0, k;
	int64_t now;
	int rc = STG_OK;

	if (removed)
		*removed = 0;
	STG__ENTER(log, "stg_log_expire");
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	if (log->success_max_age) {
		for (i = 0; i < log->nents && rc == STG_OK; i++) {
			const stg__ent *e = stg__ent_at(log, i);
			if (!stg__ent_live(e) || e->status != STG_ENTRY_SUCCESS ||
			    now - e->acked_at <= log->success_max_age)
				continue;
			if ((rc = remove_idx(log, i, 0)) == STG_OK)
				n++;
		}
	}
	if (rc == STG_OK && log->success_max_count) {
		for (i = 0; i < log->nents; i++)
			nsucc += is_success(log, i);
		if (nsucc > log->success_max_count) {
			succ = stg__calloc(&log->alloc, nsucc, sizeof *succ);
			if (!succ) {
				rc = stg__fail(log->errmsg, STG_ENOMEM, "stg_log_expire: out of memory");
			} else {
				for (i = 0, k = 0; i < log->nents; i++)
					if (is_success(log, i))
						succ[k++] = i;
				sort_idx(succ, nsucc, older_ack, log);
				for (k = 0; k < nsucc - log->success_max_count; k++) {
					if ((rc = remove_idx(log, succ[k], 0)))
						break;
					n++;
				}
				stg__free(&log->alloc, succ);
			}
		}
	}
	stg__log_trim(log);
	if (removed)
		*removed = n;
	return rc;
}

STG_EXTERN int stg_log_flush(stg_log *log, size_t *pending)
{
	uint32_t i;
	size_t owed = 0;
	int rc;

	STG__ENTER(log, "stg_log_flush");
	rc = stg__log_flush_owed(log);
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		owed += stg__ent_live(e) && (e->bits & (STG__B_DIRTY | STG__B_DIRTY_UNLISTED));
	}
	if (pending)
		*pending = owed;
	if (rc)
		return stg__fail(log->errmsg, rc, "stg_log_flush: %zu entries still owed to storage", owed);
	return STG_OK;
}
