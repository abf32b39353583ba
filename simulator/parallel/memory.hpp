// Memory per GPU: parameters, gradients, optimizer state, activations (by recompute mode and by
// micro-batches in flight under the pipeline schedule), communication buffers and workspace.
#pragma once

#include <cstdint>
#include <vector>

#include "parallel/layout_plan.hpp"
#include "parallel/stage_ops.hpp"

namespace ecsim {

struct MemoryBreakdown {
  std::int64_t stage = 0;
  Bytes params, grads, optimizer, comm_buffers, workspace;
  // What the in-flight micro-batches saved for backward, plus one layer's backward gradient
  // buffers (training).
  Bytes activations;
  Bytes hbm;
  double dense_params = 0;   // parameters on this rank outside the experts (before ZeRO sharding)
  double expert_params = 0;  // expert parameters on this rank (before ZeRO sharding)
  double frozen_params = 0;  // the model's frozen remainder on this rank (other_params; bf16 in params)
  double in_flight_micro_batches = 0;
  Bytes peak() const { return params + grads + optimizer + activations + comm_buffers + workspace; }
  bool fits() const { return peak() <= hbm; }
};

// Fixed allowances, each with its source (memory.cpp).
struct MemoryAllowances {
  Bytes cuda_context_and_workspace;  // CUDA context, cuBLAS/cuDNN workspaces
  Bytes nccl_buffers_per_communicator;
  double grad_bucket_params;         // DDP / ZeRO gradient bucket
};
const MemoryAllowances& memory_allowances();

// Activation bytes one micro-batch leaves on this stage for backward, by recompute mode.
Bytes activation_bytes_per_micro_batch(const std::vector<ChunkOps>& chunks, Recompute mode, const LayoutPlan& p,
                                       const ModelSpec& m);
// The gradient buffers one layer's backward holds at once, for the stage's largest layer: a buffer
// for the gradient of every output off the residual stream (projections, attention, activations,
// routing and expert rows); the residual stream's own gradients (norms, residual adds) reuse them,
// as the runner's BlockScratch (kernels/runner/device_block.hpp) does, one set shared by all blocks.
Bytes backward_gradient_bytes(const std::vector<ChunkOps>& chunks);
// Micro-batches whose activations are alive at once on `stage` (1F1B: pp - stage; interleaved:
// Megatron's factor 1 + (pp-1)/(pp*vpp) on the first stage), capped by the micro-batch count.
double in_flight_micro_batches(const LayoutPlan& p, std::int64_t stage);

MemoryBreakdown estimate_memory(const Scenario& s, const LayoutPlan& p, std::int64_t stage);
// The stage with the highest peak.
MemoryBreakdown peak_memory(const Scenario& s, const LayoutPlan& p);

}  // namespace ecsim
