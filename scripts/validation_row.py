#!/usr/bin/env python3
"""One row of the validation campaign's table (scripts/validate_on_gpu.sh), from `ecsim validate --json`.

Usage: scripts/validation_row.py VALIDATION.json NAME BLOCKS
Prints NAME|BLOCKS|predicted ms|measured ms|error|idle|host|wait|predicted GiB|measured GiB|matching,
the fields the campaign's summary lays out in columns: idle is the measured time between one rank's
operators and host the host's time inside them, each as a share of the measured step (a step paced
by kernel launches shows both high); wait the predicted time the GPU waits for the host's launches,
as a share of the predicted step ("-" where the profile has no host times to price it); the memory
is the runner's buffers (the simulator's part of its peak that the runner's allocator peak holds,
and that peak). Exit status 2 on a file that is not an
ecsim.validation/1 file with those keys (tests/emulation/run_validate_test.sh holds it to
validate's real output).
"""
import json
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, name, blocks = argv
    try:
        v = json.load(open(path))
        st, mem, m = v["step_time"], v["memory"], v["matching"]
        step = st["measured_mean_s"]
        idle, host = v["between_operators"]["measured_s"] / step, v["host_in_operators_s"] / step
        gib = 2.0**30
        lane = v.get("host", {})  # validate's host lane (absent in files written before it)
        wait = (f'{100 * lane["predicted_gpu_wait_s"] / st["predicted_s"]:.0f}%' if lane.get("priced") else "-")
        row = (f'{name}|{blocks}|{st["predicted_s"] * 1e3:.2f}|{step * 1e3:.2f}|'
               f'{100 * st["error"]:+.1f}%|{100 * idle:.0f}%|{100 * host:.0f}%|{wait}|'
               f'{mem["predicted_buffers_bytes"] / gib:.2f}|{mem["measured_peak_bytes"] / gib:.2f}|'
               f'matched {m["matched"]}, unmatched {m["unmatched_measured"]} measured / '
               f'{m["unmatched_predicted"]} predicted')
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as e:
        print(f"validation_row.py: {path}: not an ecsim.validation/1 file with step_time, "
              f"between_operators, host_in_operators_s, memory and matching ({e!r})", file=sys.stderr)
        return 2
    print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
