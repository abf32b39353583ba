// Training the EC-DiT on the device, as model_ref's Trainer does on the host (model_ref/model.hpp,
// trainer.hpp): embedding, blocks, final layer, rectified-flow loss, the backward of all of it,
// then AdamW (on fp32 masters with the bf16 copy rounded from them, or on the bf16 weights:
// DeviceModel's OptimizerStorage). Micro-batches accumulate into one gradient buffer (the loss of
// each is weighted 1 / (micro-batches x data-parallel ranks)), which the process group sums before
// the step, range by range (expert_parallel.hpp's grad_sync_plan).
// With expert parallelism a rank stores, computes, reduces and steps only its own experts (its
// layout is model_ref's with those experts, initialized to the full model's values for them).
// Every op runs inside an OpTimer scope.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "adamw.cuh"
#include "runner/device_batch.hpp"
#include "runner/device_block.hpp"
#include "runner/device_model.hpp"
#include "runner/op_timer.hpp"
#include "runner/process_group.hpp"

namespace ecsim::runner {

class DeviceTrainer {
 public:
  // `images`: per micro-batch; `group` may be null (one process); its EP group, if any, sets the
  // experts this rank computes.
  DeviceTrainer(const model_ref::ModelConfig& config, std::uint64_t seed, model_ref::InitScheme scheme,
                const AdamWHyperparameters& adamw, std::int64_t images, const ProcessGroup* group,
                OptimizerStorage storage = OptimizerStorage::kFp32Master,
                GradientStorage grad_storage = GradientStorage::kFp32);
  ~DeviceTrainer();
  DeviceTrainer(const DeviceTrainer&) = delete;
  DeviceTrainer& operator=(const DeviceTrainer&) = delete;

  // One optimizer step over these micro-batches; returns the mean of their losses (this rank's).
  // The first micro-batch overwrites the gradients the last step left (nothing zeroes them).
  double step(const std::vector<DeviceBatch>& micro_batches);
  // The same step without the optimizer: the gradients, summed over the micro-batches and (with a
  // group) all-reduced, stay in model().grads() (the parallel test compares them across ranks).
  double synced_gradients(const std::vector<DeviceBatch>& micro_batches);
  // Forward and backward of one batch without the optimizer step: the gradients stay in
  // model().grads() (the GPU test compares them with the CPU reference).
  double loss_and_gradients(const DeviceBatch& batch);

  const DeviceModel& model() const { return model_; }
  const ExpertShard& shard() const { return shard_; }
  const std::vector<GradRange>& grad_sync_ranges() const { return sync_plan_; }
  OpTimer& timer() { return timer_; }
  cudaStream_t stream() const { return ctx_.stream; }
  // Linear-layer shapes that ran as the product, then bias_add (GemmBias::unfused_shapes).
  std::int64_t unfused_bias_shapes() const { return gemm_bias_.unfused_shapes(); }

 private:
  // This micro-batch's gradients (weighted by loss_weight), written by micro-batch 0 and added by
  // the others; its loss goes to loss_[micro_batch].
  void forward_backward(const DeviceBatch& batch, std::int64_t micro_batch, float loss_weight);
  // Begins the timed step: forward and backward of every micro-batch into the gradients, then
  // their all-reduce; the caller ends it.
  void accumulate_gradients(const std::vector<DeviceBatch>& micro_batches);
  double mean_loss(std::size_t micro_batches);  // of the losses the last micro-batches left

  model_ref::ModelConfig config_;
  AdamWHyperparameters adamw_;
  std::int64_t images_;
  const ProcessGroup* group_;
  ExpertShard shard_;
  DeviceModel model_;                 // the shard's experts only
  std::vector<GradRange> sync_plan_;  // tiles the flat buffer
  std::int64_t steps_ = 0;
  GemmBias gemm_bias_;  // ctx_'s, before it
  DeviceArray<float> column_partials_;  // ctx_'s [kAdaLnBwdPartials], before it
  std::unique_ptr<RaggedGemm> ragged_gemm_;  // ctx_'s where experts' rows are ragged (dropless), before it
  DeviceContext ctx_;
  OpTimer timer_;
  std::vector<std::unique_ptr<DeviceBlock>> blocks_;
  BlockScratch scratch_;
  // Embedding, final layer and loss (T = B S tokens, pd = patch_dim):
  DeviceArray<bf16> x0_;                        // [T, d] block 0's input
  DeviceArray<bf16> time_hidden_, time_act_, cond_;  // [B, cond]
  DeviceArray<bf16> final_mod_;                 // [B, 2d]: shift, scale of each sample
  DeviceArray<bf16> final_norm_;                // [T, d]
  DeviceArray<float> final_mean_, final_rstd_;  // [T]
  DeviceArray<bf16> pred_, dpred_;              // [T, pd]
  DeviceArray<float> loss_partials_, loss_;     // [kFlowLossPartials]; [micro-batches]
  DeviceArray<bf16> grad_a_, grad_b_;           // [T, d] the gradient flowing back through the blocks
  DeviceArray<bf16> dfinal_mod_;                // [B, 2d]: their gradients
  DeviceArray<bf16> dcond_, dtime_act_, dtime_hidden_;  // [B, cond]
};

}  // namespace ecsim::runner
