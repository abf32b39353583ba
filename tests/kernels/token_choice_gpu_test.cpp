// Token-choice routing kernels (kernels/tc_route.cu, tc_permute.cu) against the CPU reference
// (kernels/ref/token_choice.hpp); skipped without a GPU.
// The routing decision is compared exactly: the reference routes the kernel's own fp32 affinities
// (exact in fp64), so any difference in picks, counts, offsets or rows is a selection, capacity or
// ordering bug, never rounding. Gates: exact without normalization (a copy of the affinity); with
// it, an fp32 sum of k terms and a division (1e-6 relative).
#include <doctest/doctest.h>

#include <algorithm>

#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ref/softmax.hpp"
#include "ref/token_choice.hpp"
#include "router_softmax.cuh"
#include "tc_permute.cuh"
#include "tc_route.cuh"

using namespace ecsim;

namespace {

template <class T>
std::size_t count_differences(const std::vector<T>& gpu, const std::vector<std::int64_t>& ref, std::size_t n) {
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n; ++i) wrong += static_cast<std::int64_t>(gpu[i]) != ref[i];
  return wrong;
}

// The device routing buffers of one batch, poisoned (test::DeviceBuffer).
struct RoutingBuffers {
  explicit RoutingBuffers(const TokenChoiceDims& d)
      : expert(static_cast<std::size_t>(d.assignments())),
        row(static_cast<std::size_t>(d.assignments())),
        counts(static_cast<std::size_t>(d.experts)),
        offsets(static_cast<std::size_t>(d.experts + 1)),
        row_assignment(static_cast<std::size_t>(d.max_rows())),
        gate(static_cast<std::size_t>(d.assignments())) {}
  TokenChoiceRouting view() const {
    return {expert.get(), gate.get(), row.get(), counts.get(), offsets.get(), row_assignment.get()};
  }
  test::DeviceBuffer<int> expert, row, counts, offsets, row_assignment;
  test::DeviceBuffer<float> gate;
};

// Where the kernels put the reference's packed rows: the same row, or, padded, expert e's row
// e C + (its place among e's kept rows). Rows of the device buffer no reference row maps to are
// padding.
struct RowMap {
  std::vector<std::size_t> device_row;  // [reference rows]
  std::size_t device_rows = 0;          // rows the device uses: offsets[E]
  std::vector<std::int64_t> offsets;    // the device's expected offsets [E + 1]

  RowMap(const TokenChoiceDims& d, const ref::TokenChoiceRouting& rr) {
    const auto rows = static_cast<std::size_t>(rr.rows());
    device_row.resize(rows);
    offsets = rr.expert_offsets;
    for (std::int64_t e = 0; e <= d.experts; ++e) {
      if (d.padded) offsets[static_cast<std::size_t>(e)] = e * d.capacity;
    }
    for (std::size_t e = 0; e < static_cast<std::size_t>(d.experts); ++e) {
      const std::int64_t first = rr.expert_offsets[e], end = rr.expert_offsets[e + 1];
      for (std::int64_t r = first; r < end; ++r) {
        device_row[static_cast<std::size_t>(r)] = static_cast<std::size_t>(offsets[e] + r - first);
      }
    }
    device_rows = static_cast<std::size_t>(offsets.back());
  }
  // Device rows [device_rows, hidden] from reference rows, zeros on padding.
  std::vector<double> to_device(const std::vector<double>& ref_rows, std::size_t hidden) const {
    std::vector<double> out(device_rows * hidden, 0.0);
    for (std::size_t r = 0; r < device_row.size(); ++r) {
      std::copy_n(ref_rows.begin() + static_cast<std::ptrdiff_t>(r * hidden), hidden,
                  out.begin() + static_cast<std::ptrdiff_t>(device_row[r] * hidden));
    }
    return out;
  }
  // Reference rows from a device buffer.
  std::vector<double> to_reference(const std::vector<double>& device, std::size_t hidden) const {
    std::vector<double> out(device_row.size() * hidden);
    for (std::size_t r = 0; r < device_row.size(); ++r) {
      std::copy_n(device.begin() + static_cast<std::ptrdiff_t>(device_row[r] * hidden), hidden,
                  out.begin() + static_cast<std::ptrdiff_t>(r * hidden));
    }
    return out;
  }
};

// Runs tc_route on `logits` [T, E] and checks softmax, selection, capacity, rows, permute,
// unpermute and their backward against the reference.
void check_token_choice(const TokenChoiceDims& d, const std::vector<float>& logits, std::int64_t hidden,
                        std::uint64_t seed) {
  CAPTURE(d.tokens);
  CAPTURE(d.experts);
  CAPTURE(d.top_k);
  CAPTURE(d.capacity);
  CAPTURE(d.normalize_gates);
  CAPTURE(d.padded);
  const auto te = static_cast<std::size_t>(d.tokens * d.experts);
  const auto picks = static_cast<std::size_t>(d.assignments());
  const auto h = static_cast<std::size_t>(hidden);
  test::DeviceBuffer<float> d_logits(logits), d_probs(te);
  RoutingBuffers b(d);
  const TokenChoiceRouting r = b.view();
  tc_route(d_logits.get(), d_probs.get(), r, d, nullptr);

  const auto gpu_probs = test::download_double(d_probs);
  test::check_close("probs", gpu_probs, ref::softmax_rows(test::to_double(logits), d.tokens, d.experts),
                    {1e-7, 1e-5});

  const ref::TokenChoiceShape s{d.tokens, d.experts, d.top_k, d.capacity, d.normalize_gates};
  const auto rr = ref::tc_route(s, gpu_probs);
  const RowMap map(d, rr);
  CAPTURE(map.device_rows);
  const auto offsets = b.offsets.download();
  REQUIRE_MESSAGE(count_differences(offsets, map.offsets, offsets.size()) == 0,
                  "expert offsets differ from the reference's; kernel total " << offsets.back() << ", expected "
                                                                              << map.device_rows);
  CHECK_MESSAGE(count_differences(b.expert.download(), rr.expert, picks) == 0, "picked experts differ");
  CHECK_MESSAGE(count_differences(b.counts.download(), rr.counts, rr.counts.size()) == 0, "expert counts differ");
  std::vector<std::int64_t> row(picks, -1), row_assignment(map.device_rows, -1);
  for (std::size_t a = 0; a < picks; ++a) {
    if (rr.row[a] < 0) continue;
    const std::size_t device_row = map.device_row[static_cast<std::size_t>(rr.row[a])];
    row[a] = static_cast<std::int64_t>(device_row);
    row_assignment[device_row] = static_cast<std::int64_t>(a);
  }
  CHECK_MESSAGE(count_differences(b.row.download(), row, picks) == 0, "rows (or drops) differ");
  CHECK_MESSAGE(count_differences(b.row_assignment.download(), row_assignment, map.device_rows) == 0,
                "row_assignment differs from the inverse of row (-1 on padding)");
  const auto gpu_gate = test::download_double(b.gate);
  test::check_close("gate", gpu_gate, rr.gate, d.normalize_gates ? test::Tolerance{0.0, 1e-6} : test::Tolerance{0, 0});

  // Permute (a copy: exact, zeros on padding), unpermute, and the backward of both.
  const auto n_x = static_cast<std::size_t>(d.tokens) * h;
  const auto n_rows = static_cast<std::size_t>(d.max_rows()) * h;
  const auto used = map.device_rows * h;
  const auto x = test::rounded(n_x, seed), dy = test::rounded(n_x, seed + 2);
  const auto yp = test::rounded(n_rows, seed + 1), dxp = test::rounded(n_rows, seed + 3);
  test::DeviceBuffer<__nv_bfloat16> d_x(test::to_bf16(x)), d_xp(n_rows), d_yp(test::to_bf16(yp)), d_y(n_x);
  test::DeviceBuffer<__nv_bfloat16> d_dy(test::to_bf16(dy)), d_dyp(n_rows), d_dxp(test::to_bf16(dxp)), d_dx(n_x);
  test::DeviceBuffer<float> d_dgate(picks), d_dprobs(te), d_dlogits(te);
  tc_permute(d_x.get(), r, d_xp.get(), d, hidden, nullptr);
  tc_unpermute(d_yp.get(), r, d_y.get(), d, hidden, nullptr);
  tc_permute_bwd(d_dxp.get(), r, d_dx.get(), d, hidden, nullptr);
  tc_unpermute_bwd(d_yp.get(), d_dy.get(), r, d_dyp.get(), d_dgate.get(), d, hidden, nullptr);
  tc_gate_bwd(d_probs.get(), d_dgate.get(), r, d_dprobs.get(), d, nullptr);
  router_softmax_bwd(d_probs.get(), d_dprobs.get(), d_dlogits.get(), d.tokens, d.experts, nullptr);

  auto used_rows = [&](std::vector<double> v) {
    v.resize(used);
    return v;
  };
  const auto ref_yp = map.to_reference(yp, h), ref_dxp = map.to_reference(dxp, h);
  const auto xp = map.to_device(ref::tc_permute(rr, x, hidden), h);
  test::check_close("xp", used_rows(test::download_double(d_xp)), xp, {0.0, 0.0});
  const auto y = ref::tc_unpermute(rr, ref_yp, hidden);
  test::check_close("y", test::download_double(d_y), y, test::bf16_tolerance(y));
  const auto dx = ref::tc_permute_bwd(rr, ref_dxp, hidden);
  test::check_close("dx", test::download_double(d_dx), dx, test::bf16_tolerance(dx));
  const auto g = ref::tc_unpermute_bwd(rr, ref_yp, dy, hidden);
  const auto dyp = map.to_device(g.dyp, h);
  test::check_close("dyp", used_rows(test::download_double(d_dyp)), dyp, test::bf16_tolerance(dyp));
  const auto gpu_dgate = test::download_double(d_dgate);
  test::check_close("dgate", gpu_dgate, g.dgate, test::fp32_sum_tolerance(g.dgate));
  // The affinity gradient from the kernel's own dgate: a scatter (exact) without normalization,
  // k-term fp32 sums with it; then the softmax backward, an fp32 sum over E terms.
  const auto dprobs = ref::tc_gate_bwd(rr, gpu_probs, gpu_dgate);
  test::check_close("dprobs", test::download_double(d_dprobs), dprobs,
                    d.normalize_gates ? test::fp32_sum_tolerance(dprobs) : test::Tolerance{0, 0});
  const auto dlogits = ref::softmax_rows_bwd(gpu_probs, test::download_double(d_dprobs), d.tokens, d.experts);
  test::check_close("dlogits", test::download_double(d_dlogits), dlogits, test::fp32_sum_tolerance(dlogits));
}

std::vector<float> random_logits(const TokenChoiceDims& d, std::uint64_t seed) {
  return test::to_float(test::random_values(static_cast<std::size_t>(d.tokens * d.experts), seed, -4, 4));
}

}  // namespace

TEST_CASE("token choice kernels match the reference (XXL-32E baseline: top-2, capacity factor 1.25)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::int64_t t = 4096, e = 32, k = 2;
  const TokenChoiceDims d{t, e, k, t * k * 5 / 4 / e, false};
  check_token_choice(d, random_logits(d, seed), 256, seed + 1);
}

TEST_CASE("token choice kernels match the reference (capacity buffers padded to E C rows, as the simulator prices)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::int64_t t = 2000, e = 24, k = 2;
  const TokenChoiceDims d{t, e, k, t * k / e, false, true};  // capacity factor 1.0: some drop, some pad
  check_token_choice(d, random_logits(d, seed), 136, seed + 1);
}

TEST_CASE("token choice kernels match the reference (dropless, normalized gates, E and T not powers of two)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const TokenChoiceDims d{777, 13, 3, -1, true};
  check_token_choice(d, random_logits(d, seed), 200, seed + 1);
}

TEST_CASE("token choice kernels match the reference (top-1, capacity 1: almost every pick dropped)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const TokenChoiceDims d{1000, 7, 1, 1, false};
  check_token_choice(d, random_logits(d, seed), 72, seed + 1);
}

TEST_CASE("token choice kernels break ties toward the lower expert, as the reference does" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  // Logits drawn from {0, 1}: many exactly equal affinities per token; top-8 of 40 experts (more
  // than a warp's lanes) and a capacity that drops.
  const TokenChoiceDims d{640, 40, 8, 100, true};
  auto logits = random_logits(d, seed);
  for (float& l : logits) l = l < 0 ? 0.0f : 1.0f;
  check_token_choice(d, logits, 64, seed + 1);
}

TEST_CASE("token choice kernels match the reference (top-8 of 64, padded, capacity above T k: offsets stay e C)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const TokenChoiceDims d{45, 64, 8, 400, false, true};  // T k = 360 < C: nothing drops, most rows pad
  check_token_choice(d, random_logits(d, seed), 40, seed + 1);
}

TEST_CASE("token choice launchers reject dimensions that cannot be routed") {
  // Preconditions are checked on the host, so this runs without a GPU.
  const TokenChoiceRouting none{};
  CHECK_THROWS_AS(tc_select(nullptr, none, {1024, 8, 9, -1, false}, nullptr), PreconditionError);    // k > E
  CHECK_THROWS_AS(tc_select(nullptr, none, {1024, 64, 9, -1, false}, nullptr), PreconditionError);   // k > 8
  CHECK_THROWS_AS(tc_select(nullptr, none, {1024, 8, 2, 0, false}, nullptr), PreconditionError);     // capacity 0
  CHECK_THROWS_AS(tc_select(nullptr, none, {1024, 2048, 2, -1, false}, nullptr), PreconditionError); // E > 1024
  CHECK_THROWS_AS(tc_select(nullptr, none, {1024, 8, 2, -1, false}, nullptr), PreconditionError);    // null buffers
  CHECK_THROWS_AS(tc_permute(nullptr, none, nullptr, {1024, 8, 2, -1, false}, 0, nullptr), PreconditionError);
  CHECK_THROWS_AS(tc_select(nullptr, none, {1024, 8, 2, -1, false, true}, nullptr),
                  PreconditionError);  // padded needs a capacity
}

TEST_CASE("token choice buffer sizes: dropless holds every pick, a capacity at most E C rows") {
  CHECK(TokenChoiceDims{1000, 8, 2, -1, false}.max_rows() == 2000);
  CHECK(TokenChoiceDims{1000, 8, 2, 100, false}.max_rows() == 800);
  CHECK(TokenChoiceDims{1000, 8, 2, 1000, false}.max_rows() == 2000);
  CHECK(TokenChoiceDims{1000, 8, 2, 1000, false, true}.max_rows() == 8000);  // padded: E C
}
