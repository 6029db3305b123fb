/*
 * The values of stockguard-replay's options (see options.h): each is read
 * by one function, for the command line and for --sweep alike.
 */
#include "options.h"

#include <stockguard.h>

#include <inttypes.h>
#include <string.h>

#include "i18n.h"
#include "util.h"

/* A quantity option value: 0 .. STG_QUANTITY_MAX. 0, or EXIT_BAD. */
static int parse_quantity_opt(const char *opt, const char *v, int64_t *out)
{
	int64_t q;
	int rc = parse_int64(v, strlen(v), 1, &q);

	if (rc == NUM_OK && q >= 0 && q <= STG_QUANTITY_MAX) {
		*out = q;
		return 0;
	}
	if (rc == NUM_SYNTAX)
		errorq(v, strlen(v), " is not an integer", "%s: ", opt);
	else if (rc == NUM_OK && q < 0)
		errorq(v, strlen(v), " is negative (must be 0 or more)", "%s: ", opt);
	else
		errorq(v, strlen(v), "", "%s: must be at most %" PRId64 ", got ", opt,
		       (int64_t)STG_QUANTITY_MAX);
	usage_hint();
	return EXIT_BAD;
}

/* The INTEGRATION of "INTEGRATION=VALUE" (@p len bytes of @p v). 0, or EXIT_BAD with a message. */
static int check_integration_opt(const char *opt, const char *v, size_t len)
{
	const char *why = check_text(v, len, STG_KEY_MAX);

	if (!why && memchr(v, ',', len))
		why = "contains a comma";
	if (!why)
		return 0;
	errorq(v, len, "", "%s: the integration name %s: ", opt, why);
	usage_hint();
	return EXIT_BAD;
}

/* --min-stock N or --min-stock INTEGRATION=N (split at the last '='). 0, or the exit status. */
static int parse_min_stock(struct options *o, const char *v)
{
	const char *eq = strrchr(v, '=');
	struct node *n;
	size_t len;
	int64_t q;

	if (!eq)
		return parse_quantity_opt("--min-stock", v, &o->min_stock);
	len = (size_t)(eq - v);
	if (check_integration_opt("--min-stock", v, len))
		return EXIT_BAD;
	if (parse_quantity_opt("--min-stock", eq + 1, &q))
		return EXIT_BAD;
	n = table_find(&o->per_min, v, len);
	if (!n) {
		n = table_add(&o->per_min, v, len);
		if (!n) {
			errorf("out of memory");
			return EXIT_INTERNAL;
		}
		n->num[1] = (int64_t)o->per_min_order++;
	}
	n->num[0] = q; /* the last one given wins */
	return 0;
}

/* A rate "N/s" (N from 1 to 1000000). 0, or EXIT_BAD with a message. */
static int parse_rate_value(const char *v, size_t len, int64_t *out)
{
	int64_t q;

	if (len < 3 || memcmp(v + len - 2, "/s", 2) != 0 ||
	    parse_int64(v, len - 2, 0, &q) != NUM_OK) {
		errorq(v, len, " is not a rate (expected N/s, e.g. 5/s)", "--rate: ");
		usage_hint();
		return EXIT_BAD;
	}
	if (q < 1 || q > 1000000) {
		errorq(v, len, " must be from 1/s to 1000000/s", "--rate: ");
		usage_hint();
		return EXIT_BAD;
	}
	*out = q;
	return 0;
}

/* --rate N/s or --rate INTEGRATION=N/s. 0, or the exit status. */
static int parse_rate(struct options *o, const char *v)
{
	const char *eq = strrchr(v, '=');
	struct node *n;
	size_t len;
	int64_t q;

	o->market = 1;
	if (!eq)
		return parse_rate_value(v, strlen(v), &o->rate);
	len = (size_t)(eq - v);
	if (check_integration_opt("--rate", v, len))
		return EXIT_BAD;
	if (parse_rate_value(eq + 1, strlen(eq + 1), &q))
		return EXIT_BAD;
	n = table_get(&o->per_rate, v, len);
	if (!n) {
		errorf("out of memory");
		return EXIT_INTERNAL;
	}
	n->num[0] = q;
	return 0;
}

/* A duration in milliseconds: 0 .. one year, so clock sums cannot overflow. */
static int parse_ms_opt(const char *opt, const char *v, int64_t *out)
{
	int64_t q;

	if (parse_quantity_opt(opt, v, &q))
		return EXIT_BAD;
	if (q > INT64_C(31536000000)) {
		errorq(v, strlen(v), " ms is more than a year", "%s: ", opt);
		usage_hint();
		return EXIT_BAD;
	}
	*out = q;
	return 0;
}

static int parse_lang(struct options *o, const char *v)
{
	o->lang = lang_parse(v);
	if (o->lang >= 0)
		return 0;
	errorq(v, strlen(v), " (expected en, pt or es)", "--lang: unknown language ");
	usage_hint();
	return EXIT_BAD;
}

/* Options with a value, in the order of set_option()'s cases. */
static const char *const with_value[] = {
	"--min-stock", "--window", "--mode", "--cap", "--report", "--rate", "--latency",
	"--latency-limit", "--sweep", "--lang"
};
/* One name per option of options.h; the compiler checks the count. */
typedef char options_count_check[sizeof with_value / sizeof *with_value == NOPTIONS ? 1 : -1];
enum { NWITH = NOPTIONS };

static int parse_sweep(struct options *o, const char *v);

int set_option(struct options *o, size_t k, const char *v)
{
	switch (k) {
	case 0:
		return parse_min_stock(o, v);
	case 1:
		return parse_quantity_opt("--window", v, &o->window);
	case 2:
		if (strcmp(v, "cutoff") == 0) {
			o->mode = STG_MODE_CUTOFF;
		} else if (strcmp(v, "reserve") == 0) {
			o->mode = STG_MODE_RESERVE;
		} else {
			errorq(v, strlen(v), " (expected cutoff or reserve)", "--mode: unknown mode ");
			usage_hint();
			return EXIT_BAD;
		}
		return 0;
	case 3:
		return parse_quantity_opt("--cap", v, &o->cap);
	case 4:
		if (!*v) {
			errorf("--report: the file name is empty");
			usage_hint();
			return EXIT_BAD;
		}
		o->report = v;
		return 0;
	case 5:
		return parse_rate(o, v);
	case 6:
		o->market = 1;
		return parse_ms_opt("--latency", v, &o->latency_ms);
	case 7:
		return parse_ms_opt("--latency-limit", v, &o->latency_limit_ms);
	case 8:
		return parse_sweep(o, v);
	default:
		return parse_lang(o, v);
	}
}

size_t setting_index(const char *setting)
{
	size_t k;

	for (k = 0; k < NWITH; k++)
		if (strcmp(with_value[k] + 2, setting) == 0)
			break;
	return k;
}

/*
 * --sweep SETTING=V1,V2,...: every value is tried on a scratch copy of the
 * options now, so a bad value stops the tool before any run.
 */
static int parse_sweep(struct options *o, const char *v)
{
	const char *why = NULL;
	const struct sweep_axis *a;
	size_t i;
	int rc = sweep_add(&o->sweep, v, &why);

	if (rc == -2) {
		errorf("out of memory");
		return EXIT_INTERNAL;
	}
	if (rc) {
		errorq(v, strlen(v), "", "--sweep: %s: ", why);
		usage_hint();
		return EXIT_BAD;
	}
	for (a = o->sweep.axes; a < o->sweep.axes + o->sweep.n; a++)
		if (strncmp(v, a->setting, strlen(a->setting)) == 0 && v[strlen(a->setting)] == '=')
			break;
	for (i = 0; i < a->n; i++) {
		struct options scratch = *o;
		memset(&scratch.per_min, 0, sizeof scratch.per_min);
		memset(&scratch.per_rate, 0, sizeof scratch.per_rate);
		rc = set_option(&scratch, setting_index(a->setting), a->values[i]);
		table_free(&scratch.per_min, NULL);
		table_free(&scratch.per_rate, NULL);
		if (rc)
			return rc;
	}
	if (sweep_runs(&o->sweep) > SWEEP_MAX_RUNS) {
		errorf("--sweep: more than %d combinations", SWEEP_MAX_RUNS);
		usage_hint();
		return EXIT_BAD;
	}
	return 0;
}

size_t option_find(const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < NWITH; k++)
		if (strlen(with_value[k]) == len && strncmp(name, with_value[k], len) == 0)
			break;
	return k;
}

const char *option_name(size_t k)
{
	return with_value[k];
}
