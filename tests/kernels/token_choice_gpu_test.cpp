// Token-choice routing kernels (kernels/tc_route.cu, tc_permute.cu) against the CPU reference
// (kernels/ref/token_choice.hpp); skipped without a GPU. Run: ctest -R "token choice"
// (ECSIM_TEST_SEED=N repeats a draw).
//
// The inputs, the shapes at the kernels' edges and the comparison with the reference (the routing
// decision exactly, every output within its stated tolerance): token_choice_check.hpp, which the
// emulated test (tests/emulation/token_choice_emulated_test.cpp) shares.
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "gpu_check.hpp"
#include "precondition.hpp"
#include "router_softmax.cuh"
#include "tc_permute.cuh"
#include "tc_route.cuh"
#include "token_choice_check.hpp"

using namespace ecsim;

namespace {

// The device routing buffers of one batch: poisoned (test::DeviceBuffer), or uploaded.
struct RoutingBuffers {
  explicit RoutingBuffers(const TokenChoiceDims& d)
      : expert(static_cast<std::size_t>(d.assignments())),
        row(static_cast<std::size_t>(d.assignments())),
        counts(static_cast<std::size_t>(d.experts)),
        offsets(static_cast<std::size_t>(d.experts + 1)),
        row_assignment(static_cast<std::size_t>(d.max_rows())),
        gate(static_cast<std::size_t>(d.assignments())) {}
  explicit RoutingBuffers(const test::TokenChoiceRoutingOutputs& r)
      : expert(r.expert), row(r.row), counts(r.counts), offsets(r.offsets), row_assignment(r.row_assignment),
        gate(r.gate) {}
  TokenChoiceRouting view() const {
    return {expert.get(), gate.get(), row.get(), counts.get(), offsets.get(), row_assignment.get()};
  }
  test::DeviceBuffer<int> expert, row, counts, offsets, row_assignment;
  test::DeviceBuffer<float> gate;
};

// The launchers on the GPU: inputs uploaded (the routing too, as downloaded), outputs poisoned
// before the run and downloaded after.
test::TokenChoiceKernels gpu_kernels() {
  return {[](const TokenChoiceDims& d, const std::vector<float>& logits) {
            test::DeviceBuffer<float> d_logits(logits), d_probs(logits.size());
            const RoutingBuffers b(d);
            tc_route(d_logits.get(), d_probs.get(), b.view(), d, nullptr);
            return test::TokenChoiceRoutingOutputs{d_probs.download(),  b.expert.download(),  b.gate.download(),
                                                   b.row.download(),    b.counts.download(), b.offsets.download(),
                                                   b.row_assignment.download()};
          },
          [](const TokenChoiceDims& d, std::int64_t hidden, const test::TokenChoiceRoutingOutputs& routing,
             const test::TokenChoiceRowInputs& in) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto picks = static_cast<std::size_t>(d.assignments());
            const auto n_x = static_cast<std::size_t>(d.tokens * hidden);
            const auto n_rows = static_cast<std::size_t>(d.max_rows() * hidden);
            test::DeviceBuffer<float> d_probs(routing.probs);
            const RoutingBuffers b(routing);
            const TokenChoiceRouting r = b.view();
            test::DeviceBuffer<__nv_bfloat16> d_x(in.x), d_xp(n_rows), d_yp(in.yp), d_y(n_x);
            test::DeviceBuffer<__nv_bfloat16> d_dy(in.dy), d_dyp(n_rows), d_dxp(in.dxp), d_dx(n_x);
            test::DeviceBuffer<float> d_dgate(picks), d_dprobs(te), d_dlogits(te);
            tc_permute(d_x.get(), r, d_xp.get(), d, hidden, nullptr);
            tc_unpermute(d_yp.get(), r, d_y.get(), d, hidden, nullptr);
            tc_permute_bwd(d_dxp.get(), r, d_dx.get(), d, hidden, nullptr);
            tc_unpermute_bwd(d_yp.get(), d_dy.get(), r, d_dyp.get(), d_dgate.get(), d, hidden, nullptr);
            tc_gate_bwd(d_probs.get(), d_dgate.get(), r, d_dprobs.get(), d, nullptr);
            router_softmax_bwd(d_probs.get(), d_dprobs.get(), d_dlogits.get(), d.tokens, d.experts, nullptr);
            return test::TokenChoiceRowOutputs{d_xp.download(),    d_y.download(),      d_dx.download(),
                                               d_dyp.download(),   d_dgate.download(),  d_dprobs.download(),
                                               d_dlogits.download()};
          }};
}

void check_token_choice(const test::TokenChoiceCase& c, std::uint64_t seed) {
  test::check_token_choice(c, seed, gpu_kernels());
}

}  // namespace

TEST_CASE("token choice kernels match the reference (XXL-32E baseline: top-2, capacity factor 1.25)" *
          doctest::skip(!test::gpu_available())) {
  const std::int64_t t = 4096, e = 32, k = 2;
  check_token_choice({{t, e, k, t * k * 5 / 4 / e, false}, 256, false}, test::run_seed());
}

TEST_CASE("token choice kernels match the reference (capacity buffers padded to E C rows, as the simulator prices)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kTokenChoicePaddedCases); ++i)
    check_token_choice(test::kTokenChoicePaddedCases[i], seed + 100 * i);
}

TEST_CASE("token choice kernels match the reference (packed rows: dropless with normalized gates, capacity 1)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kTokenChoicePackedCases); ++i)
    check_token_choice(test::kTokenChoicePackedCases[i], seed + 100 * i);
}

TEST_CASE("token choice kernels match the reference (rows of d 300 in 2-byte elements, d 2056 in 16-byte vectors)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kTokenChoiceRowWidthCases); ++i)
    check_token_choice(test::kTokenChoiceRowWidthCases[i], seed + 100 * i);
}

TEST_CASE("token choice kernels break ties toward the lower expert, as the reference does" *
          doctest::skip(!test::gpu_available())) {
  check_token_choice(test::kTokenChoiceTieCase, test::run_seed());
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
