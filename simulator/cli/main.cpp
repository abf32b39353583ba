// The `ecsim` command: parses arguments, builds the objects, runs; all logic is in ecsim_core.
// Exit codes: 0 success, 1 runtime failure, 2 bad input (the message names the file and JSON path).
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/model_command.hpp"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*model) ecsim::run_model_command(model_opts, std::cout);
  } catch (const ecsim::InputError& e) {
    std::cerr << "ecsim: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ecsim: failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
