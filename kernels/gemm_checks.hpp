// The preconditions of the matrix-product launchers (gemm.cu, gemm_bias.cu, ragged_gemm.cu): sizes within cuBLAS's
// 32-bit arguments, rows on 16-byte boundaries, operands 16-byte aligned. Each throws
// PreconditionError naming the launcher.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "gemm.cuh"  // GroupedGemmDims
#include "launch_check.hpp"

namespace ecsim {

inline constexpr std::int64_t kGemmAlignElements = 8;  // 16 bytes of bf16
inline constexpr std::uintptr_t kGemmAlignBytes = 16;

// n and k are leading dimensions of the row-major operands: multiples of 8 keep every row on a
// 16-byte boundary, which cuBLAS's tensor-core kernels need for their 16-byte loads.
inline void require_leading_dim(std::int64_t v, const char* op, const char* name) {
  require(v % kGemmAlignElements == 0, std::string(op) + ": " + name + " = " + std::to_string(v) +
                                           " is not a multiple of 8 (rows must start on 16-byte boundaries)");
}

inline void require_dims(const char* op, std::int64_t m, std::int64_t n, std::int64_t k) {
  require_positive(m, op, "m");
  require_positive(n, op, "n");
  require_positive(k, op, "k");
  require_int32(m, op, "m");
  require_int32(n, op, "n");
  require_int32(k, op, "k");
  require_leading_dim(n, op, "n");
  require_leading_dim(k, op, "k");
}

// Ragged groups (gemm.cu's grouped launchers, ragged_gemm.cu): rows per group each in [0, 2^31),
// at least one in total, and the dimensions as require_dims. Returns the total.
inline std::int64_t checked_total_rows(const char* op, const GroupedGemmDims& d) {
  require_positive(d.groups, op, "groups");
  require_int32(d.groups, op, "groups");
  require(d.rows != nullptr, std::string(op) + ": rows is null");
  std::int64_t total = 0;
  for (std::int64_t g = 0; g < d.groups; ++g) {
    require(d.rows[g] >= 0, std::string(op) + ": group " + std::to_string(g) + " has " + std::to_string(d.rows[g]) +
                                " rows");
    require_int32(d.rows[g], op, "rows of a group");
    total += d.rows[g];
  }
  require_positive(total, op, "total rows");
  require_dims(op, total, d.n, d.k);
  return total;
}

inline void require_aligned(const char* op, std::initializer_list<NamedPointer> buffers) {
  require_pointers(op, buffers);
  for (const auto& [name, p] : buffers) {
    require(reinterpret_cast<std::uintptr_t>(p) % kGemmAlignBytes == 0,
            std::string(op) + ": " + name + " is not 16-byte aligned");
  }
}

}  // namespace ecsim
