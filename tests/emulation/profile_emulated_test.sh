#!/usr/bin/env bash
# ecsim-profile on the emulated device, end to end: what a GPU session runs first
# (profiles/run_on_gpu.sh), here on the CPU, so that the profiler's own code has run before it
# meets a GPU: the device record, the ceilings, the operand pools and their rotation, the timing
# loop with its hold kernel, the kernel launch table (kernel_runs.cpp), the profile and CSV writers,
# and the simulator's strict reader, in the profiler and in `ecsim simulate --profile`.
# The quick sweep's model files are fixed (profiler/sweeps.cpp: XL-32E and M-64E from
# scenarios/models), so the shapes are the real ones, and --family and --time-limit-s keep the run
# to the smallest of them: the GEMM launchers (forward and dX, then dW, through the emulated
# cuBLAS) until the limit, a linear layer's bias gradient until the limit, and the expert-choice gate backward
# over its routing of random logits (one or a few shapes). The ceilings run a 128^3 GEMM and a
# 4 MiB copy (8192^3 and 1 GiB would take hours).
# A last run times the NCCL collectives over 2 emulated devices in one process, at the sweep's
# two smallest sizes, into the profile's collectives and the comparison with the simulator's model.
# The times are the CPU's and are not checked, only that they are times.
# Usage: profile_emulated_test.sh ECSIM_PROFILE_EMULATED ECSIM SOURCE_DIR
set -uo pipefail
profile_bin=$1
ecsim=$2
src=$3
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

# Seconds after which no new shape starts. The ceilings come first and count: a few seconds in the
# sanitizer build, but past 15 on a loaded machine (CI's sanitizer run beside other work), when the
# profiler rightly measures nothing (or too little) and says so. What is under test is the code,
# not the machine's speed: such a run is repeated with a longer limit, and only one that still
# measures fewer than the entries asked for at 240 s (or fails otherwise) fails the test.
limits=(15 60 240)

# The emulated kernels run for milliseconds, past --rest-above-ms's default: every run but the
# expert-choice gate's times its entries back to back (--rest-above-ms 0, the checks of the launch
# gap and of 20 samples below), that one with a rest after each timed run (timing.hpp).
rests=(--rest-above-ms 0)

profile() {  # NAME MIN_ENTRIES FAMILY...: one profiler run over those families (with ${rests[@]})
  local name=$1 least=$2
  shift 2
  local families=()
  for f in "$@"; do families+=(--family "$f"); done
  local limit measured
  for limit in "${limits[@]}"; do
    "$profile_bin" --quick --models "$src/scenarios/models" "${families[@]}" --time-limit-s "$limit" "${rests[@]}" \
      --ceiling-gemm 128 --ceiling-copy-mib 4 --out "$tmp/$name.json" --csv "$tmp/$name.csv" >"$tmp/$name.log" 2>&1
    measured=$(sed -n "s|^wrote $tmp/$name.json (\([0-9]*\) entries.*|\1|p" "$tmp/$name.log")
    if [[ -n $measured ]] && ((measured >= least)); then
      cat "$tmp/$name.log"
      return
    fi
    [[ -n $measured ]] || grep -q "failed: nothing measured" "$tmp/$name.log" || break
    echo "ecsim-profile-emulated $name: ${measured:-0} entries within --time-limit-s $limit (a slow machine); again"
  done
  cat "$tmp/$name.log"
  fail "ecsim-profile-emulated $name"
}

# An unknown family is refused before anything runs (the ceilings take hours here at their default
# sizes, and the run that ends in "nothing measured" is wasted): exit 2, the known families named,
# no profile written.
timeout 60 "$profile_bin" --family gemm --family nosuch --out "$tmp/nosuch.json" >"$tmp/nosuch.log" 2>&1
rc=$?
cat "$tmp/nosuch.log"
[[ $rc == 2 ]] || fail "an unknown --family exits $rc, not 2"
grep -q "ecsim-profile: error: --family: unknown family 'nosuch' (known: gemm, " "$tmp/nosuch.log" ||
  fail "the refusal does not name the family and the known ones"
grep -q "all_to_all)" "$tmp/nosuch.log" || fail "the refusal does not list the collectives"
[[ ! -e $tmp/nosuch.json ]] || fail "a profile was written for an unknown family"

# A --models folder that is not there is refused before the ceilings, saying what it is for.
timeout 60 "$profile_bin" --family gemm --models "$tmp/no-models" --out "$tmp/nomodels.json" >"$tmp/nomodels.log" 2>&1
rc=$?
cat "$tmp/nomodels.log"
[[ $rc == 2 ]] || fail "a missing --models folder exits $rc, not 2"
grep -q "ecsim-profile: error: --models: folder '$tmp/no-models' does not exist; it holds the EC-DiT model files" \
  "$tmp/nomodels.log" || fail "the refusal does not name --models and the folder"
[[ ! -e $tmp/nomodels.json ]] || fail "a profile was written without model files"

profile gemm 2 gemm  # dX at least (the smallest; a biased layer's forward is gemm_bias's)
profile gemm_wgrad 1 gemm_wgrad  # dW, added to an fp32 gradient
profile bias 1 bias_add_bwd  # the bias gradient (fp32 out); its forward is the runner's bias_add
profile gemm_bias 1 gemm_bias  # a linear layer's forward with its bias (cuBLASLt's epilogue)
rests=()  # the default: rests after runs of 0.5 ms or more
profile ec_route_bwd 1 ec_route_bwd

python3 - "$tmp" <<'PY' || fail "the profiles"
import csv, json, re, sys
tmp = sys.argv[1]
for name, families, roles in [("gemm", {"gemm"}, {"dX"}),
                              ("gemm_wgrad", {"gemm_wgrad"}, {"dW"}),
                              ("bias", {"bias_add_bwd"}, {"backward"}),
                              ("gemm_bias", {"gemm_bias"}, {"forward"}),
                              ("ec_route_bwd", {"ec_route_bwd"}, {"backward"})]:
    p = json.load(open(f"{tmp}/{name}.json"))
    assert p["schema"] == "ecsim.profile/1" and p["source"] == "measured", (p["schema"], p["source"])
    assert "emulation" in p["device"]["name"], p["device"]
    assert p["device"]["clock_mhz"] == 0, p["device"]  # the emulation has no SM clock
    assert "--ceiling-gemm 128" in p["tool"]["command"], p["tool"]
    assert p["ceilings"]["bf16_matmul_flops_per_s"] > 0 and p["ceilings"]["hbm_bytes_per_s"] > 0, p["ceilings"]
    ops = p["ops"]
    assert len(ops) >= len(roles), f"{name}: {len(ops)} entries"
    assert {o["op"] for o in ops} == families, {o["op"] for o in ops}
    log = open(f"{tmp}/{name}.log").read()
    # Entries timed with a rest after each run (ec_route_bwd's run only): the log counts them.
    rested = int(re.search(r"^rests: (\d+) entries of runs of 0.50 ms or more", log, re.M).group(1)) \
        if name == "ec_route_bwd" else 0
    assert name != "ec_route_bwd" or rested >= 1, "no entry rested"
    assert "rests:" in log or rested == 0
    for o in ops:
        t = o["time_ns"]
        # timing.hpp's method: at least 20 timed runs (10 with rests), p10 <= median <= p90, all positive.
        assert o["samples"] >= (10 if rested else 20) and 0 < t["p10"] <= t["p50"] <= t["p90"], o
    # The idle time between timed runs, over every entry timed back to back (timing.hpp's gap_ns).
    if rested == len(ops):
        assert "launch_gap_ns" not in p and "launch gap (idle" not in log
    else:
        g = p["launch_gap_ns"]
        assert g["entries"] == len(ops) - rested and 0 <= g["p10"] <= g["p50"] <= g["p90"], g
        assert ("launch gap (idle between one timed run's stop event and the next one's start) over "
                f"{len(ops) - rested} entries") in log
    # The host's time to enqueue each entry's timed run (timing.hpp's host_ns), which holds the
    # event pair the profile measures alone.
    e = p["event_pair_host_ns"]
    assert 0 < e["p10"] <= e["p50"] <= e["p90"], e
    assert all(o["host_ns"] > 0 for o in ops), [o for o in ops if o.get("host_ns", 0) <= 0][:3]
    # A memory-bound entry whose operands fit in the L2 is timed warm too (one operand set); a
    # matrix one never.
    warm = [o for o in ops if "warm_ns" in o]
    assert all(o["warm_ns"] > 0 for o in warm), warm[:3]
    assert name != "bias" or warm, "no bias_add_bwd entry timed warm"
    assert name == "bias" or name == "ec_route_bwd" or not warm, warm[:3]
    assert (f"warm: {len(warm)} memory-bound entries" in log) == bool(warm), "the log's warm line"
    rows = list(csv.DictReader(open(f"{tmp}/{name}.csv")))
    assert len(rows) == len(ops), (len(rows), len(ops))
    assert {r["role"] for r in rows} >= roles, {r["role"] for r in rows}
    assert f"wrote {tmp}/{name}.json ({len(ops)} entries, 0 collectives)" in log, "the log's last line"
    assert "collectives: skipped, 1 GPU visible" in log
    assert "host time to record an event pair: median" in log
    print(f"{name}: {len(ops)} entries, roles {sorted({r['role'] for r in rows})}")
PY

# The collectives, over 2 emulated devices in one process (ECSIM_EMULATED_DEVICES, NCCL's
# ncclCommInitAll emulated): every kind at the sweep's two smallest sizes (--collective-max-mib 1),
# written into the profile's collectives and compared with the simulator's model of a DGX H100.
ECSIM_EMULATED_DEVICES=2 "$profile_bin" --quick --models "$src/scenarios/models" --family all_reduce \
  --family all_gather --family reduce_scatter --family all_to_all --collective-max-mib 1 \
  --cluster "$src/scenarios/clusters/dgx-h100.json" --ceiling-gemm 128 --ceiling-copy-mib 4 \
  --out "$tmp/collectives.json" >"$tmp/collectives.log" 2>&1 ||
  { cat "$tmp/collectives.log"; fail "ecsim-profile-emulated over 2 devices"; }
cat "$tmp/collectives.log"
python3 - "$tmp/collectives.json" <<'PY' || fail "the collectives' profile"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["ops"] == [], len(p["ops"])
assert "launch_gap_ns" not in p  # no kernel entry measured one
assert "event_pair_host_ns" not in p  # nor a host time
c = p["collectives"]
got = sorted((e["op"], e["ranks"], e["bytes"]) for e in c)
want = sorted((op, 2, b) for op in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")
              for b in (64 << 10, 1 << 20))
assert got == want, got
for e in c:
    t = e["time_ns"]
    assert 0 < t["p10"] <= t["p50"] <= t["p90"], e
print(f"collectives: {len(c)} entries over 2 emulated devices")
PY
grep -q "median |error| over 8 entries" "$tmp/collectives.log" || fail "no comparison with the collective model"

# profiles/run_on_gpu.sh reads the log through profiles/profile_log.sh: it must find the profile
# written and the ceilings in the profiler's real output, or a GPU session loses its profile.
# shellcheck source=profiles/profile_log.sh
source "$src/profiles/profile_log.sh"
entries=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["ops"]))' "$tmp/gemm.json")
written=$(ecsim_profile_written "$tmp/gemm.log") || fail "profile_log.sh finds no 'wrote' line in the profiler's log"
[[ $written == "$tmp/gemm.json $entries" ]] || fail "profile_log.sh reads '$written', not '$tmp/gemm.json $entries'"
ceilings=$(ecsim_profile_ceilings "$tmp/gemm.log")
[[ $ceilings == "bf16 GEMM 128^3 "*"; device copy "* ]] || fail "profile_log.sh reads the ceilings as '$ceilings'"
echo "profile_log.sh reads: $written; $ceilings"

# The simulator prices a scenario with the measured profile (and says whose card it is).
scenario="$src/tests/emulation/scenarios/tiny-ec-dit-2e.json"
"$ecsim" simulate "$scenario" --profile "$tmp/gemm.json" >"$tmp/simulate.txt" 2>&1 ||
  { cat "$tmp/simulate.txt"; fail "ecsim simulate --profile"; }
grep -q "measured, CPU emulation of a CUDA device" "$tmp/simulate.txt" ||
  { cat "$tmp/simulate.txt"; fail "simulate does not name the measured profile"; }
echo "ok"
