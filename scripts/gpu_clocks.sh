# shellcheck shell=bash
# Sourced by profiles/run_on_gpu.sh and scripts/validate_on_gpu.sh: the GPU's clocks and power,
# sampled by nvidia-smi every 200 ms while a step runs, summarized in one line. A kernel paced by
# latency rather than bytes runs slower at a lower SM clock, and a GPU under training's sustained
# load clocks lower than under the profiler's one kernel at a time (the first H100 session read
# 1560 MHz under the 8192^3 GEMM, 1980 idle; in the campaign, adaLN-LayerNorm's backward over XL's
# 16384 x 1152 took 29% longer inside the runner's steps than in the profile): these lines let the
# two be compared.
#
#   pid=$(ecsim_clocks_start FILE)     start sampling into FILE (nothing, and no pid, without nvidia-smi)
#   ecsim_clocks_stop PID              stop it (PID may be empty)
#   ecsim_clocks_summary FILE          "SM 1755 MHz (p10 1560, p90 1980), memory 2619 MHz, 612 W over 40
#                                      samples", or "no clock samples"

ecsim_clocks_start() {
  command -v nvidia-smi >/dev/null || return 0
  : >"$1"
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw --format=csv,noheader,nounits -lms 200 >"$1" 2>/dev/null &
  echo $!
}

ecsim_clocks_stop() {
  [[ -n ${1:-} ]] || return 0
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# Medians (and the SM clock's p10 and p90) of the numeric samples; a line nvidia-smi could not
# fill ("[N/A]") is left out.
ecsim_clocks_summary() {
  [[ -s ${1:-} ]] || { echo "no clock samples"; return 0; }
  python3 - "$1" <<'PY'
import sys

rows = []
for line in open(sys.argv[1]):
    try:
        sm, mem, watts = (float(v) for v in line.split(","))
    except ValueError:
        continue
    rows.append((sm, mem, watts))
if not rows:
    print("no clock samples")
    sys.exit(0)


def at(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


sm = [r[0] for r in rows]
print(f"SM {at(sm, 0.5):.0f} MHz (p10 {at(sm, 0.1):.0f}, p90 {at(sm, 0.9):.0f}), "
      f"memory {at([r[1] for r in rows], 0.5):.0f} MHz, {at([r[2] for r in rows], 0.5):.0f} W "
      f"over {len(rows)} samples")
PY
}
