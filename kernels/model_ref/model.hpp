// The CPU-reference EC-DiT: embedding, blocks, final layer and the rectified-flow loss, forward and
// backward in fp64, from the references in kernels/ref. Op order and labels are the simulator's
// (simulator/model/model_ops.cpp: pre_ops, dit_block, post_ops), recorded by an optional trace:
//   embed.patch          gemm             X = patches W + b + position table   [B, S, d]
//   embed.timestep_fc1   gemm             sinusoidal features of t             [B, freq] -> [B, cond]
//   embed.timestep_silu  silu
//   embed.timestep_fc2   gemm             c                                    [B, cond]
//   blocks 0..L-1                         (block.hpp)
//   final.modulation     gemm             shift, scale from c                  [B, 2d]
//   final.norm           adaln_layernorm
//   final.linear         gemm             predicted velocity                   [B, S, patch_dim]
//   final.loss           flow_loss        mean squared error to noise - x0
// As in the simulator, c reaches the modulation GEMMs directly (DiT puts a SiLU in front of each;
// the simulator has none, and this model mirrors the simulator).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/block.hpp"
#include "model_ref/config.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"
#include "ref/adaln_layernorm.hpp"

namespace ecsim::model_ref {

struct ModelForward {
  std::vector<double> time_features;  // [B, freq]
  std::vector<double> time_hidden;    // [B, cond] before the SiLU
  std::vector<double> time_act;       // [B, cond]
  std::vector<double> cond;           // [B, cond]
  std::vector<BlockForward> blocks;
  std::vector<double> final_mod;  // [B, 2d]
  ref::AdaLnForward final_norm;
  std::vector<double> pred;  // [B, S, patch_dim]
  double loss = 0;
};

class Model {
 public:
  explicit Model(const ModelConfig& config);  // validates the config and lays out the parameters

  const ModelConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }

  // params: [layout().total]. `trace`, when set, receives the forward's ops in order.
  ModelForward forward(std::span<const double> params, const FlowBatch& batch,
                       std::vector<TracedOp>* trace = nullptr) const;
  // d loss / d params, [layout().total].
  std::vector<double> backward(std::span<const double> params, const FlowBatch& batch, const ModelForward& f) const;

 private:
  ModelConfig config_;
  ParamLayout layout_;
  std::vector<double> positions_;  // [grid * grid, d] the fixed 2-D sin-cos table
};

}  // namespace ecsim::model_ref
