/*
 * sqlite-store-demo: the integration log kept in SQLite across restarts.
 *
 *   sqlite-store-demo DB
 *
 * DB should not exist yet (a second run on the same file shows its changes
 * as stale: they are older than those stored).
 *
 *  1. The connector starts and the marketplace is unreachable: the stock
 *     file goes into the log with one stg_log_submit_batch(), which the log
 *     makes one store transaction (one fsync), the pump fails, and the
 *     connector stops. The jobs are in the database.
 *  2. It starts again: the log loads the jobs from the database, the
 *     marketplace is back and acknowledges them. Two changes arrive one at
 *     a time (a webhook) and go in one transaction with stg_log_begin() /
 *     stg_log_commit(); a SKU that sold out is exported; a discontinued
 *     SKU's log line is removed.
 *  3. A last start shows what the database holds.
 *
 * Exit status 0, or 1 with a message on stderr.
 */
#include "sqlite_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const integration = "amazon";

/* The marketplace: when up, print what it is told and acknowledge it. */
static int marketplace_send(const stg_job *job, stg_job_result *result, void *payload)
{
	const int *up = payload;

	if (!*up)
		return -1; /* no connection: the log keeps the job queued */
	printf("  marketplace: %s %s = %" PRId64 "%s\n", job->integration, job->sku, job->published,
	       (job->flags & STG_JOB_FLAG_MIN_STOCK_REACHED) ? " (min stock reached)" : "");
	result->outcome = STG_OUTCOME_OK;
	return 0;
}

struct app {
	sqlite_store *store;
	stg_log *log;
	stg_policy *policy;
	int up;
};

static int fail(struct app *a, const char *what, int rc)
{
	fprintf(stderr, "sqlite-store-demo: %s: %s", what, stg_strerror(rc));
	if (a->log)
		fprintf(stderr, " (%s)", stg_log_errmsg(a->log));
	if (a->store && sqlite_store_errmsg(a->store)[0])
		fprintf(stderr, " [store: %s]", sqlite_store_errmsg(a->store));
	fputc('\n', stderr);
	return 1;
}

static void stop(struct app *a)
{
	stg_log_close(a->log); /* the log first: its hook points at the store */
	sqlite_store_close(a->store);
	a->log = NULL;
	a->store = NULL;
}

static int start(struct app *a, const char *path)
{
	stg_storage storage;
	stg_transport transport = STG_TRANSPORT_INIT;
	stg_log_options options = STG_LOG_OPTIONS_INIT;
	int rc;

	if (sqlite_store_open(&a->store, path) != 0) {
		fprintf(stderr, "sqlite-store-demo: %s: %s\n", path, sqlite_store_errmsg(a->store));
		return 1;
	}
	sqlite_store_hook(a->store, &storage);
	transport.send = marketplace_send;
	transport.payload = &a->up;
	options.storage = &storage;
	options.transport = &transport;
	if ((rc = stg_log_open(&a->log, &options)) != STG_OK) {
		fprintf(stderr, "sqlite-store-demo: open: %s (%s) [store: %s]\n", stg_strerror(rc),
		        stg_last_error(), sqlite_store_errmsg(a->store));
		return 1;
	}
	if ((rc = stg_log_set_policy(a->log, integration, a->policy)) != STG_OK)
		return fail(a, "policy", rc);
	return 0;
}

static int show(struct app *a)
{
	stg_entry page[4];
	uint64_t cursor = 0;
	size_t n, i;
	int rc;

	printf("  log (%lld rows in the table):\n", sqlite_store_count(a->store));
	for (;;) {
		if ((rc = stg_log_query(a->log, NULL, &cursor, page, 4, &n)) != STG_OK)
			return fail(a, "query", rc);
		if (n == 0)
			return 0;
		for (i = 0; i < n; i++) {
			const stg_entry *e = &page[i];
			printf("    %-6s %-10s %-7s available %3" PRId64 " published %3" PRId64, e->integration,
			       e->sku, stg_entry_status_name(e->status), e->available, e->published);
			if (e->flags & STG_ENTRY_HAS_ACKED)
				printf(" acked %3" PRId64, e->acked);
			if (e->job_state != STG_JOB_NONE)
				printf(" job %s", stg_job_state_name(e->job_state));
			putchar('\n');
		}
	}
}

static int submit(struct app *a, const char *sku, int64_t available, int64_t seq)
{
	stg_submit s = STG_SUBMIT_INIT;
	stg_submit_result r;
	int rc;

	s.integration = integration;
	s.sku = sku;
	s.available = available;
	s.sequence = seq;
	if ((rc = stg_log_submit(a->log, &s, &r)) != STG_OK)
		return fail(a, "submit", rc);
	printf("  submit %s %" PRId64 ": %s (%s), publishes %" PRId64 "\n", sku, available,
	       stg_decision_name(r.decision), stg_reason_name(r.reason), r.published);
	return 0;
}

static int run(struct app *a, const char *path)
{
	static const struct { const char *sku; int64_t available; } stock[] = {
		{ "MUG-RED", 40 }, { "MUG-BLUE", 4 }, { "CAP-M", 12 }, { "CAP-L", 2 }, { "OLD-BAG", 7 },
	};
	stg_submit batch[sizeof stock / sizeof stock[0]];
	size_t i, done, sent;
	int rc;

	printf("1. start; the marketplace is unreachable\n");
	if (start(a, path))
		return 1;
	for (i = 0; i < sizeof stock / sizeof stock[0]; i++) {
		stg_submit s = STG_SUBMIT_INIT;
		s.integration = integration;
		s.sku = stock[i].sku;
		s.available = stock[i].available;
		s.sequence = 1;
		batch[i] = s;
	}
	/* The whole stock file in one call: the log makes it one store
	 * transaction (one fsync, not five), durable when the call returns. */
	rc = stg_log_submit_batch(a->log, batch, sizeof batch / sizeof batch[0], NULL, &done);
	if (rc != STG_OK)
		return fail(a, "submit batch", rc);
	printf("  submitted %zu changes in one transaction\n", done);
	rc = stg_log_pump(a->log, 0, &sent);
	printf("  pump: %s, %zu sent\n", stg_strerror(rc), sent);
	if (rc != STG_ETRANSPORT)
		return fail(a, "pump should have failed", rc);
	if (show(a))
		return 1;
	stop(a);

	printf("2. restart; the marketplace is back\n");
	a->up = 1;
	if (start(a, path) || show(a))
		return 1;
	if ((rc = stg_log_pump(a->log, 0, &sent)) != STG_OK)
		return fail(a, "pump", rc);
	printf("  pump: %zu sent\n", sent);
	/* Changes that come one at a time, grouped: one fsync at the commit.
	 * Had the commit failed, the log would have undone both in memory. */
	if ((rc = stg_log_begin(a->log)) != STG_OK)
		return fail(a, "begin", rc);
	if (submit(a, "CAP-M", 1, 2) || submit(a, "MUG-RED", 35, 2))
		return 1;
	if ((rc = stg_log_commit(a->log)) != STG_OK)
		return fail(a, "commit", rc);
	if ((rc = stg_log_pump(a->log, 0, &sent)) != STG_OK)
		return fail(a, "pump", rc);
	printf("  pump: %zu sent\n", sent);
	if ((rc = stg_log_remove(a->log, integration, "OLD-BAG", 0)) != STG_OK)
		return fail(a, "remove", rc);
	printf("  removed OLD-BAG\n");
	stop(a);

	printf("3. restart\n");
	if (start(a, path) || show(a))
		return 1;
	stop(a);
	return 0;
}

int main(int argc, char **argv)
{
	struct app a;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: sqlite-store-demo DB\n");
		return 2;
	}
	memset(&a, 0, sizeof a);
	/* Minimum 3 on the marketplace: CAP-L (2) publishes 0. */
	if ((rc = stg_policy_new(&a.policy, NULL)) != STG_OK ||
	    (rc = stg_policy_set_min_stock(a.policy, 3)) != STG_OK) {
		fprintf(stderr, "sqlite-store-demo: policy: %s\n", stg_strerror(rc));
		return 1;
	}
	rc = run(&a, argv[1]);
	stop(&a);
	stg_policy_free(a.policy);
	return rc;
}
