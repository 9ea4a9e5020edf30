#!/usr/bin/env bash
# Installs missing Debian packages, then configures and builds mpipc into build/ (preset default).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ ! -f build/CMakeCache.txt ]; then
  cmake --preset default >/dev/null
fi
cmake --build build -j "$(nproc)"
