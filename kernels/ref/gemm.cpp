#include "ref/gemm.hpp"

#include <numeric>
#include <string>

#include "ref/tensor.hpp"

namespace ecsim::ref {
namespace {

void validate(const GemmShape& s, const char* op) {
  require(s.m > 0 && s.n > 0 && s.k > 0, std::string(op) + ": m, n and k must be positive");
}

std::int64_t total_rows(std::span<const std::int64_t> rows, const char* op) {
  require(!rows.empty(), std::string(op) + ": no groups");
  for (std::int64_t r : rows) require(r >= 0, std::string(op) + ": negative rows in a group");
  return std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
}

}  // namespace

std::vector<double> gemm(const GemmShape& s, std::span<const double> x, std::span<const double> w,
                         std::span<const double> bias) {
  validate(s, "gemm");
  require_size(x, s.m * s.k, "gemm", "x");
  require_size(w, s.k * s.n, "gemm", "w");
  require(bias.empty() || static_cast<std::int64_t>(bias.size()) == s.n, "gemm: bias must be empty or [n]");
  std::vector<double> y(static_cast<std::size_t>(s.m * s.n));
  auto ym = view(y.data(), s.m, s.n, s.n);
  ym = view(x.data(), s.m, s.k, s.k) * view(w.data(), s.k, s.n, s.n);
  if (!bias.empty()) ym.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(bias.data(), s.n);
  return y;
}

GemmGrads gemm_bwd(const GemmShape& s, std::span<const double> x, std::span<const double> w,
                   std::span<const double> dy) {
  validate(s, "gemm_bwd");
  require_size(x, s.m * s.k, "gemm_bwd", "x");
  require_size(w, s.k * s.n, "gemm_bwd", "w");
  require_size(dy, s.m * s.n, "gemm_bwd", "dy");
  const auto xm = view(x.data(), s.m, s.k, s.k);    // [m, k]
  const auto wm = view(w.data(), s.k, s.n, s.n);    // [k, n]
  const auto dym = view(dy.data(), s.m, s.n, s.n);  // [m, n]
  GemmGrads g{std::vector<double>(x.size()), std::vector<double>(w.size()),
              std::vector<double>(static_cast<std::size_t>(s.n))};
  view(g.dx.data(), s.m, s.k, s.k) = dym * wm.transpose();
  view(g.dw.data(), s.k, s.n, s.n) = xm.transpose() * dym;
  view(g.dbias.data(), 1, s.n, s.n) = dym.colwise().sum();
  return g;
}

std::vector<double> grouped_gemm(std::span<const std::int64_t> rows, std::int64_t n, std::int64_t k,
                                 std::span<const double> x, std::span<const double> w) {
  const std::int64_t m = total_rows(rows, "grouped_gemm");
  require(n > 0 && k > 0, "grouped_gemm: n and k must be positive");
  require_size(x, m * k, "grouped_gemm", "x");
  require_size(w, static_cast<std::int64_t>(rows.size()) * k * n, "grouped_gemm", "w");
  std::vector<double> y(static_cast<std::size_t>(m * n));
  std::int64_t first = 0;
  for (std::size_t g = 0; g < rows.size(); ++g) {
    const std::int64_t r = rows[g];
    view(y.data() + first * n, r, n, n) =
        view(x.data() + first * k, r, k, k) * view(w.data() + static_cast<std::int64_t>(g) * k * n, k, n, n);
    first += r;
  }
  return y;
}

GroupedGemmGrads grouped_gemm_bwd(std::span<const std::int64_t> rows, std::int64_t n, std::int64_t k,
                                  std::span<const double> x, std::span<const double> w, std::span<const double> dy) {
  const std::int64_t m = total_rows(rows, "grouped_gemm_bwd");
  require(n > 0 && k > 0, "grouped_gemm_bwd: n and k must be positive");
  require_size(x, m * k, "grouped_gemm_bwd", "x");
  require_size(w, static_cast<std::int64_t>(rows.size()) * k * n, "grouped_gemm_bwd", "w");
  require_size(dy, m * n, "grouped_gemm_bwd", "dy");
  GroupedGemmGrads grads{std::vector<double>(x.size()), std::vector<double>(w.size())};
  std::int64_t first = 0;
  for (std::size_t g = 0; g < rows.size(); ++g) {
    const std::int64_t r = rows[g];
    const std::int64_t w_off = static_cast<std::int64_t>(g) * k * n;
    const auto dyg = view(dy.data() + first * n, r, n, n);  // [r, n]
    view(grads.dx.data() + first * k, r, k, k) = dyg * view(w.data() + w_off, k, n, n).transpose();
    view(grads.dw.data() + w_off, k, n, n) = view(x.data() + first * k, r, k, k).transpose() * dyg;
    first += r;
  }
  return grads;
}

}  // namespace ecsim::ref
