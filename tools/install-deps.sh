#!/usr/bin/env bash
# Install, from Debian's registry, whatever the build, the tests and the docs
# need and this machine lacks. Safe to run again: it installs nothing when
# everything is there. Needs root (or sudo) only when something is missing.
#
#   bash tools/install-deps.sh          install what is missing
#   bash tools/install-deps.sh --check  install nothing; exit 1, naming the
#                                       Debian package, when a program any
#                                       gate calls is not on PATH
#
# The two tables below are the only list of what the project needs: a gate
# that starts calling a new program adds it to `programs`, and tools/test.sh
# runs --check before its first stage, so a program missing on a new machine
# fails at once with the package to install, not twenty minutes in.
set -euo pipefail

# Programs some script or test calls, each with the Debian package that
# provides it ("program:package").
programs=(
	gcc:gcc cc:gcc g++:g++ pkg-config:pkg-config             # build
	meson:meson ninja:ninja-build
	/usr/bin/python3:python3                                 # build scripts, tests (Debian's interpreter)
	valgrind:valgrind                                        # valgrind gate
	clang:clang                                              # ASan+UBSan gate, libFuzzer, ThreadSanitizer
	abidw:abigail-tools abidiff:abigail-tools                # ABI guard
	nm:binutils readelf:binutils                             # symbol checks, consumer tests
	doxygen:doxygen                                          # API docs (a test fails on any warning)
	cmake:cmake                                              # consumer test of the CMake package config
	gcovr:gcovr                                              # coverage floor
	sqlite3:sqlite3                                          # examples: SQLite store checks
	pg_config:libpq-dev                                      # the PostgreSQL store (meson finds libpq; --check sees libpq-dev by it)
	/usr/lib/postgresql/15/bin/initdb:postgresql             # postgres suite: each test starts a server of its own
	/usr/lib/postgresql/15/bin/pg_ctl:postgresql
	/usr/lib/postgresql/15/bin/postgres:postgresql
	pytest-3:python3-pytest                                  # Python binding tests
	chromium:chromium                                        # replay report rendered headless (tests/replay)
)

# Packages that provide no program of their own but a library or a module.
libraries=(
	libcriterion-dev                 # Criterion test framework
	libclang-rt-14-dev               # sanitizer and libFuzzer runtimes for clang
	libsqlite3-dev                   # examples: SQLite storage hook, crash test
	libpq-dev                        # examples: PostgreSQL storage hook (libpq), postgres suite
	python3-setuptools python3-wheel python3-pip  # Python packaging test
)

check() {
	local bad=0 entry prog pkg
	for entry in "${programs[@]}"; do
		prog=${entry%%:*} pkg=${entry#*:}
		if ! command -v "$prog" >/dev/null 2>&1; then
			echo "install-deps: '$prog' is not on PATH (Debian package: $pkg; run bash tools/install-deps.sh)" >&2
			bad=1
		fi
	done
	return $bad
}

if [ "${1:-}" = --check ]; then
	check
	exit
fi

packages=("${libraries[@]}")
for entry in "${programs[@]}"; do packages+=("${entry#*:}"); done

missing=()
for p in $(printf '%s\n' "${packages[@]}" | sort -u); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
check
