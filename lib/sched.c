/*
 * The due-job queues: per integration, one queue per priority, each in
 * (due, order) order; the pump takes, among the queues whose head is due,
 * the one of the most urgent priority. So the ready order "priority, then
 * due time, then age" needs no separate ready structure and no step that
 * moves due jobs from one heap to another.
 *
 * A queue is a FIFO run plus a binary heap (see sched.h): jobs due
 * when scheduled (nearly all of them) go through the run in O(1), the rest
 * through the heap.
 *
 * Items are deleted lazily (an item is live while its entry's job is queued
 * or held and carries the item's order); stale ones are dropped when they
 * reach a head, or in bulk when a full queue is at least half stale (each
 * queue counts its live items, so it knows without a scan; a job knows
 * where its live item is).
 *
 * Orders are 32 bits, taken from one counter. Before it wraps, the live
 * items are renumbered in place, keeping their relative order, so orders
 * stay unique among live items and comparable without wrap-around
 * arithmetic; the cost, O(n log n + n * queues) once per 2^32 schedules,
 * is nothing amortised.
 */
#include "integ.h"
#include "jobs.h"
#include "sort.h"

static inline int before(const stg__item *a, const stg__item *b)
{
	return a->due != b->due ? a->due < b->due : a->order < b->order;
}

static inline int item_live(const stg_log *log, const stg__item *it)
{
	const stg__ent *e = stg__ent_at(log, it->ent);
	int js;

	if (!stg__ent_live(e) || !e->job)
		return 0;
	js = stg__ent_job_state(e);
	return (js == STG_JOB_QUEUED || js == STG_JOB_HELD) && log->jobs.v[e->job - 1].order == it->order;
}

/* ------------------------------------------------------------------ heap */

static void sift_up(stg__item *h, uint32_t i)
{
	stg__item it = h[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!before(&it, &h[parent]))
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = it;
}

static void sift_down(stg__item *h, uint32_t n, uint32_t i)
{
	stg__item it = h[i];

	for (;;) {
		uint32_t l = 2 * i + 1, best;
		if (l >= n)
			break;
		best = (l + 1 < n && before(&h[l + 1], &h[l])) ? l + 1 : l;
		if (!before(&h[best], &it))
			break;
		h[i] = h[best];
		i = best;
	}
	h[i] = it;
}

static void heap_pop(stg__queue *q)
{
	q->heap[0] = q->heap[--q->hlen];
	if (q->hlen)
		sift_down(q->heap, q->hlen, 0);
}


/* The sorts of renumber(): by order alone, and by (due, order). */
static int order_less(const void *a, const void *b, void *ctx)
{
	(void)ctx;
	return ((const stg__item *)a)->order < ((const stg__item *)b)->order;
}

static int due_less(const void *a, const void *b, void *ctx)
{
	(void)ctx;
	return before(a, b);
}

/* --------------------------------------------------------------- compact */

static stg__queue *queue_of_slot(stg_log *log, const stg__ent *e, uint32_t qslot, int *in_heap)
{
	*in_heap = (qslot - 1) & 1;
	return &log->integs[e->integ].q[(qslot - 1) >> 1];
}

/* The entry's job no longer has a live item where it had one. */
static void unlive(stg_log *log, const stg__ent *e, stg__job *j)
{
	int in_heap;
	stg__queue *q;

	if (!j->qslot)
		return;
	q = queue_of_slot(log, e, j->qslot, &in_heap);
	if (in_heap)
		q->heap_live--;
	else
		q->run_live--;
	j->qslot = 0;
}

void stg__sched_forget(stg_log *log, uint32_t idx)
{
	const stg__ent *e = stg__ent_at(log, idx);

	if (e->job)
		unlive(log, e, &log->jobs.v[e->job - 1]);
}

/*
 * Compaction asks each item whether it is live, which reads its entry and
 * then its job record: two misses per item in a large log. They are
 * fetched ahead, the entry COMPACT_AHEAD items before it is judged and the
 * job record half as far (its index is in the entry fetched by then).
 */
#define COMPACT_AHEAD 16

static inline void compact_prefetch(const stg_log *log, const stg__item *v, uint32_t i,
                                    uint32_t end)
{
	if (i + COMPACT_AHEAD < end)
		STG__PREFETCH(stg__ent_at(log, v[i + COMPACT_AHEAD].ent));
	if (i + COMPACT_AHEAD / 2 < end) {
		const stg__ent *e = stg__ent_at(log, v[i + COMPACT_AHEAD / 2].ent);
		if (e->job)
			STG__PREFETCH(&log->jobs.v[e->job - 1]);
	}
}

static void compact_run(const stg_log *log, stg__queue *q)
{
	uint32_t i, kept = 0;

	for (i = q->head; i < q->len; i++) {
		compact_prefetch(log, q->run, i, q->len);
		if (item_live(log, &q->run[i]))
			q->run[kept++] = q->run[i];
	}
	q->head = 0;
	q->len = kept;
}

static void compact_heap(const stg_log *log, stg__queue *q)
{
	uint32_t i, kept = 0;

	for (i = 0; i < q->hlen; i++) {
		compact_prefetch(log, q->heap, i, q->hlen);
		if (item_live(log, &q->heap[i]))
			q->heap[kept++] = q->heap[i];
	}
	q->hlen = kept;
	for (i = kept / 2; i-- > 0;)
		sift_down(q->heap, kept, i);
}

static int grow(stg_log *log, stg__item **v, uint32_t *cap, uint32_t len, uint32_t n)
{
	stg__item *nv = stg__grow(&log->alloc, *v, cap, (uint64_t)len + n, sizeof *nv, 16);

	if (!nv)
		return *cap - len >= n ? STG_OK : STG_ENOMEM;
	*v = nv;
	return STG_OK;
}

/*
 * Room for n more. A full run is compacted when at least half of it is
 * stale, slid down when at least half of the array is already consumed,
 * and grown otherwise: each costs O(len) only after O(len) pushes or pops,
 * so pushes stay O(1) amortised.
 */
static int run_reserve(stg_log *log, stg__queue *q, uint32_t n)
{
	uint32_t held = q->len - q->head;

	if (q->cap - q->len >= n)
		return STG_OK;
	if (held - q->run_live >= held / 2 && held) {
		compact_run(log, q);
	} else if (q->head && q->head >= q->len / 2) {
		memmove(q->run, q->run + q->head, (size_t)held * sizeof *q->run);
		q->len = held;
		q->head = 0;
	}
	if (q->cap - q->len >= n)
		return STG_OK;
	return grow(log, &q->run, &q->cap, q->len, n);
}

static int heap_reserve(stg_log *log, stg__queue *q, uint32_t n)
{
	if (q->hcap - q->hlen >= n)
		return STG_OK;
	if (q->hlen && q->hlen - q->heap_live >= q->hlen / 2)
		compact_heap(log, q);
	if (q->hcap - q->hlen >= n)
		return STG_OK;
	return grow(log, &q->heap, &q->hcap, q->hlen, n);
}

int stg__sched_reserve_slow(stg_log *log, uint32_t integ, int prio, uint32_t n)
{
	stg__integ *in = &log->integs[integ];
	int p;

	for (p = 0; p < STG__PRIORITIES; p++) {
		stg__queue *q = &in->q[p];
		if ((prio >= 0 && p != prio) || (q->cap - q->len >= n && q->hcap - q->hlen >= n))
			continue;
		if (run_reserve(log, q, n) || heap_reserve(log, q, n))
			return STG_ENOMEM;
	}
	return STG_OK;
}

/* -------------------------------------------------------------- renumber */

/*
 * New orders 1..n for the n live items of all queues, in the order of the
 * old ones, so every comparison (within a queue and between the heads of
 * different integrations) comes out as before. No memory is asked for:
 * each part is sorted by order in place, the parts are merged by scanning
 * their heads (parts are few: two per queue), then sorted back.
 */
static void renumber(stg_log *log)
{
	uint32_t i;
	int p;

	for (i = 0; i < log->ninteg; i++)
		for (p = 0; p < STG__PRIORITIES; p++) {
			stg__queue *q = &log->integs[i].q[p];
			compact_run(log, q);
			compact_heap(log, q);
			q->run_live = q->len;
			q->heap_live = q->hlen;
			stg__sort(q->run, q->len, sizeof *q->run, order_less, NULL);
			stg__sort(q->heap, q->hlen, sizeof *q->heap, order_less, NULL);
			q->rn_run = q->rn_heap = 0;
		}
	log->order_counter = 0;
	for (;;) {
		stg__item *next = NULL;
		uint32_t *cursor = NULL;
		for (i = 0; i < log->ninteg; i++)
			for (p = 0; p < STG__PRIORITIES; p++) {
				stg__queue *q = &log->integs[i].q[p];
				if (q->rn_run < q->len && (!next || q->run[q->rn_run].order < next->order)) {
					next = &q->run[q->rn_run];
					cursor = &q->rn_run;
				}
				if (q->rn_heap < q->hlen && (!next || q->heap[q->rn_heap].order < next->order)) {
					next = &q->heap[q->rn_heap];
					cursor = &q->rn_heap;
				}
			}
		if (!next)
			break;
		next->order = ++log->order_counter;
		log->jobs.v[stg__ent_at(log, next->ent)->job - 1].order = next->order;
		++*cursor;
	}
	/* Relative orders held: sorted by (due, order), the run is what it was
	 * and the heap a valid heap. */
	for (i = 0; i < log->ninteg; i++)
		for (p = 0; p < STG__PRIORITIES; p++) {
			stg__queue *q = &log->integs[i].q[p];
			stg__sort(q->run, q->len, sizeof *q->run, due_less, NULL);
			stg__sort(q->heap, q->hlen, sizeof *q->heap, due_less, NULL);
		}
}

/* ----------------------------------------------------------------- queue */

/* The item of job j (entry idx) with @due and @order, in the run when it
 * keeps it sorted, else in the heap. */
static void push_item(stg_log *log, uint32_t idx, stg__job *j, int64_t due, int in_order, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__queue *q = &log->integs[e->integ].q[e->priority];
	stg__item it;

	it.due = due;
	it.ent = idx;
	it.order = j->order;
	/* The newest order is the largest: due now and not before the tail,
	 * the item keeps the run sorted. */
	if (in_order && it.due <= now && (q->head == q->len || q->run[q->len - 1].due <= it.due)) {
		q->run[q->len++] = it;
		q->run_live++;
		j->qslot = 1 + 2 * e->priority;
	} else {
		q->heap[q->hlen] = it;
		sift_up(q->heap, q->hlen++);
		q->heap_live++;
		j->qslot = 2 + 2 * e->priority;
	}
}

void stg__sched_push(stg_log *log, uint32_t idx, int64_t now)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__job *j = stg__job_of(log, e);

	/* Renumber first: until the new order is taken, an earlier item of this
	 * job still counts as live there. */
	if (STG__UNLIKELY(log->order_counter == UINT32_MAX))
		renumber(log);
	unlive(log, e, j); /* its earlier item, if any, is stale from here */
	j->order = ++log->order_counter;
	push_item(log, idx, j, j->due, 1, now);
}

void stg__sched_push_back(stg_log *log, uint32_t idx, int64_t now, int64_t key_due)
{
	stg__ent *e = stg__ent_at(log, idx);
	stg__job *j = stg__job_of(log, e);

	/* The job was out, so it has no live item, and a renumber meanwhile
	 * did not see it: its order may then be stale (beyond the counter), and
	 * it takes a new one, as it does when it has none. */
	if (!j->order || j->order > log->order_counter) {
		stg__sched_push(log, idx, now);
		return;
	}
	unlive(log, e, j);
	push_item(log, idx, j, key_due, 0, now); /* an older order: the heap */
}

/* The live head of a queue, or NULL; *from_heap says where it is. */
static const stg__item *queue_head(stg_log *log, stg__queue *q, int *from_heap)
{
	while (q->head < q->len && !item_live(log, &q->run[q->head]))
		q->head++;
	if (q->head == q->len)
		q->head = q->len = 0;
	while (q->hlen && !item_live(log, &q->heap[0]))
		heap_pop(q);
	if (q->head < q->len && !(q->hlen && before(&q->heap[0], &q->run[q->head]))) {
		*from_heap = 0;
		return &q->run[q->head];
	}
	*from_heap = 1;
	return q->hlen ? &q->heap[0] : NULL;
}

int stg__sched_best(stg_log *log, stg__integ *in, int64_t now, stg__pick *out)
{
	int p;

	for (p = 0; p < STG__PRIORITIES; p++) {
		const stg__item *h;
		if (in->q[p].head == in->q[p].len && !in->q[p].hlen)
			continue;
		h = queue_head(log, &in->q[p], &out->from_heap);
		if (h && h->due <= now) {
			out->it = *h;
			out->prio = p;
			return 1;
		}
	}
	return 0;
}

void stg__sched_take(stg_log *log, stg__integ *in, const stg__pick *pk)
{
	stg__queue *q = &in->q[pk->prio];

	log->jobs.v[stg__ent_at(log, pk->it.ent)->job - 1].qslot = 0;
	if (pk->from_heap) {
		q->heap_live--;
		heap_pop(q);
	} else {
		q->run_live--;
		/* The next jobs' entries are read soon, in an order the hardware
		 * cannot guess: ask for them now. */
		uint32_t ahead = q->head + 8;
		if (ahead < q->len)
			STG__PREFETCH(stg__ent_at(log, q->run[ahead].ent));
		q->head++;
	}
}

int64_t stg__sched_earliest(stg_log *log, stg__integ *in)
{
	int64_t best = -1;
	int p, from_heap;

	for (p = 0; p < STG__PRIORITIES; p++) {
		const stg__item *h = queue_head(log, &in->q[p], &from_heap);
		if (h && (best < 0 || h->due < best))
			best = h->due;
	}
	return best;
}

/* ------------------------------------------------------------------ trim */

static void shrink(stg_log *log, stg__item **v, uint32_t *cap, uint32_t len)
{
	*v = stg__shrink(&log->alloc, *v, cap, len, sizeof **v);
}

void stg__sched_trim(stg_log *log, stg__integ *in)
{
	int p;

	for (p = 0; p < STG__PRIORITIES; p++) {
		stg__queue *q = &in->q[p];
		uint32_t n = q->len - q->head;
		/* Only when it shrinks: a pump of a few jobs must not move the run. */
		if (n == 0 || (q->cap > 64 && n < q->cap / 4)) {
			if (n)
				memmove(q->run, q->run + q->head, (size_t)n * sizeof *q->run);
			q->len = n;
			q->head = 0;
			shrink(log, &q->run, &q->cap, q->len);
		}
		shrink(log, &q->heap, &q->hcap, q->hlen);
	}
}

void stg__sched_free(stg_log *log, stg__integ *in)
{
	int p;

	for (p = 0; p < STG__PRIORITIES; p++) {
		stg__free(&log->alloc, in->q[p].run);
		stg__free(&log->alloc, in->q[p].heap);
		memset(&in->q[p], 0, sizeof in->q[p]);
	}
}
