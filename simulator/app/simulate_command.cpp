#include "app/simulate_command.hpp"

#include <ostream>

#include "app/progress_bar.hpp"
#include "core/atomic_file.hpp"
#include "result/outputs.hpp"

namespace ecsim {

void run_simulate_command(const SimulateOptions& opts, std::ostream& out) {
  const Scenario s = opts.scenario.empty() ? default_scenario() : load_scenario(opts.scenario);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to simulate)");
  LayoutPlan plan;
  if (opts.layout.empty()) {
    plan = plan_layout(s);
  } else {
    plan = plan_layout(s, apply_layout_flag(s.layout.value_or(Layout{}), opts.layout), "--layout");
  }
  const ComputeCostModel cost = opts.profile.empty()
                                    ? ComputeCostModel::analytic(s.cluster->gpu)
                                    : ComputeCostModel::from_profile(load_profile(opts.profile), s.cluster->gpu, &*s.cluster);
  SimulationResult r = simulate(s, plan, cost);
  if (s.run.routing_stats) {
    r.routing = evaluate_routing(s, plan, cost, *s.run.routing_stats, {opts.threads, progress_bar_if_terminal()});
  }
  print_summary(r, out);
  // Every output is rendered before any is written, and each is written atomically.
  const std::string json = opts.json_out.empty() ? "" : result_to_json(r).dump(2) + "\n";
  const std::string csv = opts.csv_out.empty() ? "" : operator_csv(r);
  const std::string trace = opts.trace_out.empty() ? "" : trace_json(r);
  for (const auto& [path, text] : {std::pair{opts.json_out, json}, {opts.csv_out, csv}, {opts.trace_out, trace}}) {
    if (path.empty()) continue;
    write_file_atomic(path, text);
    out << "wrote " << path << "\n";
  }
}

}  // namespace ecsim
