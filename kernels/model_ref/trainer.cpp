#include "model_ref/trainer.hpp"

namespace ecsim::model_ref {

Trainer::Trainer(const ModelConfig& config, std::uint64_t seed, InitScheme scheme, const ref::AdamWConfig& adamw)
    : model_(config), adamw_(adamw) {
  const std::vector<double> init = init_params(model_.layout(), seed, scheme);
  master_.assign(init.size(), 0.0f);
  for (std::size_t i = 0; i < init.size(); ++i) master_[i] = static_cast<float>(init[i]);
  m_.assign(init.size(), 0.0f);
  v_.assign(init.size(), 0.0f);
  params_.assign(master_.begin(), master_.end());
}

double Trainer::step(const FlowBatch& batch) {
  last_ = model_.forward(params_, batch);
  const std::vector<double> grads = model_.backward(params_, batch, last_);
  std::vector<float> grads32(grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i) grads32[i] = static_cast<float>(grads[i]);
  ref::adamw_step(adamw_, ++steps_, master_, grads32, m_, v_);
  params_.assign(master_.begin(), master_.end());
  return last_.loss;
}

}  // namespace ecsim::model_ref
