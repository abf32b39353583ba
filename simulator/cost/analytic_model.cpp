// The analytic kernel model: roofline with the GPU's measured ceilings times an efficiency that
// depends on the shape. Every constant is a row below with its source; the efficiency curves are
// built from the H100 measurements in ../shared/ANCHORS.md after removing one launch overhead
// from each measured time, so that the model reproduces those measurements.
#include "cost/analytic_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "cost/compute_cost.hpp"

namespace ecsim {
namespace {

// ---------------------------------------------------------------------------------------------
// Constants, each with its source.

// Per kernel launch: the gap a stream of back-to-back kernels shows between one kernel's end and
// the next one's start, plus the ramp of a small grid. "A few microseconds" (the cost-model issue);
// an assumption that a measured profile's smallest kernels replace.
constexpr const char* kLaunchOverhead = "3us";

// The H100 ceilings on the day the anchors were measured (ANCHORS.md: cuBLAS bf16 GEMM 8192^3
// 794 TFLOP/s; device copy 2.97 TB/s); every anchor rate below is a fraction of these.
constexpr const char* kAnchorMatmulCeiling = "794TFLOPS";
constexpr const char* kAnchorHbmCeiling = "2.97TBps";

// Expert-GEMM efficiency against rows: y[m, 12288] = x[m, 3072] W[3072, 12288], one expert.
struct GemmAnchor {
  std::int64_t m, n, k;
  const char* rate;
  const char* source;
};
constexpr std::array<GemmAnchor, 7> kGemmAnchors{{
    {128, 12288, 3072, "217TFLOPS", "ANCHORS.md expert GEMM d=3072 f=12288, one expert, 128 tokens"},
    {256, 12288, 3072, "380TFLOPS", "ANCHORS.md expert GEMM, 256 tokens"},
    {512, 12288, 3072, "584TFLOPS", "ANCHORS.md expert GEMM, 512 tokens"},
    {1024, 12288, 3072, "639TFLOPS", "ANCHORS.md expert GEMM, 1024 tokens"},
    {2048, 12288, 3072, "705TFLOPS", "ANCHORS.md expert GEMM, 2048 tokens"},
    {4096, 12288, 3072, "761TFLOPS", "ANCHORS.md expert GEMM, 4096+ tokens: 745-777 (the middle)"},
    {8192, 8192, 8192, "794TFLOPS", "ANCHORS.md cuBLAS bf16 GEMM 8192^3: the matmul ceiling itself"},
}};
// The reference n*k of the curve's x (gemm_equivalent_rows): the expert GEMM's 12288 x 3072.
constexpr double kReferenceNK = 12288.0 * 3072.0;

// Many uniform groups as one batched GEMM stay below a single large GEMM: ANCHORS.md, expert
// GEMMs d=2048 f=8192, capacity factor 2, 65536 tokens, "uniform groups as batched GEMM 670-690"
// (the upper end is the many-group limit; one group is a plain GEMM, see batched_cap).
constexpr const char* kBatchedPlateau = "690TFLOPS";
// Ragged groups (token choice) against uniform ones, same problem: torch._grouped_mm 566-644
// against batched 670-690 TFLOP/s (ANCHORS.md; middles 605 / 680).
constexpr const char* kRaggedRate = "605TFLOPS";
constexpr const char* kUniformRate = "680TFLOPS";

// A weight-bound batched GEMM: 8 experts, 128 tokens each, 321 TFLOP/s (ANCHORS.md); its time is
// the streaming of 8 x 3072 x 12288 bf16 weights, which gives the HBM fraction a GEMM reaches.
struct StreamingGemmAnchor {
  std::int64_t batch, m, n, k;
  const char* rate;
};
constexpr StreamingGemmAnchor kStreamingGemm{8, 128, 12288, 3072, "321TFLOPS"};

// Attention, non-causal, cuDNN SDPA (the faster library in every EC-DiT row but one, where the
// two are within 2%), forward and forward+backward rates; ANCHORS.md counts forward FLOPs as
// 4*B*H*Sq*Skv*D and backward as 2.5x forward.
struct AttentionAnchor {
  std::int64_t batch, heads, q_len, kv_len, head_dim;
  const char* fwd;
  const char* fwd_bwd;
  const char* source;
};
constexpr double kAnchorBackwardFlopsRatio = 2.5;
constexpr std::array<AttentionAnchor, 9> kAttentionAnchors{{
    {64, 18, 256, 256, 64, "156TFLOPS", "117TFLOPS", "ANCHORS.md EC-DiT shapes, XL self"},
    {64, 18, 256, 128, 64, "132TFLOPS", "73TFLOPS", "ANCHORS.md EC-DiT shapes, XL cross"},
    {32, 48, 256, 256, 64, "212TFLOPS", "143TFLOPS", "ANCHORS.md EC-DiT shapes, M self"},
    {32, 48, 256, 128, 64, "130TFLOPS", "71TFLOPS", "ANCHORS.md EC-DiT shapes, M cross"},
    {32, 48, 128, 128, 64, "98TFLOPS", "61TFLOPS", "ANCHORS.md EC-DiT shapes, M masked"},
    {8, 16, 1024, 1024, 128, "474TFLOPS", "376TFLOPS", "ANCHORS.md attention table, 8x16x1024x128"},
    {2, 16, 4096, 4096, 128, "589TFLOPS", "553TFLOPS", "ANCHORS.md attention table, 2x16x4096x128"},
    {4, 32, 4096, 4096, 64, "408TFLOPS", "442TFLOPS", "ANCHORS.md attention table, 4x32x4096x64"},
    {1, 24, 16384, 16384, 128, "690TFLOPS", "574TFLOPS", "ANCHORS.md attention table, 1x24x16384x128"},
}};
// Query rows per attention thread block (FlashAttention-2 and cuDNN on Hopper tile queries by 128);
// fewer blocks than SMs leave SMs idle. None of the anchors is below one wave.
constexpr std::int64_t kAttentionQueryTile = 128;

// Memory-bound kernels: fraction of the device-copy ceiling and launches per call.
constexpr std::array<MemoryKernelRow, 5> kMemoryKernels{{
    {MemoryKernel::kStreaming, 0.90, 1, 0,
     "assumption: a vectorized elementwise kernel streams about as fast as the device copy that "
     "defines hbm_ceiling (ANCHORS.md 2.97 TB/s on H100), less 10% for tails"},
    {MemoryKernel::kRowReduction, 0.80, 1, 0,
     "assumption: one pass per row with a block reduction (LayerNorm over rows of 1152-3072 values) "
     "keeps fewer bytes in flight than a copy"},
    {MemoryKernel::kGather, 0.80, 1, 0,
     "assumption: rows of hidden bf16 values gathered by index are contiguous runs of 2.3-6 KB; "
     "index reads and the last partial wave cost the rest"},
    {MemoryKernel::kRouting, 0.15, 3, 15e-6,
     "assumption: softmax, per-(group, expert) top-C selection and the index build are three kernels; "
     "selection passes over the scores several times. Checked against ANCHORS.md routing in PyTorch "
     "(d=2048, f_c=2): with E=64 the router GEMM + ec_route + permute come to 0.07/0.18/0.61 ms for "
     "4096/16384/65536 tokens against eager PyTorch's 0.11/0.25/0.70 ms. Forward floor, measured: "
     "kernels/ec_route.cu's selection is latency-bound (a warp per (group, expert) passes over the "
     "group's scores), 21.9-24.4 us at 1024-2048 tokens over 32 and 64 experts in the H100 profile "
     "(2026-11-27) and 21.7 us at 8 experts in the H100 runner, tc_route 20.4 us: 15 us over 3 launches"},
    {MemoryKernel::kOptimizer, 0.85, 1, 0,
     "assumption: fused AdamW streams four fp32 inputs and three fp32 outputs plus a bf16 copy"},
}};
struct MemoryFamily {
  const char* family;
  MemoryKernel kind;
};
constexpr std::array<MemoryFamily, 17> kMemoryFamilies{{
    {"gelu", MemoryKernel::kStreaming},
    {"silu", MemoryKernel::kStreaming},
    {"swiglu", MemoryKernel::kStreaming},
    {"residual_add", MemoryKernel::kStreaming},
    {"bias_add", MemoryKernel::kStreaming},  // a linear layer's bias after its product (and its gradient)
    {"gate_residual", MemoryKernel::kStreaming},
    {"adaln_table", MemoryKernel::kStreaming},
    {"embedding", MemoryKernel::kStreaming},
    {"adaln_layernorm", MemoryKernel::kRowReduction},
    {"layernorm", MemoryKernel::kRowReduction},
    {"rmsnorm", MemoryKernel::kRowReduction},
    {"flow_loss", MemoryKernel::kRowReduction},
    {"cross_entropy", MemoryKernel::kRowReduction},
    {"permute", MemoryKernel::kGather},
    {"unpermute", MemoryKernel::kGather},
    {"ec_route", MemoryKernel::kRouting},
    {"tc_route", MemoryKernel::kRouting},
}};

// ---------------------------------------------------------------------------------------------

constexpr std::string_view kBwdSuffix = "_bwd";

// Whether `family` names a backward kernel ("X_bwd").
bool is_backward_family(std::string_view family) {
  return family.size() > kBwdSuffix.size() && family.ends_with(kBwdSuffix);
}

double dim(const OpShape& s, const char* name) {
  auto it = s.find(name);
  if (it == s.end()) throw RuntimeFailure(std::string("kernel shape has no dimension '") + name + "'");
  return static_cast<double>(it->second);
}

// Piecewise linear in (log x, log y); clamped at both ends.
class LogCurve {
 public:
  void add(double x, double y) { raw_.emplace_back(std::log(x), std::log(y)); }
  // Sorts by x and merges points at one x (geometric mean of their y).
  void finish() {
    std::map<double, std::pair<double, int>> merged;
    for (auto [lx, ly] : raw_) {
      auto& [sum, count] = merged[lx];
      sum += ly;
      ++count;
    }
    for (auto& [lx, acc] : merged) points_.emplace_back(lx, acc.first / acc.second);
  }
  double front_x() const { return std::exp(points_.front().first); }
  double front_y() const { return std::exp(points_.front().second); }
  double at(double x) const {
    const double lx = std::log(x);
    if (lx <= points_.front().first) return std::exp(points_.front().second);
    if (lx >= points_.back().first) return std::exp(points_.back().second);
    auto hi = std::upper_bound(points_.begin(), points_.end(), lx,
                               [](double v, const std::pair<double, double>& p) { return v < p.first; });
    auto lo = hi - 1;
    const double w = (lx - lo->first) / (hi->first - lo->first);
    return std::exp(lo->second + w * (hi->second - lo->second));
  }

 private:
  std::vector<std::pair<double, double>> raw_;
  std::vector<std::pair<double, double>> points_;
};

// An anchor's kernel time without its launch: what the efficiency curves describe.
Seconds body_time(Flops f, FlopsPerSecond measured) {
  return compute_time(f, measured) - launch_overhead();
}

// Fraction of the anchor-day ceiling reached by the kernel body.
double body_efficiency(Flops f, Seconds body) {
  return rate(f, body).value / parse_flops_rate(kAnchorMatmulCeiling).value;
}

const LogCurve& gemm_curve() {
  static const LogCurve curve = [] {
    LogCurve c;
    for (const auto& a : kGemmAnchors) {
      const Flops f{2.0 * static_cast<double>(a.m) * static_cast<double>(a.n) * static_cast<double>(a.k)};
      const double x = gemm_equivalent_rows(static_cast<double>(a.m), static_cast<double>(a.n),
                                            static_cast<double>(a.k), 1);
      c.add(x, std::min(1.0, body_efficiency(f, body_time(f, parse_flops_rate(a.rate)))));
    }
    c.finish();
    return c;
  }();
  return curve;
}

// Efficiency cap of `batch` uniform groups: 1 for one group (a plain GEMM), the batched plateau
// for many, harmonic in between (an assumption; ANCHORS.md has the two ends).
double batched_cap(double batch) {
  const double plateau = parse_flops_rate(kBatchedPlateau).value / parse_flops_rate(kAnchorMatmulCeiling).value;
  return 1.0 - (1.0 - plateau) * (1.0 - 1.0 / std::max(1.0, batch));
}

double ragged_factor() { return parse_flops_rate(kRaggedRate).value / parse_flops_rate(kUniformRate).value; }

struct AttentionCurves {
  LogCurve fwd64, bwd64, fwd128, bwd128;  // efficiency over q_len * kv_len, per head dim
};

// Forward-FLOP efficiencies of both kernels (the backward's time is priced per forward FLOP, so
// the model does not depend on how op.cpp counts backward FLOPs).
const AttentionCurves& attention_curves() {
  static const AttentionCurves curves = [] {
    AttentionCurves c;
    for (const auto& a : kAttentionAnchors) {
      const Flops f{4.0 * static_cast<double>(a.batch * a.heads) * static_cast<double>(a.q_len) *
                    static_cast<double>(a.kv_len) * static_cast<double>(a.head_dim)};
      const Seconds fwd = compute_time(f, parse_flops_rate(a.fwd));
      const Seconds both = compute_time(f * (1.0 + kAnchorBackwardFlopsRatio), parse_flops_rate(a.fwd_bwd));
      const Seconds bwd = both - fwd;
      const double x = static_cast<double>(a.q_len) * static_cast<double>(a.kv_len);
      const double e_fwd = body_efficiency(f, fwd - launch_overhead());
      const double e_bwd = body_efficiency(f, bwd - launch_overhead());
      (a.head_dim == 64 ? c.fwd64 : c.fwd128).add(x, e_fwd);
      (a.head_dim == 64 ? c.bwd64 : c.bwd128).add(x, e_bwd);
    }
    for (LogCurve* curve : {&c.fwd64, &c.bwd64, &c.fwd128, &c.bwd128}) curve->finish();
    return c;
  }();
  return curves;
}

// Head dim 128 below its shortest anchor: the head-dim-64 curve's shape, scaled to meet it there.
double attention_d128(const LogCurve& d64, const LogCurve& d128, double x) {
  if (x >= d128.front_x()) return d128.at(x);
  return d64.at(x) * d128.front_y() / d64.at(d128.front_x());
}

}  // namespace

Seconds launch_overhead() {
  static const Seconds s = parse_duration(kLaunchOverhead);
  return s;
}

double matmul_hbm_fraction() {
  static const double fraction = [] {
    const auto& a = kStreamingGemm;
    const double b = static_cast<double>(a.batch), m = static_cast<double>(a.m), n = static_cast<double>(a.n),
                 k = static_cast<double>(a.k);
    const Flops f{2 * b * m * n * k};
    const Bytes bytes{b * (m * k + k * n + m * n) * kBf16Bytes};
    return rate(bytes, body_time(f, parse_flops_rate(a.rate))).value / parse_bandwidth(kAnchorHbmCeiling).value;
  }();
  return fraction;
}

KernelClass kernel_class(const std::string& family) {
  if (is_single_gemm(family) || is_batched_gemm(family) || family == "grouped_gemm" ||
      family == "grouped_gemm_wgrad") {
    return KernelClass::kMatmul;
  }
  if (family == "attention_fwd" || family == "attention_bwd") return KernelClass::kAttention;
  return KernelClass::kMemory;
}

bool is_single_gemm(const std::string& family) {
  return family == "gemm" || family == "gemm_bias" || family == "gemm_wgrad";
}

bool is_batched_gemm(const std::string& family) {
  return family == "batched_gemm" || family == "batched_gemm_bias" || family == "batched_gemm_wgrad";
}

bool is_weight_grad_gemm(const std::string& family) {
  return family == "gemm_wgrad" || family == "batched_gemm_wgrad" || family == "grouped_gemm_wgrad";
}

const MemoryKernelRow& memory_kernel(const std::string& family) {
  std::string_view base = family;
  if (is_backward_family(base)) base.remove_suffix(kBwdSuffix.size());
  MemoryKernel kind = MemoryKernel::kStreaming;
  if (base == "adamw") kind = MemoryKernel::kOptimizer;
  for (const auto& f : kMemoryFamilies) {
    if (base == f.family) kind = f.kind;
  }
  for (const auto& row : kMemoryKernels) {
    if (row.kind == kind) return row;
  }
  throw RuntimeFailure("memory kernel table has no row for " + family);
}

double gemm_equivalent_rows(double m, double n, double k, double batch) {
  // The anchor curve varies the short side m of a GEMM whose other sides are 12288 x 3072. The
  // short side sets how well a tile is used; the other two (and the batch) set how many tiles
  // there are to spread over the SMs. Their size enters by the square root: an assumption that
  // keeps square GEMMs between the expert curve and the 8192^3 ceiling.
  const double lo = std::min({m, n, k});
  return lo * std::sqrt(batch * (m * n * k / lo) / kReferenceNK);
}

double matmul_efficiency(const std::string& family, const OpShape& s) {
  double batch = 1, m = 0, n = 0, k = 0;
  bool ragged = false;
  if (is_single_gemm(family)) {
    m = dim(s, "m"), n = dim(s, "n"), k = dim(s, "k");
  } else if (is_batched_gemm(family)) {
    batch = dim(s, "batch"), m = dim(s, "m"), n = dim(s, "n"), k = dim(s, "k");
  } else if (family == "grouped_gemm") {
    batch = dim(s, "groups"), n = dim(s, "n"), k = dim(s, "k");
    m = batch > 0 ? dim(s, "m_total") / batch : 0;
    ragged = true;
  } else if (family == "grouped_gemm_wgrad") {
    batch = dim(s, "groups"), m = dim(s, "m"), n = dim(s, "n");
    k = batch > 0 ? dim(s, "k_total") / batch : 0;
    ragged = true;
  } else {
    throw RuntimeFailure("matmul_efficiency: '" + family + "' is not a matmul family");
  }
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return 1.0;  // no work: the launch alone
  const LogCurve& curve = gemm_curve();
  const double x = gemm_equivalent_rows(m, n, k, batch);
  // Below the first anchor the 128-row tile is partly empty: efficiency falls with the rows.
  double e = x < curve.front_x() ? curve.front_y() * x / curve.front_x() : curve.at(x);
  e = std::min({e, batched_cap(batch), 1.0});
  return ragged ? e * ragged_factor() : e;
}

double attention_efficiency(const GpuSpec& gpu, bool backward, const OpShape& s) {
  const auto& c = attention_curves();
  const double x = dim(s, "q_len") * dim(s, "kv_len");
  const double head_dim = dim(s, "head_dim");
  const LogCurve& d64 = backward ? c.bwd64 : c.fwd64;
  const LogCurve& d128 = backward ? c.bwd128 : c.fwd128;
  double e = 0;
  if (head_dim <= 64) {
    // Narrower heads use the tensor cores' k dimension less: efficiency in proportion (assumption).
    e = d64.at(x) * head_dim / 64;
  } else if (head_dim >= 128) {
    e = attention_d128(d64, d128, x);  // wider heads: as 128 (assumption)
  } else {
    const double w = std::log(head_dim / 64) / std::log(2.0);
    e = std::exp((1 - w) * std::log(d64.at(x)) + w * std::log(attention_d128(d64, d128, x)));
  }
  const double q_tiles = std::ceil(dim(s, "q_len") / static_cast<double>(kAttentionQueryTile));
  const double blocks = dim(s, "batch") * dim(s, "heads") * q_tiles;
  const double fill = std::min(1.0, blocks / static_cast<double>(std::max(1, gpu.sms)));
  return std::min(1.0, e * fill);
}

Nanos analytic_kernel_time(const GpuSpec& gpu, const KernelCall& call) {
  const Seconds launch = launch_overhead();
  switch (kernel_class(call.op)) {
    case KernelClass::kMatmul: {
      const double e = matmul_efficiency(call.op, call.shape);
      const Seconds compute =
          call.flops.value > 0 ? compute_time(call.flops, {gpu.matmul_ceiling.value * e}) : Seconds{};
      const Seconds memory = transfer_time(call.bytes, {gpu.hbm_ceiling.value * matmul_hbm_fraction()});
      return to_nanos(launch + std::max(compute, memory));
    }
    case KernelClass::kAttention: {
      const OpShape& s = call.shape;
      const bool causal = s.count("causal") != 0 && s.at("causal") != 0;
      // Attention efficiencies count forward FLOPs (4*b*h*sq*skv*d, half when causal) for both kernels.
      const Flops fwd{4 * dim(s, "batch") * dim(s, "heads") * dim(s, "q_len") * dim(s, "kv_len") *
                      dim(s, "head_dim") * (causal ? 0.5 : 1.0)};
      const double e = attention_efficiency(gpu, call.op == "attention_bwd", s);
      const Seconds compute = fwd.value > 0 ? compute_time(fwd, {gpu.matmul_ceiling.value * e}) : Seconds{};
      const Seconds memory = transfer_time(call.bytes, {gpu.hbm_ceiling.value * matmul_hbm_fraction()});
      return to_nanos(launch + std::max(compute, memory));
    }
    case KernelClass::kMemory: {
      const MemoryKernelRow& row = memory_kernel(call.op);
      const Seconds memory = transfer_time(call.bytes, {gpu.hbm_ceiling.value * row.hbm_fraction});
      const Seconds floor{is_backward_family(call.op) ? 0.0 : row.forward_floor_s};
      return to_nanos(launch * row.launches + std::max(memory, floor));
    }
  }
  throw RuntimeFailure("analytic_kernel_time: unknown kernel class for " + call.op);
}

}  // namespace ecsim
