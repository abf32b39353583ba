// What the token-choice kernel tests share: tests/kernels/token_choice_gpu_test.cpp (on the GPU)
// and tests/emulation/token_choice_emulated_test.cpp (the same code under the CPU emulation). Both
// run every launcher of kernels/tc_route.cu and tc_permute.cu (and the router softmax) on host
// arrays and compare each output with the CPU reference (kernels/ref/token_choice.hpp) by the
// rules below.
//
// The routing decision is compared exactly: the reference routes the kernel's own fp32 affinities
// (exact in fp64), so any difference in picks, counts, offsets or rows is a selection, capacity or
// ordering bug, never rounding. The row kernels then run on the kernel's routing, once it has passed
// (they index rows by it). Tolerances, |kernel - ref| <= atol + rtol |ref|:
//   probs          fp32 exp and a sum of E terms against fp64: atol 1e-7, rtol 1e-5
//   gate           exact without normalization (a copy of the affinity); with it, an fp32 sum of k
//                  terms and a division: rtol 1e-6
//   xp             a copy: exact, zeros on padding rows
//   y, dx, dyp     bf16 outputs of fp32 sums: bf16_tolerance
//   dgate          an fp32 sum of d products: fp32_sum_tolerance
//   dprobs         a scatter of the kernel's own dgate (exact) without normalization; k-term fp32
//                  sums with it: fp32_sum_tolerance
//   dlogits        an fp32 sum of E products, from the kernel's own probs and dprobs:
//                  fp32_sum_tolerance
#pragma once

#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gpu_check.hpp"
#include "ref/softmax.hpp"
#include "ref/token_choice.hpp"
#include "routing_check.hpp"
#include "tc_route.cuh"

namespace ecsim::test {

// tc_route's outputs (TokenChoiceRouting's buffers, and the affinities).
struct TokenChoiceRoutingOutputs {
  std::vector<float> probs;         // [T, E]
  std::vector<int> expert;          // [T, k]
  std::vector<float> gate;          // [T, k]
  std::vector<int> row;             // [T, k]
  std::vector<int> counts;          // [E]
  std::vector<int> offsets;         // [E + 1]
  std::vector<int> row_assignment;  // [max_rows]
};

struct TokenChoiceRowInputs {
  std::vector<__nv_bfloat16> x, dy;    // [T, d]
  std::vector<__nv_bfloat16> yp, dxp;  // [max_rows, d]
};

struct TokenChoiceRowOutputs {
  std::vector<__nv_bfloat16> xp;   // [max_rows, d] tc_permute of x
  std::vector<__nv_bfloat16> y;    // [T, d]        tc_unpermute of yp
  std::vector<__nv_bfloat16> dx;   // [T, d]        tc_permute_bwd of dxp
  std::vector<__nv_bfloat16> dyp;  // [max_rows, d] tc_unpermute_bwd of yp, dy
  std::vector<float> dgate;        // [T, k]
  std::vector<float> dprobs;       // [T, E]        tc_gate_bwd of the kernel's dgate
  std::vector<float> dlogits;      // [T, E]        router_softmax_bwd of the routing's probs, dprobs
};

// The kernels under test on host arrays; a GPU run uploads the inputs and downloads the outputs.
// Buffers the kernels write are poisoned before the run.
struct TokenChoiceKernels {
  // tc_route of logits [T, E].
  std::function<TokenChoiceRoutingOutputs(const TokenChoiceDims& d, const std::vector<float>& logits)> route;
  // The other launchers, in the order above, on a routing from `route`.
  std::function<TokenChoiceRowOutputs(const TokenChoiceDims& d, std::int64_t hidden,
                                      const TokenChoiceRoutingOutputs& routing, const TokenChoiceRowInputs& in)>
      rows;
};

struct TokenChoiceCase {
  TokenChoiceDims dims;
  std::int64_t hidden;
  bool ties;  // logits from {0, 1}: many exactly equal affinities per token
};

// Shapes that both tests run (the XXL-32E baseline's 4096 tokens x d 256 stays in the GPU test, for
// the emulation's time). Capacity buffers padded to E C rows, as the simulator prices them: at
// capacity factor 1.0 (some picks drop, some rows pad; E 24), and top-8 of 64 experts with C above
// T k (nothing drops, most rows pad, offsets stay e C).
inline const TokenChoiceCase kTokenChoicePaddedCases[] = {
    {{2000, 24, 2, 2000 * 2 / 24, false, true}, 136, false},
    {{45, 64, 8, 400, false, true}, 40, false},
};
// Packed rows: dropless with normalized gates (T, E not powers of two, k 3), and top-1 with
// capacity 1 (almost every pick dropped).
inline const TokenChoiceCase kTokenChoicePackedCases[] = {
    {{777, 13, 3, -1, true}, 200, false},
    {{1000, 7, 1, 1, false}, 72, false},
};
// Row widths for the two ways rows move (kernels/bf16_chunks.cuh): d 300, not a multiple of 8, in
// 2-byte elements (padded, capacity factor 1.0), and d 2056 in 16-byte vectors (packed, dropless),
// each past one pass of the combine's block and of a warp's batch.
inline const TokenChoiceCase kTokenChoiceRowWidthCases[] = {
    {{300, 10, 2, 300 * 2 / 10, false, true}, 300, false},
    {{200, 6, 2, -1, true}, 2056, false},
};
// Logits from {0, 1}: ties go to the lower expert; top-8 of 40 experts (more than a warp's
// lanes), normalized, with a capacity that drops.
inline const TokenChoiceCase kTokenChoiceTieCase = {{640, 40, 8, 100, true}, 64, true};

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

template <class T>
std::size_t count_differences(const std::vector<T>& kernel, const std::vector<std::int64_t>& ref, std::size_t n) {
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n; ++i) wrong += static_cast<std::int64_t>(kernel[i]) != ref[i];
  return wrong;
}

// Runs the kernels on logits in [-4, 4) (or ties) from `seed` and bf16 rows from seed + 1 to
// seed + 4, and checks every output; returns the CheckLog summary.
inline std::string check_token_choice(const TokenChoiceCase& c, std::uint64_t seed, const TokenChoiceKernels& kernels) {
  const TokenChoiceDims& d = c.dims;
  CAPTURE(seed);
  CAPTURE(d.tokens);
  CAPTURE(d.experts);
  CAPTURE(d.top_k);
  CAPTURE(d.capacity);
  CAPTURE(d.normalize_gates);
  CAPTURE(d.padded);
  CAPTURE(c.hidden);
  const auto te = static_cast<std::size_t>(d.tokens * d.experts);
  const auto picks = static_cast<std::size_t>(d.assignments());
  const auto h = static_cast<std::size_t>(c.hidden);
  const auto n_x = static_cast<std::size_t>(d.tokens) * h;
  const auto n_rows = static_cast<std::size_t>(d.max_rows()) * h;
  auto logits = to_float(random_values(te, seed, -4, 4));
  if (c.ties) {
    for (float& l : logits) l = l < 0 ? 0.0f : 1.0f;
  }
  const TokenChoiceRoutingOutputs routing = kernels.route(d, logits);

  CheckLog log;
  const auto probs = to_double(routing.probs);
  log.check("probs", probs, ref::softmax_rows(to_double(logits), d.tokens, d.experts), {1e-7, 1e-5});

  const ref::TokenChoiceShape s{d.tokens, d.experts, d.top_k, d.capacity, d.normalize_gates};
  const auto rr = ref::tc_route(s, probs);
  const RowMap map(d, rr);
  CAPTURE(map.device_rows);
  REQUIRE(routing.offsets.size() == map.offsets.size());
  REQUIRE_MESSAGE(count_differences(routing.offsets, map.offsets, routing.offsets.size()) == 0,
                  "expert offsets differ from the reference's; kernel total " << routing.offsets.back()
                                                                              << ", expected " << map.device_rows);
  const std::size_t wrong_expert = count_differences(routing.expert, rr.expert, picks);
  CHECK_MESSAGE(wrong_expert == 0, "picked experts differ");
  CHECK_MESSAGE(count_differences(routing.counts, rr.counts, rr.counts.size()) == 0, "expert counts differ");
  std::vector<std::int64_t> row(picks, -1), row_assignment(map.device_rows, -1);
  for (std::size_t a = 0; a < picks; ++a) {
    if (rr.row[a] < 0) continue;
    const std::size_t device_row = map.device_row[static_cast<std::size_t>(rr.row[a])];
    row[a] = static_cast<std::int64_t>(device_row);
    row_assignment[device_row] = static_cast<std::int64_t>(a);
  }
  const std::size_t wrong_row = count_differences(routing.row, row, picks);
  const std::size_t wrong_row_assignment = count_differences(routing.row_assignment, row_assignment, map.device_rows);
  CHECK_MESSAGE(wrong_row == 0, "rows (or drops) differ");
  CHECK_MESSAGE(wrong_row_assignment == 0, "row_assignment differs from the inverse of row (-1 on padding)");
  log.check("gate", to_double(routing.gate), rr.gate, d.normalize_gates ? Tolerance{0.0, 1e-6} : Tolerance{0, 0});
  REQUIRE_MESSAGE(wrong_expert + wrong_row + wrong_row_assignment == 0,
                  "the row kernels would index rows by a wrong routing");

  // Permute (a copy: exact, zeros on padding), unpermute, and the backward of both. Rows past
  // offsets[E] are neither read nor written.
  const auto x = rounded(n_x, seed + 1), yp = rounded(n_rows, seed + 2), dy = rounded(n_x, seed + 3);
  const auto dxp = rounded(n_rows, seed + 4);
  const TokenChoiceRowOutputs out =
      kernels.rows(d, c.hidden, routing, {to_bf16(x), to_bf16(dy), to_bf16(yp), to_bf16(dxp)});
  const auto used = map.device_rows * h;
  auto used_rows = [&](const std::vector<__nv_bfloat16>& v) {
    auto kernel_rows = to_double(std::span<const __nv_bfloat16>(v));
    kernel_rows.resize(used);
    return kernel_rows;
  };
  const auto ref_yp = map.to_reference(yp, h), ref_dxp = map.to_reference(dxp, h);
  const std::int64_t hidden = c.hidden;
  log.check("xp", used_rows(out.xp), map.to_device(ref::tc_permute(rr, x, hidden), h), {0.0, 0.0});
  const auto y = ref::tc_unpermute(rr, ref_yp, hidden);
  log.check("y", to_double(std::span<const __nv_bfloat16>(out.y)), y, bf16_tolerance(y));
  const auto dx = ref::tc_permute_bwd(rr, ref_dxp, hidden);
  log.check("dx", to_double(std::span<const __nv_bfloat16>(out.dx)), dx, bf16_tolerance(dx));
  const auto g = ref::tc_unpermute_bwd(rr, ref_yp, dy, hidden);
  const auto dyp = map.to_device(g.dyp, h);
  log.check("dyp", used_rows(out.dyp), dyp, bf16_tolerance(dyp));
  const auto kernel_dgate = to_double(out.dgate);
  log.check("dgate", kernel_dgate, g.dgate, fp32_sum_tolerance(g.dgate));
  // The affinity gradient from the kernel's own dgate: a scatter (exact) without normalization,
  // k-term fp32 sums with it; then the softmax backward, an fp32 sum over E terms.
  const auto dprobs = ref::tc_gate_bwd(rr, probs, kernel_dgate);
  const auto kernel_dprobs = to_double(out.dprobs);
  log.check("dprobs", kernel_dprobs, dprobs, d.normalize_gates ? fp32_sum_tolerance(dprobs) : Tolerance{0, 0});
  const auto dlogits = ref::softmax_rows_bwd(probs, kernel_dprobs, d.tokens, d.experts);
  log.check("dlogits", to_double(out.dlogits), dlogits, fp32_sum_tolerance(dlogits));
  return log.summary();
}

}  // namespace ecsim::test
