#!/usr/bin/env bash
# scripts/gpu_clocks.sh on hand-made nvidia-smi samples: the medians and the SM clock's p10 and
# p90 worked out by hand, a line nvidia-smi could not fill left out; no samples, and no sampler
# where nvidia-smi is not on the PATH. Skipped (77) without python3.
set -uo pipefail
root=$1
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
# shellcheck source=scripts/gpu_clocks.sh
source "$root/scripts/gpu_clocks.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

# 11 samples of the SM clock 1500, 1510, ..., 1600 (in shuffled order) and one "[N/A]" line:
# median 1550, p10 1510, p90 1590; memory 2619 throughout; power 400..500, median 450.
for i in 3 9 0 6 1 10 4 8 2 7 5; do
  echo "$((1500 + 10 * i)), 2619, $((400 + 10 * i)).25"
done >"$tmp/samples.csv"
echo "[N/A], 2619, [N/A]" >>"$tmp/samples.csv"
got=$(ecsim_clocks_summary "$tmp/samples.csv")
echo "$got"
[[ $got == "SM 1550 MHz (p10 1510, p90 1590), memory 2619 MHz, 450 W over 11 samples" ]] || fail "summary: $got"

: >"$tmp/empty.csv"
[[ $(ecsim_clocks_summary "$tmp/empty.csv") == "no clock samples" ]] || fail "an empty file"
[[ $(ecsim_clocks_summary "$tmp/absent.csv") == "no clock samples" ]] || fail "a missing file"
echo "[N/A], [N/A], [N/A]" >"$tmp/unfilled.csv"
[[ $(ecsim_clocks_summary "$tmp/unfilled.csv") == "no clock samples" ]] || fail "only unfilled lines"

# Without nvidia-smi: no sampler, and stopping nothing is fine.
pid=$(PATH=/nonexistent ecsim_clocks_start "$tmp/none.csv")
[[ -z $pid ]] || fail "a sampler started without nvidia-smi: $pid"
ecsim_clocks_stop "$pid" || fail "stopping no sampler"
echo "ok"
