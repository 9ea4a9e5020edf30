#!/usr/bin/env bash
# Installs the built mpipc into a scratch prefix, then configures, builds and runs
# tests/consumer against it with find_package(mpipc).
set -euo pipefail
build_dir=$1
source_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
test -f "$scratch/prefix/include/mpipc/connection.h"
test -f "$scratch/prefix/lib/cmake/mpipc/mpipcConfig.cmake"
cmake -S "$source_dir/tests/consumer" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$scratch/build" -j 2 >/dev/null
"$scratch/build/consumer"
