// The kernel shapes a profile covers, walked in one place for the analytic profile
// (analytic_profile.hpp) and for the measured profiler (profiles/profiler/sweeps.hpp), so that
// both list the same shapes for the same axes: every block of the EC-DiT models under the swept
// layouts (tensor, expert parallel, micro-batch images; training and inference), plus sweeps of
// the expert GEMMs (tokens per expert, local experts; uniform and ragged) and of attention
// (sequence lengths, batches, head dims 64 and 128), plus the optimizer over a parameter range.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cost/compute_cost.hpp"  // KernelCall
#include "model/model_ops.hpp"
#include "model/model_spec.hpp"

namespace ecsim {

struct SweepAxes {
  std::vector<std::int64_t> samples;          // images per micro-batch on one rank
  std::vector<std::int64_t> tensor_parallel;
  std::vector<std::int64_t> expert_parallel;
  std::vector<std::int64_t> local_experts;    // of a batched (uniform) expert GEMM
  std::vector<std::int64_t> ragged_experts;   // of a grouped (ragged) expert GEMM
  int row_octave_step = 1;                    // tokens per expert 16 * 2^i, i += step, up to 16384
  std::vector<std::int64_t> seq_lens;         // attention sweeps: image tokens
  std::vector<std::int64_t> attention_batches;
  int params_log2_step = 1;                   // optimizer over 2^20..2^32 parameters
};

// The analytic profiles' axes (profiles/*-analytic.json), the measured profiler's full sweep.
const SweepAxes& full_sweep_axes();

// Receives the walk's operators; the same shape can arrive more than once.
class SweepVisitor {
 public:
  virtual ~SweepVisitor() = default;
  virtual void layout_op(const Op& op) = 0;   // an operator a model's own layout runs
  virtual void sweep_op(const Op& op) = 0;    // an expert GEMM, attention or routing of the sweeps
  virtual void optimizer(const KernelCall& update) = 0;  // the optimizer's update (optimizer_kernel)
};

// The dW products of a layout's matrix operator into bf16 gradients (profile dtype
// weight_grad_dtype(Dtype::kBf16)): swept beside the fp32 ones on the layouts' operators, which
// scenarios with grad_dtype "bf16" run. Empty for other operators.
std::vector<KernelCall> bf16_weight_grad_kernels(const Op& op);

// The optimizer recipes ecsim-run keeps, whose updates the sweep prices: fp32 masters and moments
// or bf16 weights and moments, each with fp32 or bf16 gradients.
std::vector<OptimizerSpec> runner_optimizer_recipes();

// One configuration of the validation campaign (scenarios/validation/*.json): the scenario's model,
// its overrides applied (e.g. unmasked images), under the scenario's own layout. A profile measures
// these shapes as it does the models' layouts, so that `ecsim validate` prices every kernel of a
// campaign run from a measurement, also from the quick sweep, which holds two models only.
struct CampaignConfig {
  std::string file;  // the scenario's file name
  ModelSpec model;
  OpContext ctx;     // the layout's micro-batch, tensor and expert parallel degrees; train or infer
};

// Every scenario of `dir` in file-name order; empty where the folder does not exist (a --models
// folder outside the repository). A scenario that does not parse throws its InputError.
std::vector<CampaignConfig> load_validation_campaign(const std::filesystem::path& dir);
// The campaign's folder beside the models' (scenarios/validation/ beside scenarios/models/).
std::filesystem::path validation_dir_beside(const std::filesystem::path& models_dir);

// Per model: its layouts' operators, then its expert and attention sweeps (each (d, FFN width / TP)
// and (d, heads, TP) once over all models); then the campaign's configurations (as layouts'
// operators); then the optimizer's range.
void walk_kernel_sweep(const std::vector<ModelSpec>& models, const SweepAxes& axes, SweepVisitor& visitor,
                       const std::vector<CampaignConfig>& campaign = {});

// The EC-DiT models (XL, XXL, 3XL, M; dense, 8-64 experts, inference variants, token-choice
// baselines) read from `models_dir` (scenarios/models/).
std::vector<ModelSpec> load_ecdit_family(const std::filesystem::path& models_dir);

// Whether TP `tp` splits the model's heads and FFN width.
bool tp_fits(const ModelSpec& m, std::int64_t tp);
// The operators of one rank under a swept layout that the other blocks repeat: the embedding, the
// first block, the first MoE block and the head; empty when the model does not allow the layout
// (e.g. partial routing groups).
std::vector<Op> swept_layout_ops(const ModelSpec& m, const OpContext& ctx);

}  // namespace ecsim
