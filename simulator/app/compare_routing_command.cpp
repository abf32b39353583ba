#include "app/compare_routing_command.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "app/progress_bar.hpp"
#include "core/atomic_file.hpp"
#include "routing/routing_evaluation.hpp"
#include "routing/routing_variants.hpp"

namespace ecsim {
namespace {

constexpr const char* kRoutingSchema = "ecsim.routing/1";
// Without run.routing_stats: the skew ANCHORS.md measured token-choice expert GEMMs under.
constexpr double kDefaultZipfExponent = 0.8;
constexpr int kBarWidth = 48;

struct Row {
  ComparedRouting variant;
  RoutingEvaluation eval;
};

std::string pct(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * f);
  return buf;
}

std::string ms(Seconds s) { return format_duration(s, 4); }

void print_table(const std::vector<Row>& rows, std::ostream& out) {
  char line[400];
  std::snprintf(line, sizeof line, "%-17s %12s %7s %8s %9s %10s %10s  %9s %9s %9s %9s %9s %10s\n", "variant",
                "expert FLOP", "wasted", "dropped", "no expert", "a2a max", "a2a mean", "step det", "mean", "p50",
                "p95", "p99", "memory");
  out << line;
  for (const Row& r : rows) {
    const RoutingEvaluation& e = r.eval;
    const double wasted = e.flops_done.value > 0 ? e.flops_wasted.value / e.flops_done.value : 0;
    std::snprintf(line, sizeof line, "%-17s %12s %7s %8s %9s %10s %10s  %9s %9s %9s %9s %9s %10s%s\n",
                  r.variant.name.c_str(), format_flops(e.flops_done, 4).c_str(), pct(wasted).c_str(),
                  pct(e.tokens_dropped_fraction).c_str(), pct(e.tokens_without_expert_fraction).c_str(),
                  format_bytes(e.a2a_max, 4).c_str(), format_bytes(e.a2a_mean, 4).c_str(),
                  ms(e.step_time.deterministic).c_str(), ms(e.step_time.mean).c_str(), ms(e.step_time.p50).c_str(),
                  ms(e.step_time.p95).c_str(), ms(e.step_time.p99).c_str(), format_bytes(e.memory_peak, 4).c_str(),
                  e.fits ? "" : " (does not fit)");
    out << line;
  }
}

// One bar per variant: '#' up to the mean step time, '+' on to p99, on a scale from 0 to the
// largest p99.
void print_bars(const std::vector<Row>& rows, std::ostream& out) {
  double top = 0;
  for (const Row& r : rows) top = std::max(top, r.eval.step_time.p99.value);
  out << "\nstep time per variant ('#' to the mean, '+' on to p99; full width = " << ms(Seconds{top}) << ")\n";
  for (const Row& r : rows) {
    const auto& t = r.eval.step_time;
    const int mean = top > 0 ? static_cast<int>(t.mean.value / top * kBarWidth + 0.5) : 0;
    const int p99 = top > 0 ? static_cast<int>(t.p99.value / top * kBarWidth + 0.5) : 0;
    std::string bar(static_cast<std::size_t>(mean), '#');
    bar += std::string(static_cast<std::size_t>(std::max(0, p99 - mean)), '+');
    bar.resize(kBarWidth, ' ');
    char line[256];
    std::snprintf(line, sizeof line, "  %-17s |%s| %s", r.variant.name.c_str(), bar.c_str(), ms(t.mean).c_str());
    out << line;
    if (t.p99.value > t.mean.value) out << " (p99 " << ms(t.p99) << ")";
    out << "\n";
  }
}

}  // namespace

void run_compare_routing_command(const CompareRoutingOptions& opts, std::ostream& out) {
  const Scenario s = load_scenario(opts.scenario);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to compare routings)");
  if (!s.model.moe.enabled()) {
    throw InputError(s.file.string(), "/model/moe", "compare-routing needs a model with experts");
  }
  const LayoutPlan base = plan_layout(s);
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);

  RoutingStatsSpec stats;
  const bool defaulted = !s.run.routing_stats;
  if (defaulted) {
    stats.distribution = LoadDistribution::kZipf;
    stats.exponent = kDefaultZipfExponent;
    stats.file = s.file.string();
    stats.path = "/run/routing_stats";
  } else {
    stats = *s.run.routing_stats;
  }

  const std::vector<ComparedRouting> variants = routing_variants(s.model, base.tokens_per_micro_batch);
  std::vector<RoutingSpec> routings;
  for (const ComparedRouting& v : variants) routings.push_back(v.routing);
  const std::vector<RoutingEvaluation> evals =
      evaluate_routings(s, base.layout, routings, cost, stats, {opts.threads, progress_bar_if_terminal()});
  std::vector<Row> rows;
  for (std::size_t i = 0; i < variants.size(); ++i) rows.push_back({variants[i], evals[i]});

  out << s.name << ": expert choice against token choice\n";
  out << "  model    " << s.model.name << ", " << s.model.moe.experts << " experts in " << s.model.moe_layers()
      << " MoE layers\n";
  out << "  layout   " << layout_to_string(base.layout) << " (" << base.micro_batches << " micro-batches of "
      << base.tokens_per_micro_batch << " tokens per rank)\n";
  out << "  loads    " << describe_routing_stats(stats) << ", seed " << s.run.seed
      << (defaulted ? "   (the scenario has no run.routing_stats: Zipf 0.8 assumed)" : "") << "\n";
  out << "  costs    " << cost.description() << "\n";
  out << "  equal activated compute: expert choice with f_c = k gives each token k experts on average (E*C/G),\n"
         "  as top-k token choice does; FLOPs are the experts' per step over the cluster, wasted = padding;\n"
         "  dropped = (token, expert) pairs beyond capacity; no expert = tokens no expert processes;\n"
         "  a2a = all-to-all bytes per rank per step (busiest rank per layer, and the average rank)\n\n";
  print_table(rows, out);
  print_bars(rows, out);

  if (opts.json_out.empty()) return;
  Json j;
  j["schema"] = kRoutingSchema;
  j["scenario"] = {{"name", s.name}, {"file", s.file.string()}};
  j["layout"] = layout_to_string(base.layout);
  j["distribution"] = routing_stats_to_json(stats);
  j["seed"] = s.run.seed;
  j["samples"] = stats.samples;
  j["costs"] = cost.description();
  j["equal_activated_compute"] = "expert choice with capacity factor f_c = k matches top-k token choice";
  j["variants"] = Json::array();
  for (const Row& r : rows) {
    Json v = routing_evaluation_to_json(r.eval);
    v["name"] = r.variant.name;
    v["label"] = r.variant.label;
    j["variants"].push_back(std::move(v));
  }
  write_file_atomic(opts.json_out, j.dump(2) + "\n");
  out << "wrote " << opts.json_out << "\n";
}

}  // namespace ecsim
