#!/usr/bin/env bash
# Run a test under valgrind memcheck and fail on any finding, in the test
# process and in every child it starts. Criterion runs each test in a worker
# process and ignores a worker's exit status once the test reported a pass,
# so --error-exitcode alone misses errors and leaks found in workers: each
# process writes its own log here, and the logs are read afterwards.
set -u
logs=$(mktemp -d "${TMPDIR:-/tmp}/stg-vg.XXXXXX")
valgrind --quiet --trace-children=yes --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--track-fds=no --num-callers=30 --error-exitcode=99 \
	--log-file="$logs/vg.%p.log" "$@"
status=$?
bad=0
for f in "$logs"/vg.*.log; do
	[ -e "$f" ] || continue
	if grep -qE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]|Invalid (read|write|free)|uninitialised" "$f" ||
	   { [ -s "$f" ] && grep -qE "^==[0-9]+== [A-Z]" "$f"; }; then
		echo "valgrind findings in $f:" >&2
		cat "$f" >&2
		bad=1
	fi
done
rm -rf "$logs"
[ $bad -eq 0 ] || exit 99
exit $status
