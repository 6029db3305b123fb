/*
 * The explanation of an evaluation, or of a log entry, in words: what the
 * Python binding and the replay tool show a merchant. One place, so every
 * way in says the same.
 */
#include "versions.h"
#include "stockguard/marketplace.h"
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

/*
 * Why @ev publishes what it does, into why[0..cap). @known_min is 0 for an
 * entry, which records where its minimum came from but not its value: the
 * sentences that would name the value name its source only.
 */
static void reason_text(const stg_evaluation *ev, int known_min, char *why, size_t cap)
{
	char tmp[32], mtext[48];
	const char *src = source_text(ev->min_source, tmp, sizeof tmp);
	int64_t a = ev->available, m = ev->min_stock;

	if (known_min)
		snprintf(mtext, sizeof mtext, "the minimum stock %" PRId64, m);
	else
		snprintf(mtext, sizeof mtext, "the minimum stock");
	switch (ev->rule) {
	case STG_RULE_NEGATIVE:
		snprintf(why, cap, "available %" PRId64 " is negative (oversold)", a);
		break;
	case STG_RULE_CUTOFF:
		snprintf(why, cap, "available %" PRId64 " is at or below %s (%s)", a, mtext, src);
		break;
	case STG_RULE_RESERVE:
		snprintf(why, cap, "%s (%s) is held back from available %" PRId64, mtext, src, a);
		break;
	case STG_RULE_ALLOCATION:
		snprintf(why, cap,
		         "only the integration's allocation share of available %" PRId64 " is offered", a);
		break;
	case STG_RULE_CAP:
		snprintf(why, cap, "the integration's cap was reached (available %" PRId64 ")", a);
		break;
	case STG_RULE_AVAILABLE:
		snprintf(why, cap, "available %" PRId64 " is above %s (%s)", a, mtext, src);
		break;
	default:
		snprintf(why, cap, "rule %d", ev->rule);
		break;
	}
}

/* "publishes P: WHY[; warning]" into the caller's buffer, like snprintf(). */
static int sentence(const char *fn, const stg_evaluation *ev, const char *why, char *buf, size_t cap,
                    size_t *len)
{
	int n = snprintf(buf, cap, "publishes %" PRId64 ": %s%s", ev->published, why,
	             (ev->warnings & STG_WARN_MIN_STOCK_REACHED) ? "; warning: min_stock_reached" : "");
	if (len)
		*len = (size_t)n;
	if ((size_t)n >= cap)
		return stg__fail(NULL, STG_EOVERFLOW, "%s: %d bytes do not fit in %zu", fn, n + 1, cap);
	return STG_OK;
}

STG_EXTERN int stg_evaluation_explain(const stg_evaluation *ev, char *buf, size_t cap, size_t *len)
{
	char why[200];

	if (!ev || (!buf && cap))
		return stg__fail(NULL, STG_EINVAL, "stg_evaluation_explain: NULL %s",
		                 ev ? "buffer" : "evaluation");
	reason_text(ev, 1, why, sizeof why);
	return sentence("stg_evaluation_explain", ev, why, buf, cap, len);
}

STG_EXTERN int stg_entry_explain(const stg_entry *e, char *buf, size_t cap, size_t *len)
{
	stg_evaluation ev;
	char why[200];
	int rc;

	if (!e || (!buf && cap))
		return stg__fail(NULL, STG_EINVAL, "stg_entry_explain: NULL %s", e ? "buffer" : "entry");
	if ((rc = stg__version_check(NULL, "stg_entry_explain", &stg__v_entry, e)))
		return rc;
	memset(&ev, 0, sizeof ev);
	ev.available = e->available;
	ev.published = e->published;
	ev.min_source = e->version >= 2 ? e->min_source : -1;
	ev.rule = e->version >= 2 ? e->rule : -1;
	ev.warnings = (e->flags & STG_ENTRY_MIN_STOCK_REACHED) ? STG_WARN_MIN_STOCK_REACHED : 0;
	if (ev.rule < 0)
		snprintf(why, sizeof why, "the entry has not recorded why (stored before 1.1; its next "
		         "change records it)");
	else
		reason_text(&ev, 0, why, sizeof why);
	return sentence("stg_entry_explain", &ev, why, buf, cap, len);
}
