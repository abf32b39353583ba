// The `ecsim` command: parses arguments, builds the objects, runs; all logic is in ecsim_core.
// Exit codes: 0 success, 1 runtime failure, 2 bad input (the message names the file and JSON path).
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/model_command.hpp"
#include "app/simulate_command.hpp"
#include "app/validate_command.hpp"
#include "core/errors.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ecsim: predicts step time, throughput, memory and communication of training "
               "Mixture-of-Experts diffusion transformers on GPU clusters"};
  app.require_subcommand(1);
  app.get_formatter()->column_width(36);

  ecsim::ModelCommandOptions model_opts;
  CLI::App* model = app.add_subcommand("model", "parameters, FLOPs and activation bytes per image of a model");
  model->add_option("scenario", model_opts.input, "model or scenario JSON file")->required()->check(CLI::ExistingFile);
  model->add_option("--json", model_opts.json_out, "write the numbers as JSON to FILE (keys in DESIGN.md)")
      ->option_text("FILE");

  ecsim::SimulateOptions sim_opts;
  CLI::App* simulate = app.add_subcommand(
      "simulate", "predict step time, throughput, memory and communication of a scenario under a layout");
  simulate->add_option("scenario", sim_opts.scenario,
                       "scenario JSON file (default: the embedded EC-DiT-M-64E training on 1024 H100)")
      ->check(CLI::ExistingFile);
  simulate->add_option("--layout", sim_opts.layout, "override layout keys: dp=..,tp=..,pp=..,vpp=..,ep=..,zero=..,mbs=..,recompute=..")
      ->option_text("SPEC");
  simulate->add_option("--profile", sim_opts.profile, "price kernels from this profile (default: analytic model of the GPU)")
      ->option_text("FILE")
      ->check(CLI::ExistingFile);
  simulate->add_option("--json", sim_opts.json_out, "write the result JSON (schema ecsim.result/1)")->option_text("FILE");
  simulate->add_option("--csv", sim_opts.csv_out, "write one CSV row per simulated operator")->option_text("FILE");
  simulate->add_option("--trace", sim_opts.trace_out, "write a Chrome trace (opens in ui.perfetto.dev)")->option_text("FILE");

  ecsim::ValidateOptions val_opts;
  CLI::App* validate = app.add_subcommand("validate", "lay a simulation over a measured run, operator by operator");
  validate->add_option("--measured", val_opts.measured, "the run's JSON (ecsim-run --json, schema ecsim.run/1)")
      ->option_text("RUN.json")
      ->required()
      ->check(CLI::ExistingFile);
  validate->add_option("--scenario", val_opts.scenario, "the scenario that ran")->option_text("S.json")->required()->check(CLI::ExistingFile);
  validate->add_option("--profile", val_opts.profile, "price kernels from this profile (default: analytic model of the GPU)")
      ->option_text("FILE")
      ->check(CLI::ExistingFile);
  validate->add_option("--json", val_opts.json_out, "write the comparison (schema ecsim.validation/1)")->option_text("FILE");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*model) ecsim::run_model_command(model_opts, std::cout);
    if (*simulate) ecsim::run_simulate_command(sim_opts, std::cout);
    if (*validate) ecsim::run_validate_command(val_opts, std::cout);
  } catch (const ecsim::InputError& e) {
    std::cerr << "ecsim: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ecsim: failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
