// One function per kernel family (kernel_runs.hpp): the profile key's shape -> the launcher's
// arguments. Where a key does not carry every dimension a launcher needs, the choice is stated:
//   adaln_layernorm, layernorm,      -> B = tokens / 128 images where 128 divides
//     gate_residual {tokens, hidden}
//   permute {rows, hidden}           -> expert choice with f_c = 2: T = rows / 2 tokens, 8 experts,
//   unpermute {rows, tokens, hidden}    groups of up to 1024 tokens, C = G / 4: a real routing of
//                                       random logits, made once (the gathers' indices)
//   grouped_gemm {groups, m_total}   -> m_total split as evenly as the groups allow (the
//                                       simulator's dropless token choice: uniform loads)
//   tc_route {tokens, experts, top_k} -> dropless, gates not normalized (a capacity changes which
//                                       rows are written, not the work), random logits
// The simulator's gemm keys come from three launchers: forward (bf16 output), dX (bf16) and dW
// (fp32, overwritten); the planned call's role says which. A linear layer's bias is its own family
// (bias_add {rows, n}: y += b; bias_add_bwd: the column sums into fp32), in one launch over all
// rows as for a plain or batched product (a ragged product's runner loops over its groups).
#include "profiler/kernel_runs.hpp"

#include <cuda_bf16.h>

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>
#include <utility>

#include "adaln_layernorm.cuh"
#include "adamw.cuh"
#include "bias.cuh"
#include "cast.cuh"
#include "cost/kernel_sweep.hpp"  // runner_optimizer_recipes
#include "ec_permute.cuh"
#include "ec_route.cuh"
#include "flow_loss.cuh"
#include "gate_residual.cuh"
#include "gelu.cuh"
#include "gemm.cuh"
#include "residual_add.cuh"
#include "router_softmax.cuh"
#include "silu.cuh"
#include "tc_route.cuh"
#if __has_include("attention.cuh")
#include "attention.cuh"
#define ECSIM_PROFILE_ATTENTION 1
#endif

namespace ecsim::profiler {
namespace {

using bf16 = __nv_bfloat16;

constexpr std::int64_t kImageTokens = 128;  // tokens per image in training (MaskDiT masking of 256)
constexpr std::int64_t kRouteExperts = 8;
constexpr std::int64_t kMaxRouteGroup = 1024;
constexpr float kLayerNormEps = 1e-6f;

std::size_t count(std::int64_t n) { return static_cast<std::size_t>(n); }
Operand bf16_in(std::int64_t n) { return {Fill::kUniformBf16, count(n) * sizeof(bf16)}; }
Operand bf16_unit_in(std::int64_t n) { return {Fill::kUnitBf16, count(n) * sizeof(bf16)}; }
Operand fp32_in(std::int64_t n) { return {Fill::kUniformFp32, count(n) * sizeof(float)}; }
Operand bf16_out(std::int64_t n) { return {Fill::kScratch, count(n) * sizeof(bf16)}; }
Operand fp32_out(std::int64_t n) { return {Fill::kScratch, count(n) * sizeof(float)}; }
Operand int_out(std::int64_t n) { return {Fill::kScratch, count(n) * sizeof(int)}; }

std::int64_t dim(const OpShape& s, const char* name) {
  auto it = s.find(name);
  if (it == s.end()) throw UnsupportedShape(std::string("shape has no dimension '") + name + "'");
  return it->second;
}

bool is_backward(const PlannedCall& c) { return c.role != KernelRole::kForward; }

// A weight gradient's product into bf16 gradients (profile dtype bf16_grads_bf16).
bool bf16_gradients(const PlannedCall& c) { return c.call.dtype == weight_grad_dtype(Dtype::kBf16); }

// Images x tokens per image for `tokens` rows.
std::pair<std::int64_t, std::int64_t> images(std::int64_t tokens) {
  if (tokens % kImageTokens == 0) return {tokens / kImageTokens, kImageTokens};
  return {1, tokens};
}

// --- memory-bound families ---------------------------------------------------------------------

// An elementwise activation (gelu, silu): y = f(x); dx = dy f'(x).
using ActivationFwd = void (*)(const bf16*, bf16*, std::int64_t, cudaStream_t);
using ActivationBwd = void (*)(const bf16*, const bf16*, bf16*, std::int64_t, cudaStream_t);
KernelRun activation_run(const PlannedCall& c, ActivationFwd fwd, ActivationBwd bwd) {
  const std::int64_t n = dim(c.call.shape, "elements");
  if (!is_backward(c)) {
    return {{bf16_in(n), bf16_out(n)},
            [n, fwd](const OperandSet& o, cudaStream_t s) { fwd(o.at<bf16>(0), o.at<bf16>(1), n, s); },
            nullptr};
  }
  return {{bf16_in(n), bf16_in(n), bf16_out(n)},
          [n, bwd](const OperandSet& o, cudaStream_t s) { bwd(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), n, s); },
          nullptr};
}

// The plain residual add (cross_attn.residual without modulation). Its backward runs nothing: the
// gradient passes through, and the norm's backward adds it to its own (layernorm_run).
KernelRun residual_add_run(const PlannedCall& c) {
  const std::int64_t n = dim(c.call.shape, "elements");
  return {{bf16_in(n), bf16_in(n), bf16_out(n)},
          [n](const OperandSet& o, cudaStream_t s) { residual_add(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), n, s); },
          nullptr};
}

KernelRun gate_residual_run(const PlannedCall& c) {
  const std::int64_t hidden = dim(c.call.shape, "hidden");
  const std::pair<std::int64_t, std::int64_t> image_rows = images(dim(c.call.shape, "tokens"));
  const std::int64_t batch = image_rows.first, seq = image_rows.second;
  const std::int64_t n = batch * seq * hidden, nv = batch * hidden;
  if (!is_backward(c)) {
    return {{bf16_in(n), bf16_in(n), bf16_in(nv), bf16_out(n)},
            [=](const OperandSet& o, cudaStream_t s) {
              gate_residual_fwd(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(3), batch, seq, hidden, s);
            },
            nullptr};
  }
  return {{bf16_in(n), bf16_in(nv), bf16_in(n), bf16_out(n), bf16_out(nv), fp32_out(kColumnSumPartials)},
          [=](const OperandSet& o, cudaStream_t s) {
            gate_residual_bwd(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(3), o.at<bf16>(4),
                              o.at<float>(5), batch, seq, hidden, s);
          },
          nullptr};
}

// LayerNorm over [batch, seq, hidden] with the adaLN modulation; the plain layernorm (cross_attn.norm
// without modulation) is the same kernel with zero shift and scale and, backward, no dshift and
// dscale (`modulated` false), as the runner runs it. The backward adds the residual path's gradient
// to dx, as a block's norms do (all but the final norm).
KernelRun layernorm_run(const PlannedCall& c, std::int64_t batch, std::int64_t seq, std::int64_t hidden,
                        bool modulated) {
  const std::int64_t tokens = batch * seq, n = tokens * hidden, nv = batch * hidden;
  if (!is_backward(c)) {
    // x, shift, scale -> y, mean, rstd
    return {{bf16_in(n), bf16_in(nv), bf16_in(nv), bf16_out(n), fp32_out(tokens), fp32_out(tokens)},
            [=](const OperandSet& o, cudaStream_t s) {
              adaln_layernorm_fwd(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(3), o.at<float>(4),
                                  o.at<float>(5), batch, seq, hidden, kLayerNormEps, s);
            },
            nullptr};
  }
  // x, scale, mean, rstd, dy, dresidual -> dx, dshift, dscale (partials: their row chunks)
  return {{bf16_in(n), bf16_in(nv), fp32_in(tokens), fp32_in(tokens), bf16_in(n), bf16_in(n), bf16_out(n),
           bf16_out(nv), bf16_out(nv), fp32_out(kAdaLnBwdPartials)},
          [=](const OperandSet& o, cudaStream_t s) {
            adaln_layernorm_bwd(o.at<bf16>(0), o.at<bf16>(1), o.at<float>(2), o.at<float>(3), o.at<bf16>(4),
                                o.at<bf16>(5), o.at<bf16>(6), modulated ? o.at<bf16>(7) : nullptr,
                                modulated ? o.at<bf16>(8) : nullptr, modulated ? o.at<float>(9) : nullptr, batch, seq,
                                hidden, s);
          },
          nullptr};
}

// adaln_layernorm and layernorm, keyed {tokens, hidden}.
KernelRun norm_run(const PlannedCall& c, bool modulated) {
  const std::int64_t tokens = dim(c.call.shape, "tokens"), hidden = dim(c.call.shape, "hidden");
  const auto [batch, seq] = images(tokens);
  return layernorm_run(c, batch, seq, hidden, modulated);
}

KernelRun flow_loss_run(const PlannedCall& c) {
  const std::int64_t n = dim(c.call.shape, "elements");
  if (!is_backward(c)) {
    return {{bf16_in(n), bf16_in(n), fp32_out(kFlowLossPartials), fp32_out(1)},
            [n](const OperandSet& o, cudaStream_t s) {
              flow_loss_fwd(o.at<bf16>(0), o.at<bf16>(1), o.at<float>(2), o.at<float>(3), n, s);
            },
            nullptr};
  }
  return {{bf16_in(n), bf16_in(n), bf16_out(n)},
          [n](const OperandSet& o, cudaStream_t s) {
            flow_loss_bwd(o.at<bf16>(0), o.at<bf16>(1), 1.0f, o.at<bf16>(2), n, s);
          },
          nullptr};
}

// AdamW over n parameters from a gradient of type Grad: param, m, v updated in place, the
// gradient only read. With fp32 state, masters and moments fp32 (the fp32 pool holds [0, 1)) and
// the bf16 copy out; with bf16 state, weights and first moments bf16 in [-1, 1), second moments
// in [0, 1) (Fill::kUnitBf16: a negative one gives NaNs, whose sqrt and division take slow paths).
// Either way every value stays finite, as in training, run after run.
template <class Grad>
KernelRun adamw_recipe_run(std::int64_t n, bool bf16_state) {
  const Operand grad = std::is_same_v<Grad, float> ? fp32_in(n) : bf16_in(n);
  if (bf16_state) {
    return {{bf16_in(n), grad, bf16_in(n), bf16_unit_in(n)},
            [n](const OperandSet& o, cudaStream_t s) {
              adamw_step_bf16(AdamWHyperparameters{}, 1, o.at<bf16>(0), o.at<Grad>(1), o.at<bf16>(2), o.at<bf16>(3),
                              n, s);
            },
            nullptr};
  }
  return {{fp32_in(n), grad, fp32_in(n), fp32_in(n), bf16_out(n)},
          [n](const OperandSet& o, cudaStream_t s) {
            adamw_step(AdamWHyperparameters{}, 1, o.at<float>(0), o.at<Grad>(1), o.at<float>(2), o.at<float>(3),
                       o.at<bf16>(4), n, s);
          },
          nullptr};
}

// The recipes ecsim-run keeps (runner_optimizer_recipes), by their profile dtype.
KernelRun adamw_run(const PlannedCall& c) {
  const std::int64_t n = dim(c.call.shape, "params");
  for (const OptimizerSpec& recipe : runner_optimizer_recipes()) {
    if (optimizer_kernel(1, recipe).dtype != c.call.dtype) continue;
    const bool bf16_state = recipe.master == Dtype::kBf16;
    return recipe.grads == Dtype::kBf16 ? adamw_recipe_run<bf16>(n, bf16_state)
                                        : adamw_recipe_run<float>(n, bf16_state);
  }
  throw UnsupportedShape("adamw: no kernel for the recipe " + c.call.dtype);
}

// --- expert-choice routing ---------------------------------------------------------------------

// A routing made once from random logits: the indices the gathers and the gate backward read.
struct Routing {
  ExpertChoiceDims dims;
  DeviceAllocation logits, probs, token, gate, slot_of;
};

std::shared_ptr<Routing> make_routing(const ExpertChoiceDims& d, const RunContext& ctx) {
  check_expert_choice_dims(d, "profiler routing");
  auto r = std::make_shared<Routing>();
  r->dims = d;
  const std::int64_t te = d.tokens * d.experts, slots = d.slots();
  r->logits = DeviceAllocation(count(te) * sizeof(float));
  r->probs = DeviceAllocation(count(te) * sizeof(float));
  r->token = DeviceAllocation(count(slots) * sizeof(int));
  r->gate = DeviceAllocation(count(slots) * sizeof(float));
  r->slot_of = DeviceAllocation(count(te) * sizeof(int));
  fill_uniform_fp32(r->logits.get(), count(te), ctx.seed ^ 0x5EEDull, ctx.stream);
  ec_route(r->logits.as<float>(), r->probs.as<float>(), r->token.as<int>(), r->gate.as<float>(),
           r->slot_of.as<int>(), d, ctx.stream);
  return r;
}

// Expert choice with f_c = 2 over 8 experts: `rows` = 2 T slots.
ExpertChoiceDims dims_for_slots(std::int64_t rows) {
  if (rows % 2 != 0) throw UnsupportedShape(std::to_string(rows) + " rows is not 2 x tokens");
  const std::int64_t tokens = rows / 2;
  for (std::int64_t g = kMaxRouteGroup; g >= 4; g /= 2) {
    if (tokens % g == 0) return {tokens, kRouteExperts, g, 2 * g / kRouteExperts};
  }
  throw UnsupportedShape(std::to_string(tokens) + " tokens split into no group of 4..1024 tokens");
}

KernelRun ec_route_run(const PlannedCall& c, const RunContext& ctx) {
  const OpShape& s = c.call.shape;
  const ExpertChoiceDims d{dim(s, "tokens"), dim(s, "experts"), dim(s, "group"), dim(s, "capacity")};
  check_expert_choice_dims(d, "ec_route");
  const std::int64_t te = d.tokens * d.experts, slots = d.slots();
  if (!is_backward(c)) {
    // logits -> probs, token, gate, slot_of
    return {{fp32_in(te), fp32_out(te), int_out(slots), fp32_out(slots), int_out(te)},
            [d](const OperandSet& o, cudaStream_t st) {
              ec_route(o.at<float>(0), o.at<float>(1), o.at<int>(2), o.at<float>(3), o.at<int>(4), d, st);
            },
            nullptr};
  }
  // dgate -> dprobs (scatter through slot_of), then the softmax backward with probs -> dlogits.
  auto routing = make_routing(d, ctx);
  const int* slot_of = routing->slot_of.as<int>();
  return {{fp32_in(slots), fp32_in(te), fp32_out(te), fp32_out(te), bf16_out(te)},
          [d, slot_of](const OperandSet& o, cudaStream_t st) {
            ec_gate_bwd(o.at<float>(0), slot_of, o.at<float>(2), d, st);
            router_softmax_bwd(o.at<float>(1), o.at<float>(2), o.at<float>(3), d.tokens, d.experts, st);
            cast_fp32_to_bf16(o.at<float>(3), o.at<bf16>(4), d.tokens * d.experts, st);  // for the router's GEMMs
          },
          routing};
}

KernelRun permute_run(const PlannedCall& c, const RunContext& ctx) {
  const std::int64_t rows = dim(c.call.shape, "rows"), hidden = dim(c.call.shape, "hidden");
  auto routing = make_routing(dims_for_slots(rows), ctx);
  const ExpertChoiceDims d = routing->dims;
  const std::int64_t n = d.tokens * hidden, ns = d.slots() * hidden;
  if (!is_backward(c)) {
    const int* token = routing->token.as<int>();
    return {{bf16_in(n), bf16_out(ns)},
            [=](const OperandSet& o, cudaStream_t s) { ec_gather(o.at<bf16>(0), token, o.at<bf16>(1), d, hidden, s); },
            routing};
  }
  const int* slot_of = routing->slot_of.as<int>();
  return {{bf16_in(ns), bf16_out(n)},
          [=](const OperandSet& o, cudaStream_t s) {
            ec_gather_bwd(o.at<bf16>(0), slot_of, o.at<bf16>(1), d, hidden, s);
          },
          routing};
}

KernelRun unpermute_run(const PlannedCall& c, const RunContext& ctx) {
  const std::int64_t rows = dim(c.call.shape, "rows"), tokens = dim(c.call.shape, "tokens");
  const std::int64_t hidden = dim(c.call.shape, "hidden");
  if (rows != 2 * tokens) {
    throw UnsupportedShape("unpermute of " + std::to_string(rows) + " rows to " + std::to_string(tokens) +
                           " tokens is not expert choice with f_c = 2");
  }
  auto routing = make_routing(dims_for_slots(rows), ctx);
  const ExpertChoiceDims d = routing->dims;
  const std::int64_t n = d.tokens * hidden, ns = d.slots() * hidden;
  const int* token = routing->token.as<int>();
  const int* slot_of = routing->slot_of.as<int>();
  const float* gate = routing->gate.as<float>();
  if (!is_backward(c)) {
    return {{bf16_in(ns), bf16_out(n)},
            [=](const OperandSet& o, cudaStream_t s) {
              ec_combine(o.at<bf16>(0), slot_of, gate, o.at<bf16>(1), d, hidden, s);
            },
            routing};
  }
  // ye, dy -> dye, dgate
  return {{bf16_in(ns), bf16_in(n), bf16_out(ns), fp32_out(d.slots())},
          [=](const OperandSet& o, cudaStream_t s) {
            ec_combine_bwd(o.at<bf16>(0), o.at<bf16>(1), token, gate, o.at<bf16>(2), o.at<float>(3), d, hidden, s);
          },
          routing};
}

// --- token-choice routing ---------------------------------------------------------------------

// A token-choice routing made once from random logits: the picks and gates the gate backward reads.
struct TokenRouting {
  TokenChoiceDims dims;
  DeviceAllocation logits, probs, expert, gate, row, counts, offsets, row_assignment;
  TokenChoiceRouting view() const {
    return {expert.as<int>(), gate.as<float>(), row.as<int>(), counts.as<int>(), offsets.as<int>(),
            row_assignment.as<int>()};
  }
};

std::shared_ptr<TokenRouting> make_token_routing(const TokenChoiceDims& d, const RunContext& ctx) {
  auto r = std::make_shared<TokenRouting>();
  r->dims = d;
  const std::int64_t te = d.tokens * d.experts, picks = d.assignments();
  r->logits = DeviceAllocation(count(te) * sizeof(float));
  r->probs = DeviceAllocation(count(te) * sizeof(float));
  r->expert = DeviceAllocation(count(picks) * sizeof(int));
  r->gate = DeviceAllocation(count(picks) * sizeof(float));
  r->row = DeviceAllocation(count(picks) * sizeof(int));
  r->counts = DeviceAllocation(count(d.experts) * sizeof(int));
  r->offsets = DeviceAllocation(count(d.experts + 1) * sizeof(int));
  r->row_assignment = DeviceAllocation(count(d.max_rows()) * sizeof(int));
  fill_uniform_fp32(r->logits.get(), count(te), ctx.seed ^ 0x70CEull, ctx.stream);
  tc_route(r->logits.as<float>(), r->probs.as<float>(), r->view(), d, ctx.stream);
  return r;
}

KernelRun tc_route_run(const PlannedCall& c, const RunContext& ctx) {
  const OpShape& s = c.call.shape;
  const TokenChoiceDims d{dim(s, "tokens"), dim(s, "experts"), dim(s, "top_k"), -1, false};
  check_token_choice_dims(d, "tc_route");
  const std::int64_t te = d.tokens * d.experts, picks = d.assignments();
  if (!is_backward(c)) {
    // logits -> probs, expert, gate, row, counts, offsets, row_assignment
    return {{fp32_in(te), fp32_out(te), int_out(picks), fp32_out(picks), int_out(picks), int_out(d.experts),
             int_out(d.experts + 1), int_out(d.max_rows())},
            [d](const OperandSet& o, cudaStream_t st) {
              const TokenChoiceRouting r{o.at<int>(2), o.at<float>(3), o.at<int>(4),
                                         o.at<int>(5), o.at<int>(6),   o.at<int>(7)};
              tc_route(o.at<float>(0), o.at<float>(1), r, d, st);
            },
            nullptr};
  }
  // dgate -> dprobs (at the picks), then the softmax backward with probs -> dlogits.
  auto routing = make_token_routing(d, ctx);
  return {{fp32_in(picks), fp32_in(te), fp32_out(te), fp32_out(te), bf16_out(te)},
          [d, routing = routing.get()](const OperandSet& o, cudaStream_t st) {
            tc_gate_bwd(o.at<float>(1), o.at<float>(0), routing->view(), o.at<float>(2), d, st);
            router_softmax_bwd(o.at<float>(1), o.at<float>(2), o.at<float>(3), d.tokens, d.experts, st);
            cast_fp32_to_bf16(o.at<float>(3), o.at<bf16>(4), d.tokens * d.experts, st);  // for the router's GEMMs
          },
          routing};
}

// --- matrix products ---------------------------------------------------------------------------

KernelRun bias_run(const PlannedCall& c) {
  const std::int64_t rows = dim(c.call.shape, "rows"), n = dim(c.call.shape, "n");
  if (!is_backward(c)) {
    // y [rows, n] += b [n], in place (the pool's values drift by at most a bias per run)
    return {{bf16_in(rows * n), bf16_in(n)},
            [=](const OperandSet& o, cudaStream_t st) { bias_add(o.at<bf16>(0), o.at<bf16>(1), 1, rows, n, st); },
            nullptr};
  }
  return {{bf16_in(rows * n), fp32_out(n), fp32_out(kColumnSumPartials)},
          [=](const OperandSet& o, cudaStream_t st) {
            bias_grad(o.at<bf16>(0), o.at<float>(1), 1, rows, n, GradientWrite::kOverwrite, o.at<float>(2), st);
          },
          nullptr};
}

// A dense or uniform-batched weight gradient, written to a Grad (float or bf16) gradient as the
// runner's first micro-batch of a step writes it (the later ones add to it: the simulator prices
// their read of the old gradient on top).
template <class Grad>
KernelRun weight_grad_run(cublasHandle_t h, std::int64_t batch, const GemmDims& d, bool batched) {
  const Operand dw = std::is_same_v<Grad, float> ? fp32_out(batch * d.k * d.n) : bf16_out(batch * d.k * d.n);
  return {{bf16_in(batch * d.m * d.k), bf16_in(batch * d.m * d.n), dw},
          [=](const OperandSet& o, cudaStream_t st) {
            if (batched) {
              batched_gemm_dw(h, st, batch, d, o.at<bf16>(0), o.at<bf16>(1), o.at<Grad>(2), GradientWrite::kOverwrite);
            } else {
              gemm_dw(h, st, d, o.at<bf16>(0), o.at<bf16>(1), o.at<Grad>(2), GradientWrite::kOverwrite);
            }
          },
          nullptr};
}

KernelRun gemm_run(const PlannedCall& c, const RunContext& ctx) {
  const OpShape& s = c.op_shape;
  const GemmDims d{dim(s, "m"), dim(s, "n"), dim(s, "k")};
  const std::int64_t batch = c.family == "batched_gemm" ? dim(s, "batch") : 1;
  const bool batched = c.family == "batched_gemm";
  const std::int64_t mk = batch * d.m * d.k, kn = batch * d.k * d.n, mn = batch * d.m * d.n;
  cublasHandle_t h = ctx.cublas;
  if (c.call.op == "gemm_bias" || c.call.op == "batched_gemm_bias") {
    // y = x w + b in one cuBLASLt product (a bias per batch entry), as the runner's biased linear
    // layers and expert-choice experts run forward.
    GemmBias* fused = ctx.gemm_bias;
    if (fused == nullptr) throw UnsupportedShape(c.call.op + " needs the session's cuBLASLt products");
    return {{bf16_in(mk), bf16_in(kn), bf16_in(batch * d.n), bf16_out(mn)},
            [=](const OperandSet& o, cudaStream_t st) {
              fused->run_batched(st, batch, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(3));
            },
            nullptr};
  }
  switch (c.role) {
    case KernelRole::kForward:
      return {{bf16_in(mk), bf16_in(kn), bf16_out(mn)},
              [=](const OperandSet& o, cudaStream_t st) {
                if (batched) {
                  batched_gemm(h, st, batch, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
                } else {
                  gemm(h, st, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
                }
              },
              nullptr};
    case KernelRole::kInputGrad:
      return {{bf16_in(mn), bf16_in(kn), bf16_out(mk)},
              [=](const OperandSet& o, cudaStream_t st) {
                if (batched) {
                  batched_gemm_dx(h, st, batch, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
                } else {
                  gemm_dx(h, st, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
                }
              },
              nullptr};
    case KernelRole::kWeightGrad:
      return bf16_gradients(c) ? weight_grad_run<bf16>(h, batch, d, batched)
                               : weight_grad_run<float>(h, batch, d, batched);
    case KernelRole::kBackward: break;
  }
  throw UnsupportedShape("a matrix product has no plain backward kernel");
}

// A ragged product's variants: first the runner's (RaggedGemm, its profile entry), then the two
// cuBLAS ways (GroupedGemmMethod), timed beside it for the report.
constexpr int kRaggedVariants = 3;
constexpr const char* kRunnerRaggedVariant = "lt_buckets";
GroupedGemmMethod cublas_method(int variant) {
  return variant == 1 ? GroupedGemmMethod::kGemmLoop : GroupedGemmMethod::kGroupedBatched;
}

// The group sizes: m_total split as evenly as `groups` allows.
std::shared_ptr<std::vector<std::int64_t>> even_rows(std::int64_t groups, std::int64_t total) {
  auto rows = std::make_shared<std::vector<std::int64_t>>(count(groups), total / groups);
  for (std::int64_t g = 0; g < total % groups; ++g) ++(*rows)[count(g)];
  return rows;
}

// Ragged groups' weight gradients, written to a Grad (float or bf16) gradient as the runner's
// first micro-batch runs them (weight_grad_run).
template <class Grad>
KernelRun ragged_weight_grad_run(RaggedGemm* ragged, const GroupedGemmDims& d,
                                 std::shared_ptr<std::vector<std::int64_t>> rows) {
  std::int64_t total = 0;
  for (const std::int64_t r : *rows) total += r;
  const std::int64_t dw = d.groups * d.k * d.n;
  return {{bf16_in(total * d.k), bf16_in(total * d.n), std::is_same_v<Grad, float> ? fp32_out(dw) : bf16_out(dw)},
          [=](const OperandSet& o, cudaStream_t st) {
            ragged->wgrad(st, d, o.at<bf16>(0), o.at<bf16>(1), o.at<Grad>(2), GradientWrite::kOverwrite);
          },
          std::move(rows)};
}

KernelRun grouped_run(const PlannedCall& c, int variant, const RunContext& ctx) {
  const OpShape& s = c.op_shape;  // the forward operator: {groups, m_total, n, k}
  const std::int64_t groups = dim(s, "groups"), total = dim(s, "m_total");
  const std::int64_t n = dim(s, "n"), k = dim(s, "k");
  auto rows = even_rows(groups, total);
  const GroupedGemmDims d{rows->data(), groups, n, k};
  cublasHandle_t h = ctx.cublas;
  RaggedGemm* ragged = ctx.ragged_gemm;
  if (ragged == nullptr) throw UnsupportedShape(c.call.op + " needs the session's cuBLASLt ragged products");
  if (c.role == KernelRole::kWeightGrad) {
    return bf16_gradients(c) ? ragged_weight_grad_run<bf16>(ragged, d, rows)
                             : ragged_weight_grad_run<float>(ragged, d, rows);
  }
  if (variant == 0) {
    if (c.role == KernelRole::kForward) {
      return {{bf16_in(total * k), bf16_in(groups * k * n), bf16_out(total * n)},
              [=](const OperandSet& o, cudaStream_t st) {
                ragged->forward(st, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
              },
              rows};
    }
    return {{bf16_in(total * n), bf16_in(groups * k * n), bf16_out(total * k)},
            [=](const OperandSet& o, cudaStream_t st) {
              ragged->dx(st, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
            },
            rows};
  }
  const GroupedGemmMethod method = cublas_method(variant);
  const std::size_t workspace = method == GroupedGemmMethod::kGroupedBatched ? grouped_gemm_workspace_bytes(groups) : 0;
  const Operand scratch{Fill::kScratch, workspace};
  if (c.role == KernelRole::kForward) {
    return {{bf16_in(total * k), bf16_in(groups * k * n), bf16_out(total * n), scratch},
            [=](const OperandSet& o, cudaStream_t st) {
              grouped_gemm(h, st, method, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2),
                           workspace > 0 ? o.at<void>(3) : nullptr, workspace);
            },
            rows};
  }
  return {{bf16_in(total * n), bf16_in(groups * k * n), bf16_out(total * k), scratch},
          [=](const OperandSet& o, cudaStream_t st) {
            grouped_gemm_dx(h, st, method, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2),
                            workspace > 0 ? o.at<void>(3) : nullptr, workspace);
          },
          rows};
}

#ifdef ECSIM_PROFILE_ATTENTION
// Attention over q, k and v where the runner keeps them (kernels/runner/device_block.cpp), read
// and their gradients written in place: self-attention (q_len = kv_len) in slices of the fused
// projection [B S, (H + 2 KVH) D]; cross-attention with q packed and k, v in slices of the fused
// [B L, 2 KVH D]. (Masked training's 128 image tokens against 128 text tokens take the self layout.)
// Until the sixth session of 2026-11-28 every entry was timed on packed q, k and v.
KernelRun attention_run(const PlannedCall& c) {
  const OpShape& s = c.call.shape;
  AttentionDims d;
  d.batch = dim(s, "batch");
  d.heads = dim(s, "heads");
  d.kv_heads = dim(s, "kv_heads");
  d.q_len = dim(s, "q_len");
  d.kv_len = dim(s, "kv_len");
  d.head_dim = dim(s, "head_dim");
  d.causal = dim(s, "causal") != 0;
  const std::int64_t qw = d.heads * d.head_dim, kvw = d.kv_heads * d.head_dim;
  const bool self = d.q_len == d.kv_len;
  d.q_row_stride = self ? qw + 2 * kvw : 0;
  d.kv_row_stride = self ? qw + 2 * kvw : 2 * kvw;
  check_attention_dims(d, c.call.op.c_str());
  const std::int64_t nq = d.q_elements(), nkv = d.kv_elements(), nl = d.lse_elements();
  // The q, k and v (or dq, dk, dv) pointers in a run's operands: one fused buffer at `first` (self),
  // or q at `first` and the fused k, v after it (cross).
  const auto slices = [qw, kvw, self](const OperandSet& o, std::size_t first) {
    bf16* q = o.at<bf16>(first);
    bf16* kv = self ? q + qw : o.at<bf16>(first + 1);
    return std::array<bf16*, 3>{q, kv, kv + kvw};
  };
  // q, k and v: one fused [B S, (H + 2 KVH) D] buffer, or q [B Sq, H D] and kv [B L, 2 KVH D].
  const auto qkv_operands = [&](auto make) -> std::vector<Operand> {
    if (self) return {make(nq + 2 * nkv)};
    return {make(nq), make(2 * nkv)};
  };
  const std::size_t n_qkv = self ? 1 : 2;
  if (!is_backward(c)) {
    // q, k, v -> out, lse
    std::vector<Operand> ops = qkv_operands(bf16_in);
    ops.insert(ops.end(), {bf16_out(nq), fp32_out(nl)});
    return {std::move(ops),
            [d, slices, n_qkv](const OperandSet& o, cudaStream_t st) {
              const auto in = slices(o, 0);
              flash_attention_forward(in[0], in[1], in[2], o.at<bf16>(n_qkv), o.at<float>(n_qkv + 1), d, st);
            },
            nullptr};
  }
  // q, k, v, out, lse, dout -> delta, dq, dk, dv
  std::vector<Operand> ops = qkv_operands(bf16_in);
  ops.insert(ops.end(), {bf16_in(nq), fp32_in(nl), bf16_in(nq), fp32_out(nl)});
  const std::vector<Operand> grads = qkv_operands(bf16_out);
  ops.insert(ops.end(), grads.begin(), grads.end());
  return {std::move(ops),
          [d, slices, n_qkv](const OperandSet& o, cudaStream_t st) {
            const auto in = slices(o, 0);
            const auto grad = slices(o, n_qkv + 4);
            flash_attention_backward(in[0], in[1], in[2], o.at<bf16>(n_qkv), o.at<float>(n_qkv + 1),
                                     o.at<bf16>(n_qkv + 2), o.at<float>(n_qkv + 3), grad[0], grad[1], grad[2], d, st);
          },
          nullptr};
}
#endif

bool is_grouped_data_grad(const PlannedCall& c) {
  return c.family == "grouped_gemm" && c.role != KernelRole::kWeightGrad;
}

}  // namespace

const std::vector<std::string>& kernel_families() {
  static const std::vector<std::string> families{
      "gemm",          "gemm_bias",         "gemm_wgrad",      "batched_gemm",        "batched_gemm_bias",
      "batched_gemm_wgrad", "grouped_gemm", "grouped_gemm_wgrad", "bias_add",       "bias_add_bwd",    "gelu",
      "gelu_bwd",      "silu",              "silu_bwd",        "residual_add",        "gate_residual",
      "gate_residual_bwd", "adaln_layernorm", "adaln_layernorm_bwd", "layernorm",     "layernorm_bwd",
      "flow_loss",     "flow_loss_bwd",     "adamw",           "ec_route",            "ec_route_bwd",
      "tc_route",      "tc_route_bwd",      "permute",         "permute_bwd",         "unpermute",
#ifdef ECSIM_PROFILE_ATTENTION
      "unpermute_bwd", "attention_fwd",     "attention_bwd"};
#else
      "unpermute_bwd"};
#endif
  return families;
}

bool has_kernel(const std::string& family) {
  const auto& f = kernel_families();
  return std::find(f.begin(), f.end(), family) != f.end();
}

int variant_count(const PlannedCall& call) { return is_grouped_data_grad(call) ? kRaggedVariants : 1; }

std::string variant_name(const PlannedCall& call, int variant) {
  if (!is_grouped_data_grad(call)) return "";
  return variant == 0 ? kRunnerRaggedVariant : grouped_gemm_method_name(cublas_method(variant));
}

KernelRun make_run(const PlannedCall& c, int variant, const RunContext& ctx) {
  const std::string& op = c.call.op;
  if (is_bias_kernel(op)) return bias_run(c);
  if (c.family == "gemm" || c.family == "batched_gemm") return gemm_run(c, ctx);
  if (c.family == "grouped_gemm") return grouped_run(c, variant, ctx);
  if (op == "gelu" || op == "gelu_bwd") return activation_run(c, gelu_fwd, gelu_bwd);
  if (op == "silu" || op == "silu_bwd") return activation_run(c, silu_fwd, silu_bwd);
  if (op == "residual_add") return residual_add_run(c);
  if (op == "layernorm" || op == "layernorm_bwd") return norm_run(c, false);
  if (op == "gate_residual" || op == "gate_residual_bwd") return gate_residual_run(c);
  if (op == "adaln_layernorm" || op == "adaln_layernorm_bwd") return norm_run(c, true);
  if (op == "flow_loss" || op == "flow_loss_bwd") return flow_loss_run(c);
  if (op == "adamw") return adamw_run(c);
  if (op == "ec_route" || op == "ec_route_bwd") return ec_route_run(c, ctx);
  if (op == "tc_route" || op == "tc_route_bwd") return tc_route_run(c, ctx);
  if (op == "permute" || op == "permute_bwd") return permute_run(c, ctx);
  if (op == "unpermute" || op == "unpermute_bwd") return unpermute_run(c, ctx);
#ifdef ECSIM_PROFILE_ATTENTION
  if (op == "attention_fwd" || op == "attention_bwd") return attention_run(c);
#endif
  throw UnsupportedShape("no kernel for family " + op);
}

}  // namespace ecsim::profiler
