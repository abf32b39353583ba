#include "routing/token_choice_routing.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "routing/alias_table.hpp"

namespace ecsim {
namespace {

// Draws before falling back to an exact draw over the experts not yet chosen: a token whose
// first choices hold almost all of the mass rarely needs more than a few.
constexpr int kRedrawLimit = 64;
// Routers choose a handful of experts per token; more than this spills to the heap.
constexpr std::size_t kMaxTopKOnStack = 16;

// The j-th choice of a token: a draw from the shares, excluding the token's earlier choices.
std::size_t next_choice(const AliasTable& table, const std::vector<double>& shares, const std::size_t* earlier,
                        std::size_t count, RandomStream& rng) {
  auto taken = [&](std::size_t e) { return std::find(earlier, earlier + count, e) != earlier + count; };
  for (int attempt = 0; attempt < kRedrawLimit; ++attempt) {
    const std::size_t e = table.draw(rng);
    if (!taken(e)) return e;
  }
  double rest = 0;
  std::size_t open = 0;
  for (std::size_t e = 0; e < shares.size(); ++e) {
    if (!taken(e)) rest += shares[e], ++open;
  }
  // All remaining shares are zero: any untaken expert is as likely (a tie of -inf logits).
  const bool flat = !(rest > 0);
  double u = rng.uniform() * (flat ? static_cast<double>(open) : rest);
  std::size_t last = 0;
  for (std::size_t e = 0; e < shares.size(); ++e) {
    if (taken(e)) continue;
    last = e;
    u -= flat ? 1.0 : shares[e];
    if (u < 0) return e;
  }
  return last;
}

}  // namespace

std::int64_t TokenChoiceLayer::computed_rows(std::int64_t e) const {
  if (padded()) return shape.capacity * shape.ranks;
  std::int64_t rows = 0;
  for (std::int64_t r = 0; r < shape.ranks; ++r) rows += sent[static_cast<std::size_t>(r * shape.experts + e)];
  return rows;
}

std::int64_t TokenChoiceLayer::computed_rows() const {
  std::int64_t rows = 0;
  for (std::int64_t e = 0; e < shape.experts; ++e) rows += computed_rows(e);
  return rows;
}

std::vector<std::int64_t> TokenChoiceLayer::expert_rows(std::int64_t q) const {
  std::vector<std::int64_t> rows;
  const std::int64_t local = shape.local_experts();
  for (std::int64_t i = 0; i < local; ++i) rows.push_back(computed_rows(q * local + i));
  return rows;
}

std::int64_t TokenChoiceLayer::busiest_rank() const {
  std::int64_t best = 0, best_rows = -1;
  for (std::int64_t q = 0; q < shape.ranks; ++q) {
    std::int64_t rows = 0;
    for (std::int64_t r : expert_rows(q)) rows += r;
    if (rows > best_rows) best = q, best_rows = rows;
  }
  return best;
}

std::vector<std::vector<std::int64_t>> TokenChoiceLayer::dispatch_rows() const {
  const auto n = static_cast<std::size_t>(shape.ranks);
  const std::int64_t local = shape.local_experts();
  std::vector<std::vector<std::int64_t>> m(n, std::vector<std::int64_t>(n, 0));
  for (std::size_t r = 0; r < n; ++r) {
    for (std::int64_t e = 0; e < shape.experts; ++e) {
      const auto q = static_cast<std::size_t>(e / local);
      m[r][q] += padded() ? shape.capacity : sent[r * static_cast<std::size_t>(shape.experts) + static_cast<std::size_t>(e)];
    }
  }
  return m;
}

TokenChoices draw_token_choices(const std::vector<double>& shares, const TokenChoiceSetup& shape, RandomStream& rng) {
  if (static_cast<std::int64_t>(shares.size()) != shape.experts || shape.ranks < 1 ||
      shape.experts % shape.ranks != 0 || shape.top_k < 1 || shape.top_k > shape.experts) {
    throw RuntimeFailure("token-choice routing: inconsistent shape (" + std::to_string(shares.size()) + " shares, " +
                         std::to_string(shape.experts) + " experts, " + std::to_string(shape.ranks) + " ranks, top-" +
                         std::to_string(shape.top_k) + ")");
  }
  const AliasTable table(shares);
  const auto k = static_cast<std::size_t>(shape.top_k);
  TokenChoices out;
  out.shape = shape;
  out.expert.resize(static_cast<std::size_t>(shape.ranks * shape.tokens_per_rank) * k);
  std::size_t mine[kMaxTopKOnStack];
  std::vector<std::size_t> many(k > kMaxTopKOnStack ? k : 0);
  std::size_t* chosen = k > kMaxTopKOnStack ? many.data() : mine;
  for (std::size_t t = 0; t < out.expert.size(); t += k) {
    for (std::size_t j = 0; j < k; ++j) {
      chosen[j] = next_choice(table, shares, chosen, j, rng);
      out.expert[t + j] = static_cast<std::uint32_t>(chosen[j]);
    }
  }
  return out;
}

TokenChoiceLayer keep_within_capacity(const TokenChoices& choices, std::int64_t capacity) {
  const TokenChoiceSetup& shape = choices.shape;
  const auto k = static_cast<std::size_t>(shape.top_k);
  const auto t_count = static_cast<std::size_t>(shape.tokens_per_rank);
  const auto e_count = static_cast<std::size_t>(shape.experts);
  TokenChoiceLayer out;
  out.shape = shape;
  out.shape.capacity = capacity;
  out.sent.assign(static_cast<std::size_t>(shape.ranks) * e_count, 0);
  out.experts_per_token.assign(k + 1, 0);
  std::vector<std::int64_t> kept_by_token(t_count);
  for (std::size_t r = 0; r < static_cast<std::size_t>(shape.ranks); ++r) {
    const std::uint32_t* choice = &choices.expert[r * t_count * k];  // [tokens][k]
    std::int64_t* fill = &out.sent[r * e_count];
    std::fill(kept_by_token.begin(), kept_by_token.end(), 0);
    // GShard's priority: all first choices in token order, then all second choices, ...
    for (std::size_t j = 0; j < k; ++j) {
      for (std::size_t t = 0; t < t_count; ++t) {
        const std::uint32_t e = choice[t * k + j];
        if (capacity > 0 && fill[e] >= capacity) {
          ++out.dropped;
          continue;
        }
        ++fill[e];
        ++kept_by_token[t];
      }
    }
    for (std::int64_t kept : kept_by_token) ++out.experts_per_token[static_cast<std::size_t>(kept)];
  }
  out.tokens = shape.ranks * shape.tokens_per_rank;
  out.assignments = out.tokens * shape.top_k;
  out.tokens_without_expert = out.experts_per_token.front();
  return out;
}

TokenChoiceLayer route_token_choice(const std::vector<double>& shares, const TokenChoiceSetup& shape,
                                    RandomStream& rng) {
  return keep_within_capacity(draw_token_choices(shares, shape, rng), shape.capacity);
}

}  // namespace ecsim
