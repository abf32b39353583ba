// Views that the CPU references share: flat row-major buffers of doubles seen as Eigen matrices,
// and the size check every reference runs on its inputs. The references compute in fp64 so that
// finite-difference gradient checks are meaningful and the GPU comparisons measure the kernel's
// error, not the reference's.
#pragma once

#include <Eigen/Dense>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "precondition.hpp"

namespace ecsim::ref {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::Matrix<double, Eigen::Dynamic, 1>;
// A [rows, cols] block inside a wider row-major tensor (e.g. one head of [S, H, D]).
using StridedView = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using StridedMutView = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;

inline StridedView view(const double* data, std::int64_t rows, std::int64_t cols, std::int64_t row_stride) {
  return StridedView(data, rows, cols, Eigen::OuterStride<>(row_stride));
}
inline StridedMutView view(double* data, std::int64_t rows, std::int64_t cols, std::int64_t row_stride) {
  return StridedMutView(data, rows, cols, Eigen::OuterStride<>(row_stride));
}

// x rounded to the nearest bf16 (ties to even) by way of fp32, as __float2bfloat16 rounds a finite
// float: bf16 is a float's upper 16 bits; add half of the dropped part's range, plus one when the
// kept part is odd, and drop it.
inline double round_to_bf16(double x) {
  auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(x));
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<double>(std::bit_cast<float>(bits & 0xffff0000u));
}

// Throws PreconditionError naming the operation and the buffer when its size is not `expected`.
template <class T>
void require_size(std::span<const T> buffer, std::int64_t expected, const char* op, const char* name) {
  require(static_cast<std::int64_t>(buffer.size()) == expected, std::string(op) + ": " + name + " has " +
                                                                    std::to_string(buffer.size()) +
                                                                    " elements, expected " + std::to_string(expected));
}

// Activations [B, S, d] with one vector [B, d] per sample (adaLN shift/scale, residual gates).
struct SampleRows {
  std::int64_t batch = 0;
  std::int64_t seq = 0;
  std::int64_t hidden = 0;
  std::int64_t elements() const { return batch * seq * hidden; }
  std::int64_t vector_elements() const { return batch * hidden; }
  void validate(const char* op) const {
    require(batch > 0 && seq > 0 && hidden > 0, std::string(op) + ": batch, seq and hidden must be positive, got " +
                                                    std::to_string(batch) + "x" + std::to_string(seq) + "x" +
                                                    std::to_string(hidden));
  }
};

}  // namespace ecsim::ref
