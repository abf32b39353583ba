// A linear layer on the device, forward and backward: the cuBLAS GEMM (gemm.cuh), forward with its
// bias in the product's epilogue (gemm_bias.cuh, cuBLASLt), the bias gradient by its own kernel
// (bias.cuh); reading weights from and accumulating gradients into the device model's flat buffers
// at model_ref's offsets (model_ref/linear.hpp is the CPU reference).
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "gemm.cuh"  // GradientWrite
#include "gemm_bias.cuh"
#include "model_ref/params.hpp"
#include "ragged_gemm.cuh"
#include "runner/device_model.hpp"

namespace ecsim::runner {

// What every device op needs: the stream the step runs on, the cuBLAS handle bound to it and the
// cuBLASLt products with a bias (calls on this stream only), and how this micro-batch's backward
// writes the weights' gradients: the step's first micro-batch overwrites them (no memset, and a dW
// product that reads no old gradient), the others add to them.
struct DeviceContext {
  cublasHandle_t cublas = nullptr;
  cudaStream_t stream = nullptr;
  GemmBias* gemm_bias = nullptr;
  float* column_partials = nullptr;  // [kAdaLnBwdPartials]: the column sums' workspace (column_sums.cuh)
  RaggedGemm* ragged_gemm = nullptr;  // token choice without a capacity: its experts' products
  GradientWrite weight_grads = GradientWrite::kOverwrite;  // every dW and bias gradient of the micro-batch
};

// y [rows, out] = x [rows, in] W + b (no bias where l.bias.size == 0), the bias in the product's
// epilogue (gemm_bias, which ctx must have).
void linear_fwd(const DeviceContext& ctx, const DeviceModel& m, const model_ref::LinearRef& l, const __nv_bfloat16* x,
                std::int64_t rows, __nv_bfloat16* y);
// Router logits in fp32 (routing decisions are made on fp32 affinities); the router has no bias.
void linear_fwd(const DeviceContext& ctx, const DeviceModel& m, const model_ref::LinearRef& l, const __nv_bfloat16* x,
                std::int64_t rows, float* y);
// dW (=|+=) x^T dy, db (=|+=) column sums of dy (fp32, into m's gradients, as ctx.weight_grads
// says); dx [rows, in] (=|+=) dy W^T when
// dx is not null (a model input needs no gradient). kAccumulate adds to dx where another gradient
// path reached x first (the router's input, a block's conditioning vector), rounding once.
void linear_bwd(const DeviceContext& ctx, const DeviceModel& m, const model_ref::LinearRef& l, const __nv_bfloat16* x,
                const __nv_bfloat16* dy, std::int64_t rows, __nv_bfloat16* dx,
                GradientWrite dx_write = GradientWrite::kOverwrite);

}  // namespace ecsim::runner
