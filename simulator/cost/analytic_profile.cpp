// The analytic profile (analytic_profile.hpp): the kernel calls of the full sweep
// (kernel_sweep.hpp), without duplicates, each priced by the analytic model.
#include "cost/analytic_profile.hpp"

#include <map>
#include <string>

namespace ecsim {
namespace {

class CallSet : public SweepVisitor {
 public:
  void layout_op(const Op& op) override {
    add_op(op);
    for (KernelCall& c : bf16_weight_grad_kernels(op)) add(std::move(c));
  }
  void sweep_op(const Op& op) override { add_op(op); }
  void optimizer(const KernelCall& update) override { add(update); }

  std::vector<KernelCall> take() {
    std::vector<KernelCall> out;
    out.reserve(calls_.size());
    for (auto& [key, c] : calls_) out.push_back(std::move(c));
    return out;
  }

 private:
  void add_op(const Op& op) {
    for (KernelCall& c : forward_kernels(op)) add(std::move(c));
    for (KernelCall& c : backward_kernels(op)) add(std::move(c));
  }
  void add(KernelCall c) {
    std::string key = kernel_key(c);
    calls_.emplace(std::move(key), std::move(c));
  }

  std::map<std::string, KernelCall> calls_;  // ordered: the profile lists shapes deterministically
};

}  // namespace

std::vector<KernelCall> ecdit_kernel_calls(const std::vector<ModelSpec>& models,
                                           const std::vector<CampaignConfig>& campaign) {
  CallSet calls;
  walk_kernel_sweep(models, full_sweep_axes(), calls, campaign);
  return calls.take();
}

Profile make_analytic_profile(const GpuSpec& gpu, const std::vector<KernelCall>& calls) {
  Profile p;
  p.source = "analytic";
  p.device = {gpu.name, gpu.sms, gpu.hbm, 0, "none (analytic)", "none (analytic)"};
  p.matmul_ceiling = gpu.matmul_ceiling;
  p.hbm_ceiling = gpu.hbm_ceiling;
  for (const KernelCall& c : calls) {
    const auto t = static_cast<double>(analytic_kernel_time(gpu, c).value);
    p.ops.push_back({c.op, c.dtype, c.shape, t, t, t, 0});
  }
  return p;
}

}  // namespace ecsim
