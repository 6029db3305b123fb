/*
 * Thread-model scenarios (log.h, policy.h: "Thread model"), shared by the
 * Criterion suite (test_threads.c) and a plain program with its own main
 * (tsan_main.c) that tools/tsan.sh builds with -fsanitize=thread: Criterion
 * forks and runs threads of its own, which is noise under TSan.
 *
 * Each scenario returns 0 when it passed, or -1 with the first failure in
 * err->msg. Nothing here uses Criterion.
 */
#ifndef STOCKGUARD_TESTS_THREADS_SCENARIOS_H
#define STOCKGUARD_TESTS_THREADS_SCENARIOS_H

#include <stockguard.h>

#include <stddef.h>
#include <stdint.h>

typedef struct thr_err {
	int failed;
	char msg[1024];
} thr_err;

/* Sizes of one run; thr_sizes_default() scales by STG_THREADS_SCALE (percent). */
typedef struct thr_sizes {
	int threads;          /* >= 4 */
	int policy_items;     /* items of the shared-policy run */
	int policy_rounds;    /* times each thread goes over them */
	int log_rounds;       /* rounds of the private-log script */
	int shared_ops;       /* operations per thread on the shared log */
	int error_iters;      /* failing constructor calls per thread */
} thr_sizes;

thr_sizes thr_sizes_default(void);

/* (a) One read-only policy, evaluated and filtered (single and batch) by
 *     every thread at once; results equal a single-threaded run. */
int thr_policy_shared(const thr_sizes *sz, thr_err *err);

/* (b) Each thread with its own log, hooks and fake clock, running a script
 *     (submit, pump, complete, resume, catalogued, reprocess, remove,
 *     expire, query, stats, close and reload); each log ends in the state
 *     the same script reaches when run alone. */
int thr_logs_private(const thr_sizes *sz, thr_err *err);

/* (c) One log shared by every thread, each call under the host's mutex,
 *     with a transport (synchronous and asynchronous answers) and a store;
 *     the newest sequence of every SKU wins and the counters add up. */
int thr_log_shared(const thr_sizes *sz, thr_err *err);

/* (d) Failing constructors in every thread at once: each thread reads its
 *     own stg_last_error() / stg_last_error_code(). */
int thr_last_error(const thr_sizes *sz, thr_err *err);

/* (e) Calls into the log from inside each of its hooks (transport send and
 *     send_batch, storage write/remove/load, clock, events) return
 *     STG_ERECURSIVE, leave the out-parameters and the log's message alone,
 *     and change nothing: the log ends exactly as a run without them. */
int thr_reentrancy(thr_err *err);

/* (e) again, from every thread at once, each with its own log. */
int thr_reentrancy_parallel(const thr_sizes *sz, thr_err *err);

/* stg_log_close() called from inside a hook must do nothing (hooks.h: "such
 * a call returns STG_ERECURSIVE and does nothing"). A quarantining allocator
 * sees any free made inside the hook without a use-after-free. @p hook is
 * one of the THR_HOOK_* values. */
enum { THR_HOOK_SEND, THR_HOOK_BATCH, THR_HOOK_WRITE, THR_HOOK_REMOVE, THR_HOOK_CLOCK,
       THR_HOOK_EVENT, THR_HOOK_COUNT };
int thr_close_in_hook(int hook, thr_err *err);
const char *thr_hook_name(int hook);

#endif
