/*
 * The reprocess queue: per-integration heaps of due jobs, the pump that
 * hands them to the transport, results and their error classes, backoff,
 * pause/resume, catalogued, and reprocess.
 */
#include "log_internal.h"

/* ----------------------------------------------------------------- heaps */

static int before_ready(const stg__heap_item *a, const stg__heap_item *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	if (a->due != b->due)
		return a->due < b->due;
	return a->order < b->order;
}

static int before_waiting(const stg__heap_item *a, const stg__heap_item *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return a->order < b->order;
}

typedef int (*before_fn)(const stg__heap_item *, const stg__heap_item *);

static void sift_up(stg__heap *h, size_t i, before_fn before)
{
	stg__heap_item it = h->items[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&it, &h->items[parent]))
			break;
		h->items[i] = h->items[parent];
		i = parent;
	}
	h->items[i] = it;
}

static void sift_down(stg__heap *h, size_t i, before_fn before)
{
	stg__heap_item it = h->items[i];

	for (;;) {
		size_t l = 2 * i + 1, best;
		if (l >= h->len)
			break;
		best = (l + 1 < h->len && before(&h->items[l + 1], &h->items[l])) ? l + 1 : l;
		if (!before(&h->items[best], &it))
			break;
		h->items[i] = h->items[best];
		i = best;
	}
	h->items[i] = it;
}

static void heap_push(stg__heap *h, const stg__heap_item *it, before_fn before)
{
	h->items[h->len++] = *it;
	sift_up(h, h->len - 1, before);
}

static void heap_pop(stg__heap *h, before_fn before)
{
	h->items[0] = h->items[--h->len];
	if (h->len)
		sift_down(h, 0, before);
}

static int item_valid(const stg_log *log, const stg__heap_item *it)
{
	const stg__ent *e = &log->ents[it->idx];
	return e->live && e->gen == it->gen &&
	       (e->job_state == STG_JOB_QUEUED || e->job_state == STG_JOB_HELD);
}

/* Drop stale items and rebuild: the heaps use lazy deletion. */
static void heap_compact(stg_log *log, stg__heap *h, before_fn before)
{
	size_t i, kept = 0;

	for (i = 0; i < h->len; i++)
		if (item_valid(log, &h->items[i]))
			h->items[kept++] = h->items[i];
	h->len = kept;
	for (i = h->len / 2; i-- > 0;)
		sift_down(h, i, before);
}

static int heap_reserve(stg_log *log, stg__heap *h, size_t extra, before_fn before)
{
	size_t ncap;
	stg__heap_item *n;

	if (h->len + extra <= h->cap)
		return STG_OK;
	heap_compact(log, h, before);
	if (h->len + extra <= h->cap && h->len < h->cap / 2)
		return STG_OK;
	ncap = h->cap ? h->cap * 2 : 16;
	while (ncap < h->len + extra)
		ncap *= 2;
	n = stg__realloc(&log->alloc, h->items, ncap * sizeof *n);
	if (!n)
		return h->len + extra <= h->cap ? STG_OK : STG_ENOMEM;
	h->items = n;
	h->cap = ncap;
	return STG_OK;
}

int stg__log_schedule_reserve(stg_log *log, uint32_t integ)
{
	return heap_reserve(log, &log->integs[integ].waiting, 1, before_waiting);
}

void stg__log_schedule(stg_log *log, uint32_t idx)
{
	stg__ent *e = &log->ents[idx];
	stg__heap_item it;

	e->gen++; /* any earlier item of this entry is stale now */
	it.due = e->next_attempt_at;
	it.order = ++log->order_counter;
	it.idx = idx;
	it.gen = e->gen;
	it.priority = e->priority;
	heap_push(&log->integs[e->integ].waiting, &it, before_waiting);
}

/* Move due jobs from waiting to ready. */
static int promote(stg_log *log, stg__integ *in, int64_t now)
{
	stg__heap *w = &in->waiting;
	int rc;

	if (!w->len || w->items[0].due > now)
		return STG_OK;
	if ((rc = heap_reserve(log, &in->ready, w->len, before_ready)))
		return rc;
	while (w->len && w->items[0].due <= now) {
		stg__heap_item it = w->items[0];
		heap_pop(w, before_waiting);
		if (!item_valid(log, &it))
			continue;
		it.priority = log->ents[it.idx].priority;
		heap_push(&in->ready, &it, before_ready);
	}
	return STG_OK;
}

/* The best valid ready item of an integration, dropping stale ones. */
static const stg__heap_item *ready_top(stg_log *log, stg__integ *in)
{
	while (in->ready.len) {
		if (item_valid(log, &in->ready.items[0]))
			return &in->ready.items[0];
		heap_pop(&in->ready, before_ready);
	}
	return NULL;
}

/* --------------------------------------------------------------- backoff */

/* a + b for times and delays >= 0, held at INT64_MAX instead of wrapping. */
static int64_t later(int64_t a, int64_t b)
{
	return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static uint64_t next_random(stg_log *log)
{
	/* splitmix64: cheap, seedable, good enough for jitter */
	uint64_t z = (log->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Exponential backoff with "equal jitter": a delay in [d/2, d]. */
static int64_t backoff(stg_log *log, uint32_t attempts, int64_t retry_after)
{
	int64_t d = log->backoff_base;
	uint32_t i;

	for (i = 1; i < attempts && d < log->backoff_max; i++)
		d = d > log->backoff_max / 2 ? log->backoff_max : d * 2;
	if (d > log->backoff_max)
		d = log->backoff_max;
	d = d / 2 + (int64_t)(next_random(log) % (uint64_t)(d / 2 + 1));
	return d > retry_after ? d : retry_after;
}

/* ------------------------------------------------------------ rate limit */

static void refill(stg__integ *in, int64_t now)
{
	int64_t full, add;

	if (!in->max_jobs)
		return;
	full = (int64_t)in->max_jobs * in->per_ms;
	if (in->refilled_at == 0 || now < in->refilled_at) {
		in->refilled_at = now;
		return;
	}
	add = now - in->refilled_at;
	if (add > in->per_ms)
		add = in->per_ms; /* a full period refills everything */
	in->tokens += add * in->max_jobs;
	if (in->tokens > full)
		in->tokens = full;
	in->refilled_at = now;
}

static size_t budget(const stg__integ *in)
{
	if (!in->max_jobs)
		return SIZE_MAX;
	return (size_t)(in->tokens / in->per_ms);
}

/* --------------------------------------------------------------- results */

static void set_message(stg_log *log, stg__ent *e, const char *msg)
{
	size_t n = 0;
	char *copy = NULL;

	if (msg) {
		while (n < STG_MESSAGE_MAX && msg[n])
			n++;
		/* Out of memory only loses the text; the class and status still tell. */
		if (n)
			copy = stg__strdup(&log->alloc, msg, n);
	}
	stg__free(&log->alloc, e->message);
	e->message = copy;
}

static void pause_integ(stg_log *log, uint32_t integ, int http, const char *msg, int64_t now)
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

/*
 * Record one result on an in-flight entry. Memory is updated whatever
 * storage does: an acknowledgement must never be forgotten.
 */
static int apply_result(stg_log *log, uint32_t idx, const stg_result *r, int64_t now)
{
	stg__ent *e = &log->ents[idx];
	stg__integ *in = &log->integs[e->integ];
	stg__counters *c = &in->counters;
	int rc = STG_OK, cls, outcome = r->outcome;
	const char *msg = r->message;

	if (r->version != STG_RESULT_VERSION || (outcome != STG_OUTCOME_OK &&
	    outcome != STG_OUTCOME_ERROR && outcome != STG_OUTCOME_ASYNC) ||
	    r->error_class < 0 || r->error_class >= STG_ERRCLASS_COUNT) {
		/* A broken result is a failed attempt, never a silent success. */
		rc = stg__fail(log->errmsg, STG_EINVAL,
		               "transport result for (%.100s, %.100s) is invalid (version %u, outcome %d, class %d)",
		               in->name, e->sku, r->version, outcome, r->error_class);
		outcome = STG_OUTCOME_ERROR;
		cls = STG_ERRCLASS_TRANSIENT;
		msg = "invalid transport result";
	} else {
		cls = r->error_class != STG_ERRCLASS_NONE ? r->error_class : stg_classify_http(r->http_status);
	}
	if (outcome == STG_OUTCOME_ASYNC)
		return STG_OK;
	if (outcome == STG_OUTCOME_OK) {
		int64_t latency = now - e->job_since;
		if (latency < 0)
			latency = 0;
		c->successes++;
		e->acked = e->sent;
		e->acked_at = now;
		e->flags |= STG_ENTRY_HAS_ACKED;
		e->latency_ms = latency;
		stg__counters_latency(log, c, latency);
		if (latency > log->latency_limit) {
			stg_event ev;
			e->flags |= STG_ENTRY_ABNORMAL;
			c->abnormal++;
			memset(&ev, 0, sizeof ev);
			ev.type = STG_EVENT_ABNORMAL_LATENCY;
			ev.integration = in->name;
			ev.sku = e->sku;
			ev.latency_ms = latency;
			ev.time = now;
			stg__log_event(log, &ev);
		} else {
			e->flags &= ~STG_ENTRY_ABNORMAL;
		}
		e->error_class = STG_ERRCLASS_NONE;
		e->http_status = 0;
		e->attempts = e->job_attempts = e->job_transient = 0;
		e->first_failed_at = 0;
		set_message(log, e, NULL);
		if (e->published != e->sent) {
			/* A newer change came while this one was out: it follows at once,
			 * as a job of its own. */
			e->job_state = STG_JOB_QUEUED;
			e->status = STG_ENTRY_PENDING;
			e->next_attempt_at = now;
			e->job_since = e->follow_since ? e->follow_since : e->changed_at;
			e->job_id = (++log->job_counter << 32) | idx;
			e->job_attempts = e->job_transient = 0;
		} else {
			e->job_state = STG_JOB_NONE;
			e->status = STG_ENTRY_SUCCESS;
			e->flags &= ~STG_ENTRY_NON_STOCK;
		}
	} else {
		c->errors[cls]++;
		e->attempts++;
		if (e->job_attempts < UINT32_MAX)
			e->job_attempts++;
		if (!e->first_failed_at)
			e->first_failed_at = now;
		e->error_class = (uint8_t)cls;
		e->http_status = (uint16_t)(r->http_status >= 0 && r->http_status <= 999 ? r->http_status : 0);
		set_message(log, e, msg);
		e->status = STG_ENTRY_PENDING;
		e->job_state = STG_JOB_QUEUED;
		switch (cls) {
		case STG_ERRCLASS_AUTH:
			e->next_attempt_at = now;
			pause_integ(log, e->integ, r->http_status, e->message, now);
			break;
		case STG_ERRCLASS_NOT_CATALOGUED:
			e->job_state = STG_JOB_HELD;
			e->next_attempt_at = later(now, log->catalogue_retry);
			break;
		case STG_ERRCLASS_RATE_LIMITED:
			e->next_attempt_at = later(now, backoff(log, e->attempts,
			                                   r->retry_after_ms > 0 ? r->retry_after_ms : 0));
			break;
		case STG_ERRCLASS_TRANSIENT:
			/* The budget is the job's: a reprocess or a new change starts afresh. */
			if (++e->job_transient >= log->max_transient) {
				e->job_state = STG_JOB_NONE;
				e->status = STG_ENTRY_ERROR;
			} else {
				e->next_attempt_at = later(now, backoff(log, e->attempts,
				                                   r->retry_after_ms > 0 ? r->retry_after_ms : 0));
			}
			break;
		default: /* rejected */
			e->job_state = STG_JOB_NONE;
			e->status = STG_ENTRY_ERROR;
			break;
		}
		if (e->job_state == STG_JOB_NONE && e->published != e->sent) {
			/* The job failed for good, but a newer change came while it was
			 * out: that change is a job of its own and still goes out. */
			e->job_state = STG_JOB_QUEUED;
			e->status = STG_ENTRY_PENDING;
			e->next_attempt_at = now;
			e->job_since = e->follow_since ? e->follow_since : e->changed_at;
			e->job_id = (++log->job_counter << 32) | idx;
			e->job_attempts = e->job_transient = 0;
		}
	}
	e->follow_since = 0;
	if (e->job_state != STG_JOB_NONE)
		stg__log_schedule(log, idx); /* room was reserved when it went out */
	if (stg__log_write(log, idx) != STG_OK) {
		stg__log_mark_dirty(log, idx);
		return STG_ESTORAGE;
	}
	return rc;
}

static void fill_job(const stg_log *log, const stg__ent *e, stg_job *j)
{
	memset(j, 0, sizeof *j);
	j->id = e->job_id;
	j->integration = log->integs[e->integ].name;
	j->sku = e->sku;
	j->published = e->published;
	j->available = e->available;
	j->changed_at = e->changed_at;
	j->attempt = e->job_attempts + 1;
	j->priority = e->priority;
	j->flags = ((e->flags & STG_ENTRY_MIN_STOCK_REACHED) ? STG_JOB_MIN_STOCK_REACHED : 0) |
	           ((e->flags & STG_ENTRY_NON_STOCK) ? STG_JOB_NON_STOCK : 0);
}

/* ------------------------------------------------------------------ pump */

#define PUMP_CHUNK 64

STG_EXTERN int stg_log_pump(stg_log *log, size_t max_jobs, size_t *sent)
{
	stg_job jobs[PUMP_CHUNK];
	stg_result results[PUMP_CHUNK];
	uint32_t idxs[PUMP_CHUNK];
	int64_t last_attempt[PUMP_CHUNK];
	size_t total = 0;
	int64_t now;
	int rc = STG_OK;
	uint32_t i;

	if (sent)
		*sent = 0;
	STG__ENTER(log, "stg_log_pump");
	if (!log->has_transport)
		return stg__fail(log->errmsg, STG_ESTATE, "stg_log_pump: no transport set");
	if (stg__log_flush_owed(log))
		rc = STG_ESTORAGE;
	now = stg__log_now(log);
	for (i = 0; i < log->ninteg; i++) {
		stg__integ *in = &log->integs[i];
		int prc;
		if (in->paused)
			continue;
		refill(in, now);
		if ((prc = promote(log, in, now)))
			return stg__fail(log->errmsg, prc, "stg_log_pump: out of memory");
	}
	while (!max_jobs || total < max_jobs) {
		const stg__heap_item *best = NULL;
		uint32_t bi = 0;
		stg__integ *in;
		size_t n = 0, k, cap;
		int trc;

		/* The most urgent head among integrations that may send now. */
		for (i = 0; i < log->ninteg; i++) {
			const stg__heap_item *top;
			if (log->integs[i].paused || budget(&log->integs[i]) == 0)
				continue;
			top = ready_top(log, &log->integs[i]);
			if (top && (!best || before_ready(top, best))) {
				best = top;
				bi = i;
			}
		}
		if (!best)
			break;
		in = &log->integs[bi];
		cap = log->transport.send_batch ? in->batch_size : 1;
		if (cap > PUMP_CHUNK)
			cap = PUMP_CHUNK;
		if (cap > budget(in))
			cap = budget(in);
		if (max_jobs && cap > max_jobs - total)
			cap = max_jobs - total;
		/* Room to reschedule every job of the batch, reserved before any goes out. */
		if (heap_reserve(log, &in->waiting, cap, before_waiting)) {
			if (sent)
				*sent = total;
			return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_pump: out of memory");
		}
		while (n < cap) {
			const stg__heap_item *top = ready_top(log, in);
			stg__ent *e;
			if (!top)
				break;
			idxs[n] = top->idx;
			heap_pop(&in->ready, before_ready);
			e = &log->ents[idxs[n]];
			e->gen++;
			e->job_state = STG_JOB_IN_FLIGHT;
			e->sent = e->published;
			last_attempt[n] = e->last_attempt_at;
			e->last_attempt_at = now;
			fill_job(log, e, &jobs[n]);
			stg_result_init(&results[n], STG_RESULT_VERSION);
			n++;
		}
		log->in_hook++;
		if (n == 1 || !log->transport.send_batch)
			for (k = 0, trc = 0; k < n && !trc; k++)
				trc = log->transport.send(&jobs[k], &results[k], log->transport.payload);
		else
			trc = log->transport.send_batch(jobs, n, results, log->transport.payload);
		log->in_hook--;
		if (trc) {
			/* The transport failed as a whole: the jobs go back untouched. */
			for (k = 0; k < n; k++) {
				stg__ent *e = &log->ents[idxs[k]];
				if (e->live && e->job_state == STG_JOB_IN_FLIGHT) {
					e->job_state = STG_JOB_QUEUED;
					e->last_attempt_at = last_attempt[k];
					stg__log_schedule(log, idxs[k]);
				}
			}
			if (sent)
				*sent = total;
			return stg__fail(log->errmsg, STG_ETRANSPORT,
			                 "stg_log_pump: transport for %.100s failed: hook returned %d",
			                 in->name, trc);
		}
		for (k = 0; k < n; k++) {
			int arc;
			in->counters.attempts++;
			arc = apply_result(log, idxs[k], &results[k], now);
			if (arc && rc == STG_OK)
				rc = arc;
		}
		if (in->max_jobs)
			in->tokens -= (int64_t)n * in->per_ms;
		total += n;
		if (rc == STG_ESTORAGE)
			break; /* storage is failing: send no more until it recovers */
	}
	if (sent)
		*sent = total;
	if (rc == STG_ESTORAGE && log->errmsg[0] == '\0')
		stg__fail(log->errmsg, rc, "stg_log_pump: a storage write failed; it is retried");
	return rc;
}

static int find_in_flight(stg_log *log, uint64_t job_id, uint32_t *idx)
{
	uint32_t i = (uint32_t)job_id;

	if (i >= log->nents)
		return 0;
	if (!log->ents[i].live || log->ents[i].job_id != job_id ||
	    log->ents[i].job_state != STG_JOB_IN_FLIGHT)
		return 0;
	*idx = i;
	return 1;
}

STG_EXTERN int stg_log_complete(stg_log *log, uint64_t job_id, const stg_result *r)
{
	uint32_t idx;
	int64_t now;
	int rc;

	STG__ENTER(log, "stg_log_complete");
	if (!r)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_complete: NULL result");
	if (r->version != STG_RESULT_VERSION)
		return stg__fail(log->errmsg, STG_EVERSION, "stg_log_complete: result version %u unknown",
		                 r->version);
	if (r->outcome != STG_OUTCOME_OK && r->outcome != STG_OUTCOME_ERROR)
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_complete: outcome must be OK or ERROR, got %d", r->outcome);
	if (r->error_class < 0 || r->error_class >= STG_ERRCLASS_COUNT)
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_complete: error class %d unknown", r->error_class);
	if (!find_in_flight(log, job_id, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND,
		                 "stg_log_complete: no job %llu in flight", (unsigned long long)job_id);
	stg__log_flush_owed(log);
	if ((rc = stg__log_schedule_reserve(log, log->ents[idx].integ)))
		return stg__fail(log->errmsg, rc, "stg_log_complete: out of memory");
	now = stg__log_now(log);
	rc = apply_result(log, idx, r, now);
	if (rc == STG_ESTORAGE)
		return stg__fail(log->errmsg, rc, "stg_log_complete: result kept, its storage write failed; it is retried");
	return rc;
}

STG_EXTERN int stg_log_next_due(stg_log *log, int64_t *wait_ms)
{
	int64_t now, best = -1;
	uint32_t i;

	STG__ENTER(log, "stg_log_next_due");
	if (!wait_ms)
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_next_due: NULL wait_ms");
	now = stg__log_now(log);
	for (i = 0; i < log->ninteg; i++) {
		stg__integ *in = &log->integs[i];
		if (in->paused)
			continue;
		refill(in, now);
		if (ready_top(log, in) || (in->waiting.len && in->waiting.items[0].due <= now &&
		                           item_valid(log, &in->waiting.items[0]))) {
			int64_t w = 0;
			if (budget(in) == 0) {
				/* Due, but the rate limit holds it: wait for the next token. */
				int64_t need = in->per_ms - in->tokens;
				w = (need + in->max_jobs - 1) / in->max_jobs;
			}
			if (best < 0 || w < best)
				best = w;
			if (best == 0)
				break;
			continue;
		}
		/* The waiting heap may start with stale items; the first valid one counts. */
		while (in->waiting.len && !item_valid(log, &in->waiting.items[0]))
			heap_pop(&in->waiting, before_waiting);
		if (in->waiting.len) {
			int64_t w = in->waiting.items[0].due - now;
			if (w < 0)
				w = 0;
			if (best < 0 || w < best)
				best = w;
		}
	}
	*wait_ms = best;
	return STG_OK;
}

/* ------------------------------------------------------- pause and resume */

static int integ_arg(stg_log *log, const char *fn, const char *name, uint32_t *integ, int create)
{
	size_t len;

	if (!stg__key_ok(name, &len))
		return stg__fail(log->errmsg, STG_EINVAL, "%s: integration must be 1 to %d bytes", fn,
		                 STG_KEY_MAX);
	if (stg__log_find_integ(log, name, len, integ))
		return STG_OK;
	if (!create)
		return stg__fail(log->errmsg, STG_ENOTFOUND, "%s: no integration '%.100s'", fn, name);
	if (stg__log_get_integ(log, name, integ))
		return stg__fail(log->errmsg, STG_ENOMEM, "%s: out of memory", fn);
	return STG_OK;
}

STG_EXTERN int stg_log_pause(stg_log *log, const char *integration)
{
	uint32_t integ;
	int rc;

	STG__ENTER(log, "stg_log_pause");
	if ((rc = integ_arg(log, "stg_log_pause", integration, &integ, 1)))
		return rc;
	pause_integ(log, integ, 0, NULL, stg__log_now(log));
	return STG_OK;
}

STG_EXTERN int stg_log_resume(stg_log *log, const char *integration)
{
	uint32_t integ, i;
	int64_t now;
	int rc;
	stg_event ev;

	STG__ENTER(log, "stg_log_resume");
	if ((rc = integ_arg(log, "stg_log_resume", integration, &integ, 0)))
		return rc;
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	/* Clear the auth failures first: a stored auth failure pauses again at open. */
	for (i = 0; i < log->nents; i++) {
		stg__ent *e = &log->ents[i], saved;
		if (!e->live || e->integ != integ || e->job_state != STG_JOB_QUEUED ||
		    e->error_class != STG_ERRCLASS_AUTH)
			continue;
		if ((rc = stg__log_schedule_reserve(log, integ)))
			return stg__fail(log->errmsg, rc, "stg_log_resume: out of memory");
		saved = *e;
		e->error_class = STG_ERRCLASS_NONE;
		e->next_attempt_at = now;
		if ((rc = stg__log_write(log, i))) {
			*e = saved;
			return rc;
		}
		stg__log_schedule(log, i);
	}
	if (!log->integs[integ].paused)
		return STG_OK;
	log->integs[integ].paused = 0;
	memset(&ev, 0, sizeof ev);
	ev.type = STG_EVENT_INTEGRATION_RESUMED;
	ev.integration = log->integs[integ].name;
	ev.time = now;
	stg__log_event(log, &ev);
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

static int entry_arg(stg_log *log, const char *fn, const char *integration, const char *sku,
                     uint32_t *idx)
{
	size_t ilen, slen;
	uint32_t integ;

	if (!stg__key_ok(integration, &ilen) || !stg__key_ok(sku, &slen))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "%s: integration and sku must be 1 to %d bytes", fn, STG_KEY_MAX);
	if (!stg__log_find_integ(log, integration, ilen, &integ) ||
	    !stg__log_find(log, integ, sku, slen, idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "%s: no entry (%.100s, %.100s)", fn,
		                 integration, sku);
	return STG_OK;
}

/* Change an entry's job, write it, schedule it; on a failed write, undo. */
static int requeue(stg_log *log, uint32_t idx, int64_t now, int fresh)
{
	stg__ent *e = &log->ents[idx], saved = *e;
	int rc;

	if ((rc = stg__log_schedule_reserve(log, e->integ)))
		return stg__fail(log->errmsg, rc, "out of memory");
	if (fresh) {
		/* The newest change's evaluation, made with its category, goes again. */
		const stg_policy *pol = stg__log_policy(log, e->integ);
		e->priority = (uint8_t)(e->published == 0 || (e->flags & STG_ENTRY_MIN_STOCK_REACHED) ||
		                        ((e->flags & STG_ENTRY_HAS_ACKED) && e->acked == 0)
		                        ? STG_PRIORITY_URGENT
		                        : e->published <= pol->window ? STG_PRIORITY_LOW_STOCK
		                        : STG_PRIORITY_NORMAL);
		/* Latency is measured from the stock change, however late the reprocess. */
		e->job_since = e->changed_at;
		e->job_id = (++log->job_counter << 32) | idx;
		e->status = STG_ENTRY_PENDING;
		e->job_attempts = e->job_transient = 0;
	}
	e->job_state = STG_JOB_QUEUED;
	e->next_attempt_at = now;
	if ((rc = stg__log_write(log, idx))) {
		*e = saved;
		return rc;
	}
	stg__log_schedule(log, idx);
	return STG_OK;
}

STG_EXTERN int stg_log_set_catalogued(stg_log *log, const char *integration, const char *sku)
{
	uint32_t idx;
	int rc;

	STG__ENTER(log, "stg_log_set_catalogued");
	if ((rc = entry_arg(log, "stg_log_set_catalogued", integration, sku, &idx)))
		return rc;
	if (log->ents[idx].job_state != STG_JOB_HELD)
		return stg__fail(log->errmsg, STG_ESTATE,
		                 "stg_log_set_catalogued: (%.100s, %.100s) has no held job", integration, sku);
	stg__log_flush_owed(log);
	return requeue(log, idx, stg__log_now(log), 0);
}

static int reprocess_idx(stg_log *log, uint32_t idx, int64_t now)
{
	int js = log->ents[idx].job_state;

	if (js == STG_JOB_IN_FLIGHT)
		return stg__fail(log->errmsg, STG_EBUSY, "stg_log_reprocess: (%.100s, %.100s) is in flight",
		                 log->integs[log->ents[idx].integ].name, log->ents[idx].sku);
	return requeue(log, idx, now, js == STG_JOB_NONE);
}

STG_EXTERN int stg_log_reprocess(stg_log *log, const char *integration, const char *sku)
{
	uint32_t idx;
	int rc;

	STG__ENTER(log, "stg_log_reprocess");
	if ((rc = entry_arg(log, "stg_log_reprocess", integration, sku, &idx)))
		return rc;
	stg__log_flush_owed(log);
	return reprocess_idx(log, idx, stg__log_now(log));
}

STG_EXTERN int stg_log_reprocess_matching(stg_log *log, const stg_query *q, size_t *count)
{
	uint32_t i;
	size_t n = 0;
	int64_t now;
	int rc = STG_OK;

	if (count)
		*count = 0;
	STG__ENTER(log, "stg_log_reprocess_matching");
	if ((rc = stg__query_check(log, q, "stg_log_reprocess_matching")))
		return rc;
	stg__log_flush_owed(log);
	now = stg__log_now(log);
	for (i = 0; i < log->nents; i++) {
		stg__ent *e = &log->ents[i];
		if (!e->live || e->job_state == STG_JOB_IN_FLIGHT || !stg__query_match(log, q, e, now))
			continue;
		if ((rc = reprocess_idx(log, i, now)))
			break;
		n++;
	}
	if (count)
		*count = n;
	return rc;
}
