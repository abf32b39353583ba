#include "parallel/memory.hpp"

#include <algorithm>

#include "parallel/op_roles.hpp"

namespace ecsim {

const MemoryAllowances& memory_allowances() {
  static const MemoryAllowances a{
      // CUDA context on H100 is about 0.5 GiB; cuBLAS asks for 32 MiB of workspace per handle on
      // Hopper (cuBLAS docs, cublasSetWorkspace); cuDNN/attention and allocator slack: rounded to 1 GiB.
      parse_bytes("1GiB"),
      // NCCL_BUFFSIZE defaults to 4 MiB per channel and peer direction; with up to 32 channels on
      // NVLink that is about 256 MiB per communicator that a rank uses actively.
      parse_bytes("256MiB"),
      // Megatron's DDP bucket: 40M parameters (its default bucket size), double-buffered.
      40e6,
  };
  return a;
}

double in_flight_micro_batches(const LayoutPlan& p, std::int64_t stage) {
  if (!p.training) return 1;
  const double pp = static_cast<double>(p.layout.pp);
  const double v = static_cast<double>(p.layout.vpp);
  const double s = static_cast<double>(stage);
  // Megatron's warm-up: (pp - s - 1) * 2 + (v - 1) * pp chunk-forwards before the first
  // backward (pp - s - 1 without interleaving); the alive chunks are those plus one, each holding
  // 1/v of the stage's layers.
  const double warmup = p.layout.vpp == 1 ? pp - s - 1 : (pp - s - 1) * 2 + (v - 1) * pp;
  const double chunks = std::min(warmup + 1, static_cast<double>(p.micro_batches) * v);
  return chunks / v;
}

Bytes activation_bytes_per_micro_batch(const std::vector<ChunkOps>& chunks, Recompute mode, const LayoutPlan& p,
                                       const ModelSpec& m) {
  Bytes total;
  Bytes largest_layer;
  std::int64_t layers = 0;
  for (const auto& chunk : chunks) {
    for (const auto& ops : chunk.layers) {
      Bytes layer;
      Bytes kept;
      for (const Op& op : ops) {
        layer += op.saved;
        if (!recomputed_by_selective(op)) kept += op.saved;
      }
      largest_layer = std::max(largest_layer, layer);
      total += mode == Recompute::kSelective ? kept : layer;
      ++layers;
    }
  }
  if (mode != Recompute::kFull) return total;
  // Full recomputation keeps each block's input (sequence-parallel: 1/tp of the tokens) and
  // rebuilds one block's activations at a time in backward.
  const double boundary = static_cast<double>(p.tokens_per_micro_batch) * static_cast<double>(m.hidden) /
                          static_cast<double>(p.layout.tp) * kBf16Bytes;
  return Bytes{boundary * static_cast<double>(layers)} + largest_layer;
}

Bytes backward_gradient_bytes(const std::vector<ChunkOps>& chunks) {
  Bytes largest;
  for (const auto& chunk : chunks) {
    for (const auto& ops : chunk.layers) {
      Bytes layer;
      for (const Op& op : ops) {
        if (op.component != Component::kNorm) layer += op.fwd_written;
      }
      largest = std::max(largest, layer);
    }
  }
  return largest;
}

MemoryBreakdown estimate_memory(const Scenario& s, const LayoutPlan& p, std::int64_t stage) {
  const auto chunks = stage_chunks(s.model, p, stage);
  const auto& opt = s.run.optimizer;
  const auto& allow = memory_allowances();
  MemoryBreakdown mb;
  mb.stage = stage;
  mb.hbm = s.cluster->gpu.hbm;
  double largest_layer_params = 0;
  double boundary_rows = 0;
  for (const auto& chunk : chunks) {
    for (const auto& ops : chunk.layers) {
      double layer_params = 0;
      for (const Op& op : ops) {
        (op.sharding == ParamSharding::kExpertParallel ? mb.expert_params : mb.dense_params) += op.params;
        layer_params += op.params;
        if (op.is_comm_boundary && op.name == "permute") boundary_rows = std::max(boundary_rows, static_cast<double>(op.shape.at("rows")));
      }
      largest_layer_params = std::max(largest_layer_params, layer_params);
    }
  }
  const double dp = static_cast<double>(p.layout.dp);
  const double edp = static_cast<double>(p.expert_dp_group.ranks);
  const int zero = p.layout.zero;
  const double trainable = mb.dense_params + mb.expert_params;
  // Parameters sharded over their data-parallel group at the given ZeRO stage.
  auto sharded = [&](bool at_this_stage) {
    return at_this_stage ? mb.dense_params / dp + mb.expert_params / edp : trainable;
  };

  // Frozen remainder (text encoder etc., scenarios/README.md): bf16 weights on the first stage.
  const double frozen = stage == 0 ? s.model.other_params : 0;
  mb.frozen_params = frozen;
  if (!p.training) {
    mb.params = Bytes{(trainable + frozen) * kBf16Bytes};
  } else {
    const double weights = zero >= 3 ? sharded(true) + 2 * largest_layer_params : trainable;
    mb.params = Bytes{(weights + frozen) * kBf16Bytes};
    mb.grads = Bytes{sharded(zero >= 2) * dtype_bytes(opt.grads)};
    const double per_param_state = (opt.master == Dtype::kFp32 ? kFp32Bytes : 0) + 2 * dtype_bytes(opt.moments);
    mb.optimizer = Bytes{sharded(zero >= 1) * per_param_state};
  }

  mb.in_flight_micro_batches = in_flight_micro_batches(p, stage);
  const Bytes per_mb = p.training ? activation_bytes_per_micro_batch(chunks, p.layout.recompute, p, s.model)
                                  : Bytes{};
  mb.activations = per_mb * mb.in_flight_micro_batches + (p.training ? backward_gradient_bytes(chunks) : Bytes{});
  if (!p.training) {
    // Inference keeps only the live tensors of one block: its input and largest intermediate.
    const double live = static_cast<double>(p.tokens_per_micro_batch) * static_cast<double>(s.model.ffn.width) *
                        kBf16Bytes * 2;
    mb.activations = Bytes{live};
  }

  // Communication: NCCL buffers per communicator in use, MoE dispatch/combine buffers with ep > 1
  // (send and receive, one layer at a time), the gradient bucket.
  int communicators = 0;
  for (const auto* g : {&p.tp_group, &p.dp_group, &p.ep_group, &p.pp_group}) communicators += g->ranks > 1 ? 1 : 0;
  Bytes comm = allow.nccl_buffers_per_communicator * static_cast<double>(communicators);
  if (p.layout.ep > 1) comm += Bytes{2 * 2 * boundary_rows * static_cast<double>(s.model.hidden) * kBf16Bytes};
  if (p.training && p.layout.dp > 1) comm += Bytes{2 * allow.grad_bucket_params * dtype_bytes(opt.grads)};
  mb.comm_buffers = comm;
  mb.workspace = allow.cuda_context_and_workspace;
  return mb;
}

MemoryBreakdown peak_memory(const Scenario& s, const LayoutPlan& p) {
  MemoryBreakdown best = estimate_memory(s, p, 0);
  for (std::int64_t st = 1; st < p.layout.pp; ++st) {
    MemoryBreakdown m = estimate_memory(s, p, st);
    if (m.peak() > best.peak()) best = m;
  }
  return best;
}

}  // namespace ecsim
