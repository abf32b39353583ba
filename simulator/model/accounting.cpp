#include "model/accounting.hpp"

#include <numeric>

#include "model/model_ops.hpp"

namespace ecsim {

std::int64_t samples_for_whole_groups(const ModelSpec& m, bool training) {
  if (!m.moe.enabled() || m.moe.routing.kind != RoutingKind::kExpertChoice) return 1;
  const std::int64_t s = m.tokens_per_sample(training);
  return std::lcm(s, m.moe.routing.group_tokens) / s;
}

ModelSummary summarize_model(const ModelSpec& m) {
  ModelSummary out;
  out.tokens_train = m.tokens_per_sample(true);
  out.tokens_infer = m.tokens_per_sample(false);
  out.samples_per_group_train = samples_for_whole_groups(m, true);
  out.samples_per_group_infer = samples_for_whole_groups(m, false);

  OpContext train{.samples = out.samples_per_group_train, .training = true};
  const double n_train = static_cast<double>(train.samples);
  for (const Op& op : model_ops(m, train)) {
    out.params_total += op.params;
    out.params_activated += op.activated_params;
    out.params_by_component[static_cast<std::size_t>(op.component)] += op.params;
    out.train_flops_per_sample += op.train_flops() / n_train;
    out.fwd_flops_train_per_sample += op.fwd / n_train;
    out.activation_bytes_per_sample += op.saved / n_train;
  }
  OpContext infer{.samples = out.samples_per_group_infer, .training = false};
  for (const Op& op : model_ops(m, infer)) out.infer_flops_per_sample += op.fwd / static_cast<double>(infer.samples);

  out.params_total += m.other_params;
  out.params_activated += m.other_params;
  out.params_by_component[static_cast<std::size_t>(Component::kOther)] += m.other_params;
  return out;
}

Json summary_to_json(const ModelSpec& m, const ModelSummary& s) {
  Json per_component = Json::object();
  for (int c = 0; c < kComponentCount; ++c) {
    per_component[component_name(static_cast<Component>(c))] = s.params_by_component[static_cast<std::size_t>(c)];
  }
  Json j;
  j["schema"] = "ecsim.model/1";
  j["model"] = model_to_json(m);
  j["params"] = {{"total", s.params_total}, {"activated", s.params_activated}, {"per_component", per_component}};
  j["flops_per_image"] = {{"train", s.train_flops_per_sample.value},
                          {"train_forward", s.fwd_flops_train_per_sample.value},
                          {"infer", s.infer_flops_per_sample.value}};
  j["tokens_per_image"] = {{"train", s.tokens_train}, {"infer", s.tokens_infer}};
  j["activation_bytes_per_image"] = s.activation_bytes_per_sample.value;
  return j;
}

}  // namespace ecsim
