// The expert-choice MoE FFN of a DeviceBlock (EC-DiT's; model_ref/moe_ffn's expert-choice path is
// the same math in fp64): router, ec_route, gather, the experts as strided-batched GEMMs over C
// rows per (expert, group), the deterministic combine; with ep > 1 the dispatch and combine
// exchanges (device_block.hpp).
#include "bias.cuh"
#include "cast.cuh"
#include "ec_permute.cuh"
#include "gelu.cuh"
#include "gemm.cuh"
#include "router_softmax.cuh"
#include "runner/device_block.hpp"

namespace ecsim::runner {

void DeviceBlock::expert_choice_forward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m,
                                        std::int64_t mb) {
  const BlockShape& sh = shape_;
  const std::int64_t l = layer_;
  const Phase f = Phase::kForward;
  cudaStream_t st = ctx.stream;
  const model_ref::ExpertsRef& ex = p_.moe_ffn.experts;
  {
    auto op = timer.time("gemm", "moe.router", l, mb, f);
    linear_fwd(ctx, m, p_.moe_ffn.router, fn_.get(), sh.t, logits_.get());  // [T, E] fp32
  }
  {
    auto op = timer.time("ec_route", "moe.route", l, mb, f);
    ec_route(logits_.get(), probs_.get(), token_.get(), gate_.get(), slot_of_.get(), sh.routing, st);
  }
  {
    auto op = timer.time("permute", "moe.dispatch_gather", l, mb, f);
    ec_gather(fn_.get(), token_.get(), xe_.get(), sh.routing, sh.d, st);  // [E, groups C, d]
  }
  const std::int64_t experts_here = sh.shard.count;
  bf16* xin = expert_parallel() ? xl_.get() : xe_.get();  // [E/ep, ep groups C, d]
  bf16* yout = expert_parallel() ? yl_.get() : ye_.get();
  if (expert_parallel()) {
    auto op = timer.time("all_to_all", "ep.dispatch", l, mb, f);
    exchange(xe_.get(), xl_.get(), ProcessGroup::Exchange::kToOwners, st);
  }
  {
    auto op = timer.time("batched_gemm", "moe.expert_fc1", l, mb, f);
    // Each expert's bias in the product's epilogue (gemm_bias.cuh).
    ctx.gemm_bias->run_batched(st, experts_here, {sh.local_rows, sh.ffn, sh.d}, xin, m.param(ex.fc1_weight),
                               m.param(ex.fc1_bias), u_.get());
  }
  {
    auto op = timer.time("gelu", "moe.expert_gelu", l, mb, f);
    gelu_fwd(u_.get(), g_.get(), sh.slots * sh.ffn, st);
  }
  {
    auto op = timer.time("batched_gemm", "moe.expert_fc2", l, mb, f);
    ctx.gemm_bias->run_batched(st, experts_here, {sh.local_rows, sh.d, sh.ffn}, g_.get(), m.param(ex.fc2_weight),
                               m.param(ex.fc2_bias), yout);
  }
  if (expert_parallel()) {
    auto op = timer.time("all_to_all", "ep.combine", l, mb, f);
    exchange(yl_.get(), ye_.get(), ProcessGroup::Exchange::kFromOwners, st);
  }
  {
    auto op = timer.time("unpermute", "moe.combine", l, mb, f);
    ec_combine(ye_.get(), slot_of_.get(), gate_.get(), yffn_.get(), sh.routing, sh.d, st);
  }
}

void DeviceBlock::expert_choice_backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m,
                                         std::int64_t mb, BlockScratch& s) {
  const BlockShape& sh = shape_;
  const std::int64_t l = layer_;
  const Phase b = Phase::kBackward;
  cudaStream_t st = ctx.stream;
  const model_ref::ExpertsRef& ex = p_.moe_ffn.experts;
  {
    auto op = timer.time("unpermute_bwd", "moe.combine", l, mb, b);
    ec_combine_bwd(ye_.get(), s.dy.get(), token_.get(), gate_.get(), s.dye.get(), s.dgate.get(), sh.routing, sh.d,
                   st);
  }
  const std::int64_t experts_here = sh.shard.count;
  const bf16* xin = expert_parallel() ? xl_.get() : xe_.get();  // [E/ep, ep groups C, d]
  bf16* dyin = expert_parallel() ? s.dyl.get() : s.dye.get();
  bf16* dxout = expert_parallel() ? s.dxl.get() : s.dxe.get();
  if (expert_parallel()) {
    // The combine's mirror: each output row's gradient goes to the rank whose expert computed it.
    auto op = timer.time("all_to_all", "ep.combine", l, mb, b);
    exchange(s.dye.get(), s.dyl.get(), ProcessGroup::Exchange::kToOwners, st);
  }
  {
    auto op = timer.time("batched_gemm", "moe.expert_fc2", l, mb, b);
    const GemmDims d2{sh.local_rows, sh.d, sh.ffn};
    batched_gemm_dx(ctx.cublas, st, experts_here, d2, dyin, m.param(ex.fc2_weight), s.dg.get());
    m.grad(ex.fc2_weight).visit([&](auto* dw) {
      batched_gemm_dw(ctx.cublas, st, experts_here, d2, g_.get(), dyin, dw, ctx.weight_grads);
    });
    m.grad(ex.fc2_bias).visit([&](auto* db) {
      bias_grad(dyin, db, experts_here, sh.local_rows, sh.d, ctx.weight_grads, ctx.column_partials, st);
    });
  }
  {
    auto op = timer.time("gelu_bwd", "moe.expert_gelu", l, mb, b);
    gelu_bwd(u_.get(), s.dg.get(), s.du.get(), sh.slots * sh.ffn, st);
  }
  {
    auto op = timer.time("batched_gemm", "moe.expert_fc1", l, mb, b);
    const GemmDims d1{sh.local_rows, sh.ffn, sh.d};
    batched_gemm_dx(ctx.cublas, st, experts_here, d1, s.du.get(), m.param(ex.fc1_weight), dxout);
    m.grad(ex.fc1_weight).visit([&](auto* dw) {
      batched_gemm_dw(ctx.cublas, st, experts_here, d1, xin, s.du.get(), dw, ctx.weight_grads);
    });
    m.grad(ex.fc1_bias).visit([&](auto* db) {
      bias_grad(s.du.get(), db, experts_here, sh.local_rows, sh.ffn, ctx.weight_grads, ctx.column_partials, st);
    });
  }
  if (expert_parallel()) {
    // The dispatch's mirror: the input rows' gradients go back to the ranks that routed them.
    auto op = timer.time("all_to_all", "ep.dispatch", l, mb, b);
    exchange(s.dxl.get(), s.dxe.get(), ProcessGroup::Exchange::kFromOwners, st);
  }
  {
    auto op = timer.time("permute_bwd", "moe.dispatch_gather", l, mb, b);
    ec_gather_bwd(s.dxe.get(), slot_of_.get(), s.dnorm.get(), sh.routing, sh.d, st);
  }
  router_backward(ctx, timer, m, mb, s, "ec_route_bwd",
                  [&] { ec_gate_bwd(s.dgate.get(), slot_of_.get(), s.dprobs.get(), sh.routing, st); });
}

void DeviceBlock::router_backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, std::int64_t mb,
                                  BlockScratch& s, const char* route_bwd, const std::function<void()>& gate_bwd) {
  const BlockShape& sh = shape_;
  const Phase b = Phase::kBackward;
  cudaStream_t st = ctx.stream;
  {
    // Through the gates: d affinity -> d logits (fp32), rounded once for the router's bf16 GEMMs.
    auto op = timer.time(route_bwd, "moe.route", layer_, mb, b);
    gate_bwd();
    router_softmax_bwd(probs_.get(), s.dprobs.get(), s.dlogits.get(), sh.t, sh.experts, st);
    cast_fp32_to_bf16(s.dlogits.get(), s.dlogits_bf16.get(), sh.t * sh.experts, st);
  }
  {
    auto op = timer.time("gemm", "moe.router", layer_, mb, b);
    // The router's input gradient joins the experts' path (s.dnorm) in the GEMM itself.
    linear_bwd(ctx, m, p_.moe_ffn.router, fn_.get(), s.dlogits_bf16.get(), sh.t, s.dnorm.get(),
               GradientWrite::kAccumulate);
  }
}

}  // namespace ecsim::runner
