// Launchers for the token-choice dispatch and combine (ops `permute`, `unpermute`): the kept picks'
// rows in expert-major order (expert e's rows are [offsets[e], offsets[e + 1]): packed, or E C
// capacity rows with zero padding when TokenChoiceDims::padded) and the gate-weighted sum back to
// token order; kernels in tc_permute.cu, CPU reference in ref/token_choice.hpp. The routing comes
// from tc_route.cuh. Rows past offsets[E] (the buffer is sized max_rows()) are neither read nor
// written.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "tc_route.cuh"

namespace ecsim {

// xp[row] = x[token of row], 0 on padding rows: x [T, d] -> xp [rows, d], bf16.
void tc_permute(const __nv_bfloat16* x, const TokenChoiceRouting& r, __nv_bfloat16* xp, const TokenChoiceDims& d,
                std::int64_t hidden, cudaStream_t stream);

// dx[t] = sum over t's kept picks, in rank order, of dxp[row]: [rows, d] -> [T, d] bf16.
void tc_permute_bwd(const __nv_bfloat16* dxp, const TokenChoiceRouting& r, __nv_bfloat16* dx,
                    const TokenChoiceDims& d, std::int64_t hidden, cudaStream_t stream);

// y[t] = sum over t's kept picks, in rank order, of gate * yp[row]; 0 for a token whose picks were
// all dropped (the residual carries it): [rows, d] -> [T, d] bf16.
void tc_unpermute(const __nv_bfloat16* yp, const TokenChoiceRouting& r, __nv_bfloat16* y, const TokenChoiceDims& d,
                  std::int64_t hidden, cudaStream_t stream);

// dyp[row] = gate * dy[t] [rows, d] bf16 (0 on padding rows); dgate[t, j] = <dy[t], yp[row]>
// [T, k] fp32, 0 for a dropped pick.
void tc_unpermute_bwd(const __nv_bfloat16* yp, const __nv_bfloat16* dy, const TokenChoiceRouting& r,
                      __nv_bfloat16* dyp, float* dgate, const TokenChoiceDims& d, std::int64_t hidden,
                      cudaStream_t stream);

}  // namespace ecsim
