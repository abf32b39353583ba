#!/usr/bin/env bash
# README command 2: set up, build and run every test. .ci/run calls this.
#   1. Release build, warnings as errors, CUDA code compiled where nvcc exists; all tests (GPU tests
#      skip with their reason where there is no GPU).
#   2. The CPU code again under AddressSanitizer + UndefinedBehaviorSanitizer; all tests.
#   3. The scenario parser under libFuzzer for a bounded time (ECSIM_FUZZ_SECONDS, default 60).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
start=$(date +%s)
# Each phase's heading says how long the run has taken so far (CI's goal: under 20 minutes).
phase() { echo "== $1 (at $(($(date +%s) - start)) s)"; }
"$root/scripts/setup.sh"

phase "release build (warnings as errors)"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -DECSIM_WERROR=ON
phase "release tests"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

phase "sanitizer build (ASan + UBSan, CPU code)"
"$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DECSIM_SANITIZE=ON -DECSIM_WERROR=ON
phase "sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs"

phase "scenario parser fuzzing (${ECSIM_FUZZ_SECONDS:-60}s)"
CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DECSIM_FUZZ=ON \
  -DECSIM_ENABLE_CUDA=OFF >/dev/null
cmake --build "$root/build-fuzz" --target scenario_fuzz --parallel "$jobs"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$root/build-fuzz/bin/scenario_fuzz" -max_total_time="${ECSIM_FUZZ_SECONDS:-60}" -artifact_prefix="$root/build-fuzz/" \
  "$corpus" "$root/tests/fuzz/corpus" "$root/scenarios/models" "$root/tests/bad_inputs"
echo "fuzz: no crash in ${ECSIM_FUZZ_SECONDS:-60}s"
phase "done"
