// ComputeCostModel: an operator's kernels, each priced from the profile where it has measured
// neighbours, at the top entry's rate above a saturated sweep, past the bottom of a sweep from its
// smallest entries, and from the analytic model elsewhere; the four counts go into PricingStats.
#include "cost/compute_cost.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "comm/collective_calibration.hpp"
#include "cost/analytic_model.hpp"
#include "cost/host_cost.hpp"
#include "cost/interpolation.hpp"

namespace ecsim {

enum class PriceSource { kProfile, kBeyondProfile, kBelowProfile, kRoofline };

struct Priced {
  Nanos time;
  PriceSource source = PriceSource::kRoofline;
  // A call a profile left to the roofline: its family's record in the statistics (std::map nodes
  // stay put), counted per call without building its name again.
  OutsideProfile* outside = nullptr;
};

struct PriceCache {
  std::unordered_map<std::string, Priced> prices;  // key -> its price and where it came from
  std::unordered_map<std::string, double> host_ns;                        // key -> the host's time to issue it
};

std::string outside_key(const std::string& op, const std::string& dtype) { return op + " (" + dtype + ")"; }

std::string describe_outside(const std::map<std::string, OutsideProfile>& outside, std::size_t limit) {
  std::vector<std::pair<std::string, const OutsideProfile*>> by_calls;
  for (const auto& [family, o] : outside) by_calls.emplace_back(family, &o);
  std::stable_sort(by_calls.begin(), by_calls.end(),
                   [](const auto& a, const auto& b) { return a.second->calls > b.second->calls; });
  std::string text;
  for (std::size_t i = 0; i < by_calls.size() && i < limit; ++i) {
    if (i > 0) text += "; ";
    text += by_calls[i].first + " x" + std::to_string(by_calls[i].second->calls) + ", e.g.";
    const char* sep = " ";
    for (const auto& [name, v] : by_calls[i].second->first_shape) {
      text += sep + name + " " + std::to_string(v);
      sep = ", ";
    }
  }
  if (by_calls.size() > limit) text += "; and " + std::to_string(by_calls.size() - limit) + " more families";
  return text;
}

ComputeCostModel ComputeCostModel::analytic(const GpuSpec& gpu) {
  ComputeCostModel m;
  m.gpu_ = gpu;
  m.cache_ = std::make_shared<PriceCache>();
  return m;
}

ComputeCostModel ComputeCostModel::from_profile(Profile profile, const GpuSpec& gpu, const ClusterSpec* cluster) {
  ComputeCostModel m;
  if (cluster != nullptr && !profile.collectives.empty()) {
    auto calibration = std::make_shared<const CollectiveCalibration>(profile.collectives, *cluster);
    if (calibration->calibrated_groups() > 0) m.collectives_ = std::move(calibration);
  }
  m.gpu_ = gpu;
  // The fallback uses the ceilings measured next to the kernels it stands in for.
  m.gpu_.matmul_ceiling = profile.matmul_ceiling;
  m.gpu_.hbm_ceiling = profile.hbm_ceiling;
  m.profile_ = std::make_shared<const Profile>(std::move(profile));
  m.index_ = std::make_shared<const ProfileIndex>(*m.profile_);
  auto host = std::make_shared<const HostCostIndex>(*m.profile_);
  if (host->measured()) m.host_ = std::move(host);
  m.cache_ = std::make_shared<PriceCache>();
  return m;
}

ComputeCostModel ComputeCostModel::for_another_thread() const {
  ComputeCostModel m = *this;
  m.stats_ = std::make_shared<PricingStats>();
  m.cache_ = std::make_shared<PriceCache>();
  return m;
}

Nanos ComputeCostModel::kernel(const KernelCall& call) const {
  const std::string key = kernel_key(call);
  auto it = cache_->prices.find(key);
  if (it == cache_->prices.end()) {
    Priced priced;
    if (index_) {
      if (auto t = index_->price_ns(call.op, call.dtype, call.shape)) {
        priced = {Nanos{std::llround(*t)}, PriceSource::kProfile};
      } else if (auto beyond = index_->beyond_ns(call.op, call.dtype, call.shape)) {
        priced = {Nanos{std::llround(*beyond)}, PriceSource::kBeyondProfile};
      } else if (auto below = index_->below_ns(call.op, call.dtype, call.shape)) {
        priced = {Nanos{std::llround(*below)}, PriceSource::kBelowProfile};
      }
    }
    if (priced.source == PriceSource::kRoofline) {
      priced.time = analytic_kernel_time(gpu_, call);
      if (index_) {
        OutsideProfile& o = stats_->outside[outside_key(call.op, call.dtype)];
        if (o.calls == 0) o = {call.op, call.dtype, 0, call.shape};
        priced.outside = &o;
      }
    } else if (priced.source != PriceSource::kProfile && kernel_class(call.op) == KernelClass::kMemory) {
      // Carried past a sweep's end, a memory-bound kernel still moves its bytes no faster than the
      // measured copy ceiling (a sweep that ends launch-bound is carried flat).
      priced.time = std::max(priced.time, to_nanos(transfer_time(call.bytes, gpu_.hbm_ceiling)));
    }
    it = cache_->prices.emplace(key, priced).first;
  }
  switch (it->second.source) {
    case PriceSource::kProfile: ++stats_->from_profile; break;
    case PriceSource::kBeyondProfile: ++stats_->beyond_profile; break;
    case PriceSource::kBelowProfile: ++stats_->below_profile; break;
    case PriceSource::kRoofline:
      ++stats_->from_roofline;
      if (it->second.outside != nullptr) ++it->second.outside->calls;
      break;
  }
  // The old gradient a later micro-batch's dW adds to, read at the HBM ceiling (the profile's
  // measured one where a profile prices) on top of the written gradient's price.
  return it->second.time + to_nanos(transfer_time(call.added_read, gpu_.hbm_ceiling));
}

Nanos ComputeCostModel::forward(const Op& op) const {
  Nanos t;
  for (const KernelCall& c : forward_kernels(op)) t += kernel(c);
  return t;
}

Nanos ComputeCostModel::backward(const Op& op, WeightGrads w, Dtype grads) const {
  Nanos t;
  for (const KernelCall& c : backward_kernels(op, w, grads)) t += kernel(c);
  return t;
}

Nanos ComputeCostModel::optimizer_step(double params, const OptimizerSpec& recipe) const {
  if (params < 1) return Nanos{};
  return kernel(optimizer_kernel(params, recipe));
}

Nanos ComputeCostModel::host_of(const std::vector<KernelCall>& calls) const {
  if (!host_) return Nanos{};
  double ns = timed_operators_ ? host_->event_pair_ns() : 0.0;
  for (const KernelCall& c : calls) {
    auto [it, fresh] = cache_->host_ns.try_emplace(kernel_key(c), 0.0);
    if (fresh) it->second = host_->call_ns(c);  // the nearest entry: a scan of the family
    ns += it->second;
  }
  return Nanos{std::llround(ns)};
}

Nanos ComputeCostModel::host_forward(const Op& op) const { return host_of(forward_kernels(op)); }

Nanos ComputeCostModel::host_backward(const Op& op, Dtype grads) const {
  return host_of(backward_kernels(op, WeightGrads::kWrite, grads));
}

Nanos ComputeCostModel::host_optimizer(double params, const OptimizerSpec& recipe) const {
  if (params < 1) return Nanos{};
  return host_of({optimizer_kernel(params, recipe)});
}

bool ComputeCostModel::prices_host() const { return host_ != nullptr; }

std::string profile_device_mismatch(const ProfileDevice& device, const GpuSpec& gpu) {
  auto lower = [](std::string v) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return v;
  };
  const std::string name = lower(device.name), row = lower(gpu.name);
  const std::string family = row.substr(0, row.find('-'));
  const bool same_family = name.find(family) != std::string::npos;
  const bool pcie_for_sxm = name.find("pcie") != std::string::npos && row.find("sxm") != std::string::npos;
  if (same_family && !pcie_for_sxm) return "";
  return "made on " + device.name + ", not an " + gpu.name + ": its times price another card";
}

Nanos ComputeCostModel::launch_gap() const {
  if (!profile_ || !profile_->launch_gap) return Nanos{};
  return Nanos{static_cast<std::int64_t>(std::llround(profile_->launch_gap->p50_ns))};
}

std::string ComputeCostModel::description() const {
  if (!profile_) return "analytic " + gpu_.name;
  std::string d = "profile " + profile_->file.string() + " (" + profile_->source + ", " + profile_->device.name + ", " +
                  std::to_string(profile_->ops.size()) + " kernel shapes)";
  if (profile_->launch_gap) {
    d += "; " + std::to_string(std::llround(profile_->launch_gap->p50_ns)) + " ns launch gap before each operator";
  }
  if (host_) d += "; the host's launch times from it";
  if (collectives_) {
    d += "; measured collectives calibrate " + std::to_string(collectives_->calibrated_groups()) +
         " (op, ranks) groups inside a node";
  }
  const std::string mismatch = profile_device_mismatch(profile_->device, gpu_);
  if (!mismatch.empty()) d += " WARNING: " + mismatch;
  return d;
}

}  // namespace ecsim
