// The kernel calls ecsim-profile measures. They are the simulator's own calls: the EC-DiT family's
// operators (model/model_ops.hpp) under the layouts a layout search moves through, expanded by
// forward_kernels and backward_kernels (cost/compute_cost.hpp), so that every profile key is a
// key the simulator looks up, by construction. Each call is tagged with its role, which tells
// the profiler which launcher runs it: a gemm key can be a forward product, an input gradient
// (dX) or a weight gradient (dW, fp32 output).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cost/compute_cost.hpp"
#include "hardware/gpu.hpp"
#include "model/model_spec.hpp"

namespace ecsim::profiler {

enum class KernelRole {
  kForward,     // an operator's forward kernel
  kInputGrad,   // dX of a matrix product
  kWeightGrad,  // dW of a matrix product, written to an fp32 gradient (the *_wgrad families)
  kBackward,    // the backward kernel of any other family (X_bwd, attention_bwd)
};
const char* role_name(KernelRole role);

struct PlannedCall {
  KernelCall call;     // the profile key (op, dtype, shape), with its FLOPs and bytes
  KernelRole role;
  std::string family;  // the operator's family: "gemm" for a gemm's dX and dW; a bias kernel's own
  OpShape op_shape;    // the operator's own shape, which the launcher is called with
  double predicted_ns = 0;  // the analytic model's time on the planning GPU
  bool from_layout = false;  // a shape the models' own layouts run, or the optimizer's (else a sweep's)
};

enum class SweepSize {
  kFull,   // the analytic profile's layouts and sweeps (full_sweep_axes, simulator/cost/kernel_sweep.hpp)
  kQuick,  // XL and M only, fewer expert-parallel and ragged-group counts, lower caps
};

struct SweepPlan {
  // Distinct keys: those the models' layouts run first, then the sweeps' others; within each, cheap
  // families first and each family by predicted time.
  std::vector<PlannedCall> calls;
  // Keys of families that no kernel in kernels/ implements yet, per family.
  std::map<std::string, std::int64_t> without_kernel;
  // Keys left out because their predicted time exceeds the sweep's per-entry cap, per family.
  std::map<std::string, std::int64_t> over_cap;
  double matrix_cap_ns = 0;  // the caps applied: matrix and attention kernels
  double memory_cap_ns = 0;  // memory-bound kernels
  // The validation campaign's configurations walked as layouts (scenarios/validation/ beside the
  // models' folder; none where it does not exist), and that folder.
  std::size_t campaign_configs = 0;
  std::filesystem::path campaign_dir;
};

// `models_dir` holds the EC-DiT model files (scenarios/models/). `gpu` prices calls for the caps
// and the ordering; `has_kernel` says which kernel families can be measured, `selected` which of
// them to plan (the others are left out without a count).
using FamilyFilter = std::function<bool(const std::string&)>;
SweepPlan plan_sweep(const std::filesystem::path& models_dir, SweepSize size, const GpuSpec& gpu,
                     const FamilyFilter& has_kernel, const FamilyFilter& selected);

}  // namespace ecsim::profiler
