// The `ecsim` command: parses arguments, builds the objects, runs; all logic is in ecsim_core.
// Exit codes: 0 success, 1 runtime failure, 2 bad input (the message names the file and JSON path).
#include <initializer_list>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/compare_routing_command.hpp"
#include "app/model_command.hpp"
#include "app/plan_command.hpp"
#include "app/report_command.hpp"
#include "app/simulate_command.hpp"
#include "app/validate_command.hpp"
#include "cli/tool_main.hpp"
#include "core/atomic_file.hpp"
#include "core/input_files.hpp"

namespace {

// A command's input files and the output files it was asked for, checked before it runs: an output
// in a missing folder, one that is an input (`simulate s.json --json s.json` would replace the
// scenario) or another output's file is bad input (exit 2) that costs no simulation or plan,
// rather than a failure (exit 1) or a lost file after it. Files the inputs reference are guarded
// as they are read (core/input_files.hpp).
using Output = std::pair<const char*, const std::string&>;
void require_outputs(const std::vector<std::string>& inputs, std::initializer_list<Output> outputs) {
  for (const std::string& input : inputs) {
    if (!input.empty()) ecsim::note_input_file(input);
  }
  for (auto it = outputs.begin(); it != outputs.end(); ++it) {
    if (it->second.empty()) continue;
    ecsim::require_output_path(it->second, it->first);
    for (auto earlier = outputs.begin(); earlier != it; ++earlier) {
      ecsim::require_distinct_outputs(earlier->second, earlier->first, it->second, it->first);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ecsim: predicts step time, throughput, memory and communication of training "
               "Mixture-of-Experts diffusion transformers on GPU clusters"};
  app.require_subcommand(1);
  app.get_formatter()->column_width(36);

  ecsim::ModelCommandOptions model_opts;
  CLI::App* model = app.add_subcommand("model", "parameters, FLOPs and activation bytes per image of a model");
  model->add_option("scenario", model_opts.input, "model or scenario JSON file")->required()->check(CLI::ExistingFile);
  model->add_option("--json", model_opts.json_out, "write the numbers as JSON to FILE (keys in DESIGN.md; default: not written)")
      ->option_text("FILE");

  ecsim::SimulateOptions sim_opts;
  CLI::App* simulate = app.add_subcommand(
      "simulate", "predict step time, throughput, memory and communication of a scenario under a layout");
  simulate->add_option("scenario", sim_opts.scenario,
                       "scenario JSON file (default: the embedded EC-DiT-M-64E training on 1024 H100)")
      ->check(CLI::ExistingFile);
  simulate->add_option("--layout", sim_opts.layout, "override layout keys: dp=..,tp=..,pp=..,vpp=..,ep=..,zero=..,mbs=..,recompute=.. (default: the scenario's layout)")
      ->option_text("SPEC");
  simulate->add_option("--profile", sim_opts.profile, "price kernels from this profile (default: analytic model of the GPU)")
      ->option_text("FILE")
      ->check(CLI::ExistingFile);
  simulate->add_option("--json", sim_opts.json_out, "write the result JSON (schema ecsim.result/1; default: not written)")->option_text("FILE");
  simulate->add_option("--csv", sim_opts.csv_out, "write one CSV row per simulated operator (default: not written)")->option_text("FILE");
  simulate->add_option("--threads", sim_opts.threads,
                       "worker threads for the routing samples (0: one per hardware thread)")
      ->capture_default_str();
  simulate->add_option("--trace", sim_opts.trace_out, "write a Chrome trace, pid = rank, tid = stream (opens in ui.perfetto.dev; default: not written)")->option_text("FILE");

  ecsim::PlanCommandOptions plan_opts;
  CLI::App* plan = app.add_subcommand(
      "plan", "search every parallel layout for the fastest that fits, on one or several GPU counts");
  plan->add_option("scenario", plan_opts.scenario, "scenario JSON file (its own layout, if any, is simulated for comparison)")
      ->required()
      ->check(CLI::ExistingFile);
  plan->add_option("--gpus", plan_opts.gpus, "GPU counts: 1024, a list 512,1024,2048 or a range 512..4096x2")
      ->required();
  plan->add_option("--top", plan_opts.settings.top, "layouts to print per GPU count")->capture_default_str();
  plan->add_option("--headroom", plan_opts.settings.headroom, "share of GPU memory a layout may use")
      ->capture_default_str();
  plan->add_option("--simulate-factor", plan_opts.settings.simulate_factor,
                   "the event engine simulates the screen's best (--top x this) layouts per GPU count")
      ->capture_default_str();
  plan->add_option("--train-steps", plan_opts.settings.train_steps,
                   "optimizer steps of the training run, for time to train (EC-DiT: 800K)")
      ->capture_default_str();
  plan->add_option("--threads", plan_opts.settings.threads, "worker threads (0: one per hardware thread)")
      ->capture_default_str();
  plan->add_option("--profile", plan_opts.profile, "price kernels from this profile (default: analytic model of the GPU)")
      ->option_text("FILE")
      ->check(CLI::ExistingFile);
  plan->add_option("--json", plan_opts.json_out, "write the plan (schema ecsim.plan/1; default: not written)")->option_text("FILE");

  ecsim::CompareRoutingOptions routing_opts;
  CLI::App* compare_routing = app.add_subcommand(
      "compare-routing", "expert choice against token choice (top-1/2, capacity factors, dropless) at equal activated compute");
  compare_routing->add_option("scenario", routing_opts.scenario, "scenario JSON file (model, cluster, layout, run.routing_stats)")
      ->required()
      ->check(CLI::ExistingFile);
  compare_routing->add_option("--threads", routing_opts.threads, "worker threads (0: one per hardware thread)")
      ->capture_default_str();
  compare_routing->add_option("--json", routing_opts.json_out, "write the comparison (schema ecsim.routing/1; default: not written)")
      ->option_text("FILE");

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
  validate->add_option("--json", val_opts.json_out, "write the comparison (schema ecsim.validation/1; default: not written)")->option_text("FILE");

  ecsim::ReportOptions report_opts;
  CLI::App* report = app.add_subcommand(
      "report", "charts and tables from results, plans, routing comparisons and validations (by their schema)");
  report->add_option("inputs", report_opts.inputs,
                     "JSON files: ecsim.result/1, ecsim.plan/1, ecsim.routing/1, ecsim.validation/1")
      ->required()
      ->check(CLI::ExistingFile);
  report->add_option("-o,--html", report_opts.html_out, "write a self-contained HTML page with inline SVG charts")
      ->option_text("FILE");
  report->add_option("--md", report_opts.markdown_out, "write the same numbers as Markdown tables")->option_text("FILE");
  report->add_option("--title", report_opts.title, "the report's heading")->capture_default_str();

  if (auto rc = ecsim::cli::parse_or_exit(app, argc, argv)) return *rc;
  return ecsim::cli::run_reporting_errors("ecsim", [&] {
    if (*model) require_outputs({model_opts.input}, {{"--json", model_opts.json_out}});
    if (*simulate) {
      require_outputs({sim_opts.scenario, sim_opts.profile},
                      {{"--json", sim_opts.json_out}, {"--csv", sim_opts.csv_out}, {"--trace", sim_opts.trace_out}});
    }
    if (*compare_routing) require_outputs({routing_opts.scenario}, {{"--json", routing_opts.json_out}});
    if (*plan) require_outputs({plan_opts.scenario, plan_opts.profile}, {{"--json", plan_opts.json_out}});
    if (*validate) {
      require_outputs({val_opts.measured, val_opts.scenario, val_opts.profile}, {{"--json", val_opts.json_out}});
    }
    if (*report) require_outputs(report_opts.inputs, {{"-o", report_opts.html_out}, {"--md", report_opts.markdown_out}});
    if (*model) ecsim::run_model_command(model_opts, std::cout);
    if (*simulate) ecsim::run_simulate_command(sim_opts, std::cout);
    if (*compare_routing) ecsim::run_compare_routing_command(routing_opts, std::cout);
    if (*plan) ecsim::run_plan_command(plan_opts, std::cout);
    if (*validate) ecsim::run_validate_command(val_opts, std::cout);
    if (*report) ecsim::run_report_command(report_opts, std::cout);
  });
}
