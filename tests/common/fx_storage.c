/* The fixture storage; see fixture.h. */
#define _POSIX_C_SOURCE 200809L
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

void fx_storage_init(fx_storage *s)
{
	memset(s, 0, sizeof *s);
}

static void free_saved(fx_storage *s)
{
	if (s->saved) {
		fx_storage_free(s->saved);
		free(s->saved);
		s->saved = NULL;
	}
}

void fx_storage_free(fx_storage *s)
{
	size_t i;

	free_saved(s);
	for (i = 0; i < s->n; i++) {
		free(s->recs[i].integration);
		free(s->recs[i].sku);
		free(s->recs[i].buf);
	}
	free(s->recs);
	for (i = 0; i < s->nstates; i++)
		free(s->state_names[i]);
	free(s->state_names);
	free(s->state_flags);
	memset(s, 0, sizeof *s);
}

void fx_storage_copy(fx_storage *dst, const fx_storage *src)
{
	size_t i;

	fx_storage_init(dst);
	dst->cap = src->n ? src->n : 1;
	dst->recs = calloc(dst->cap, sizeof *dst->recs);
	FX_CHECK(dst->recs != NULL, "out of memory");
	for (i = 0; i < src->n; i++) {
		dst->recs[i].integration = fx_strdup(src->recs[i].integration);
		dst->recs[i].sku = fx_strdup(src->recs[i].sku);
		dst->recs[i].buf = malloc(src->recs[i].len ? src->recs[i].len : 1);
		FX_CHECK(dst->recs[i].buf != NULL, "out of memory");
		memcpy(dst->recs[i].buf, src->recs[i].buf, src->recs[i].len);
		dst->recs[i].len = src->recs[i].len;
	}
	dst->n = src->n;
	for (i = 0; i < src->nstates; i++) {
		size_t cap = dst->states_cap;
		dst->state_names = fx_grow(dst->state_names, &cap, dst->nstates, sizeof *dst->state_names, 4);
		dst->state_flags = fx_grow(dst->state_flags, &dst->states_cap, dst->nstates,
		                           sizeof *dst->state_flags, 4);
		dst->state_names[dst->nstates] = fx_strdup(src->state_names[i]);
		dst->state_flags[dst->nstates++] = src->state_flags[i];
	}
	dst->load_check_decode = src->load_check_decode;
	dst->size_query = src->size_query;
}

void fx_storage_arm(fx_storage *s, long fail_at, int persistent)
{
	s->armed_calls = 0;
	s->failures = 0;
	s->fail_at = fail_at;
	s->persistent = persistent;
}

void fx_storage_disarm(fx_storage *s)
{
	s->fail_at = 0;
	s->persistent = 0;
}

static int armed_fails(fx_storage *s)
{
	return fx_trips(&s->armed_calls, s->fail_at, s->persistent, &s->failures);
}

fx_record *fx_storage_find(const fx_storage *s, const char *integration, const char *sku)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->recs[i].integration, integration) == 0 && strcmp(s->recs[i].sku, sku) == 0)
			return &s->recs[i];
	return NULL;
}

int fx_storage_put(fx_storage *s, const stg_entry *e)
{
	unsigned char tmp[STG_ENTRY_ENCODED_MAX], *buf;
	size_t len = 0;
	fx_record *r;
	int rc;

	FX_CHECK(e != NULL, "write of a NULL entry");
	if (s->size_query) {
		rc = stg_entry_encode(e, NULL, 0, &len);
		if (rc != STG_EOVERFLOW && s->soft) {
			s->broken = 1;
			return 1;
		}
		FX_CHECK(rc == STG_EOVERFLOW, "size query: %s", stg_strerror(rc));
		FX_CHECK(len <= sizeof tmp, "an entry of %zu bytes, over STG_ENTRY_ENCODED_MAX", len);
	}
	rc = stg_entry_encode(e, tmp, sizeof tmp, &len);
	if (rc != STG_OK && s->soft) {
		s->broken = 1;
		return 1;
	}
	FX_CHECK(rc == STG_OK, "the log wrote an entry encode refuses: %s", stg_last_error());
	buf = malloc(len);
	FX_CHECK(buf != NULL, "out of memory");
	memcpy(buf, tmp, len);
	r = fx_storage_find(s, e->integration, e->sku);
	if (r) {
		free(r->buf);
		r->buf = buf;
		r->len = len;
		return 0;
	}
	s->recs = fx_grow(s->recs, &s->cap, s->n, sizeof *s->recs, 32);
	r = &s->recs[s->n++];
	r->integration = fx_strdup(e->integration);
	r->sku = fx_strdup(e->sku);
	r->buf = buf;
	r->len = len;
	return 0;
}

int fx_storage_get(const fx_storage *s, const char *integration, const char *sku, stg_entry *out)
{
	const fx_record *r = fx_storage_find(s, integration, sku);

	if (!r)
		return STG_ENOTFOUND;
	return stg_entry_decode(r->buf, r->len, out);
}

/* The table goes back to what begin saw (a rollback, or SQLite ending a
 * transaction by itself). */
static void restore_saved(fx_storage *s)
{
	fx_storage *old = s->saved;
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->recs[i].integration);
		free(s->recs[i].sku);
		free(s->recs[i].buf);
	}
	free(s->recs);
	s->recs = old->recs;
	s->n = old->n;
	s->cap = old->cap;
	old->recs = NULL;
	old->n = old->cap = 0;
	free_saved(s);
}

/* A write or remove failed inside a transaction: with sqlite_like, that ends it. */
static void failed_inside(fx_storage *s)
{
	if (s->sqlite_like && s->saved && !s->dead) {
		restore_saved(s);
		s->dead = 1;
	}
}

int fx_storage_begin(void *payload)
{
	fx_storage *s = payload;

	FX_CHECK(!s->saved && !s->dead, "begin inside an open transaction");
	if (s->arm_txn && armed_fails(s))
		return -7;
	s->saved = malloc(sizeof *s->saved);
	FX_CHECK(s->saved != NULL, "out of memory");
	fx_storage_copy(s->saved, s);
	s->begins++;
	return 0;
}

int fx_storage_commit(void *payload)
{
	fx_storage *s = payload;

	FX_CHECK(s->saved || s->dead, "commit without begin");
	if (s->dead) {
		s->dead = 0;
		return -11;
	}
	if (s->arm_txn && armed_fails(s)) {
		if (s->commit_lies) {
			free_saved(s); /* it did commit */
			s->dead = 2;
		}
		return -8;
	}
	free_saved(s);
	s->commits++;
	return 0;
}

int fx_storage_rollback(void *payload)
{
	fx_storage *s = payload;

	if (s->dead == 2) {
		s->dead = 0;
		return -12;
	}
	if (s->arm_txn && armed_fails(s)) {
		/* The connection is gone: the transaction is over all the same. */
		if (s->saved)
			restore_saved(s);
		return -10;
	}
	if (s->saved)
		restore_saved(s);
	s->rollbacks++;
	return 0;
}

int fx_storage_write(const stg_entry *e, void *payload)
{
	fx_storage *s = payload;

	if (s->in_hook)
		s->in_hook(FX_IN_WRITE, s->in_hook_ctx);
	if (s->dead)
		return -11; /* a careful store refuses writes once its transaction is gone */
	if (s->write_fail) {
		failed_inside(s);
		return s->write_fail;
	}
	if (armed_fails(s)) {
		failed_inside(s);
		return -5;
	}
	s->writes++;
	FX_CHECK(e != NULL, "write of a NULL entry");
	FX_CHECK(!s->max_name || strlen(e->integration) < s->max_name, "integration too long to record");
	FX_CHECK(!s->max_name || strlen(e->sku) < s->max_name, "SKU too long to record");
	return fx_storage_put(s, e);
}

int fx_storage_remove(const char *integration, const char *sku, void *payload)
{
	fx_storage *s = payload;
	fx_record *r;
	size_t at;

	if (s->in_hook)
		s->in_hook(FX_IN_REMOVE, s->in_hook_ctx);
	if (s->dead)
		return -11;
	if (s->remove_fail) {
		failed_inside(s);
		return s->remove_fail;
	}
	if (armed_fails(s)) {
		failed_inside(s);
		return -6;
	}
	s->removes++;
	r = fx_storage_find(s, integration, sku);
	if (!r)
		return 0;
	at = (size_t)(r - s->recs);
	free(r->integration);
	free(r->sku);
	free(r->buf);
	memmove(&s->recs[at], &s->recs[at + 1], (s->n - at - 1) * sizeof *s->recs);
	s->n--;
	return 0;
}

int fx_storage_load(stg_entry_sink sink, void *ctx, void *payload)
{
	fx_storage *s = payload;
	size_t i;

	s->loads++;
	if (s->load_fail)
		return s->load_fail;
	if (s->arm_load && armed_fails(s))
		return -9;
	for (i = 0; i < s->n; i++) {
		stg_entry e;
		int rc = stg_entry_decode(s->recs[i].buf, s->recs[i].len, &e);
		if (rc) {
			FX_CHECK(!s->load_check_decode, "stored (%s, %s) does not decode: %s",
			         s->recs[i].integration, s->recs[i].sku, stg_strerror(rc));
			return rc;
		}
		if ((rc = sink(ctx, &e)) && !s->load_ignore_sink)
			return rc;
		if (i == 0 && s->load_duplicate && (rc = sink(ctx, &e)) && !s->load_ignore_sink)
			return rc;
	}
	return 0;
}

static int write_state(const stg_integration_state *st, void *payload)
{
	fx_storage *s = payload;
	size_t i;

	if (s->in_hook)
		s->in_hook(FX_IN_WRITE, s->in_hook_ctx);
	if (s->state_write_fail)
		return s->state_write_fail;
	if (armed_fails(s))
		return -5;
	FX_CHECK(st != NULL && st->version >= 1 && st->integration && st->integration[0],
	         "write_integration of a bad record");
	s->state_writes++;
	for (i = 0; i < s->nstates; i++)
		if (strcmp(s->state_names[i], st->integration) == 0)
			break;
	if (i == s->nstates) {
		size_t cap = s->states_cap;
		s->state_names = fx_grow(s->state_names, &cap, s->nstates, sizeof *s->state_names, 4);
		s->state_flags = fx_grow(s->state_flags, &s->states_cap, s->nstates, sizeof *s->state_flags, 4);
		s->state_names[s->nstates++] = fx_strdup(st->integration);
	}
	s->state_flags[i] = st->flags;
	return 0;
}

static int load_states(stg_integration_sink sink, void *ctx, void *payload)
{
	fx_storage *s = payload;
	stg_integration_state st = STG_INTEGRATION_STATE_INIT;
	size_t i;
	int rc;

	if (s->load_bad_state && (rc = sink(ctx, &st)))
		return rc;
	for (i = 0; i < s->nstates; i++) {
		st.integration = s->state_names[i];
		st.flags = s->state_flags[i];
		if ((rc = sink(ctx, &st)) && !s->load_ignore_sink)
			return rc;
	}
	return 0;
}

long fx_storage_state(const fx_storage *s, const char *integration)
{
	size_t i;

	for (i = 0; i < s->nstates; i++)
		if (strcmp(s->state_names[i], integration) == 0)
			return (long)s->state_flags[i];
	return -1;
}

stg_storage fx_storage_hook_v2(fx_storage *s)
{
	stg_storage h = fx_storage_hook(s);

	h.write_integration = write_state;
	h.load_integrations = load_states;
	return h;
}

stg_storage fx_storage_hook(fx_storage *s)
{
	stg_storage h;

	FX_CHECK(stg_storage_init(&h, STG_STORAGE_VERSION) == STG_OK, "stg_storage_init");

	h.load = fx_storage_load;
	h.write = fx_storage_write;
	h.remove = fx_storage_remove;
	h.payload = s;
	if (s->transactional) {
		h.begin = fx_storage_begin;
		h.commit = fx_storage_commit;
		h.rollback = fx_storage_rollback;
	}
	return h;
}
