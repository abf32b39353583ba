#!/usr/bin/env bash
# scripts/pytorch_comparison.py on a hand-made validation file (pt-xl-8e-b64.validation.json, its
# numbers in its note): the speed-ups worked out by hand, the slower figure named, the same file
# as its bf16-AdamW twin (pt-xl-8e-b64-bf16) labelled so, and a file whose scenario has no PyTorch
# figure refused with exit 2. Skipped (77) without python3.
set -uo pipefail
root=$1
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
here="$root/tests/scripts"
out=$(python3 "$root/scripts/pytorch_comparison.py" "$here/pt-xl-8e-b64.validation.json") || { echo "$out"; exit 1; }
echo "$out"
squeezed=$(tr -s ' ' <<<"$out")
expect() { grep -qF -- "$1" <<<"$squeezed" || { echo "missing: $1"; exit 1; }; }  # columns as single spaces
expect "XL block, 8 experts, 64x256 tokens: step 9.60 8.00 1.20x"
expect "XL block, 8 experts, 64x256 tokens: forward 3.17 3.50 0.91x"
expect "XL, 8 experts, 28 blocks: step 218.00 200.00 1.09x"
expect "faster than PyTorch eager on 2 of 3 figures; not on: XL block, 8 experts, 64x256 tokens: forward"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The same shape with AdamW on bf16 weights and moments: the same figures, its rows saying so.
cp "$here/pt-xl-8e-b64.validation.json" "$tmp/pt-xl-8e-b64-bf16.validation.json"
out=$(python3 "$root/scripts/pytorch_comparison.py" "$tmp/pt-xl-8e-b64-bf16.validation.json") || { echo "$out"; exit 1; }
squeezed=$(tr -s ' ' <<<"$out")
expect "XL block, 8 experts, 64x256 tokens (bf16 weights, AdamW state and gradients): step 9.60 8.00 1.20x"
expect "XL, 8 experts, 28 blocks (bf16 weights, AdamW state and gradients): step 218.00 200.00 1.09x"
cp "$here/pt-xl-8e-b64.validation.json" "$tmp/xl-8e-b8.validation.json"
python3 "$root/scripts/pytorch_comparison.py" "$tmp/xl-8e-b8.validation.json" 2>"$tmp/err"
rc=$?
[[ $rc == 2 ]] || { echo "expected exit 2 for a scenario without a PyTorch figure, got $rc"; exit 1; }
grep -q "no PyTorch figure for scenario 'xl-8e-b8'" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "ok"
