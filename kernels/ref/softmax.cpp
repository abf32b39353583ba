#include "ref/softmax.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "ref/tensor.hpp"

namespace ecsim::ref {

std::vector<double> softmax_rows(std::span<const double> logits, std::int64_t rows, std::int64_t cols) {
  require(rows > 0 && cols > 0, "softmax_rows: rows and cols must be positive");
  require_size(logits, rows * cols, "softmax_rows", "logits");
  std::vector<double> p(logits.begin(), logits.end());
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto row = p.begin() + r * cols;
    // Subtracting the row maximum keeps exp() finite for large logits; the result is unchanged.
    const double row_max = *std::max_element(row, row + cols);
    double sum = 0;
    for (auto it = row; it != row + cols; ++it) {
      *it = std::exp(*it - row_max);
      sum += *it;
    }
    for (auto it = row; it != row + cols; ++it) *it /= sum;
  }
  return p;
}

std::vector<double> softmax_rows_bwd(std::span<const double> probs, std::span<const double> dprobs, std::int64_t rows,
                                     std::int64_t cols) {
  require(rows > 0 && cols > 0, "softmax_rows_bwd: rows and cols must be positive");
  require_size(probs, rows * cols, "softmax_rows_bwd", "probs");
  require_size(dprobs, rows * cols, "softmax_rows_bwd", "dprobs");
  std::vector<double> dx(probs.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::size_t base = static_cast<std::size_t>(r * cols);
    double dot = 0;
    for (std::int64_t c = 0; c < cols; ++c) dot += probs[base + c] * dprobs[base + c];
    for (std::int64_t c = 0; c < cols; ++c) dx[base + c] = probs[base + c] * (dprobs[base + c] - dot);
  }
  return dx;
}

}  // namespace ecsim::ref
