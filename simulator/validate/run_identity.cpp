#include "validate/run_identity.hpp"

#include <optional>
#include <string>

#include "core/errors.hpp"
#include "model/model_spec.hpp"

namespace ecsim {
namespace {

// The JSON path (under `path`) of the first place where `a` and `b` differ, in key order.
std::optional<std::string> first_difference(const Json& a, const Json& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      if (!b.contains(key)) return path + "/" + key;
      if (auto d = first_difference(value, b.at(key), path + "/" + key)) return d;
    }
    for (const auto& [key, value] : b.items()) {
      if (!a.contains(key)) return path + "/" + key;
    }
    return std::nullopt;
  }
  if (a != b) return path.empty() ? "/" : path;
  return std::nullopt;
}

// The value at `path` (a JSON pointer) of `j`, as text; none where the key is not there.
std::optional<std::string> value_at(const Json& j, const std::string& path) {
  const Json::json_pointer pointer(path);
  if (!j.contains(pointer)) return std::nullopt;
  return j.at(pointer).dump();
}

}  // namespace

void require_run_of(const Scenario& scenario, const MeasuredRun& run) {
  const std::string hint = ": validate a run against the scenario it ran";
  const std::string scenario_file = scenario.file.string();
  if (run.images_per_step > 0 && run.images_per_step != scenario.run.global_batch) {
    throw InputError(run.file.string(), "/images_per_step",
                     "the run trained " + std::to_string(run.images_per_step) + " images per step, " + scenario_file +
                         " has " + std::to_string(scenario.run.global_batch) + hint);
  }
  if (run.model.is_null()) return;
  const Json expected = model_to_json(scenario.model);
  if (const auto where = first_difference(run.model, expected, "")) {
    const auto ran = value_at(run.model, *where), described = value_at(expected, *where);
    throw InputError(run.file.string(), "/model" + *where,
                     (ran ? "the run trained " + *ran : std::string("the run's model has no such key")) + ", " +
                         scenario_file + (described ? " has " + *described : "'s model has none") + hint);
  }
}

}  // namespace ecsim
