#include "ref/expert_choice.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "ref/tensor.hpp"

namespace ecsim::ref {

void ExpertChoiceShape::validate(const char* op) const {
  const std::string name(op);
  require(tokens > 0 && experts > 0 && group_tokens > 0, name + ": tokens, experts and group_tokens must be positive");
  require(tokens % group_tokens == 0, name + ": group_tokens " + std::to_string(group_tokens) +
                                          " does not divide tokens " + std::to_string(tokens));
  require(capacity >= 1 && capacity <= group_tokens, name + ": capacity " + std::to_string(capacity) +
                                                         " outside [1, group_tokens " + std::to_string(group_tokens) +
                                                         "]");
}

ExpertChoiceRouting ec_route(const ExpertChoiceShape& s, std::span<const double> probs) {
  s.validate("ec_route");
  require_size(probs, s.tokens * s.experts, "ec_route", "probs");
  const std::int64_t groups = s.groups();
  ExpertChoiceRouting r{s, std::vector<std::int64_t>(static_cast<std::size_t>(s.slots())),
                        std::vector<double>(static_cast<std::size_t>(s.slots())),
                        std::vector<std::int64_t>(static_cast<std::size_t>(s.tokens + 1), 0),
                        std::vector<std::int64_t>(static_cast<std::size_t>(s.slots()))};
  auto affinity = [&](std::int64_t t, std::int64_t e) { return probs[static_cast<std::size_t>(t * s.experts + e)]; };
  std::vector<std::int64_t> order(static_cast<std::size_t>(s.group_tokens));  // token indices of one group
  for (std::int64_t e = 0; e < s.experts; ++e) {
    for (std::int64_t g = 0; g < groups; ++g) {
      std::iota(order.begin(), order.end(), g * s.group_tokens);
      // Top-C by (affinity descending, token index ascending), then the chosen C in token order.
      std::partial_sort(order.begin(), order.begin() + s.capacity, order.end(), [&](std::int64_t a, std::int64_t b) {
        const double pa = affinity(a, e), pb = affinity(b, e);
        return pa != pb ? pa > pb : a < b;
      });
      std::sort(order.begin(), order.begin() + s.capacity);
      for (std::int64_t c = 0; c < s.capacity; ++c) {
        const std::size_t slot = static_cast<std::size_t>((e * groups + g) * s.capacity + c);
        r.token[slot] = order[static_cast<std::size_t>(c)];
        r.gate[slot] = affinity(r.token[slot], e);
      }
    }
  }
  // Counting sort of the slots by token; slots are visited in ascending order, so each token's
  // slots come out in ascending expert order.
  for (std::int64_t t : r.token) ++r.token_slot_offsets[static_cast<std::size_t>(t + 1)];
  std::partial_sum(r.token_slot_offsets.begin(), r.token_slot_offsets.end(), r.token_slot_offsets.begin());
  std::vector<std::int64_t> fill(r.token_slot_offsets.begin(), r.token_slot_offsets.end() - 1);
  for (std::int64_t slot = 0; slot < s.slots(); ++slot) {
    const std::size_t t = static_cast<std::size_t>(r.token[static_cast<std::size_t>(slot)]);
    r.token_slots[static_cast<std::size_t>(fill[t]++)] = slot;
  }
  return r;
}

std::vector<double> ec_gather(const ExpertChoiceRouting& r, std::span<const double> x, std::int64_t hidden) {
  require(hidden > 0, "ec_gather: hidden must be positive");
  require_size(x, r.shape.tokens * hidden, "ec_gather", "x");
  const auto xm = view(x.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  std::vector<double> xe(static_cast<std::size_t>(r.shape.slots() * hidden));
  auto xem = view(xe.data(), r.shape.slots(), hidden, hidden);  // [E*groups*C, d]
  for (std::int64_t slot = 0; slot < r.shape.slots(); ++slot) xem.row(slot) = xm.row(r.token[slot]);
  return xe;
}

std::vector<double> ec_gather_bwd(const ExpertChoiceRouting& r, std::span<const double> dxe, std::int64_t hidden) {
  require(hidden > 0, "ec_gather_bwd: hidden must be positive");
  require_size(dxe, r.shape.slots() * hidden, "ec_gather_bwd", "dxe");
  const auto dxem = view(dxe.data(), r.shape.slots(), hidden, hidden);  // [E*groups*C, d]
  std::vector<double> dx(static_cast<std::size_t>(r.shape.tokens * hidden), 0.0);
  auto dxm = view(dx.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  for (std::int64_t t = 0; t < r.shape.tokens; ++t) {
    for (std::int64_t i = r.token_slot_offsets[t]; i < r.token_slot_offsets[t + 1]; ++i) {
      dxm.row(t) += dxem.row(r.token_slots[i]);
    }
  }
  return dx;
}

std::vector<double> ec_combine(const ExpertChoiceRouting& r, std::span<const double> ye, std::int64_t hidden) {
  require(hidden > 0, "ec_combine: hidden must be positive");
  require_size(ye, r.shape.slots() * hidden, "ec_combine", "ye");
  const auto yem = view(ye.data(), r.shape.slots(), hidden, hidden);  // [E*groups*C, d]
  std::vector<double> y(static_cast<std::size_t>(r.shape.tokens * hidden), 0.0);
  auto ym = view(y.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  for (std::int64_t t = 0; t < r.shape.tokens; ++t) {
    for (std::int64_t i = r.token_slot_offsets[t]; i < r.token_slot_offsets[t + 1]; ++i) {
      const std::int64_t slot = r.token_slots[i];
      ym.row(t) += r.gate[slot] * yem.row(slot);
    }
  }
  return y;
}

ExpertChoiceCombineGrads ec_combine_bwd(const ExpertChoiceRouting& r, std::span<const double> ye,
                                        std::span<const double> dy, std::int64_t hidden) {
  require(hidden > 0, "ec_combine_bwd: hidden must be positive");
  require_size(ye, r.shape.slots() * hidden, "ec_combine_bwd", "ye");
  require_size(dy, r.shape.tokens * hidden, "ec_combine_bwd", "dy");
  const auto yem = view(ye.data(), r.shape.slots(), hidden, hidden);  // [E*groups*C, d]
  const auto dym = view(dy.data(), r.shape.tokens, hidden, hidden);   // [T, d]
  ExpertChoiceCombineGrads g{std::vector<double>(ye.size()),
                             std::vector<double>(static_cast<std::size_t>(r.shape.slots()))};
  auto dyem = view(g.dye.data(), r.shape.slots(), hidden, hidden);
  for (std::int64_t slot = 0; slot < r.shape.slots(); ++slot) {
    const std::int64_t t = r.token[slot];
    dyem.row(slot) = r.gate[slot] * dym.row(t);
    g.dgate[static_cast<std::size_t>(slot)] = dym.row(t).dot(yem.row(slot));
  }
  return g;
}

std::vector<double> ec_gate_bwd(const ExpertChoiceRouting& r, std::span<const double> dgate) {
  require_size(dgate, r.shape.slots(), "ec_gate_bwd", "dgate");
  const std::int64_t per_expert = r.shape.groups() * r.shape.capacity;
  std::vector<double> dprobs(static_cast<std::size_t>(r.shape.tokens * r.shape.experts), 0.0);
  for (std::int64_t slot = 0; slot < r.shape.slots(); ++slot) {
    const std::int64_t e = slot / per_expert;
    dprobs[static_cast<std::size_t>(r.token[static_cast<std::size_t>(slot)] * r.shape.experts + e)] =
        dgate[static_cast<std::size_t>(slot)];
  }
  return dprobs;
}

}  // namespace ecsim::ref
