// What the expert-choice kernel tests share: tests/kernels/expert_choice_gpu_test.cpp (on the GPU)
// and tests/emulation/expert_choice_emulated_test.cpp (the same code under the CPU emulation). Both
// run every launcher of kernels/ec_route.cu and ec_permute.cu (and the router softmax) on host
// arrays and compare each output with the CPU reference (kernels/ref/expert_choice.hpp) by the
// rules below.
//
// The routing decision (token, gate, slot_of) is compared exactly: the reference routes the
// kernel's own fp32 affinities (exact in fp64), so any difference is a selection or ordering bug,
// never rounding. The row kernels then run on the kernel's routing, once it has passed (they index
// rows by it). Tolerances, |kernel - ref| <= atol + rtol |ref|:
//   probs            fp32 exp and a sum of E terms against fp64: atol 1e-7, rtol 1e-5
//   xe, dprobs       a copy and a scatter: exact
//   y, dx, dye       bf16 outputs of fp32 sums: bf16_tolerance
//   dgate, dlogits   fp32 sums of d and E products: fp32_sum_tolerance
// dprobs is checked from the kernel's own dgate and dlogits from its own probs, so each check
// measures one kernel.
#pragma once

#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ec_route.cuh"
#include "gpu_check.hpp"
#include "ref/expert_choice.hpp"
#include "ref/softmax.hpp"
#include "routing_check.hpp"

namespace ecsim::test {

// ec_route's outputs.
struct ExpertChoiceRouting {
  std::vector<float> probs;  // [T, E]
  std::vector<int> token;    // [slots]
  std::vector<float> gate;   // [slots]
  std::vector<int> slot_of;  // [T, E]
};

struct ExpertChoiceRowInputs {
  std::vector<__nv_bfloat16> x, dy;    // [T, d]
  std::vector<__nv_bfloat16> ye, dxe;  // [slots, d]
};

struct ExpertChoiceRowOutputs {
  std::vector<__nv_bfloat16> xe;   // [slots, d] ec_gather of x
  std::vector<__nv_bfloat16> y;    // [T, d]     ec_combine of ye
  std::vector<__nv_bfloat16> dx;   // [T, d]     ec_gather_bwd of dxe
  std::vector<__nv_bfloat16> dye;  // [slots, d] ec_combine_bwd of ye, dy
  std::vector<float> dgate;        // [slots]
  std::vector<float> dprobs;       // [T, E]     ec_gate_bwd of the kernel's dgate
  std::vector<float> dlogits;      // [T, E]     router_softmax_bwd of the routing's probs, dprobs
};

// The kernels under test on host arrays; a GPU run uploads the inputs and downloads the outputs.
struct ExpertChoiceKernels {
  // ec_route of logits [T, E].
  std::function<ExpertChoiceRouting(const ExpertChoiceDims& d, const std::vector<float>& logits)> route;
  // The other launchers, in the order above, on a routing from `route`.
  std::function<ExpertChoiceRowOutputs(const ExpertChoiceDims& d, std::int64_t hidden,
                                       const ExpertChoiceRouting& routing, const ExpertChoiceRowInputs& in)>
      rows;
};

// How a case draws its router logits.
enum class Logits {
  kSpread,      // uniform in [-4, 4)
  kTies,        // from {0, 1}: many exactly equal affinities per expert
  kMostlyZero,  // -200 for 15 in 16 (exp underflows to an affinity of exactly 0), else 0
};

struct ExpertChoiceCase {
  ExpertChoiceDims dims;
  std::int64_t hidden;
  Logits logits;
};

// Shapes that both tests run (EC-DiT's training shape, 2048 tokens x 64 experts x d 256, stays in
// the GPU test: about 6 s emulated in the Release build, 15 s in the sanitizer build). ec_select
// gives each (group, slice of 8 experts, or 4 past G 1024) a block, 128 threads per expert holding
// k tokens each (k a power of two): G 384 (k 4) with C 96, more than a warp; G 600 (k 8, the last
// pass of 128 tokens partial) with E 6, not a power of two, two of the block's experts past the
// last; G 1024, EC-DiT's training group; G 4096 (k 32, 4 experts a block) with E 3; G 2000 (k 16)
// with E 10, three slices of 4, the last half empty.
inline const ExpertChoiceCase kExpertChoiceGroupCases[] = {
    {{3 * 384, 8, 384, 96}, 72, Logits::kSpread},
    {{2 * 600, 6, 600, 40}, 40, Logits::kSpread},
    {{1024, 4, 1024, 32}, 32, Logits::kSpread},
    {{4096, 3, 4096, 700}, 16, Logits::kSpread},
    {{2 * 2000, 10, 2000, 300}, 16, Logits::kSpread},
};
// Capacity at its bounds: C = 1, and C = G (every expert takes the whole group).
inline const ExpertChoiceCase kExpertChoiceCapacityCases[] = {
    {{128, 5, 64, 1}, 24, Logits::kSpread},
    {{64, 3, 32, 32}, 16, Logits::kSpread},
};
// Row widths for the two ways rows move (kernels/bf16_chunks.cuh): d 300, not a multiple of 8, in
// 2-byte elements, more than one pass of the combine's 256 threads and of a warp's 4 x 32-element
// batch; d 2056 in 16-byte vectors, past one pass of the combine (2048) and of a warp (1024).
inline const ExpertChoiceCase kExpertChoiceRowWidthCases[] = {
    {{256, 6, 128, 20}, 300, Logits::kSpread},
    {{128, 5, 64, 12}, 2056, Logits::kSpread},
};
// Ties go to the lower token index: logits from {0, 1}; and affinities of exactly 0 for most
// tokens, so that with 64 experts most experts find fewer than C tokens above 0 in a group of 256
// and take the rest among the zeros, lowest indices first.
inline const ExpertChoiceCase kExpertChoiceTieCases[] = {
    {{512, 16, 256, 40}, 64, Logits::kTies},
    {{512, 64, 256, 40}, 32, Logits::kMostlyZero},
};

// Runs the kernels on logits drawn as the case says from `seed` and bf16 rows from seed + 1 to
// seed + 4, and checks every output; returns the CheckLog summary.
inline std::string check_expert_choice(const ExpertChoiceCase& c, std::uint64_t seed,
                                       const ExpertChoiceKernels& kernels) {
  const ExpertChoiceDims& d = c.dims;
  CAPTURE(seed);
  CAPTURE(d.tokens);
  CAPTURE(d.experts);
  CAPTURE(d.group_tokens);
  CAPTURE(d.capacity);
  CAPTURE(c.hidden);
  const auto te = static_cast<std::size_t>(d.tokens * d.experts);
  const auto slots = static_cast<std::size_t>(d.slots());
  const auto rows = static_cast<std::size_t>(d.tokens * c.hidden);
  const auto slot_rows = slots * static_cast<std::size_t>(c.hidden);
  auto logits = to_float(random_values(te, seed, -4, 4));
  if (c.logits == Logits::kTies) {
    for (float& l : logits) l = l < 0 ? 0.0f : 1.0f;
  } else if (c.logits == Logits::kMostlyZero) {
    for (float& l : logits) l = l < 3.5f ? -200.0f : 0.0f;
  }
  const ExpertChoiceRouting routing = kernels.route(d, logits);

  CheckLog log;
  const auto probs = to_double(routing.probs);
  log.check("probs", probs, ref::softmax_rows(to_double(logits), d.tokens, d.experts), {1e-7, 1e-5});

  // Selection: exact, from the kernel's own affinities.
  const ref::ExpertChoiceShape s{d.tokens, d.experts, d.group_tokens, d.capacity};
  const auto r = ref::ec_route(s, probs);
  REQUIRE(routing.token.size() == slots);
  REQUIRE(routing.gate.size() == slots);
  REQUIRE(routing.slot_of.size() == te);
  if (c.logits == Logits::kMostlyZero) {  // the case's point: experts that take tokens of affinity 0
    CHECK(std::count(r.gate.begin(), r.gate.end(), 0.0) > 0);
  }
  std::size_t wrong_token = 0, wrong_gate = 0, wrong_slot_of = 0;
  for (std::size_t slot = 0; slot < slots; ++slot) {
    if (routing.token[slot] != r.token[slot]) ++wrong_token;
    if (static_cast<double>(routing.gate[slot]) != r.gate[slot]) ++wrong_gate;
  }
  std::vector<int> expected_slot_of(te, -1);
  const std::int64_t per_expert = d.groups() * d.capacity;
  for (std::size_t slot = 0; slot < slots; ++slot) {
    const auto e = static_cast<std::int64_t>(slot) / per_expert;
    expected_slot_of[static_cast<std::size_t>(r.token[slot] * d.experts + e)] = static_cast<int>(slot);
  }
  for (std::size_t i = 0; i < te; ++i) wrong_slot_of += routing.slot_of[i] != expected_slot_of[i];
  CHECK_MESSAGE(wrong_token == 0, wrong_token << " of " << slots << " slots hold another token than the reference's");
  CHECK_MESSAGE(wrong_gate == 0, wrong_gate << " of " << slots << " gates differ from the chosen affinities");
  CHECK_MESSAGE(wrong_slot_of == 0,
                wrong_slot_of << " of " << te << " slot_of entries differ from the inverse of token");
  REQUIRE_MESSAGE(wrong_token + wrong_slot_of == 0, "the row kernels would index rows by a wrong routing");

  // Gather (a copy: exact), combine, and the backward of both.
  const std::int64_t hidden = c.hidden;
  const auto x = rounded(rows, seed + 1), ye = rounded(slot_rows, seed + 2), dy = rounded(rows, seed + 3);
  const auto dxe = rounded(slot_rows, seed + 4);
  const ExpertChoiceRowOutputs out =
      kernels.rows(d, hidden, routing, {to_bf16(x), to_bf16(dy), to_bf16(ye), to_bf16(dxe)});
  log.check("xe", to_double(std::span<const __nv_bfloat16>(out.xe)), ref::ec_gather(r, x, hidden), {0.0, 0.0});
  const auto y = ref::ec_combine(r, ye, hidden);
  log.check("y", to_double(std::span<const __nv_bfloat16>(out.y)), y, bf16_tolerance(y));
  const auto dx = ref::ec_gather_bwd(r, dxe, hidden);
  log.check("dx", to_double(std::span<const __nv_bfloat16>(out.dx)), dx, bf16_tolerance(dx));
  const auto cg = ref::ec_combine_bwd(r, ye, dy, hidden);
  log.check("dye", to_double(std::span<const __nv_bfloat16>(out.dye)), cg.dye, bf16_tolerance(cg.dye));
  const auto kernel_dgate = to_double(out.dgate);
  log.check("dgate", kernel_dgate, cg.dgate, fp32_sum_tolerance(cg.dgate));
  // The affinity gradient from the kernel's own dgate: a scatter (exact), then the softmax
  // backward, an fp32 sum over E terms.
  const auto dprobs = ref::ec_gate_bwd(r, kernel_dgate);
  log.check("dprobs", to_double(out.dprobs), dprobs, {0.0, 0.0});
  const auto dlogits = ref::softmax_rows_bwd(probs, dprobs, d.tokens, d.experts);
  log.check("dlogits", to_double(out.dlogits), dlogits, fp32_sum_tolerance(dlogits));
  return log.summary();
}

}  // namespace ecsim::test
