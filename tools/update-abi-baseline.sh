#!/bin/sh
# Regenerate the committed ABI baseline, abi/libstockguard.abi.
#
# Usage:
#   tools/update-abi-baseline.sh [BUILD_DIR]        (default: build)
#   tools/update-abi-baseline.sh -o OUT LIBRARY.so  (what the abi test runs)
#
# With a build directory the script (re)builds the shared library there and
# writes abi/libstockguard.abi; commit that file. The build must carry debug
# information (the default buildtype, debugoptimized, does).
#
# When to run it: the test `abi-baseline` (meson test --suite abi) fails on
# ANY difference that abidiff reports between this baseline and a fresh build,
# except added functions and variables. Refresh the baseline
#   - at each release, so that what was added becomes protected too;
#   - after an intended, compatible change that abidiff still reports (for
#     instance a new public type that no function uses yet).
# Never refresh it to silence an incompatible change (a removed symbol, a
# changed struct layout or signature, a renumbered enumerator): such a change
# needs a new SONAME, see the ABI rules in docs/mainpage.md.
#
# How the dump is made (the abi test runs this very script on a fresh build,
# so baseline and fresh dump always use the same options):
#   --headers-dir include/ --drop-private-types  types not defined in the
#       public headers (the inside of stg_policy ...) are left out, so
#       internal changes are not ABI changes;
#   --load-all-types  public enums and structs that no function signature
#       mentions (stg_status, stg_reason ...) are kept, so renumbering an
#       enumerator is caught too (abidiff compares them with -t);
#   --no-corpus-path --no-comp-dir-path --short-locs  no machine-specific
#       paths, so the file is the same on every machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
out=
while getopts o: opt; do
	case $opt in
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-o OUT] [BUILD_DIR | LIBRARY]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
target=${1:-build}

if ! command -v abidw >/dev/null 2>&1; then
	echo "$0: abidw not found (Debian: apt-get install abigail-tools)" >&2
	exit 3
fi

if [ -d "$target" ]; then
	meson compile -C "$target" lib/stockguard:shared_library >&2
	lib=$target/lib/libstockguard.so
	[ -n "$out" ] || out=$top/abi/libstockguard.abi
else
	lib=$target
	[ -n "$out" ] || { echo "$0: -o OUT is required with a library path" >&2; exit 2; }
fi

if [ ! -f "$lib" ]; then
	echo "$0: $lib not found (configured with default_library=static?)" >&2
	exit 3
fi
if ! LC_ALL=C readelf -S "$lib" | grep -q '\.debug_info'; then
	echo "$0: $lib has no debug information; use buildtype=debugoptimized or debug" >&2
	exit 3
fi

tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
abidw --no-corpus-path --no-comp-dir-path --short-locs \
      --headers-dir "$top/include" --drop-private-types --load-all-types \
      --out-file "$tmp" "$lib"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out" >&2
