#include "scenario/scenario.hpp"

#include "core/embedded_files.hpp"

namespace ecsim {
namespace {

Dtype dtype_from(ObjectReader& r, const std::string& key, Dtype fallback) {
  const std::string v = r.choice(key, {"bf16", "fp32"}, fallback == Dtype::kBf16 ? "bf16" : "fp32");
  return v == "bf16" ? Dtype::kBf16 : Dtype::kFp32;
}

RunSpec parse_run(ObjectReader r) {
  RunSpec run;
  run.mode = r.choice("mode", {"train", "infer"}, "train") == "train" ? RunMode::kTrain : RunMode::kInfer;
  run.global_batch = r.integer("global_batch", 1, std::int64_t{1} << 32);
  run.sampling_steps = r.integer_or("sampling_steps", run.mode == RunMode::kInfer ? 50 : 1, 1, 10000);
  if (run.mode == RunMode::kTrain && r.has("sampling_steps")) {
    r.required("sampling_steps").fail("sampling_steps is for mode \"infer\"");
  }
  run.seed = static_cast<std::uint64_t>(r.integer_or("seed", 1, 0, std::int64_t{1} << 53));
  if (auto o = r.optional("optimizer")) {
    ObjectReader orr(*o);
    run.optimizer.kind = orr.choice("kind", {"adamw", "rmsprop_momentum"}, "adamw");
    run.optimizer.master = dtype_from(orr, "master_dtype", Dtype::kFp32);
    run.optimizer.moments = dtype_from(orr, "moment_dtype", Dtype::kFp32);
    run.optimizer.grads = dtype_from(orr, "grad_dtype", Dtype::kFp32);
    orr.finish();
  }
  if (auto rs = r.optional("routing_stats")) run.routing_stats = parse_routing_stats(*rs);
  r.finish();
  return run;
}

}  // namespace

const char* dtype_name(Dtype t) { return t == Dtype::kBf16 ? "bf16" : "fp32"; }

const char* const kDefaultScenarioName = "ecdit-m-64e-train.json";

double dtype_bytes(Dtype t) { return t == Dtype::kBf16 ? 2.0 : 4.0; }

Scenario parse_scenario(const Node& root) {
  ObjectReader r(root);
  Scenario s;
  s.file = root.file();
  s.name = r.string("name");
  s.model = parse_model(r.required("model"));
  if (auto c = r.optional("cluster")) s.cluster = parse_cluster(*c);
  if (auto l = r.optional("layout")) s.layout = parse_layout(*l);
  s.run = parse_run(ObjectReader(r.required("run")));
  if (s.run.routing_stats) check_routing_stats(*s.run.routing_stats, s.model);
  r.finish();
  return s;
}

Scenario load_scenario(const std::filesystem::path& file) { return parse_scenario(Node::root(load_json_file(file))); }

ModelSpec load_model_or_scenario(const std::filesystem::path& file) {
  const Node root = Node::root(load_json_file(file));
  if (!root.is_object()) root.fail("must be an object (a model or a scenario)");
  if (root.json().contains("model")) return parse_scenario(root).model;
  if (!root.json().contains("kind")) {
    // A cluster or run file given by mistake would otherwise be reported as a model missing "kind".
    root.fail("neither a scenario (no \"model\" key) nor a model (no \"kind\" key): give a model file "
              "(scenarios/models/) or a scenario");
  }
  return parse_model(root);
}

Json optimizer_to_json(const OptimizerSpec& o) {
  return {{"kind", o.kind},
          {"master_dtype", dtype_name(o.master)},
          {"moment_dtype", dtype_name(o.moments)},
          {"grad_dtype", dtype_name(o.grads)}};
}

Json scenario_to_json(const Scenario& s) {
  Json j;
  j["name"] = s.name;
  j["file"] = s.file.string();
  j["model"] = model_to_json(s.model);
  if (s.cluster) j["cluster"] = cluster_to_json(*s.cluster);
  if (s.layout) j["layout"] = layout_to_json(*s.layout);
  j["run"] = {{"mode", s.run.mode == RunMode::kTrain ? "train" : "infer"},
              {"global_batch", s.run.global_batch},
              {"seed", s.run.seed},
              {"optimizer", optimizer_to_json(s.run.optimizer)}};
  if (s.run.mode == RunMode::kInfer) j["run"]["sampling_steps"] = s.run.sampling_steps;
  if (s.run.routing_stats) j["run"]["routing_stats"] = routing_stats_to_json(*s.run.routing_stats);
  return j;
}

Scenario default_scenario() {
  return load_scenario(std::filesystem::path(kEmbeddedRoot) / "scenarios" / kDefaultScenarioName);
}

}  // namespace ecsim
