// The token-choice routing kernels (kernels/tc_route.cu, tc_permute.cu: top-k, per-expert capacity
// by a block scan, offsets, rows, permute and unpermute in ragged and padded modes, and the backward
// of each) run on the CPU under an emulation of the CUDA execution model (README.md) and compared
// with the CPU reference by the GPU test's rules (tests/kernels/token_choice_check.hpp). An
// emulation, not a GPU test: it checks the kernels' logic (the warp arg-max, the scans' barriers,
// capacity in token order, padding, every shared-memory access against races, bounds and
// unwritten reads), not the hardware's arithmetic or speed.
// Run: ctest -R emulat, or build/bin/ecsim_emulation_tests (ECSIM_TEST_SEED=N repeats a draw).
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "emulation/host_buffers.hpp"
#include "gpu_check.hpp"
#include "router_softmax.cuh"
#include "tc_permute.cuh"
#include "tc_route.cuh"
#include "token_choice_check.hpp"

using namespace ecsim;
using emulation_test::poisoned;

namespace {

// The launchers' view of a routing held in host arrays.
TokenChoiceRouting view(test::TokenChoiceRoutingOutputs& r) {
  return {r.expert.data(), r.gate.data(), r.row.data(), r.counts.data(), r.offsets.data(), r.row_assignment.data()};
}

// The launchers, compiled for the emulation, on host arrays; every output poisoned before the run.
test::TokenChoiceKernels emulated_kernels() {
  return {[](const TokenChoiceDims& d, const std::vector<float>& logits) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto picks = static_cast<std::size_t>(d.assignments());
            const auto experts = static_cast<std::size_t>(d.experts);
            test::TokenChoiceRoutingOutputs r{poisoned<float>(te),          poisoned<int>(picks),
                                              poisoned<float>(picks),       poisoned<int>(picks),
                                              poisoned<int>(experts),       poisoned<int>(experts + 1),
                                              poisoned<int>(static_cast<std::size_t>(d.max_rows()))};
            tc_route(logits.data(), r.probs.data(), view(r), d, nullptr);
            return r;
          },
          [](const TokenChoiceDims& d, std::int64_t hidden, test::TokenChoiceRoutingOutputs routing,
             const test::TokenChoiceRowInputs& in) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto picks = static_cast<std::size_t>(d.assignments());
            const auto n_rows = static_cast<std::size_t>(d.max_rows() * hidden);
            const auto n_x = static_cast<std::size_t>(d.tokens * hidden);
            test::TokenChoiceRowOutputs out{poisoned<__nv_bfloat16>(n_rows), poisoned<__nv_bfloat16>(n_x),
                                            poisoned<__nv_bfloat16>(n_x),    poisoned<__nv_bfloat16>(n_rows),
                                            poisoned<float>(picks),          poisoned<float>(te),
                                            poisoned<float>(te)};
            const TokenChoiceRouting r = view(routing);  // a copy: TokenChoiceRouting's buffers are writable
            tc_permute(in.x.data(), r, out.xp.data(), d, hidden, nullptr);
            tc_unpermute(in.yp.data(), r, out.y.data(), d, hidden, nullptr);
            tc_permute_bwd(in.dxp.data(), r, out.dx.data(), d, hidden, nullptr);
            tc_unpermute_bwd(in.yp.data(), in.dy.data(), r, out.dyp.data(), out.dgate.data(), d, hidden, nullptr);
            tc_gate_bwd(routing.probs.data(), out.dgate.data(), r, out.dprobs.data(), d, nullptr);
            router_softmax_bwd(routing.probs.data(), out.dprobs.data(), out.dlogits.data(), d.tokens, d.experts,
                               nullptr);
            return out;
          }};
}

// Checks one case and prints each output's worst error over its tolerance.
void check_emulated(const test::TokenChoiceCase& c, std::uint64_t seed) {
  const std::string ratios = test::check_token_choice(c, seed, emulated_kernels());
  const TokenChoiceDims& d = c.dims;
  const std::string modes = std::string(d.padded ? " padded" : "") + (d.normalize_gates ? " normalized" : "") +
                            (c.ties ? " ties" : "");
  MESSAGE("T " << d.tokens << " E " << d.experts << " k " << d.top_k << " C " << d.capacity << " d " << c.hidden
               << modes << ": worst error / tolerance " << ratios << " (experts, counts, offsets, rows exact)");
}

}  // namespace

TEST_CASE("emulated token choice kernels match the reference: padded to E C rows, top-2 and top-8 of 64") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kTokenChoicePaddedCases); ++i)
    check_emulated(test::kTokenChoicePaddedCases[i], seed + 100 * i);
}

TEST_CASE("emulated token choice kernels match the reference: packed rows, dropless and capacity 1") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kTokenChoicePackedCases); ++i)
    check_emulated(test::kTokenChoicePackedCases[i], seed + 100 * i);
}

TEST_CASE("emulated token choice kernels match the reference: rows of d 300 in 2-byte elements, d 2056 in vectors") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kTokenChoiceRowWidthCases); ++i)
    check_emulated(test::kTokenChoiceRowWidthCases[i], seed + 100 * i);
}

TEST_CASE("emulated token choice kernels break ties toward the lower expert, as the reference does") {
  check_emulated(test::kTokenChoiceTieCase, test::run_seed());
}
