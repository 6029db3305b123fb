/* Counting the figures of a replay run (see stats.h). */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

void figures_init(struct figures *f)
{
	memset(f, 0, sizeof *f);
	f->delay_max_ms = -1;
}

void stats_init(struct stats *s, int detail)
{
	memset(s, 0, sizeof *s);
	s->detail = detail;
	figures_init(&s->all);
	s->hours.width = 1;
}

void stats_free(struct stats *s)
{
	free(s->hours.b);
	table_free(&s->integ, free);
	table_free(&s->pairs, NULL);
	memset(s, 0, sizeof *s);
}

size_t pair_key(char *buf, const char *integration, size_t ilen, const char *sku, size_t slen)
{
	/* The unit separator cannot occur in a name: the reader refuses control bytes. */
	memcpy(buf, integration, ilen);
	buf[ilen] = '\x1f';
	memcpy(buf + ilen + 1, sku, slen);
	return ilen + 1 + slen;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void figures_add(struct figures *to, const struct figures *from)
{
	size_t i;

	to->rows += from->rows;
	to->exports += from->exports;
	to->skips += from->skips;
	to->coalesced += from->coalesced;
	for (i = 0; i < STG_REASON_COUNT; i++)
		to->by_reason[i] += from->by_reason[i];
	to->warnings += from->warnings;
	to->calls += from->calls;
	to->zeros += from->zeros;
	to->acks += from->acks;
	to->late += from->late;
	to->late_zeros += from->late_zeros;
	to->delay_sum_ms = to->delay_sum_ms > UINT64_MAX - from->delay_sum_ms
	                   ? UINT64_MAX : to->delay_sum_ms + from->delay_sum_ms;
	if (from->delay_max_ms > to->delay_max_ms)
		to->delay_max_ms = from->delay_max_ms;
}

/* Double the width of every bucket (pairs merge), keeping `first` a multiple of it. */
static void series_widen(struct series *h)
{
	int64_t w2 = h->width * 2, first2 = floor_div(h->first, w2) * w2;
	size_t i, shift = (size_t)((h->first - first2) / h->width), n2 = (h->n + shift + 1) / 2;
	struct bucket *nb = calloc(n2 ? n2 : 1, sizeof *nb);

	if (!nb)
		return; /* the caller sees no room and gives up on the row's bucket */
	for (i = 0; i < n2; i++)
		figures_init(&nb[i].f);
	for (i = 0; i < h->n; i++)
		figures_add(&nb[(i + shift) / 2].f, &h->b[i].f);
	free(h->b);
	h->b = nb;
	h->n = n2;
	h->first = first2;
	h->width = w2;
}

/* The bucket of time @p t (seconds), the series grown or widened to hold it; NULL: no memory. */
static struct figures *series_at(struct series *h, int64_t t)
{
	int64_t hour = floor_div(t, 3600), idx;

	if (!h->n) {
		h->b = calloc(1, sizeof *h->b);
		if (!h->b)
			return NULL;
		figures_init(&h->b[0].f);
		h->n = 1;
		h->first = floor_div(hour, h->width) * h->width;
	}
	for (;;) {
		int64_t lo = h->first, hi = h->first + (int64_t)h->n * h->width; /* [lo, hi) hours */
		int64_t nlo = hour < lo ? floor_div(hour, h->width) * h->width : lo;
		int64_t nhi = hour >= hi ? (floor_div(hour, h->width) + 1) * h->width : hi;
		size_t need = (size_t)((nhi - nlo) / h->width), front, i;
		struct bucket *nb;

		if ((nhi - nlo) / h->width > SERIES_MAX) {
			size_t before = h->n;
			int64_t wbefore = h->width;
			series_widen(h);
			if (h->width == wbefore && h->n == before)
				return NULL;
			continue;
		}
		if (nlo == lo && nhi == hi)
			break;
		nb = calloc(need, sizeof *nb);
		if (!nb)
			return NULL;
		for (i = 0; i < need; i++)
			figures_init(&nb[i].f);
		front = (size_t)((lo - nlo) / h->width);
		memcpy(nb + front, h->b, h->n * sizeof *nb);
		free(h->b);
		h->b = nb;
		h->n = need;
		h->first = nlo;
	}
	idx = (floor_div(hour, h->width) * h->width - h->first) / h->width;
	return &h->b[idx].f;
}

/* The figures of @p integration (NUL-terminated, @p len bytes); NULL: no memory. */
static struct figures *integ_figures(struct stats *s, const char *integration, size_t len)
{
	struct node *n = table_get(&s->integ, integration, len);

	if (!n)
		return NULL;
	if (!n->ptr) {
		n->ptr = malloc(sizeof(struct figures));
		if (!n->ptr)
			return NULL;
		figures_init(n->ptr);
	}
	return n->ptr;
}

/* Where a count goes: the totals, and with detail its bucket and its integration. */
static int targets(struct stats *s, int64_t t_sec, const char *integration, size_t len,
                   struct figures *out[3])
{
	out[0] = &s->all;
	out[1] = out[2] = NULL;
	if (!s->detail)
		return 1;
	out[1] = series_at(&s->hours, t_sec);
	out[2] = integ_figures(s, integration, len);
	if (!out[1] || !out[2]) {
		s->oom = 1;
		return -1;
	}
	return 3;
}

int stats_row(struct stats *s, int64_t t, const char *integration, size_t ilen, const char *sku,
              size_t slen, const stg_submit_result *res)
{
	struct figures *f[3];
	int n = targets(s, t, integration, ilen, f), i;
	int warn = (res->warnings & STG_WARN_MIN_STOCK_REACHED) != 0;

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		f[i]->rows++;
		if (res->decision == STG_DECISION_EXPORT)
			f[i]->exports++;
		else if (res->decision == STG_DECISION_COALESCED)
			f[i]->coalesced++;
		else
			f[i]->skips++;
		if (res->reason >= 0 && res->reason < STG_REASON_COUNT)
			f[i]->by_reason[res->reason]++;
		f[i]->warnings += (uint64_t)warn;
	}
	if (s->detail && (res->decision == STG_DECISION_EXPORT || warn)) {
		char key[2 * STG_KEY_MAX + 2];
		struct node *p = table_get(&s->pairs, key, pair_key(key, integration, ilen, sku, slen));
		if (!p) {
			s->oom = 1;
			return -1;
		}
		p->num[0] += res->decision == STG_DECISION_EXPORT;
		p->num[1] += warn;
	}
	return 0;
}

/* Milliseconds to seconds, rounded down. */
static int64_t ms_to_s(int64_t ms)
{
	return floor_div(ms, 1000);
}

int stats_call(struct stats *s, int64_t now_ms, const char *integration, int64_t published)
{
	struct figures *f[3];
	int n = targets(s, ms_to_s(now_ms), integration, strlen(integration), f), i;

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		f[i]->calls++;
		f[i]->zeros += published == 0;
	}
	return 0;
}

int stats_ack(struct stats *s, int64_t now_ms, const char *integration, int64_t published,
              int64_t delay_ms, int late)
{
	struct figures *f[3];
	int n = targets(s, ms_to_s(now_ms), integration, strlen(integration), f), i;
	uint64_t d = delay_ms > 0 ? (uint64_t)delay_ms : 0;

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		f[i]->acks++;
		f[i]->late += (uint64_t)(late != 0);
		f[i]->late_zeros += (uint64_t)(late && published == 0);
		f[i]->delay_sum_ms = f[i]->delay_sum_ms > UINT64_MAX - d ? UINT64_MAX
		                                                        : f[i]->delay_sum_ms + d;
		if ((int64_t)d > f[i]->delay_max_ms)
			f[i]->delay_max_ms = (int64_t)d;
	}
	return 0;
}

uint64_t figures_saved(const struct figures *f)
{
	return f->rows > f->calls ? f->rows - f->calls : 0;
}

uint64_t figures_saved_coalescing(const struct figures *f)
{
	uint64_t saved = figures_saved(f);
	return saved > f->skips ? saved - f->skips : 0;
}

uint64_t figures_delay_mean(const struct figures *f)
{
	return f->acks ? f->delay_sum_ms / f->acks : 0;
}
