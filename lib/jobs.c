/*
 * Job records: the fields of a job (due time, latency start, attempts, the
 * quantity in flight ...) exist only while the entry has a job, so settled
 * entries do not pay for them.
 *
 * Records keep their index while they live (a free list reuses dead ones):
 * ending a job touches only its own record, not the one that a swap would
 * move. When most records are free the live ones are packed down and the
 * array shrinks; entries point at their record, queue items at the entry,
 * so only the moved records' entries need updating.
 */
#include "jobs.h"

int stg__jobs_reserve(stg_log *log, uint32_t n)
{
	stg__jobs *js = &log->jobs;
	uint32_t ncap;
	stg__job *v;

	if (js->cap - js->live >= n)
		return STG_OK;
	if ((uint64_t)js->live + n > UINT32_MAX / 2)
		return STG_ENOMEM;
	/* Growth by half: a log of millions of pending jobs carries at most a
	 * third of its records as slack (doubling left up to half), and a large
	 * realloc moves pages without copying them. */
	ncap = js->cap ? js->cap + js->cap / 2 : 16;
	while (ncap - js->live < n)
		ncap += ncap / 2;
	v = stg__realloc(&log->alloc, js->v, (size_t)ncap * sizeof *v);
	if (!v)
		return STG_ENOMEM;
	js->v = v;
	js->cap = ncap;
	return STG_OK;
}

uint32_t stg__jobs_take(stg_log *log, uint32_t ent)
{
	stg__jobs *js = &log->jobs;
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

void stg__jobs_release(stg_log *log, uint32_t k)
{
	stg__jobs *js = &log->jobs;

	js->v[k].used = 0;
	js->v[k].ent = js->free_head;
	js->free_head = k;
	js->live--;
}

void stg__jobs_trim(stg_log *log)
{
	stg__jobs *js = &log->jobs;
	uint32_t lo, hi, ncap;
	stg__job *v;

	if (js->live == 0) {
		/* The common end of a pump: every job done. */
		stg__free(&log->alloc, js->v);
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
		stg__ent_at(log, js->v[lo].ent)->job = lo + 1;
	}
	js->len = js->live;
	js->free_head = STG__NO_FREE;
	for (ncap = js->cap; ncap > 64 && js->live < ncap / 4; ncap /= 2)
		;
	/* A shrink that fails keeps the larger block: nothing is lost. */
	v = stg__realloc(&log->alloc, js->v, (size_t)ncap * sizeof *v);
	if (v) {
		js->v = v;
		js->cap = ncap;
	}
}

void stg__jobs_free(stg_log *log)
{
	stg__free(&log->alloc, log->jobs.v);
	memset(&log->jobs, 0, sizeof log->jobs);
	log->jobs.free_head = STG__NO_FREE;
}
