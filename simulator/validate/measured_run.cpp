#include "validate/measured_run.hpp"

#include <optional>

namespace ecsim {

MeasuredRun load_measured_run(const std::filesystem::path& file) {
  const Node root = Node::root(load_json_file(file));
  ObjectReader r(root);
  MeasuredRun run;
  run.file = file;
  const std::string schema = r.string("schema");
  if (schema != kRunSchema) r.required("schema").fail("expected \"" + std::string(kRunSchema) + "\", got \"" + schema + "\"");
  {
    ObjectReader s(r.required("scenario"));
    run.scenario_name = s.string("name");
    s.string_or("file", "");
    s.finish();
  }
  run.layout = r.string("layout");
  run.layers = r.integer_or("layers", 0, 0, 4096);
  run.device = r.string("device");
  r.string_or("created", "");
  for (const Node& n : r.required("steps").as_array()) {
    ObjectReader st(n);
    st.integer("step", 0, std::int64_t{1} << 40);
    const double t = st.positive("time_s");
    st.finish();
    run.step_times_s.push_back(t);
  }
  if (run.step_times_s.empty()) r.required("steps").fail("needs at least one measured step");
  for (const Node& n : r.required("ops").as_array()) {
    ObjectReader o(n);
    MeasuredOp op;
    op.rank = o.integer("rank", 0, std::int64_t{1} << 24);
    op.name = o.string("name");
    op.label = o.string("label");
    op.layer = o.integer("layer", -1, 4096);
    op.micro_batch = o.integer("micro_batch", -1, std::int64_t{1} << 24);
    op.phase = o.choice("phase", {"forward", "backward", "recompute", "optimizer"});
    op.time_ns = o.number("time_ns", 0, 1e15);
    op.host_ns = o.number_or("host_ns", 0, 0, 1e15);
    op.host_gap_ns = o.number_or("host_gap_ns", 0, 0, 1e15);
    o.finish();
    run.ops.push_back(std::move(op));
  }
  run.peak_memory_bytes = r.number_or("peak_memory_bytes", 0, 0, 1e15);
  if (const std::optional<Node> m = r.optional("model")) {
    if (!m->is_object()) m->fail("must be an object (the model that trained)");
    run.model = m->json();
  }
  run.images_per_step = r.integer_or("images_per_step", 0, 0, std::int64_t{1} << 40);
  if (const std::optional<Node> o = r.optional("optimizer")) {
    if (!o->is_object()) o->fail("must be an object (the optimizer's kind and dtypes)");
    run.optimizer = o->json();
  }
  r.finish();
  return run;
}

Json measured_run_to_json(const MeasuredRun& run) {
  Json steps = Json::array();
  for (std::size_t i = 0; i < run.step_times_s.size(); ++i) steps.push_back({{"step", i}, {"time_s", run.step_times_s[i]}});
  Json ops = Json::array();
  for (const auto& op : run.ops) {
    ops.push_back({{"rank", op.rank}, {"name", op.name}, {"label", op.label}, {"layer", op.layer},
                   {"micro_batch", op.micro_batch}, {"phase", op.phase}, {"time_ns", op.time_ns},
                   {"host_ns", op.host_ns}, {"host_gap_ns", op.host_gap_ns}});
  }
  Json j = {{"schema", kRunSchema},
            {"scenario", {{"name", run.scenario_name}}},
            {"layout", run.layout},
            {"device", run.device},
            {"steps", steps},
            {"ops", ops},
            {"peak_memory_bytes", run.peak_memory_bytes}};
  if (run.layers > 0) j["layers"] = run.layers;
  if (!run.model.is_null()) j["model"] = run.model;
  if (run.images_per_step > 0) j["images_per_step"] = run.images_per_step;
  if (!run.optimizer.is_null()) j["optimizer"] = run.optimizer;
  return j;
}

}  // namespace ecsim
