#include "routing/routing_stats_spec.hpp"

#include <cstdio>

namespace ecsim {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

const char* distribution_name(LoadDistribution d) {
  switch (d) {
    case LoadDistribution::kUniform: return "uniform";
    case LoadDistribution::kZipf: return "zipf";
    case LoadDistribution::kDirichlet: return "dirichlet";
    case LoadDistribution::kHistogram: return "histogram";
  }
  return "?";
}

RoutingStatsSpec parse_routing_stats(const Node& node) {
  ObjectReader r(node);
  RoutingStatsSpec s;
  s.file = r.node().file().string();
  s.path = r.node().path();
  const std::string kind = r.choice("distribution", {"uniform", "zipf", "dirichlet", "histogram"});
  // Each parameter belongs to one distribution; elsewhere it would be silently ignored.
  auto only_for = [&](const char* key, const char* dist) {
    if (kind != dist && r.has(key)) {
      r.required(key).fail(std::string(key) + " is for distribution \"" + dist + "\", not \"" + kind + "\"");
    }
  };
  only_for("exponent", "zipf");
  only_for("concentration", "dirichlet");
  only_for("histogram", "histogram");
  if (kind == "uniform") {
    s.distribution = LoadDistribution::kUniform;
  } else if (kind == "zipf") {
    s.distribution = LoadDistribution::kZipf;
    // 0 is uniform; beyond 10 one expert takes all but ~0.1% of the tokens of 32 experts.
    s.exponent = r.number("exponent", 0, 10);
  } else if (kind == "dirichlet") {
    s.distribution = LoadDistribution::kDirichlet;
    // Below 0.01 nearly every draw puts all tokens on one expert; the lower bound keeps the draws
    // meaningful rather than degenerate.
    s.concentration = r.number("concentration", 0.01, 1e6);
  } else {
    s.distribution = LoadDistribution::kHistogram;
    s.histogram = parse_expert_histogram(r.required("histogram"));
  }
  s.samples = r.integer_or("samples", kDefaultRoutingSamples, 1, 100000);
  r.finish();
  return s;
}

void check_routing_stats(const RoutingStatsSpec& spec, const ModelSpec& model) {
  if (!model.moe.enabled()) {
    throw InputError(spec.file, spec.path, "routing statistics need a model with experts; '" + model.name + "' has none");
  }
  if (spec.histogram && spec.histogram->experts != model.moe.experts) {
    throw InputError(spec.histogram->file.string(), spec.histogram->path + "/experts",
                     "the histogram has " + std::to_string(spec.histogram->experts) + " experts, but the model '" +
                         model.name + "' has " + std::to_string(model.moe.experts));
  }
}

Json routing_stats_to_json(const RoutingStatsSpec& spec) {
  Json j = {{"distribution", distribution_name(spec.distribution)}, {"samples", spec.samples}};
  if (spec.distribution == LoadDistribution::kZipf) j["exponent"] = spec.exponent;
  if (spec.distribution == LoadDistribution::kDirichlet) j["concentration"] = spec.concentration;
  if (spec.histogram) {
    j["histogram"] = {{"file", spec.histogram->file.string()},
                      {"measurements", spec.histogram->loads.size()},
                      {"source", spec.histogram->source}};
  }
  return j;
}

std::string describe_routing_stats(const RoutingStatsSpec& spec) {
  std::string d = distribution_name(spec.distribution);
  if (spec.distribution == LoadDistribution::kZipf) d += " (exponent " + number(spec.exponent) + ")";
  if (spec.distribution == LoadDistribution::kDirichlet) d += " (concentration " + number(spec.concentration) + ")";
  if (spec.histogram) {
    d += " (" + std::to_string(spec.histogram->loads.size()) + " measurements from " + spec.histogram->file.string() + ")";
  }
  return d + ", " + std::to_string(spec.samples) + " sampled steps";
}

}  // namespace ecsim
