// Token-choice routing (kernels/ref/token_choice.hpp): top-k picks, per-expert counts, dropping
// under a known skew, permute/unpermute closed forms, and the backward against finite differences.
#include "ref/token_choice.hpp"

#include <doctest/doctest.h>

#include "gradient_check.hpp"
#include "precondition.hpp"
#include "ref/softmax.hpp"

using namespace ecsim;

namespace {

// Logits that make expert `e` token t's clear favourite (and e + 1 mod E its second).
std::vector<double> favourite_logits(const std::vector<std::int64_t>& favourite, std::int64_t experts) {
  std::vector<double> logits(favourite.size() * static_cast<std::size_t>(experts), 0.0);
  for (std::size_t t = 0; t < favourite.size(); ++t) {
    logits[t * static_cast<std::size_t>(experts) + static_cast<std::size_t>(favourite[t])] = 4.0;
    logits[t * static_cast<std::size_t>(experts) + static_cast<std::size_t>((favourite[t] + 1) % experts)] = 2.0;
  }
  return logits;
}

struct ToyLayer {
  ref::TokenChoiceShape shape;
  std::int64_t hidden;
  std::vector<double> a;  // [rows, d] stands in for the experts
  std::vector<double> w;  // [T, d]

  double loss(const std::vector<double>& x, const std::vector<double>& logits,
              const ref::TokenChoiceRouting& expected) const {
    const auto r = ref::tc_route(shape, ref::softmax_rows(logits, shape.tokens, shape.experts));
    REQUIRE(r.row == expected.row);  // the step must not change the routing
    auto yp = ref::tc_permute(r, x, hidden);
    for (std::size_t i = 0; i < yp.size(); ++i) yp[i] *= a[i];
    return test::weighted_sum(w, ref::tc_unpermute(r, yp, hidden));
  }
};

void check_gradients(const ref::TokenChoiceShape& s, std::uint64_t seed) {
  CAPTURE(s.top_k);
  CAPTURE(s.capacity);
  CAPTURE(s.normalize_gates);
  const std::int64_t d = 3;
  const auto logits = test::random_values(static_cast<std::size_t>(s.tokens * s.experts), seed, -2, 2);
  const auto x = test::random_values(static_cast<std::size_t>(s.tokens * d), seed + 1);
  const auto probs = ref::softmax_rows(logits, s.tokens, s.experts);
  const auto r = ref::tc_route(s, probs);
  ToyLayer layer{s, d, test::random_values(static_cast<std::size_t>(r.rows() * d), seed + 2),
                 test::random_values(static_cast<std::size_t>(s.tokens * d), seed + 3)};
  auto yp = ref::tc_permute(r, x, d);
  for (std::size_t i = 0; i < yp.size(); ++i) yp[i] *= layer.a[i];
  const auto ug = ref::tc_unpermute_bwd(r, yp, layer.w, d);
  std::vector<double> dxp(ug.dyp.size());
  for (std::size_t i = 0; i < dxp.size(); ++i) dxp[i] = layer.a[i] * ug.dyp[i];
  const auto dx = ref::tc_permute_bwd(r, dxp, d);
  const auto dlogits = ref::softmax_rows_bwd(probs, ref::tc_gate_bwd(r, probs, ug.dgate), s.tokens, s.experts);
  test::check_gradient(
      "dx", [&](const std::vector<double>& v) { return layer.loss(v, logits, r); }, x, dx);
  test::check_gradient(
      "dlogits", [&](const std::vector<double>& v) { return layer.loss(x, v, r); }, logits, dlogits);
}

}  // namespace

TEST_CASE("token choice: top-k picks the highest affinities in order, counts add up to T * k, dropless keeps all") {
  const ref::TokenChoiceShape s{64, 8, 2, -1, false};
  const auto probs = ref::softmax_rows(test::random_values(64 * 8, 1, -3, 3), 64, 8);
  const auto r = ref::tc_route(s, probs);
  std::int64_t total = 0;
  for (auto c : r.counts) total += c;
  CHECK(total == 128);
  CHECK(r.rows() == 128);
  CHECK(r.dropped() == 0);
  for (std::int64_t t = 0; t < 64; ++t) {
    const double* p = probs.data() + t * 8;
    const auto first = r.expert[static_cast<std::size_t>(2 * t)],
               second = r.expert[static_cast<std::size_t>(2 * t + 1)];
    CHECK(first != second);
    CHECK(p[first] >= p[second]);
    for (std::int64_t e = 0; e < 8; ++e) {
      if (e != first && e != second) CHECK(p[e] <= p[second]);
    }
    CHECK(r.gate[static_cast<std::size_t>(2 * t)] == p[first]);
  }
  // Rows are expert-major and, within an expert, in token order.
  for (std::int64_t row = 1; row < r.rows(); ++row) {
    const auto a = r.row_assignment[static_cast<std::size_t>(row - 1)],
               b = r.row_assignment[static_cast<std::size_t>(row)];
    const auto ea = r.expert[static_cast<std::size_t>(a)], eb = r.expert[static_cast<std::size_t>(b)];
    CHECK((ea < eb || (ea == eb && a / 2 < b / 2)));
  }
}

TEST_CASE("token choice with capacity drops the assignments past capacity, in token order") {
  // Top-1, 8 tokens, 4 experts: 6 tokens favour expert 0, 2 favour expert 1; capacity 4.
  // Expert 0 keeps tokens 0, 1, 2, 4 and drops tokens 5 and 7 (its 5th and 6th in token order).
  const std::vector<std::int64_t> favourite{0, 0, 0, 1, 0, 0, 1, 0};
  const ref::TokenChoiceShape s{8, 4, 1, 4, false};
  const auto r = ref::tc_route(s, ref::softmax_rows(favourite_logits(favourite, 4), 8, 4));
  CHECK(r.counts == std::vector<std::int64_t>{6, 2, 0, 0});
  CHECK(r.dropped() == 2);
  CHECK(r.expert_offsets == std::vector<std::int64_t>{0, 4, 6, 6, 6});
  CHECK(r.row == std::vector<std::int64_t>{0, 1, 2, 4, 3, -1, 5, -1});
  // A dropped token's output is 0: the residual connection carries it.
  const std::int64_t d = 2;
  const auto x = test::random_values(8 * d, 2);
  const auto y = ref::tc_unpermute(r, ref::tc_permute(r, x, d), d);
  CHECK(y[5 * d] == 0.0);
  CHECK(y[7 * d + 1] == 0.0);
  CHECK(y[4 * d] == doctest::Approx(r.gate[4] * x[4 * d]).epsilon(1e-15));
}

TEST_CASE("token choice top-2 with capacity: second picks compete in token order too") {
  // Favourites 0,0,0,3: picks (0,1),(0,1),(0,1),(3,0). Capacity 2: expert 0 keeps tokens 0 and 1,
  // drops token 2's first pick and token 3's second; expert 1 keeps tokens 0 and 1, drops token 2's.
  const ref::TokenChoiceShape s{4, 4, 2, 2, false};
  const auto r = ref::tc_route(s, ref::softmax_rows(favourite_logits({0, 0, 0, 3}, 4), 4, 4));
  CHECK(r.counts == std::vector<std::int64_t>{4, 3, 0, 1});
  CHECK(r.dropped() == 3);
  CHECK(r.row == std::vector<std::int64_t>{0, 2, 1, 3, -1, -1, 4, -1});
}

TEST_CASE("token choice: normalized gates of a token sum to 1") {
  const ref::TokenChoiceShape s{16, 6, 3, -1, true};
  const auto r = ref::tc_route(s, ref::softmax_rows(test::random_values(16 * 6, 3, -2, 2), 16, 6));
  for (std::int64_t t = 0; t < 16; ++t) {
    const auto g = r.gate.begin() + 3 * t;
    CHECK(g[0] + g[1] + g[2] == doctest::Approx(1.0).epsilon(1e-14));
  }
}

TEST_CASE("token choice: unpermute(permute(x)) with identity experts scales x by the kept gates") {
  const ref::TokenChoiceShape s{10, 5, 2, 3, false};
  const std::int64_t d = 4;
  const auto r = ref::tc_route(s, ref::softmax_rows(test::random_values(10 * 5, 4, -2, 2), 10, 5));
  const auto x = test::random_values(10 * d, 5);
  const auto y = ref::tc_unpermute(r, ref::tc_permute(r, x, d), d);
  for (std::int64_t t = 0; t < 10; ++t) {
    double kept = 0;
    for (std::int64_t j = 0; j < 2; ++j) {
      if (r.row[static_cast<std::size_t>(2 * t + j)] >= 0) kept += r.gate[static_cast<std::size_t>(2 * t + j)];
    }
    for (std::int64_t c = 0; c < d; ++c)
      CHECK(y[static_cast<std::size_t>(t * d + c)] ==
            doctest::Approx(kept * x[static_cast<std::size_t>(t * d + c)]).epsilon(1e-14));
  }
}

TEST_CASE("token choice backward matches finite differences (fp64, |fd - grad| <= 1e-7 + 1e-6 |grad|)") {
  SUBCASE("top-2 dropless") { check_gradients({10, 4, 2, -1, false}, 10); }
  SUBCASE("top-2 with capacity, dropping") { check_gradients({12, 4, 2, 4, false}, 20); }
  SUBCASE("top-2 normalized gates, dropping") { check_gradients({12, 4, 2, 5, true}, 30); }
  SUBCASE("top-1") { check_gradients({8, 3, 1, 3, false}, 40); }
}

TEST_CASE("token choice rejects shapes that break its preconditions") {
  const std::vector<double> probs(8 * 4, 0.25);
  CHECK_THROWS_AS(ref::tc_route({8, 4, 5, -1, false}, probs), PreconditionError);  // k > E
  CHECK_THROWS_AS(ref::tc_route({8, 4, 0, -1, false}, probs), PreconditionError);  // k = 0
  CHECK_THROWS_AS(ref::tc_route({8, 4, 2, 0, false}, probs), PreconditionError);   // capacity 0
  CHECK_THROWS_AS(ref::tc_route({9, 4, 2, -1, false}, probs), PreconditionError);  // probs is not [T, E]
}
