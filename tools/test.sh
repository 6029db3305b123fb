#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, build, run every test.
#
#   bash tools/test.sh          all gates: normal suite (with the fuzz corpus
#                               replay), ASan+UBSan, valgrind, ThreadSanitizer,
#                               a short libFuzzer run per target, coverage
#                               (lib/ lines and branches)
#   bash tools/test.sh quick    the normal suite only
#
# Each gate uses its own build directory, so they never disturb each other.
set -euo pipefail
cd "$(dirname "$0")/.."
# Installs what is missing, then checks that every program a gate calls is on
# PATH (the list is in tools/install-deps.sh), naming the package if not.
bash tools/install-deps.sh

mode=${1:-all}
jobs=$(nproc 2>/dev/null || echo 2)
# Suites of compiled tests (script-driven suites run other programs and are
# covered by the normal run).
c_suites=(--suite unit --suite log --suite reliability --suite abi)

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

setup() { # dir, meson options... (the compiler is $CC, or Meson's default)
	local dir=$1; shift
	if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null; else meson setup "$dir" "$@" >/dev/null; fi
	ninja -C "$dir"
}

# Every suite, the postgres one included (tests/postgres: each test starts a
# PostgreSQL server of its own on a Unix socket, about a minute in all on two
# cores); the ASan and coverage gates below run it too.
stage "normal build and every test"
setup build
meson test -C build --print-errorlogs --num-processes "$jobs"
[ "$mode" = quick ] && exit 0

# Built with clang, the normal build with gcc: both compilers build every
# target with -Werror in every CI run. A build directory made earlier by
# another compiler is made anew (Meson keeps the compiler of the first setup).
stage "AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
if [ -f build-asan/build.ninja ] && ! grep -q '^ command = clang ' build-asan/build.ninja; then
	rm -rf build-asan
fi
CC=clang setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all -Dbuildtype=debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C build-asan --print-errorlogs --num-processes "$jobs" \
	--no-suite abi --no-suite docs

stage "valgrind memcheck"
meson test -C build --setup valgrind --print-errorlogs --num-processes "$jobs" \
	"${c_suites[@]}" --no-suite abi

stage "ThreadSanitizer: 4+ threads as the thread model allows"
bash tools/tsan.sh

stage "libFuzzer: ${STG_CI_FUZZ_SECS:-60} s per target (entry, replay, log)"
bash tools/fuzz.sh "${STG_CI_FUZZ_SECS:-60}"

stage "coverage of lib/"
# Atomic counters: threads and forked workers update them at once.
# STG_NO_TARGET_CLONES: the batch kernels' baseline (non-AVX2) versions run
# here; every other build picks the AVX2 ones on a machine that has it.
setup build-cov -Db_coverage=true -Dbuildtype=debug \
	"-Dc_args=-fprofile-update=atomic -DSTG_NO_TARGET_CLONES"
find build-cov -name '*.gcda' -delete
meson test -C build-cov --num-processes "$jobs" --no-suite abi --no-suite docs >/dev/null
bash tools/coverage.sh build-cov
