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

// Throws naming the run's file and the first path under /`key` where what ran (`ran`) differs from
// what the scenario describes: "the run <verb> <value>, <scenario> has <value>".
void require_same(const Json& ran, const Json& expected, const std::string& key, const char* verb,
                  const MeasuredRun& run, const std::string& scenario_file) {
  const auto where = first_difference(ran, expected, "");
  if (!where) return;
  const auto got = value_at(ran, *where), described = value_at(expected, *where);
  const std::string ran_text =
      got ? "the run " + std::string(verb) + " " + *got : "the run's " + key + " has no such key";
  throw InputError(run.file.string(), "/" + key + *where,
                   ran_text + ", " + scenario_file + (described ? " has " + *described : "'s " + key + " has none") +
                       ": validate a run against the scenario it ran");
}

}  // namespace

void require_run_of(const Scenario& scenario, const MeasuredRun& run) {
  const std::string scenario_file = scenario.file.string();
  if (run.images_per_step > 0 && run.images_per_step != scenario.run.global_batch) {
    throw InputError(run.file.string(), "/images_per_step",
                     "the run trained " + std::to_string(run.images_per_step) + " images per step, " + scenario_file +
                         " has " + std::to_string(scenario.run.global_batch) +
                         ": validate a run against the scenario it ran");
  }
  if (!run.optimizer.is_null()) {
    require_same(run.optimizer, optimizer_to_json(scenario.run.optimizer), "optimizer", "stepped", run, scenario_file);
  }
  if (!run.model.is_null()) {
    require_same(run.model, model_to_json(scenario.model), "model", "trained", run, scenario_file);
  }
}

}  // namespace ecsim
