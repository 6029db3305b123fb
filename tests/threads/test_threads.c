/*
 * Suite 'threads': the thread model of policy.h and log.h, kept by tests.
 *
 *  (a) one read-only policy, evaluated and filtered by 4+ threads at once;
 *  (b) 4+ threads, each with its own log, hooks and fake clock;
 *  (c) one log shared by 4+ threads, serialised by the host's mutex;
 *  (d) stg_last_error() is per thread;
 *  (e) calls from inside every hook return STG_ERECURSIVE and change nothing.
 *
 * The scenarios live in scenarios.c so that tools/tsan.sh can run them under
 * ThreadSanitizer from a plain main (tsan_main.c), without Criterion's own
 * threads and forks. STG_THREADS_SCALE (percent, default 100) sizes them.
 */
#include <criterion/criterion.h>

#include "scenarios.h"

static thr_sizes sizes(void)
{
	return thr_sizes_default();
}

Test(threads, shared_policy_read_by_many_threads, .timeout = 60)
{
	thr_sizes sz = sizes();
	thr_err err = { 0, "" };

	cr_assert(sz.threads >= 4);
	cr_assert(thr_policy_shared(&sz, &err) == 0, "%s", err.msg);
}

Test(threads, one_log_per_thread, .timeout = 60)
{
	thr_sizes sz = sizes();
	thr_err err = { 0, "" };

	cr_assert(thr_logs_private(&sz, &err) == 0, "%s", err.msg);
}

Test(threads, shared_log_under_host_mutex, .timeout = 60)
{
	thr_sizes sz = sizes();
	thr_err err = { 0, "" };

	cr_assert(thr_log_shared(&sz, &err) == 0, "%s", err.msg);
}

Test(threads, last_error_is_per_thread, .timeout = 60)
{
	thr_sizes sz = sizes();
	thr_err err = { 0, "" };

	cr_assert(thr_last_error(&sz, &err) == 0, "%s", err.msg);
}

Test(threads, calls_from_every_hook_are_refused, .timeout = 60)
{
	thr_err err = { 0, "" };

	cr_assert(thr_reentrancy(&err) == 0, "%s", err.msg);
}

Test(threads, calls_from_hooks_refused_in_every_thread, .timeout = 60)
{
	thr_sizes sz = sizes();
	thr_err err = { 0, "" };

	cr_assert(thr_reentrancy_parallel(&sz, &err) == 0, "%s", err.msg);
}

/* stg_log_close() from inside a hook: hooks.h says such a call "does
 * nothing"; close returns no code, so it must simply not free the log. */
#define CLOSE_IN_HOOK(name, hook)                                        \
	Test(threads, close_inside_##name##_hook_does_nothing, .timeout = 30) \
	{                                                                \
		thr_err err = { 0, "" };                                 \
		cr_assert(thr_close_in_hook(hook, &err) == 0, "%s", err.msg); \
	}

CLOSE_IN_HOOK(send, THR_HOOK_SEND)
CLOSE_IN_HOOK(send_batch, THR_HOOK_BATCH)
CLOSE_IN_HOOK(write, THR_HOOK_WRITE)
CLOSE_IN_HOOK(remove, THR_HOOK_REMOVE)
CLOSE_IN_HOOK(clock, THR_HOOK_CLOCK)
CLOSE_IN_HOOK(event, THR_HOOK_EVENT)
