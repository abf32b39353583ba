#!/usr/bin/env python3
"""ecsim-run against PyTorch eager on the same blocks and models, on the same card.

The PyTorch figures are ../shared/ANCHORS.md's (one H100 SXM 80GB, driver 580, CUDA 13.0,
PyTorch 2.11, medians of CUDA-event timings; blocks: adaLN, GQA self-attention, cross-attention
to 128 text tokens, FFN or expert-choice MoE FFN in groups of 1024, fused AdamW; images of 256
tokens, no masking). The runner's come from `ecsim validate --json` over the scenarios
scenarios/validation/pt-*.json, which have those shapes (scripts/validate_on_gpu.sh runs them):
  - a block's step: its forward and backward operators plus its parameters' share of the
    AdamW step (the validation JSON's "blocks", mean over the blocks of that kind);
  - a whole model's step: the measured step time, when the run had the model's block count.

A scenario named with "-bf16" (pt-m-16e-b32-bf16) is the same shape with bf16 weights, AdamW moments
and gradients and no fp32 master weights, as PyTorch keeps them on a bf16 model; its rows say so.

Usage: scripts/pytorch_comparison.py VALIDATION.json...
Each file is named after its scenario (pt-xl-8e-b64.validation.json). Prints one row per
figure: PyTorch's time, the runner's, and the speed-up (PyTorch / runner; above 1: faster).
Exit status 2 on an unreadable file or one whose scenario has no PyTorch figure.
"""
import json
import pathlib
import sys

# scenario -> (block label, block kind, block step ms, block forward ms, [(blocks, model step ms)])
PYTORCH = {
    "pt-xl-dense-b64": ("XL dense block, 64x256 tokens", "dense block", 6.64, 2.15, [(28, 179.0)]),
    "pt-xl-8e-b64": ("XL block, 8 experts, 64x256 tokens", "MoE block", 9.60, 3.17, [(28, 218.0)]),
    "pt-xl-32e-b64": ("XL block, 32 experts, 64x256 tokens", "MoE block", 11.88, 3.74, []),
    "pt-m-dense-b32": ("M dense block, 32x256 tokens", "dense block", 14.29, 4.31, []),
    "pt-m-8e-b32": ("M block, 8 experts, 32x256 tokens", "MoE block", 24.50, 6.64, [(4, 76.7)]),
    "pt-m-16e-b32": ("M block, 16 experts, 32x256 tokens", "MoE block", 28.50, 6.86, []),
}
MODEL_NAMES = {"pt-xl-dense-b64": "XL dense", "pt-xl-8e-b64": "XL, 8 experts", "pt-m-8e-b32": "M, 8 local experts"}


def fail(message):
    print(f"pytorch_comparison.py: {message}", file=sys.stderr)
    sys.exit(2)


def rows_of(path):
    name = path.name.split(".")[0]
    recipe = " (bf16 weights, AdamW state and gradients)" if name.endswith("-bf16") else ""
    name = name.removesuffix("-bf16")
    if name not in PYTORCH:
        fail(f"{path}: no PyTorch figure for scenario '{name}' (known: {', '.join(PYTORCH)}, each also with -bf16)")
    try:
        v = json.loads(path.read_text())
        blocks = {b["kind"]: b for b in v["blocks"]}
        measured_step_ms = v["step_time"]["measured_mean_s"] * 1e3
        device = v["run"]["device"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{path}: not an ecsim.validation/1 file with blocks ({e!r})")
    label, kind, block_ms, forward_ms, models = PYTORCH[name]
    rows = []
    if kind in blocks:
        b = blocks[kind]
        rows.append((f"{label}{recipe}: step", block_ms, b["step"]["measured_s"] * 1e3))
        rows.append((f"{label}{recipe}: forward", forward_ms, b["forward"]["measured_s"] * 1e3))
    ran = sum(b["blocks"] for b in blocks.values())
    for count, model_ms in models:
        if ran == count:
            rows.append((f"{MODEL_NAMES[name]}, {count} blocks{recipe}: step", model_ms, measured_step_ms))
    return device, rows


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    devices = set()
    table = []
    for arg in argv:
        device, rows = rows_of(pathlib.Path(arg))
        devices.add(device)
        table.extend(rows)
    print(f"ecsim-run on {', '.join(sorted(devices))} against PyTorch eager on an H100 SXM (ANCHORS.md)")
    if any("H100" not in d for d in devices):
        print("WARNING: the runner did not run on an H100: the speed-ups compare different cards")
    print(f"{'figure':<72} {'PyTorch ms':>10} {'runner ms':>10} {'speed-up':>9}")
    for label, pytorch_ms, runner_ms in table:
        print(f"{label:<72} {pytorch_ms:>10.2f} {runner_ms:>10.2f} {pytorch_ms / runner_ms:>8.2f}x")
    slower = [label for label, p, r in table if r >= p]
    print(f"faster than PyTorch eager on {len(table) - len(slower)} of {len(table)} figures"
          + (f"; not on: {'; '.join(slower)}" if slower else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
