/*
 * Job records: the fields of a job (due time, latency start, attempts, the
 * quantity in flight ...) exist only while the entry has a job, so settled
 * entries do not pay for them.
 *
 * Records keep their index while they live (a free list reuses dead ones):
 * ending a job touches only its own record, not the one that a swap would
 * move. When most records are free the live ones are packed down and the
 * array shrinks; entries point at their record, queue items at the entry,
 * so only the moved records' entries need updating: the store reports each
 * move to its caller, and never touches an entry itself.
 */
#include "jobs.h"

int stg__jobs_reserve(stg__jobs *js, const stg__alloc *a, uint32_t n)
{
	stg__job *v;

	if (js->cap - js->live >= n)
		return STG_OK;
	if (!(v = stg__grow(a, js->v, &js->cap, (uint64_t)js->live + n, sizeof *v, 16)))
		return STG_ENOMEM;
	js->v = v;
	return STG_OK;
}

uint32_t stg__jobs_take(stg__jobs *js, uint32_t ent)
{
	uint32_t k;

	if (js->free_head != STG__NO_FREE) {
		k = js->free_head;
		js->free_head = js->v[k].ent;
	} else {
		k = js->len++;
	}
	memset(&js->v[k], 0, sizeof js->v[k]);
	js->v[k].ent = ent;
	js->v[k].used = 1;
	js->live++;
	return k;
}

void stg__jobs_release(stg__jobs *js, uint32_t k)
{

	js->v[k].used = 0;
	js->v[k].ent = js->free_head;
	js->free_head = k;
	js->live--;
}

void stg__jobs_trim(stg__jobs *js, const stg__alloc *a, stg__moved_fn moved, void *ctx)
{
	uint32_t lo, hi;

	if (js->live == 0) {
		/* The common end of a pump: every job done. */
		stg__free(a, js->v);
		memset(js, 0, sizeof *js);
		js->free_head = STG__NO_FREE;
		return;
	}
	if (js->cap <= 64 || js->live >= js->cap / 4)
		return;
	/* Pack: move the highest live records into the lowest free ones. */
	lo = 0;
	hi = js->len;
	for (;;) {
		while (lo < hi && js->v[lo].used)
			lo++;
		while (hi > lo && !js->v[hi - 1].used)
			hi--;
		if (lo >= hi)
			break;
		js->v[lo] = js->v[hi - 1];
		js->v[hi - 1].used = 0;
		moved(ctx, js->v[lo].ent, lo);
	}
	js->len = js->live;
	js->free_head = STG__NO_FREE;
	js->v = stg__shrink(a, js->v, &js->cap, js->live, sizeof *js->v);
}

void stg__jobs_free(stg__jobs *js, const stg__alloc *a)
{
	stg__free(a, js->v);
	memset(js, 0, sizeof *js);
	js->free_head = STG__NO_FREE;
}
