#!/usr/bin/env bash
# Build the fuzz targets of tests/fuzz with clang + libFuzzer (ASan, UBSan)
# and run each for a while. CI calls it with the default 60 s per target.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     fuzz (default 60 s; targets: entry replay log)
#   tools/fuzz.sh --merge [TARGET...]       add what the last runs found that
#                                           increases coverage to the checked-in
#                                           corpus (libFuzzer -merge=1)
#
# Per target: the checked-in crash-* inputs are replayed first (known
# findings; they fail the run while they still reproduce), then libFuzzer runs
# for SECONDS on a working corpus in $FUZZ_BUILD/corpus/TARGET, seeded from
# tests/fuzz/corpus/TARGET. The number of executions is printed from
# libFuzzer's final stats. Exit status: 0 no finding, 1 a finding (the input
# is in $FUZZ_BUILD/artifacts/TARGET/), 2 a build or usage error.
#
# Environment: CC (default clang), FUZZ_BUILD (default build-fuzz),
# FUZZ_FLAGS (extra libFuzzer flags, e.g. "-workers=4 -jobs=4"),
# STG_FUZZ_SKIP (checks the log target leaves out, see tests/fuzz/README.md).
set -uo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-clang}
B=${FUZZ_BUILD:-build-fuzz}
ALL_TARGETS=(entry replay log)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Iinclude -Ilib"

merge=0
secs=60
if [ "${1:-}" = --merge ]; then
	merge=1
	shift
elif [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	secs=$1
	shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
	case " ${ALL_TARGETS[*]} " in
	*" $t "*) ;;
	*) echo "fuzz.sh: unknown target '$t' (targets: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
	esac
done
if ! command -v "$CC" >/dev/null; then
	echo "fuzz.sh: $CC not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi

build() { # target
	local t=$1 out=$B/fuzz-$1 extra=()
	mkdir -p "$B"
	if [ "$t" = replay ]; then
		# The replay tool, unchanged, with its main renamed for the harness
		# (its other sources are examples/replay/*.c).
		local src obj
		for src in examples/stockguard-replay.c examples/replay/*.c; do
			obj=$B/replay-$(basename "$src" .c).o
			$CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -Dmain=stockguard_replay_main \
				-c "$src" -o "$obj" || return 1
			extra+=("$obj")
		done
	fi
	$CC $CFLAGS $SAN -fsanitize=fuzzer lib/*.c "tests/fuzz/fuzz_$t.c" ${extra[@]+"${extra[@]}"} -o "$out"
}

seeds_into() { # target dir: copy the checked-in seeds (not crash-*) into dir
	local f
	mkdir -p "$2"
	for f in tests/fuzz/corpus/"$1"/*; do
		[ -f "$f" ] || continue
		case $(basename "$f") in crash-*) continue ;; esac
		cp -n "$f" "$2/" 2>/dev/null || true
	done
}

status=0
for t in "${targets[@]}"; do
	echo "=== fuzz target $t"
	if ! build "$t"; then
		echo "fuzz.sh: building $t failed" >&2
		exit 2
	fi
	work=$B/corpus/$t
	seeds_into "$t" "$work"

	if [ $merge = 1 ]; then
		tmp=$(mktemp -d)
		seeds_into "$t" "$tmp/out"
		before=$(ls "$tmp/out" | wc -l)
		"$B/fuzz-$t" -merge=1 "$tmp/out" "$work" >"$B/merge-$t.log" 2>&1
		added=0
		for f in "$tmp/out"/*; do
			n=$(basename "$f")
			if [ ! -e "tests/fuzz/corpus/$t/$n" ]; then
				cp "$f" "tests/fuzz/corpus/$t/$n"
				added=$((added + 1))
			fi
		done
		echo "$t: merged $added new input(s) into tests/fuzz/corpus/$t (had $before)"
		rm -rf "$tmp"
		continue
	fi

	# Known findings first: each crash-* input must run clean once fixed.
	for f in tests/fuzz/corpus/"$t"/crash-*; do
		[ -f "$f" ] || continue
		if "$B/fuzz-$t" "$f" >"$B/regress-$t.log" 2>&1; then
			echo "$t: $(basename "$f") no longer reproduces (rename it to keep it as a seed)"
		else
			echo "$t: FINDING still reproduces: $f"
			grep -m4 -E 'FUZZ CHECK FAILED|^  [^ ]|ERROR: |runtime error' "$B/regress-$t.log" | sed 's/^/    /'
			status=1
		fi
	done

	mkdir -p "$B/artifacts/$t"
	log=$B/fuzz-$t.log
	# The log target is a sequence of calls: let inputs grow long sooner.
	per_target=()
	[ "$t" = log ] && per_target=(-max_len=4096 -len_control=20)
	# shellcheck disable=SC2086
	"$B/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
		-artifact_prefix="$B/artifacts/$t/" ${per_target[@]+"${per_target[@]}"} ${FUZZ_FLAGS:-} "$work" >"$log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
	units=$(ls "$work" | wc -l)
	echo "$t: ${execs:-?} executions in ${secs} s, corpus $units inputs, libFuzzer exit $rc"
	if [ $rc -ne 0 ]; then
		status=1
		echo "$t: FINDING (log: $log)"
		grep -m5 -E 'FUZZ CHECK FAILED|ERROR: |runtime error|Test unit written|^  ' "$log" | sed 's/^/    /'
	fi
done
exit $status
