/*
 * Opening a log (options, hooks, the load from storage, indexing what was
 * loaded), closing it, and the hooks that can be changed later.
 */
#include "cooldown.h"
#include "explained.h"
#include "counters.h"
#include "durable.h"
#include "entries.h"
#include "host.h"
#include "index.h"
#include "integ.h"
#include "jobs.h"
#include "lifecycle.h"
#include "market.h"
#include "problems.h"
#include "txn.h"
#include "versions.h"

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

/* A stored entry the log can take: keys valid, fields in range, status and
 * job state consistent (STG_ECORRUPT otherwise). */
static int check_stored(stg_log *log, const stg_entry *in, size_t *ilen, size_t *slen,
                        uint8_t *explain)
{
	int rc;

	if (!in)
		return stg__fail(log->errmsg, STG_ECORRUPT, "stg_log_open: the load gave a NULL entry");
	if ((rc = stg__version_check(log->errmsg, "stg_log_open (load)", &stg__v_entry, in)))
		return rc;
	if (!stg__key_ok(in->integration, ilen) || !stg__key_ok(in->sku, slen))
		return stg__fail(log->errmsg, STG_ECORRUPT,
		                 "stg_log_open: stored entry without a valid integration or sku");
	if (in->status < STG_ENTRY_PENDING || in->status > STG_ENTRY_ERROR ||
	    in->job_state < STG_JOB_NONE || in->job_state > STG_JOB_HELD ||
	    in->error_class < 0 || in->error_class >= STG_ERRCLASS_COUNT ||
	    in->priority < STG_PRIORITY_URGENT || in->priority > STG_PRIORITY_NORMAL ||
	    in->reason < 0 || in->reason >= STG_REASON_COUNT ||
	    in->http_status < 0 || in->http_status > 999 || !stg__explain_of_entry(in, explain) ||
	    (in->status == STG_ENTRY_PENDING) != (in->job_state != STG_JOB_NONE))
		return stg__fail(log->errmsg, STG_ECORRUPT,
		                 "stg_log_open: stored entry (%.100s, %.100s) has fields out of range",
		                 in->integration, in->sku);
	return STG_OK;
}

static int load_entry(stg_log *log, const stg_entry *in)
{
	size_t ilen, slen;
	uint32_t integ, idx, msg = 0;
	unsigned flags;
	int32_t gap = 0;
	int has_job, need_prob, rc;
	uint8_t explain = 0;
	stg__ent e;

	if ((rc = check_stored(log, in, &ilen, &slen, &explain)))
		return rc;
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
	if ((rc = stg__ents_reserve_unindexed(log)) || (need_prob && (rc = stg__probs_reserve(&log->probs, &log->alloc, 1))) ||
	    (has_job && (rc = stg__jobs_reserve(&log->jobs, &log->alloc, 1))))
		return stg__fail(log->errmsg, rc, "stg_log_open: out of memory");
	if (in->message && in->message[0] && !(msg = stg__msg_intern(&log->msgs, &log->alloc, in->message)))
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_open: out of memory");
	memset(&e, 0, sizeof e);
	if (stg__ent_set_sku(log, &e, in->sku, slen)) {
		stg__msg_release(&log->msgs, &log->alloc, msg);
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
	e.explain = explain;
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
		uint32_t kj = stg__jobs_take(&log->jobs, idx);
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
	stg__txn_abandon(log);
	stg__market_free(log);
	stg__ents_free(log);
	stg__jobs_free(&log->jobs, &log->alloc);
	stg__probs_free(&log->probs, &log->alloc);
	stg__msgs_free(&log->msgs, &log->alloc);
	for (i = 0; i < log->ninteg; i++) {
		stg__integ *in = &log->integs[i];
		stg__free(&a, in->name);
		stg_policy_free(in->policy);
		stg__sched_free(log, in);
		stg__counters_free(&log->alloc, &in->counters);
	}
	stg_policy_free(log->default_policy);
	stg__scopes_free(log);
	stg__strmap_free(&log->integ_names, &a);
	stg__free(&a, log->integs);
	stg__free(&a, log->slots);
	stg__free(&a, log->dirty);
	stg__free(&a, log);
}

/* The hooks, copied by the size of their version, with the functions each needs. */
static int take_hooks(stg_log *log, const stg_log_options *opt)
{
	int rc;

	if ((rc = copy_hook(&stg__v_storage, opt->storage, &log->storage)) ||
	    (rc = copy_hook(&stg__v_transport, opt->transport, &log->transport)) ||
	    (rc = copy_hook(&stg__v_clock, opt->clock, &log->clock)) ||
	    (rc = copy_hook(&stg__v_events, opt->events, &log->events)))
		return rc;
	if (opt->storage && (!log->storage.write || !log->storage.remove))
		return stg__fail(NULL, STG_EINVAL, "stg_log_open: storage needs write and remove");
	if (opt->storage && !log->storage.write_integration != !log->storage.load_integrations)
		return stg__fail(NULL, STG_EINVAL,
		                 "stg_log_open: storage needs both write_integration and load_integrations, or neither");
	if (opt->transport && !log->transport.send)
		return stg__fail(NULL, STG_EINVAL, "stg_log_open: transport needs send");
	if (opt->storage && ((log->storage.begin != NULL) != (log->storage.commit != NULL) ||
	                     (log->storage.begin != NULL) != (log->storage.rollback != NULL)))
		return stg__fail(NULL, STG_EINVAL,
		                 "stg_log_open: storage needs all of begin, commit and rollback, or none");
	log->has_storage = opt->storage != NULL;
	log->txn_capable = log->has_storage && log->storage.begin != NULL;
	log->has_transport = opt->transport != NULL;
	return STG_OK;
}

/* The options' settings, 0 meaning the default. */
static void take_settings(stg_log *log, const stg_log_options *opt)
{
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
}

/* Load what storage holds, index it, settle the jobs. The message goes to
 * the thread's last error too: the caller gets no log to read it from. */
static int load_stored(stg_log *log)
{
	int rc;

	if (log->has_storage) {
		rc = stg__host_load(log, load_sink, log);
		if (log->load_rc) {
			/* The sink refused an entry: that verdict, whatever the hook returned. */
			return stg__fail(NULL, log->load_rc, "%s", log->errmsg);
		}
		if (rc)
			return stg__fail(NULL, STG_ESTORAGE, "stg_log_open: storage load failed: hook returned %d", rc);
	}
	if ((log->live && (rc = index_loaded(log))) || (rc = settle_loaded(log)) ||
	    (log->has_storage && (rc = stg__integ_load_states(log))))
		return stg__fail(NULL, rc, "%s", log->errmsg);
	return STG_OK;
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
	if ((rc = take_hooks(log, opt)))
		goto fail;
	take_settings(log, opt);
	if ((rc = stg_policy_new(&log->default_policy, opt->allocator ? &host_alloc : NULL)) ||
	    (rc = load_stored(log)))
		goto fail;
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
