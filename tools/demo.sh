#!/usr/bin/env bash
# README command 1: install what is missing, build, run the replay demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
build/examples/stockguard-replay --min-stock 3 --min-stock amazon=10 examples/sample-feed.csv
