#!/usr/bin/env bash
# Runs the benchmarks and writes the report: BUILD/reports/index.html (+ index.md, plots/,
# comparison.json), then prints where it is and a short summary table.
#
#   scripts/bench_report.sh [--quick|--full] [--build DIR] [--gate] [--save-baseline]
#                           [--no-bench] [--baseline FILE]
#
#   --quick          the quick set (default, under 2 minutes)     --full  the full set (< 20 min)
#   --build DIR      the build directory (default: $MPIPC_BUILD_DIR or build)
#   --gate           exit non-zero when the comparison with the baseline finds a regression
#                    (default: report it and exit 0, so that the main command is not at the
#                    mercy of a noisy machine)
#   --save-baseline  wait for a quiet machine (1-minute load < 1.5), run, and store the run as
#                    the committed baseline for this machine kind (reports/baselines/)
#   --no-bench       do not run: report on BUILD/reports/bench-current.json as it is
#   --baseline FILE  compare with FILE instead of reports/baselines/<machine kind>-<set>.json
#
# The conformance matrix comes from BUILD/reports/conformance.json when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

set_name=quick
build="${MPIPC_BUILD_DIR:-build}"
gate=0
save=0
run_bench=1
baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) set_name=quick ;;
    --full) set_name=full ;;
    --build) build="$2"; shift ;;
    --gate) gate=1 ;;
    --save-baseline) save=1 ;;
    --no-bench) run_bench=0 ;;
    --baseline) baseline="$2"; shift ;;
    *) echo "bench_report.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

reports="$build/reports"
mkdir -p "$reports"
current="$reports/bench-current.json"
kind="$(uname -m)-$(nproc)cpu"
[ -n "$baseline" ] || baseline="reports/baselines/$kind-$set_name.json"

if [ "$save" -eq 1 ]; then
  quiet=0
  for _ in $(seq 60); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" 'BEGIN { exit !(l < 1.5) }'; then quiet=1; break; fi
    echo "bench_report.sh: load $load > 1.5, waiting for a quiet machine..." >&2
    sleep 30
  done
  [ "$quiet" -eq 1 ] || echo "bench_report.sh: the machine stayed busy for 30 minutes;" \
    "taking the baseline anyway (its context records the load)" >&2
fi

if [ "$run_bench" -eq 1 ]; then
  echo "== Benchmarks ($set_name set): $build/bin/mpipc-bench --$set_name"
  "$build/bin/mpipc-bench" "--$set_name" --out "$current" ||
    echo "bench_report.sh: some benchmarks failed (listed above); reporting the rest" >&2
fi

if [ "$save" -eq 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  cp "$current" "$baseline"
  echo "bench_report.sh: saved the baseline $baseline"
fi

# matplotlib comes from Debian's python3-matplotlib, seen by /usr/bin/python3.
py=python3
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then py=/usr/bin/python3; fi
args=("$current" --out-dir "$reports" --conformance "$reports/conformance.json" --allow-missing
      --thresholds reports/thresholds.json)
if [ -f "$baseline" ] && [ "$save" -eq 0 ]; then
  args+=(--baseline "$baseline")
else
  echo "(no baseline compared: $baseline absent or just saved)"
fi
echo
echo "== Report summary"
rc=0
"$py" reports/mpipc_report.py "${args[@]}" || rc=$?
echo
echo "Report: $(cd "$reports" && pwd)/index.html (Markdown: $(cd "$reports" && pwd)/index.md)"
if [ "$rc" -ge 2 ] || { [ "$rc" -ne 0 ] && [ "$gate" -eq 1 ]; }; then
  exit "$rc"
fi
[ "$rc" -eq 0 ] || echo "(the comparison found regressions; --gate makes that an error)"
exit 0
