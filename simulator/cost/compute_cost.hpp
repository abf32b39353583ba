// Compute costs: how long one operator's forward and backward kernels take on one GPU, from a
// profile file (schema "ecsim.profile/1" in ../shared/DESIGN.md), measured or analytic. An
// operator whose shape lies inside the profile's measured range is priced from its nearest
// measured shapes (interpolated in a space where time is smooth: log time over log size along
// one swept dimension, interpolation.cpp); above a sweep's largest entry where the rate has
// saturated, at that entry's rate; outside it otherwise, from the analytic roofline
// (analytic_model.cpp), and the model counts how often each.
//
// Files: profile_file.cpp (schema reader and writer), kernel_calls.cpp (operator -> kernel
// calls), analytic_model.cpp (roofline x efficiency curves, constants with sources),
// interpolation.cpp (pricing from measured neighbours, leave-one-out check),
// kernel_sweep.cpp (the shapes a profile covers, for the analytic profile and the profiler),
// analytic_profile.cpp (the analytic profile), compute_cost.cpp (this class).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json_input.hpp"
#include "core/units.hpp"
#include "hardware/gpu.hpp"
#include "model/op.hpp"
#include "scenario/scenario.hpp"

namespace ecsim {

// One entry of a profile's "ops" array.
struct ProfileEntry {
  std::string op;     // kernel family, e.g. "gemm", "attention_bwd", "gelu_bwd", "adamw"
  std::string dtype;  // "bf16"
  OpShape shape;
  double p10_ns = 0, p50_ns = 0, p90_ns = 0;
  std::int64_t samples = 0;  // timed runs behind the percentiles; 0 in an analytic profile
  // Measured profiles since 2026-11-28 (optional "host_ns"): the median host time to enqueue one
  // timed run, its start event, the call and its stop event, as the runner's per-operator scope
  // does (kernels/runner/op_timer.hpp); 0 where not measured.
  double host_ns = 0;
  // Measured profiles since 2026-11-29 (optional "warm_ns"), memory-bound entries whose operands
  // fit in the L2: the median time re-run on one operand set, its inputs left in the L2 by the run
  // before, as a training step's small activations are when the kernel that wrote them ran just
  // before (the entry's time rotates sets past 2x the L2, inputs from HBM). Recorded for the model
  // of L2-resident steps to be fitted on; not priced from yet. 0 where not measured.
  double warm_ns = 0;
};

// One entry of a profile's optional "collectives" array (measured on several GPUs).
struct ProfileCollective {
  std::string op;  // "all_reduce", "all_gather", ...
  std::int64_t ranks = 0;
  Bytes bytes;
  double p10_ns = 0, p50_ns = 0, p90_ns = 0;
};

// A measured profile's optional "launch_gap_ns": over its entries, the median idle time of the GPU
// between one timed run's stop event and the next run's start event, enqueued back to back (the
// profiler's EventTimer). The same gap separates a training step's event-timed operators, which
// the step builder puts before every compute task (Task::lead_in).
struct ProfileLaunchGap {
  double p10_ns = 0, p50_ns = 0, p90_ns = 0;  // over the entries' medians
  std::int64_t entries = 0;                   // entries that measured it
};

// A measured profile's optional "event_pair_host_ns": the host time to record a start and a stop
// event with nothing between them (the profiler's EventTimer), which every entry's host_ns holds
// once: what separates an operator's own host time from its timing's.
struct ProfileEventPairHost {
  double p10_ns = 0, p50_ns = 0, p90_ns = 0;
};

// The device a profile was made on (for an analytic profile: the GPU table's row).
struct ProfileDevice {
  std::string name;
  std::int64_t sms = 0;
  Bytes hbm;
  std::int64_t clock_mhz = 0;  // 0: not applicable (analytic)
  std::string driver;
  std::string cuda;
};

struct Profile {
  std::string source;  // "measured" or "analytic"
  ProfileDevice device;
  std::string created;  // ISO 8601, UTC
  std::string git_sha;  // tool.git_sha
  std::string command;  // tool.command: what reproduces the file
  FlopsPerSecond matmul_ceiling;
  BytesPerSecond hbm_ceiling;
  std::optional<ProfileLaunchGap> launch_gap;  // measured profiles since 2026-11-28
  std::optional<ProfileEventPairHost> event_pair_host;  // with the entries' host_ns (2026-11-28)
  std::vector<ProfileEntry> ops;
  std::vector<ProfileCollective> collectives;
  std::filesystem::path file;  // where it was read from (empty when made in memory)
};

inline constexpr const char* kProfileSchema = "ecsim.profile/1";

Profile load_profile(const std::filesystem::path& file);  // InputError with file and JSON path
Json profile_to_json(const Profile& p);
// The file text: the header keys indented, one op per line (diffs stay readable).
std::string format_profile(const Profile& p);
void write_profile(const std::filesystem::path& file, const Profile& p);  // atomic

// How a micro-batch's backward leaves the weights' fp32 gradients (the runner, kernels/runner/
// device_linear.hpp): the step's first micro-batch writes them, the later ones add to them.
enum class WeightGrads { kWrite, kAdd };

// The kernels a forward or backward operator runs, as profile keys: a gemm's backward is a gemm
// (dX: [m,k,n]) and a gemm_wgrad (dW: [k,n,m], written to the fp32 gradient), a batched_gemm's a
// batched_gemm and a batched_gemm_wgrad; a grouped_gemm's dW is a grouped_gemm_wgrad
// {groups, m, n, k_total} (ragged inner dimension); a linear layer with a bias runs its forward
// as gemm_bias {m, n, k} or batched_gemm_bias {batch, m, n, k} (the bias in cuBLASLt's epilogue,
// kernels/gemm_bias.cuh), a ragged product (grouped) adds bias_add {rows, n} after it; every bias
// adds bias_add_bwd (the column sums, kernels/bias.cuh) after dW; attention_fwd -> attention_bwd; any other
// (memory-bound) family X -> X_bwd with the same shape.
struct KernelCall {
  std::string op;
  OpShape shape;
  Flops flops;
  Bytes bytes;  // read + written
  std::string dtype = "bf16";
  // Bytes the call reads beyond what its profile key measured: the old fp32 gradient a weight
  // gradient adds to (WeightGrads::kAdd; the *_wgrad entries are measured writing it), priced at
  // the HBM ceiling on top of the key's time.
  Bytes added_read{};
};
// A profile key as one string, "op|dtype|dim=value|..." (dimensions in name order): the index
// of a profile's entries and of the simulator's price cache.
std::string kernel_key(const std::string& op, const std::string& dtype, const OpShape& shape);
std::string kernel_key(const KernelCall& c);
// Whether `op` names a linear layer's bias kernel (bias_add, bias_add_bwd), which forward_kernels
// and backward_kernels list after a biased matrix product's own calls.
bool is_bias_kernel(const std::string& op);
std::vector<KernelCall> forward_kernels(const Op& op);
// A weight-gradient product's profile dtype: "bf16" (bf16 operands) writing fp32 gradients; with
// bf16 gradients "bf16_grads_bf16" (the profiler measures it on the layouts' shapes; elsewhere the
// analytic model prices it on its bytes).
std::string weight_grad_dtype(Dtype grads);
// `grads`: the weight gradients' dtype (the scenario's run.optimizer.grad_dtype), which the dW
// products write (and, with kAdd, read); the bias gradient's n values are priced as fp32 either way.
std::vector<KernelCall> backward_kernels(const Op& op, WeightGrads w = WeightGrads::kWrite,
                                         Dtype grads = Dtype::kFp32);
// The fused optimizer update over `params` parameters: kernel family "adamw" {params}, its bytes
// from the recipe's dtypes; dtype "fp32" (fp32 masters and moments), "bf16" (no masters, bf16
// moments), or for another recipe its three dtypes ("master_bf16_moments_fp32_grads_fp32").
KernelCall optimizer_kernel(double params, const OptimizerSpec& recipe = {});

// The kernel calls of one family and dtype that a profile left to the analytic roofline, and the
// first such call's shape: what a user extends the profiler's sweep with.
struct OutsideProfile {
  std::string op, dtype;
  std::int64_t calls = 0;
  OpShape first_shape;
};

struct PricingStats {
  std::int64_t from_profile = 0;    // kernel calls priced from measured neighbours
  std::int64_t beyond_profile = 0;  // above a saturated sweep's largest entry, at its rate
  std::int64_t below_profile = 0;   // below a sweep's smallest entry, from it (ProfileIndex::below_ns)
  std::int64_t from_roofline = 0;   // outside the profile's range (or no profile): analytic
  // With a profile: the calls priced by the roofline, by outside_key (none without a profile).
  std::map<std::string, OutsideProfile> outside;
  // Some calls left to the roofline where a profile priced others (what the outputs note).
  bool partly_outside() const { return from_roofline > 0 && from_profile + beyond_profile + below_profile > 0; }
};
// A family's key in PricingStats::outside and its name in describe_outside: "gemm (bf16)".
std::string outside_key(const std::string& op, const std::string& dtype);
// "layernorm (bf16) x28, e.g. tokens 16384, hidden 1152; ..." over the `limit` families with the
// most calls, and how many more.
std::string describe_outside(const std::map<std::string, OutsideProfile>& outside, std::size_t limit = 4);

class ProfileIndex;    // interpolation.hpp
class HostCostIndex;   // host_cost.hpp
struct PriceCache;

// Copies share their statistics and cache; not for concurrent use from several threads.
class CollectiveCalibration;  // comm/collective_calibration.hpp
struct ClusterSpec;           // hardware/cluster.hpp

class ComputeCostModel {
 public:
  // Pure analytic model from the GPU table (roofline with measured ceilings and shape efficiency).
  static ComputeCostModel analytic(const GpuSpec& gpu);
  // Prices from `profile`; falls back to the analytic model with the profile's ceilings. With
  // `cluster`, the profile's measured collectives (when it has some) calibrate the collective
  // model's groups inside one node of it (comm/collective_calibration.hpp).
  static ComputeCostModel from_profile(Profile profile, const GpuSpec& gpu, const ClusterSpec* cluster = nullptr);

  // The same model for another thread: the profile, its index and the collectives' calibration
  // shared (read-only), its own price cache and statistics.
  ComputeCostModel for_another_thread() const;

  Nanos forward(const Op& op) const;
  // Input and weight gradients, the latter in `grads` (backward_kernels).
  Nanos backward(const Op& op, WeightGrads w = WeightGrads::kWrite, Dtype grads = Dtype::kFp32) const;
  Nanos kernel(const KernelCall& call) const;
  // Optimizer step over `params` parameters held on this GPU (fused AdamW over a flat buffer;
  // RMSProp with momentum keeps as many fp32 states and moves the same bytes).
  Nanos optimizer_step(double params, const OptimizerSpec& recipe = {}) const;
  // The GPU's idle time before each event-timed operator (the measured profile's launch_gap_ns
  // median); zero without one (the analytic model claims none).
  Nanos launch_gap() const;
  // The host's time to issue an operator's kernels (host_cost.hpp), plus one event pair where
  // operators are timed (time_operators); zero without a profile's host times.
  Nanos host_forward(const Op& op) const;
  Nanos host_backward(const Op& op, Dtype grads = Dtype::kFp32) const;
  Nanos host_optimizer(double params, const OptimizerSpec& recipe = {}) const;
  // Whether the profile prices the host (its entries' host_ns).
  bool prices_host() const;
  // Each operator recorded between two CUDA events, as the runner times them (ecsim validate):
  // its host time holds the two records.
  void time_operators(bool timed) { timed_operators_ = timed; }
  const PricingStats& stats() const { return *stats_; }
  // The measured collectives' calibration; null when the profile has none (or no cluster was given).
  const CollectiveCalibration* collective_calibration() const { return collectives_.get(); }
  // "profile profiles/h100-sxm.json (measured, ...)" or "analytic H100-SXM"; a profile made on
  // another card than the scenario's says so (profile_device_mismatch).
  std::string description() const;

 private:
  ComputeCostModel() = default;
  GpuSpec gpu_;
  std::shared_ptr<const Profile> profile_;
  std::shared_ptr<PricingStats> stats_ = std::make_shared<PricingStats>();
  Nanos host_of(const std::vector<KernelCall>& calls) const;

  std::shared_ptr<const ProfileIndex> index_;  // per-family sweeps built from the profile
  std::shared_ptr<const HostCostIndex> host_;  // the profile's host times
  bool timed_operators_ = false;
  std::shared_ptr<PriceCache> cache_;          // priced calls by (family, dtype, shape)
  std::shared_ptr<const CollectiveCalibration> collectives_;
};

// Empty when a profile made on `device` can price `gpu`; otherwise why not ("measured on NVIDIA A100-SXM4-80GB,
// not an H100-SXM"). The GPU table's family (the name before its first '-', e.g. "h100") must
// appear in the device's name, and a PCIe card does not price an SXM row.
std::string profile_device_mismatch(const ProfileDevice& device, const GpuSpec& gpu);

// The analytic estimate of one kernel call (roofline x efficiency curve); also what
// profiles/make_analytic_profile writes into profiles/<gpu>-analytic.json.
Nanos analytic_kernel_time(const GpuSpec& gpu, const KernelCall& call);

}  // namespace ecsim
