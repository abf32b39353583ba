// ecsim-profile as a library: plan the sweep (sweeps.hpp), measure the ceilings (ceilings.hpp)
// and every planned call with the timing loop (timing.hpp), with two or more GPUs the NCCL
// collectives (collective_sweep.hpp, collective_runs.hpp), write the profile file (schema
// "ecsim.profile/1", source "measured", simulator/cost/profile_file.cpp) and report how the
// measurement went. main.cpp only parses the command line and calls run_profiler.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace ecsim::profiler {

struct ProfilerOptions {
  std::filesystem::path out;                  // empty: profiles/<device slug>.json
  std::filesystem::path csv;                  // every timed variant (listing: every planned call); empty: none
  std::filesystem::path models_dir = "scenarios/models";
  bool quick = false;                         // the quick sweep (sweeps.hpp)
  double time_limit_s = 0;                    // no new entry after this many seconds; 0: none
  std::vector<std::string> families;          // only these profile families; empty: all
  bool list_only = false;                     // print the plan and its predicted time; needs no GPU
  std::string planning_gpu = "H100-SXM";      // the GPU table row that prices the plan when listing
  int planning_gpu_count = 8;                 // GPUs the listed collective plan assumes
  std::filesystem::path cluster;              // the collectives' cluster model; empty: the GPU's preset
  std::int64_t ceiling_gemm = 8192;           // side of the square bf16 GEMM of the matmul ceiling
  std::int64_t ceiling_copy_mib = 1024;       // the bandwidth ceiling's copy, at most 1/16 of device memory
  std::int64_t collective_max_mib = 1024;     // no collective buffer above this many MiB per rank
  double rest_above_ms = 0.5;                 // runs this long or longer rest after each; 0: never (timing.hpp)
  std::string command;                        // recorded in tool.command
  std::string git_sha;                        // recorded in tool.git_sha
};

// Returns the profile written (empty when listing). Progress and the report go to `log`.
// Throws InputError for bad models or options, CudaError / CublasError when the device fails.
std::filesystem::path run_profiler(const ProfilerOptions& options, std::ostream& log);

}  // namespace ecsim::profiler
