#!/usr/bin/env python3
"""One row of the validation campaign's table (scripts/validate_on_gpu.sh), from `ecsim validate --json`.

Usage: scripts/validation_row.py VALIDATION.json NAME BLOCKS
Prints NAME|BLOCKS|predicted ms|measured ms|error|predicted GiB|measured GiB|matching, the fields
the campaign's summary lays out in columns. Exit status 2 on a file that is not an
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
        gib = 2.0**30
        row = (f'{name}|{blocks}|{st["predicted_s"] * 1e3:.2f}|{st["measured_mean_s"] * 1e3:.2f}|'
               f'{100 * st["error"]:+.1f}%|{mem["predicted_peak_bytes"] / gib:.2f}|'
               f'{mem["measured_peak_bytes"] / gib:.2f}|'
               f'matched {m["matched"]}, unmatched {m["unmatched_measured"]} measured / '
               f'{m["unmatched_predicted"]} predicted')
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"validation_row.py: {path}: not an ecsim.validation/1 file with step_time, memory and "
              f"matching ({e!r})", file=sys.stderr)
        return 2
    print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
