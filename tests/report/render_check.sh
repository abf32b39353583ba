#!/usr/bin/env bash
# The HTML report as a browser draws it. Makes the example report (reports/make_examples.sh) with
# the binary under test, loads it in headless Chromium, and checks that every chart's <svg> is in
# the rendered DOM with data marks (class="mark"), that the page fetches nothing, and that its
# screenshot is far from blank (larger than 4x a blank page's PNG of the same size). The committed
# example (reports/examples/default.html) gets the same DOM checks.
#
#   tests/report/render_check.sh ECSIM_BINARY SOURCE_DIR OUT_DIR
#
# Exit 0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE) where no Chromium is installed.
set -euo pipefail

ecsim=$1
src=$2
out=$3

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then browser=$b; break; fi
done
if [[ -z $browser ]]; then
  echo "SKIPPED: no chromium on this machine (scripts/setup.sh installs Debian's chromium)"
  exit 77
fi

rm -rf "$out"
mkdir -p "$out"
bash "$src/reports/make_examples.sh" "$ecsim" "$out"
page="$out/default.html"

browse() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$out/chromium-profile" "$@" 2>>"$out/chromium.log"
}

# The charts the example's inputs must give: results, one plan, one routing comparison, one validation.
charts=(step-time memory comm-collective comm-tier plan-1-ranking plan-1-pareto
        routing-1-step-time routing-1-a2a routing-1-flops routing-1-dropped
        validation-1-ops validation-1-error validation-1-steps)

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

check_dom() {  # check_dom NAME DOM_FILE
  local name=$1 dom=$2
  [[ -s $dom ]] || { fail "$name: the browser gave no DOM (see $out/chromium.log)"; return; }
  for id in "${charts[@]}"; do
    # Records end at </svg>: the record holding data-chart="id" is that chart's <svg> (and the text before it).
    marks=$(awk -v id="$id" 'BEGIN { RS = "</svg>" } index($0, "data-chart=\"" id "\"") { print gsub(/class="mark"/, "&"); exit }' "$dom")
    if [[ -z $marks ]]; then
      fail "$name: chart '$id' is missing"
    elif ((marks == 0)); then
      fail "$name: chart '$id' has no data marks"
    fi
  done
  local svgs empty
  svgs=$(grep -o '<svg' "$dom" | wc -l)
  empty=$(awk 'BEGIN { RS = "</svg>"; n = 0 } /<svg/ && !/class="mark"/ { n++ } END { print n }' "$dom")
  ((svgs == ${#charts[@]})) || fail "$name: $svgs charts in the page, expected ${#charts[@]}"
  ((empty == 0)) || fail "$name: $empty chart(s) without data marks"
  if grep -Eq '<script|<link|@import|url\(|https?:|src=' "$dom"; then
    fail "$name: the page refers to something outside itself: $(grep -Eo '<script|<link|@import|url\(|https?:[^" ]*|src=' "$dom" | head -3 | tr '\n' ' ')"
  fi
  echo "$name: $svgs charts checked"
}

browse --dump-dom "file://$page" >"$out/dom.html" || true
check_dom "generated report" "$out/dom.html"
browse --dump-dom "file://$src/reports/examples/default.html" >"$out/example-dom.html" || true
check_dom "committed example" "$out/example-dom.html"

# Screenshot of the whole page (tall window), against a blank page of the same size.
printf '<!DOCTYPE html><html><body></body></html>\n' >"$out/blank.html"
browse --window-size=1100,16000 --screenshot="$out/report.png" "file://$page" >/dev/null || true
browse --window-size=1100,16000 --screenshot="$out/blank.png" "file://$out/blank.html" >/dev/null || true
if [[ ! -s $out/report.png || ! -s $out/blank.png ]]; then
  fail "no screenshot (see $out/chromium.log)"
else
  size=$(stat -c %s "$out/report.png")
  blank=$(stat -c %s "$out/blank.png")
  ((size > 4 * blank)) || fail "the screenshot looks blank: $size bytes against $blank for an empty page"
  echo "screenshot: $out/report.png ($size bytes; an empty page: $blank)"
fi

if ((failures > 0)); then
  echo "render check: $failures failure(s)"
  exit 1
fi
echo "render check: passed"
