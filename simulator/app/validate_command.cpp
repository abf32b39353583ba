#include "app/validate_command.hpp"

#include <optional>
#include <ostream>

#include "core/atomic_file.hpp"
#include "validate/validation.hpp"

namespace ecsim {

void run_validate_command(const ValidateOptions& opts, std::ostream& out) {
  const MeasuredRun run = load_measured_run(opts.measured);
  const Scenario s = load_scenario(opts.scenario);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to simulate)");
  std::optional<Profile> profile;
  if (!opts.profile.empty()) profile = load_profile(opts.profile);
  const ComputeCostModel cost = profile ? ComputeCostModel::from_profile(*profile, s.cluster->gpu, &*s.cluster)
                                        : ComputeCostModel::analytic(s.cluster->gpu);
  Validation v = validate_run(s, run, cost);
  if (profile && profile->source == "measured" && profile->device.name != run.device) {
    v.warnings.push_back("the run was measured on " + run.device + ", the profile on " + profile->device.name +
                         ": its kernel times are another card's");
  }
  print_validation(v, out);
  if (!opts.json_out.empty()) {
    write_file_atomic(opts.json_out, validation_to_json(v).dump(2) + "\n");
    out << "wrote " << opts.json_out << "\n";
  }
}

}  // namespace ecsim
