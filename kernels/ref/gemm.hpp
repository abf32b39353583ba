// CPU reference for the matrix products (op names `gemm`, `batched_gemm`, `grouped_gemm`): the
// projections, the router (x W_r, [T, d] x [d, E]) and the expert FFNs. Row-major throughout.
//   gemm:          y[m, n] = x[m, k] w[k, n] (+ bias[n])
//   grouped_gemm:  group g's rows of x[sum rows, k] times w[g] ([G, k, n]); a batched GEMM is the
//                  case of equal rows (expert choice), ragged rows are token choice
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::ref {

struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0;
};

// `bias` is empty or [n].
std::vector<double> gemm(const GemmShape& s, std::span<const double> x, std::span<const double> w,
                         std::span<const double> bias);

struct GemmGrads {
  std::vector<double> dx;     // [m, k] = dy w^T
  std::vector<double> dw;     // [k, n] = x^T dy
  std::vector<double> dbias;  // [n]    = column sums of dy
};
GemmGrads gemm_bwd(const GemmShape& s, std::span<const double> x, std::span<const double> w,
                   std::span<const double> dy);

// rows: [G] rows per group; x [sum rows, k], w [G, k, n] -> y [sum rows, n].
std::vector<double> grouped_gemm(std::span<const std::int64_t> rows, std::int64_t n, std::int64_t k,
                                 std::span<const double> x, std::span<const double> w);

struct GroupedGemmGrads {
  std::vector<double> dx;  // [sum rows, k]
  std::vector<double> dw;  // [G, k, n]
};
GroupedGemmGrads grouped_gemm_bwd(std::span<const std::int64_t> rows, std::int64_t n, std::int64_t k,
                                  std::span<const double> x, std::span<const double> w, std::span<const double> dy);

}  // namespace ecsim::ref
