// Per-sample vectors (the adaLN shift, scale and gate, [B, d] each, and their gradients) may sit in
// the rows of a wider tensor: the modulation GEMM's output [B, k d] holds vector i of sample b at
// row b, columns i d .. i d + d - 1. The launchers that read or write them (adaln_layernorm.cuh,
// gate_residual.cuh) take the stride from one sample's vector to the next's, so that the runner
// reads them in place instead of copying each vector out.
#pragma once

#include <cstdint>
#include <string>

#include "precondition.hpp"

namespace ecsim {

// The stride the kernels use: `vector_stride`, or `hidden` (packed [B, d]) for 0.
inline std::int64_t sample_vector_stride(std::int64_t vector_stride, std::int64_t hidden, const char* op) {
  if (vector_stride == 0) return hidden;
  require(vector_stride >= hidden, std::string(op) + ": vector_stride " + std::to_string(vector_stride) +
                                       " is less than hidden " + std::to_string(hidden));
  return vector_stride;
}

}  // namespace ecsim
