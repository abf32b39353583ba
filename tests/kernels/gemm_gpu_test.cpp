// cuBLAS matrix products (kernels/gemm.cu) against the CPU reference (kernels/ref/gemm.hpp) on
// fresh random bf16 inputs, outputs poisoned; skipped without a GPU.
// Tolerances. A bf16 output is the fp32 result rounded once: test::bf16_tolerance. An fp32 output
// differs from the fp64 reference by the fp32 accumulation alone (products of bf16 values are
// exact in fp32): at most about k u sum_i |x_i w_i| for a sum of k terms. The tensor cores' adders
// may truncate rather than round, so u = 2^-23 rather than 2^-24, and the bound uses the largest
// sum |x||w| of the output: atol = k 2^-23 max(|x| |w|), plus one rounding (2^-23 relative) where
// the result is added to what the buffer held. A weight gradient written into bf16 (a scenario's
// grad_dtype "bf16") is the fp32 result (plus, accumulating, the bf16 value it held) rounded once:
// test::bf16_tolerance.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <vector>

#include "cublas_check.hpp"
#include "gemm.cuh"
#include "gemm_bias.cuh"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ragged_gemm.cuh"
#include "ref/gemm.hpp"

using namespace ecsim;

namespace {

using Bf16Buffer = test::DeviceBuffer<__nv_bfloat16>;
using Fp32Buffer = test::DeviceBuffer<float>;

class CublasHandle {
 public:
  CublasHandle() { CUBLAS_CHECK(cublasCreate(&handle_)); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle() { cublasDestroy(handle_); }
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

std::size_t size(std::int64_t n) { return static_cast<std::size_t>(n); }

// Uniform in [-1, 1], rounded to bf16 so that the reference sees exactly the GPU's inputs.
std::vector<double> rounded(std::int64_t n, std::uint64_t seed) { return test::rounded(size(n), seed); }

// A gradient buffer's prior content: uniform in [-1, 1], rounded to fp32 as the GPU holds it.
std::vector<double> prior_gradient(std::int64_t n, std::uint64_t seed) {
  return test::to_double(test::to_float(test::random_values(size(n), seed)));
}

// A weight gradient [n] in bf16: `dw` poisoned for an overwriting product, `dw_acc` holding a
// prior gradient (bf16 values in [-1, 1]) for an accumulating one.
struct Bf16Gradients {
  std::vector<double> dw0;
  Bf16Buffer dw, dw_acc;
  Bf16Gradients(std::int64_t n, std::uint64_t seed)
      : dw0(test::rounded(size(n), seed)), dw(size(n)), dw_acc(test::to_bf16(dw0)) {}
  void check(const std::vector<double>& ref) const {
    test::check_close("dw (bf16)", test::download_double(dw), ref, test::bf16_tolerance(ref));
    std::vector<double> sum(ref.size());
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] = dw0[i] + ref[i];
    test::check_close("dw accumulated (bf16)", test::download_double(dw_acc), sum, test::bf16_tolerance(sum));
  }
};

std::vector<double> absolute(std::vector<double> v) {
  for (double& x : v) x = std::abs(x);
  return v;
}

std::vector<double> plus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

// The fp32-accumulation bound above; `abs_products` = |x| |w| summed like the output.
test::Tolerance fp32_product_tolerance(std::int64_t terms, const std::vector<double>& abs_products) {
  double largest = 0;
  for (double v : abs_products) largest = std::max(largest, v);
  return {static_cast<double>(terms) * std::ldexp(largest, -23), std::ldexp(1.0, -23)};
}

// One group per entry of `rows`, weights [G, k, n]: forward, dx and wgrad (overwrite and
// accumulate) against the reference. Batched GEMMs are the case of equal rows.
struct GroupedCase {
  std::vector<std::int64_t> rows;
  std::int64_t n, k;
};

std::int64_t total(const std::vector<std::int64_t>& rows) {
  return std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
}

// A way to run ragged groups: forward into y, dx, and wgrad into dw (overwrite) and dw_acc
// (accumulate); a way that writes bf16 gradients too, into dw16 and dw16_acc.
struct GroupedBuffers {
  const __nv_bfloat16 *x, *w, *dy;
  __nv_bfloat16 *y, *dx;
  float *dw, *dw_acc;
  __nv_bfloat16 *dw16, *dw16_acc;
};
using GroupedProducts = std::function<void(const GroupedGemmDims&, const GroupedBuffers&)>;

// cuBLAS's two ways (gemm.cuh, GroupedGemmMethod).
GroupedProducts cublas_products(GroupedGemmMethod method) {
  return [method](const GroupedGemmDims& dims, const GroupedBuffers& b) {
    test::DeviceBuffer<std::uint8_t> workspace(grouped_gemm_workspace_bytes(dims.groups));
    CublasHandle handle;
    grouped_gemm(handle.get(), nullptr, method, dims, b.x, b.w, b.y, workspace.get(), workspace.size());
    grouped_gemm_dx(handle.get(), nullptr, method, dims, b.dy, b.w, b.dx, workspace.get(), workspace.size());
    grouped_gemm_wgrad(handle.get(), nullptr, dims, b.x, b.dy, b.dw, GradientWrite::kOverwrite);
    grouped_gemm_wgrad(handle.get(), nullptr, dims, b.x, b.dy, b.dw_acc, GradientWrite::kAccumulate);
  };
}

// The runner's way (ragged_gemm.cuh): cuBLASLt with an algorithm per row bucket.
GroupedProducts lt_products(RaggedGemm& ragged) {
  return [&ragged](const GroupedGemmDims& dims, const GroupedBuffers& b) {
    ragged.forward(nullptr, dims, b.x, b.w, b.y);
    ragged.dx(nullptr, dims, b.dy, b.w, b.dx);
    ragged.wgrad(nullptr, dims, b.x, b.dy, b.dw, GradientWrite::kOverwrite);
    ragged.wgrad(nullptr, dims, b.x, b.dy, b.dw_acc, GradientWrite::kAccumulate);
    ragged.wgrad(nullptr, dims, b.x, b.dy, b.dw16, GradientWrite::kOverwrite);
    ragged.wgrad(nullptr, dims, b.x, b.dy, b.dw16_acc, GradientWrite::kAccumulate);
  };
}

// `bf16_grads`: the products write bf16 gradients too (the cuBLASLt way), checked as well.
void check_grouped(const GroupedCase& c, const GroupedProducts& products, std::uint64_t seed, bool bf16_grads) {
  CAPTURE(c.rows.size());
  CAPTURE(c.n);
  CAPTURE(c.k);
  const std::int64_t g = static_cast<std::int64_t>(c.rows.size()), m = total(c.rows);
  const auto x = rounded(m * c.k, seed), w = rounded(g * c.k * c.n, seed + 1), dy = rounded(m * c.n, seed + 2);
  const auto dw0 = prior_gradient(g * c.k * c.n, seed + 3);
  Bf16Buffer d_x(test::to_bf16(x)), d_w(test::to_bf16(w)), d_dy(test::to_bf16(dy));
  Bf16Buffer d_y(size(m * c.n)), d_dx(size(m * c.k));
  Fp32Buffer d_dw(size(g * c.k * c.n)), d_dw_acc(test::to_float(dw0));
  Bf16Gradients dw16(g * c.k * c.n, seed + 4);
  products({c.rows.data(), g, c.n, c.k}, {d_x.get(), d_w.get(), d_dy.get(), d_y.get(), d_dx.get(), d_dw.get(),
                                          d_dw_acc.get(), dw16.dw.get(), dw16.dw_acc.get()});

  const auto y = ref::grouped_gemm(c.rows, c.n, c.k, x, w);
  test::check_close("y", test::download_double(d_y), y, test::bf16_tolerance(y));
  const auto grads = ref::grouped_gemm_bwd(c.rows, c.n, c.k, x, w, dy);
  test::check_close("dx", test::download_double(d_dx), grads.dx, test::bf16_tolerance(grads.dx));
  // The weight gradient's inner dimension is a group's rows: the largest group bounds the terms.
  const std::int64_t most_rows = *std::max_element(c.rows.begin(), c.rows.end());
  const auto abs_dw = ref::grouped_gemm_bwd(c.rows, c.n, c.k, absolute(x), absolute(w), absolute(dy)).dw;
  test::check_close("dw", test::download_double(d_dw), grads.dw, fp32_product_tolerance(most_rows, abs_dw));
  test::check_close("dw accumulated", test::download_double(d_dw_acc), plus(dw0, grads.dw),
                    fp32_product_tolerance(most_rows, abs_dw));
  if (bf16_grads) dw16.check(grads.dw);
}

void check_batched(std::int64_t batch, const GemmDims& d, std::uint64_t seed) {
  CAPTURE(batch);
  CAPTURE(d.m);
  CAPTURE(d.n);
  CAPTURE(d.k);
  const std::vector<std::int64_t> rows(size(batch), d.m);
  const auto x = rounded(batch * d.m * d.k, seed), w = rounded(batch * d.k * d.n, seed + 1);
  const auto dy = rounded(batch * d.m * d.n, seed + 2);
  const auto dw0 = prior_gradient(batch * d.k * d.n, seed + 3);
  Bf16Buffer d_x(test::to_bf16(x)), d_w(test::to_bf16(w)), d_dy(test::to_bf16(dy));
  Bf16Buffer d_y(size(batch * d.m * d.n)), d_dx(size(batch * d.m * d.k));
  Fp32Buffer d_dw(size(batch * d.k * d.n)), d_dw_acc(test::to_float(dw0));
  CublasHandle handle;
  batched_gemm(handle.get(), nullptr, batch, d, d_x.get(), d_w.get(), d_y.get());
  batched_gemm_dx(handle.get(), nullptr, batch, d, d_dy.get(), d_w.get(), d_dx.get());
  batched_gemm_dw(handle.get(), nullptr, batch, d, d_x.get(), d_dy.get(), d_dw.get(), GradientWrite::kOverwrite);
  batched_gemm_dw(handle.get(), nullptr, batch, d, d_x.get(), d_dy.get(), d_dw_acc.get(), GradientWrite::kAccumulate);
  Bf16Gradients dw16(batch * d.k * d.n, seed + 4);
  batched_gemm_dw(handle.get(), nullptr, batch, d, d_x.get(), d_dy.get(), dw16.dw.get(), GradientWrite::kOverwrite);
  batched_gemm_dw(handle.get(), nullptr, batch, d, d_x.get(), d_dy.get(), dw16.dw_acc.get(),
                  GradientWrite::kAccumulate);

  const auto y = ref::grouped_gemm(rows, d.n, d.k, x, w);
  test::check_close("y", test::download_double(d_y), y, test::bf16_tolerance(y));
  const auto grads = ref::grouped_gemm_bwd(rows, d.n, d.k, x, w, dy);
  test::check_close("dx", test::download_double(d_dx), grads.dx, test::bf16_tolerance(grads.dx));
  const auto abs_dw = ref::grouped_gemm_bwd(rows, d.n, d.k, absolute(x), absolute(w), absolute(dy)).dw;
  test::check_close("dw", test::download_double(d_dw), grads.dw, fp32_product_tolerance(d.m, abs_dw));
  test::check_close("dw accumulated", test::download_double(d_dw_acc), plus(dw0, grads.dw),
                    fp32_product_tolerance(d.m, abs_dw));
  dw16.check(grads.dw);
}

void check_gemm(const GemmDims& d, std::uint64_t seed) {
  CAPTURE(d.m);
  CAPTURE(d.n);
  CAPTURE(d.k);
  const ref::GemmShape s{d.m, d.n, d.k};
  const auto x = rounded(d.m * d.k, seed), w = rounded(d.k * d.n, seed + 1), dy = rounded(d.m * d.n, seed + 2);
  const auto dw0 = prior_gradient(d.k * d.n, seed + 3);
  Bf16Buffer d_x(test::to_bf16(x)), d_w(test::to_bf16(w)), d_dy(test::to_bf16(dy));
  // A gradient already at x (another path's), which the accumulating dx adds to.
  const auto dx0 = rounded(d.m * d.k, seed + 4);
  Bf16Buffer d_y(size(d.m * d.n)), d_dx(size(d.m * d.k)), d_dx_acc(test::to_bf16(dx0));
  Fp32Buffer d_y32(size(d.m * d.n)), d_dw(size(d.k * d.n)), d_dw_acc(test::to_float(dw0));
  CublasHandle handle;
  gemm(handle.get(), nullptr, d, d_x.get(), d_w.get(), d_y.get());
  gemm(handle.get(), nullptr, d, d_x.get(), d_w.get(), d_y32.get());
  gemm_dx(handle.get(), nullptr, d, d_dy.get(), d_w.get(), d_dx.get());
  gemm_dx(handle.get(), nullptr, d, d_dy.get(), d_w.get(), d_dx_acc.get(), GradientWrite::kAccumulate);
  gemm_dw(handle.get(), nullptr, d, d_x.get(), d_dy.get(), d_dw.get(), GradientWrite::kOverwrite);
  gemm_dw(handle.get(), nullptr, d, d_x.get(), d_dy.get(), d_dw_acc.get(), GradientWrite::kAccumulate);
  Bf16Gradients dw16(d.k * d.n, seed + 5);
  gemm_dw(handle.get(), nullptr, d, d_x.get(), d_dy.get(), dw16.dw.get(), GradientWrite::kOverwrite);
  gemm_dw(handle.get(), nullptr, d, d_x.get(), d_dy.get(), dw16.dw_acc.get(), GradientWrite::kAccumulate);

  const auto y = ref::gemm(s, x, w, {});
  test::check_close("y (bf16)", test::download_double(d_y), y, test::bf16_tolerance(y));
  const auto abs_y = ref::gemm(s, absolute(x), absolute(w), {});
  test::check_close("y (fp32)", test::download_double(d_y32), y, fp32_product_tolerance(d.k, abs_y));
  const auto grads = ref::gemm_bwd(s, x, w, dy);
  test::check_close("dx", test::download_double(d_dx), grads.dx, test::bf16_tolerance(grads.dx));
  const auto dx_sum = plus(dx0, grads.dx);
  test::check_close("dx accumulated", test::download_double(d_dx_acc), dx_sum, test::bf16_tolerance(dx_sum));
  const auto abs_dw = ref::gemm_bwd(s, absolute(x), absolute(w), absolute(dy)).dw;
  test::check_close("dw", test::download_double(d_dw), grads.dw, fp32_product_tolerance(d.m, abs_dw));
  test::check_close("dw accumulated", test::download_double(d_dw_acc), plus(dw0, grads.dw),
                    fp32_product_tolerance(d.m, abs_dw));
  dw16.check(grads.dw);
}

// y[b] = x[b] w[b] + bias[b] for each of `batch` products, by ref::gemm.
std::vector<double> batched_reference(std::int64_t batch, const GemmDims& d, const std::vector<double>& x,
                                      const std::vector<double>& w, const std::vector<double>& bias) {
  std::vector<double> y;
  const auto part = [](const std::vector<double>& v, std::int64_t b, std::int64_t n) {
    const auto first = v.begin() + static_cast<std::ptrdiff_t>(b * n);
    return std::vector<double>(first, first + static_cast<std::ptrdiff_t>(n));
  };
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto yb = ref::gemm({d.m, d.n, d.k}, part(x, b, d.m * d.k), part(w, b, d.k * d.n), part(bias, b, d.n));
    y.insert(y.end(), yb.begin(), yb.end());
  }
  return y;
}

// gemm_bias (batch 1) or batched_gemm_bias on operands where cudaMalloc put them (256-byte
// aligned), then on copies 8 elements into longer buffers (16-byte aligned), for which an algorithm
// chosen for the first would not do; outputs poisoned (test::DeviceBuffer). y is x w + bias in
// fp32, rounded once: bf16_tolerance.
void check_gemm_bias(GemmBias& fused, std::int64_t batch, const GemmDims& d, std::uint64_t seed) {
  CAPTURE(batch);
  CAPTURE(d.m);
  CAPTURE(d.n);
  CAPTURE(d.k);
  const auto x = rounded(batch * d.m * d.k, seed), w = rounded(batch * d.k * d.n, seed + 1);
  const auto bias = rounded(batch * d.n, seed + 2);
  const auto y = batched_reference(batch, d, x, w, bias);
  const auto shifted = [](const std::vector<double>& v) {
    std::vector<double> out(8, 0.5);
    out.insert(out.end(), v.begin(), v.end());
    return test::to_bf16(out);
  };
  Bf16Buffer d_x(test::to_bf16(x)), d_w(test::to_bf16(w)), d_bias(test::to_bf16(bias)), d_y(y.size());
  Bf16Buffer s_x(shifted(x)), s_w(shifted(w)), s_bias(shifted(bias)), s_y(y.size() + 8);
  fused.run_batched(nullptr, batch, d, d_x.get(), d_w.get(), d_bias.get(), d_y.get());
  fused.run_batched(nullptr, batch, d, s_x.get() + 8, s_w.get() + 8, s_bias.get() + 8, s_y.get() + 8);
  test::check_close("y", test::download_double(d_y), y, test::bf16_tolerance(y));
  const auto shifted_y = test::download_double(s_y);
  test::check_close("y (16-byte aligned operands)", std::vector<double>(shifted_y.begin() + 8, shifted_y.end()), y,
                    test::bf16_tolerance(y));
}

}  // namespace

TEST_CASE("cuBLAS gemm matches the reference (m not a multiple of 16, m 1, fp32 and bf16 outputs)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  check_gemm({77, 136, 264}, seed);
  check_gemm({1, 64, 40}, seed + 10);    // one token
  check_gemm({300, 8, 1152}, seed + 20); // a router-like product: few outputs, wide input
}

TEST_CASE("cuBLASLt gemm_bias matches the reference (m not a multiple of 16, m 1, n 8, and batched with C = 1)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  GemmBias fused;
  check_gemm_bias(fused, 1, {77, 136, 264}, seed);
  check_gemm_bias(fused, 1, {1, 64, 40}, seed + 10);
  check_gemm_bias(fused, 1, {300, 8, 1152}, seed + 20);
  check_gemm_bias(fused, 1, {77, 136, 264}, seed + 30);  // a cached plan again, with new data
  check_gemm_bias(fused, 3, {45, 72, 96}, seed + 40);    // 3 experts, a bias each
  check_gemm_bias(fused, 7, {1, 64, 48}, seed + 50);     // C = 1: one token per expert
}

TEST_CASE("cuBLASLt gemm_bias rejects what it cannot run" * doctest::skip(!test::gpu_available())) {
  GemmBias fused;
  Bf16Buffer x(64 * 64 + 8), w(64 * 64), bias(64 + 8), y(64 * 64);
  CHECK_THROWS_WITH_AS(fused.run(nullptr, {64, 64, 64}, x.get(), w.get(), bias.get() + 1, y.get()),
                       "gemm_bias: bias is not 16-byte aligned", PreconditionError);
  CHECK_THROWS_WITH_AS(fused.run(nullptr, {64, 64, 64}, x.get(), w.get(), nullptr, y.get()),
                       "gemm_bias: bias is null", PreconditionError);
  CHECK_THROWS_WITH_AS(fused.run(nullptr, {64, 60, 64}, x.get(), w.get(), bias.get(), y.get()),
                       "gemm_bias: n = 60 is not a multiple of 8 (rows must start on 16-byte boundaries)",
                       PreconditionError);
  CHECK_THROWS_WITH_AS(fused.run_batched(nullptr, 0, {64, 64, 64}, x.get(), w.get(), bias.get(), y.get()),
                       "batched_gemm_bias: batch must be positive, got 0", PreconditionError);
  CHECK_NOTHROW(fused.run(nullptr, {64, 64, 64}, x.get() + 8, w.get(), bias.get() + 8, y.get()));
}

TEST_CASE("cuBLAS batched gemm matches the reference (3 experts, and 7 experts of capacity 1)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  check_batched(3, {45, 72, 96}, seed);
  check_batched(7, {1, 64, 48}, seed + 10);  // C = 1: one token per expert
}

TEST_CASE("cuBLAS grouped gemm matches the reference for both methods (ragged, empty groups, 1-row groups)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::vector<GroupedCase> cases = {
      {{37, 0, 1, 130, 16}, 64, 72},  // 5 groups (not a power of two), one empty, one of 1 row
      {{0, 50, 0}, 40, 24},           // empty first and last groups
      {{1, 1, 1, 1, 1, 1}, 32, 56},   // every group one row (C = 1)
  };
  for (const GroupedGemmMethod method : {GroupedGemmMethod::kGemmLoop, GroupedGemmMethod::kGroupedBatched}) {
    CAPTURE(grouped_gemm_method_name(method));
    for (std::size_t i = 0; i < cases.size(); ++i) check_grouped(cases[i], cublas_products(method), seed + 10 * i, false);
  }
}

TEST_CASE("cuBLASLt ragged products match the reference, asking the heuristic once per row bucket" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  CHECK(RaggedGemm::row_bucket(1) == 16);
  CHECK(RaggedGemm::row_bucket(16) == 16);
  CHECK(RaggedGemm::row_bucket(17) == 32);
  CHECK(RaggedGemm::row_bucket(130) == 256);
  RaggedGemm ragged;
  const GroupedProducts products = lt_products(ragged);
  // As cuBLAS's cases; then the first case again (no new question to the heuristic), and its rows
  // moved within their buckets (37 -> 40, 130 -> 129, 16 -> 11: buckets 64, 256 and 16), which
  // asks again only where a group's operands start at another alignment.
  const std::vector<GroupedCase> cases = {
      {{37, 0, 1, 130, 16}, 64, 72},
      {{0, 50, 0}, 40, 24},
      {{1, 1, 1, 1, 1, 1}, 32, 56},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) check_grouped(cases[i], products, seed + 10 * i, true);
  const std::int64_t asked = ragged.heuristic_queries();
  CHECK(asked > 0);
  check_grouped({{37, 0, 1, 130, 16}, 64, 72}, products, seed + 100, true);
  CHECK(ragged.heuristic_queries() == asked);
  check_grouped({{40, 0, 1, 129, 11}, 64, 72}, products, seed + 101, true);
  MESSAGE("heuristic asked " << asked << " times over 3 cases, then " << ragged.heuristic_queries() - asked
                             << " more for the same buckets at other offsets");
}

TEST_CASE("cuBLAS gemm launchers reject misaligned buffers" * doctest::skip(!test::gpu_available())) {
  Bf16Buffer x(64 * 64 + 8), w(64 * 64), y(64 * 64);
  CublasHandle handle;
  // One bf16 element past an aligned allocation: 2 bytes off a 16-byte boundary.
  CHECK_THROWS_AS(gemm(handle.get(), nullptr, {64, 64, 64}, x.get() + 1, w.get(), y.get()), PreconditionError);
  CHECK_NOTHROW(gemm(handle.get(), nullptr, {64, 64, 64}, x.get() + 8, w.get(), y.get()));
}

TEST_CASE("cuBLAS gemm launchers reject shapes they cannot run") {
  // Shapes are checked before the handle and the buffers, so this runs without a GPU.
  const __nv_bfloat16* none = nullptr;
  __nv_bfloat16* out = nullptr;
  CHECK_THROWS_AS(gemm(nullptr, nullptr, {0, 64, 64}, none, none, out), PreconditionError);   // m = 0
  CHECK_THROWS_AS(gemm(nullptr, nullptr, {16, 12, 64}, none, none, out), PreconditionError);  // n % 8
  CHECK_THROWS_AS(gemm_dx(nullptr, nullptr, {16, 64, 20}, none, none, out), PreconditionError);  // k % 8
  CHECK_THROWS_AS(batched_gemm(nullptr, nullptr, 0, {16, 64, 64}, none, none, out), PreconditionError);
  const std::vector<std::int64_t> negative{4, -1}, empty{0, 0}, fine{4, 4};
  CHECK_THROWS_AS(grouped_gemm(nullptr, nullptr, GroupedGemmMethod::kGemmLoop, {negative.data(), 2, 64, 64}, none,
                               none, out, nullptr, 0),
                  PreconditionError);
  CHECK_THROWS_AS(grouped_gemm(nullptr, nullptr, GroupedGemmMethod::kGemmLoop, {empty.data(), 2, 64, 64}, none, none,
                               out, nullptr, 0),
                  PreconditionError);
  CHECK_THROWS_AS(grouped_gemm(nullptr, nullptr, GroupedGemmMethod::kGemmLoop, {fine.data(), 2, 64, 64}, none, none,
                               out, nullptr, 0),
                  PreconditionError);  // null handle and buffers
  // The workspace is checked before the handle: too many groups for one grouped-batched call.
  const std::vector<std::int64_t> too_many(kMaxGroupedBatchedGroups + 1, 1);
  std::vector<void*> workspace(3 * too_many.size());
  CHECK_THROWS_WITH_AS(grouped_gemm(nullptr, nullptr, GroupedGemmMethod::kGroupedBatched,
                                    {too_many.data(), kMaxGroupedBatchedGroups + 1, 64, 64}, none, none, out,
                                    workspace.data(), workspace.size() * sizeof(void*)),
                       "grouped_gemm: 513 groups exceed the grouped-batched limit of 512", PreconditionError);
}
