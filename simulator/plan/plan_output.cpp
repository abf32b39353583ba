#include "plan/plan_output.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace ecsim {
namespace {

constexpr double kSecondsPerDay = 86400;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

Json counts_to_json(const PlanCounts& c) {
  Json reasons = Json::object();
  for (const auto& [why, n] : c.invalid_by_reason) reasons[why] = n;
  return {{"enumerated", c.enumerated},
          {"invalid_by_reason", reasons},
          {"not_fitting", c.not_fitting},
          {"screened", c.screened},
          {"simulated", c.simulated}};
}

Json candidate_to_json(const PlanCandidate& c) {
  return {{"gpus", c.gpus},
          {"layout", layout_to_string(c.plan.layout)},
          {"layout_keys", layout_to_json(c.plan.layout)},
          {"micro_batches", c.plan.micro_batches},
          {"screen_step_time_s", c.screen.step_time.value},
          {"step_time_s", c.step_time.value},
          {"screen_vs_engine", c.screen_vs_engine()},
          {"images_per_s", c.images_per_s},
          {"mfu", c.mfu},
          {"memory_peak_bytes", c.memory.peak().value},
          {"memory_limit_bytes", c.memory_limit.value},
          {"hbm_bytes", c.memory.hbm.value},
          {"fits", c.fits()},
          {"limiter", limiter_name(c.limiter)},
          {"breakdown", {{"compute_s", c.compute.value}, {"exposed_comm_s", c.exposed_comm.value}, {"bubble_s", c.bubble.value}}},
          {"screen_breakdown",
           {{"compute_s", c.screen.compute.value},
            {"exposed_comm_s", c.screen.exposed_comm.value},
            {"bubble_s", c.screen.bubble.value}}},
          {"time_to_train_s", c.time_to_train.value},
          {"gpu_hours", c.gpu_hours}};
}

std::string days(Seconds s) { return fmt("%.1f d", s.value / kSecondsPerDay); }

void print_counts(const PlanCounts& c, std::ostream& out) {
  std::int64_t invalid = 0;
  for (const auto& [why, n] : c.invalid_by_reason) invalid += n;
  out << "  " << c.enumerated << " layouts enumerated, " << invalid << " impossible, " << c.not_fitting
      << " do not fit, " << c.screened << " screened, " << c.simulated << " simulated by the engine\n";
  for (const auto& [why, n] : c.invalid_by_reason) {
    char line[256];
    std::snprintf(line, sizeof line, "    %7lld  %s\n", static_cast<long long>(n), why.c_str());
    out << line;
  }
}

void print_best(const PlanResult& r, std::int64_t gpus, std::ostream& out) {
  char line[512];
  std::snprintf(line, sizeof line, "  %3s  %-62s %9s %9s %6s %19s  %-12s %7s\n", "#", "layout", "images/s", "step",
                "MFU", "memory/GPU (limit)", "limited by", "screen");
  out << line;
  std::int64_t shown = 0;
  for (const PlanCandidate& c : r.candidates) {
    if (c.gpus != gpus) continue;
    if (shown == r.top) break;
    ++shown;
    const std::string mem = format_bytes(c.memory.peak(), 3) + " (" + format_bytes(c.memory_limit, 3) + ")";
    std::snprintf(line, sizeof line, "  %3lld  %-62s %9.1f %9s %5.1f%% %19s  %-12s %6.2fx\n", static_cast<long long>(shown),
                  layout_to_string(c.plan.layout).c_str(), c.images_per_s, format_duration(c.step_time, 4).c_str(),
                  100 * c.mfu, mem.c_str(), limiter_name(c.limiter), c.screen_vs_engine());
    out << line;
  }
  if (shown == 0) out << "  no layout fits in " << fmt("%.0f%%", 100 * r.headroom) << " of the GPU memory\n";
  if (r.scenario_layout && r.scenario_layout->gpus == gpus) {
    const PlanCandidate& own = *r.scenario_layout;
    const PlanCandidate* best = nullptr;
    for (const PlanCandidate& c : r.candidates) {
      if (c.gpus == gpus) {
        best = &c;
        break;
      }
    }
    out << "  the scenario's own layout " << layout_to_string(own.plan.layout) << ": " << fmt("%.1f", own.images_per_s)
        << " images/s, " << format_duration(own.step_time, 4) << " a step, " << format_bytes(own.memory.peak(), 3)
        << (own.fits() ? " (fits)" : " (DOES NOT FIT)");
    if (best != nullptr) out << "; the best above is " << fmt("%.2fx", best->images_per_s / own.images_per_s) << " its throughput";
    out << "\n";
  }
}

}  // namespace

Json plan_to_json(const PlanResult& r) {
  Json by_gpus = Json::object();
  for (const auto& [g, c] : r.counts_by_gpus) by_gpus[std::to_string(g)] = counts_to_json(c);
  Json candidates = Json::array();
  for (const PlanCandidate& c : r.candidates) candidates.push_back(candidate_to_json(c));
  Json pareto = Json::array();
  for (const std::size_t i : r.pareto) {
    const PlanCandidate& c = r.candidates[i];
    pareto.push_back({{"gpus", c.gpus},
                      {"layout", layout_to_string(c.plan.layout)},
                      {"time_to_train_s", c.time_to_train.value},
                      {"gpu_hours", c.gpu_hours}});
  }
  return {{"schema", kPlanSchema},
          {"scenario", {{"name", r.scenario.name}, {"file", r.scenario.file.string()}}},
          {"gpus", r.gpu_counts},
          {"headroom", r.headroom},
          {"top", r.top},
          {"costs", r.cost_description},
          {"time_to_train", {{"steps", r.train_steps}, {"global_batch", r.scenario.run.global_batch}}},
          {"counts", counts_to_json(r.counts)},
          {"counts_by_gpus", by_gpus},
          {"candidates", candidates},
          {"screen_vs_engine", {{"median_ratio", r.median_ratio}, {"min_ratio", r.min_ratio}, {"max_ratio", r.max_ratio}}},
          {"pareto", pareto},
          {"scenario_layout", r.scenario_layout ? candidate_to_json(*r.scenario_layout) : Json(nullptr)},
          {"scenario_layout_note", r.scenario_layout_note}};
}

void print_plan(const PlanResult& r, std::ostream& out) {
  const auto& c = *r.scenario.cluster;
  out << r.scenario.name << "  (" << r.scenario.file.string() << ")\n";
  out << "  model " << r.scenario.model.name << ", global batch " << r.scenario.run.global_batch << ", " << c.gpu.name
      << " with " << format_bytes(c.gpu.hbm, 4) << "; layouts must fit in " << fmt("%.0f%%", 100 * r.headroom)
      << " of it\n";
  out << "  costs " << r.cost_description << "\n";
  for (const auto& [g, counts] : r.counts_by_gpus) {
    const std::int64_t nodes = g / c.gpus_per_node;
    out << "\n" << g << " GPUs (" << nodes << (nodes == 1 ? " node of " : " nodes of ") << c.gpus_per_node << ")\n";
    print_counts(counts, out);
    out << "\n best layouts on " << g << " GPUs, by images/s from the event engine (screen: its estimate / engine)\n";
    print_best(r, g, out);
  }
  if (!r.candidates.empty()) {
    out << "\nscreen vs engine step time over the " << r.candidates.size() << " simulated layouts: median "
        << fmt("%.2fx", r.median_ratio) << ", range " << fmt("%.2fx", r.min_ratio) << " .. " << fmt("%.2fx", r.max_ratio)
        << "\n";
  }

  out << "\ntime to train: " << r.train_steps << " steps x global batch " << r.scenario.run.global_batch
      << " (EC-DiT's training run, ANCHORS.md), at the best layout of each GPU count\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %6s  %-62s %9s %14s %12s  %s\n", "GPUs", "layout", "step", "time to train",
                "GPU-hours", "Pareto");
  out << line;
  for (const std::int64_t g : r.gpu_counts) {
    for (std::size_t i = 0; i < r.candidates.size(); ++i) {
      const PlanCandidate& cand = r.candidates[i];
      if (cand.gpus != g) continue;
      const bool front = std::find(r.pareto.begin(), r.pareto.end(), i) != r.pareto.end();
      std::snprintf(line, sizeof line, "  %6lld  %-62s %9s %14s %12.4g  %s\n", static_cast<long long>(g),
                    layout_to_string(cand.plan.layout).c_str(), format_duration(cand.step_time, 4).c_str(),
                    days(cand.time_to_train).c_str(), cand.gpu_hours, front ? "*" : "");
      out << line;
      break;
    }
  }
  out << "  * Pareto front of time to train and GPU-hours over every simulated layout (none is both faster and cheaper):\n";
  for (const std::size_t i : r.pareto) {
    const PlanCandidate& cand = r.candidates[i];
    std::snprintf(line, sizeof line, "  %6lld  %-62s %9s %14s %12.4g\n", static_cast<long long>(cand.gpus),
                  layout_to_string(cand.plan.layout).c_str(), format_duration(cand.step_time, 4).c_str(),
                  days(cand.time_to_train).c_str(), cand.gpu_hours);
    out << line;
  }
}

}  // namespace ecsim
