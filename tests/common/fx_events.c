/* The fixture event recorder; see fixture.h. */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

static void on_event(const stg_event *ev, void *payload)
{
	fx_events *e = payload;
	fx_event *r;

	e->ev = fx_grow(e->ev, &e->cap, e->n, sizeof *e->ev, 64);
	r = &e->ev[e->n++];
	memset(r, 0, sizeof *r);
	r->type = ev->type;
	r->http = ev->http_status;
	r->integration = fx_strdup(ev->integration);
	r->has_sku = ev->sku != NULL;
	r->sku = fx_strdup(ev->sku);
	r->has_message = ev->message != NULL;
	r->message = fx_strdup(ev->message);
	r->available = ev->available;
	r->min_stock = ev->min_stock;
	r->latency_ms = ev->latency_ms;
	r->observed = ev->observed;
	r->time = ev->time;
	if (e->in_hook)
		e->in_hook(FX_IN_EVENT, e->in_hook_ctx);
}

void fx_events_init(fx_events *e)
{
	memset(e, 0, sizeof *e);
}

void fx_events_free(fx_events *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->ev[i].integration);
		free(e->ev[i].sku);
		free(e->ev[i].message);
	}
	free(e->ev);
	memset(e, 0, sizeof *e);
}

stg_events fx_events_hook(fx_events *e)
{
	stg_events h;

	FX_CHECK(stg_events_init(&h, STG_EVENTS_VERSION) == STG_OK, "stg_events_init");

	h.on_event = on_event;
	h.payload = e;
	return h;
}

size_t fx_events_count(const fx_events *e, int type)
{
	size_t i, n = 0;

	for (i = 0; i < e->n; i++)
		n += e->ev[i].type == type;
	return n;
}

const fx_event *fx_events_last(const fx_events *e, int type)
{
	size_t i;

	for (i = e->n; i-- > 0;)
		if (e->ev[i].type == type)
			return &e->ev[i];
	return NULL;
}
