// Pricing from measured neighbours (the method is described in interpolation.hpp).
#include "cost/interpolation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cost/analytic_model.hpp"

namespace ecsim {
namespace {

// Sizes closer than this in log space are the same size (shapes are whole numbers).
constexpr double kSameLogSize = 1e-9;
// How far the last step of a sweep's log time over log size may be from the slope of a saturated
// rate (1: time with work at a fixed bandwidth; 0: a fixed efficiency) for beyond_ns to price past it.
constexpr double kSaturatedSlopeError = 0.2;
// Dimensions that are flags, matched exactly, never interpolated.
bool is_flag(const std::string& dim) { return dim == "causal"; }

double dv(const OpShape& s, const char* name) {
  auto it = s.find(name);
  return it == s.end() ? 0.0 : static_cast<double>(it->second);
}

// Memory-bound kernels are swept along their work. Those that reduce or gather rows or columns, or
// route, are swept with their widths fixed (every dimension but their token, row, element and
// parameter counts: hidden, n, experts, top_k, group, capacity), since at equal work the widths set
// their time: an H200's adaLN-LayerNorm over 16384 x 1152 in 48.8 us, over 6144 x 3072 in 34.6 us;
// a token-choice routing of 8192 tokens over 8 experts in 20.5 us at top 1, 28.7 at top 2; a bias
// gradient of 98304 elements over 16 columns in 11.3 us, over 1536 in 4.8 (2026-11-28). Their work
// over every width (kAnyWidthAxis) is their last resort, and the only axis of the kernels that
// stream a tensor as flat (elementwise, a bias added, the optimizer), whose widths do not matter.
constexpr const char* kWorkAxis = "work";
constexpr const char* kAnyWidthAxis = "work over every width";

bool is_size_dim(const std::string& dim) {
  return dim == "tokens" || dim == "rows" || dim == "elements" || dim == "params";
}

bool is_width_sensitive(const std::string& family) {
  if (kernel_class(family) != KernelClass::kMemory) return false;
  if (family == "bias_add_bwd" || family == "gate_residual_bwd") return true;  // column sums
  const MemoryKernel kind = memory_kernel(family).kind;
  return kind == MemoryKernel::kRowReduction || kind == MemoryKernel::kGather || kind == MemoryKernel::kRouting;
}

const std::vector<std::string>& any_width_axis() {
  static const std::vector<std::string> any{kAnyWidthAxis};
  return any;
}

// The dimensions a family is swept along.
const std::vector<std::string>& sweep_axes(const std::string& family) {
  static const std::vector<std::string> gemm{"m", "n", "k"};
  static const std::vector<std::string> batched{"m", "n", "k", "batch"};
  static const std::vector<std::string> grouped{"m_total", "n", "k", "groups"};
  static const std::vector<std::string> wgrad{"k_total", "m", "n", "groups"};
  static const std::vector<std::string> attention{"batch", "heads", "q_len", "kv_len"};
  static const std::vector<std::string> work{kWorkAxis};
  if (is_single_gemm(family)) return gemm;
  if (is_batched_gemm(family)) return batched;
  if (family == "grouped_gemm") return grouped;
  if (family == "grouped_gemm_wgrad") return wgrad;
  if (family == "attention_fwd" || family == "attention_bwd") return attention;
  return is_width_sensitive(family) ? work : any_width_axis();
}

// The axes a family's entries are indexed along: its sweep axes, and a width-sensitive kernel's
// work over every width.
std::vector<std::string> index_axes(const std::string& family) {
  std::vector<std::string> axes = sweep_axes(family);
  if (is_width_sensitive(family)) axes.push_back(kAnyWidthAxis);
  return axes;
}

// Whether a sweep along `axis` holds `dim` fixed: every other dimension; along the work, the widths;
// over every width, none.
bool holds_fixed(const std::string& axis, const std::string& dim) {
  if (axis == kAnyWidthAxis) return false;
  return axis == kWorkAxis ? !is_size_dim(dim) : dim != axis;
}

OpShape fixed_dims(const std::string& axis, const OpShape& shape) {
  OpShape fixed;
  for (const auto& [name, v] : shape) {
    if (holds_fixed(axis, name)) fixed.emplace(name, v);
  }
  return fixed;
}

std::string axis_key(const std::string& family, const std::string& dtype, const std::string& axis) {
  return family + "|" + dtype + "|" + axis;
}

// The sweep through `shape` along `axis` (fixed_dims held).
std::string sweep_key(const std::string& family, const std::string& dtype, const std::string& axis,
                      const OpShape& shape) {
  std::string key = axis_key(family, dtype, axis);
  for (const auto& [name, v] : shape) {
    if (holds_fixed(axis, name)) key += "|" + name + "=" + std::to_string(v);
  }
  return key;
}

bool is_work_axis(const std::string& axis) { return axis == kWorkAxis || axis == kAnyWidthAxis; }

double log_size(const std::string& family, const std::string& axis, const OpShape& shape) {
  const double x = is_work_axis(axis) ? kernel_work(family, shape) : dv(shape, axis.c_str());
  return x > 0 ? std::log(x) : -1e300;
}

std::string describe(const ProfileEntry& e) {
  std::ostringstream os;
  os << e.op << " " << e.dtype << " {";
  bool first = true;
  for (const auto& [name, v] : e.shape) {
    os << (first ? "" : ", ") << name << ": " << v;
    first = false;
  }
  os << "}";
  return os.str();
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

double kernel_work(const std::string& family, const OpShape& s) {
  switch (kernel_class(family)) {
    case KernelClass::kMatmul: {
      if (is_single_gemm(family)) return 2 * dv(s, "m") * dv(s, "n") * dv(s, "k");
      if (is_batched_gemm(family)) return 2 * dv(s, "batch") * dv(s, "m") * dv(s, "n") * dv(s, "k");
      if (family == "grouped_gemm") return 2 * dv(s, "m_total") * dv(s, "n") * dv(s, "k");
      return 2 * dv(s, "m") * dv(s, "n") * dv(s, "k_total");
    }
    case KernelClass::kAttention:
      return 4 * dv(s, "batch") * dv(s, "heads") * dv(s, "q_len") * dv(s, "kv_len") * dv(s, "head_dim") *
             (dv(s, "causal") > 0 ? 0.5 : 1.0);
    case KernelClass::kMemory: break;
  }
  if (s.count("elements")) return dv(s, "elements");
  const bool unpermute = family == "unpermute" || family == "unpermute_bwd";
  if (unpermute) return (dv(s, "rows") + dv(s, "tokens")) * dv(s, "hidden");
  if (s.count("tokens") && s.count("experts")) return dv(s, "tokens") * dv(s, "experts");
  double product = 1;
  for (const auto& [name, v] : s) product *= static_cast<double>(v);
  return product;
}

double ProfileIndex::log_roofline(const std::string& family, const OpShape& s) const {
  // bf16 operands and results (fp32 weight gradients); attention reads Q, K, V and writes O
  // (backward: about twice that).
  double bytes = 0;
  switch (kernel_class(family)) {
    case KernelClass::kMemory: return 0;
    case KernelClass::kMatmul:
      if (is_single_gemm(family) || is_batched_gemm(family)) {
        const double m = dv(s, "m"), n = dv(s, "n"), k = dv(s, "k");
        // A weight gradient writes its fp32 result: twice the bf16 bytes.
        const double result = is_weight_grad_gemm(family) ? 2 : 1;
        bytes = (is_single_gemm(family) ? 1 : dv(s, "batch")) * (m * k + k * n + result * m * n);
      } else if (family == "grouped_gemm") {
        bytes = dv(s, "m_total") * (dv(s, "k") + dv(s, "n")) + dv(s, "groups") * dv(s, "k") * dv(s, "n");
      } else {
        // The weight gradients are written in fp32: twice the bf16 bytes.
        bytes = dv(s, "k_total") * (dv(s, "m") + dv(s, "n")) + 2 * dv(s, "groups") * dv(s, "m") * dv(s, "n");
      }
      break;
    case KernelClass::kAttention:
      bytes = 2 * dv(s, "batch") * dv(s, "head_dim") *
              (dv(s, "heads") * dv(s, "q_len") + dv(s, "kv_heads") * dv(s, "kv_len"));
      if (family == "attention_bwd") bytes *= 2;
      break;
  }
  const Seconds compute = compute_time(Flops{kernel_work(family, s)}, matmul_ceiling_);
  const Seconds memory = transfer_time(Bytes{bytes * kBf16Bytes}, hbm_ceiling_);
  const double t = std::max(compute, memory).value;
  return t > 0 ? std::log(t * kNanosPerSecond) : 0;
}

ProfileIndex::ProfileIndex(const Profile& profile)
    : matmul_ceiling_(profile.matmul_ceiling), hbm_ceiling_(profile.hbm_ceiling) {
  for (std::size_t i = 0; i < profile.ops.size(); ++i) {
    const ProfileEntry& e = profile.ops[i];
    const double log_t = std::log(e.p50_ns) - log_roofline(e.op, e.shape);
    for (const auto& axis : index_axes(e.op)) {
      if (!is_work_axis(axis) && !e.shape.count(axis)) continue;
      Sweep& s = sweeps_[sweep_key(e.op, e.dtype, axis, e.shape)];
      if (s.points.empty()) {
        s.family = e.op;
        s.axis = axis;
        s.fixed = fixed_dims(axis, e.shape);
        sweeps_by_axis_[axis_key(e.op, e.dtype, axis)].push_back(&s);
      }
      s.points.push_back({log_size(e.op, axis, e.shape), log_t, i});
    }
  }
  for (auto& [key, s] : sweeps_) {
    std::sort(s.points.begin(), s.points.end(),
              [](const Point& a, const Point& b) { return a.log_x < b.log_x; });
  }
}

std::optional<ProfileIndex::Bracket> ProfileIndex::bracket(const Sweep& s, double log_x,
                                                           std::optional<std::size_t> exclude) {
  const auto& pts = s.points;
  auto first_not_below = std::lower_bound(pts.begin(), pts.end(), log_x - kSameLogSize,
                                          [](const Point& p, double v) { return p.log_x < v; });
  const auto mid = static_cast<std::size_t>(first_not_below - pts.begin());
  if (mid < pts.size() && std::fabs(pts[mid].log_x - log_x) <= kSameLogSize) {
    const SizeMean exact = mean_at_size(s, mid, exclude);
    if (exact.count > 0) return Bracket{exact.log_t, 0};
  }
  // The nearest size below with an entry left in, and the nearest above.
  std::optional<std::pair<double, double>> lo, hi;  // (log_x, mean log_t)
  for (std::size_t i = mid; i-- > 0;) {
    if (exclude && pts[i].entry == *exclude) continue;
    lo = std::make_pair(pts[i].log_x, mean_at_size(s, i, exclude).log_t);
    break;
  }
  for (std::size_t i = mid; i < pts.size(); ++i) {
    if (std::fabs(pts[i].log_x - log_x) <= kSameLogSize) continue;
    if (exclude && pts[i].entry == *exclude) continue;
    hi = std::make_pair(pts[i].log_x, mean_at_size(s, i, exclude).log_t);
    break;
  }
  if (!lo || !hi) return std::nullopt;
  const double w = (log_x - lo->first) / (hi->first - lo->first);
  return Bracket{lo->second + w * (hi->second - lo->second), hi->first - lo->first};
}

std::optional<ProfileIndex::Bracket> ProfileIndex::across(const std::string& family, const std::string& dtype,
                                                          const std::string& axis, const std::string& other,
                                                          const OpShape& shape,
                                                          std::optional<std::size_t> exclude) const {
  auto it = sweeps_by_axis_.find(axis_key(family, dtype, axis));
  if (it == sweeps_by_axis_.end()) return std::nullopt;
  const std::int64_t target = shape.at(other);
  if (target <= 0) return std::nullopt;
  const double log_x = log_size(family, axis, shape);
  const OpShape fixed = fixed_dims(axis, shape);
  // The nearest sweeps below and above in `other` that reach the call's size along `axis`.
  std::optional<std::pair<std::int64_t, Bracket>> lo, hi;
  for (const Sweep* s : it->second) {
    auto v = s->fixed.find(other);
    if (v == s->fixed.end() || v->second == target || v->second <= 0) continue;
    if (s->fixed.size() != fixed.size()) continue;
    bool same_elsewhere = true;
    for (const auto& [name, value] : s->fixed) {
      if (name == other) continue;
      auto t = fixed.find(name);
      if (t == fixed.end() || t->second != value) {
        same_elsewhere = false;
        break;
      }
    }
    if (!same_elsewhere) continue;
    const bool below = v->second < target;
    auto& side = below ? lo : hi;
    if (side && (below ? v->second < side->first : v->second > side->first)) continue;
    if (auto b = bracket(*s, log_x, exclude)) side = std::make_pair(v->second, *b);
  }
  if (!lo || !hi) return std::nullopt;
  const double l_lo = std::log(static_cast<double>(lo->first));
  const double l_hi = std::log(static_cast<double>(hi->first));
  const double w = (std::log(static_cast<double>(target)) - l_lo) / (l_hi - l_lo);
  return Bracket{lo->second.log_t + w * (hi->second.log_t - lo->second.log_t),
                 (l_hi - l_lo) + std::max(lo->second.span, hi->second.span)};
}

std::optional<double> ProfileIndex::price_ns(const std::string& family, const std::string& dtype,
                                             const OpShape& shape, std::optional<std::size_t> exclude) const {
  // Along a sweep through the shape, the closest bracket of them.
  const auto along = [&](const std::vector<std::string>& axes) {
    std::optional<Bracket> best;
    for (const auto& axis : axes) {
      if (!is_work_axis(axis) && !shape.count(axis)) continue;
      auto it = sweeps_.find(sweep_key(family, dtype, axis, shape));
      if (it == sweeps_.end()) continue;
      const auto b = bracket(it->second, log_size(family, axis, shape), exclude);
      if (b && (!best || b->span < best->span)) best = b;
    }
    return best;
  };
  const std::vector<std::string>& swept = sweep_axes(family);
  std::optional<Bracket> best = along(swept);
  // No sweep passes through the shape: interpolate between the sweeps on either side of it in
  // one other dimension it holds fixed (bilinear in log size), along the closest pair.
  if (!best) {
    for (const auto& axis : swept) {
      if (!is_work_axis(axis) && !shape.count(axis)) continue;
      for (const auto& [other, value] : fixed_dims(axis, shape)) {
        if (is_flag(other)) continue;
        const auto b = across(family, dtype, axis, other, shape, exclude);
        if (b && (!best || b->span < best->span)) best = b;
      }
    }
  }
  // A width-sensitive kernel of widths no sweep brackets: along its work, over every width.
  if (!best && is_width_sensitive(family)) best = along(any_width_axis());
  if (best) return std::exp(best->log_t + log_roofline(family, shape));
  return std::nullopt;
}

ProfileIndex::SizeMean ProfileIndex::mean_at_size(const Sweep& s, std::size_t i, std::optional<std::size_t> exclude) {
  const double at = s.points[i].log_x;
  std::size_t first = i;
  while (first > 0 && std::fabs(s.points[first - 1].log_x - at) <= kSameLogSize) --first;
  double sum = 0;
  int count = 0;
  for (std::size_t j = first; j < s.points.size() && std::fabs(s.points[j].log_x - at) <= kSameLogSize; ++j) {
    if (exclude && s.points[j].entry == *exclude) continue;
    sum += s.points[j].log_t;
    ++count;
  }
  return {count > 0 ? sum / count : 0.0, count, first};
}

std::optional<ProfileIndex::SizeMean> ProfileIndex::size_at_or_below(const Sweep& s, std::size_t i,
                                                                    std::optional<std::size_t> exclude) {
  for (std::size_t j = i + 1; j-- > 0;) {
    const SizeMean m = mean_at_size(s, j, exclude);
    if (m.count > 0) return m;
    j = m.first;  // past the other entries of this size
  }
  return std::nullopt;
}

std::optional<double> ProfileIndex::past_end(const std::string& family, const std::string& dtype,
                                             const OpShape& shape, const EndRule& rule) const {
  const auto closest = [&](const std::vector<std::string>& axes) {
    std::optional<std::pair<double, double>> best;  // (log-size distance past the end, log_t)
    for (const auto& axis : axes) {
      if (!is_work_axis(axis) && !shape.count(axis)) continue;
      auto it = sweeps_.find(sweep_key(family, dtype, axis, shape));
      if (it == sweeps_.end()) continue;
      const auto priced = rule(it->second, log_size(family, axis, shape));
      if (priced && (!best || priced->first < best->first)) best = priced;
    }
    return best;
  };
  auto best = closest(sweep_axes(family));
  if (!best && is_width_sensitive(family)) best = closest(any_width_axis());
  if (!best) return std::nullopt;
  return std::exp(best->second + log_roofline(family, shape));
}

std::optional<double> ProfileIndex::beyond_ns(const std::string& family, const std::string& dtype,
                                              const OpShape& shape, std::optional<std::size_t> exclude) const {
  const double saturated_slope = kernel_class(family) == KernelClass::kMemory ? 1.0 : 0.0;
  return past_end(family, dtype, shape, [&](const Sweep& s, double log_x) -> std::optional<std::pair<double, double>> {
    const auto top = size_at_or_below(s, s.points.size() - 1, exclude);
    if (!top) return std::nullopt;
    const double top_x = s.points[top->first].log_x;
    if (log_x <= top_x + kSameLogSize) return std::nullopt;
    if (top->first == 0) return std::nullopt;  // one size: no step to show saturation
    const auto below = size_at_or_below(s, top->first - 1, exclude);
    if (!below) return std::nullopt;
    const double slope = (top->log_t - below->log_t) / (top_x - s.points[below->first].log_x);
    const double distance = log_x - top_x;
    if (std::fabs(slope - saturated_slope) <= kSaturatedSlopeError) {
      return std::make_pair(distance, top->log_t + saturated_slope * distance);
    }
    // Not saturated: a memory-bound kernel continues the last step, its slope held between flat
    // and proportional; a product's efficiency still changing says nothing past the top.
    if (saturated_slope == 0) return std::nullopt;
    return std::make_pair(distance, top->log_t + std::clamp(slope, 0.0, 1.0) * distance);
  });
}

std::optional<double> ProfileIndex::below_ns(const std::string& family, const std::string& dtype,
                                             const OpShape& shape, std::optional<std::size_t> exclude) const {
  const bool memory = kernel_class(family) == KernelClass::kMemory;  // log_t is the log time
  return past_end(family, dtype, shape, [&](const Sweep& s, double log_x) -> std::optional<std::pair<double, double>> {
    // The two smallest sizes with entries left in.
    std::optional<SizeMean> bottom, next;
    for (std::size_t i = 0; i < s.points.size() && !next; ++i) {
      const SizeMean m = mean_at_size(s, i, exclude);
      if (m.count == 0 || (bottom && m.first == bottom->first)) continue;
      (bottom ? next : bottom) = m;
    }
    if (!bottom) return std::nullopt;
    const double bottom_x = s.points[bottom->first].log_x;
    const double distance = bottom_x - log_x;
    if (distance <= kSameLogSize) return std::nullopt;
    // A memory-bound kernel's time continues the sweep's first step, its log-log slope held
    // between flat (launch-bound) and proportional (bandwidth-bound); a matrix or attention
    // kernel keeps the smallest entry's efficiency against the roofline.
    if (!memory || !next) return std::make_pair(distance, bottom->log_t);
    const double slope = (next->log_t - bottom->log_t) / (s.points[next->first].log_x - bottom_x);
    return std::make_pair(distance, bottom->log_t - std::clamp(slope, 0.0, 1.0) * distance);
  });
}

namespace {

// Fills the counts and the percentiles from the errors (sorted here).
void summarize_errors(LeaveOneOutErrors& r, std::vector<double>& errors) {
  r.predicted = errors.size();
  std::sort(errors.begin(), errors.end());
  r.median = percentile(errors, 0.5);
  r.p90 = percentile(errors, 0.9);
  r.max = errors.empty() ? 0 : errors.back();
}

}  // namespace

LeaveOneOutResult leave_one_out(const Profile& profile) {
  const ProfileIndex index(profile);
  LeaveOneOutResult r;
  r.entries = profile.ops.size();
  std::vector<double> errors, below_errors, above_errors;
  std::map<std::string, std::vector<double>> family_errors;
  double worst = -1;
  for (std::size_t i = 0; i < profile.ops.size(); ++i) {
    const ProfileEntry& e = profile.ops[i];
    LeaveOneOutErrors& family = r.by_family[e.op];
    ++family.entries;
    const auto t = index.price_ns(e.op, e.dtype, e.shape, i);
    if (!t) {
      ++r.outside;
      ++family.outside;
      if (const auto below = index.below_ns(e.op, e.dtype, e.shape, i)) {
        below_errors.push_back(std::fabs(*below - e.p50_ns) / e.p50_ns);
      } else if (const auto above = index.beyond_ns(e.op, e.dtype, e.shape, i)) {
        above_errors.push_back(std::fabs(*above - e.p50_ns) / e.p50_ns);
      }
      continue;
    }
    const double err = std::fabs(*t - e.p50_ns) / e.p50_ns;
    if (err > worst) {
      worst = err;
      r.worst = describe(e);
    }
    errors.push_back(err);
    family_errors[e.op].push_back(err);
  }
  summarize_errors(r, errors);
  for (auto& [family, stats] : r.by_family) summarize_errors(stats, family_errors[family]);
  summarize_errors(r.below, below_errors);
  summarize_errors(r.above, above_errors);
  return r;
}

void print_leave_one_out(const LeaveOneOutResult& r, std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line, "%zu of %zu entries priced from their neighbours, error median %.1f%%, p90 %.1f%%, max %.0f%%",
                r.predicted, r.entries, 100 * r.median, 100 * r.p90, 100 * r.max);
  out << line << " (" << r.worst << ")\n";
  for (const auto& [ends, e] : {std::make_pair("smallest", &r.below), std::make_pair("largest", &r.above)}) {
    if (e->predicted == 0) continue;
    std::snprintf(line, sizeof line, "  the %zu %s entries of their sweeps, priced past that end: median %.1f%%, p90 %.1f%%, max %.0f%%",
                  e->predicted, ends, 100 * e->median, 100 * e->p90, 100 * e->max);
    out << line << "\n";
  }
  std::vector<std::pair<std::string, LeaveOneOutErrors>> families(r.by_family.begin(), r.by_family.end());
  std::stable_sort(families.begin(), families.end(), [](const auto& a, const auto& b) { return a.second.p90 > b.second.p90; });
  for (const auto& [family, e] : families) {
    std::snprintf(line, sizeof line, "  %-22s %5zu of %5zu priced, median %5.1f%%, p90 %5.1f%%, max %5.0f%%", family.c_str(),
                  e.predicted, e.entries, 100 * e.median, 100 * e.p90, 100 * e.max);
    out << line << "\n";
  }
}

}  // namespace ecsim
