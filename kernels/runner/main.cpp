// ecsim-run: real EC-DiT training steps from the project's kernels and cuBLAS, every operator timed
// with CUDA events, written as "ecsim.run/1" JSON for `ecsim validate` and as a Chrome trace.
//   build/bin/ecsim-run scenarios/validation/xl-8e-b8.json --layers 8 --steps 10 --json run.json
//   mpirun -np 8 build/bin/ecsim-run S.json      (one process per GPU; data and expert parallel over NCCL)
// Exit codes: 0 success, 1 runtime failure (no device, CUDA/cuBLAS/NCCL error), 2 bad input.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/tool_main.hpp"
#include "runner/runner.hpp"

int main(int argc, char** argv) {
  ecsim::runner::RunOptions o;
  CLI::App app{"Trains the scenario's EC-DiT on this machine's GPU(s) and times every operator"};
  app.add_option("scenario", o.scenario, "scenario JSON (model, one-GPU or mpirun-sized cluster, layout, run)")
      ->required();
  // Ranges rather than CLI11's PositiveNumber, whose message prints the double range's bounds.
  app.add_option("--steps", o.steps, "measured steps")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--warmup", o.warmup, "steps run before measuring")->capture_default_str()->check(
      CLI::Range(0, 1000000));
  app.add_option("--layers", o.layers, "run the first L blocks only, MoE placement kept (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--layout", o.layout, "layout over the scenario's: dp=..,tp=..,pp=..,ep=..,zero=..,mbs=..");
  app.add_option("--trace", o.trace, "write a Chrome trace (Perfetto) of one measured step");
  app.add_option("--json", o.json, "write the measured run (schema ecsim.run/1) for `ecsim validate`");
  app.add_option("--seed", o.seed, "seed of the weights and data (0: the scenario's run.seed)")->capture_default_str();
  if (auto rc = ecsim::cli::parse_or_exit(app, argc, argv)) return *rc;
  return ecsim::cli::run_reporting_errors("ecsim-run", [&] {
    ecsim::runner::ProcessGroup group(&argc, &argv);
    ecsim::runner::run(o, group, std::cout);
  });
}
