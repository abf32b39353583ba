#include "runner/device_trainer.hpp"

#include <string>

#include "adaln_layernorm.cuh"
#include "bias.cuh"
#include "core/errors.hpp"
#include "cublas_check.hpp"
#include "flow_loss.cuh"
#include "model_ref/modulation.hpp"
#include "residual_add.cuh"
#include "runner/device_linear.hpp"
#include "silu.cuh"

namespace ecsim::runner {
namespace {

constexpr float kLayerNormEps = 1e-6f;  // DiT's, as ref::kAdaLnEps
constexpr std::int64_t kMaxMicroBatches = 4096;

template <class T>
DeviceArray<T> array(std::int64_t n) {
  return DeviceArray<T>(static_cast<std::size_t>(n));
}

cudaStream_t make_stream() {
  cudaStream_t s = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

}  // namespace

DeviceTrainer::DeviceTrainer(const model_ref::ModelConfig& config, std::uint64_t seed, model_ref::InitScheme scheme,
                             const AdamWHyperparameters& adamw, std::int64_t images, const ProcessGroup* group,
                             OptimizerStorage storage, GradientStorage grad_storage)
    : config_(config),
      adamw_(adamw),
      images_(images),
      group_(group),
      shard_(expert_shard(config.experts, group != nullptr ? group->ep_size() : 1,
                          group != nullptr ? group->ep_rank() : 0)),
      model_(config, {shard_.first, shard_.count}, seed, scheme, storage, grad_storage),
      sync_plan_(grad_sync_plan(model_.layout(), shard_)),
      column_partials_(array<float>(kAdaLnBwdPartials)),
      ragged_gemm_(config.dropless() ? std::make_unique<RaggedGemm>() : nullptr),
      ctx_{nullptr, make_stream(), &gemm_bias_, column_partials_.get(), ragged_gemm_.get()},
      timer_(ctx_.stream),
      scratch_(config, images, shard_.ep) {
  CUBLAS_CHECK(cublasCreate(&ctx_.cublas));
  CUBLAS_CHECK(cublasSetStream(ctx_.cublas, ctx_.stream));
  for (std::int64_t l = 0; l < config.layers; ++l) {
    blocks_.push_back(std::make_unique<DeviceBlock>(config, model_.layout().blocks[static_cast<std::size_t>(l)], l,
                                                    images, shard_, group));
  }
  const std::int64_t t = images * config.kept_tokens(), d = config.hidden, c = config.cond_width;
  x0_ = array<bf16>(t * d);
  time_hidden_ = array<bf16>(images * c);
  time_act_ = array<bf16>(images * c);
  cond_ = array<bf16>(images * c);
  final_mod_ = array<bf16>(images * 2 * d);
  final_norm_ = array<bf16>(t * d);
  final_mean_ = array<float>(t);
  final_rstd_ = array<float>(t);
  pred_ = array<bf16>(t * config.patch_dim());
  dpred_ = array<bf16>(t * config.patch_dim());
  loss_partials_ = array<float>(kFlowLossPartials);
  loss_ = array<float>(kMaxMicroBatches);
  grad_a_ = array<bf16>(t * d);
  grad_b_ = array<bf16>(t * d);
  dfinal_mod_ = array<bf16>(images * 2 * d);
  dcond_ = array<bf16>(images * c);
  dtime_act_ = array<bf16>(images * c);
  dtime_hidden_ = array<bf16>(images * c);
  // The blocks' constant buffers are set by cudaMemset on the legacy stream, which ctx_.stream
  // (non-blocking) does not wait for: finish them before any step.
  CUDA_CHECK(cudaDeviceSynchronize());
}

DeviceTrainer::~DeviceTrainer() {
  // Destructors cannot throw: a failed destroy leaks only the handle.
  cublasDestroy(ctx_.cublas);
  cudaStreamDestroy(ctx_.stream);
}

void DeviceTrainer::forward_backward(const DeviceBatch& batch, std::int64_t mb, float loss_weight) {
  const model_ref::ModelConfig& c = config_;
  const model_ref::ParamLayout& p = model_.layout();
  if (batch.images != images_ || batch.seq != c.kept_tokens()) {
    throw RuntimeFailure("DeviceTrainer: a batch of " + std::to_string(batch.images) + " x " +
                         std::to_string(batch.seq) + " tokens for a trainer built for " + std::to_string(images_) +
                         " x " + std::to_string(c.kept_tokens()));
  }
  const std::int64_t b = images_, s = c.kept_tokens(), t = b * s, d = c.hidden, cw = c.cond_width;
  const std::int64_t layers = c.layers;
  cudaStream_t st = ctx_.stream;
  const Phase f = Phase::kForward, bw = Phase::kBackward;
  // The step's first micro-batch writes the weights' gradients, the others add to them.
  ctx_.weight_grads = mb == 0 ? GradientWrite::kOverwrite : GradientWrite::kAccumulate;
  using model_ref::kScaleFinal;
  using model_ref::kShiftFinal;

  // --- forward ---
  {
    auto op = timer_.time("gemm", "embed.patch", -1, mb, f);
    linear_fwd(ctx_, model_, p.embed.patch, batch.x_t.get(), t, x0_.get());  // [T, d]
    residual_add(x0_.get(), batch.positions.get(), x0_.get(), t * d, st);
  }
  {
    auto op = timer_.time("gemm", "embed.timestep_fc1", -1, mb, f);
    linear_fwd(ctx_, model_, p.embed.timestep_fc1, batch.time_features.get(), b, time_hidden_.get());
  }
  {
    auto op = timer_.time("silu", "embed.timestep_silu", -1, mb, f);
    silu_fwd(time_hidden_.get(), time_act_.get(), b * cw, st);
  }
  {
    auto op = timer_.time("gemm", "embed.timestep_fc2", -1, mb, f);
    linear_fwd(ctx_, model_, p.embed.timestep_fc2, time_act_.get(), b, cond_.get());
  }
  const bf16* text = c.has_cross_attention() ? batch.text.get() : nullptr;
  const bf16* x = x0_.get();
  for (auto& block : blocks_) {
    block->forward(ctx_, timer_, model_, x, cond_.get(), text, mb);
    x = block->out();
  }
  {
    auto op = timer_.time("gemm", "final.modulation", layers, mb, f);
    linear_fwd(ctx_, model_, p.final.modulation, cond_.get(), b, final_mod_.get());  // [B, 2d]
  }
  {
    // shift and scale read in place from the modulation's rows.
    auto op = timer_.time("adaln_layernorm", "final.norm", layers, mb, f);
    adaln_layernorm_fwd(x, final_mod_.get() + kShiftFinal * d, final_mod_.get() + kScaleFinal * d,
                        final_norm_.get(), final_mean_.get(), final_rstd_.get(), b, s, d, kLayerNormEps, st,
                        model_ref::kFinalVectors * d);
  }
  {
    auto op = timer_.time("gemm", "final.linear", layers, mb, f);
    linear_fwd(ctx_, model_, p.final.linear, final_norm_.get(), t, pred_.get());  // [T, pd]
  }
  const std::int64_t n = t * c.patch_dim();
  {
    auto op = timer_.time("flow_loss", "final.loss", layers, mb, f);
    flow_loss_fwd(pred_.get(), batch.velocity.get(), loss_partials_.get(), loss_.get() + mb, n, st);
  }

  // --- backward ---
  {
    auto op = timer_.time("flow_loss_bwd", "final.loss", layers, mb, bw);
    flow_loss_bwd(pred_.get(), batch.velocity.get(), loss_weight, dpred_.get(), n, st);
  }
  {
    auto op = timer_.time("gemm", "final.linear", layers, mb, bw);
    linear_bwd(ctx_, model_, p.final.linear, final_norm_.get(), dpred_.get(), t, grad_b_.get());
  }
  {
    auto op = timer_.time("adaln_layernorm_bwd", "final.norm", layers, mb, bw);
    adaln_layernorm_bwd(x, final_mod_.get() + kScaleFinal * d, final_mean_.get(), final_rstd_.get(), grad_b_.get(),
                        nullptr, grad_a_.get(), dfinal_mod_.get() + kShiftFinal * d,
                        dfinal_mod_.get() + kScaleFinal * d, ctx_.column_partials, b, s, d, st,
                        model_ref::kFinalVectors * d);
  }
  {
    auto op = timer_.time("gemm", "final.modulation", layers, mb, bw);
    linear_bwd(ctx_, model_, p.final.modulation, cond_.get(), dfinal_mod_.get(), b, dcond_.get());
  }
  bf16* dout = grad_a_.get();
  bf16* dx = grad_b_.get();
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
    (*it)->backward(ctx_, timer_, model_, dout, dx, dcond_.get(), mb, scratch_);
    std::swap(dout, dx);
  }
  {
    auto op = timer_.time("gemm", "embed.timestep_fc2", -1, mb, bw);
    linear_bwd(ctx_, model_, p.embed.timestep_fc2, time_act_.get(), dcond_.get(), b, dtime_act_.get());
  }
  {
    auto op = timer_.time("silu_bwd", "embed.timestep_silu", -1, mb, bw);
    silu_bwd(time_hidden_.get(), dtime_act_.get(), dtime_hidden_.get(), b * cw, st);
  }
  {
    // The timestep features and the patches are inputs: no dx.
    auto op = timer_.time("gemm", "embed.timestep_fc1", -1, mb, bw);
    linear_bwd(ctx_, model_, p.embed.timestep_fc1, batch.time_features.get(), dtime_hidden_.get(), b, nullptr);
  }
  {
    auto op = timer_.time("gemm", "embed.patch", -1, mb, bw);
    linear_bwd(ctx_, model_, p.embed.patch, batch.x_t.get(), dout, t, nullptr);
  }
}

double DeviceTrainer::loss_and_gradients(const DeviceBatch& batch) {
  timer_.begin_step();
  forward_backward(batch, 0, 1.0f);
  timer_.end_step();
  float loss = 0;
  CUDA_CHECK(cudaMemcpyAsync(&loss, loss_.get(), sizeof loss, cudaMemcpyDeviceToHost, ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  return loss;
}

void DeviceTrainer::accumulate_gradients(const std::vector<DeviceBatch>& micro_batches) {
  const auto m = static_cast<std::int64_t>(micro_batches.size());
  if (m < 1 || m > kMaxMicroBatches) {
    throw RuntimeFailure("DeviceTrainer::step: " + std::to_string(m) + " micro-batches outside [1, " +
                         std::to_string(kMaxMicroBatches) + "]");
  }
  const int ranks = group_ != nullptr ? group_->size() : 1;
  // Every rank's micro-batch weighs 1 / (m ranks): the summed gradient is that of the global mean loss.
  // With ep > 1 too: an expert's rows from all ranks of an EP group reach its owner carrying their
  // rank's weight (the loss gradient is scaled where the loss is), and the expert-DP group's sum
  // adds the other EP groups' rows, so every rank's tokens count once.
  const float weight = 1.0f / static_cast<float>(m * ranks);
  timer_.begin_step();
  for (std::int64_t i = 0; i < m; ++i) forward_backward(micro_batches[static_cast<std::size_t>(i)], i, weight);
  if (group_ != nullptr) group_->all_reduce_sum(model_.grads(), sync_plan_, ctx_.stream);
}

double DeviceTrainer::mean_loss(std::size_t micro_batches) {
  std::vector<float> losses(micro_batches);
  CUDA_CHECK(cudaMemcpyAsync(losses.data(), loss_.get(), losses.size() * sizeof(float), cudaMemcpyDeviceToHost,
                             ctx_.stream));
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  double sum = 0;
  for (float l : losses) sum += static_cast<double>(l);
  return sum / static_cast<double>(micro_batches);
}

double DeviceTrainer::step(const std::vector<DeviceBatch>& micro_batches) {
  accumulate_gradients(micro_batches);
  {
    auto op = timer_.time("adamw", "optimizer.step", -1, -1, Phase::kOptimizer);
    ++steps_;
    // Leaves the bf16 weights the next forward reads; the next step's first micro-batch overwrites
    // the gradients.
    model_.adamw_step(adamw_, steps_, ctx_.stream);
  }
  timer_.end_step();
  return mean_loss(micro_batches.size());
}

double DeviceTrainer::synced_gradients(const std::vector<DeviceBatch>& micro_batches) {
  accumulate_gradients(micro_batches);
  timer_.end_step();
  return mean_loss(micro_batches.size());
}

}  // namespace ecsim::runner
