#!/usr/bin/env bash
# The validation campaign (docs/VALIDATION.md): builds ecsim-run, runs its GPU tests (and, with 2
# GPUs and mpirun, its data- and expert-parallel test), trains each configuration of
# scenarios/validation/ for a few measured steps on this GPU, and lays every run over the
# simulator's prediction with `ecsim validate`. Spans XL (d 1152) and M (d 3072) widths,
# dense and 8/16/32 experts, batches of 8 and 16 images; --layers keeps each run on one H100 and
# within the budget. Expected on one H100: build 2-4 min, tests under 1, runs 10-30 s each.
#
# Usage, from anywhere in the repository:
#   scripts/validate_on_gpu.sh [OUT_DIR]        OUT_DIR defaults to $OUT, else out/validation
# Environment:
#   ECSIM_GPU_BUDGET_S   seconds the whole campaign may take (default 460): runs that would start
#                        with less than 40 s left are skipped and marked so in the summary
#   ECSIM_GPU_BUILD_DIR  the build tree (default build-gpu/)
#   ECSIM_STEPS, ECSIM_WARMUP  measured and warm-up steps per run (default 5 and 2)
#   ECSIM_PROFILE        the profile that prices the predictions (default: a measured profile of
#                        this card in profiles/, else the card's analytic profile)
# Dependencies: as profiles/run_on_gpu.sh (system packages, or carried build-deps/ .debs).
#
# OUT_DIR receives: summary.txt (the table: config, predicted, measured, error, memory; the GPU's
# clocks and power during each run, scripts/gpu_clocks.sh; then the runner against PyTorch eager,
# scripts/pytorch_comparison.py), runs.tar.gz (every run's ecsim.run/1 JSON, ecsim-run output,
# validation JSON and clock samples), xl-8e-b8.trace.json (one
# measured trace for Perfetto), logs.tar.gz. Exit status 0 when every step passed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/out/validation}}
case "$out" in -h | --help) sed -n '2,20p' "$0"; exit 0 ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
budget=${ECSIM_GPU_BUDGET_S:-460}
build=${ECSIM_GPU_BUILD_DIR:-$root/build-gpu}
steps=${ECSIM_STEPS:-5}
warmup=${ECSIM_WARMUP:-2}
work=$(mktemp -d)
logs="$work/logs"
runs="$work/runs"
mkdir -p "$logs" "$runs"
trap 'rm -rf "$work"' EXIT
export PATH="$PATH:/usr/local/cuda/bin"
start=$SECONDS
failed=0
left() { echo $((budget - (SECONDS - start))); }

# The campaign: scenario (scenarios/validation/NAME.json), the blocks it runs, and its processes
# (one per GPU, under mpirun; skipped, with the reason in the table, where fewer GPUs are visible).
# pt-*: the shapes of ANCHORS.md's PyTorch eager figures (unmasked images, 64 for XL and 32 for
# M, whole models where they fit one H100), set beside those by scripts/pytorch_comparison.py;
# pt-*-bf16: the same with bf16 weights, moments and gradients (no fp32 masters), as PyTorch on a
# bf16 model keeps them.
# Ordered so that a budget cut leaves the most: first 8 configurations that span XL and M, dense
# and 8/16/32 experts and two batch sizes, then the headline PyTorch comparison and token choice.
configs=(
  "xl-dense-b8 8" "xl-8e-b8 8" "xl-16e-b8 8" "xl-32e-b16 8" "m-dense-b8 2" "m-8e-b8 2" "m-16e-b16 2"
  "xl-dense-b16 8"
  "pt-xl-8e-b64 28" "xl-8e-tc-b8 8" "xl-8e-tc-dropless-b8 8" "pt-m-8e-b32 4" "xl-32e-b8 8" "m-32e-b8 2"
  "pt-xl-dense-b64 28" "pt-xl-32e-b64 2" "pt-m-dense-b32 2" "pt-m-16e-b32 2" "xl-8e-ep2 8 2"
  "pt-m-16e-b32-bf16 2" "pt-m-8e-b32-bf16 4" "pt-xl-32e-b64-bf16 2" "pt-xl-8e-b64-bf16 28"
)
visible_gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)

# --- dependencies (scripts/gpu_deps.sh) ----------------------------------------------------------
# shellcheck source=scripts/gpu_deps.sh
source "$root/scripts/gpu_deps.sh"
# shellcheck source=scripts/gpu_clocks.sh
source "$root/scripts/gpu_clocks.sh"
ecsim_gpu_deps "$root" "$build" "$logs" || echo "dependencies: $ECSIM_GPU_DEPS_DETAIL"

# --- build --------------------------------------------------------------------------------------
echo "== build ($(($(left))) s left)"
if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DECSIM_WERROR=OFF "${ECSIM_GPU_CMAKE_ARGS[@]}" \
       >"$logs/configure.log" 2>&1 ||
   ! cmake --build "$build" --parallel "$(nproc)" --target ecsim-run ecsim ecsim_runner_gpu_tests \
       >"$logs/build.log" 2>&1; then
  tail -n 30 "$logs/configure.log" "$logs/build.log" 2>/dev/null
  echo "build FAILED" | tee "$out/summary.txt"
  tar -czf "$out/logs.tar.gz" -C "$work" logs
  exit 1
fi
bin="$build/bin"

# --- the runner's GPU tests (device model vs model_ref, determinism, convergence) ---------------
echo "== runner GPU tests ($(($(left))) s left)"
if timeout 150 "$bin/ecsim_runner_gpu_tests" >"$logs/gpu_tests.log" 2>&1; then tests="passed"; else
  tests="FAILED"; failed=1; tail -n 30 "$logs/gpu_tests.log"; fi
# Data and expert parallelism against each rank's own step (tests/kernels/runner_parallel_test.cpp):
# two processes, one GPU each, built where MPI is.
if ((visible_gpus < 2)) || ! command -v mpirun >/dev/null; then
  parallel="skipped ($visible_gpus GPU(s) visible; needs 2 and mpirun)"
elif ! cmake --build "$build" --parallel "$(nproc)" --target ecsim_runner_parallel_gpu_test >>"$logs/build.log" 2>&1; then
  parallel="not built (no MPI found at configure time?)"
elif timeout 150 mpirun --allow-run-as-root --oversubscribe -np 2 "$bin/ecsim_runner_parallel_gpu_test" \
       >"$logs/parallel_test.log" 2>&1; then
  parallel="passed"
else
  parallel="FAILED"; failed=1; tail -n 30 "$logs/parallel_test.log"
fi

# --- the profile that prices the prediction: ECSIM_PROFILE (scripts/gpu_session.sh passes the one
#     it has just measured), else a measured profile of this card in profiles/, else the card's
#     analytic one ---------------------------------------------------------------------------------
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
profile=${ECSIM_PROFILE:-}
if [[ -z $profile && -n $card ]]; then
  profile=$(python3 - "$root/profiles" "$card" <<'PY' | tail -n 1
import json, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    try:
        d = json.load(open(p))
    except (OSError, ValueError):
        continue
    if d.get("source") == "measured" and d.get("device", {}).get("name") == sys.argv[2]:
        print(p)
PY
)
fi
if [[ -z $profile ]]; then
  profile="$root/profiles/h100-sxm-analytic.json"
  [[ $card == *H200* ]] && profile="$root/profiles/h200-sxm-analytic.json"
fi

# --- runs and validations -----------------------------------------------------------------------
rows=()
clocks=()  # per run: the GPU's clocks and power while it ran (scripts/gpu_clocks.sh)
for c in "${configs[@]}"; do
  read -r name layers procs <<<"$c"
  procs=${procs:-1}
  scenario="$root/scenarios/validation/$name.json"
  if (($(left) < 40)); then rows+=("$name|$layers|-|-|-|-|-|-|-|-|skipped: budget"); continue; fi
  launcher=()
  if ((procs > 1)); then
    if ((visible_gpus < procs)) || ! command -v mpirun >/dev/null; then
      rows+=("$name|$layers|-|-|-|-|-|-|-|-|skipped: needs $procs GPUs and mpirun ($visible_gpus GPU(s) visible)")
      continue
    fi
    launcher=(mpirun --allow-run-as-root --oversubscribe -np "$procs")
  fi
  echo "== $name, $layers blocks ($(($(left))) s left)"
  trace_args=()
  [[ $name == xl-8e-b8 ]] && trace_args=(--trace "$out/$name.trace.json")
  run_timeout=$(($(left) - 10 < 120 ? $(left) - 10 : 120))
  sampler=$(ecsim_clocks_start "$runs/$name.clocks.csv")
  timeout "$run_timeout" "${launcher[@]}" "$bin/ecsim-run" "$scenario" --layers "$layers" --steps "$steps" \
    --warmup "$warmup" --json "$runs/$name.run.json" "${trace_args[@]}" >"$runs/$name.log" 2>&1
  rc=$?
  ecsim_clocks_stop "$sampler"
  clocks+=("$name: $(ecsim_clocks_summary "$runs/$name.clocks.csv")")
  if ((rc != 0)); then
    why="exit $rc"
    ((rc == 124)) && why="stopped after $run_timeout s"
    # The runner's own message (under mpirun the log ends in mpirun's banner), else the log's last line.
    said=$(grep -m 1 -E '^ecsim-run: |error' "$runs/$name.log" || tail -n 1 "$runs/$name.log")
    rows+=("$name|$layers|-|-|-|-|-|-|-|-|run FAILED ($why): $said")
    failed=1
    continue
  fi
  if ! "$bin/ecsim" validate --measured "$runs/$name.run.json" --scenario "$scenario" --profile "$profile" \
         --json "$runs/$name.validation.json" >"$runs/$name.validation.txt" 2>&1; then
    rows+=("$name|$layers|-|-|-|-|-|-|-|-|validate FAILED: $(tail -n 1 "$runs/$name.validation.txt")")
    failed=1
    continue
  fi
  if row=$(python3 "$root/scripts/validation_row.py" "$runs/$name.validation.json" "$name" "$layers" 2>&1); then
    rows+=("$row")
  else
    rows+=("$name|$layers|-|-|-|-|-|-|-|-|table row FAILED: $row")
    failed=1
  fi
done

# --- summary ------------------------------------------------------------------------------------
{
  echo "ecsim validation campaign on ${card:-no nvidia-smi}"
  echo "profile: ${profile#"$root"/}; $steps measured steps after $warmup warm-up; runner GPU tests: $tests;" \
       "2-GPU parallel test: $parallel"
  echo "step times in ms (measured: mean over the measured steps); memory in GiB: the runner's buffers, predicted" \
       "(the simulator's peak less the frozen remainder, context, workspaces and NCCL buffers) and measured" \
       "(the runner's allocator peak)"
  echo "idle: measured time between one rank's operators; host: the host's time inside them (shares of the step);" \
       "wait: the predicted time the GPU waits for the host's launches (share of the predicted step; -: the profile" \
       "has no host times)"
  echo
  printf '%-21s %6s %12s %12s %8s %5s %5s %5s %10s %10s  %s\n' config blocks predicted measured error idle host \
    wait mem_pred mem_meas notes
  for r in "${rows[@]}"; do
    IFS='|' read -r a b c d e f g w h i j <<<"$r"
    printf '%-21s %6s %12s %12s %8s %5s %5s %5s %10s %10s  %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$w" "$h" "$i" \
      "$j"
  done
  echo
  echo "GPU clocks while each run ran (nvidia-smi every 200 ms, warm-up steps included):"
  for c in "${clocks[@]}"; do echo "  $c"; done
  echo
  comparisons=("$runs"/pt-*.validation.json)
  if [[ -e ${comparisons[0]} ]]; then
    python3 "$root/scripts/pytorch_comparison.py" "${comparisons[@]}" 2>&1
    echo
  fi
  echo "total $((SECONDS - start)) s"
} | tee "$out/summary.txt"
tar -czf "$out/runs.tar.gz" -C "$work" runs
tar -czf "$out/logs.tar.gz" -C "$work" logs
exit $failed
