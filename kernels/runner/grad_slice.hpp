// A slice of the model's flat weight-gradient buffer (DeviceModel), in the dtype the scenario's
// run.optimizer.grad_dtype asks: fp32 (the default) or bf16 (as PyTorch keeps a bf16 model's
// gradients). Exactly one pointer is set. The kernels' gradient writers and AdamW take either
// pointer (gemm.cuh, ragged_gemm.cuh, bias.cuh, adamw.cuh); visit(f) calls f with the one set.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>

namespace ecsim::runner {

struct GradSlice {
  float* fp32 = nullptr;
  __nv_bfloat16* bf16 = nullptr;

  // f(float*) or f(__nv_bfloat16*), whichever the buffer holds.
  template <class F>
  void visit(F&& f) const {
    if (bf16 != nullptr) {
      f(bf16);
    } else {
      f(fp32);
    }
  }
  // The slice from element `offset` on.
  GradSlice at(std::int64_t offset) const {
    return bf16 != nullptr ? GradSlice{nullptr, bf16 + offset} : GradSlice{fp32 + offset, nullptr};
  }
  void* data() const { return bf16 != nullptr ? static_cast<void*>(bf16) : static_cast<void*>(fp32); }
  std::size_t element_bytes() const { return bf16 != nullptr ? sizeof(__nv_bfloat16) : sizeof(float); }
};

}  // namespace ecsim::runner
