#!/usr/bin/env bash
# The README's main command: install what is missing, build, then run the interop demo (a C++
# Listener with CPython Clients, and C++ Clients with CPython Listeners, authenticated).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
python3 scripts/interop_demo.py --mpipc build/bin/mpipc
