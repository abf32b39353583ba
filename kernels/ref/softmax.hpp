// CPU reference for the router softmax: a softmax over the last dimension of [rows, cols]
// (router logits [T, E] -> affinities [T, E]) and its backward. Shared by expert-choice and
// token-choice routing, whose kernels fuse it (ops `ec_route`, `tc_route`).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::ref {

// probs[r, c] = exp(x[r, c] - max_c x[r, :]) / sum_c exp(...)            [rows, cols]
std::vector<double> softmax_rows(std::span<const double> logits, std::int64_t rows, std::int64_t cols);

// dlogits[r, c] = p[r, c] * (dp[r, c] - sum_c' p[r, c'] dp[r, c'])        [rows, cols]
std::vector<double> softmax_rows_bwd(std::span<const double> probs, std::span<const double> dprobs, std::int64_t rows,
                                     std::int64_t cols);

}  // namespace ecsim::ref
