#include "ref/token_choice.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "ref/tensor.hpp"

namespace ecsim::ref {
namespace {

std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }

}  // namespace

void TokenChoiceShape::validate(const char* op) const {
  const std::string name(op);
  require(tokens > 0 && experts > 0, name + ": tokens and experts must be positive");
  require(top_k >= 1 && top_k <= experts,
          name + ": top_k " + std::to_string(top_k) + " outside [1, experts " + std::to_string(experts) + "]");
  require(capacity != 0, name + ": capacity 0 would drop every token (use a negative capacity for dropless)");
}

TokenChoiceRouting tc_route(const TokenChoiceShape& s, std::span<const double> probs) {
  s.validate("tc_route");
  require_size(probs, s.tokens * s.experts, "tc_route", "probs");
  const std::int64_t k = s.top_k;
  TokenChoiceRouting r{s,
                       std::vector<std::int64_t>(at(s.assignments())),
                       std::vector<double>(at(s.assignments())),
                       std::vector<std::int64_t>(at(s.assignments()), -1),
                       std::vector<std::int64_t>(at(s.experts), 0),
                       std::vector<std::int64_t>(at(s.experts + 1), 0),
                       {}};
  std::vector<std::int64_t> order(at(s.experts));
  std::vector<std::int64_t> position(at(s.assignments()), -1);  // [T, k] place within the expert's rows
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    const double* p = probs.data() + t * s.experts;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](std::int64_t a, std::int64_t b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
    double picked = 0;
    for (std::int64_t j = 0; j < k; ++j) picked += p[order[at(j)]];
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t e = order[at(j)];
      r.expert[at(t * k + j)] = e;
      r.gate[at(t * k + j)] = s.normalize_gates ? p[e] / picked : p[e];
      // Granted in token order: the expert's fill so far decides whether this pick fits.
      if (s.dropless() || r.counts[at(e)] < s.capacity) position[at(t * k + j)] = r.counts[at(e)];
      ++r.counts[at(e)];
    }
  }
  for (std::int64_t e = 0; e < s.experts; ++e) {
    const std::int64_t kept = s.dropless() ? r.counts[at(e)] : std::min(r.counts[at(e)], s.capacity);
    r.expert_offsets[at(e + 1)] = r.expert_offsets[at(e)] + kept;
  }
  r.row_assignment.assign(at(r.rows()), -1);
  for (std::int64_t a = 0; a < s.assignments(); ++a) {
    if (position[at(a)] < 0) continue;
    r.row[at(a)] = r.expert_offsets[at(r.expert[at(a)])] + position[at(a)];
    r.row_assignment[at(r.row[at(a)])] = a;
  }
  return r;
}

std::vector<double> tc_permute(const TokenChoiceRouting& r, std::span<const double> x, std::int64_t hidden) {
  require(hidden > 0, "tc_permute: hidden must be positive");
  require_size(x, r.shape.tokens * hidden, "tc_permute", "x");
  const auto xm = view(x.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  std::vector<double> xp(at(r.rows() * hidden));
  auto xpm = view(xp.data(), r.rows(), hidden, hidden);  // [rows, d]
  for (std::int64_t row = 0; row < r.rows(); ++row) xpm.row(row) = xm.row(r.row_assignment[at(row)] / r.shape.top_k);
  return xp;
}

std::vector<double> tc_permute_bwd(const TokenChoiceRouting& r, std::span<const double> dxp, std::int64_t hidden) {
  require(hidden > 0, "tc_permute_bwd: hidden must be positive");
  require_size(dxp, r.rows() * hidden, "tc_permute_bwd", "dxp");
  const auto dxpm = view(dxp.data(), r.rows(), hidden, hidden);  // [rows, d]
  std::vector<double> dx(at(r.shape.tokens * hidden), 0.0);
  auto dxm = view(dx.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  for (std::int64_t a = 0; a < r.shape.assignments(); ++a) {
    if (r.row[at(a)] >= 0) dxm.row(a / r.shape.top_k) += dxpm.row(r.row[at(a)]);
  }
  return dx;
}

std::vector<double> tc_unpermute(const TokenChoiceRouting& r, std::span<const double> yp, std::int64_t hidden) {
  require(hidden > 0, "tc_unpermute: hidden must be positive");
  require_size(yp, r.rows() * hidden, "tc_unpermute", "yp");
  const auto ypm = view(yp.data(), r.rows(), hidden, hidden);  // [rows, d]
  std::vector<double> y(at(r.shape.tokens * hidden), 0.0);
  auto ym = view(y.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  for (std::int64_t a = 0; a < r.shape.assignments(); ++a) {
    if (r.row[at(a)] >= 0) ym.row(a / r.shape.top_k) += r.gate[at(a)] * ypm.row(r.row[at(a)]);
  }
  return y;
}

TokenChoiceUnpermuteGrads tc_unpermute_bwd(const TokenChoiceRouting& r, std::span<const double> yp,
                                           std::span<const double> dy, std::int64_t hidden) {
  require(hidden > 0, "tc_unpermute_bwd: hidden must be positive");
  require_size(yp, r.rows() * hidden, "tc_unpermute_bwd", "yp");
  require_size(dy, r.shape.tokens * hidden, "tc_unpermute_bwd", "dy");
  const auto ypm = view(yp.data(), r.rows(), hidden, hidden);        // [rows, d]
  const auto dym = view(dy.data(), r.shape.tokens, hidden, hidden);  // [T, d]
  TokenChoiceUnpermuteGrads g{std::vector<double>(yp.size(), 0.0), std::vector<double>(at(r.shape.assignments()), 0.0)};
  auto dypm = view(g.dyp.data(), r.rows(), hidden, hidden);
  for (std::int64_t a = 0; a < r.shape.assignments(); ++a) {
    const std::int64_t row = r.row[at(a)];
    if (row < 0) continue;
    const std::int64_t t = a / r.shape.top_k;
    dypm.row(row) = r.gate[at(a)] * dym.row(t);
    g.dgate[at(a)] = dym.row(t).dot(ypm.row(row));
  }
  return g;
}

std::vector<double> tc_gate_bwd(const TokenChoiceRouting& r, std::span<const double> probs,
                                std::span<const double> dgate) {
  const auto& s = r.shape;
  require_size(probs, s.tokens * s.experts, "tc_gate_bwd", "probs");
  require_size(dgate, s.assignments(), "tc_gate_bwd", "dgate");
  const std::int64_t k = s.top_k;
  std::vector<double> dprobs(at(s.tokens * s.experts), 0.0);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    const std::size_t a0 = at(t * k);
    if (!s.normalize_gates) {
      for (std::int64_t j = 0; j < k; ++j) dprobs[at(t * s.experts + r.expert[a0 + j])] = dgate[a0 + j];
      continue;
    }
    // g_j = p_j / S with S = sum of the picked p: dp_j = (dg_j - sum_i dg_i g_i) / S.
    double picked = 0, weighted = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      picked += probs[at(t * s.experts + r.expert[a0 + j])];
      weighted += dgate[a0 + j] * r.gate[a0 + j];
    }
    for (std::int64_t j = 0; j < k; ++j) {
      dprobs[at(t * s.experts + r.expert[a0 + j])] = (dgate[a0 + j] - weighted) / picked;
    }
  }
  return dprobs;
}

}  // namespace ecsim::ref
