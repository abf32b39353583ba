// Expert-choice routing (kernels/ref/expert_choice.hpp): the balance and selection properties that
// define it, closed forms for gather and combine, and the backward through combine, gather and the
// router softmax against finite differences.
#include "ref/expert_choice.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "gradient_check.hpp"
#include "precondition.hpp"
#include "ref/softmax.hpp"

using namespace ecsim;

namespace {

std::vector<std::int64_t> experts_per_token(const ref::ExpertChoiceRouting& r) {
  std::vector<std::int64_t> n(static_cast<std::size_t>(r.shape.tokens));
  for (std::int64_t t = 0; t < r.shape.tokens; ++t)
    n[static_cast<std::size_t>(t)] =
        r.token_slot_offsets[static_cast<std::size_t>(t + 1)] - r.token_slot_offsets[static_cast<std::size_t>(t)];
  return n;
}

// The loss of a toy MoE layer: y = combine(a * gather(x)), L = sum w * y, with `a` a fixed
// per-element factor standing in for the experts.
struct ToyLayer {
  ref::ExpertChoiceShape shape;
  std::int64_t hidden;
  std::vector<double> a;  // [slots, d]
  std::vector<double> w;  // [T, d]

  double loss(const std::vector<double>& x, const std::vector<double>& logits,
              const ref::ExpertChoiceRouting& expected) const {
    const auto r = ref::ec_route(shape, ref::softmax_rows(logits, shape.tokens, shape.experts));
    // A finite-difference step must not change which tokens were chosen, or the loss jumps.
    REQUIRE(r.token == expected.token);
    auto ye = ref::ec_gather(r, x, hidden);
    for (std::size_t i = 0; i < ye.size(); ++i) ye[i] *= a[i];
    return test::weighted_sum(w, ref::ec_combine(r, ye, hidden));
  }
};

}  // namespace

TEST_CASE("expert choice: every expert takes exactly C distinct tokens of each group, its top C by affinity") {
  // EC-DiT training: G = 1024, f_c = 2, E = 64 -> C = 1024 * 2 / 64 = 32; two groups.
  const ref::ExpertChoiceShape s{2048, 64, 1024, 32};
  const auto probs = ref::softmax_rows(test::random_values(2048 * 64, 1, -4, 4), 2048, 64);
  const auto r = ref::ec_route(s, probs);
  REQUIRE(r.token.size() == static_cast<std::size_t>(64 * 2 * 32));
  std::int64_t violations = 0;
  for (std::int64_t e = 0; e < 64; ++e) {
    for (std::int64_t g = 0; g < 2; ++g) {
      const auto first = r.token.begin() + (e * 2 + g) * 32;
      std::vector<std::int64_t> chosen(first, first + 32);
      CHECK(std::is_sorted(chosen.begin(), chosen.end()));
      CHECK(std::adjacent_find(chosen.begin(), chosen.end()) == chosen.end());
      CHECK(chosen.front() >= g * 1024);
      CHECK(chosen.back() < (g + 1) * 1024);
      double lowest_chosen = 1;
      for (auto t : chosen) lowest_chosen = std::min(lowest_chosen, probs[static_cast<std::size_t>(t * 64 + e)]);
      for (std::int64_t t = g * 1024; t < (g + 1) * 1024; ++t) {
        if (!std::binary_search(chosen.begin(), chosen.end(), t) &&
            probs[static_cast<std::size_t>(t * 64 + e)] > lowest_chosen)
          ++violations;
      }
    }
  }
  CHECK(violations == 0);
  // E * C slots per group spread over G tokens: 2 experts per token on average (f_c).
  const auto n = experts_per_token(r);
  CHECK(std::accumulate(n.begin(), n.end(), std::int64_t{0}) == 2 * 64 * 32);
  for (std::size_t slot = 0; slot < r.gate.size(); ++slot) {
    CHECK(r.gate[slot] ==
          probs[static_cast<std::size_t>(r.token[slot] * 64 +
                                         static_cast<std::int64_t>(slot) / (2 * 32))]);  // slots per expert: groups * C
  }
}

TEST_CASE("expert choice: a token can be taken by all E experts or by none") {
  // Affinities (rows sum to 1). E = 3, C = 2: three specialists take one expert each, and token 0,
  // second for every expert, fills the other slot of all three.
  const std::vector<double> all{0.4, 0.4, 0.2, 0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8};
  const auto r = ref::ec_route({4, 3, 4, 2}, all);
  CHECK(r.token == std::vector<std::int64_t>{0, 1, 0, 2, 0, 3});
  CHECK(experts_per_token(r) == std::vector<std::int64_t>{3, 1, 1, 1});
  // E = 2, C = 1: the undecided token 2 loses both experts to the specialists.
  const std::vector<double> none{0.9, 0.1, 0.1, 0.9, 0.5, 0.5};
  const auto q = ref::ec_route({3, 2, 3, 1}, none);
  CHECK(experts_per_token(q) == std::vector<std::int64_t>{1, 1, 0});
}

TEST_CASE("expert choice: ties go to the lower token index") {
  // Equal logits: every affinity is 1/E, so each expert takes the first C tokens of each group.
  const ref::ExpertChoiceShape s{8, 3, 4, 2};
  const auto r = ref::ec_route(s, ref::softmax_rows(std::vector<double>(24, 0.0), 8, 3));
  for (std::int64_t e = 0; e < 3; ++e) {
    CHECK(r.token[static_cast<std::size_t>((e * 2 + 0) * 2 + 0)] == 0);
    CHECK(r.token[static_cast<std::size_t>((e * 2 + 0) * 2 + 1)] == 1);
    CHECK(r.token[static_cast<std::size_t>((e * 2 + 1) * 2 + 0)] == 4);
    CHECK(r.token[static_cast<std::size_t>((e * 2 + 1) * 2 + 1)] == 5);
  }
  for (double g : r.gate) CHECK(g == doctest::Approx(1.0 / 3).epsilon(1e-15));
}

TEST_CASE("expert choice: gather copies rows, combine with identity experts scales x by the summed gates") {
  const ref::ExpertChoiceShape s{16, 4, 8, 3};
  const std::int64_t d = 5;
  const auto probs = ref::softmax_rows(test::random_values(16 * 4, 2, -2, 2), 16, 4);
  const auto r = ref::ec_route(s, probs);
  const auto x = test::random_values(16 * d, 3);
  const auto xe = ref::ec_gather(r, x, d);
  for (std::int64_t slot = 0; slot < s.slots(); ++slot) {
    for (std::int64_t c = 0; c < d; ++c)
      CHECK(xe[static_cast<std::size_t>(slot * d + c)] ==
            x[static_cast<std::size_t>(r.token[static_cast<std::size_t>(slot)] * d + c)]);
  }
  const auto y = ref::ec_combine(r, xe, d);
  for (std::int64_t t = 0; t < 16; ++t) {
    double gates = 0;  // sum of t's affinities to the experts that took it
    for (std::int64_t slot = 0; slot < s.slots(); ++slot) {
      if (r.token[static_cast<std::size_t>(slot)] == t) gates += r.gate[static_cast<std::size_t>(slot)];
    }
    for (std::int64_t c = 0; c < d; ++c)
      CHECK(y[static_cast<std::size_t>(t * d + c)] ==
            doctest::Approx(gates * x[static_cast<std::size_t>(t * d + c)]).epsilon(1e-14));
  }
}

TEST_CASE("expert choice: the inverse map lists each token's slots in ascending expert order") {
  const ref::ExpertChoiceShape s{32, 8, 16, 6};
  const auto r = ref::ec_route(s, ref::softmax_rows(test::random_values(32 * 8, 4, -3, 3), 32, 8));
  CHECK(r.token_slot_offsets.back() == s.slots());
  for (std::int64_t t = 0; t < 32; ++t) {
    for (auto i = r.token_slot_offsets[static_cast<std::size_t>(t)];
         i < r.token_slot_offsets[static_cast<std::size_t>(t + 1)]; ++i) {
      CHECK(r.token[static_cast<std::size_t>(r.token_slots[static_cast<std::size_t>(i)])] == t);
      if (i > r.token_slot_offsets[static_cast<std::size_t>(t)])
        CHECK(r.token_slots[static_cast<std::size_t>(i)] > r.token_slots[static_cast<std::size_t>(i - 1)]);
    }
  }
}

TEST_CASE(
    "expert choice backward matches finite differences through combine, gather and softmax (fp64, 1e-7 + 1e-6 "
    "|grad|)") {
  ToyLayer layer{{12, 3, 6, 2}, 4, test::random_values(3 * 2 * 2 * 4, 5), test::random_values(12 * 4, 6)};
  const auto x = test::random_values(12 * 4, 7);
  const auto logits = test::random_values(12 * 3, 8, -2, 2);
  const auto probs = ref::softmax_rows(logits, 12, 3);
  const auto r = ref::ec_route(layer.shape, probs);
  auto xe = ref::ec_gather(r, x, 4);
  std::vector<double> ye(xe.size());
  for (std::size_t i = 0; i < ye.size(); ++i) ye[i] = layer.a[i] * xe[i];
  const auto cg = ref::ec_combine_bwd(r, ye, layer.w, 4);
  std::vector<double> dxe(cg.dye.size());
  for (std::size_t i = 0; i < dxe.size(); ++i) dxe[i] = layer.a[i] * cg.dye[i];
  const auto dx = ref::ec_gather_bwd(r, dxe, 4);
  const auto dlogits = ref::softmax_rows_bwd(probs, ref::ec_gate_bwd(r, cg.dgate), 12, 3);
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return layer.loss(v, logits, r); }, x, dx);
  test::check_gradient(
      "dlogits", [&](const std::vector<double>& v) { return layer.loss(x, v, r); }, logits, dlogits);
}

TEST_CASE("expert choice rejects shapes that break its preconditions") {
  const std::vector<double> probs(12 * 2, 0.5);
  CHECK_THROWS_AS(ref::ec_route({12, 2, 5, 1}, probs), PreconditionError);  // 5 does not divide 12
  CHECK_THROWS_AS(ref::ec_route({12, 2, 6, 7}, probs), PreconditionError);  // C > G
  CHECK_THROWS_AS(ref::ec_route({12, 2, 6, 0}, probs), PreconditionError);  // C = 0
  CHECK_THROWS_AS(ref::ec_route({12, 3, 6, 1}, probs), PreconditionError);  // probs is not [T, E]
}
