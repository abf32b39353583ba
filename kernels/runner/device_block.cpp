#include "runner/device_block.hpp"

#include <algorithm>
#include <string>

#include "adaln_layernorm.cuh"
#include "cast.cuh"
#include "ec_permute.cuh"
#include "gate_residual.cuh"
#include "gelu.cuh"
#include "gemm.cuh"
#include "bias.cuh"
#include "model_ref/modulation.hpp"
#include "residual_add.cuh"
#include "router_softmax.cuh"
#include "precondition.hpp"

namespace ecsim::runner {
namespace {

using model_ref::kBlockVectors;
constexpr float kLayerNormEps = 1e-6f;  // DiT's, as ref::kAdaLnEps

template <class T>
DeviceArray<T> array(std::int64_t n) {
  return DeviceArray<T>(static_cast<std::size_t>(n));
}

}  // namespace

BlockShape::BlockShape(const model_ref::ModelConfig& c, std::int64_t images, const ExpertShard& own)
    : b(images),
      s(c.kept_tokens()),
      t(images * c.kept_tokens()),
      d(c.hidden),
      cond(c.cond_width),
      q_width(c.heads * c.head_dim),
      kv_width(c.kv_heads * c.head_dim),
      cross_kv_width(c.cross_kv_heads * c.head_dim),
      text_rows(images * c.text_tokens),
      ffn(c.ffn_width),
      experts(c.experts),
      slots(0),
      per_expert(0),
      shard(own) {
  // Attention reads q, k and v in place from the fused projections' outputs (qkv [T, (H + 2 KVH) D],
  // the cross-attention's kv [B L, 2 KVH D]) and writes their gradients in place into the fused
  // gradients: no copies, as the simulator's op model has none.
  self_attn = {b, c.heads, c.kv_heads, s, s, c.head_dim, false, q_width + 2 * kv_width, q_width + 2 * kv_width};
  cross_attn = {b, c.heads, c.cross_kv_heads, s, c.text_tokens, c.head_dim, false, 0, 2 * cross_kv_width};
  if (experts > 0 && c.routing == model_ref::Routing::kTokenChoice) {
    token_choice = true;
    tc = {t, experts, c.top_k, c.token_choice_capacity(t), false, !c.dropless()};
    slots = tc.max_rows();
    gates = tc.assignments();
  } else if (experts > 0) {
    routing = {t, experts, c.group_tokens, c.capacity()};
    slots = routing.slots();
    gates = slots;
    per_expert = routing.groups() * routing.capacity;
    local_rows = shard.ep * per_expert;  // shard.count local_rows = slots: the dispatch moves rows, never adds any
  }
}

BlockScratch::BlockScratch(const model_ref::ModelConfig& c, std::int64_t images, std::int64_t ep) {
  const BlockShape sh(c, images, {});
  const std::int64_t td = sh.t * sh.d;
  dy = array<bf16>(td);
  dnorm = array<bf16>(td);
  dx2 = array<bf16>(td);
  dx1 = array<bf16>(td);
  datt = array<bf16>(sh.t * sh.q_width);
  dqkv = array<bf16>(sh.t * (sh.q_width + 2 * sh.kv_width));
  if (c.has_cross_attention()) {
    dcq = array<bf16>(sh.t * sh.q_width);
    dckv = array<bf16>(sh.text_rows * 2 * sh.cross_kv_width);
  }
  delta = array<float>(sh.self_attn.lse_elements());
  const std::int64_t rows = std::max(sh.t, sh.slots);
  dg = array<bf16>(rows * sh.ffn);
  du = array<bf16>(rows * sh.ffn);
  if (sh.experts > 0) {
    dye = array<bf16>(sh.slots * sh.d);
    dxe = array<bf16>(sh.slots * sh.d);
    if (ep > 1) {
      dyl = array<bf16>(sh.slots * sh.d);
      dxl = array<bf16>(sh.slots * sh.d);
    }
    dgate = array<float>(sh.gates);
    dprobs = array<float>(sh.t * sh.experts);
    dlogits = array<float>(sh.t * sh.experts);
    dlogits_bf16 = array<bf16>(sh.t * sh.experts);
  }
  dmod = array<bf16>(sh.b * kBlockVectors * sh.d);
}

DeviceBlock::DeviceBlock(const model_ref::ModelConfig& c, const model_ref::BlockRefs& refs, std::int64_t layer,
                         std::int64_t images, const ExpertShard& shard, const ProcessGroup* group)
    : config_(c), group_(group), p_(refs), layer_(layer), shape_(c, images, shard) {
  const BlockShape& sh = shape_;
  require(!p_.moe || (shard.count * shard.ep == sh.experts && p_.moe_ffn.experts.experts == shard.count &&
                      p_.moe_ffn.experts.first == shard.first),
          "DeviceBlock: a shard of " + std::to_string(shard.count) + " experts x ep " + std::to_string(shard.ep) +
              " for " + std::to_string(sh.experts) + " experts, in a layout storing " +
              std::to_string(p_.moe_ffn.experts.experts) + " from expert " + std::to_string(p_.moe_ffn.experts.first));
  require(!p_.moe || !expert_parallel() || group_ != nullptr, "DeviceBlock: ep > 1 needs a process group");
  require(!p_.moe || !expert_parallel() || !sh.token_choice, "DeviceBlock: ep > 1 runs expert choice only");
  const std::int64_t td = sh.t * sh.d;
  mod_ = array<bf16>(sh.b * kBlockVectors * sh.d);
  sn_ = array<bf16>(td);
  sn_mean_ = array<float>(sh.t);
  sn_rstd_ = array<float>(sh.t);
  qkv_ = array<bf16>(sh.t * (sh.q_width + 2 * sh.kv_width));
  att_ = array<bf16>(sh.t * sh.q_width);
  lse_ = array<float>(sh.self_attn.lse_elements());
  ysa_ = array<bf16>(td);
  x1_ = array<bf16>(td);
  if (p_.cross) {
    zeros_ = array<bf16>(sh.b * sh.d);
    CUDA_CHECK(cudaMemset(zeros_.get(), 0, zeros_.bytes()));
    cn_ = array<bf16>(td);
    cn_mean_ = array<float>(sh.t);
    cn_rstd_ = array<float>(sh.t);
    cq_ = array<bf16>(sh.t * sh.q_width);
    ckv_ = array<bf16>(sh.text_rows * 2 * sh.cross_kv_width);
    catt_ = array<bf16>(sh.t * sh.q_width);
    clse_ = array<float>(sh.cross_attn.lse_elements());
    x2_ = array<bf16>(td);
  }
  fn_ = array<bf16>(td);
  fn_mean_ = array<float>(sh.t);
  fn_rstd_ = array<float>(sh.t);
  const std::int64_t ffn_rows = p_.moe ? sh.slots : sh.t;
  u_ = array<bf16>(ffn_rows * sh.ffn);
  g_ = array<bf16>(ffn_rows * sh.ffn);
  yffn_ = array<bf16>(td);
  out_ = array<bf16>(td);
  if (p_.moe) {
    logits_ = array<float>(sh.t * sh.experts);
    probs_ = array<float>(sh.t * sh.experts);
    gate_ = array<float>(sh.gates);
    xe_ = array<bf16>(sh.slots * sh.d);
    ye_ = array<bf16>(sh.slots * sh.d);
    if (sh.token_choice) {
      tc_expert_ = array<int>(sh.tc.assignments());
      tc_row_ = array<int>(sh.tc.assignments());
      tc_counts_ = array<int>(sh.experts);
      tc_offsets_ = array<int>(sh.experts + 1);
      tc_row_assignment_ = array<int>(sh.tc.max_rows());
      expert_rows_.assign(static_cast<std::size_t>(sh.experts), sh.tc.padded ? sh.tc.capacity : 0);
    } else {
      token_ = array<int>(sh.slots);
      slot_of_ = array<int>(sh.t * sh.experts);
    }
    if (expert_parallel()) {
      xl_ = array<bf16>(sh.slots * sh.d);
      yl_ = array<bf16>(sh.slots * sh.d);
    }
  }
}

void DeviceBlock::exchange(const bf16* send, bf16* recv, ProcessGroup::Exchange direction, cudaStream_t st) const {
  group_->exchange_expert_rows(send, recv, shape_.shard.count, shape_.per_expert * shape_.d, direction, st);
}

void DeviceBlock::forward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, const bf16* x,
                          const bf16* cond, const bf16* text, std::int64_t mb) {
  const BlockShape& sh = shape_;
  const std::int64_t l = layer_;
  const Phase f = Phase::kForward;
  cudaStream_t st = ctx.stream;
  const std::int64_t vs = vector_stride();  // the adaLN vectors, read in place from mod_
  x_ = x;
  cond_ = cond;
  text_ = text;
  {
    auto op = timer.time("gemm", "adaln.modulation", l, mb, f);
    linear_fwd(ctx, m, p_.modulation, cond, sh.b, mod_.get());  // [B, 6d]: the kernels read vec(i) in place
  }
  {
    auto op = timer.time("adaln_layernorm", "self_attn.norm", l, mb, f);
    adaln_layernorm_fwd(x, vec(model_ref::kShiftMsa), vec(model_ref::kScaleMsa), sn_.get(), sn_mean_.get(),
                        sn_rstd_.get(), sh.b, sh.s, sh.d, kLayerNormEps, st, vs);
  }
  {
    auto op = timer.time("gemm", "self_attn.qkv", l, mb, f);
    linear_fwd(ctx, m, p_.self_attn.qkv, sn_.get(), sh.t, qkv_.get());  // [T, (H + 2 KVH) D]
  }
  {
    auto op = timer.time("attention_fwd", "self_attn.attention", l, mb, f);
    const bf16* qkv = qkv_.get();  // q, k, v: column slices at 0, H D, (H + KVH) D
    flash_attention_forward(qkv, qkv + sh.q_width, qkv + sh.q_width + sh.kv_width, att_.get(), lse_.get(),
                            sh.self_attn, st);
  }
  {
    auto op = timer.time("gemm", "self_attn.out", l, mb, f);
    linear_fwd(ctx, m, p_.self_attn.out, att_.get(), sh.t, ysa_.get());
  }
  {
    auto op = timer.time("gate_residual", "self_attn.residual", l, mb, f);
    gate_residual_fwd(x, ysa_.get(), vec(model_ref::kGateMsa), x1_.get(), sh.b, sh.s, sh.d, st, vs);
  }
  const bf16* x2 = x1_.get();
  if (p_.cross) {
    {
      auto op = timer.time("layernorm", "cross_attn.norm", l, mb, f);
      adaln_layernorm_fwd(x1_.get(), zeros_.get(), zeros_.get(), cn_.get(), cn_mean_.get(), cn_rstd_.get(), sh.b,
                          sh.s, sh.d, kLayerNormEps, st);
    }
    {
      auto op = timer.time("gemm", "cross_attn.q", l, mb, f);
      linear_fwd(ctx, m, p_.cross_attn.q, cn_.get(), sh.t, cq_.get());
    }
    {
      auto op = timer.time("gemm", "cross_attn.kv", l, mb, f);
      linear_fwd(ctx, m, p_.cross_attn.kv, text, sh.text_rows, ckv_.get());  // [B L, 2 KVH D]
    }
    {
      auto op = timer.time("attention_fwd", "cross_attn.attention", l, mb, f);
      flash_attention_forward(cq_.get(), ckv_.get(), ckv_.get() + sh.cross_kv_width, catt_.get(), clse_.get(),
                              sh.cross_attn, st);
    }
    {
      auto op = timer.time("gemm", "cross_attn.out", l, mb, f);
      // The projection into x2, which the residual add then turns into x1 + x2 in place: the
      // branch's output needs no buffer of its own (its backward reads nothing of it).
      linear_fwd(ctx, m, p_.cross_attn.out, catt_.get(), sh.t, x2_.get());
    }
    {
      auto op = timer.time("residual_add", "cross_attn.residual", l, mb, f);
      residual_add(x1_.get(), x2_.get(), x2_.get(), sh.t * sh.d, st);
    }
    x2 = x2_.get();
  }
  {
    auto op = timer.time("adaln_layernorm", "ffn.norm", l, mb, f);
    adaln_layernorm_fwd(x2, vec(model_ref::kShiftFfn), vec(model_ref::kScaleFfn), fn_.get(), fn_mean_.get(),
                        fn_rstd_.get(), sh.b, sh.s, sh.d, kLayerNormEps, st, vs);
  }
  if (p_.moe) {
    if (shape_.token_choice) {
      token_choice_forward(ctx, timer, m, mb);
    } else {
      expert_choice_forward(ctx, timer, m, mb);
    }
  } else {
    {
      auto op = timer.time("gemm", "ffn.fc1", l, mb, f);
      linear_fwd(ctx, m, p_.ffn.fc1, fn_.get(), sh.t, u_.get());
    }
    {
      auto op = timer.time("gelu", "ffn.gelu", l, mb, f);
      gelu_fwd(u_.get(), g_.get(), sh.t * sh.ffn, st);
    }
    {
      auto op = timer.time("gemm", "ffn.fc2", l, mb, f);
      linear_fwd(ctx, m, p_.ffn.fc2, g_.get(), sh.t, yffn_.get());
    }
  }
  {
    auto op = timer.time("gate_residual", "ffn.residual", l, mb, f);
    gate_residual_fwd(x2, yffn_.get(), vec(model_ref::kGateFfn), out_.get(), sh.b, sh.s, sh.d, st, vs);
  }
}

void DeviceBlock::backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, const bf16* dout, bf16* dx,
                           bf16* dcond, std::int64_t mb, BlockScratch& s) {
  const BlockShape& sh = shape_;
  const std::int64_t l = layer_;
  const Phase b = Phase::kBackward;
  cudaStream_t st = ctx.stream;
  const std::int64_t vs = vector_stride();
  // The vectors' gradients, written in place into dmod [B, 6d] (rows vector_stride() apart).
  auto dvec = [&](std::int64_t i) { return s.dmod.get() + i * sh.d; };
  const bf16* x2 = p_.cross ? x2_.get() : x1_.get();

  {
    auto op = timer.time("gate_residual_bwd", "ffn.residual", l, mb, b);
    // out = X2 + gate y: dX2 = dout (the residual path), dy = gate dout, dgate = sum_s dout y.
    gate_residual_bwd(yffn_.get(), vec(model_ref::kGateFfn), dout, s.dy.get(), dvec(model_ref::kGateFfn),
                      ctx.column_partials, sh.b, sh.s, sh.d, st, vs);
  }
  if (p_.moe) {
    if (shape_.token_choice) {
      token_choice_backward(ctx, timer, m, mb, s);
    } else {
      expert_choice_backward(ctx, timer, m, mb, s);
    }
  } else {
    {
      auto op = timer.time("gemm", "ffn.fc2", l, mb, b);
      linear_bwd(ctx, m, p_.ffn.fc2, g_.get(), s.dy.get(), sh.t, s.dg.get());
    }
    {
      auto op = timer.time("gelu_bwd", "ffn.gelu", l, mb, b);
      gelu_bwd(u_.get(), s.dg.get(), s.du.get(), sh.t * sh.ffn, st);
    }
    {
      auto op = timer.time("gemm", "ffn.fc1", l, mb, b);
      linear_bwd(ctx, m, p_.ffn.fc1, fn_.get(), s.du.get(), sh.t, s.dnorm.get());
    }
  }
  {
    // The norm's dx joins the residual path's: dX2 = dout + dLN.
    auto op = timer.time("adaln_layernorm_bwd", "ffn.norm", l, mb, b);
    adaln_layernorm_bwd(x2, vec(model_ref::kScaleFfn), fn_mean_.get(), fn_rstd_.get(), s.dnorm.get(), dout,
                        s.dx2.get(), dvec(model_ref::kShiftFfn), dvec(model_ref::kScaleFfn), ctx.column_partials, sh.b,
                        sh.s, sh.d, st, vs);
  }
  const bf16* dx1 = s.dx2.get();
  if (p_.cross) {
    {
      // X2 = X1 + cross: the gradient passes through unchanged, so nothing runs here (the norm's
      // backward below adds it to its own).
      auto op = timer.time("residual_add_bwd", "cross_attn.residual", l, mb, b);
    }
    {
      auto op = timer.time("gemm", "cross_attn.out", l, mb, b);
      linear_bwd(ctx, m, p_.cross_attn.out, catt_.get(), s.dx2.get(), sh.t, s.datt.get());
    }
    {
      auto op = timer.time("attention_bwd", "cross_attn.attention", l, mb, b);
      const std::int64_t w = sh.cross_kv_width;
      flash_attention_backward(cq_.get(), ckv_.get(), ckv_.get() + w, catt_.get(), clse_.get(), s.datt.get(),
                               s.delta.get(), s.dcq.get(), s.dckv.get(), s.dckv.get() + w, sh.cross_attn, st);
    }
    {
      // The text is an input: its gradient is not needed.
      auto op = timer.time("gemm", "cross_attn.kv", l, mb, b);
      linear_bwd(ctx, m, p_.cross_attn.kv, text_, s.dckv.get(), sh.text_rows, nullptr);
    }
    {
      auto op = timer.time("gemm", "cross_attn.q", l, mb, b);
      linear_bwd(ctx, m, p_.cross_attn.q, cn_.get(), s.dcq.get(), sh.t, s.dnorm.get());
    }
    {
      auto op = timer.time("layernorm_bwd", "cross_attn.norm", l, mb, b);
      // No modulation: no dshift or dscale to sum.
      adaln_layernorm_bwd(x1_.get(), zeros_.get(), cn_mean_.get(), cn_rstd_.get(), s.dnorm.get(), s.dx2.get(),
                          s.dx1.get(), nullptr, nullptr, nullptr, sh.b, sh.s, sh.d, st);
    }
    dx1 = s.dx1.get();
  }
  {
    auto op = timer.time("gate_residual_bwd", "self_attn.residual", l, mb, b);
    gate_residual_bwd(ysa_.get(), vec(model_ref::kGateMsa), dx1, s.dy.get(), dvec(model_ref::kGateMsa),
                      ctx.column_partials, sh.b, sh.s, sh.d, st, vs);
  }
  {
    auto op = timer.time("gemm", "self_attn.out", l, mb, b);
    linear_bwd(ctx, m, p_.self_attn.out, att_.get(), s.dy.get(), sh.t, s.datt.get());
  }
  {
    auto op = timer.time("attention_bwd", "self_attn.attention", l, mb, b);
    const bf16* qkv = qkv_.get();
    bf16* dqkv = s.dqkv.get();  // dq, dk, dv written in place, as q, k, v were read
    const std::int64_t k_at = sh.q_width, v_at = sh.q_width + sh.kv_width;
    flash_attention_backward(qkv, qkv + k_at, qkv + v_at, att_.get(), lse_.get(), s.datt.get(), s.delta.get(), dqkv,
                             dqkv + k_at, dqkv + v_at, sh.self_attn, st);
  }
  {
    auto op = timer.time("gemm", "self_attn.qkv", l, mb, b);
    linear_bwd(ctx, m, p_.self_attn.qkv, sn_.get(), s.dqkv.get(), sh.t, s.dnorm.get());
  }
  {
    auto op = timer.time("adaln_layernorm_bwd", "self_attn.norm", l, mb, b);
    adaln_layernorm_bwd(x_, vec(model_ref::kScaleMsa), sn_mean_.get(), sn_rstd_.get(), s.dnorm.get(), dx1, dx,
                        dvec(model_ref::kShiftMsa), dvec(model_ref::kScaleMsa), ctx.column_partials, sh.b, sh.s, sh.d,
                        st, vs);
  }
  {
    auto op = timer.time("gemm", "adaln.modulation", l, mb, b);
    // This block's share of the conditioning vector's gradient, added to the others' in the GEMM.
    linear_bwd(ctx, m, p_.modulation, cond_, s.dmod.get(), sh.b, dcond, GradientWrite::kAccumulate);
  }
}

}  // namespace ecsim::runner
