/*
 * The explanation of an evaluation in words: what the Python binding and
 * the replay tool show a merchant. One place, so every way in says the same.
 */
#include "internal.h"
#include "stockguard/policy.h"

#include <inttypes.h>
#include <stdio.h>

static const char *source_text(int source, char *tmp, size_t cap)
{
	switch (source) {
	case STG_MIN_DEFAULT: return "the integration's minimum";
	case STG_MIN_CATEGORY: return "the category's minimum";
	case STG_MIN_SKU: return "the SKU's minimum";
	default:
		snprintf(tmp, cap, "minimum source %d", source);
		return tmp;
	}
}

STG_EXTERN int stg_evaluation_explain(const stg_evaluation *ev, char *buf, size_t cap, size_t *len)
{
	char why[200], tmp[32];
	const char *src;
	int64_t a, m;
	int n;

	if (!ev || (!buf && cap))
		return stg__fail(NULL, STG_EINVAL, "stg_evaluation_explain: NULL %s",
		                 ev ? "buffer" : "evaluation");
	a = ev->available;
	m = ev->min_stock;
	src = source_text(ev->min_source, tmp, sizeof tmp);
	switch (ev->rule) {
	case STG_RULE_NEGATIVE:
		snprintf(why, sizeof why, "available %" PRId64 " is negative (oversold)", a);
		break;
	case STG_RULE_CUTOFF:
		snprintf(why, sizeof why, "available %" PRId64 " is at or below the minimum stock %" PRId64 " (%s)",
		         a, m, src);
		break;
	case STG_RULE_RESERVE:
		snprintf(why, sizeof why, "the minimum stock %" PRId64 " (%s) is held back from available %" PRId64,
		         m, src, a);
		break;
	case STG_RULE_ALLOCATION:
		snprintf(why, sizeof why,
		         "only the integration's allocation share of available %" PRId64 " is offered", a);
		break;
	case STG_RULE_CAP:
		snprintf(why, sizeof why, "the integration's cap was reached (available %" PRId64 ")", a);
		break;
	case STG_RULE_AVAILABLE:
		snprintf(why, sizeof why, "available %" PRId64 " is above the minimum stock %" PRId64 " (%s)",
		         a, m, src);
		break;
	default:
		snprintf(why, sizeof why, "rule %d", ev->rule);
		break;
	}
	n = snprintf(buf, cap, "publishes %" PRId64 ": %s%s", ev->published, why,
	             (ev->warnings & STG_WARN_MIN_STOCK_REACHED) ? "; warning: min_stock_reached" : "");
	if (len)
		*len = (size_t)n;
	if ((size_t)n >= cap)
		return stg__fail(NULL, STG_EOVERFLOW, "stg_evaluation_explain: %d bytes do not fit in %zu",
		                 n + 1, cap);
	return STG_OK;
}
