// The analytic profile: the analytic model's time for every kernel shape that the EC-DiT family
// and its parallel layouts produce, written as a profile file (profiles/<gpu>-analytic.json) so
// that the simulator prices the same way from an analytic and from a measured profile.
#pragma once

#include <filesystem>
#include <vector>

#include "cost/compute_cost.hpp"
#include "hardware/gpu.hpp"
#include "model/model_ops.hpp"
#include "model/model_spec.hpp"

namespace ecsim {

// The EC-DiT models (XL, XXL, 3XL, M; dense, 8-64 experts, inference variants, token-choice
// baselines) read from `models_dir` (scenarios/models/).
std::vector<ModelSpec> load_ecdit_family(const std::filesystem::path& models_dir);

// Forward and backward kernel calls, without duplicates: every block of the models under
// TP 1/2/4/8, EP 1..64 and micro-batches of 1..64 images (training and inference), plus sweeps of
// the expert GEMMs (16..16384 tokens per expert, 1..64 local experts, uniform and ragged) and of
// attention (128..4096 tokens, 128 text tokens, head dims 64 and 128).
std::vector<KernelCall> ecdit_kernel_calls(const std::vector<ModelSpec>& models);

// Whether TP `tp` splits the model's heads and FFN width.
bool tp_fits(const ModelSpec& m, std::int64_t tp);
// The operators of one rank under a swept layout that the other blocks repeat: the embedding, the
// first block, the first MoE block and the head; empty when the model does not allow the layout
// (e.g. partial routing groups). Shared by the analytic profile and the profiler's sweeps, so both
// list the same shapes.
std::vector<Op> swept_layout_ops(const ModelSpec& m, const OpContext& ctx);

// A profile with source "analytic" and each call's analytic time; device and ceilings from `gpu`.
// The caller fills created, git_sha and command.
Profile make_analytic_profile(const GpuSpec& gpu, const std::vector<KernelCall>& calls);

}  // namespace ecsim
