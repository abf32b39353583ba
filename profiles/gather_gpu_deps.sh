#!/usr/bin/env bash
# Downloads (never installs) the Debian packages ecsim's build needs into build-deps/, for a GPU
# machine that cannot reach a package registry: profiles/run_on_gpu.sh unpacks them there when
# scripts/setup.sh cannot install. build-deps/ is ignored by git (/build*/), so a device run can
# carry it. Run here, from anywhere in the repository; about 25 MB.
#   profiles/gather_gpu_deps.sh            -> build-deps/*.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/build-deps"

# The headers and CMake packages the top-level CMakeLists.txt finds, and the shared libraries
# libboost_graph needs at link and run time (regex, and the ICU it was built against).
packages=(
  libeigen3-dev nlohmann-json3-dev libcli11-dev doctest-dev
  libboost1.74-dev libboost-graph1.74-dev libboost-graph1.74.0
  libboost-regex1.74-dev libboost-regex1.74.0 libicu72
)

mkdir -p "$dest"
cd "$dest"
apt-get download "${packages[@]}"
ls -l "$dest"/*.deb
du -sh "$dest"
