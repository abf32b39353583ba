// gelu, gate_residual, adamw and flow_loss kernels (kernels/*.cu) against their CPU references
// (kernels/ref/) on random inputs; skipped without a GPU.
// The inputs and the comparisons with the references: elementwise_check.hpp, which the emulated
// test (tests/emulation/elementwise_emulated_test.cpp) shares.
#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "adamw.cuh"
#include "elementwise_check.hpp"
#include "flow_loss.cuh"
#include "gate_residual.cuh"
#include "gelu.cuh"
#include "gpu_check.hpp"
#include "precondition.hpp"

using namespace ecsim;

namespace {

// The launchers on the GPU: inputs uploaded, outputs poisoned before the run and downloaded after.
test::ActivationOutputs gpu_gelu(const test::Bf16Vector& x, const test::Bf16Vector& dy) {
  const auto n = static_cast<std::int64_t>(x.size());
  test::DeviceBuffer<__nv_bfloat16> d_x(x), d_y(x.size()), d_dy(dy), d_dx(x.size());
  gelu_fwd(d_x.get(), d_y.get(), n, nullptr);
  gelu_bwd(d_x.get(), d_dy.get(), d_dx.get(), n, nullptr);
  return {d_y.download(), d_dx.download()};
}

test::GateResidualOutputs gpu_gate_residual(const ref::SampleRows& s, const test::GateResidualInputs& in) {
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = in.gate.size();  // [B, d] in rows vector_stride apart
  test::DeviceBuffer<__nv_bfloat16> d_x(in.x), d_y(in.y), d_gate(in.gate);
  test::DeviceBuffer<__nv_bfloat16> d_out(n), d_dout(in.dout), d_dy(n), d_dgate(nv);
  test::DeviceBuffer<float> d_partials(kColumnSumPartials);
  gate_residual_fwd(d_x.get(), d_y.get(), d_gate.get(), d_out.get(), s.batch, s.seq, s.hidden, nullptr,
                    in.vector_stride);
  gate_residual_bwd(d_y.get(), d_gate.get(), d_dout.get(), d_dy.get(), d_dgate.get(), d_partials.get(), s.batch,
                    s.seq, s.hidden, nullptr, in.vector_stride);
  return {d_out.download(), d_dy.download(), d_dgate.download()};
}

// A gradient buffer of Grad (float, or __nv_bfloat16 holding values the check rounded to bf16).
template <class Grad>
void upload_grad(test::DeviceBuffer<Grad>& d, const std::vector<float>& g) {
  if constexpr (std::is_same_v<Grad, float>) {
    d.upload(g);
  } else {
    d.upload(test::to_bf16(test::to_double(g)));
  }
}
template <class Grad>
std::vector<float> download_grad(const test::DeviceBuffer<Grad>& d) {
  if constexpr (std::is_same_v<Grad, float>) {
    return d.download();
  } else {
    return test::to_float(test::to_double(std::span<const __nv_bfloat16>(d.download())));
  }
}

// The state stays on the device between steps; only the gradient (fp32 or bf16) is uploaded for each.
template <class Grad>
std::vector<test::AdamWState> gpu_adamw(const AdamWHyperparameters& h, const test::AdamWState& initial,
                                        const std::vector<std::vector<float>>& grads) {
  const std::size_t n = initial.param.size();
  test::DeviceBuffer<float> d_p(initial.param), d_m(initial.m), d_v(initial.v);
  test::DeviceBuffer<Grad> d_g(n);
  std::vector<test::AdamWState> after;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    upload_grad(d_g, grads[i]);
    test::DeviceBuffer<__nv_bfloat16> d_p16(n);  // poisoned
    adamw_step(h, static_cast<std::int64_t>(i + 1), d_p.get(), d_g.get(), d_m.get(), d_v.get(), d_p16.get(),
               static_cast<std::int64_t>(n), nullptr);
    after.push_back({d_p.download(), d_m.download(), d_v.download(), d_p16.download(), download_grad(d_g)});
  }
  return after;
}

template <class Grad>
std::vector<test::AdamWBf16State> gpu_adamw_bf16(const AdamWHyperparameters& h, const test::AdamWBf16State& initial,
                                                const std::vector<std::vector<float>>& grads) {
  const std::size_t n = initial.param.size();
  test::DeviceBuffer<__nv_bfloat16> d_p(initial.param), d_m(initial.m), d_v(initial.v);
  test::DeviceBuffer<Grad> d_g(n);
  std::vector<test::AdamWBf16State> after;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    upload_grad(d_g, grads[i]);
    adamw_step_bf16(h, static_cast<std::int64_t>(i + 1), d_p.get(), d_g.get(), d_m.get(), d_v.get(),
                    static_cast<std::int64_t>(n), nullptr);
    after.push_back({d_p.download(), d_m.download(), d_v.download(), download_grad(d_g)});
  }
  return after;
}

test::FlowLossOutputs gpu_flow_loss(const test::Bf16Vector& pred, const test::Bf16Vector& target, float dloss) {
  const auto n = static_cast<std::int64_t>(pred.size());
  test::DeviceBuffer<__nv_bfloat16> d_pred(pred), d_target(target), d_dpred(pred.size());
  test::DeviceBuffer<float> d_partials(kFlowLossPartials), d_loss(1), d_loss_again(1);
  flow_loss_fwd(d_pred.get(), d_target.get(), d_partials.get(), d_loss.get(), n, nullptr);
  flow_loss_fwd(d_pred.get(), d_target.get(), d_partials.get(), d_loss_again.get(), n, nullptr);
  flow_loss_bwd(d_pred.get(), d_target.get(), dloss, d_dpred.get(), n, nullptr);
  return {d_loss.download()[0], d_loss_again.download()[0], d_dpred.download()};
}

}  // namespace

// Each shape once in 16-byte vectors and once in 2-byte elements (kernels/bf16_chunks.cuh).
TEST_CASE("gelu kernels match the reference (2^20 + 7 elements, and 2^20 in 16-byte vectors)" *
          doctest::skip(!test::gpu_available())) {
  test::check_gelu((1u << 20) + 7, test::run_seed(), gpu_gelu);  // not a multiple of the block size
  test::check_gelu(1u << 20, test::run_seed() + 1, gpu_gelu);
}

TEST_CASE("gated residual kernels match the reference (4 x 256 x 1152 in 16-byte vectors, 4 x 256 x 1100)" *
          doctest::skip(!test::gpu_available())) {
  test::check_gate_residual({4, 256, 1152}, test::run_seed(), gpu_gate_residual);
  test::check_gate_residual({4, 256, 1100}, test::run_seed() + 1, gpu_gate_residual);
  // The gate in the rows of the modulation's output [B, 6 d], read and its gradient written in place.
  test::check_gate_residual({4, 256, 1152}, test::run_seed() + 2, gpu_gate_residual, 6 * 1152);
  test::check_gate_residual({4, 256, 1100}, test::run_seed() + 3, gpu_gate_residual, 1105);
}

TEST_CASE("adamw kernel matches the reference over three steps (2^20 + 3 fp32 values, and 2^20 in 16-byte vectors, "
          "fp32 and bf16 gradients)" *
          doctest::skip(!test::gpu_available())) {
  test::check_adamw((1u << 20) + 3, test::run_seed(), gpu_adamw<float>);
  test::check_adamw(1u << 20, test::run_seed() + 1, gpu_adamw<float>);
  // From bf16 gradients (a scenario's grad_dtype "bf16").
  test::check_adamw((1u << 20) + 3, test::run_seed() + 2, gpu_adamw<__nv_bfloat16>, true);
  test::check_adamw(1u << 20, test::run_seed() + 3, gpu_adamw<__nv_bfloat16>, true);
}

TEST_CASE("adamw kernel on bf16 weights and moments matches the reference (2^20 + 3 values, and 2^20 in 16-byte "
          "vectors, fp32 and bf16 gradients)" *
          doctest::skip(!test::gpu_available())) {
  test::check_adamw_bf16((1u << 20) + 3, test::run_seed(), gpu_adamw_bf16<float>);
  test::check_adamw_bf16(1u << 20, test::run_seed() + 1, gpu_adamw_bf16<float>);
  test::check_adamw_bf16((1u << 20) + 3, test::run_seed() + 2, gpu_adamw_bf16<__nv_bfloat16>, true);
  test::check_adamw_bf16(1u << 20, test::run_seed() + 3, gpu_adamw_bf16<__nv_bfloat16>, true);
}

TEST_CASE("flow loss kernels match the reference, and the loss is bitwise reproducible" *
          doctest::skip(!test::gpu_available())) {
  test::check_flow_loss(test::kFlowLossElements, test::run_seed(), gpu_flow_loss);
  test::check_flow_loss(test::kFlowLossVectorElements, test::run_seed() + 1, gpu_flow_loss);
}

TEST_CASE("elementwise launchers reject bad arguments before launching") {
  // Preconditions are checked on the host, so this runs without a GPU.
  CHECK_THROWS_AS(gelu_fwd(nullptr, nullptr, 0, nullptr), PreconditionError);
  CHECK_THROWS_AS(gelu_bwd(nullptr, nullptr, nullptr, 16, nullptr), PreconditionError);
  CHECK_THROWS_AS(gate_residual_fwd(nullptr, nullptr, nullptr, nullptr, 70000, 1, 8, nullptr), PreconditionError);
  const float* no_grad = nullptr;
  CHECK_THROWS_AS(adamw_step({}, 0, nullptr, no_grad, nullptr, nullptr, nullptr, 16, nullptr), PreconditionError);
  CHECK_THROWS_AS(adamw_step_bf16({}, 1, nullptr, no_grad, nullptr, nullptr, 16, nullptr), PreconditionError);
  CHECK_THROWS_AS(flow_loss_fwd(nullptr, nullptr, nullptr, nullptr, 16, nullptr), PreconditionError);
}
