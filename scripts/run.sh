#!/usr/bin/env bash
# README command 1: set up, build, and run the main job on its embedded default scenario.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
"$root/build/bin/ecsim" simulate "$@"
