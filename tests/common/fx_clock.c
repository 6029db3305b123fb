/* The fixture clock; see fixture.h. */
#include "fixture.h"

#include <string.h>

static int64_t fx_now(void *payload)
{
	fx_clock *c = payload;

	c->calls++;
	if (c->in_hook)
		c->in_hook(FX_IN_CLOCK, c->in_hook_ctx);
	return c->now;
}

void fx_clock_init(fx_clock *c, int64_t now)
{
	memset(c, 0, sizeof *c);
	c->now = now;
}

stg_clock fx_clock_hook(fx_clock *c)
{
	stg_clock h;

	FX_CHECK(stg_clock_init(&h, STG_CLOCK_VERSION) == STG_OK, "stg_clock_init");

	h.now_ms = fx_now;
	h.payload = c;
	return h;
}
