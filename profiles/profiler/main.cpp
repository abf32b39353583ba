// ecsim-profile: measures the kernels the simulator prices on this machine's GPU, and with two or
// more GPUs the NCCL collectives, and writes a profile (schema ecsim.profile/1, source "measured").
// Run from the repository root:
//   build/bin/ecsim-profile                         full sweep -> profiles/<gpu>.json (about 5 min on an H100)
//   build/bin/ecsim-profile --quick --out /tmp/q.json   quick sweep (under 2 min)
//   build/bin/ecsim-profile --list [--quick]        the plan and its predicted time; needs no GPU
// Exit codes: 0 success, 1 runtime failure (no device, a CUDA, cuBLAS or NCCL error), 2 bad input.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "cli/tool_main.hpp"
#include "profiler/profiler.hpp"
#include "ecsim_git_sha.hpp"

int main(int argc, char** argv) {
  ecsim::profiler::ProfilerOptions o;
  CLI::App app{"Measures the simulator's kernels on this GPU and writes a profile (schema ecsim.profile/1)"};
  app.add_option("--out", o.out, "profile file to write (default: profiles/<gpu>.json)");
  app.add_flag("--quick", o.quick, "the quick sweep: two models, fewer layouts");
  app.add_option("--csv", o.csv, "also write every timed variant as CSV (with --list: the planned shapes)");
  app.add_option("--models", o.models_dir, "folder holding the EC-DiT model files")->capture_default_str();
  app.add_option("--time-limit-s", o.time_limit_s, "start no new shape after this many seconds (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));  // not NonNegativeNumber, whose message prints the double range
  app.add_option("--family", o.families, "measure only these profile families (repeatable), e.g. gemm, adamw");
  app.add_flag("--list", o.list_only, "print the plan and its predicted time, measure nothing (no GPU needed)");
  app.add_option("--gpu", o.planning_gpu, "GPU table row that prices the plan for --list")->capture_default_str();
  app.add_option("--gpu-count", o.planning_gpu_count,
                 "GPUs the collective plan of --list assumes (a run uses those visible)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--ceiling-gemm", o.ceiling_gemm,
                 "side of the square bf16 GEMM whose rate is the profile's matmul ceiling; smaller only where "
                 "8192 would take too long (the CPU emulation), as the rate is then no ceiling")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{16}, std::int64_t{65536}))
      ->check(CLI::Validator(
          [](std::string& s) {
            return std::stoll(s) % 8 == 0 ? std::string() : "a multiple of 8 (the GEMMs' 16-byte rows), got " + s;
          },
          "multiple of 8"));
  app.add_option("--ceiling-copy-mib", o.ceiling_copy_mib,
                 "MiB each way of the device copy whose rate is the profile's bandwidth ceiling (at most 1/16 "
                 "of device memory); smaller only where 1024 would take too long (the CPU emulation)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  app.add_option("--rest-above-ms", o.rest_above_ms,
                 "time each entry whose run takes this long or longer at least 10 times, each run followed by a "
                 "rest as long in which the GPU idles, so that back-to-back long products do not cap the card's "
                 "power within their own runs (0: no rests, 20 runs back to back)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--collective-max-mib", o.collective_max_mib,
                 "largest collective buffer per rank, in MiB (the sweep's sizes above it are left out); smaller "
                 "only where the sweep's own would take too long or not fit")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1024}));
  app.add_option("--cluster", o.cluster,
                 "cluster file whose collective model the measured collectives are compared with "
                 "(default: the GPU's one-node preset in the clusters/ folder beside --models)");
  if (auto rc = ecsim::cli::parse_or_exit(app, argc, argv)) return *rc;
  o.command = ecsim::cli::command_line(argc, argv);
  o.git_sha = ECSIM_GIT_SHA;
  return ecsim::cli::run_reporting_errors("ecsim-profile", [&] { ecsim::profiler::run_profiler(o, std::cout); });
}
