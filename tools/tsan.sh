#!/usr/bin/env bash
# Run the thread-model scenarios (tests/threads) under ThreadSanitizer.
#
#   tools/tsan.sh            # build dir build-tsan, STG_THREADS_SCALE=50
#
# Builds the library and tests/threads/threads_plain with -fsanitize=thread
# in a separate build directory, then runs it with halt_on_error=1 and
# exitcode=66: any data race (or other TSan report) fails the script. The
# plain program is used, not the Criterion one: Criterion forks and starts
# threads of its own, and under TSan it does not even start ("Could not
# initialize inheritable arena").
#
# First a canary: a two-line racy program built with the same compiler must
# make TSan report, so that "0 reports" means something.
#
# Environment: TSAN_BUILD_DIR (default build-tsan), CC (default: meson's
# choice), STG_THREADS_SCALE (percent of the normal sizes, default 50),
# TSAN_OPTIONS (appended to ours).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${TSAN_BUILD_DIR:-build-tsan}
export STG_THREADS_SCALE=${STG_THREADS_SCALE:-50}
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- canary
cc_bin=${CC:-cc}
cat >"$work/canary.c" <<'EOF'
#include <pthread.h>
static int shared;
static void *bump(void *p) { (void)p; shared++; return NULL; }
int main(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, bump, NULL);
	pthread_create(&b, NULL, bump, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return shared == 0;
}
EOF
if ! "$cc_bin" -fsanitize=thread -g -O1 -pthread "$work/canary.c" -o "$work/canary" 2>"$work/canary.err"; then
	cat "$work/canary.err" >&2
	echo "tsan.sh: $cc_bin cannot build with -fsanitize=thread" >&2
	exit 2
fi
set +e
"$work/canary" >"$work/canary.out" 2>&1
canary_rc=$?
set -e
if [ "$canary_rc" -ne 66 ] || ! grep -q 'WARNING: ThreadSanitizer: data race' "$work/canary.out"; then
	cat "$work/canary.out" >&2
	echo "tsan.sh: TSan did not report the canary's race (exit $canary_rc); results would mean nothing" >&2
	exit 2
fi
echo "tsan.sh: canary race reported by TSan, as it must be"

# ----------------------------------------------------------------- build
if [ -d "$build" ] && [ -f "$build/build.ninja" ]; then
	meson configure "$build" -Db_sanitize=thread -Db_lundef=false >/dev/null
else
	meson setup "$build" -Db_sanitize=thread -Db_lundef=false
fi
ninja -C "$build" tests/threads/threads_plain

# ------------------------------------------------------------------- run
set +e
"$build/tests/threads/threads_plain" >"$work/run.out" 2>&1
rc=$?
set -e
cat "$work/run.out"
reports=$(grep -c 'WARNING: ThreadSanitizer' "$work/run.out" || true)
echo "tsan.sh: $reports ThreadSanitizer report(s); threads_plain exit status $rc"
if [ "$reports" -ne 0 ] || [ "$rc" -ne 0 ]; then
	[ "$rc" -eq 66 ] && echo "tsan.sh: TSan stopped the run (halt_on_error=1)" >&2
	exit 1
fi
