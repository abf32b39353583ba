#include "runner/device_linear.hpp"

#include <stdexcept>

#include "bias.cuh"
#include "gemm.cuh"

namespace ecsim::runner {
namespace {

GemmDims dims(const model_ref::LinearRef& l, std::int64_t rows) { return {rows, l.out, l.in}; }

}  // namespace

void linear_fwd(const DeviceContext& ctx, const DeviceModel& m, const model_ref::LinearRef& l, const __nv_bfloat16* x,
                std::int64_t rows, __nv_bfloat16* y) {
  if (l.bias.size == 0) {
    gemm(ctx.cublas, ctx.stream, dims(l, rows), x, m.param(l.weight), y);
    return;
  }
  if (ctx.gemm_bias == nullptr) throw std::logic_error("linear_fwd: a layer with a bias needs ctx.gemm_bias");
  ctx.gemm_bias->run(ctx.stream, dims(l, rows), x, m.param(l.weight), m.param(l.bias), y);
}

void linear_fwd(const DeviceContext& ctx, const DeviceModel& m, const model_ref::LinearRef& l, const __nv_bfloat16* x,
                std::int64_t rows, float* y) {
  gemm(ctx.cublas, ctx.stream, dims(l, rows), x, m.param(l.weight), y);
}

void linear_bwd(const DeviceContext& ctx, const DeviceModel& m, const model_ref::LinearRef& l, const __nv_bfloat16* x,
                const __nv_bfloat16* dy, std::int64_t rows, __nv_bfloat16* dx, GradientWrite dx_write) {
  if (dx != nullptr) gemm_dx(ctx.cublas, ctx.stream, dims(l, rows), dy, m.param(l.weight), dx, dx_write);
  m.grad(l.weight).visit([&](auto* dw) {
    gemm_dw(ctx.cublas, ctx.stream, dims(l, rows), x, dy, dw, ctx.weight_grads);
  });
  if (l.bias.size > 0) {
    m.grad(l.bias).visit([&](auto* db) {
      bias_grad(dy, db, 1, rows, l.out, ctx.weight_grads, ctx.column_partials, ctx.stream);
    });
  }
}

}  // namespace ecsim::runner
