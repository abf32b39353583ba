// The analytic profile: the analytic model's time for every kernel shape that the EC-DiT family
// and its parallel layouts produce (the full sweep of kernel_sweep.hpp), written as a profile file
// (profiles/<gpu>-analytic.json) so that the simulator prices the same way from an analytic and
// from a measured profile.
#pragma once

#include <vector>

#include "cost/compute_cost.hpp"
#include "cost/kernel_sweep.hpp"
#include "hardware/gpu.hpp"
#include "model/model_spec.hpp"

namespace ecsim {

// Forward and backward kernel calls of the full sweep (full_sweep_axes) over `models` and the
// validation `campaign`, without duplicates, in key order.
std::vector<KernelCall> ecdit_kernel_calls(const std::vector<ModelSpec>& models,
                                           const std::vector<CampaignConfig>& campaign = {});

// A profile with source "analytic" and each call's analytic time; device and ceilings from `gpu`.
// The caller fills created, git_sha and command.
Profile make_analytic_profile(const GpuSpec& gpu, const std::vector<KernelCall>& calls);

}  // namespace ecsim
