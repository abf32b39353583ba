# shellcheck shell=bash disable=SC2034  # (the variables set here are read by the sourcing script)
# Sourced by profiles/run_on_gpu.sh and scripts/validate_on_gpu.sh: the Debian packages the build
# needs, on a GPU machine that may lack them and reach no registry. In order: the system's packages;
# else the .debs carried in build-deps/ (made here by profiles/gather_gpu_deps.sh), unpacked into the
# build tree, never installed; else scripts/setup.sh. NCCL is not among them: CMake finds it
# (cmake/find_nccl.cmake), in PyTorch's wheel where the CUDA toolkit has none.
#
#   ecsim_gpu_deps ROOT BUILD_DIR LOG_DIR
# sets ECSIM_GPU_CMAKE_ARGS (an array, for the cmake configure line) and ECSIM_GPU_DEPS_DETAIL (one
# line for a summary), exports LD_LIBRARY_PATH when it unpacked libraries, and returns 1 when the
# packages could not be had (the detail says why). Unpacking twice into one build tree is skipped.

# A .deb's files under $2, without installing it (dpkg -x, or ar and tar where dpkg is missing).
ecsim_unpack_deb() {
  if command -v dpkg >/dev/null; then
    dpkg -x "$1" "$2"
  else
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && ar x "$1" && tar -xf data.tar.* -C "$2")
    rm -rf "$tmp"
  fi
}

ecsim_gpu_deps() {
  local root=$1 build=$2 logs=$3
  local needed=(libeigen3-dev nlohmann-json3-dev libcli11-dev doctest-dev libboost-graph-dev)
  local missing=0 p
  ECSIM_GPU_CMAKE_ARGS=()
  for p in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing=1
  done
  if ((missing == 0)); then
    ECSIM_GPU_DEPS_DETAIL="system packages present"
    return 0
  fi
  if compgen -G "$root/build-deps/*.deb" >/dev/null; then
    # Debian's doctest package writes an absolute /usr into its CMake targets: point it at the copy.
    local deps="$build/deps-root" debs=("$root"/build-deps/*.deb) deb
    if [[ ! -e $deps/.unpacked ]]; then
      mkdir -p "$deps"
      for deb in "${debs[@]}"; do ecsim_unpack_deb "$deb" "$deps"; done
      find "$deps" -name '*.cmake' -exec sed -i "s|set(_IMPORT_PREFIX \"/usr\")|set(_IMPORT_PREFIX \"$deps/usr\")|" {} +
      touch "$deps/.unpacked"
    fi
    ECSIM_GPU_CMAKE_ARGS=(-DCMAKE_PREFIX_PATH="$deps/usr")
    export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    ECSIM_GPU_DEPS_DETAIL="unpacked ${#debs[@]} carried .debs (build-deps/)"
    return 0
  fi
  if timeout 180 "$root/scripts/setup.sh" >"$logs/setup.log" 2>&1; then
    ECSIM_GPU_DEPS_DETAIL="installed by scripts/setup.sh"
    return 0
  fi
  ECSIM_GPU_DEPS_DETAIL="scripts/setup.sh could not install them (setup.log) and no build-deps/ was carried"
  return 1
}

# One line on the toolchain a configured build tree found: CMake, host compiler, nvcc, NCCL.
ecsim_gpu_toolchain() {
  local cache="$1/CMakeCache.txt"
  local cmake_v cxx nvcc_v nccl
  cmake_v=$(cmake --version 2>/dev/null | head -n 1 | sed 's/cmake version //')
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache" 2>/dev/null)
  nvcc_v=$(sed -n 's/^CMAKE_CUDA_COMPILER:[A-Z]*=//p' "$cache" 2>/dev/null)
  nccl=$(sed -n 's/^ECSIM_NCCL_LIBRARY:[A-Z]*=//p' "$cache" 2>/dev/null)
  nvcc_v=${nvcc_v:+$nvcc_v $("$nvcc_v" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')}
  echo "cmake ${cmake_v:-?}; ${cxx:-no C++ compiler} $("${cxx:-false}" -dumpfullversion 2>/dev/null);" \
       "${nvcc_v:-no nvcc}; NCCL ${nccl:-not found}"
}
