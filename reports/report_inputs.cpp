#include "reports/report_inputs.hpp"

#include <map>
#include <utility>

#include "core/json_input.hpp"
#include "cost/compute_cost.hpp"

namespace ecsim {
namespace {

constexpr const char* kResultSchema = "ecsim.result/1";
constexpr const char* kPlanSchema = "ecsim.plan/1";
constexpr const char* kRoutingSchema = "ecsim.routing/1";
constexpr const char* kValidationSchema = "ecsim.validation/1";

// Non-negative numbers: times, byte counts, rates. A negative one is a broken writer, and a chart
// of it would mislead.
double quantity(const Node& parent, const std::string& key) {
  const Node n = parent.child(key);
  const double v = n.as_number();
  if (v < 0) n.fail("must not be negative, got " + std::to_string(v));
  return v;
}

// Fractions such as MFU or a dropped-token share: in [0, 1].
double fraction(const Node& parent, const std::string& key) {
  const Node n = parent.child(key);
  const double v = n.as_number();
  if (v < 0 || v > 1) n.fail("must be a fraction in [0, 1], got " + std::to_string(v));
  return v;
}

ScenarioRef read_scenario(const Node& root) {
  const Node s = root.child("scenario");
  ScenarioRef ref{s.child("name").as_string(), ""};
  if (s.json().contains("file")) ref.file = s.child("file").as_string();  // `ecsim validate` names none
  return ref;
}

// cost_model.outside_profile (a result) or pricing.outside_profile (a validation): the families a
// profile left to the roofline, worded as the simulator's summary words them.
std::string read_outside_profile(const Node& pricing) {
  if (!pricing.json().contains("outside_profile")) return {};
  std::map<std::string, OutsideProfile> outside;
  std::int64_t calls = 0;
  for (const Node& f : pricing.child("outside_profile").as_array()) {
    OutsideProfile o;
    o.op = f.child("op").as_string();
    o.dtype = f.child("dtype").as_string();
    o.calls = f.child("calls").as_int();
    const Node shape = f.child("first_shape");
    if (!shape.is_object()) shape.fail("must be an object of named dimensions");
    for (const auto& [name, v] : shape.json().items()) o.first_shape[name] = shape.child(name).as_int();
    calls += o.calls;
    const std::string key = outside_key(o.op, o.dtype);
    outside[key] = std::move(o);
  }
  if (outside.empty()) return {};
  return std::to_string(calls) + " kernel calls: " + describe_outside(outside);
}

StepBreakdown read_breakdown(const Node& n) {
  return {quantity(n, "compute_s"), quantity(n, "exposed_comm_s"), quantity(n, "bubble_s")};
}

ResultInput read_result(const Node& root) {
  ResultInput r;
  r.scenario = read_scenario(root);
  r.layout = root.child("layout").as_string();
  r.step_time_s = quantity(root, "step_time_s");
  r.images_per_s = quantity(root, "images_per_s");
  r.mfu = fraction(root, "mfu");
  const Node memory = root.child("memory");
  r.memory_peak_bytes = quantity(memory, "per_gpu_peak_bytes");
  r.hbm_bytes = quantity(memory, "hbm_bytes");
  r.fits = memory.child("fits").as_bool();
  const Node kinds = memory.child("breakdown");
  for (std::size_t k = 0; k < kMemoryKinds.size(); ++k) r.memory_bytes[k] = quantity(kinds, kMemoryKinds[k]);
  const Node comm = root.child("communication");
  const Node by_kind = comm.child("bytes_per_gpu");
  for (std::size_t k = 0; k < kCollectiveKinds.size(); ++k) r.comm_bytes[k] = quantity(by_kind, kCollectiveKinds[k]);
  const Node by_tier = comm.child("bytes_per_tier");
  for (std::size_t t = 0; t < kTiers.size(); ++t) r.tier_bytes[t] = quantity(by_tier, kTiers[t]);
  r.exposed_comm_s = quantity(comm, "exposed_s");
  r.breakdown = read_breakdown(root.child("breakdown"));
  if (root.json().contains("host")) {
    const Node host = root.child("host");
    if (host.child("priced").as_bool()) r.host_wait_s = quantity(host, "gpu_wait_s");
  }
  if (root.json().contains("cost_model")) {
    const Node costs = root.child("cost_model");
    r.pricing.costs = costs.child("description").as_string();
    r.pricing.outside_profile = read_outside_profile(costs);
  }
  return r;
}

PlanInput read_plan(const Node& root) {
  PlanInput p;
  p.scenario = read_scenario(root);
  for (const Node& g : root.child("gpus").as_array()) p.gpus.push_back(g.as_int());
  for (const Node& c : root.child("candidates").as_array()) {
    PlanCandidate k;
    k.gpus = c.child("gpus").as_int();
    k.layout = c.child("layout").as_string();
    k.step_time_s = quantity(c, "step_time_s");
    k.images_per_s = quantity(c, "images_per_s");
    k.mfu = fraction(c, "mfu");
    k.memory_peak_bytes = quantity(c, "memory_peak_bytes");
    k.hbm_bytes = quantity(c, "hbm_bytes");
    k.fits = c.child("fits").as_bool();
    k.limiter = c.child("limiter").as_string();
    k.breakdown = read_breakdown(c.child("breakdown"));
    k.time_to_train_s = quantity(c, "time_to_train_s");
    k.gpu_hours = quantity(c, "gpu_hours");
    p.candidates.push_back(std::move(k));
  }
  for (const Node& c : root.child("pareto").as_array()) {
    p.pareto.push_back({c.child("gpus").as_int(), c.child("layout").as_string(), quantity(c, "time_to_train_s"),
                        quantity(c, "gpu_hours")});
  }
  return p;
}

RoutingInput read_routing(const Node& root) {
  RoutingInput r;
  r.scenario = read_scenario(root);
  r.layout = root.child("layout").as_string();
  r.seed = root.child("seed").as_int();
  for (const Node& v : root.child("variants").as_array()) {
    RoutingVariant x;
    x.name = v.child("name").as_string();
    if (v.json().contains("label")) x.label = v.child("label").as_string();
    const Node routing = v.child("routing");
    x.kind = routing.child("kind").as_string();
    const bool token_choice = x.kind == "token_choice";
    if (token_choice || routing.json().contains("top_k")) x.top_k = routing.child("top_k").as_int();
    if (routing.json().contains("dropless")) x.dropless = routing.child("dropless").as_bool();
    if (!x.dropless) x.capacity_factor = quantity(routing, "capacity_factor");
    x.flops_done = quantity(v, "flops_done");
    x.flops_wasted = quantity(v, "flops_wasted");
    x.tokens_dropped_fraction = fraction(v, "tokens_dropped_fraction");
    if (v.json().contains("tokens_without_expert_fraction")) {
      x.tokens_without_expert_fraction = fraction(v, "tokens_without_expert_fraction");
    }
    const Node a2a = v.child("a2a_bytes_per_rank");
    x.a2a_bytes_max = quantity(a2a, "max");
    x.a2a_bytes_mean = quantity(a2a, "mean");
    const Node t = v.child("step_time_s");
    x.step_time_s = {quantity(t, "deterministic"), quantity(t, "mean"), quantity(t, "p50"), quantity(t, "p95"),
                     quantity(t, "p99")};
    if (x.step_time_s.p95 < x.step_time_s.p50 || x.step_time_s.p99 < x.step_time_s.p95) {
      t.fail("percentiles must not decrease: p50 <= p95 <= p99");
    }
    x.memory_peak_bytes = quantity(v, "memory_peak_bytes");
    r.variants.push_back(std::move(x));
  }
  return r;
}

std::vector<Comparison> read_comparisons(const Node& root, const std::string& key, const std::string& name_key) {
  std::vector<Comparison> out;
  for (const Node& c : root.child(key).as_array()) {
    const Node name = c.child(name_key);
    Comparison x;
    if (name_key == "step") {
      x.step = name.as_int();
      x.name = "step " + std::to_string(x.step);
    } else {
      x.name = name.as_string();
    }
    x.predicted_s = quantity(c, "predicted_s");
    x.measured_s = quantity(c, "measured_s");
    x.error = c.child("error").as_number();
    out.push_back(std::move(x));
  }
  return out;
}

ValidationInput read_validation(const Node& root) {
  ValidationInput v;
  v.scenario = read_scenario(root);
  v.per_op = read_comparisons(root, "per_op", "name");
  v.steps = read_comparisons(root, "steps", "step");
  v.mape = quantity(root, "mape");
  if (root.json().contains("warnings")) {
    for (const Node& w : root.child("warnings").as_array()) v.warnings.push_back(w.as_string());
  }
  if (root.json().contains("cost_model")) v.pricing.costs = root.child("cost_model").as_string();
  if (root.json().contains("pricing")) v.pricing.outside_profile = read_outside_profile(root.child("pricing"));
  return v;
}

}  // namespace

ReportInputs load_report_inputs(const std::vector<std::string>& files) {
  ReportInputs in;
  for (const std::string& file : files) {
    JsonDocument doc;
    try {
      doc = load_json_file(file);
    } catch (const InputError& e) {
      if (!e.file().empty()) throw;
      throw InputError(file, "/", e.what());  // a missing file: name it the way every other error does
    }
    const Node root = Node::root(doc);
    if (!root.is_object()) root.fail("must be a JSON object with a \"schema\" key");
    const Json& json = root.json();
    if (!json.contains("schema") && (json.contains("model") || json.contains("kind"))) {
      // A scenario or a model: an input of ecsim, not one of its outputs.
      root.fail("a scenario or model, not a result: a report reads what ecsim writes (ecsim simulate, plan, "
                "compare-routing or validate with --json)");
    }
    const Node schema_node = root.child("schema");
    const std::string schema = schema_node.as_string();
    if (schema == kResultSchema) {
      in.results.push_back(read_result(root));
      in.results.back().file = file;
    } else if (schema == kPlanSchema) {
      in.plans.push_back(read_plan(root));
      in.plans.back().file = file;
    } else if (schema == kRoutingSchema) {
      in.routings.push_back(read_routing(root));
      in.routings.back().file = file;
    } else if (schema == kValidationSchema) {
      in.validations.push_back(read_validation(root));
      in.validations.back().file = file;
    } else {
      schema_node.fail("unknown schema \"" + schema + "\"; a report reads " + kResultSchema + ", " + kPlanSchema +
                       ", " + kRoutingSchema + " and " + kValidationSchema);
    }
    in.files.push_back(file);
  }
  return in;
}

}  // namespace ecsim
