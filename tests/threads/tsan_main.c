/*
 * The thread scenarios as a plain program (no Criterion: it forks and runs
 * threads of its own, noise under ThreadSanitizer). tools/tsan.sh builds it
 * with -fsanitize=thread; the normal build runs it too (test threads_plain).
 *
 * Exit status 0 when every scenario passed, 1 otherwise. Under TSan a report
 * ends the process with TSAN_OPTIONS' exitcode (tools/tsan.sh: 66).
 */
#include "scenarios.h"

#include <stdio.h>
#include <time.h>

static double seconds(void)
{
	struct timespec ts;

	timespec_get(&ts, TIME_UTC);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	thr_sizes sz = thr_sizes_default();
	int failures = 0, i;
	struct {
		const char *name;
		int which;
	} runs[] = {
		{ "shared policy read by many threads", 0 },
		{ "one log per thread", 1 },
		{ "one log shared under the host's mutex", 2 },
		{ "last error is per thread", 3 },
		{ "calls from every hook refused", 4 },
		{ "calls from hooks refused in every thread", 5 },
	};

	printf("# threads: %d, policy items %d x %d rounds, log rounds %d, shared ops %d, "
	       "error iterations %d\n", sz.threads, sz.policy_items, sz.policy_rounds,
	       sz.log_rounds, sz.shared_ops, sz.error_iters);
	for (i = 0; i < (int)(sizeof runs / sizeof runs[0]); i++) {
		thr_err err = { 0, "" };
		double t = seconds();
		int rc;

		switch (runs[i].which) {
		case 0: rc = thr_policy_shared(&sz, &err); break;
		case 1: rc = thr_logs_private(&sz, &err); break;
		case 2: rc = thr_log_shared(&sz, &err); break;
		case 3: rc = thr_last_error(&sz, &err); break;
		case 4: rc = thr_reentrancy(&err); break;
		default: rc = thr_reentrancy_parallel(&sz, &err); break;
		}
		printf("%s %d - %s (%.2f s)\n", rc ? "not ok" : "ok", i + 1, runs[i].name,
		       seconds() - t);
		if (rc) {
			printf("# %s\n", err.msg);
			failures++;
		}
		fflush(stdout);
	}
	printf("1..%d\n", i);
	return failures ? 1 : 0;
}
