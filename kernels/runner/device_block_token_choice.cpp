// The token-choice MoE FFN of a DeviceBlock (the GShard/Switch baseline EC-DiT is compared with;
// model_ref/moe_ffn's token-choice path is the same math in fp64). Ops as the simulator lists them
// (simulator/model/moe_ops.cpp):
//   moe.router          gemm          logits [T, E] fp32
//   moe.route           tc_route      softmax, top-k per token, capacity in token order (tc_route.cuh)
//   moe.dispatch_gather permute       xp: with a capacity every expert's C rows (zeros where no pick
//                                     fills one), as the simulator's padded batched GEMM; dropless:
//                                     the kept rows packed, expert e's rows[e] of them
//   moe.expert_fc1/fc2  batched_gemm  [E, C, .] with a capacity
//                       grouped_gemm  ragged rows when dropless (a loop of cuBLASLt matmuls with an
//                                     algorithm per row bucket, ragged_gemm.cuh);
//                                     the per-expert row counts are copied to the host after the
//                                     route (inside its timed scope: E + 1 ints), as dropless MoE
//                                     implementations do
//   moe.expert_gelu     gelu
//   moe.combine         unpermute     y[t] = sum of t's kept picks' gate * output
// Expert parallelism is not built for token choice (run_config.cpp rejects it).
#include "bias.cuh"
#include "cuda_check.hpp"
#include "gelu.cuh"
#include "gemm.cuh"
#include "runner/device_block.hpp"
#include "tc_permute.cuh"

namespace ecsim::runner {

TokenChoiceRouting DeviceBlock::token_routing() const {
  return {tc_expert_.get(), gate_.get(), tc_row_.get(), tc_counts_.get(), tc_offsets_.get(),
          tc_row_assignment_.get()};
}

// The expert FFN's GEMM over this micro-batch's rows: batched over the capacity, or grouped.
void DeviceBlock::expert_gemm(const DeviceContext& ctx, const DeviceModel& m, model_ref::TensorRef w,
                              model_ref::TensorRef b, const bf16* x, std::int64_t n, std::int64_t k, bf16* y) const {
  const BlockShape& sh = shape_;
  if (sh.tc.padded) {
    batched_gemm(ctx.cublas, ctx.stream, sh.experts, {sh.tc.capacity, n, k}, x, m.param(w), y);
    bias_add(y, m.param(b), sh.experts, sh.tc.capacity, n, ctx.stream);
    return;
  }
  const GroupedGemmDims d{expert_rows_.data(), sh.experts, n, k};
  ctx.ragged_gemm->forward(ctx.stream, d, x, m.param(w), y);
  ragged_bias_add(y, m.param(b), expert_rows_.data(), sh.experts, n, ctx.stream);
}

// Its backward: dx = dy w^T (when dx is not null), dW (=|+=) x^T dy, db (=|+=) column sums of dy
// (ctx.weight_grads).
void DeviceBlock::expert_gemm_bwd(const DeviceContext& ctx, const DeviceModel& m, model_ref::TensorRef w,
                                  model_ref::TensorRef b, const bf16* x, const bf16* dy, std::int64_t n, std::int64_t k,
                                  bf16* dx) const {
  const BlockShape& sh = shape_;
  if (sh.tc.padded) {
    const GemmDims d{sh.tc.capacity, n, k};
    batched_gemm_dx(ctx.cublas, ctx.stream, sh.experts, d, dy, m.param(w), dx);
    m.grad(w).visit([&](auto* dw) {
      batched_gemm_dw(ctx.cublas, ctx.stream, sh.experts, d, x, dy, dw, ctx.weight_grads);
    });
    m.grad(b).visit([&](auto* db) {
      bias_grad(dy, db, sh.experts, sh.tc.capacity, n, ctx.weight_grads, ctx.column_partials, ctx.stream);
    });
    return;
  }
  const GroupedGemmDims d{expert_rows_.data(), sh.experts, n, k};
  ctx.ragged_gemm->dx(ctx.stream, d, dy, m.param(w), dx);
  m.grad(w).visit([&](auto* dw) { ctx.ragged_gemm->wgrad(ctx.stream, d, x, dy, dw, ctx.weight_grads); });
  m.grad(b).visit([&](auto* db) {
    ragged_bias_grad(dy, db, expert_rows_.data(), sh.experts, n, ctx.weight_grads, ctx.column_partials, ctx.stream);
  });
}

std::int64_t DeviceBlock::expert_rows_total() const {
  std::int64_t total = 0;
  for (const std::int64_t r : expert_rows_) total += r;
  return total;
}

void DeviceBlock::token_choice_forward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m,
                                       std::int64_t mb) {
  const BlockShape& sh = shape_;
  const model_ref::ExpertsRef& ex = p_.moe_ffn.experts;
  const std::int64_t l = layer_;
  const Phase f = Phase::kForward;
  cudaStream_t st = ctx.stream;
  const TokenChoiceRouting r = token_routing();
  {
    auto op = timer.time("gemm", "moe.router", l, mb, f);
    linear_fwd(ctx, m, p_.moe_ffn.router, fn_.get(), sh.t, logits_.get());  // [T, E] fp32
  }
  {
    auto op = timer.time("tc_route", "moe.route", l, mb, f);
    tc_route(logits_.get(), probs_.get(), r, sh.tc, st);
    if (!sh.tc.padded) {
      // The grouped GEMMs take their row counts on the host.
      std::vector<int> offsets(static_cast<std::size_t>(sh.experts + 1));
      CUDA_CHECK(cudaMemcpyAsync(offsets.data(), r.offsets, offsets.size() * sizeof(int), cudaMemcpyDeviceToHost, st));
      CUDA_CHECK(cudaStreamSynchronize(st));
      for (std::size_t e = 0; e < expert_rows_.size(); ++e) expert_rows_[e] = offsets[e + 1] - offsets[e];
    }
  }
  {
    auto op = timer.time("permute", "moe.dispatch_gather", l, mb, f);
    tc_permute(fn_.get(), r, xe_.get(), sh.tc, sh.d, st);
  }
  const char* gemm_name = sh.tc.padded ? "batched_gemm" : "grouped_gemm";
  const std::int64_t rows = expert_rows_total();
  {
    auto op = timer.time(gemm_name, "moe.expert_fc1", l, mb, f);
    expert_gemm(ctx, m, ex.fc1_weight, ex.fc1_bias, xe_.get(), sh.ffn, sh.d, u_.get());
  }
  {
    auto op = timer.time("gelu", "moe.expert_gelu", l, mb, f);
    gelu_fwd(u_.get(), g_.get(), rows * sh.ffn, st);
  }
  {
    auto op = timer.time(gemm_name, "moe.expert_fc2", l, mb, f);
    expert_gemm(ctx, m, ex.fc2_weight, ex.fc2_bias, g_.get(), sh.d, sh.ffn, ye_.get());
  }
  {
    auto op = timer.time("unpermute", "moe.combine", l, mb, f);
    tc_unpermute(ye_.get(), r, yffn_.get(), sh.tc, sh.d, st);
  }
}

void DeviceBlock::token_choice_backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m,
                                        std::int64_t mb, BlockScratch& s) {
  const BlockShape& sh = shape_;
  const model_ref::ExpertsRef& ex = p_.moe_ffn.experts;
  const std::int64_t l = layer_;
  const Phase b = Phase::kBackward;
  cudaStream_t st = ctx.stream;
  const TokenChoiceRouting r = token_routing();
  const char* gemm_name = sh.tc.padded ? "batched_gemm" : "grouped_gemm";
  const std::int64_t rows = expert_rows_total();
  {
    auto op = timer.time("unpermute_bwd", "moe.combine", l, mb, b);
    tc_unpermute_bwd(ye_.get(), s.dy.get(), r, s.dye.get(), s.dgate.get(), sh.tc, sh.d, st);
  }
  {
    auto op = timer.time(gemm_name, "moe.expert_fc2", l, mb, b);
    expert_gemm_bwd(ctx, m, ex.fc2_weight, ex.fc2_bias, g_.get(), s.dye.get(), sh.d, sh.ffn, s.dg.get());
  }
  {
    auto op = timer.time("gelu_bwd", "moe.expert_gelu", l, mb, b);
    gelu_bwd(u_.get(), s.dg.get(), s.du.get(), rows * sh.ffn, st);
  }
  {
    auto op = timer.time(gemm_name, "moe.expert_fc1", l, mb, b);
    expert_gemm_bwd(ctx, m, ex.fc1_weight, ex.fc1_bias, xe_.get(), s.du.get(), sh.ffn, sh.d, s.dxe.get());
  }
  {
    auto op = timer.time("permute_bwd", "moe.dispatch_gather", l, mb, b);
    tc_permute_bwd(s.dxe.get(), r, s.dnorm.get(), sh.tc, sh.d, st);
  }
  router_backward(ctx, timer, m, mb, s, "tc_route_bwd",
                  [&] { tc_gate_bwd(probs_.get(), s.dgate.get(), r, s.dprobs.get(), sh.tc, st); });
}

}  // namespace ecsim::runner
