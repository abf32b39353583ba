// Router softmax and expert-choice routing kernels (kernels/router_softmax.cu, ec_route.cu,
// ec_permute.cu) against the CPU references (kernels/ref/softmax.hpp, expert_choice.hpp);
// skipped without a GPU. Run: ctest -R "expert choice|router softmax" (ECSIM_TEST_SEED=N repeats
// a draw).
//
// The inputs, the shapes at the kernels' edges and the comparison with the reference (the routing
// decision exactly, every output within its stated tolerance): expert_choice_check.hpp and
// routing_check.hpp, which the emulated test (tests/emulation/expert_choice_emulated_test.cpp)
// shares.
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "ec_permute.cuh"
#include "ec_route.cuh"
#include "expert_choice_check.hpp"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "routing_check.hpp"
#include "router_softmax.cuh"

using namespace ecsim;

namespace {

// The launchers on the GPU: inputs uploaded (the routing too, as downloaded), outputs poisoned
// before the run and downloaded after.
test::ExpertChoiceKernels gpu_kernels() {
  return {[](const ExpertChoiceDims& d, const std::vector<float>& logits) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto slots = static_cast<std::size_t>(d.slots());
            test::DeviceBuffer<float> d_logits(logits), d_probs(te), d_gate(slots);
            test::DeviceBuffer<int> d_token(slots), d_slot_of(te);
            ec_route(d_logits.get(), d_probs.get(), d_token.get(), d_gate.get(), d_slot_of.get(), d, nullptr);
            return test::ExpertChoiceRouting{d_probs.download(), d_token.download(), d_gate.download(),
                                             d_slot_of.download()};
          },
          [](const ExpertChoiceDims& d, std::int64_t hidden, const test::ExpertChoiceRouting& r,
             const test::ExpertChoiceRowInputs& in) {
            const auto te = static_cast<std::size_t>(d.tokens * d.experts);
            const auto slots = static_cast<std::size_t>(d.slots());
            const auto rows = static_cast<std::size_t>(d.tokens * hidden);
            const auto slot_rows = slots * static_cast<std::size_t>(hidden);
            test::DeviceBuffer<float> d_probs(r.probs), d_gate(r.gate);
            test::DeviceBuffer<int> d_token(r.token), d_slot_of(r.slot_of);
            test::DeviceBuffer<__nv_bfloat16> d_x(in.x), d_xe(slot_rows), d_ye(in.ye), d_y(rows);
            test::DeviceBuffer<__nv_bfloat16> d_dy(in.dy), d_dye(slot_rows), d_dxe(in.dxe), d_dx(rows);
            test::DeviceBuffer<float> d_dgate(slots), d_dprobs(te), d_dlogits(te);
            ec_gather(d_x.get(), d_token.get(), d_xe.get(), d, hidden, nullptr);
            ec_combine(d_ye.get(), d_slot_of.get(), d_gate.get(), d_y.get(), d, hidden, nullptr);
            ec_gather_bwd(d_dxe.get(), d_slot_of.get(), d_dx.get(), d, hidden, nullptr);
            ec_combine_bwd(d_ye.get(), d_dy.get(), d_token.get(), d_gate.get(), d_dye.get(), d_dgate.get(), d, hidden,
                           nullptr);
            ec_gate_bwd(d_dgate.get(), d_slot_of.get(), d_dprobs.get(), d, nullptr);
            router_softmax_bwd(d_probs.get(), d_dprobs.get(), d_dlogits.get(), d.tokens, d.experts, nullptr);
            return test::ExpertChoiceRowOutputs{d_xe.download(),    d_y.download(),      d_dx.download(),
                                                d_dye.download(),   d_dgate.download(),  d_dprobs.download(),
                                                d_dlogits.download()};
          }};
}

test::RouterSoftmaxOutputs gpu_router_softmax(std::int64_t tokens, std::int64_t experts,
                                              const std::vector<float>& logits, const std::vector<float>& dprobs) {
  test::DeviceBuffer<float> d_logits(logits), d_probs(logits.size()), d_dprobs(dprobs), d_dlogits(logits.size());
  router_softmax_fwd(d_logits.get(), d_probs.get(), tokens, experts, nullptr);
  router_softmax_bwd(d_probs.get(), d_dprobs.get(), d_dlogits.get(), tokens, experts, nullptr);
  return {d_probs.download(), d_dlogits.download()};
}

void check_expert_choice(const test::ExpertChoiceCase& c, std::uint64_t seed) {
  test::check_expert_choice(c, seed, gpu_kernels());
}

}  // namespace

TEST_CASE("expert choice kernels match the reference (EC-DiT training: G 1024, 64 experts, C 32)" *
          doctest::skip(!test::gpu_available())) {
  check_expert_choice({{2048, 64, 1024, 32}, 256, test::Logits::kSpread}, test::run_seed());
}

TEST_CASE("expert choice kernels match the reference (groups of 384, 600, 1024, 2000 and 4096 tokens)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceGroupCases); ++i)
    check_expert_choice(test::kExpertChoiceGroupCases[i], seed + 100 * i);
}

TEST_CASE("expert choice kernels match the reference (capacity 1 and capacity = group)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceCapacityCases); ++i)
    check_expert_choice(test::kExpertChoiceCapacityCases[i], seed + 100 * i);
}

TEST_CASE("expert choice kernels match the reference (rows of d 300 in 2-byte elements, d 2056 in 16-byte vectors)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceRowWidthCases); ++i)
    check_expert_choice(test::kExpertChoiceRowWidthCases[i], seed + 100 * i);
}

TEST_CASE("expert choice kernels break ties toward the lower token index, as the reference does" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceTieCases); ++i)
    check_expert_choice(test::kExpertChoiceTieCases[i], seed + 100 * i);
}

TEST_CASE("router softmax kernels match the reference (T 4096 E 64, a partial last block, E 70 and E 1)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kRouterSoftmaxShapes); ++i)
    test::check_router_softmax(test::kRouterSoftmaxShapes[i], seed + 100 * i, gpu_router_softmax);
}

TEST_CASE("expert choice launchers reject dimensions that cannot be routed") {
  // Preconditions are checked on the host, so this runs without a GPU.
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {1000, 8, 384, 96}, nullptr),
                  PreconditionError);  // G !| T
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {8192, 8, 8192, 96}, nullptr),
                  PreconditionError);  // G > 4096
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {1024, 8, 512, 513}, nullptr),
                  PreconditionError);  // C > G
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {1024, 8, 512, 64}, nullptr),
                  PreconditionError);  // null buffers
}
