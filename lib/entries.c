/*
 * The entry table: 88-byte entries in chunks of STG__CHUNK, a free list of
 * dead slots, inline SKUs, and the view of an entry the host sees (the hot
 * record joined with its job and problem records).
 *
 * Chunks, not one array: a table of millions grows without copying or
 * doubling what it holds, so memory stays within one chunk of what the
 * entries need. Chunk 0 starts small and grows by realloc up to a full
 * chunk, so a small log stays small.
 */
#include "explained.h"
#include "entries.h"
#include "integ.h"
#include "index.h"
#include "problems.h"

/* The memory budget is per entry: keep the layout from growing unnoticed. */
_Static_assert(sizeof(stg__ent) == 88, "stg__ent is 88 bytes");
_Static_assert(sizeof(stg__job) == 64, "stg__job is 64 bytes");

/* ------------------------------------------------------------------ SKUs */

size_t stg__ent_sku_len(const stg__ent *e)
{
	size_t n = 0;

	if (e->bits & STG__B_SKU_HEAP)
		return e->sku.out.len;
	while (n < STG__SKU_INLINE_MAX && e->sku.in[n])
		n++;
	return n;
}

int stg__ent_set_sku(stg_log *log, stg__ent *e, const char *sku, size_t len)
{
	memset(&e->sku, 0, sizeof e->sku);
	if (len <= STG__SKU_INLINE_MAX) {
		memcpy(e->sku.in, sku, len);
		e->bits &= ~STG__B_SKU_HEAP;
		return STG_OK;
	}
	e->sku.out.ptr = stg__strdup(&log->alloc, sku, len);
	if (!e->sku.out.ptr)
		return STG_ENOMEM;
	e->sku.out.len = (uint32_t)len;
	e->bits |= STG__B_SKU_HEAP;
	return STG_OK;
}

void stg__ent_free_sku(stg_log *log, stg__ent *e)
{
	if (e->bits & STG__B_SKU_HEAP) {
		stg__free(&log->alloc, e->sku.out.ptr);
		e->bits &= ~STG__B_SKU_HEAP;
	}
	memset(&e->sku, 0, sizeof e->sku);
}

/* ----------------------------------------------------------------- table */

static int table_grow(stg_log *log)
{
	if (log->ents_cap >= UINT32_MAX - STG__CHUNK)
		return STG_ENOMEM;
	if (log->nchunks == 1 && log->ents_cap < STG__CHUNK) {
		/* Chunk 0 doubles until it is a full chunk. */
		uint32_t ncap = log->ents_cap * 2;
		stg__ent *n = stg__realloc(&log->alloc, log->chunks[0], (size_t)ncap * sizeof *n);
		if (!n)
			return STG_ENOMEM;
		log->chunks[0] = n;
		log->ents_cap = ncap;
		return STG_OK;
	}
	if (log->nchunks == log->chunks_cap) {
		stg__ent **n = stg__grow(&log->alloc, log->chunks, &log->chunks_cap,
		                         (uint64_t)log->nchunks + 1, sizeof *n, 4);
		if (!n)
			return STG_ENOMEM;
		log->chunks = n;
	}
	if (log->nchunks == 0) {
		log->chunks[0] = stg__malloc(&log->alloc, 16 * sizeof(stg__ent));
		if (!log->chunks[0])
			return STG_ENOMEM;
		log->nchunks = 1;
		log->ents_cap = 16;
		return STG_OK;
	}
	log->chunks[log->nchunks] = stg__malloc(&log->alloc, (size_t)STG__CHUNK * sizeof(stg__ent));
	if (!log->chunks[log->nchunks])
		return STG_ENOMEM;
	log->nchunks++;
	log->ents_cap += STG__CHUNK;
	return STG_OK;
}

int stg__ents_reserve_unindexed(stg_log *log)
{
	if (log->free_head == STG__NO_FREE && log->nents == log->ents_cap)
		return table_grow(log);
	return STG_OK;
}

int stg__ents_reserve(stg_log *log)
{
	if (stg__index_reserve(log))
		return STG_ENOMEM;
	return stg__ents_reserve_unindexed(log);
}

void stg__ents_release(stg_log *log, uint32_t idx)
{
	stg__ent *e = stg__ent_at(log, idx);

	memset(e, 0, sizeof *e);
	e->job = log->free_head;
	log->free_head = idx;
	log->live--;
}

void stg__ents_free(stg_log *log)
{
	uint32_t i;

	for (i = 0; i < log->nents; i++) {
		stg__ent *e = stg__ent_at(log, i);
		if (stg__ent_live(e))
			stg__ent_free_sku(log, e);
	}
	for (i = 0; i < log->nchunks; i++)
		stg__free(&log->alloc, log->chunks[i]);
	stg__free(&log->alloc, log->chunks);
	log->chunks = NULL;
	log->nchunks = log->chunks_cap = log->nents = log->ents_cap = 0;
}

/* ------------------------------------------------------------------ view */

void stg__ent_view(const stg_log *log, const stg__ent *e, const stg__job *j, const stg__prob *p,
                   int64_t now, stg_entry *out)
{
	memset(out, 0, sizeof *out);
	out->version = STG_ENTRY_VERSION;
	out->status = e->status;
	out->integration = log->integs[e->integ].name;
	out->sku = stg__ent_sku(e);
	out->available = e->available;
	out->published = e->published;
	out->acked = e->acked;
	out->sequence = e->sequence;
	out->changed_at = e->changed_at;
	out->acked_at = e->acked_at;
	out->last_attempt_at = stg__ent_last_attempt(e, j, p);
	out->latency_ms = stg__ent_latency(e);
	if (out->latency_ms == STG__LAT_WIDE && p)
		out->latency_ms = p->latency_ms;
	out->job_state = stg__ent_job_state(e);
	out->error_class = e->error_class;
	out->priority = e->priority;
	out->reason = e->reason;
	out->flags = e->flags;
	stg__explain_unpack(e->explain, &out->min_source, &out->rule);
	if (p) {
		out->message = stg__msg_text(&log->msgs, p->msg);
		out->first_failed_at = p->first_failed_at;
		out->attempts = p->attempts;
		out->http_status = p->http_status;
		out->flags |= p->xflags;
	}
	if (j) {
		/* Job fields describe the current job; without one they read 0. */
		out->job_since = j->since;
		out->next_attempt_at = j->due;
		out->job_attempts = j->attempts;
		out->job_transient = j->transient;
		out->job_id = (uint64_t)e->job_id << 32 | j->ent;
		if (now && now - j->since > log->latency_limit)
			out->flags |= STG_ENTRY_LATE;
	}
}

void stg__log_to_entry(const stg_log *log, uint32_t idx, int64_t now, stg_entry *out)
{
	const stg__ent *e = stg__ent_at(log, idx);

	stg__ent_view(log, e, stg__job_of(log, e), stg__prob_of(log, e), now, out);
}
