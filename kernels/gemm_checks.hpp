// The preconditions of the matrix-product launchers (gemm.cu, gemm_bias.cu): sizes within cuBLAS's
// 32-bit arguments, rows on 16-byte boundaries, operands 16-byte aligned. Each throws
// PreconditionError naming the launcher.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

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

inline void require_aligned(const char* op, std::initializer_list<NamedPointer> buffers) {
  require_pointers(op, buffers);
  for (const auto& [name, p] : buffers) {
    require(reinterpret_cast<std::uintptr_t>(p) % kGemmAlignBytes == 0,
            std::string(op) + ": " + name + " is not 16-byte aligned");
  }
}

}  // namespace ecsim
