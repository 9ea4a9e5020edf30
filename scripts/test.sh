#!/usr/bin/env bash
# The README's test command: install what is missing, build, run the whole suite under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
