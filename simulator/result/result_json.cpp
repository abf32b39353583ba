#include "result/outputs.hpp"

namespace ecsim {

Json pricing_to_json(const PricingStats& p) {
  Json outside = Json::array();
  for (const auto& [key, o] : p.outside) {
    Json shape = Json::object();
    for (const auto& [name, v] : o.first_shape) shape[name] = v;
    outside.push_back({{"op", o.op}, {"dtype", o.dtype}, {"calls", o.calls}, {"first_shape", shape}});
  }
  return {{"kernels_from_profile", p.from_profile},
          {"kernels_beyond_profile", p.beyond_profile},
          {"kernels_below_profile", p.below_profile},
          {"kernels_from_roofline", p.from_roofline},
          {"outside_profile", outside}};
}

Json result_to_json(const SimulationResult& r) {
  const auto& m = r.memory;
  Json j;
  j["schema"] = "ecsim.result/1";
  j["scenario"] = scenario_to_json(r.scenario);
  j["scenario"]["layout"] = layout_to_json(r.plan.layout);  // the layout simulated (flag applied, dp resolved)
  j["layout"] = layout_to_string(r.plan.layout);
  j["seed"] = r.scenario.run.seed;
  j["mode"] = r.plan.training ? "train" : "infer";
  j["step_time_s"] = r.step_time.value;
  j["pass_time_s"] = r.pass_time.value;
  j["micro_batches"] = r.plan.micro_batches;
  j["images_per_s"] = r.images_per_s;
  j["tokens_per_s"] = r.tokens_per_s;
  j["model_flops_per_step"] = r.model_flops_per_step;
  j["model_tflops_per_gpu"] = r.model_tflops_per_gpu;
  j["mfu"] = r.mfu;
  j["memory"] = {{"per_gpu_peak_bytes", m.peak().value},
                 {"hbm_bytes", m.hbm.value},
                 {"fits", m.fits()},
                 {"stage", m.stage},
                 {"in_flight_micro_batches", m.in_flight_micro_batches},
                 {"breakdown",
                  {{"params", m.params.value},
                   {"grads", m.grads.value},
                   {"optimizer", m.optimizer.value},
                   {"activations", m.activations.value},
                   {"comm_buffers", m.comm_buffers.value},
                   {"workspace", m.workspace.value}}}};
  Json by_kind = Json::object();
  Json busy = Json::object();
  for (int k = 0; k < kCollectiveKindCount; ++k) {
    const auto kind = static_cast<CollectiveKind>(k);
    const std::string key = kind == CollectiveKind::kSendRecv ? "p2p" : collective_name(kind);
    by_kind[key] = r.comm.bytes_by_kind[static_cast<std::size_t>(k)].value;
    busy[key] = r.comm.busy_by_kind[static_cast<std::size_t>(k)].value;
  }
  Json by_tier = Json::object();
  for (int t = 0; t < kTierCount; ++t) by_tier[tier_name(static_cast<Tier>(t))] = r.comm.bytes_by_tier[static_cast<std::size_t>(t)].value;
  j["communication"] = {{"bytes_per_gpu", by_kind}, {"bytes_per_tier", by_tier}, {"busy_s", busy},
                        {"exposed_s", r.exposed_comm.value}};
  j["breakdown"] = {{"compute_s", r.compute.value}, {"exposed_comm_s", r.exposed_comm.value}, {"bubble_s", r.bubble.value}};
  // The host lane (inside compute_s); priced only from a profile with host times.
  j["host"] = {{"priced", r.host_priced}, {"gpu_wait_s", r.host_wait.value}, {"issue_s", r.host_issue.value}};
  Json top = Json::array();
  for (const auto& e : r.critical_top) {
    top.push_back({{"what", e.what}, {"time_s", e.time.value}, {"share", e.share}, {"count", e.count}});
  }
  j["critical_path"] = {{"rank", r.graph.rank_ids[static_cast<std::size_t>(r.critical_rank)]},
                        {"compute_s", r.critical_compute.value},
                        {"comm_s", r.critical_comm.value},
                        {"top", top}};
  j["cost_model"] = pricing_to_json(r.pricing);
  j["cost_model"]["description"] = r.cost_description;
  j["simulation"] = {{"simulated_ranks", r.graph.ranks()},
                     {"tasks", r.graph.tasks.size()},
                     {"events", r.engine.events},
                     {"note", "one representative rank per pipeline stage: with uniform routing the data- and "
                              "tensor-parallel ranks of a stage do identical work"}};
  if (r.routing) {
    j["routing"] = routing_evaluation_to_json(*r.routing);
    j["routing"]["distribution"] = routing_stats_to_json(r.routing->stats);
    j["routing"]["seed"] = r.routing->seed;
    j["routing"]["samples"] = r.routing->stats.samples;
  }
  return j;
}

}  // namespace ecsim
