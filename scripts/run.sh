#!/usr/bin/env bash
# The README's main command: install what is missing, build, then
#   1. the interop demo (a C++ Listener with CPython Clients and the reverse, authenticated),
#   2. the C++ versions of the seed's seven usage examples, each checked,
#   3. the conformance matrix over every available target (build/reports/conformance.*),
#   4. the quick benchmark set and the report: build/reports/index.html (matrix + plots).
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
echo
echo "== Conformance matrix: mpipc conform (every available target)"
mkdir -p build/reports
conform_rc=0
build/bin/mpipc conform --json build/reports/conformance.json \
  --junit build/reports/conformance.junit.xml --logs build/reports/conform-logs --gate ||
  conform_rc=$?
echo
scripts/bench_report.sh --quick --build build
if [ "$conform_rc" -ne 0 ]; then
  echo "conformance gate: unexpected results (see above and build/reports/conformance.json)" >&2
  exit "$conform_rc"
fi
