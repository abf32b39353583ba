// The dense FFN of a DiT block: ffn.fc1 (gemm) -> ffn.gelu (gelu) -> ffn.fc2 (gemm).
//   x [T, d] -> u [T, f] -> g [T, f] -> y [T, d]
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/op_trace.hpp"
#include "model_ref/params.hpp"

namespace ecsim::model_ref {

struct DenseFfnForward {
  std::int64_t tokens = 0;
  std::vector<double> x;  // [T, d]
  std::vector<double> u;  // [T, f] before the GeLU
  std::vector<double> g;  // [T, f]
  std::vector<double> y;  // [T, d]
};

DenseFfnForward dense_ffn_fwd(const DenseFfnRefs& p, std::span<const double> params, std::span<const double> x,
                              std::int64_t tokens, const Tracer& trace);
// Returns dx [T, d].
std::vector<double> dense_ffn_bwd(const DenseFfnRefs& p, std::span<const double> params, const DenseFfnForward& f,
                                  std::span<const double> dy, std::span<double> grads);

}  // namespace ecsim::model_ref
