# NCCL's header and library, which CUDAToolkit does not export: one lookup for the runner, the
# profiler (kernels/, profiles/) and the emulated device (tests/emulation, the header only).
# Looked for, in this order:
#   1. under ECSIM_NCCL_ROOT (a CMake or environment variable: <root>/include/nccl.h, <root>/lib*/);
#   2. next to the CUDA toolkit (CUDAToolkit's folders, /usr/local/cuda), then the system's paths;
#   3. in the Python wheel nvidia-nccl-cu* that PyTorch installs (nvidia/nccl/{include,lib}, asked of
#      the `python3` on PATH), whose library is libnccl.so.2 alone, with no libnccl.so link.
# Sets the cache variables ECSIM_NCCL_INCLUDE_DIR and ECSIM_NCCL_LIBRARY (NOTFOUND when missing; a
# user may also set them directly), and ECSIM_NCCL_VERSION ("2.28.9") when the header is found.
#
# Usage: include(${PROJECT_SOURCE_DIR}/cmake/find_nccl.cmake), after find_package(CUDAToolkit); it may
# be included more than once (the cached results make later lookups free).

set(_ecsim_nccl_roots "")
if(DEFINED ECSIM_NCCL_ROOT)
  list(APPEND _ecsim_nccl_roots "${ECSIM_NCCL_ROOT}")
elseif(DEFINED ENV{ECSIM_NCCL_ROOT})
  list(APPEND _ecsim_nccl_roots "$ENV{ECSIM_NCCL_ROOT}")
endif()

# Steps 1 and 2; the roots (step 1) come before the toolkit's folders.
set(_ecsim_nccl_include_hints ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
set(_ecsim_nccl_library_hints ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
foreach(root IN LISTS _ecsim_nccl_roots)
  list(PREPEND _ecsim_nccl_include_hints "${root}/include")
  list(PREPEND _ecsim_nccl_library_hints "${root}/lib" "${root}/lib64")
endforeach()
find_path(ECSIM_NCCL_INCLUDE_DIR nccl.h HINTS ${_ecsim_nccl_include_hints}
          DOC "folder of nccl.h (cmake/find_nccl.cmake)")
find_library(ECSIM_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_ecsim_nccl_library_hints}
             DOC "NCCL's shared library (cmake/find_nccl.cmake)")

# Step 3: PyTorch's wheel. Asked only when the steps above missed, so a configured tree never waits
# for Python.
if(NOT ECSIM_NCCL_INCLUDE_DIR OR NOT ECSIM_NCCL_LIBRARY)
  find_program(ECSIM_PYTHON3 python3)
  if(ECSIM_PYTHON3)
    execute_process(
      COMMAND "${ECSIM_PYTHON3}" -c "import nvidia.nccl as m; print(list(m.__path__)[0])"
      OUTPUT_VARIABLE _ecsim_nccl_wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET TIMEOUT 30)
    if(_ecsim_nccl_wheel AND IS_DIRECTORY "${_ecsim_nccl_wheel}")
      find_path(ECSIM_NCCL_INCLUDE_DIR nccl.h HINTS "${_ecsim_nccl_wheel}/include" NO_DEFAULT_PATH)
      find_library(ECSIM_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS "${_ecsim_nccl_wheel}/lib" NO_DEFAULT_PATH)
    endif()
  endif()
endif()

unset(ECSIM_NCCL_VERSION)
if(ECSIM_NCCL_INCLUDE_DIR AND EXISTS "${ECSIM_NCCL_INCLUDE_DIR}/nccl.h")
  file(STRINGS "${ECSIM_NCCL_INCLUDE_DIR}/nccl.h" _ecsim_nccl_defines
       REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
  foreach(part MAJOR MINOR PATCH)
    set(_ecsim_nccl_${part} "?")
    foreach(line IN LISTS _ecsim_nccl_defines)
      if(line MATCHES "^#define NCCL_${part} +([0-9]+)")
        set(_ecsim_nccl_${part} "${CMAKE_MATCH_1}")
      endif()
    endforeach()
  endforeach()
  set(ECSIM_NCCL_VERSION "${_ecsim_nccl_MAJOR}.${_ecsim_nccl_MINOR}.${_ecsim_nccl_PATCH}")
endif()
