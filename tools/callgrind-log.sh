#!/usr/bin/env bash
# Instruction counts (callgrind, repeatable on a noisy machine) of the log's
# hot calls at one size: submit one at a time, submit_batch, pump, reopen
# from a store. The figures tools/bench.sh also writes, without the rest of
# the benchmark run, to compare two builds quickly:
#
#   tools/callgrind-log.sh BUILD_DIR [SIZE]     (SIZE default 100000)
#
# BUILD_DIR should be a release build (-Dbuildtype=release). Prints one
# line per figure: name, instructions in the measured function, per item.
set -euo pipefail
bd=${1:?usage: callgrind-log.sh BUILD_DIR [SIZE]}
n=${2:-100000}
lb=$bd/tests/bench/bench_log
[ -x "$lb" ] || { echo "callgrind-log.sh: no $lb (build first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one() { # name, function to count, bench_log --only value
	valgrind --tool=callgrind --callgrind-out-file="$tmp/$1.cg" --toggle-collect="$2" \
		"$lb" --only="$3" --sizes="$n" > "$tmp/$1.log" 2>&1
	local total
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p; s/^summary: *\([0-9]*\).*/\1/p' "$tmp/$1.cg" | tail -1)
	awk -v name="$1" -v t="$total" -v n="$n" 'BEGIN { printf "%-14s %14d  %8.1f per item\n", name, t, t / n }'
}
one submit lib_submit_passes submit-lib
one submit_batch stg_log_submit_batch submit-batch-lib
one pump lib_pump pump-lib
one reopen lib_reopen reopen-lib
