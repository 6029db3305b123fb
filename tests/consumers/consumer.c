/*
 * consumer: a program built outside the project against an installed
 * stockguard (pkg-config, shared and static). It uses the threshold
 * evaluator, the export-change filter and the integration log, and checks
 * that the library it runs with is the version of the headers it was
 * compiled with. Prints "consumer: ok <version>" and exits 0 on success.
 */
#include <stockguard.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "consumer: %s:%d: %s failed (%s)\n", \
			        __FILE__, __LINE__, #cond, stg_last_error()); \
			failures++;                                          \
		}                                                            \
	} while (0)

static int sent;

static int send_job(const stg_job *job, stg_job_result *result, void *payload)
{
	(void)payload;
	sent++;
	CHECK(strcmp(job->sku, "SKU-1") == 0);
	result->outcome = STG_OUTCOME_OK;
	return 0;
}

int main(void)
{
	stg_policy *policy = NULL;
	stg_evaluation ev;
	stg_change change = STG_CHANGE_INIT;
	stg_filter_result fr;
	stg_transport transport = STG_TRANSPORT_INIT;
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	stg_submit submit = STG_SUBMIT_INIT;
	stg_submit_result sr;
	stg_entry entry;
	stg_log *log = NULL;
	int major = -1, minor = -1, patch = -1;

	/* The run-time library is the one the headers describe. */
	CHECK(stg_version_number() == STG_VERSION_NUM);
	CHECK(strcmp(stg_version_string(), STG_VERSION_STRING) == 0);
	stg_version(&major, &minor, &patch);
	CHECK(major == STG_VERSION_MAJOR && minor == STG_VERSION_MINOR && patch == STG_VERSION_PATCH);

	/* Policy: a minimum of 10 publishes 0 at or below it. */
	CHECK(stg_policy_new(&policy, NULL) == STG_OK);
	if (!policy)
		return 1;
	CHECK(stg_policy_set_min_stock(policy, 10) == STG_OK);
	CHECK(stg_policy_evaluate(policy, "SKU-1", NULL, 9, &ev) == STG_OK);
	CHECK(ev.published == 0 && ev.rule == STG_RULE_CUTOFF);
	CHECK(ev.warnings & STG_WARN_MIN_STOCK_REACHED);
	CHECK(stg_policy_evaluate(policy, "SKU-1", NULL, 40, &ev) == STG_OK);
	CHECK(ev.published == 40);

	/* Filter: 12 -> 9 publishes 12 -> 0, so it goes out (low stock). */
	change.flags = STG_CHANGE_HAS_FROM;
	change.from = 12;
	change.to = 9;
	CHECK(stg_filter_decide(policy, &change, &fr) == STG_OK);
	CHECK(fr.decision == STG_DECISION_EXPORT && fr.reason == STG_REASON_LOW_STOCK);
	CHECK(fr.to.published == 0);

	/* Log: submit, pump through the transport, read the entry back. */
	transport.send = send_job;
	options.transport = &transport;
	CHECK(stg_log_open(&log, &options) == STG_OK);
	if (!log) {
		stg_policy_free(policy);
		return 1;
	}
	CHECK(stg_log_set_policy(log, "amazon", policy) == STG_OK);
	submit.integration = "amazon";
	submit.sku = "SKU-1";
	submit.available = 9;
	submit.sequence = 1;
	CHECK(stg_log_submit(log, &submit, &sr) == STG_OK);
	CHECK(sr.decision == STG_DECISION_EXPORT && sr.published == 0);
	CHECK(stg_log_pump(log, 0, NULL) == STG_OK);
	CHECK(sent == 1);
	CHECK(stg_log_get(log, "amazon", "SKU-1", &entry) == STG_OK);
	CHECK(entry.status == STG_ENTRY_SUCCESS && entry.acked == 0);

	stg_log_close(log);
	stg_policy_free(policy);
	if (failures)
		return 1;
	printf("consumer: ok %s\n", stg_version_string());
	return 0;
}
