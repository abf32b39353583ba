#!/usr/bin/env bash
# One run on a fresh GPU machine: build with CUDA (Release, sm_90), run the GPU kernel tests, the
# profiler, the kernel benchmarks, then compute-sanitizer memcheck and racecheck over the GPU tests;
# everything lands in OUT_DIR and a summary table is printed last. The profile is the run's main
# product, so it comes before the sanitizers, which take what is left of the budget (at most 120 s
# each). Expected on one H100: build 1-2 min, tests under 1, profile 2 (quick) or 6 (full),
# benchmarks under 1, sanitizers 1-4: the default 8-minute budget gives the quick profile; the full
# one takes ECSIM_GPU_STEPS=profile with ECSIM_GPU_BUDGET_S=570 (and a device timeout of 600 s).
#
# Usage, from anywhere in the repository:
#   profiles/run_on_gpu.sh [OUT_DIR] [--quick]          OUT_DIR defaults to $OUT, else out/gpu
# Environment:
#   ECSIM_GPU_BUDGET_S   seconds the whole run may take (default 480): the profiler takes its quick
#                        sweep, and stops early, and the sanitizers get less, so that it ends inside
#   ECSIM_GIT_SHA        commit recorded in the profile when the tree has no .git (a copied tree)
#   ECSIM_GPU_WERROR     ON to build with warnings as errors (default OFF: the device's compiler
#                        may be newer than CI's; CI checks warnings)
#   ECSIM_GPU_BUILD_DIR  the build tree (default build-gpu/)
#   ECSIM_GPU_STEPS      which steps run after the build, comma-separated (default all:
#                        tests,profile,bench,sanitizers; sanitizers = memcheck,racecheck, each of
#                        which may also be named alone). A lease too short for all of them runs
#                        them in two calls on the warm machine, the build kept between them:
#                        ECSIM_GPU_STEPS=sanitizers after scripts/gpu_session.sh (which leaves
#                        them out).
#   ECSIM_GPU_SANITIZER_CAP_S  the most seconds one sanitizer run may take (default 120)
# Dependencies (scripts/gpu_deps.sh): the Debian packages of scripts/setup.sh. Where they are
# missing and no registry can be reached, carry build-deps/ (made here by
# profiles/gather_gpu_deps.sh): its .debs are unpacked into the build tree, never installed. NCCL
# comes from the CUDA toolkit, the system, or PyTorch's wheel (cmake/find_nccl.cmake).
#
# OUT_DIR receives at most 6 files (a device tool returns 8): summary.txt, <gpu>.json (the
# measured profile), profile.log, profile.csv (every timed variant), bench.txt, logs.tar.gz
# (configure, build, tests, benchmarks, sanitizers). summary.txt and logs.tar.gz are rewritten after
# every step, so a run stopped at the device tool's limit still returns them ("in progress" in the
# summary's first line, "done" once it finished). Exit status 0 when every step passed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=""
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "run_on_gpu.sh: unknown option $arg" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
out=${out:-${OUT:-$root/out/gpu}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
budget=${ECSIM_GPU_BUDGET_S:-480}
sanitizer_cap=${ECSIM_GPU_SANITIZER_CAP_S:-120}
build=${ECSIM_GPU_BUILD_DIR:-$root/build-gpu}
work=$(mktemp -d)
logs="$work/logs"
mkdir -p "$logs"
trap 'rm -rf "$work"' EXIT
export PATH="$PATH:/usr/local/cuda/bin"
start=$SECONDS

# Summary rows: step, status, seconds, detail.
rows=()
failed=0
step_start=0
command_text="${ECSIM_GPU_STEPS:+ECSIM_GPU_STEPS=$ECSIM_GPU_STEPS }profiles/run_on_gpu.sh $*"
device=$(nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)
elapsed() { echo $((SECONDS - start)); }
# summary.txt and logs.tar.gz in OUT_DIR, rewritten after every step: a run that the device tool
# stops at its time limit still returns what it had ($1: "in progress", or "done" at the end).
package() {
  tar -czf "$out/logs.tar.gz" -C "$work" logs
  {
    echo "ecsim GPU run ($1): ${device:-no nvidia-smi}; $(date -u '+%Y-%m-%d %H:%M UTC'); $(elapsed) s of a ${budget} s budget"
    echo "command: $command_text  (commit ${sha:-unknown})"
    printf '%-26s %-8s %7s  %s\n' step status seconds detail
    for r in "${rows[@]}"; do
      IFS='|' read -r name status secs detail <<<"$r"
      printf '%-26s %-8s %7s  %s\n' "$name" "$status" "$secs" "$detail"
    done
    echo "files in $out: $(cd "$out" && ls | tr '\n' ' ')"
  } >"$out/summary.txt"
}
begin() { step_start=$SECONDS; echo "== $1 ($((SECONDS - start)) s into the run)"; }
record() {
  rows+=("$1|$2|$((SECONDS - step_start))|$3")
  [[ $2 == ok || $2 == SKIPPED ]] || failed=1
  package "in progress"
}
# The last lines of a log, for the console when a step fails.
show_tail() { echo "-- last lines of $1:"; tail -n 25 "$1"; }

# Seconds left for a step that must leave `reserve` seconds of the budget to the steps after it.
left_after() { echo $((budget - (SECONDS - start) - $1)); }
steps=",${ECSIM_GPU_STEPS:-tests,profile,bench,sanitizers},"
wanted() { [[ $steps == *",$1,"* ]]; }
for s in ${steps//,/ }; do
  case $s in
    tests | profile | bench | sanitizers | memcheck | racecheck) ;;
    *) echo "run_on_gpu.sh: unknown step '$s' in ECSIM_GPU_STEPS" >&2; exit 2 ;;
  esac
done

# --- 1. dependencies (scripts/gpu_deps.sh) ------------------------------------------------------
# shellcheck source=scripts/gpu_deps.sh
source "$root/scripts/gpu_deps.sh"
# shellcheck source=profiles/profile_log.sh
source "$root/profiles/profile_log.sh"
# shellcheck source=scripts/gpu_clocks.sh
source "$root/scripts/gpu_clocks.sh"
begin "dependencies"
if ecsim_gpu_deps "$root" "$build" "$logs"; then
  record "dependencies" ok "$ECSIM_GPU_DEPS_DETAIL"
else
  [[ -e $logs/setup.log ]] && show_tail "$logs/setup.log"
  record "dependencies" FAILED "$ECSIM_GPU_DEPS_DETAIL"
fi

# --- 2. configure and build ---------------------------------------------------------------------
begin "configure"
sha=${ECSIM_GIT_SHA:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo "unknown (no .git)")}
built=0
if cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DECSIM_WERROR="${ECSIM_GPU_WERROR:-OFF}" \
     -DECSIM_GIT_SHA_OVERRIDE="$sha" "${ECSIM_GPU_CMAKE_ARGS[@]}" >"$logs/configure.log" 2>&1 &&
   grep -q '\[x\] CUDA kernels' "$logs/configure.log"; then
  record "configure" ok "CUDA enabled; commit $sha; $(ecsim_gpu_toolchain "$build")"
  begin "build"
  targets=(ecsim_kernel_gpu_tests ecsim-profile ecsim-bench-expert-gemm ecsim-bench-ec-routing)
  if cmake --build "$build" --target help 2>/dev/null | grep -q 'ecsim-bench-attention'; then
    targets+=(ecsim-bench-attention)
  fi
  if cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}" >"$logs/build.log" 2>&1; then
    built=1
    record "build" ok "${targets[*]}"
  else
    show_tail "$logs/build.log"
    record "build" FAILED "see logs.tar.gz: build.log"
  fi
else
  show_tail "$logs/configure.log"
  record "configure" FAILED "CMake failed or found no CUDA compiler (configure.log); $(ecsim_gpu_toolchain "$build")"
fi

if ((built)); then
  bin="$build/bin"
  # --- 3. GPU tests -----------------------------------------------------------------------------
  if wanted tests; then
    begin "gpu tests"
    if timeout 180 "$bin/ecsim_kernel_gpu_tests" >"$logs/gpu_tests.log" 2>&1; then status=ok; else status=FAILED; fi
    detail=$(grep -E '^\[doctest\] test cases' "$logs/gpu_tests.log" | tail -1 | sed 's/\[doctest\] //')
    grep -q 'skipped: \|no CUDA device' "$logs/gpu_tests.log" && status=FAILED && detail="no GPU: $detail"
    [[ $status == ok ]] || show_tail "$logs/gpu_tests.log"
    record "gpu tests" "$status" "$detail"
  fi

  # --- 4. profiler: full when the budget leaves room for it and the steps after it, else quick;
  #        never past the budget (--time-limit-s) ---------------------------------------------------
  if wanted profile; then
    after_profile=10  # packaging, and the steps after it: benchmarks (60), two sanitizer runs (2 x 60)
    wanted bench && after_profile=$((after_profile + 60))
    wanted sanitizers && after_profile=$((after_profile + 120))
    # The full sweep on an H100: about 263 s of kernels (a ragged product timed three ways) plus
    # about 5.4 ms per shape (the quick sweep's 6657 shapes took 106 s for 70 s of kernels predicted
    # on an H100, 2026-11-27).
    full_estimate=360
    left=$(left_after $after_profile)
    mode=full
    profile_args=()
    if ((quick)) || ((left < full_estimate)); then
      mode=quick
      profile_args+=(--quick)
    fi
    limit=$((left > 60 ? left : 60))
    begin "profile ($mode)"
    sampler=$(ecsim_clocks_start "$logs/profile_clocks.csv")
    (cd "$root" && "$bin/ecsim-profile" "${profile_args[@]}" --time-limit-s "$limit" --csv "$out/profile.csv") \
      >"$out/profile.log" 2>&1
    rc=$?
    ecsim_clocks_stop "$sampler"
    echo "GPU clocks while profiling: $(ecsim_clocks_summary "$logs/profile_clocks.csv")" >>"$out/profile.log"
    ceil=$(ecsim_profile_ceilings "$out/profile.log")
    if line=$(ecsim_profile_written "$out/profile.log"); then
      written=${line% *}
      entries=${line##* }
      cp "$root/$written" "$out/" 2>/dev/null || cp "$written" "$out/"
      status=ok
      ((rc == 0)) || status=PARTIAL
      grep -q '^time limit' "$out/profile.log" && detail=", cut by the time limit" || detail=""
      # Entries timed while the card held its SM clock down (profiler.cpp, report_clocks).
      held=$(grep -o '[0-9]* of [0-9]* entries below [0-9]*% of the max' "$out/profile.log" | head -1)
      [[ -n $held ]] && detail+="; SM clock: $held"
      record "profile ($mode)" "$status" "$entries entries -> $(basename "$written")$detail; $ceil"
    else
      show_tail "$out/profile.log"
      record "profile ($mode)" FAILED "exit $rc (profile.log)"
    fi
  fi

  # --- 5. kernel benchmarks ---------------------------------------------------------------------
  if wanted bench; then
    bench_args=()
    (($(left_after 120) < 60)) && bench_args=(--quick)
    : >"$out/bench.txt"
    for b in ecsim-bench-expert-gemm ecsim-bench-ec-routing ecsim-bench-attention; do
      [[ -x $bin/$b ]] || continue
      begin "$b"
      args=("${bench_args[@]}")
      [[ $b == ecsim-bench-attention ]] && args=()
      timeout 120 "$bin/$b" "${args[@]}" >"$logs/$b.txt" 2>&1
      rc=$?
      { echo "### $b ${args[*]}"; cat "$logs/$b.txt"; echo; } >>"$out/bench.txt"
      case $rc in
        0) record "$b" ok "table in bench.txt" ;;
        124) record "$b" TIMEOUT "stopped after 120 s (bench.txt)" ;;
        *) show_tail "$logs/$b.txt"; record "$b" FAILED "exit $rc (bench.txt)" ;;
      esac
    done
  fi

  # --- 6. sanitizers over the GPU tests: memcheck over every case; racecheck over the kernels of
  #        this repository only (cuBLAS's kernels are not ours to fix, and racecheck makes their
  #        shared-memory traffic very slow). Each gets what is left of the budget, at most 120 s. --
  if wanted sanitizers || wanted memcheck || wanted racecheck; then
    sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null ||
      ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
    for tool in memcheck racecheck; do
      wanted sanitizers || wanted "$tool" || continue
      begin "$tool"
      # The profiler's plan tests run on the CPU only (the sweeps' leave-one-out took racecheck's
      # whole 120 s on an H200, 2026-11-28): left out of both.
      excluded='*sweep*,*profiler plans*,*grouped GEMM key*,*timing statistics*,*profile file name*,*collective plan*,*clock cool-down*'
      [[ $tool == racecheck ]] && excluded="cuBLAS*,$excluded"
      filter=(-tce="$excluded")
      cap=$(left_after 10)
      [[ $tool == memcheck ]] && { wanted racecheck || wanted sanitizers; } && cap=$((cap / 2))
      ((cap > sanitizer_cap)) && cap=$sanitizer_cap
      if [[ -z $sanitizer ]]; then
        record "$tool" SKIPPED "compute-sanitizer not found"
        continue
      fi
      if ((cap < 20)); then
        record "$tool" SKIPPED "no time left in the ${budget} s budget (ECSIM_GPU_BUDGET_S)"
        continue
      fi
      timeout "$cap" "$sanitizer" --tool "$tool" --error-exitcode 1 "$bin/ecsim_kernel_gpu_tests" "${filter[@]}" \
        >"$logs/$tool.log" 2>&1
      rc=$?
      summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/$tool.log" | tail -1 | sed 's/^=* *//')
      case $rc in
        0) record "$tool" ok "${summary:-no errors reported}" ;;
        124) record "$tool" TIMEOUT "stopped after $cap s; ${summary:-no summary}" ;;
        *) show_tail "$logs/$tool.log"; record "$tool" FAILED "${summary:-exit $rc}" ;;
      esac
    done
  fi
fi

# --- 7. package and summarize ----------------------------------------------------------------------
package "done"
echo
cat "$out/summary.txt"
exit $failed
