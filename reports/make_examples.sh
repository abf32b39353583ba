#!/usr/bin/env bash
# Makes the example report from the embedded default scenario (EC-DiT-M-64E training on 1024 H100):
# its own layout and two others simulated, the layout plan over 512, 1024 and 2048 GPUs, the routing
# comparison, and the validation fixture (a measured run needs GPUs; the page labels it FIXTURE).
# Where the binary has no `plan` or `compare-routing` yet, their hand-written fixtures stand in,
# labelled FIXTURE in the page as well.
#
#   reports/make_examples.sh [ECSIM_BINARY] [OUT_DIR]     defaults: build/bin/ecsim, reports/examples
#
# Run from anywhere; paths in the report are relative to the repository root. The render check
# (tests/report/render_check.sh) runs this same script, so these commands are the tested ones.
set -euo pipefail

ecsim=$(realpath "${1:-build/bin/ecsim}")
cd "$(dirname "$0")/.."
out=${2:-reports/examples}
mkdir -p "$out"
scenario=scenarios/ecdit-m-64e-train.json  # the embedded default, as a file for plan and compare-routing

"$ecsim" simulate --json "$out/default-layout.json" >/dev/null
"$ecsim" simulate --layout tp=4,dp=128,pp=2,vpp=1,ep=64,mbs=8,zero=1 --json "$out/tp4-pp2.json" >/dev/null
"$ecsim" simulate --layout tp=4,dp=256,pp=1,vpp=1,ep=64,mbs=16,zero=1 --json "$out/tp4-dp256.json" >/dev/null

plan=tests/report_fixtures/plan.json
if "$ecsim" plan --help >/dev/null 2>&1; then
  plan="$out/plan.json"
  "$ecsim" plan "$scenario" --gpus 512,1024,2048 --json "$plan" >/dev/null
fi
routing=tests/report_fixtures/routing.json
if "$ecsim" compare-routing --help >/dev/null 2>&1; then
  routing="$out/routing.json"
  "$ecsim" compare-routing "$scenario" --json "$routing" >/dev/null
fi

"$ecsim" report "$out/default-layout.json" "$out/tp4-pp2.json" "$out/tp4-dp256.json" "$plan" "$routing" \
  tests/report_fixtures/validation.json \
  --title "EC-DiT-M-64E on 1024 H100: three layouts, plan, routing (example report)" \
  -o "$out/default.html" --md "$out/default.md"
