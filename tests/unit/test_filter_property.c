/*
 * Property test: the library against a small reference model written from
 * the contract (SPEC sections 1 and 2, policy.h, filter.h), on random
 * policies and changes with a fixed seed.
 *
 * The model is deliberately naive: 128-bit arithmetic instead of the
 * library's overflow-avoiding splits, and the decision table as written.
 * The generator mixes uniform values with the places where bugs live:
 * INT64_MIN/MAX, 0, STG_QUANTITY_MAX, and values at the minimum, the
 * window, the cap and the drift bound, plus or minus one.
 *
 * STG_PROPERTY_CASES sets the number of cases (default 2,000,000);
 * STG_PROPERTY_SEED changes the seed (to reproduce a report, or explore).
 */
#include <criterion/criterion.h>

#include <stockguard/filter.h>
#include <stockguard/policy.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__extension__ typedef __int128 i128;

#define DEFAULT_CASES 2000000ull
#define DEFAULT_SEED 0x5eed5106c0ffee01ull
#define QMAX STG_QUANTITY_MAX

/* Cases per policy: enough to amortise the setters, few enough to vary. */
enum { CHUNK = 64, NKEYS = 4 };

static const char *const sku_names[NKEYS] = { "s0", "s1", "s2", "s3" };
static const char *const cat_names[NKEYS] = { "c0", "c1", "c2", "c3" };

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Slight modulo bias is harmless here: coverage, not statistics. */
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static int64_t clamp128(i128 v)
{
	if (v > INT64_MAX)
		return INT64_MAX;
	if (v < INT64_MIN)
		return INT64_MIN;
	return (int64_t)v;
}

/* ---- the reference model ---- */

struct model {
	int64_t min, cap, window, heartbeat;
	int mode, allocation, drift;
	int64_t sku_min[NKEYS], cat_min[NKEYS];
	int sku_set[NKEYS], cat_set[NKEYS];
};

struct ref_eval {
	int64_t published, min;
	int source, rule;
	unsigned warnings;
};

/* key index -1 means no key (NULL). */
static void ref_resolve(const struct model *m, int sku, int cat, int64_t *min, int *source)
{
	if (sku >= 0 && m->sku_set[sku]) {
		*min = m->sku_min[sku];
		*source = STG_MIN_SKU;
	} else if (cat >= 0 && m->cat_set[cat]) {
		*min = m->cat_min[cat];
		*source = STG_MIN_CATEGORY;
	} else {
		*min = m->min;
		*source = STG_MIN_DEFAULT;
	}
}

static struct ref_eval ref_evaluate(const struct model *m, int sku, int cat, int64_t a)
{
	struct ref_eval e = { 0, 0, 0, STG_RULE_AVAILABLE, 0 };
	i128 q;

	ref_resolve(m, sku, cat, &e.min, &e.source);
	if (a < 0) {
		e.rule = STG_RULE_NEGATIVE;
		return e;
	}
	if (m->mode == STG_MODE_CUTOFF) {
		if (a <= e.min) {
			e.rule = STG_RULE_CUTOFF;
			e.warnings = a > 0 ? STG_WARN_MIN_STOCK_REACHED : 0;
			return e;
		}
		q = a;
	} else {
		q = (i128)a - e.min;
		if (q <= 0) {
			e.rule = STG_RULE_RESERVE;
			e.warnings = a > 0 ? STG_WARN_MIN_STOCK_REACHED : 0;
			return e;
		}
		if (e.min > 0)
			e.rule = STG_RULE_RESERVE;
	}
	if (m->allocation != 100) {
		i128 share = q * m->allocation / 100;
		if (share != q)
			e.rule = STG_RULE_ALLOCATION;
		q = share;
	}
	if (m->cap > 0 && q > m->cap) {
		q = m->cap;
		e.rule = STG_RULE_CAP;
	}
	e.published = (int64_t)q;
	return e;
}

static int ref_decide(const struct model *m, int has_from, int non_stock, int64_t p0, int64_t p1,
                      int64_t since, int *reason)
{
	i128 diff = (i128)p1 - p0;

	if (diff < 0)
		diff = -diff;
	if (!has_from) {
		*reason = STG_REASON_FIRST_SEEN;
		return STG_DECISION_EXPORT;
	}
	if (non_stock) {
		*reason = STG_REASON_NON_STOCK_CHANGE;
		return STG_DECISION_EXPORT;
	}
	if (p0 == p1) {
		*reason = STG_REASON_NO_CHANGE;
		return STG_DECISION_SKIP;
	}
	if (p0 <= m->window || p1 <= m->window) {
		*reason = STG_REASON_LOW_STOCK;
		return STG_DECISION_EXPORT;
	}
	if (m->drift > 0 && diff * 100 >= (i128)p0 * m->drift) {
		*reason = STG_REASON_DRIFT;
		return STG_DECISION_EXPORT;
	}
	if (m->heartbeat > 0 && since > m->heartbeat) {
		*reason = STG_REASON_HEARTBEAT;
		return STG_DECISION_EXPORT;
	}
	*reason = STG_REASON_OUTSIDE_WINDOW;
	return STG_DECISION_SKIP;
}

/* ---- the generator ---- */

static const int64_t extremes[] = {
	INT64_MIN, INT64_MIN + 1, -2, -1, 0, 1, 2, 5, 6, 99, 100, 101,
	QMAX - 1, QMAX, QMAX + 1, INT64_MAX / 2, INT64_MAX / 2 + 1, INT64_MAX - 1, INT64_MAX,
};
#define NEXTREMES (sizeof extremes / sizeof extremes[0])

/* A value for a setting in 0..QMAX. */
static int64_t gen_setting(void)
{
	switch (below(7)) {
	case 0: return 0;
	case 1: return (int64_t)below(16);
	case 2: return (int64_t)below(1000);
	case 3: return QMAX - (int64_t)below(3);
	case 4: return (int64_t)(rnd() & (uint64_t)QMAX);
	case 5: return (int64_t)(rnd() >> (below(62) + 2)); /* spread over magnitudes */
	default: return INT64_MAX / 4 + (int64_t)below(3) - 1;
	}
}

static int64_t near(int64_t v)
{
	return clamp128((i128)v + (i128)below(5) - 2);
}

/* An available quantity, biased toward the policy's edges for this key. */
static int64_t gen_available(const struct model *m, int64_t min)
{
	switch (below(12)) {
	case 0: return extremes[below(NEXTREMES)];
	case 1: return (int64_t)below(41) - 20;
	case 2: return near(min);
	case 3: /* at the window in published terms, for both modes */
		return m->mode == STG_MODE_CUTOFF ? near(m->window)
		                                  : near(clamp128((i128)min + m->window));
	case 4: return near(m->cap);
	case 5: return (int64_t)rnd();
	case 6: return (int64_t)(rnd() >> below(64));
	case 7: return -(int64_t)(rnd() >> (below(63) + 1));
	case 8: return (int64_t)below(1001);
	case 9: /* a share that rounds at a percent boundary */
		return clamp128((i128)below(1000) * 100 + (i128)below(3) - 1);
	case 10: return near(clamp128((i128)min + m->cap));
	default: return clamp128((i128)near(min) * 2);
	}
}

/* `to` relative to `from`: equal, a step away, or at the drift bound. */
static int64_t gen_to(const struct model *m, int64_t min, int64_t from)
{
	switch (below(6)) {
	case 0: return from;
	case 1: return near(from);
	case 2: { /* |to - from| at d% of from, +-1 */
		i128 step = (i128)(from < 0 ? 0 : from) * m->drift / 100 + (i128)below(3) - 1;
		return clamp128(below(2) ? (i128)from + step : (i128)from - step);
	}
	default: return gen_available(m, min);
	}
}

static int64_t gen_since(const struct model *m)
{
	switch (below(8)) {
	case 0: return -1;
	case 1: return INT64_MIN;
	case 2: return 0;
	case 3: return near(m->heartbeat);
	case 4: return INT64_MAX;
	case 5: return (int64_t)(rnd() >> 1);
	default: return (int64_t)below(100000);
	}
}

static void gen_model(struct model *m)
{
	int i;

	memset(m, 0, sizeof *m);
	m->min = below(3) ? (int64_t)below(20) : gen_setting();
	m->mode = (int)below(2);
	switch (below(4)) {
	case 0: m->allocation = 1 + (int)below(100); break;
	case 1: m->allocation = below(2) ? 1 : 99; break;
	default: m->allocation = 100; break;
	}
	m->cap = below(2) ? 0 : gen_setting();
	switch (below(4)) {
	case 0: m->window = gen_setting(); break;
	case 1: m->window = 0; break;
	default: m->window = 5; break;
	}
	switch (below(4)) {
	case 0: m->drift = 1 + (int)below(10000); break;
	case 1: m->drift = below(2) ? 1 : 10000; break;
	default: m->drift = 0; break;
	}
	switch (below(4)) {
	case 0: m->heartbeat = gen_setting(); break;
	case 1: m->heartbeat = below(2) ? 1 : INT64_MAX; break;
	default: m->heartbeat = 0; break;
	}
	/* Half the policies carry overrides, so resolution is exercised too. */
	if (below(2))
		for (i = 0; i < NKEYS - 1; i++) { /* the last key never has one */
			if ((m->sku_set[i] = below(2) != 0))
				m->sku_min[i] = below(2) ? (int64_t)below(20) : gen_setting();
			if ((m->cat_set[i] = below(2) != 0))
				m->cat_min[i] = below(2) ? (int64_t)below(20) : gen_setting();
		}
}

static void apply_model(stg_policy *p, const struct model *m)
{
	int i, rc;

	cr_assert_eq(stg_policy_set_min_stock(p, m->min), STG_OK);
	cr_assert_eq(stg_policy_set_mode(p, m->mode), STG_OK);
	cr_assert_eq(stg_policy_set_allocation(p, m->allocation), STG_OK);
	cr_assert_eq(stg_policy_set_cap(p, m->cap), STG_OK);
	cr_assert_eq(stg_policy_set_window(p, m->window), STG_OK);
	cr_assert_eq(stg_policy_set_drift(p, m->drift), STG_OK);
	cr_assert_eq(stg_policy_set_heartbeat(p, m->heartbeat), STG_OK);
	for (i = 0; i < NKEYS; i++) {
		rc = m->sku_set[i] ? stg_policy_set_sku_min(p, sku_names[i], m->sku_min[i])
		                   : stg_policy_clear_sku_min(p, sku_names[i]);
		cr_assert(rc == STG_OK || (!m->sku_set[i] && rc == STG_ENOTFOUND));
		rc = m->cat_set[i] ? stg_policy_set_category_min(p, cat_names[i], m->cat_min[i])
		                   : stg_policy_clear_category_min(p, cat_names[i]);
		cr_assert(rc == STG_OK || (!m->cat_set[i] && rc == STG_ENOTFOUND));
	}
}

/* ---- one chunk of cases ---- */

struct cases {
	int sku[CHUNK], cat[CHUNK];
	const char *skus[CHUNK], *cats[CHUNK];
	int64_t from[CHUNK], to[CHUNK], since[CHUNK];
	uint8_t has_from[CHUNK], non_stock[CHUNK];
};

static void gen_cases(const struct model *m, struct cases *c)
{
	int i;

	for (i = 0; i < CHUNK; i++) {
		int64_t min;
		int src;

		c->sku[i] = (int)below(NKEYS + 1) - 1;
		c->cat[i] = (int)below(NKEYS + 1) - 1;
		c->skus[i] = c->sku[i] < 0 ? NULL : sku_names[c->sku[i]];
		c->cats[i] = c->cat[i] < 0 ? NULL : cat_names[c->cat[i]];
		ref_resolve(m, c->sku[i], c->cat[i], &min, &src);
		c->from[i] = gen_available(m, min);
		c->to[i] = gen_to(m, min, c->from[i]);
		c->has_from[i] = below(10) != 0;
		c->non_stock[i] = below(10) == 0;
		c->since[i] = gen_since(m);
	}
}

static void report(const char *what, const struct model *m, const struct cases *c, int i,
                   uint64_t seed, uint64_t chunk)
{
	fprintf(stderr,
	        "MISMATCH in %s (seed %#" PRIx64 ", chunk %" PRIu64 ", item %d)\n"
	        "  policy: min %" PRId64 " mode %d allocation %d cap %" PRId64
	        " window %" PRId64 " drift %d heartbeat %" PRId64 "\n",
	        what, seed, chunk, i, m->min, m->mode, m->allocation, m->cap, m->window, m->drift,
	        m->heartbeat);
	fprintf(stderr,
	        "  change: sku %s cat %s from %" PRId64 " has_from %d to %" PRId64
	        " non_stock %d since %" PRId64 "\n",
	        c->skus[i] ? c->skus[i] : "NULL", c->cats[i] ? c->cats[i] : "NULL", c->from[i],
	        c->has_from[i], c->to[i], c->non_stock[i], c->since[i]);
	cr_assert_fail("%s disagrees with the model; details on stderr", what);
}

static int same_eval(const stg_evaluation *e, const struct ref_eval *r, int64_t a)
{
	size_t k;

	for (k = 0; k < sizeof e->reserved_ / sizeof e->reserved_[0]; k++)
		if (e->reserved_[k])
			return 0;
	return e->available == a && e->published == r->published && e->min_stock == r->min &&
	       e->min_source == r->source && e->rule == r->rule && e->warnings == r->warnings;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

static void check_chunk(const stg_policy *p, const struct model *m, const struct cases *c,
                        uint64_t seed, uint64_t chunk)
{
	uint8_t dec[CHUNK], rea[CHUNK], warn[CHUNK], ewarn[CHUNK];
	int64_t pub[CHUNK], epub[CHUNK];
	unsigned mask = (unsigned)below(64);
	/* Which optional batch inputs are passed this time (bit set = NULL). */
	int no_keys = mask & 1, no_has_from = mask & 2, no_non_stock = mask & 4,
	    no_since = mask & 8, no_cats = mask & 16;
	int i;

	for (i = 0; i < CHUNK; i++) {
		stg_change ch = STG_CHANGE_INIT;
		stg_filter_result r;
		stg_evaluation e;
		struct ref_eval r0, r1;
		int reason, d;

		ch.sku = c->skus[i];
		ch.category = c->cats[i];
		ch.from = c->from[i];
		ch.to = c->to[i];
		ch.since_export_ms = c->since[i];
		ch.flags = (c->has_from[i] ? STG_CHANGE_HAS_FROM : 0u) |
		           (c->non_stock[i] ? STG_CHANGE_NON_STOCK : 0u);
		r0 = ref_evaluate(m, c->sku[i], c->cat[i], c->from[i]);
		r1 = ref_evaluate(m, c->sku[i], c->cat[i], c->to[i]);
		d = ref_decide(m, c->has_from[i], c->non_stock[i], c->has_from[i] ? r0.published : 0,
		               r1.published, c->since[i], &reason);

		if (stg_filter_decide(p, &ch, &r) != STG_OK)
			report("stg_filter_decide status", m, c, i, seed, chunk);
		if (r.decision != d || r.reason != reason)
			report("stg_filter_decide decision/reason", m, c, i, seed, chunk);
		if (!same_eval(&r.to, &r1, c->to[i]))
			report("stg_filter_decide to-evaluation", m, c, i, seed, chunk);
		if (c->has_from[i] ? !same_eval(&r.from, &r0, c->from[i])
		                   : !all_zero(&r.from, sizeof r.from))
			report("stg_filter_decide from-evaluation", m, c, i, seed, chunk);
		if (!all_zero(r.reserved_, sizeof r.reserved_))
			report("stg_filter_decide reserved_", m, c, i, seed, chunk);

		if (stg_policy_evaluate(p, c->skus[i], c->cats[i], c->to[i], &e) != STG_OK ||
		    !same_eval(&e, &r1, c->to[i]))
			report("stg_policy_evaluate(to)", m, c, i, seed, chunk);
		if (stg_policy_evaluate(p, c->skus[i], c->cats[i], c->from[i], &e) != STG_OK ||
		    !same_eval(&e, &r0, c->from[i]))
			report("stg_policy_evaluate(from)", m, c, i, seed, chunk);
	}

	if (stg_filter_batch(p, CHUNK, no_keys ? NULL : c->skus,
	                     no_keys || no_cats ? NULL : c->cats, c->from,
	                     no_has_from ? NULL : c->has_from, c->to,
	                     no_non_stock ? NULL : c->non_stock, no_since ? NULL : c->since, dec, rea,
	                     pub, warn) != STG_OK)
		report("stg_filter_batch status", m, c, 0, seed, chunk);
	if (stg_policy_evaluate_batch(p, CHUNK, no_keys ? NULL : c->skus,
	                              no_keys || no_cats ? NULL : c->cats, c->to, epub,
	                              ewarn) != STG_OK)
		report("stg_policy_evaluate_batch status", m, c, 0, seed, chunk);
	for (i = 0; i < CHUNK; i++) {
		int sku = no_keys ? -1 : c->sku[i];
		int cat = no_keys || no_cats ? -1 : c->cat[i];
		int hf = no_has_from ? 1 : c->has_from[i];
		struct ref_eval r0 = ref_evaluate(m, sku, cat, c->from[i]);
		struct ref_eval r1 = ref_evaluate(m, sku, cat, c->to[i]);
		int reason, d = ref_decide(m, hf, no_non_stock ? 0 : c->non_stock[i],
		                           hf ? r0.published : 0, r1.published,
		                           no_since ? -1 : c->since[i], &reason);

		if (dec[i] != d || rea[i] != reason || pub[i] != r1.published ||
		    warn[i] != r1.warnings) {
			fprintf(stderr, "  batch inputs left NULL (mask): %#x\n", mask);
			report("stg_filter_batch", m, c, i, seed, chunk);
		}
		if (epub[i] != r1.published || ewarn[i] != r1.warnings) {
			fprintf(stderr, "  batch inputs left NULL (mask): %#x\n", mask);
			report("stg_policy_evaluate_batch", m, c, i, seed, chunk);
		}
	}
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return dflt;
	v = strtoull(s, &end, 0);
	cr_assert(*end == '\0', "%s=%s is not a number", name, s);
	return (uint64_t)v;
}

static double now_s(void)
{
	struct timespec ts;

	timespec_get(&ts, TIME_UTC);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(filter_property, library_agrees_with_model, .timeout = 600)
{
	uint64_t want = env_u64("STG_PROPERTY_CASES", DEFAULT_CASES);
	uint64_t seed = env_u64("STG_PROPERTY_SEED", DEFAULT_SEED);
	uint64_t done = 0, chunk = 0;
	stg_policy *p = NULL;
	struct model m;
	struct cases c;
	double t0 = now_s();

	rng_state = seed;
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	while (done < want) {
		gen_model(&m);
		apply_model(p, &m);
		gen_cases(&m, &c);
		check_chunk(p, &m, &c, seed, chunk);
		/* A chunk is CHUNK cases; the count rounds up to whole chunks. */
		done += CHUNK;
		chunk++;
	}
	stg_policy_free(p);
	fprintf(stderr,
	        "filter property: %" PRIu64 " cases checked against the model "
	        "(seed %#" PRIx64 ", %.2f s)\n",
	        done, seed, now_s() - t0);
}

/*
 * The generator must reach every reason and every rule, or the run proves
 * less than it says.
 */
Test(filter_property, generator_reaches_every_row)
{
	uint64_t seen[STG_REASON_COUNT] = { 0 }, rules[STG_RULE_CAP + 1] = { 0 };
	stg_policy *p = NULL;
	struct model m;
	struct cases c;
	int chunk, i, r;

	rng_state = DEFAULT_SEED;
	cr_assert_eq(stg_policy_new(&p, NULL), STG_OK);
	for (chunk = 0; chunk < 2000; chunk++) {
		gen_model(&m);
		apply_model(p, &m);
		gen_cases(&m, &c);
		for (i = 0; i < CHUNK; i++) {
			stg_change ch = STG_CHANGE_INIT;
			stg_filter_result res;

			ch.sku = c.skus[i];
			ch.category = c.cats[i];
			ch.from = c.from[i];
			ch.to = c.to[i];
			ch.since_export_ms = c.since[i];
			ch.flags = (c.has_from[i] ? STG_CHANGE_HAS_FROM : 0u) |
			           (c.non_stock[i] ? STG_CHANGE_NON_STOCK : 0u);
			cr_assert_eq(stg_filter_decide(p, &ch, &res), STG_OK);
			seen[res.reason]++;
			rules[res.to.rule]++;
		}
	}
	stg_policy_free(p);
	for (r = STG_REASON_FIRST_SEEN; r <= STG_REASON_HEARTBEAT; r++) {
		fprintf(stderr, "  %-17s %" PRIu64 "\n", stg_reason_name(r), seen[r]);
		cr_assert_gt(seen[r], 100u, "reason %s reached only %" PRIu64 " times",
		             stg_reason_name(r), seen[r]);
	}
	for (r = STG_RULE_AVAILABLE; r <= STG_RULE_CAP; r++) {
		fprintf(stderr, "  rule %-12s %" PRIu64 "\n", stg_rule_name(r), rules[r]);
		cr_assert_gt(rules[r], 100u, "rule %s reached only %" PRIu64 " times",
		             stg_rule_name(r), rules[r]);
	}
}
