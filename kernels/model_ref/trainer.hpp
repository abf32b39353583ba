// Training the CPU-reference model: forward, backward and one AdamW step (op `adamw`) over the flat
// parameter buffer. As on the GPU, the optimizer keeps fp32 master weights and moments
// (ref::adamw_step works on fp32 buffers); the model computes in fp64 from the masters widened.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/flow_batch.hpp"
#include "model_ref/model.hpp"
#include "model_ref/params.hpp"
#include "ref/adamw.hpp"

namespace ecsim::model_ref {

class Trainer {
 public:
  // Parameters from init_params(seed, scheme), rounded once to fp32.
  Trainer(const ModelConfig& config, std::uint64_t seed, InitScheme scheme, const ref::AdamWConfig& adamw);

  // One step on `batch`; returns the loss before the update.
  double step(const FlowBatch& batch);

  const Model& model() const { return model_; }
  std::span<const double> params() const { return params_; }
  // The last step's forward (the routing of every MoE block, for inspection).
  const ModelForward& last_forward() const { return last_; }

 private:
  Model model_;
  ref::AdamWConfig adamw_;
  std::int64_t steps_ = 0;
  std::vector<float> master_, m_, v_;  // [P] fp32 master weights and moments
  std::vector<double> params_;         // [P] master_ widened
  ModelForward last_;
};

}  // namespace ecsim::model_ref
