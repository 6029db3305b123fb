#!/usr/bin/env bash
# Install, from Debian's registry, whatever the build, the tests and the docs
# need and this machine lacks. Safe to run again: it installs nothing when
# everything is there. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
	gcc g++ pkg-config python3 meson ninja-build  # build
	libcriterion-dev valgrind                     # tests
	clang libclang-rt-14-dev                      # libFuzzer and ThreadSanitizer (tools/fuzz.sh, tools/tsan.sh)
	abigail-tools binutils                        # ABI guard (abidw/abidiff, nm)
	doxygen                                       # API docs (a test fails on any warning)
	libsqlite3-dev                                # examples: SQLite storage hook, crash test
	cmake                                         # consumer test of the CMake package config
	python3-pytest python3-setuptools python3-wheel python3-pip  # Python binding tests
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
