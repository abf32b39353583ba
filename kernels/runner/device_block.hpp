// One EC-DiT block on the device, forward and backward, in the simulator's op order under its
// labels (op_plan.hpp; the CPU reference is model_ref/block.hpp, the same math in fp64). Each op
// runs inside an OpTimer scope. The block owns what its backward reads (one micro-batch's
// activations, the simulator's "recompute=none"); the backward's temporaries live in BlockScratch,
// shared by all blocks.
//   X [T, d] with T = B S; c [B, cond]; text [B L, text_width]
// Expert parallelism (ep > 1): routing stays local (each rank's tokens, its groups, all E experts:
// xe [E, groups C, d]); the dispatch all-to-all brings the rows of this rank's E/ep experts from
// every EP peer, expert-major ([E/ep, ep groups C, d], ProcessGroup::exchange_expert_rows), the
// expert FFN runs on them with the local experts' weights, and the combine all-to-all returns the
// outputs to the ranks that routed them. The backward sends the gradients the same two ways.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "attention.cuh"
#include "ec_route.cuh"
#include "model_ref/modulation.hpp"
#include "model_ref/params.hpp"
#include "runner/device_linear.hpp"
#include "runner/device_memory.hpp"
#include "runner/expert_parallel.hpp"
#include "runner/op_timer.hpp"
#include "runner/process_group.hpp"
#include "tc_route.cuh"

namespace ecsim::runner {

using bf16 = __nv_bfloat16;

// Sizes of one block's tensors for one micro-batch of `images` images; `shard` the experts this
// rank computes (all of them without expert parallelism).
struct BlockShape {
  BlockShape(const model_ref::ModelConfig& c, std::int64_t images, const ExpertShard& shard);
  // slots: the expert FFN's rows at most (expert choice: E groups C; token choice: tc.max_rows())
  std::int64_t b, s, t, d, cond, q_width, kv_width, cross_kv_width, text_rows, ffn, experts, slots, per_expert;
  ExpertShard shard;
  std::int64_t local_rows = 0;  // rows per local expert after the dispatch: ep groups C
  AttentionDims self_attn, cross_attn;
  ExpertChoiceDims routing;  // tokens 0 when the model has no experts or routes by token choice
  bool token_choice = false;
  TokenChoiceDims tc;        // token choice: padded to the capacity, or dropless
  std::int64_t gates = 0;    // gate values: slots (expert choice) or T k picks (token choice)
};

// The backward's temporaries, sized for the largest block.
struct BlockScratch {
  BlockScratch(const model_ref::ModelConfig& c, std::int64_t images, std::int64_t ep);
  DeviceArray<bf16> dy, dnorm, dx2, dx1;                           // [T, d]
  DeviceArray<bf16> datt, dqkv;                                    // self-attention gradients
  DeviceArray<bf16> dcq, dckv;                                     // cross-attention gradients
  DeviceArray<float> delta;                                        // [B, H, S]
  DeviceArray<bf16> dg, du;                                        // [max(T, slots), f]
  DeviceArray<bf16> dye, dxe;                                      // [slots, d] this rank's routed rows
  DeviceArray<bf16> dyl, dxl;                                      // [slots, d] the local experts' (ep > 1)
  DeviceArray<float> dgate;                                        // [gates]
  DeviceArray<float> dprobs, dlogits;                              // [T, E]
  DeviceArray<bf16> dlogits_bf16;                                  // [T, E]
  DeviceArray<bf16> dmod;                                          // [B, 6d] the adaLN vectors' gradients
};

class DeviceBlock {
 public:
  // `group` exchanges the expert rows when shard.ep > 1 (may be null otherwise).
  DeviceBlock(const model_ref::ModelConfig& c, const model_ref::BlockRefs& refs, std::int64_t layer,
              std::int64_t images, const ExpertShard& shard, const ProcessGroup* group);

  // x [T, d] must stay alive until backward; cond [B, cond]; text [B L, text_width] or null.
  void forward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, const bf16* x, const bf16* cond,
               const bf16* text, std::int64_t micro_batch);
  // dout [T, d] -> dx [T, d] (a buffer other than dout); dcond [B, cond] += this block's share.
  void backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, const bf16* dout, bf16* dx,
                bf16* dcond, std::int64_t micro_batch, BlockScratch& s);
  const bf16* out() const { return out_.get(); }

 private:
  // Vector i of the adaLN modulation ([B, d] in the rows of mod_ [B, 6d], vector_stride() apart).
  const bf16* vec(std::int64_t i) const { return mod_.get() + i * shape_.d; }
  std::int64_t vector_stride() const { return model_ref::kBlockVectors * shape_.d; }
  bool expert_parallel() const { return shape_.shard.ep > 1; }
  // Rows between this rank's routing order [E, groups C, d] and its local experts' [E/ep, ep groups C, d].
  void exchange(const bf16* send, bf16* recv, ProcessGroup::Exchange direction, cudaStream_t stream) const;

  // The MoE FFN: fn_ [T, d] -> yffn_ [T, d], and back from s.dy into s.dnorm (device_block_expert_choice.cpp,
  // device_block_token_choice.cpp).
  void expert_choice_forward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, std::int64_t mb);
  void expert_choice_backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, std::int64_t mb,
                              BlockScratch& s);
  void token_choice_forward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, std::int64_t mb);
  void token_choice_backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, std::int64_t mb,
                             BlockScratch& s);
  // The router's backward, shared by both routings: `gate_bwd` writes s.dprobs from the gates'
  // gradient; then the softmax backward, d logits in bf16, the router GEMM, its dx added to s.dnorm.
  void router_backward(const DeviceContext& ctx, OpTimer& timer, const DeviceModel& m, std::int64_t mb,
                       BlockScratch& s, const char* route_bwd, const std::function<void()>& gate_bwd);
  TokenChoiceRouting token_routing() const;
  // Token choice's expert GEMM (+ bias) over this micro-batch's rows, batched over the capacity or
  // grouped over expert_rows_, and its backward.
  void expert_gemm(const DeviceContext& ctx, const DeviceModel& m, model_ref::TensorRef w, model_ref::TensorRef b,
                   const bf16* x, std::int64_t n, std::int64_t k, bf16* y) const;
  void expert_gemm_bwd(const DeviceContext& ctx, const DeviceModel& m, model_ref::TensorRef w, model_ref::TensorRef b,
                       const bf16* x, const bf16* dy, std::int64_t n, std::int64_t k, bf16* dx) const;
  std::int64_t expert_rows_total() const;

  model_ref::ModelConfig config_;
  const ProcessGroup* group_;
  model_ref::BlockRefs p_;
  std::int64_t layer_;
  BlockShape shape_;
  const bf16* x_ = nullptr;     // [T, d] the input (the previous block's output)
  const bf16* cond_ = nullptr;  // [B, cond]
  const bf16* text_ = nullptr;  // [B L, text_width]
  DeviceArray<bf16> mod_;        // [B, 6d]: the six adaLN vectors of each sample
  DeviceArray<bf16> zeros_;      // [B, d] shift and scale of the plain LayerNorm
  DeviceArray<bf16> sn_, qkv_, att_, ysa_, x1_;  // self-attention (qkv [T, (H + 2 KVH) D])
  DeviceArray<float> sn_mean_, sn_rstd_, lse_;
  DeviceArray<bf16> cn_, cq_, ckv_, catt_, x2_;  // cross-attention (ckv [B L, 2 KVH D])
  DeviceArray<float> cn_mean_, cn_rstd_, clse_;
  DeviceArray<bf16> fn_, u_, g_, yffn_, out_;  // FFN (dense or experts: u, g [rows, f])
  DeviceArray<float> fn_mean_, fn_rstd_;
  DeviceArray<float> logits_, probs_, gate_;  // [T, E], [T, E], [slots]
  DeviceArray<int> token_, slot_of_;          // [slots], [T, E]
  DeviceArray<bf16> xe_, ye_;                 // [E, groups C, d] this rank's routed rows, in and out
  DeviceArray<bf16> xl_, yl_;                 // [E/ep, ep groups C, d] the local experts' (ep > 1)
  // Token choice (gate_ [T, k]; xe_, ye_ the permuted rows [slots, d]): tc_route.cuh's buffers, and
  // each expert's rows in this micro-batch (the capacity when padded; copied from the device when
  // dropless).
  DeviceArray<int> tc_expert_, tc_row_, tc_counts_, tc_offsets_, tc_row_assignment_;
  std::vector<std::int64_t> expert_rows_;
};

}  // namespace ecsim::runner
