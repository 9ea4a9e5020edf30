#!/usr/bin/env bash
# Builds the reference, its tests, the drivers and the fuzz corpus replays under a sanitizer and
# runs the whole ctest suite there:   scripts/sanitize.sh asan|tsan [extra ctest args]
#   asan  ASan + UBSan (clang 14), preset `asan`, build-asan/
#   tsan  TSan (clang 14),         preset `tsan`, build-tsan/
# Excluded, with reasons (fuzz/README.md, "Sanitizers"):
#   lint.*                       checks source text, not the built code (and clang-tidy alone
#                                takes ~10 minutes)
#   *Over2GiB*                   a > 2 GiB message round trip: ~6 GiB of buffers plus the
#                                sanitizer's shadow memory does not fit the CI machine
#   install.*                    builds a separate consumer project, without the sanitizer's
#                                flags, against the instrumented library (it cannot link)
# Options are read from the environment too: ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
case "$kind" in
  asan|tsan) shift ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [ctest args]" >&2; exit 2 ;;
esac
jobs="${MPIPC_JOBS:-2}"
scripts/deps.sh
cmake --preset "$kind" -DMPIPC_WERROR=OFF >/dev/null
cmake --build --preset "$kind" -j "$jobs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# die_after_fork=0: the drivers and the tests fork from multi-threaded processes (as Python's fork
# start method does) and the children start feeder threads; TSan (LLVM 14) otherwise kills such a
# child ("starting new threads after multi-threaded fork is not supported").
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:die_after_fork=0:suppressions=$PWD/fuzz/tsan.supp}"
cd "build-$kind"
ctest --output-on-failure -j "$jobs" --timeout 1800 -E '^lint\.|Over2GiB|^install\.' "$@"
