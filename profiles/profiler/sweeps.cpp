// Which kernel calls the profiler measures (sweeps.hpp). The full sweep is the analytic profile's
// (simulator/cost/kernel_sweep.hpp walks both), so that each measured entry has an analytic twin
// to compare with; entries predicted to run longer than a cap are left out: past it a matrix
// kernel runs at its ceiling and the simulator's roofline fallback, priced with the measured
// ceilings, is as good as a measurement.
#include "profiler/sweeps.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "core/errors.hpp"
#include "cost/analytic_model.hpp"
#include "cost/kernel_sweep.hpp"
#include "model/model_ops.hpp"
#include "scenario/scenario.hpp"

namespace ecsim::profiler {
namespace {

struct SweepConstants {
  std::vector<const char*> model_files;  // empty: the whole EC-DiT family (load_ecdit_family)
  SweepAxes axes;
  double matrix_cap_ms;                  // per-entry caps on the predicted time
  double memory_cap_ms;
};

// Full: the analytic profile's axes. Quick: the smallest and the largest model, fewer
// expert-parallel and ragged-group counts, lower caps. Along the axes the simulator interpolates on
// (micro-batch images, tokens per expert, local experts, sequence length, attention batch) the
// quick sweep steps as finely as the full one: with micro-batches in powers of two, local experts
// 1/8/64, every other octave of tokens per expert and three sequence lengths, its shapes failed the
// leave-one-out bar even priced by the smooth analytic model (p90 20.8%; now 5.7%;
// tests/kernels/profiler_plan_test.cpp).
const SweepConstants& constants(SweepSize size) {
  static const SweepConstants full{{}, full_sweep_axes(), 10.0, 50.0};
  static const SweepConstants quick = [] {
    SweepConstants k{{"ecdit-xl-32e.json", "ecdit-m-64e.json"}, full_sweep_axes(), 4.0, 20.0};
    k.axes.expert_parallel = {1, 8, 64};
    k.axes.ragged_experts = {8, 64};
    k.axes.params_log2_step = 2;
    return k;
  }();
  return size == SweepSize::kFull ? full : quick;
}

// Measurement order within the layouts' shapes and within the sweeps': memory-bound families first
// (cheap), then the matrix families, attention last.
int family_rank(const std::string& op) {
  static const std::array<const char*, 10> order{
      "gemm",         "gemm_bias",          "gemm_wgrad",    "batched_gemm",  "batched_gemm_bias",
      "batched_gemm_wgrad", "grouped_gemm", "grouped_gemm_wgrad", "attention_fwd", "attention_bwd"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (op == order[i]) return static_cast<int>(i) + 1;
  }
  return 0;
}

class CallCollector : public SweepVisitor {
 public:
  CallCollector(const GpuSpec& gpu, const SweepConstants& k, const FamilyFilter& has_kernel,
                const FamilyFilter& selected, SweepPlan& plan)
      : gpu_(gpu), has_kernel_(has_kernel), selected_(selected), plan_(plan) {
    plan_.matrix_cap_ns = k.matrix_cap_ms * 1e6;
    plan_.memory_cap_ns = k.memory_cap_ms * 1e6;
  }

  // The shapes the models' own layouts run (and the optimizer's) are marked from_layout, also
  // where a sweep added the same key first.
  void layout_op(const Op& op) override {
    from_layout_ = true;
    add_op(op);
    from_layout_ = false;
  }
  void sweep_op(const Op& op) override { add_op(op); }
  // Every step's optimizer update is priced from this sweep: measured with the layouts' shapes.
  void optimizer(const KernelCall& update) override {
    Op op;
    op.name = "adamw";
    op.shape = update.shape;
    from_layout_ = true;
    add(update, KernelRole::kForward, op);
    from_layout_ = false;
  }

  // After the walk: marks the planned calls whose key a layout produced.
  void mark_layout_calls() {
    for (PlannedCall& c : plan_.calls) c.from_layout = layout_keys_.count(kernel_key(c.call)) > 0;
  }

 private:
  void add_op(const Op& op) {
    for (KernelCall& c : forward_kernels(op)) add(std::move(c), KernelRole::kForward, op);
    const std::vector<KernelCall> backward = backward_kernels(op);
    for (std::size_t i = 0; i < backward.size(); ++i) {
      KernelRole role = KernelRole::kBackward;
      if (kernel_class(op.name) == KernelClass::kMatmul && !is_bias_kernel(backward[i].op)) {
        // kernel_calls.cpp lists dX (when the operator has an input gradient), then dW.
        const bool input_grad = i == 0 && op.bwd_input.value > 0 && !is_weight_grad_gemm(backward[i].op);
        role = input_grad ? KernelRole::kInputGrad : KernelRole::kWeightGrad;
      }
      add(backward[i], role, op);
    }
    // On the layouts' shapes, the dW products into bf16 gradients too.
    if (from_layout_) {
      for (KernelCall& c : bf16_weight_grad_kernels(op)) add(std::move(c), KernelRole::kWeightGrad, op);
    }
  }

  void add(KernelCall c, KernelRole role, const Op& op) {
    if (from_layout_) layout_keys_.insert(kernel_key(c));
    if (!seen_.insert(kernel_key(c)).second) return;  // first role wins: forward, then dX, then dW
    if (!selected_(c.op)) return;
    if (!has_kernel_(c.op)) {
      ++plan_.without_kernel[c.op];
      return;
    }
    const auto predicted = static_cast<double>(analytic_kernel_time(gpu_, c).value);
    const bool memory = kernel_class(c.op) == KernelClass::kMemory;
    if (predicted > (memory ? plan_.memory_cap_ns : plan_.matrix_cap_ns)) {
      ++plan_.over_cap[c.op];
      return;
    }
    // A bias kernel is its own family; the matrix families' launchers take the operator's shape.
    std::string family = is_bias_kernel(c.op) ? c.op : op.name;
    plan_.calls.push_back({std::move(c), role, std::move(family), op.shape, predicted});
  }

  const GpuSpec& gpu_;
  const FamilyFilter& has_kernel_;
  const FamilyFilter& selected_;
  SweepPlan& plan_;
  std::set<std::string> seen_;
  bool from_layout_ = false;
  std::set<std::string> layout_keys_;
};

std::vector<ModelSpec> load_models(const std::filesystem::path& models_dir, const SweepConstants& k) {
  std::error_code ec;
  if (!std::filesystem::is_directory(models_dir, ec)) {
    throw InputError("--models: folder '" + models_dir.string() +
                     "' does not exist; it holds the EC-DiT model files (scenarios/models/ of the repository): "
                     "run from the repository's root, or give --models DIR");
  }
  if (k.model_files.empty()) return load_ecdit_family(models_dir);
  std::vector<ModelSpec> models;
  for (const char* file : k.model_files) models.push_back(load_model_or_scenario(models_dir / file));
  return models;
}

}  // namespace

const char* role_name(KernelRole role) {
  switch (role) {
    case KernelRole::kForward: return "forward";
    case KernelRole::kInputGrad: return "dX";
    case KernelRole::kWeightGrad: return "dW";
    case KernelRole::kBackward: return "backward";
  }
  return "unknown";
}

SweepPlan plan_sweep(const std::filesystem::path& models_dir, SweepSize size, const GpuSpec& gpu,
                     const FamilyFilter& has_kernel, const FamilyFilter& selected) {
  const SweepConstants& k = constants(size);
  SweepPlan plan;
  CallCollector calls(gpu, k, has_kernel, selected, plan);
  plan.campaign_dir = validation_dir_beside(models_dir);
  const std::vector<CampaignConfig> campaign = load_validation_campaign(plan.campaign_dir);
  plan.campaign_configs = campaign.size();
  walk_kernel_sweep(load_models(models_dir, k), k.axes, calls, campaign);
  calls.mark_layout_calls();
  // The shapes real steps run first, so that a run cut by its time limit has those; within each
  // part, cheap families first and each family by predicted time.
  std::stable_sort(plan.calls.begin(), plan.calls.end(), [](const PlannedCall& a, const PlannedCall& b) {
    if (a.from_layout != b.from_layout) return a.from_layout;
    const int ra = family_rank(a.call.op), rb = family_rank(b.call.op);
    if (ra != rb) return ra < rb;
    if (a.call.op != b.call.op) return a.call.op < b.call.op;
    return a.predicted_ns < b.predicted_ns;
  });
  return plan;
}

}  // namespace ecsim::profiler
