/*
 * minimal: the smallest stockguard program that evaluates, filters and logs.
 *
 * One integration ("amazon") with a minimum stock of 10; the log keeps its
 * entries in memory (no storage hook) and hands jobs to a transport that
 * acknowledges everything. Three stock changes of one SKU go in; each is
 * submitted, the log is pumped, and the SKU's entry is printed.
 *
 * Output (checked by tests/examples/minimal.golden):
 *   submit 12: export first_seen published 12
 *   sent 12 for SKU-1
 *   SKU-1: success available 12 published 12 acked 12
 *   submit 30: skip outside_window published 30
 *   SKU-1: success available 30 published 30 acked 12
 *   submit 9: export low_stock published 0 (min_stock_reached)
 *   sent 0 for SKU-1
 *   SKU-1: success available 9 published 0 acked 0
 * 12 -> 30 is not worth an API call (both above the window of 5): the
 * marketplace keeps 12 (acked). 9 is at or below the minimum, so 0 is
 * published at once.
 */
#include <stockguard.h>

#include <inttypes.h>
#include <stdio.h>

/* The marketplace: print what it is told and acknowledge it. */
static int send_job(const stg_job *job, stg_job_result *result, void *payload)
{
	(void)payload;
	printf("sent %" PRId64 " for %s\n", job->published, job->sku);
	result->outcome = STG_OUTCOME_OK;
	return 0;
}

static int check(int rc, const char *what)
{
	if (rc != STG_OK)
		fprintf(stderr, "minimal: %s: %s (%s)\n", what, stg_strerror(rc), stg_last_error());
	return rc;
}

int main(void)
{
	static const int64_t stock[] = { 12, 30, 9 }; /* 9 is below the minimum */
	stg_transport transport = STG_TRANSPORT_INIT;
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	stg_policy *policy = NULL;
	stg_log *log = NULL;
	size_t i;
	int rc;

	transport.send = send_job;
	options.transport = &transport;

	if ((rc = check(stg_policy_new(&policy, NULL), "policy")) ||
	    (rc = check(stg_policy_set_min_stock(policy, 10), "min stock")) ||
	    (rc = check(stg_log_open(&log, &options), "open")) ||
	    (rc = check(stg_log_set_policy(log, "amazon", policy), "set policy")))
		goto out;

	for (i = 0; i < sizeof stock / sizeof stock[0]; i++) {
		stg_submit change = STG_SUBMIT_INIT;
		stg_submit_result res;
		stg_entry entry;

		change.integration = "amazon";
		change.sku = "SKU-1";
		change.available = stock[i];
		change.sequence = (int64_t)i + 1;
		if ((rc = check(stg_log_submit(log, &change, &res), "submit")))
			goto out;
		printf("submit %" PRId64 ": %s %s published %" PRId64 "%s\n", stock[i],
		       stg_decision_name(res.decision), stg_reason_name(res.reason), res.published,
		       (res.warnings & STG_WARN_MIN_STOCK_REACHED) ? " (min_stock_reached)" : "");
		if ((rc = check(stg_log_pump(log, 0, NULL), "pump")) ||
		    (rc = check(stg_log_get(log, "amazon", "SKU-1", &entry), "get")))
			goto out;
		printf("%s: %s available %" PRId64 " published %" PRId64 " acked %" PRId64 "\n",
		       entry.sku, stg_entry_status_name(entry.status), entry.available,
		       entry.published, entry.acked);
	}
out:
	stg_log_close(log);
	stg_policy_free(policy);
	return rc == STG_OK ? 0 : 1;
}
