#include "routing/routing_variants.hpp"

#include <cstdint>

namespace ecsim {
namespace {

// EC-DiT's training group (ANCHORS.md: G = 1024 tokens in training).
constexpr std::int64_t kDefaultGroupTokens = 1024;

struct CapacityChoice {
  const char* name;  // as in the variant name
  double factor;     // 0: dropless
};
constexpr CapacityChoice kCapacities[] = {{"1.0", 1.0}, {"1.25", 1.25}, {"2.0", 2.0}, {"dropless", 0.0}};
constexpr std::int64_t kTopK[] = {1, 2};

}  // namespace

std::vector<ComparedRouting> routing_variants(const ModelSpec& m, std::int64_t tokens_per_micro_batch) {
  std::int64_t group = kDefaultGroupTokens;
  if (m.moe.routing.kind == RoutingKind::kExpertChoice) group = m.moe.routing.group_tokens;
  if (tokens_per_micro_batch % group != 0) group = tokens_per_micro_batch;

  std::vector<ComparedRouting> out;
  for (std::int64_t k : kTopK) {
    if (k > m.moe.experts) continue;
    const std::string ks = std::to_string(k);
    ComparedRouting ec;
    ec.name = "ec-fc" + ks;
    ec.label = "EC f_c=" + ks + " (= top-" + ks + ")";
    ec.routing.kind = RoutingKind::kExpertChoice;
    ec.routing.capacity_factor = static_cast<double>(k);
    ec.routing.group_tokens = group;
    out.push_back(ec);
    for (const auto& c : kCapacities) {
      ComparedRouting tc;
      const bool dropless = c.factor == 0;
      tc.name = "tc-top" + ks + (dropless ? std::string("-dropless") : "-cf" + std::string(c.name));
      tc.label = "TC top-" + ks + (dropless ? std::string(" dropless") : " cf " + std::string(c.name));
      tc.routing.kind = RoutingKind::kTokenChoice;
      tc.routing.top_k = k;
      tc.routing.capacity_factor = c.factor;
      tc.routing.group_tokens = 0;
      out.push_back(tc);
    }
  }
  return out;
}

}  // namespace ecsim
