/* Snapshots of a log or of the fixture storage; see fixture.h. */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

static void own_strings(stg_entry *e)
{
	e->integration = fx_strdup(e->integration);
	e->sku = fx_strdup(e->sku);
	e->message = e->message ? fx_strdup(e->message) : NULL;
}

static void snap_push(fx_snap *s, size_t *cap, const stg_entry *e)
{
	s->v = fx_grow(s->v, cap, s->n, sizeof *s->v, 16);
	s->v[s->n] = *e;
	own_strings(&s->v[s->n]);
	s->n++;
}

void fx_snap_log(stg_log *log, fx_snap *out)
{
	stg_entry page[7];
	uint64_t cursor = 0;
	size_t count, cap = 0, i;

	memset(out, 0, sizeof *out);
	for (;;) {
		int rc = stg_log_query(log, NULL, &cursor, page, 7, &count);
		FX_CHECK(rc == STG_OK, "query: %s", stg_log_errmsg(log));
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			FX_CHECK(fx_snap_find(out, page[i].integration, page[i].sku) == NULL,
			         "(%s, %s) appears twice in a query", page[i].integration, page[i].sku);
			snap_push(out, &cap, &page[i]);
		}
	}
}

void fx_snap_store(const fx_storage *s, fx_snap *out)
{
	size_t i, cap = 0;

	memset(out, 0, sizeof *out);
	for (i = 0; i < s->n; i++) {
		stg_entry e;
		int rc = stg_entry_decode(s->recs[i].buf, s->recs[i].len, &e);
		FX_CHECK(rc == STG_OK, "stored (%s, %s) does not decode", s->recs[i].integration, s->recs[i].sku);
		snap_push(out, &cap, &e);
	}
}

void fx_snap_free(fx_snap *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free((char *)s->v[i].integration);
		free((char *)s->v[i].sku);
		free((char *)s->v[i].message);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

const stg_entry *fx_snap_find(const fx_snap *s, const char *integration, const char *sku)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].integration, integration) == 0 && strcmp(s->v[i].sku, sku) == 0)
			return &s->v[i];
	return NULL;
}

