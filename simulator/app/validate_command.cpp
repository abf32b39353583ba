#include "app/validate_command.hpp"

#include <ostream>

#include "core/atomic_file.hpp"
#include "validate/validation.hpp"

namespace ecsim {

void run_validate_command(const ValidateOptions& opts, std::ostream& out) {
  const MeasuredRun run = load_measured_run(opts.measured);
  const Scenario s = load_scenario(opts.scenario);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to simulate)");
  const ComputeCostModel cost = opts.profile.empty()
                                    ? ComputeCostModel::analytic(s.cluster->gpu)
                                    : ComputeCostModel::from_profile(load_profile(opts.profile), s.cluster->gpu, &*s.cluster);
  const Validation v = validate_run(s, run, cost);
  print_validation(v, out);
  if (!opts.json_out.empty()) {
    write_file_atomic(opts.json_out, validation_to_json(v).dump(2) + "\n");
    out << "wrote " << opts.json_out << "\n";
  }
}

}  // namespace ecsim
