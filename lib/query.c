/*
 * Reading the log: lookups, paged queries, counts, stats and percentiles,
 * and the query criteria the merchant actions match with.
 */
#include "counters.h"
#include "host.h"
#include "entries.h"
#include "index.h"
#include "integ.h"
#include "match.h"
#include "versions.h"

int stg__query_check(stg_log *log, const stg_query *q, const char *fn)
{
	if (!q)
		return STG_OK;
	if (STG__VERSION_BAD(q->version, STG_QUERY_VERSION))
		return stg__version_fail(log->errmsg, fn, &stg__v_query, q->version);
	if (q->status < -1 || q->status > STG_ENTRY_ERROR || q->error_class < -1 ||
	    q->error_class >= STG_ERRCLASS_COUNT ||
	    (q->flags & ~(unsigned)(STG_QUERY_ABNORMAL | STG_QUERY_LATE | STG_QUERY_MIN_STOCK_REACHED)))
		return stg__fail(log->errmsg, STG_EINVAL, "%s: query status, class or flags out of range", fn);
	if (q->integration && !stg__key_ok(q->integration, NULL))
		return stg__fail(log->errmsg, STG_EINVAL, "%s: query integration must be 1 to %d bytes",
		                 fn, STG_KEY_MAX);
	if (q->sku_prefix && !stg__key_ok(q->sku_prefix, NULL) && q->sku_prefix[0] != '\0')
		return stg__fail(log->errmsg, STG_EINVAL, "%s: query sku prefix over %d bytes", fn,
		                 STG_KEY_MAX);
	return STG_OK;
}

int stg__query_match(const stg_log *log, const stg_query *q, const stg__ent *e, int64_t now)
{
	const stg__integ *in = &log->integs[e->integ];

	if (!q)
		return 1;
	if (q->integration && strcmp(in->name, q->integration) != 0)
		return 0;
	if (q->status >= 0 && e->status != q->status)
		return 0;
	if (q->error_class >= 0 && e->error_class != q->error_class)
		return 0;
	if ((q->flags & STG_QUERY_ABNORMAL) && !(e->flags & STG_ENTRY_ABNORMAL))
		return 0;
	if ((q->flags & STG_QUERY_MIN_STOCK_REACHED) && !(e->flags & STG_ENTRY_MIN_STOCK_REACHED))
		return 0;
	if ((q->flags & STG_QUERY_LATE) &&
	    !(e->job && now - stg__job_of(log, e)->since > log->latency_limit))
		return 0;
	if (q->sku_prefix) {
		size_t n = strlen(q->sku_prefix);
		if (n > stg__ent_sku_len(e) || memcmp(stg__ent_sku(e), q->sku_prefix, n) != 0)
			return 0;
	}
	return 1;
}

STG_EXTERN int stg_log_get(stg_log *log, const char *integration, const char *sku, stg_entry *out)
{
	size_t ilen, slen;
	uint32_t integ, idx;

	STG__ENTER(log, "stg_log_get");
	if (!out || !stg__key_ok(integration, &ilen) || !stg__key_ok(sku, &slen))
		return stg__fail(log->errmsg, STG_EINVAL,
		                 "stg_log_get: NULL out, or integration/sku not 1 to %d bytes", STG_KEY_MAX);
	if (!stg__log_find_integ(log, integration, ilen, &integ) ||
	    !stg__log_find(log, integ, sku, slen, &idx))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "stg_log_get: no entry (%.100s, %.100s)",
		                 integration, sku);
	stg__log_to_entry(log, idx, stg__log_now(log), out);
	return STG_OK;
}

STG_EXTERN int stg_log_query(stg_log *log, const stg_query *q, uint64_t *cursor, stg_entry *entries,
                             size_t cap, size_t *count)
{
	uint64_t i;
	size_t n = 0;
	int64_t now;
	int rc;

	STG__ENTER(log, "stg_log_query");
	if (!cursor || !count || (cap && !entries))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_query: NULL cursor, count or entries");
	if ((rc = stg__query_check(log, q, "stg_log_query")))
		return rc;
	now = stg__log_now(log);
	for (i = *cursor; i < log->nents && n < cap; i++) {
		const stg__ent *e = stg__ent_at(log, (uint32_t)i);
		if (stg__ent_live(e) && stg__query_match(log, q, e, now))
			stg__log_to_entry(log, (uint32_t)i, now, &entries[n++]);
	}
	*cursor = i;
	*count = n;
	return STG_OK;
}

STG_EXTERN int stg_log_counts(stg_log *log, const char *integration, stg_counts *out)
{
	uint32_t i, integ = 0;
	size_t len = 0;
	int64_t now;

	STG__ENTER(log, "stg_log_counts");
	if (!out || (integration && !stg__key_ok(integration, &len)))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_counts: NULL out or bad integration");
	memset(out, 0, sizeof *out);
	if (integration && !stg__log_find_integ(log, integration, len, &integ))
		return STG_OK;
	now = stg__log_now(log);
	for (i = 0; i < log->nents; i++) {
		const stg__ent *e = stg__ent_at(log, i);
		if (!stg__ent_live(e) || (integration && e->integ != integ))
			continue;
		if (e->status == STG_ENTRY_PENDING) {
			out->pending++;
			if (stg__ent_job_state(e) == STG_JOB_HELD || log->integs[e->integ].paused)
				out->held++;
			if (e->job && now - stg__job_of(log, e)->since > log->latency_limit)
				out->late++;
		} else if (e->status == STG_ENTRY_SUCCESS) {
			out->success++;
		} else {
			out->error++;
		}
		out->abnormal += (e->flags & STG_ENTRY_ABNORMAL) != 0;
	}
	return STG_OK;
}

_Static_assert(STG_REASON_COUNT <= STG_STATS_REASONS_MAX, "stg_stats.skips is full: a new reason needs a new struct");
_Static_assert(STG_ERRCLASS_COUNT <= STG_STATS_CLASSES_MAX, "stg_stats.errors is full: a new class needs a new struct");

static void add_counters(stg_stats *s, const stg__counters *c, uint64_t *hist, int *has_hist)
{
	size_t k;

	s->changes += c->changes;
	s->exports += c->exports;
	s->coalesced += c->coalesced;
	/* Each follow-up job is a call some merges still cost: those merges
	 * saved one call fewer (never below 0: a follow-up has a merge behind it). */
	s->saved_by_coalescing += c->coalesced > c->followups ? c->coalesced - c->followups : 0;
	s->cooldowns += c->cooldowns;
	s->stale += c->stale;
	s->attempts += c->attempts;
	s->successes += c->successes;
	s->abnormal += c->abnormal;
	s->warnings += c->warnings;
	s->corrections += c->corrections;
	for (k = 0; k < STG_REASON_COUNT; k++)
		s->skips[k] += c->skips[k];
	for (k = 0; k < STG_ERRCLASS_COUNT; k++)
		s->errors[k] += c->errors[k];
	if (c->has_latency && (s->latency_max_ms < 0 || (int64_t)c->latency_max > s->latency_max_ms))
		s->latency_max_ms = (int64_t)c->latency_max;
	if (c->hist) {
		for (k = 0; k < STG__HIST_BUCKETS; k++)
			hist[k] += c->hist[k];
		*has_hist = 1;
	}
}

static int64_t percentile(const uint64_t *hist, uint64_t total, unsigned pct, int64_t max)
{
	uint64_t rank = (total * pct + 99) / 100, seen = 0;
	size_t k;

	if (rank == 0)
		rank = 1;
	for (k = 0; k < STG__HIST_BUCKETS; k++) {
		seen += hist[k];
		if (seen >= rank) {
			int64_t mid = (int64_t)stg__hist_mid(k);
			return mid > max ? max : mid;
		}
	}
	return max;
}

STG_EXTERN int stg_log_stats(stg_log *log, const char *integration, stg_stats *out)
{
	uint64_t *hist, total = 0;
	uint32_t i, integ = 0;
	size_t len = 0, k;
	int has_hist = 0;

	STG__ENTER(log, "stg_log_stats");
	if (!out || (integration && !stg__key_ok(integration, &len)))
		return stg__fail(log->errmsg, STG_EINVAL, "stg_log_stats: NULL out or bad integration");
	if (integration && !stg__log_find_integ(log, integration, len, &integ))
		return stg__fail(log->errmsg, STG_ENOTFOUND, "stg_log_stats: no integration '%.100s'",
		                 integration);
	hist = stg__calloc(&log->alloc, STG__HIST_BUCKETS, sizeof *hist);
	if (!hist)
		return stg__fail(log->errmsg, STG_ENOMEM, "stg_log_stats: out of memory");
	memset(out, 0, sizeof *out);
	out->nreasons = STG_REASON_COUNT;
	out->nclasses = STG_ERRCLASS_COUNT;
	out->latency_max_ms = -1;
	for (i = 0; i < log->ninteg; i++)
		if (!integration || i == integ)
			add_counters(out, &log->integs[i].counters, hist, &has_hist);
	for (k = 0; k < STG__HIST_BUCKETS; k++)
		total += hist[k];
	if (has_hist && total) {
		out->latency_p50_ms = percentile(hist, total, 50, out->latency_max_ms);
		out->latency_p95_ms = percentile(hist, total, 95, out->latency_max_ms);
		out->latency_p99_ms = percentile(hist, total, 99, out->latency_max_ms);
	} else {
		out->latency_p50_ms = out->latency_p95_ms = out->latency_p99_ms = -1;
	}
	stg__free(&log->alloc, hist);
	return STG_OK;
}
