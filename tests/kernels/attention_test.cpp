// Attention (kernels/ref/attention.hpp): closed forms, a direct scalar implementation of the
// formula on a random case, and dQ, dK, dV against finite differences.
#include "ref/attention.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "gradient_check.hpp"
#include "precondition.hpp"

using namespace ecsim;

namespace {

std::size_t q_index(const ref::AttentionShape& s, std::int64_t b, std::int64_t i, std::int64_t h, std::int64_t c) {
  return static_cast<std::size_t>(((b * s.q_len + i) * s.heads + h) * s.head_dim + c);
}
std::size_t kv_index(const ref::AttentionShape& s, std::int64_t b, std::int64_t j, std::int64_t h, std::int64_t c) {
  return static_cast<std::size_t>(((b * s.kv_len + j) * s.kv_heads + h) * s.head_dim + c);
}

// out[b, i, h, :] = sum_j softmax_j(q.k_j / sqrt(D)) v_j, written as plainly as possible.
std::vector<double> direct_attention(const ref::AttentionShape& s, const std::vector<double>& q,
                                     const std::vector<double>& k, const std::vector<double>& v) {
  std::vector<double> out(static_cast<std::size_t>(s.q_elements()), 0.0);
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::int64_t kvh = h * s.kv_heads / s.heads;
      for (std::int64_t i = 0; i < s.q_len; ++i) {
        std::vector<double> e(static_cast<std::size_t>(s.kv_len), 0.0);
        double total = 0;
        for (std::int64_t j = 0; j < s.kv_len; ++j) {
          if (s.causal && j > i + s.kv_len - s.q_len) continue;
          double dot = 0;
          for (std::int64_t c = 0; c < s.head_dim; ++c) dot += q[q_index(s, b, i, h, c)] * k[kv_index(s, b, j, kvh, c)];
          e[static_cast<std::size_t>(j)] = std::exp(dot / std::sqrt(static_cast<double>(s.head_dim)));
          total += e[static_cast<std::size_t>(j)];
        }
        for (std::int64_t j = 0; j < s.kv_len; ++j) {
          for (std::int64_t c = 0; c < s.head_dim; ++c) {
            out[q_index(s, b, i, h, c)] += e[static_cast<std::size_t>(j)] / total * v[kv_index(s, b, j, kvh, c)];
          }
        }
      }
    }
  }
  return out;
}

void check_gradients(const ref::AttentionShape& s, std::uint64_t seed) {
  CAPTURE(s.batch);
  CAPTURE(s.heads);
  CAPTURE(s.kv_heads);
  CAPTURE(s.q_len);
  CAPTURE(s.kv_len);
  CAPTURE(s.head_dim);
  CAPTURE(s.causal);
  const auto q = test::random_values(static_cast<std::size_t>(s.q_elements()), seed);
  const auto k = test::random_values(static_cast<std::size_t>(s.kv_elements()), seed + 1);
  const auto v = test::random_values(static_cast<std::size_t>(s.kv_elements()), seed + 2);
  const auto w = test::random_values(static_cast<std::size_t>(s.q_elements()), seed + 3);
  const auto f = ref::attention_fwd(s, q, k, v);
  const auto g = ref::attention_bwd(s, q, k, v, f.out, f.lse, w);
  test::check_gradient(
      "dq", [&](const std::vector<double>& x) { return test::weighted_sum(w, ref::attention_fwd(s, x, k, v).out); }, q,
      g.dq);
  test::check_gradient(
      "dk", [&](const std::vector<double>& x) { return test::weighted_sum(w, ref::attention_fwd(s, q, x, v).out); }, k,
      g.dk);
  test::check_gradient(
      "dv", [&](const std::vector<double>& x) { return test::weighted_sum(w, ref::attention_fwd(s, q, k, x).out); }, v,
      g.dv);
}

}  // namespace

TEST_CASE("attention with one key returns its value, and lse is the one scaled score") {
  const ref::AttentionShape s{2, 4, 2, 3, 1, 5, false};
  const auto q = test::random_values(static_cast<std::size_t>(s.q_elements()), 1);
  const auto k = test::random_values(static_cast<std::size_t>(s.kv_elements()), 2);
  const auto v = test::random_values(static_cast<std::size_t>(s.kv_elements()), 3);
  const auto f = ref::attention_fwd(s, q, k, v);
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t i = 0; i < s.q_len; ++i) {
      for (std::int64_t h = 0; h < s.heads; ++h) {
        double dot = 0;
        for (std::int64_t c = 0; c < s.head_dim; ++c) {
          CHECK(f.out[q_index(s, b, i, h, c)] == doctest::Approx(v[kv_index(s, b, 0, h / 2, c)]).epsilon(1e-14));
          dot += q[q_index(s, b, i, h, c)] * k[kv_index(s, b, 0, h / 2, c)];
        }
        CHECK(f.lse[static_cast<std::size_t>((b * s.heads + h) * s.q_len + i)] ==
              doctest::Approx(dot / std::sqrt(5.0)).epsilon(1e-14));
      }
    }
  }
}

TEST_CASE("attention with zero queries averages the values, lse = ln(kv_len)") {
  const ref::AttentionShape s{1, 2, 1, 4, 6, 3, false};
  const std::vector<double> q(static_cast<std::size_t>(s.q_elements()), 0.0);
  const auto k = test::random_values(static_cast<std::size_t>(s.kv_elements()), 4);
  const auto v = test::random_values(static_cast<std::size_t>(s.kv_elements()), 5);
  const auto f = ref::attention_fwd(s, q, k, v);
  for (std::int64_t c = 0; c < s.head_dim; ++c) {
    double mean = 0;
    for (std::int64_t j = 0; j < s.kv_len; ++j) mean += v[kv_index(s, 0, j, 0, c)] / 6.0;
    for (std::int64_t i = 0; i < s.q_len; ++i) {
      for (std::int64_t h = 0; h < s.heads; ++h)
        CHECK(f.out[q_index(s, 0, i, h, c)] == doctest::Approx(mean).epsilon(1e-13));
    }
  }
  for (double l : f.lse) CHECK(l == doctest::Approx(std::log(6.0)).epsilon(1e-14));
}

TEST_CASE("causal attention: the first query of a square mask sees only the first key") {
  const ref::AttentionShape s{1, 2, 2, 5, 5, 4, true};
  const auto q = test::random_values(static_cast<std::size_t>(s.q_elements()), 6);
  const auto k = test::random_values(static_cast<std::size_t>(s.kv_elements()), 7);
  const auto v = test::random_values(static_cast<std::size_t>(s.kv_elements()), 8);
  const auto f = ref::attention_fwd(s, q, k, v);
  for (std::int64_t h = 0; h < s.heads; ++h) {
    for (std::int64_t c = 0; c < s.head_dim; ++c) {
      CHECK(f.out[q_index(s, 0, 0, h, c)] == doctest::Approx(v[kv_index(s, 0, 0, h, c)]).epsilon(1e-14));
    }
  }
}

TEST_CASE("grouped-query attention equals multi-head attention with K and V repeated per group") {
  const ref::AttentionShape gqa{2, 6, 2, 4, 5, 3, false};
  ref::AttentionShape mha = gqa;
  mha.kv_heads = gqa.heads;
  const auto q = test::random_values(static_cast<std::size_t>(gqa.q_elements()), 9);
  const auto k = test::random_values(static_cast<std::size_t>(gqa.kv_elements()), 10);
  const auto v = test::random_values(static_cast<std::size_t>(gqa.kv_elements()), 11);
  std::vector<double> k_rep(static_cast<std::size_t>(mha.kv_elements())), v_rep(k_rep.size());
  for (std::int64_t b = 0; b < 2; ++b) {
    for (std::int64_t j = 0; j < 5; ++j) {
      for (std::int64_t h = 0; h < 6; ++h) {
        for (std::int64_t c = 0; c < 3; ++c) {
          k_rep[kv_index(mha, b, j, h, c)] = k[kv_index(gqa, b, j, h / 3, c)];
          v_rep[kv_index(mha, b, j, h, c)] = v[kv_index(gqa, b, j, h / 3, c)];
        }
      }
    }
  }
  const auto a = ref::attention_fwd(gqa, q, k, v);
  const auto m = ref::attention_fwd(mha, q, k_rep, v_rep);
  for (std::size_t i = 0; i < a.out.size(); ++i) CHECK(a.out[i] == doctest::Approx(m.out[i]).epsilon(1e-13));
}

TEST_CASE("attention matches a direct scalar implementation (self, cross, causal, within 1e-12 relative)") {
  for (const ref::AttentionShape& s :
       {ref::AttentionShape{2, 4, 2, 6, 6, 8, false}, ref::AttentionShape{1, 6, 3, 5, 3, 4, false},
        ref::AttentionShape{2, 2, 1, 4, 7, 5, true}}) {
    const auto q = test::random_values(static_cast<std::size_t>(s.q_elements()), 20, -2, 2);
    const auto k = test::random_values(static_cast<std::size_t>(s.kv_elements()), 21, -2, 2);
    const auto v = test::random_values(static_cast<std::size_t>(s.kv_elements()), 22);
    const auto f = ref::attention_fwd(s, q, k, v);
    const auto direct = direct_attention(s, q, k, v);
    for (std::size_t i = 0; i < direct.size(); ++i) CHECK(f.out[i] == doctest::Approx(direct[i]).epsilon(1e-12));
  }
}

TEST_CASE("attention backward matches finite differences (fp64, |fd - grad| <= 1e-7 + 1e-6 |grad|)") {
  SUBCASE("self, grouped-query") { check_gradients({2, 4, 2, 5, 5, 4, false}, 30); }
  SUBCASE("cross, q_len > kv_len, odd head dim") { check_gradients({1, 3, 1, 6, 4, 3, false}, 40); }
  SUBCASE("causal, kv_len > q_len") { check_gradients({1, 4, 2, 3, 5, 4, true}, 50); }
  SUBCASE("multi-head, one query") { check_gradients({2, 2, 2, 1, 6, 2, false}, 60); }
}

TEST_CASE("attention rejects shapes that break its preconditions") {
  const std::vector<double> buf(1000, 0.0);
  CHECK_THROWS_AS(ref::attention_fwd({1, 6, 4, 2, 2, 2, false}, buf, buf, buf), PreconditionError);  // 4 !| 6
  CHECK_THROWS_AS(ref::attention_fwd({1, 2, 2, 4, 3, 2, true}, buf, buf, buf), PreconditionError);   // causal, kv < q
  const ref::AttentionShape s{1, 2, 2, 2, 2, 2, false};
  CHECK_THROWS_AS(ref::attention_fwd(s, std::vector<double>(7), std::vector<double>(8), std::vector<double>(8)),
                  PreconditionError);
}
