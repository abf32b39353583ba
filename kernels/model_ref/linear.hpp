// A linear layer over the flat parameter buffer (op `gemm`): y [rows, out] = x [rows, in] W + b,
// computed by ref::gemm. The backward adds dW and db into the gradient buffer at the same offsets
// (every parameter is read once per forward, so adding equals assigning into a zeroed buffer).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model_ref/params.hpp"

namespace ecsim::model_ref {

std::vector<double> linear_fwd(const LinearRef& l, std::span<const double> params, std::span<const double> x,
                               std::int64_t rows);

// Returns dx [rows, in].
std::vector<double> linear_bwd(const LinearRef& l, std::span<const double> params, std::span<const double> x,
                               std::span<const double> dy, std::int64_t rows, std::span<double> grads);

}  // namespace ecsim::model_ref
