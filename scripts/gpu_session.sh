#!/usr/bin/env bash
# What a lent GPU session does first, as one call of the device tool (15 minutes of device time in
# all, machine start included): the kernel tests, a quick measured profile and the kernel
# benchmarks (profiles/run_on_gpu.sh), then the validation campaign priced from that fresh profile
# (scripts/validate_on_gpu.sh). The sanitizers do not fit the same call: run them next, at once,
# while the machine is warm and its build-gpu/ kept, sized to the device time left (status's
# budget_left_s, B): timeout_s = B - 15 and ECSIM_GPU_BUDGET_S = B - 40, at most 270 and 240:
#   run(command="ECSIM_GPU_STEPS=sanitizers ECSIM_GPU_BUDGET_S=240 profiles/run_on_gpu.sh", timeout_s=270)
# (cut at the device tool's limit, that call still returns its summary and logs of the steps done;
# this script's own files are written at its end).
# Results are gathered into at most 5 files in OUT_DIR, because the device tool returns at most 8:
#   summary.txt        both summaries (kernel tests, profile, benchmarks, sanitizers; validation table)
#   <gpu>.json         the measured profile, named for the card (h100-80gb-hbm3.json on an H100 SXM:
#                      commit that one as profiles/h100-sxm.json, docs/VALIDATION.md)
#   runs.tar.gz        every validation run (ecsim.run/1 JSON, runner output, validation JSON)
#   trace.json         one measured Chrome trace
#   logs.tar.gz        every log of both scripts
#
# Usage: scripts/gpu_session.sh [OUT_DIR]      (OUT_DIR defaults to $OUT, else out/session)
# Device call: run(command="scripts/gpu_session.sh", carry=["build-deps"], timeout_s=600)
# Environment: ECSIM_GPU_BUDGET_S (default 540) is split 50% kernels (build, tests, the quick
# profile of about 2 min, benchmarks), the rest validation (its 8 required configurations first).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/out/session}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
budget=${ECSIM_GPU_BUDGET_S:-540}
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ECSIM_GPU_STEPS=tests,profile,bench ECSIM_GPU_BUDGET_S=$((budget * 50 / 100)) \
  "$root/profiles/run_on_gpu.sh" "$work/profile" --quick
profile_rc=$?
# The profile just measured prices the validation (ECSIM_PROFILE); without one, validate_on_gpu.sh
# takes the card's analytic profile.
measured=()
for p in "$work"/profile/*.json; do
  [ -e "$p" ] && cp "$p" "$out/" && measured=(ECSIM_PROFILE="$out/$(basename "$p")")
done
left=$((budget - ($(date +%s) - start)))
env "${measured[@]}" ECSIM_GPU_BUDGET_S=$((left > 60 ? left : 60)) "$root/scripts/validate_on_gpu.sh" "$work/validation"
validation_rc=$?

{
  echo "# GPU session $(date -u +%Y-%m-%dT%H:%MZ): kernels/profile rc=$profile_rc, validation rc=$validation_rc"
  cat "$work/profile/summary.txt" 2>/dev/null
  echo
  cat "$work/validation/summary.txt" 2>/dev/null
} >"$out/summary.txt"
[ -e "$work/validation/runs.tar.gz" ] && cp "$work/validation/runs.tar.gz" "$out/"
for t in "$work"/validation/*.trace.json; do [ -e "$t" ] && cp "$t" "$out/trace.json"; done
tar -czf "$out/logs.tar.gz" -C "$work" . 2>/dev/null
cat "$out/summary.txt"
[ "$profile_rc" -eq 0 ] && [ "$validation_rc" -eq 0 ]
