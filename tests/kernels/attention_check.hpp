// What the attention kernel tests share: tests/kernels/attention_gpu_test.cpp (on the GPU) and
// tests/emulation/attention_emulated_test.cpp (the same code under the CPU emulation). Both draw
// random bf16 inputs, run the kernels (kernels/attention.cu, attention_backward_fused.cu) through
// host arrays, in each variant of forward and backward a shape has (attention_variants_for), and
// compare every output with the CPU reference (kernels/ref/attention.hpp) by the rules below.
//
// Tolerances, |kernel - ref| <= atol + rtol |ref|, from where the kernels round to bf16:
//   out    P is rounded to bf16 (2^-9 relative per weight) before P V, which moves out by at most
//          2^-9 max|V|, and out is rounded once more (2^-9 |out|): twice each, atol = 2^-8 max|V|,
//          rtol = 2^-7.
//   lse    fp32 throughout (scores over D products, exp2, a row sum of at most 4096 terms, each
//          well under 2^-14 here): atol = 2^-11. A key masked wrongly moves lse by about its
//          weight, 1/Skv or more, so the check still sees it.
//   delta  an fp32 sum of D products: fp32_sum_tolerance.
//   dq, dk, dv  P and dS are rounded to bf16 before the second product, dS's rows sum to zero (so
//          dq and dk cancel), and the gradients sum over Sq (and the group's heads): atol =
//          2^-6 max|ref|, rtol = 2^-6, four times the forward's.
// The backward is fed the reference's out and lse (rounded as the forward stores them), so its
// check measures the backward alone.
#pragma once

#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "attention.cuh"
#include "gpu_check.hpp"  // bf16 conversions, Tolerance, check_close (no device needed for these)
#include "ref/attention.hpp"

namespace ecsim::test {

using Bf16Vector = std::vector<__nv_bfloat16>;

struct AttentionForwardOutputs {
  Bf16Vector out;          // [B, Sq, H, D]
  std::vector<float> lse;  // [B, H, Sq]
};

struct AttentionBackwardOutputs {
  std::vector<float> delta;  // [B, H, Sq]
  Bf16Vector dq;             // [B, Sq, H, D]
  Bf16Vector dk, dv;         // [B, Skv, KVH, D]
};

// The kernels under test on host arrays; a GPU run uploads the inputs and downloads the outputs.
struct AttentionKernels {
  std::function<AttentionForwardOutputs(const AttentionDims& d, const Bf16Vector& q, const Bf16Vector& k,
                                        const Bf16Vector& v)>
      forward;
  std::function<AttentionBackwardOutputs(const AttentionDims& d, const Bf16Vector& q, const Bf16Vector& k,
                                         const Bf16Vector& v, const Bf16Vector& out, const std::vector<float>& lse,
                                         const Bf16Vector& dout)>
      backward;
};

inline double max_abs(std::span<const double> v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

inline AttentionDims dims_of(const ref::AttentionShape& s) {
  return {s.batch, s.heads, s.kv_heads, s.q_len, s.kv_len, s.head_dim, s.causal};
}

// Shapes at the kernels' edges that both tests run (the emulation cannot afford EC-DiT's sizes).
// Ragged: neither length is a multiple of a tile (64 rows; 64 or 32 streamed columns), head dims 64
// and 128. Causal: Skv > Sq shifts the diagonal by 133 keys; the square case has it through the
// tiles' corners; one query row sees every key.
inline const ref::AttentionShape kRaggedShapes[] = {{2, 4, 2, 200, 77, 64, false}, {2, 4, 2, 200, 77, 128, false}};
inline const ref::AttentionShape kCausalShapes[] = {
    {2, 4, 2, 200, 333, 64, true}, {2, 4, 4, 256, 256, 128, true}, {1, 2, 1, 1, 70, 64, true}};

// One way to run a shape: the forward's rows per block and the backward's kernels.
struct AttentionVariant {
  AttentionForwardRows forward_rows = AttentionForwardRows::k64;
  AttentionBackwardKernels backward = AttentionBackwardKernels::kSplit;

  std::string name() const {
    const char* bwd = backward == AttentionBackwardKernels::kFused   ? "fused"
                      : backward == AttentionBackwardKernels::kSplit ? "split"
                                                                     : "auto";
    return std::string(forward_rows == AttentionForwardRows::k64 ? "64" : "128") + "-query forward, " + bwd +
           " backward";
  }
};

// The variants a test runs on `s`, two runs covering every kernel: the 64-query forward with the
// split backward, and the 128-query forward with the fused backward where it fits (head dim 64,
// up to 256 keys), else the split one again.
inline std::vector<AttentionVariant> attention_variants_for(const ref::AttentionShape& s) {
  const bool fused = fused_attention_backward_fits(dims_of(s));
  return {{AttentionForwardRows::k64, AttentionBackwardKernels::kSplit},
          {AttentionForwardRows::k128, fused ? AttentionBackwardKernels::kFused : AttentionBackwardKernels::kSplit}};
}

// atol 2^-6 of the largest reference gradient, floored at 2^-24 (fp32 leftovers where every
// gradient is 0, e.g. one key: P = 1 and dP = delta exactly).
inline Tolerance gradient_tolerance(std::span<const double> ref) {
  return {std::max(std::ldexp(max_abs(ref), -6), std::ldexp(1.0, -24)), std::ldexp(1.0, -6)};
}

// delta[b, h, i] = sum_c dout[b, i, h, c] out[b, i, h, c], the backward's first stage.
inline std::vector<double> expected_delta(const ref::AttentionShape& s, const std::vector<double>& out,
                                          const std::vector<double>& dout) {
  std::vector<double> delta(static_cast<std::size_t>(s.lse_elements()));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t i = 0; i < s.q_len; ++i) {
      for (std::int64_t h = 0; h < s.heads; ++h) {
        const std::int64_t row = ((b * s.q_len + i) * s.heads + h) * s.head_dim;
        double sum = 0;
        for (std::int64_t c = 0; c < s.head_dim; ++c) {
          sum += dout[static_cast<std::size_t>(row + c)] * out[static_cast<std::size_t>(row + c)];
        }
        delta[static_cast<std::size_t>((b * s.heads + h) * s.q_len + i)] = sum;
      }
    }
  }
  return delta;
}

// What one variant's run found: each output's worst error over its tolerance, e.g. "out 0.24,
// lse 0.001, ...".
struct VariantResult {
  std::string variant;  // AttentionVariant::name()
  std::string ratios;
};

// The kernels under test, run as a variant says.
using KernelsFor = std::function<AttentionKernels(const AttentionVariant&)>;

// Runs the forward and the backward of each of the shape's variants (attention_variants_for) on
// fresh random inputs from `seed` and checks every output against the reference, computed once.
// `strided`: q and dq in rows of (H + 2 KVH) D (q as a fused qkv projection's first slice), k, v, dk
// and dv in rows of 2 KVH D + 8 (the kernels' general case); out and dout stay packed.
inline std::vector<VariantResult> check_attention(const ref::AttentionShape& s, std::uint64_t seed,
                                                  const KernelsFor& kernels_for, bool strided = false) {
  CAPTURE(seed);
  CAPTURE(s.batch);
  CAPTURE(s.heads);
  CAPTURE(s.kv_heads);
  CAPTURE(s.q_len);
  CAPTURE(s.kv_len);
  CAPTURE(s.head_dim);
  CAPTURE(s.causal);
  CAPTURE(strided);
  const auto nq = static_cast<std::size_t>(s.q_elements());
  const auto nkv = static_cast<std::size_t>(s.kv_elements());
  // q in [-4, 4) makes the scores' spread about 1.3 (not ~0.3), so the softmax is peaked and the
  // running maximum moves between key tiles, which exercises the online rescaling.
  const auto q = rounded(nq, seed, -4, 4), k = rounded(nkv, seed + 1), v = rounded(nkv, seed + 2);
  const auto dout = rounded(nq, seed + 3);
  AttentionDims d = dims_of(s);
  const std::int64_t q_width = s.heads * s.head_dim, kv_width = s.kv_heads * s.head_dim;
  if (strided) {
    d.q_row_stride = q_width + 2 * kv_width;
    d.kv_row_stride = 2 * kv_width + 8;
  }
  const std::int64_t q_stride = d.q_stride(), kv_stride = d.kv_stride();
  // Inputs in their strided rows; outputs back to packed rows, their gaps checked untouched.
  const auto q_in = to_bf16(spread_rows(q, q_width, q_stride, seed + 5));
  const auto k_in = to_bf16(spread_rows(k, kv_width, kv_stride, seed + 6));
  const auto v_in = to_bf16(spread_rows(v, kv_width, kv_stride, seed + 7));
  // The reference: the forward, and the backward fed the forward's out and lse as the kernels
  // store them (bf16, fp32), so that the backward's check measures the backward alone.
  const auto f = ref::attention_fwd(s, q, k, v);
  const auto out_stored = to_double(std::span<const __nv_bfloat16>(to_bf16(f.out)));
  const auto lse_stored = to_double(to_float(f.lse));
  const auto delta = expected_delta(s, out_stored, dout);
  const auto g = ref::attention_bwd(s, q, k, v, out_stored, lse_stored, dout);

  std::vector<VariantResult> results;
  for (const AttentionVariant& variant : attention_variants_for(s)) {
    const std::string name = variant.name();
    INFO("variant: " << name);
    const AttentionKernels kernels = kernels_for(variant);
    bool gaps_poisoned = true;
    const auto packed = [&](const Bf16Vector& out, std::int64_t width, std::int64_t stride) {
      return gather_rows(to_double(std::span<const __nv_bfloat16>(out)), width, stride, gaps_poisoned);
    };
    CheckLog log;
    const auto check = [&](const char* what, const std::vector<double>& kernel, const std::vector<double>& ref,
                           Tolerance tol) { log.check(what, kernel, ref, tol); };

    // The kernels' functions size out like q (and dq, dk, dv like q, k, v): rows of q's stride.
    const AttentionForwardOutputs fwd = kernels.forward(d, q_in, k_in, v_in);
    const auto out_rows = to_double(std::span<const __nv_bfloat16>(fwd.out));
    check("out", std::vector<double>(out_rows.begin(), out_rows.begin() + static_cast<std::ptrdiff_t>(nq)), f.out,
          {std::ldexp(max_abs(v), -8), std::ldexp(1.0, -7)});
    CHECK_MESSAGE(std::all_of(out_rows.begin() + static_cast<std::ptrdiff_t>(nq), out_rows.end(),
                              [](double x) { return std::isnan(x); }),
                  "the forward wrote past the packed out");
    check("lse", to_double(fwd.lse), f.lse, {std::ldexp(1.0, -11), 0.0});

    const AttentionBackwardOutputs bwd =
        kernels.backward(d, q_in, k_in, v_in, to_bf16(out_stored), to_float(lse_stored), to_bf16(dout));
    check("delta", to_double(bwd.delta), delta, fp32_sum_tolerance(delta));
    check("dq", packed(bwd.dq, q_width, q_stride), g.dq, gradient_tolerance(g.dq));
    check("dk", packed(bwd.dk, kv_width, kv_stride), g.dk, gradient_tolerance(g.dk));
    check("dv", packed(bwd.dv, kv_width, kv_stride), g.dv, gradient_tolerance(g.dv));
    CHECK_MESSAGE(gaps_poisoned, "the backward wrote between the rows of dq, dk or dv");
    results.push_back({name, log.summary()});
  }
  return results;
}

}  // namespace ecsim::test
