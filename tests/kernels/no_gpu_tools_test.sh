#!/usr/bin/env bash
# The tools that need a GPU, run where none is usable (CUDA_VISIBLE_DEVICES=-1 hides any this
# machine has, so the test means the same on a GPU machine): each exits 1 with one line that names
# the tool and says why in words, and ecsim-run leaves no output file behind.
# Usage: no_gpu_tools_test.sh BIN_DIR SOURCE_DIR
set -u
bin=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {
  local tool=$1
  shift
  CUDA_VISIBLE_DEVICES=-1 "$bin/$tool" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local err
  err=$(cat "$work/err")
  if [ "$rc" -ne 1 ] || [[ $err != "$tool: failed: no CUDA GPU is usable here: cudaGetDeviceCount: "* ]] ||
    [ "$(wc -l <"$work/err")" -ne 1 ]; then
    echo "FAIL $tool $*: rc $rc, stderr: $err"
    failures=$((failures + 1))
  else
    echo "ok   $tool: $err"
  fi
}
check ecsim-run "$src/scenarios/validation/xl-8e-b8.json" --steps 1 --json "$work/run.json" --trace "$work/t.json"
if [ -e "$work/run.json" ] || [ -e "$work/t.json" ]; then
  echo "FAIL ecsim-run left an output file without a GPU"
  failures=$((failures + 1))
fi
check ecsim-profile --quick --out "$work/p.json"
for bench in ecsim-bench-attention ecsim-bench-ec-routing ecsim-bench-expert-gemm; do
  [ -x "$bin/$bench" ] && check "$bench"
done
exit $((failures > 0))
