#include "model_ref/model.hpp"

#include <string>

#include "model_ref/linear.hpp"
#include "model_ref/modulation.hpp"
#include "model_ref/silu.hpp"
#include "model_ref/sinusoidal.hpp"
#include "precondition.hpp"
#include "ref/flow_loss.hpp"

namespace ecsim::model_ref {

Model::Model(const ModelConfig& config)
    : config_(config), layout_(make_param_layout(config)), positions_(position_table(config.grid(), config.hidden)) {}

ModelForward Model::forward(std::span<const double> params, const FlowBatch& batch,
                            std::vector<TracedOp>* trace) const {
  const ModelConfig& c = config_;
  const std::int64_t b = batch.images, s = batch.seq, d = c.hidden;
  require(static_cast<std::int64_t>(params.size()) == layout_.total,
          "Model::forward: params has " + std::to_string(params.size()) + " values, the layout " +
              std::to_string(layout_.total));
  require(s == c.kept_tokens(), "Model::forward: the batch has " + std::to_string(s) +
                                    " tokens per image, the config keeps " + std::to_string(c.kept_tokens()));
  ModelForward f;
  Tracer tr{trace, -1};

  tr("gemm", "embed.patch");
  std::vector<double> x = linear_fwd(layout_.embed.patch, params, batch.x_t, b * s);  // [B, S, d]
  for (std::int64_t i = 0; i < b * s; ++i) {
    const double* pos = positions_.data() + batch.kept[i] * d;
    for (std::int64_t j = 0; j < d; ++j) x[i * d + j] += pos[j];
  }
  f.time_features = timestep_features(batch.t, c.timestep_freq_dim);
  tr("gemm", "embed.timestep_fc1");
  f.time_hidden = linear_fwd(layout_.embed.timestep_fc1, params, f.time_features, b);
  tr("silu", "embed.timestep_silu");
  f.time_act = silu_fwd(f.time_hidden);
  tr("gemm", "embed.timestep_fc2");
  f.cond = linear_fwd(layout_.embed.timestep_fc2, params, f.time_act, b);

  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::span<const double> in = l == 0 ? std::span<const double>(x) : f.blocks.back().out;
    BlockForward block = block_fwd(c, layout_.blocks[l], params, {b, s, in, f.cond, batch.text}, {trace, l});
    f.blocks.push_back(std::move(block));
  }

  tr.layer = c.layers;
  tr("gemm", "final.modulation");
  f.final_mod = linear_fwd(layout_.final.modulation, params, f.cond, b);
  tr("adaln_layernorm", "final.norm");
  f.final_norm = ref::adaln_layernorm_fwd({b, s, d}, f.blocks.back().out,
                                          modulation_vector(f.final_mod, b, kFinalVectors, d, kShiftFinal),
                                          modulation_vector(f.final_mod, b, kFinalVectors, d, kScaleFinal));
  tr("gemm", "final.linear");
  f.pred = linear_fwd(layout_.final.linear, params, f.final_norm.y, b * s);
  tr("flow_loss", "final.loss");
  f.loss = ref::flow_loss(f.pred, batch.velocity);
  return f;
}

std::vector<double> Model::backward(std::span<const double> params, const FlowBatch& batch,
                                    const ModelForward& f) const {
  const ModelConfig& c = config_;
  const std::int64_t b = batch.images, s = batch.seq, d = c.hidden;
  std::vector<double> grads(static_cast<std::size_t>(layout_.total), 0.0);

  const std::vector<double> dpred = ref::flow_loss_bwd(f.pred, batch.velocity);
  const std::vector<double> dnorm = linear_bwd(layout_.final.linear, params, f.final_norm.y, dpred, b * s, grads);
  const ref::AdaLnGrads n = ref::adaln_layernorm_bwd(
      {b, s, d}, f.blocks.back().out, modulation_vector(f.final_mod, b, kFinalVectors, d, kScaleFinal),
      f.final_norm.mean, f.final_norm.rstd, dnorm);
  std::vector<double> dmod(f.final_mod.size(), 0.0);  // [B, 2d]
  add_modulation_grad(dmod, b, kFinalVectors, d, kShiftFinal, n.dshift);
  add_modulation_grad(dmod, b, kFinalVectors, d, kScaleFinal, n.dscale);
  std::vector<double> dcond = linear_bwd(layout_.final.modulation, params, f.cond, dmod, b, grads);  // [B, cond]

  std::vector<double> dx = n.dx;  // [B, S, d]
  for (std::int64_t l = c.layers - 1; l >= 0; --l) {
    BlockGrads g = block_bwd(c, layout_.blocks[l], params, f.blocks[l], dx, grads);
    dx = std::move(g.dx);
    for (std::size_t i = 0; i < dcond.size(); ++i) dcond[i] += g.dcond[i];
  }

  const std::vector<double> dact = linear_bwd(layout_.embed.timestep_fc2, params, f.time_act, dcond, b, grads);
  linear_bwd(layout_.embed.timestep_fc1, params, f.time_features, silu_bwd(f.time_hidden, dact), b, grads);
  // The position table is fixed, so X's gradient goes to the patch GEMM alone.
  linear_bwd(layout_.embed.patch, params, batch.x_t, dx, b * s, grads);
  return grads;
}

}  // namespace ecsim::model_ref
