#!/usr/bin/env bash
# Installs what ecsim needs from Debian's packages, skipping what is present (idempotent).
# The CUDA toolkit is used when it is already on the machine (/usr/local/cuda); it is never installed here.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libeigen3-dev libboost-graph-dev nlohmann-json3-dev doctest-dev libcli11-dev
  libopenmpi-dev openmpi-bin
  clang libclang-rt-14-dev   # libFuzzer for the scenario fuzzer
  chromium                   # headless render check of the HTML report (tests/report/render_check.sh)
)
if [[ "${ECSIM_SETUP_EXTRA:-}" != "" ]]; then
  read -r -a extra <<<"${ECSIM_SETUP_EXTRA}"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
