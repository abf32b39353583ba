#include "app/plan_command.hpp"

#include <ostream>

#include "app/progress_bar.hpp"
#include "core/atomic_file.hpp"
#include "plan/gpu_counts.hpp"
#include "plan/plan_output.hpp"

namespace ecsim {

void run_plan_command(const PlanCommandOptions& opts, std::ostream& out) {
  const Scenario s = load_scenario(opts.scenario);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to plan)");
  PlanSettings settings = opts.settings;
  settings.gpu_counts = parse_gpu_counts(opts.gpus, s.cluster->gpus_per_node);
  if (!opts.profile.empty()) settings.profile = load_profile(opts.profile);
  settings.progress = progress_bar_if_terminal();
  const PlanResult r = run_plan(s, settings);
  print_plan(r, out);
  if (!opts.json_out.empty()) {
    write_file_atomic(opts.json_out, plan_to_json(r).dump(2) + "\n");
    out << "wrote " << opts.json_out << "\n";
  }
}

}  // namespace ecsim
