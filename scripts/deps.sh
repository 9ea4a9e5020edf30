#!/usr/bin/env bash
# Installs the Debian packages mpipc needs, only those that are missing (needs root or sudo).
set -euo pipefail

packages=(
  cmake g++ make clang clang-format clang-tidy libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  libboost-dev libboost-serialization-dev libssl-dev nlohmann-json3-dev libcli11-dev
  python3 python3-multiprocess python3-dill python3-matplotlib
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "mpipc: installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
