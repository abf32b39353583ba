# The profiler's sources (README.md, "Measured profiles"): built into ecsim_profiler_timing and
# ecsim_profiler against the CUDA libraries (CMakeLists.txt), and into tests/emulation's emulated
# profiler against the emulated device, so that both run the same code. The .cu files are compiled
# by nvcc here and included by tests/emulation's *_emulated.cpp wrappers there.
set(ecsim_profiler_timing_device_sources
  ${CMAKE_CURRENT_LIST_DIR}/timing.cu
  ${CMAKE_CURRENT_LIST_DIR}/device_buffers.cu
)
set(ecsim_profiler_timing_host_sources
  ${CMAKE_CURRENT_LIST_DIR}/device_info.cpp
  ${CMAKE_CURRENT_LIST_DIR}/copy_ceiling.cpp
)
set(ecsim_profiler_sources
  ${CMAKE_CURRENT_LIST_DIR}/profiler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sweeps.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernel_runs.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ceilings.cpp
  ${CMAKE_CURRENT_LIST_DIR}/collective_sweep.cpp
  ${CMAKE_CURRENT_LIST_DIR}/collective_runs.cpp
  ${CMAKE_CURRENT_LIST_DIR}/clock_cool_down.cpp
)
