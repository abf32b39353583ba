// Launchers for the rectified-flow loss (op `flow_loss`); kernels in flow_loss.cu, CPU reference in
// ref/flow_loss.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ecsim {

// fp32 partial sums the forward needs as workspace.
constexpr int kFlowLossPartials = 256;

// loss[0] = mean over n of (pred - target)^2; pred, target [n] bf16; loss fp32 on the device;
// partials [kFlowLossPartials] fp32 workspace.
void flow_loss_fwd(const __nv_bfloat16* pred, const __nv_bfloat16* target, float* partials, float* loss, std::int64_t n,
                   cudaStream_t stream);

// dpred = dloss * 2 (pred - target) / n; dpred [n] bf16.
void flow_loss_bwd(const __nv_bfloat16* pred, const __nv_bfloat16* target, float dloss, __nv_bfloat16* dpred,
                   std::int64_t n, cudaStream_t stream);

}  // namespace ecsim
