// The expert-choice routing kernels (kernels/router_softmax.cu, ec_route.cu, ec_permute.cu: softmax,
// top-C per (group, expert) by a shared-memory bitonic sort and block scan, gather, deterministic
// combine, and the backward of each) run on the CPU under an emulation of the CUDA execution model
// (README.md) and compared with the CPU references by the GPU test's rules
// (tests/kernels/expert_choice_check.hpp, routing_check.hpp). An emulation, not a GPU test: it
// checks the kernels' logic (indexing, the sort's and the scan's barriers, ties, every shared-memory
// access against races, bounds and unwritten reads), not the hardware's arithmetic or speed.
// Run: ctest -R emulat, or build/bin/ecsim_emulation_tests (ECSIM_TEST_SEED=N repeats a draw).
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "ec_permute.cuh"
#include "ec_route.cuh"
#include "emulation/host_buffers.hpp"
#include "expert_choice_check.hpp"
#include "gpu_check.hpp"
#include "routing_check.hpp"
#include "router_softmax.cuh"

using namespace ecsim;
using emulation_test::poisoned;

namespace {

// The launchers, compiled for the emulation, on host arrays; every output poisoned before the run.
test::ExpertChoiceKernels emulated_kernels() {
  return {[](const ExpertChoiceDims& d, const std::vector<float>& logits) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto slots = static_cast<std::size_t>(d.slots());
            test::ExpertChoiceRouting r{poisoned<float>(te), poisoned<int>(slots), poisoned<float>(slots),
                                        poisoned<int>(te)};
            ec_route(logits.data(), r.probs.data(), r.token.data(), r.gate.data(), r.slot_of.data(), d, nullptr);
            return r;
          },
          [](const ExpertChoiceDims& d, std::int64_t hidden, const test::ExpertChoiceRouting& r,
             const test::ExpertChoiceRowInputs& in) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto slots = static_cast<std::size_t>(d.slots());
            const auto rows = static_cast<std::size_t>(d.tokens * hidden);
            const auto slot_rows = slots * static_cast<std::size_t>(hidden);
            test::ExpertChoiceRowOutputs out{poisoned<__nv_bfloat16>(slot_rows), poisoned<__nv_bfloat16>(rows),
                                             poisoned<__nv_bfloat16>(rows),      poisoned<__nv_bfloat16>(slot_rows),
                                             poisoned<float>(slots),             poisoned<float>(te),
                                             poisoned<float>(te)};
            ec_gather(in.x.data(), r.token.data(), out.xe.data(), d, hidden, nullptr);
            ec_combine(in.ye.data(), r.slot_of.data(), r.gate.data(), out.y.data(), d, hidden, nullptr);
            ec_gather_bwd(in.dxe.data(), r.slot_of.data(), out.dx.data(), d, hidden, nullptr);
            ec_combine_bwd(in.ye.data(), in.dy.data(), r.token.data(), r.gate.data(), out.dye.data(),
                           out.dgate.data(), d, hidden, nullptr);
            ec_gate_bwd(out.dgate.data(), r.slot_of.data(), out.dprobs.data(), d, nullptr);
            router_softmax_bwd(r.probs.data(), out.dprobs.data(), out.dlogits.data(), d.tokens, d.experts, nullptr);
            return out;
          }};
}

test::RouterSoftmaxOutputs run_router_softmax(std::int64_t tokens, std::int64_t experts,
                                              const std::vector<float>& logits, const std::vector<float>& dprobs) {
  test::RouterSoftmaxOutputs out{poisoned<float>(logits.size()), poisoned<float>(logits.size())};
  router_softmax_fwd(logits.data(), out.probs.data(), tokens, experts, nullptr);
  router_softmax_bwd(out.probs.data(), dprobs.data(), out.dlogits.data(), tokens, experts, nullptr);
  return out;
}

// Checks one case and prints each output's worst error over its tolerance.
void check_emulated(const test::ExpertChoiceCase& c, std::uint64_t seed) {
  const std::string ratios = test::check_expert_choice(c, seed, emulated_kernels());
  const ExpertChoiceDims& d = c.dims;
  const std::string ties = c.ties ? " ties" : "";
  MESSAGE("T " << d.tokens << " E " << d.experts << " G " << d.group_tokens << " C " << d.capacity << " d " << c.hidden
               << ties << ": worst error / tolerance " << ratios << " (token, gate, slot_of exact)");
}

}  // namespace

TEST_CASE("emulated router softmax matches the reference: T 4096 E 64, a partial last block, E 70 and E 1") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kRouterSoftmaxShapes); ++i) {
    const test::RouterSoftmaxShape& s = test::kRouterSoftmaxShapes[i];
    const std::string ratios = test::check_router_softmax(s, seed + 100 * i, run_router_softmax);
    MESSAGE("T " << s.tokens << " E " << s.experts << ": worst error / tolerance " << ratios);
  }
}

TEST_CASE("emulated expert choice kernels match the reference: groups of 384, 600 and 1024 tokens") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceGroupCases); ++i)
    check_emulated(test::kExpertChoiceGroupCases[i], seed + 100 * i);
}

TEST_CASE("emulated expert choice kernels match the reference: capacity 1 and capacity = group") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceCapacityCases); ++i)
    check_emulated(test::kExpertChoiceCapacityCases[i], seed + 100 * i);
}

TEST_CASE("emulated expert choice kernels break ties toward the lower token index, as the reference does") {
  check_emulated(test::kExpertChoiceTieCase, test::run_seed());
}
