#!/usr/bin/env bash
# ecsim-run on the emulated device, end to end, then `ecsim validate` on what it wrote: what the GPU
# campaign (scripts/validate_on_gpu.sh) does first, on a model small enough for the CPU emulation
# (scenarios/tiny-*.json: expert choice; dropless top-2 token choice in 2 micro-batches, with bf16
# weights, AdamW moments and gradients, as PyTorch keeps a bf16 model's, where the others keep
# fp32 masters, moments and gradients). Checks
# that each run passes the runner's own check against the simulator's op plan, writes an
# ecsim.run/1 JSON and a Chrome trace, and that validate matches every measured operator to a
# predicted one and back.
# The times are the emulation's, so the errors mean nothing and are not checked. Also: a model the
# kernels cannot run is refused with exit 2, naming the JSON path, and writes nothing; so is a run
# validated against a scenario it did not run. The GPU campaign's readers of validate's JSON
# (scripts/validation_row.py, scripts/pytorch_comparison.py) run on these real files.
# With MPIEXEC, also the expert-parallel run: 2 processes, dp 2 and ep 2 (tiny-ec-dit-2e-ep2.json),
# one emulated device each and NCCL over MPI; validate then matches the EP dispatch and combine too.
# Usage: run_validate_test.sh ECSIM_RUN_EMULATED ECSIM SOURCE_DIR [MPIEXEC]
set -uo pipefail
run_bin=$1
ecsim=$2
here="$3/tests/emulation/scenarios"
mpiexec=${4:-}
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

names=(tiny-ec-dit-2e tiny-tc-dit-2e)
[[ -n $mpiexec ]] && names+=(tiny-ec-dit-2e-ep2)
for name in "${names[@]}"; do
  scenario="$here/$name.json"
  launcher=()
  # OpenMPI's shared-memory transport copies with CMA, which containers often forbid: plain copies.
  [[ $name == *-ep2 ]] && launcher=(env OMPI_MCA_btl_vader_single_copy_mechanism=none "$mpiexec" --allow-run-as-root
                                    --oversubscribe -np 2)
  "${launcher[@]}" "$run_bin" "$scenario" --steps 2 --warmup 0 --json "$tmp/$name.run.json" --trace "$tmp/$name.trace.json" \
    >"$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "ecsim-run-emulated $name"; }
  cat "$tmp/$name.log"
  "$ecsim" validate --measured "$tmp/$name.run.json" --scenario "$scenario" --json "$tmp/$name.validation.json" \
    >"$tmp/$name.validation.txt" 2>&1 || { cat "$tmp/$name.validation.txt"; fail "ecsim validate $name"; }
  python3 - "$tmp" "$name" <<'PY' || fail "outputs of $name"
import json, sys
tmp, name = sys.argv[1], sys.argv[2]
run = json.load(open(f"{tmp}/{name}.run.json"))
assert run["schema"] == "ecsim.run/1", run["schema"]
assert "emulation" in run["device"], run["device"]
assert len(run["steps"]) == 2, run["steps"]
v = json.load(open(f"{tmp}/{name}.validation.json"))
m = v["matching"]
assert m["matched"] == len(run["ops"]) > 0, (m, len(run["ops"]))
assert m["unmatched_measured"] == 0 and m["unmatched_predicted"] == 0, m
# Each op's host time (enqueueing it; here the emulation runs the kernels inside it) is recorded
# and summed by validate beside the time between operators.
assert all(op["host_ns"] > 0 for op in run["ops"]), "an op without host time"
# and the host's time before each op since the previous one closed (the runner's own work)
assert all(op["host_gap_ns"] > 0 for op in run["ops"]), "an op without the host time before it"
assert v["host"]["measured_between_operators_s"] > 0, v["host"]
assert v["host_in_operators_s"] > 0, v["host_in_operators_s"]
assert set(v["between_operators"]) == {"predicted_s", "measured_s"}, v["between_operators"]
route = "ec_route" if "-ec-" in name else "tc_route"
assert any(op["name"] == route for op in run["ops"]), f"no {route} op"
# The token-choice run has 2 micro-batches of 2 images (gradients accumulated over both).
micro_batches = {op["micro_batch"] for op in run["ops"]} - {-1}
assert micro_batches == ({0, 1} if route == "tc_route" else {0}), micro_batches
# The recipe that ran is recorded (validate refuses a run of another recipe than the scenario's).
want = "bf16" if route == "tc_route" else "fp32"
assert run["optimizer"]["grad_dtype"] == run["optimizer"]["master_dtype"] == want, run["optimizer"]
if name.endswith("-ep2"):
    labels = {op["label"] for op in run["ops"] if op["name"] == "all_to_all"}
    assert {"ep.dispatch", "ep.combine"} <= labels, f"EP exchanges timed: {labels}"
trace = json.load(open(f"{tmp}/{name}.trace.json"))
events = trace["traceEvents"]
assert sum(1 for e in events if e.get("ph") == "X") >= len(run["ops"]), "trace lacks the ops"
print(f"{name}: {m['matched']} operators matched both ways, {len(events)} trace events")
PY
  grep -q "^between operators (one rank): predicted " "$tmp/$name.validation.txt" || fail "no between-operators line"
  grep -q "^host time inside the operators: " "$tmp/$name.validation.txt" || fail "no host-time line"
  # The GPU campaign's table row (scripts/validate_on_gpu.sh) from this real validation file.
  row=$(python3 "$3/scripts/validation_row.py" "$tmp/$name.validation.json" "$name" 2 2>&1) ||
    fail "validation_row.py on $name: $row"
  echo "$row"
  shares='[0-9]+%\|[0-9]+%\|(-|[0-9]+%)'  # idle, host, wait
  [[ $row =~ ^$name\|2\|[0-9.]+\|[0-9.]+\|[-+][0-9.]+%\|$shares\|[0-9.]+\|[0-9.]+\|matched\ [1-9][0-9]*,\ unmatched\ 0\ measured\ /\ 0\ predicted$ ]] ||
    fail "validation_row.py's row for $name: $row"
done

# scripts/pytorch_comparison.py reads the blocks of a real validation file: the expert-choice tiny
# run, named as the XL 8-expert comparison, gives that figure's block rows (its times are the
# emulation's, and the card is not an H100, which the script must say).
cp "$tmp/tiny-ec-dit-2e.validation.json" "$tmp/pt-xl-8e-b64.validation.json"
comparison=$(python3 "$3/scripts/pytorch_comparison.py" "$tmp/pt-xl-8e-b64.validation.json" 2>&1) ||
  fail "pytorch_comparison.py on a real validation file: $comparison"
echo "$comparison"
grep -q "XL block, 8 experts, 64x256 tokens: step " <<<"$comparison" || fail "no MoE block step row"
grep -q "XL block, 8 experts, 64x256 tokens: forward " <<<"$comparison" || fail "no MoE block forward row"
grep -q "WARNING: the runner did not run on an H100" <<<"$comparison" || fail "no warning of another card"

# A run laid over another scenario (expert choice, 2 images, against token choice, 4 images) is
# refused: exit 2, the run file and the first difference named, no validation written.
"$ecsim" validate --measured "$tmp/tiny-ec-dit-2e.run.json" --scenario "$here/tiny-tc-dit-2e.json" \
  --json "$tmp/crossed.validation.json" >"$tmp/crossed.txt" 2>&1
rc=$?
cat "$tmp/crossed.txt"
[[ $rc == 2 ]] || fail "validating a run against another scenario exits $rc, not 2"
grep -q "tiny-ec-dit-2e.run.json: /images_per_step: the run trained 2 images per step" "$tmp/crossed.txt" ||
  fail "the error does not name the run's /images_per_step"
[[ ! -e $tmp/crossed.validation.json ]] || fail "a refused validation wrote its JSON"

# A head_dim the attention kernel does not run: exit 2, the JSON path named, no output written.
python3 - "$here/tiny-ec-dit-2e.json" "$tmp/bad.json" "$3/scenarios/clusters/dgx-h100.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["model"]["attention"]["head_dim"] = 96
s["cluster"]["base"] = sys.argv[3]  # the copy lives elsewhere: its cluster by absolute path
json.dump(s, open(sys.argv[2], "w"))
PY
"$run_bin" "$tmp/bad.json" --steps 1 --json "$tmp/bad.run.json" >"$tmp/bad.log" 2>&1
rc=$?
cat "$tmp/bad.log"
[[ $rc == 2 ]] || fail "a head_dim of 96 exits $rc, not 2"
grep -q "/model/attention/head_dim" "$tmp/bad.log" || fail "the error does not name /model/attention/head_dim"
[[ ! -e $tmp/bad.run.json ]] || fail "a refused run wrote its JSON"
echo "ok"
