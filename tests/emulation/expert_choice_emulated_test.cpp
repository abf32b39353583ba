// The expert-choice routing kernels (kernels/router_softmax.cu, ec_route.cu, ec_permute.cu: softmax,
// top-C per (group, expert) by a team's bitwise search and votes, gather, deterministic
// combine, and the backward of each) run on the CPU under an emulation of the CUDA execution model
// (README.md) and compared with the CPU references by the GPU test's rules
// (tests/kernels/expert_choice_check.hpp, routing_check.hpp). An emulation, not a GPU test: it
// checks the kernels' logic (indexing, the selection's search and scans, ties, every shared-memory
// access against races, bounds and unwritten reads), not the hardware's arithmetic or speed.
// Run: ctest -R emulat, or build/bin/ecsim_emulation_tests (ECSIM_TEST_SEED=N repeats a draw).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
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
  const std::string ties = c.logits == test::Logits::kTies         ? " ties"
                           : c.logits == test::Logits::kMostlyZero ? " mostly zero"
                                                                   : "";
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

TEST_CASE("emulated expert choice kernels match the reference: groups of 384, 600, 1024, 2000 and 4096 tokens") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceGroupCases); ++i)
    check_emulated(test::kExpertChoiceGroupCases[i], seed + 100 * i);
}

TEST_CASE("emulated expert choice kernels match the reference: capacity 1 and capacity = group") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceCapacityCases); ++i)
    check_emulated(test::kExpertChoiceCapacityCases[i], seed + 100 * i);
}

TEST_CASE("emulated expert choice kernels match the reference: rows of d 300 in 2-byte elements, d 2056 in vectors") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceRowWidthCases); ++i)
    check_emulated(test::kExpertChoiceRowWidthCases[i], seed + 100 * i);
}

// Rows on 16-byte boundaries move as vectors, rows one element off as 2-byte elements
// (kernels/bf16_chunks.cuh); every element is read and summed the same way in both, so the gather,
// the combine and the gather's backward give the same bits.
TEST_CASE("emulated gather and combine give the same bits in 16-byte vectors and in 2-byte elements") {
  const ExpertChoiceDims d{256, 6, 128, 40};
  const std::int64_t hidden = 64;
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const auto slots = static_cast<std::size_t>(d.slots());
  const auto te = static_cast<std::size_t>(d.tokens * d.experts);
  const auto rows = static_cast<std::size_t>(d.tokens * hidden);
  const auto slot_rows = slots * static_cast<std::size_t>(hidden);
  const auto logits = test::to_float(test::random_values(te, seed, -4, 4));
  test::ExpertChoiceRouting r{poisoned<float>(te), poisoned<int>(slots), poisoned<float>(slots), poisoned<int>(te)};
  ec_route(logits.data(), r.probs.data(), r.token.data(), r.gate.data(), r.slot_of.data(), d, nullptr);

  // Each buffer holds one element more than its rows; `offset` 0 starts them on a 16-byte boundary.
  auto filled = [](std::size_t n, std::uint64_t s) { return test::to_bf16(test::random_values(n + 1, s)); };
  const auto x = filled(rows, seed + 1), ye = filled(slot_rows, seed + 2), dxe = filled(slot_rows, seed + 3);
  struct Rows {
    std::vector<__nv_bfloat16> xe, y, dx;
  };
  auto run = [&](std::size_t offset) {
    auto x_at = x, ye_at = ye, dxe_at = dxe;  // copies, shifted so that row 0 starts at `offset`
    std::memmove(x_at.data() + offset, x.data(), rows * sizeof(__nv_bfloat16));
    std::memmove(ye_at.data() + offset, ye.data(), slot_rows * sizeof(__nv_bfloat16));
    std::memmove(dxe_at.data() + offset, dxe.data(), slot_rows * sizeof(__nv_bfloat16));
    Rows out{poisoned<__nv_bfloat16>(slot_rows + 1), poisoned<__nv_bfloat16>(rows + 1),
             poisoned<__nv_bfloat16>(rows + 1)};
    // The allocations themselves are 16-byte aligned (as cudaMalloc's are), so offset 0 takes vectors.
    for (const void* p : {x_at.data(), ye_at.data(), dxe_at.data(), out.xe.data(), out.y.data(), out.dx.data()})
      REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
    ec_gather(x_at.data() + offset, r.token.data(), out.xe.data() + offset, d, hidden, nullptr);
    ec_combine(ye_at.data() + offset, r.slot_of.data(), r.gate.data(), out.y.data() + offset, d, hidden, nullptr);
    ec_gather_bwd(dxe_at.data() + offset, r.slot_of.data(), out.dx.data() + offset, d, hidden, nullptr);
    for (auto* v : {&out.xe, &out.y, &out.dx}) v->erase(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(offset));
    return out;
  };
  const Rows vectors = run(0), elements = run(1);
  auto same_bits = [](const std::vector<__nv_bfloat16>& a, const std::vector<__nv_bfloat16>& b, std::size_t n) {
    return std::memcmp(a.data(), b.data(), n * sizeof(__nv_bfloat16)) == 0;
  };
  CHECK(same_bits(vectors.xe, elements.xe, slot_rows));
  CHECK(same_bits(vectors.y, elements.y, rows));
  CHECK(same_bits(vectors.dx, elements.dx, rows));
}

TEST_CASE("emulated expert choice kernels break ties toward the lower token index, as the reference does") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kExpertChoiceTieCases); ++i)
    check_emulated(test::kExpertChoiceTieCases[i], seed + 100 * i);
}
