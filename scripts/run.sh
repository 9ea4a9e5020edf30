#!/usr/bin/env bash
# The README's main command: install what is missing, build, run the interop demo (a C++
# Listener with CPython Clients, and C++ Clients with CPython Listeners, authenticated), then the
# C++ versions of the seed's seven usage examples, each checked.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
python3 scripts/interop_demo.py --mpipc build/bin/mpipc
echo
echo "== The seed's usage examples in C++ (reference/examples/)"
for e in basic_queue joinable_queue pipe bidirectional_pipe producers_consumers \
         enhanced_serialization authenticated_connection; do
  echo "-- $e"
  "build/bin/example_$e"
done
echo
python3 reference/examples/check_examples.py build/bin
