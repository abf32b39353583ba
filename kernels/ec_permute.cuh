// Launchers for the expert-choice dispatch gather and the gate-weighted combine (ops `permute`,
// `unpermute`); kernels in ec_permute.cu, CPU reference in ref/expert_choice.hpp. The routing
// (token, gate, slot_of) comes from ec_route.cuh.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "ec_route.cuh"

namespace ecsim {

// xe[slot] = x[token[slot]]: x [T, d] -> xe [E * groups * C, d], bf16.
void ec_gather(const __nv_bfloat16* x, const int* token, __nv_bfloat16* xe, const ExpertChoiceDims& d,
               std::int64_t hidden, cudaStream_t stream);

// dx[t] = sum over the experts e that took t, in ascending e, of dxe[slot_of[t, e]]; bf16.
void ec_gather_bwd(const __nv_bfloat16* dxe, const int* slot_of, __nv_bfloat16* dx, const ExpertChoiceDims& d,
                   std::int64_t hidden, cudaStream_t stream);

// y[t] = sum over the experts e that took t, in ascending e, of gate[slot] * ye[slot]; a token no
// expert took gets 0. ye [slots, d] bf16 -> y [T, d] bf16; gate [slots] fp32.
void ec_combine(const __nv_bfloat16* ye, const int* slot_of, const float* gate, __nv_bfloat16* y,
                const ExpertChoiceDims& d, std::int64_t hidden, cudaStream_t stream);

// dye[slot] = gate[slot] * dy[token[slot]] [slots, d] bf16; dgate[slot] = <dy[token[slot]], ye[slot]>
// [slots] fp32.
void ec_combine_bwd(const __nv_bfloat16* ye, const __nv_bfloat16* dy, const int* token, const float* gate,
                    __nv_bfloat16* dye, float* dgate, const ExpertChoiceDims& d, std::int64_t hidden,
                    cudaStream_t stream);

}  // namespace ecsim
