// What the elementwise kernel tests share: tests/kernels/elementwise_gpu_test.cpp (on the GPU) and
// tests/emulation/elementwise_emulated_test.cpp (the same code under the CPU emulation). Both run
// the launchers of kernels/gelu.cu, gate_residual.cu, adamw.cu and flow_loss.cu on host arrays
// (a GPU run uploads the inputs and downloads the outputs) and compare each output with the CPU
// reference (kernels/ref/) on inputs these functions draw. Each test picks its shapes: the
// emulation runs gelu, gate_residual and adamw on smaller ones, the flow loss on the shared one.
// Tolerances, |kernel - ref| <= atol + rtol |ref|:
//   gelu y, dx; gate_residual out, dy, dgate; flow_loss dpred   bf16 outputs: bf16_tolerance
//   adamw param, m, v      fp32 arithmetic against fp64 rounded once: atol 1e-7, rtol 2^-21
//   adamw_bf16 param, m, v the same, each rounded to bf16: one bf16 ulp, atol 1e-7, rtol 2^-7
//   flow_loss loss         an fp32 sum of n squares: rtol 1e-5; and bitwise equal on a second run
#pragma once

#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "adamw.cuh"
#include "gpu_check.hpp"  // Tolerance, CheckLog, conversions, random inputs (no device needed for these)
#include "ref/adamw.hpp"
#include "ref/flow_loss.hpp"
#include "ref/gate_residual.hpp"
#include "ref/gelu.hpp"

namespace ecsim::test {

using Bf16Vector = std::vector<__nv_bfloat16>;

// ---- An activation's forward and backward (gelu.cu here; silu.cu in runner_kernels_check.hpp).

struct ActivationOutputs {
  Bf16Vector y;   // [n] fwd of x
  Bf16Vector dx;  // [n] bwd of x, dy
};

// The two launchers on x, dy [n] bf16.
using ActivationKernels = std::function<ActivationOutputs(const Bf16Vector& x, const Bf16Vector& dy)>;

// gelu_fwd and gelu_bwd on x in [-5, 5) (past the tanh's bend on both sides) and dy in [-1, 1).
inline std::string check_gelu(std::size_t n, std::uint64_t seed, const ActivationKernels& kernels) {
  CAPTURE(seed);
  CAPTURE(n);
  const auto x = rounded(n, seed, -5, 5), dy = rounded(n, seed + 1);
  const ActivationOutputs out = kernels(to_bf16(x), to_bf16(dy));
  CheckLog log;
  const auto y = ref::gelu_fwd(x);
  const auto dx = ref::gelu_bwd(x, dy);
  log.check("y", to_double(std::span<const __nv_bfloat16>(out.y)), y, bf16_tolerance(y));
  log.check("dx", to_double(std::span<const __nv_bfloat16>(out.dx)), dx, bf16_tolerance(dx));
  return log.summary();
}

// ---- gate_residual.cu: out = x + gate y, and dy, dgate.

struct GateResidualInputs {
  Bf16Vector x, y, dout;  // [B, S, d]
  Bf16Vector gate;        // [B, d], rows vector_stride apart
  std::int64_t vector_stride = 0;  // 0: packed
};

struct GateResidualOutputs {
  Bf16Vector out;    // [B, S, d] gate_residual_fwd
  Bf16Vector dy;     // [B, S, d] gate_residual_bwd
  Bf16Vector dgate;  // [B, d]    gate_residual_bwd (rows vector_stride apart)
};

using GateResidualKernels = std::function<GateResidualOutputs(const ref::SampleRows& s, const GateResidualInputs& in)>;

// Both launchers on x, y, gate, dout in [-1, 1). With a `vector_stride`, gate sits in rows that far
// apart (the modulation's output read in place), and dgate comes back in such rows (the runs size
// it batch x stride) with the gaps untouched.
inline std::string check_gate_residual(const ref::SampleRows& s, std::uint64_t seed,
                                       const GateResidualKernels& kernels, std::int64_t vector_stride = 0) {
  CAPTURE(seed);
  CAPTURE(vector_stride);
  CAPTURE(s.batch);
  CAPTURE(s.seq);
  CAPTURE(s.hidden);
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = static_cast<std::size_t>(s.vector_elements());
  const auto x = rounded(n, seed), y = rounded(n, seed + 1), gate = rounded(nv, seed + 2), dout = rounded(n, seed + 3);
  const std::int64_t stride = vector_stride != 0 ? vector_stride : s.hidden;
  const auto gate_rows = to_bf16(spread_rows(gate, s.hidden, stride, seed + 4));
  const GateResidualOutputs k = kernels(s, {to_bf16(x), to_bf16(y), to_bf16(dout), gate_rows, vector_stride});
  bool gaps_poisoned = true;
  const auto dgate = gather_rows(to_double(std::span<const __nv_bfloat16>(k.dgate)), s.hidden, stride, gaps_poisoned);
  const auto out = ref::gate_residual_fwd(s, x, y, gate);
  const auto g = ref::gate_residual_bwd(s, y, gate, dout);
  CheckLog log;
  log.check("out", to_double(std::span<const __nv_bfloat16>(k.out)), out, bf16_tolerance(out));
  log.check("dy", to_double(std::span<const __nv_bfloat16>(k.dy)), g.dy, bf16_tolerance(g.dy));
  log.check("dgate", dgate, g.dgate, bf16_tolerance(g.dgate));
  CHECK_MESSAGE(gaps_poisoned, "the backward wrote between the rows of dgate");
  return log.summary();
}

// ---- adamw.cu: AdamW steps in place over fp32 buffers, with the bf16 copy; the gradient only read.

struct AdamWState {
  std::vector<float> param, m, v;  // [n]
  Bf16Vector param_bf16;           // [n] the copy the step writes (empty in the initial state)
  std::vector<float> grad;         // [n] the gradient buffer after the step (empty in the initial state)
};

// Steps 1, 2, ... of adamw_step from `initial`, one per gradient [n]; the state after each.
using AdamWKernel = std::function<std::vector<AdamWState>(const AdamWHyperparameters& h, const AdamWState& initial,
                                                          const std::vector<std::vector<float>>& grads)>;

// The three steps' gradients, uniform in [-1, 1): with `bf16_grads` already rounded to bf16, so
// that a kernel reading bf16 gradients (a scenario's grad_dtype "bf16") and the reference see the
// same numbers.
inline std::vector<std::vector<float>> adamw_grads(std::size_t n, std::uint64_t seed, bool bf16_grads) {
  std::vector<std::vector<float>> grads;
  for (std::uint64_t step = 1; step <= 3; ++step) {
    const std::uint64_t s = seed + 10 + step;
    grads.push_back(to_float(bf16_grads ? rounded(n, s) : random_values(n, s)));
  }
  return grads;
}

// Three steps with weight decay, from params in [-1, 1), m in [-0.1, 0.1), v in [0, 0.01), and
// gradients in [-1, 1) (bf16 values with `bf16_grads`, for a kernel that reads them so); each
// step's state against the reference stepped alongside.
inline std::string check_adamw(std::size_t n, std::uint64_t seed, const AdamWKernel& kernel, bool bf16_grads = false) {
  CAPTURE(seed);
  CAPTURE(n);
  const AdamWHyperparameters h{1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f};
  // The reference takes the same fp32-rounded hyperparameters as the kernel.
  const ref::AdamWConfig c{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay};
  AdamWState state{to_float(random_values(n, seed)), to_float(random_values(n, seed + 1, -0.1, 0.1)),
                   to_float(random_values(n, seed + 2, 0.0, 0.01))};
  const std::vector<std::vector<float>> grads = adamw_grads(n, seed, bf16_grads);
  const std::vector<AdamWState> after = kernel(h, state, grads);
  REQUIRE(after.size() == grads.size());
  // fp32 arithmetic against fp64 rounded once: 4 ulps relative (2^-21), and 1e-7 absolute for
  // values that cancel toward 0 (every term is at most 1 in magnitude).
  const Tolerance tol{1e-7, std::ldexp(1.0, -21)};
  CheckLog log;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const auto step = static_cast<std::int64_t>(i + 1);
    CAPTURE(step);
    ref::adamw_step(c, step, state.param, grads[i], state.m, state.v);
    const std::string at = " (step " + std::to_string(step) + ")";
    log.check(("param" + at).c_str(), to_double(after[i].param), to_double(state.param), tol);
    log.check(("m" + at).c_str(), to_double(after[i].m), to_double(state.m), tol);
    log.check(("v" + at).c_str(), to_double(after[i].v), to_double(state.v), tol);
    // The copy is the kernel's own fp32 param rounded to bf16, bit for bit; the gradient is left as
    // it was (the next step's first backward overwrites it).
    const std::vector<double> param = to_double(after[i].param);
    log.check(("param_bf16" + at).c_str(), to_double(std::span<const __nv_bfloat16>(after[i].param_bf16)),
              to_double(std::span<const __nv_bfloat16>(to_bf16(param))), Tolerance{0, 0});
    log.check(("grad unchanged" + at).c_str(), to_double(after[i].grad), to_double(grads[i]), Tolerance{0, 0});
  }
  return log.summary();
}

// ---- adamw.cu, no master weights: AdamW steps in place over bf16 weights and moments.

struct AdamWBf16State {
  Bf16Vector param, m, v;    // [n]
  std::vector<float> grad;   // [n] the gradient buffer after the step (empty in the initial state)
};

// Steps 1, 2, ... of adamw_step_bf16 from `initial`, one per gradient [n]; the state after each.
using AdamWBf16Kernel = std::function<std::vector<AdamWBf16State>(
    const AdamWHyperparameters& h, const AdamWBf16State& initial, const std::vector<std::vector<float>>& grads)>;

// Three steps as check_adamw's, on bf16 storage. Each step is checked from the kernel's own state
// before it, so that one rounding separates kernel and reference: the kernel rounds an fp32
// result to bf16, the reference an fp64 one, which may land either side of a rounding boundary:
// one bf16 ulp (2^-7 relative at most), and 1e-7 absolute for the fp32 arithmetic's own error
// where the result is near 0.
inline std::string check_adamw_bf16(std::size_t n, std::uint64_t seed, const AdamWBf16Kernel& kernel,
                                    bool bf16_grads = false) {
  CAPTURE(seed);
  CAPTURE(n);
  const AdamWHyperparameters h{1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f};
  const ref::AdamWConfig c{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay};
  const AdamWBf16State initial{to_bf16(random_values(n, seed)), to_bf16(random_values(n, seed + 1, -0.1, 0.1)),
                               to_bf16(random_values(n, seed + 2, 0.0, 0.01))};
  const std::vector<std::vector<float>> grads = adamw_grads(n, seed, bf16_grads);
  const std::vector<AdamWBf16State> after = kernel(h, initial, grads);
  REQUIRE(after.size() == grads.size());
  const Tolerance tol{1e-7, std::ldexp(1.0, -7)};
  const auto floats = [](const Bf16Vector& b) { return to_float(to_double(std::span<const __nv_bfloat16>(b))); };
  CheckLog log;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const auto step = static_cast<std::int64_t>(i + 1);
    CAPTURE(step);
    const AdamWBf16State& before = i == 0 ? initial : after[i - 1];
    std::vector<float> param = floats(before.param), m = floats(before.m), v = floats(before.v);
    ref::adamw_step_bf16(c, step, param, grads[i], m, v);
    const std::string at = " (step " + std::to_string(step) + ")";
    log.check(("param" + at).c_str(), to_double(std::span<const __nv_bfloat16>(after[i].param)), to_double(param), tol);
    log.check(("m" + at).c_str(), to_double(std::span<const __nv_bfloat16>(after[i].m)), to_double(m), tol);
    log.check(("v" + at).c_str(), to_double(std::span<const __nv_bfloat16>(after[i].v)), to_double(v), tol);
    log.check(("grad unchanged" + at).c_str(), to_double(after[i].grad), to_double(grads[i]), Tolerance{0, 0});
  }
  return log.summary();
}

// ---- flow_loss.cu: the mean squared error (two-stage, fixed order) and its gradient.

struct FlowLossOutputs {
  float loss;        // flow_loss_fwd
  float loss_again;  // flow_loss_fwd again on the same inputs and partials buffer
  Bf16Vector dpred;  // [n] flow_loss_bwd
};

// The launchers on pred, target [n] bf16; the backward with upstream gradient dloss.
using FlowLossKernels = std::function<FlowLossOutputs(const Bf16Vector& pred, const Bf16Vector& target, float dloss)>;

// Shape both tests run: 64 images x 256 tokens x 16 latent values, plus a ragged tail; four turns
// and a part of the partials kernel's grid-stride loop (kFlowLossPartials blocks of 256 threads).
// It moves in 2-byte elements (kernels/bf16_chunks.cuh); without the tail, in 16-byte vectors.
inline constexpr std::size_t kFlowLossElements = 64 * 256 * 16 + 5;
inline constexpr std::size_t kFlowLossVectorElements = 64 * 256 * 16;

// pred and target in [-1, 1), dloss 0.5.
inline std::string check_flow_loss(std::size_t n, std::uint64_t seed, const FlowLossKernels& kernels) {
  CAPTURE(seed);
  CAPTURE(n);
  auto pred = rounded(n, seed), target = rounded(n, seed + 1);
  // Squares of about 2/3 each: one element left out moves the mean by ~1/n, below rtol 1e-5 at
  // n = 2^18. Differences of 16 (exact in bf16) at the first, middle and last element weigh
  // 256 / n each, ~1e-3 of the loss: a sum that skips an end or a midpoint fails.
  for (const std::size_t i : {std::size_t{0}, n / 2, n - 1}) {
    pred[i] = 8.0;
    target[i] = -8.0;
  }
  const FlowLossOutputs out = kernels(to_bf16(pred), to_bf16(target), 0.5f);
  const double loss = ref::flow_loss(pred, target);
  const auto dpred = ref::flow_loss_bwd(pred, target, 0.5);
  CheckLog log;
  log.check("loss", std::vector<double>{out.loss}, std::vector<double>{loss}, {0.0, 1e-5});  // fp32 sum of n squares
  CHECK_MESSAGE(std::memcmp(&out.loss, &out.loss_again, sizeof(float)) == 0,
                "a second run gave loss " << out.loss_again << " after " << out.loss);
  log.check("dpred", to_double(std::span<const __nv_bfloat16>(out.dpred)), dpred, bf16_tolerance(dpred));
  return log.summary();
}

}  // namespace ecsim::test
