// gelu, gate_residual, adamw and flow_loss kernels (kernels/*.cu) against their CPU references
// (kernels/ref/) on random inputs; skipped without a GPU.
#include <doctest/doctest.h>

#include <cstring>

#include "adamw.cuh"
#include "flow_loss.cuh"
#include "gate_residual.cuh"
#include "gelu.cuh"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ref/adamw.hpp"
#include "ref/flow_loss.hpp"
#include "ref/gate_residual.hpp"
#include "ref/gelu.hpp"

using namespace ecsim;

namespace {

}  // namespace

TEST_CASE("gelu kernels match the reference (2^20 + 7 elements)" * doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::size_t n = (1u << 20) + 7;  // not a multiple of the block size
  const auto x = test::rounded(n, seed, -5, 5), dy = test::rounded(n, seed + 1);
  test::DeviceBuffer<__nv_bfloat16> d_x(test::to_bf16(x)), d_y(n), d_dy(test::to_bf16(dy)), d_dx(n);
  gelu_fwd(d_x.get(), d_y.get(), static_cast<std::int64_t>(n), nullptr);
  gelu_bwd(d_x.get(), d_dy.get(), d_dx.get(), static_cast<std::int64_t>(n), nullptr);
  const auto y = ref::gelu_fwd(x);
  const auto dx = ref::gelu_bwd(x, dy);
  test::check_close("y", test::download_double(d_y), y, test::bf16_tolerance(y));
  test::check_close("dx", test::download_double(d_dx), dx, test::bf16_tolerance(dx));
}

TEST_CASE("gated residual kernels match the reference (4 x 256 x 1152)" * doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const ref::SampleRows s{4, 256, 1152};
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = static_cast<std::size_t>(s.vector_elements());
  const auto x = test::rounded(n, seed), y = test::rounded(n, seed + 1), gate = test::rounded(nv, seed + 2), dout = test::rounded(n, seed + 3);
  test::DeviceBuffer<__nv_bfloat16> d_x(test::to_bf16(x)), d_y(test::to_bf16(y)), d_gate(test::to_bf16(gate));
  test::DeviceBuffer<__nv_bfloat16> d_out(n), d_dout(test::to_bf16(dout)), d_dy(n), d_dgate(nv);
  gate_residual_fwd(d_x.get(), d_y.get(), d_gate.get(), d_out.get(), s.batch, s.seq, s.hidden, nullptr);
  gate_residual_bwd(d_y.get(), d_gate.get(), d_dout.get(), d_dy.get(), d_dgate.get(), s.batch, s.seq, s.hidden,
                    nullptr);
  const auto out = ref::gate_residual_fwd(s, x, y, gate);
  const auto g = ref::gate_residual_bwd(s, y, gate, dout);
  test::check_close("out", test::download_double(d_out), out, test::bf16_tolerance(out));
  test::check_close("dy", test::download_double(d_dy), g.dy, test::bf16_tolerance(g.dy));
  test::check_close("dgate", test::download_double(d_dgate), g.dgate, test::bf16_tolerance(g.dgate));
}

TEST_CASE("adamw kernel matches the reference over three steps (2^20 + 3 fp32 values)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::size_t n = (1u << 20) + 3;
  const AdamWHyperparameters h{1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f};
  // The reference takes the same fp32-rounded hyperparameters as the kernel.
  const ref::AdamWConfig c{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay};
  auto p = test::to_float(test::random_values(n, seed)), m = test::to_float(test::random_values(n, seed + 1, -0.1, 0.1));
  auto v = test::to_float(test::random_values(n, seed + 2, 0.0, 0.01));
  test::DeviceBuffer<float> d_p(p), d_m(m), d_v(v), d_g(n);
  for (std::int64_t step = 1; step <= 3; ++step) {
    CAPTURE(step);
    const auto g = test::to_float(test::random_values(n, seed + 10 + static_cast<std::uint64_t>(step)));
    d_g.upload(g);
    adamw_step(h, step, d_p.get(), d_g.get(), d_m.get(), d_v.get(), static_cast<std::int64_t>(n), nullptr);
    ref::adamw_step(c, step, p, g, m, v);
    // fp32 arithmetic against fp64 rounded once: 4 ulps relative (2^-21), and 1e-7 absolute for
    // values that cancel toward 0 (every term is at most 1 in magnitude).
    const test::Tolerance tol{1e-7, std::ldexp(1.0, -21)};
    test::check_close("param", test::download_double(d_p), test::to_double(p), tol);
    test::check_close("m", test::download_double(d_m), test::to_double(m), tol);
    test::check_close("v", test::download_double(d_v), test::to_double(v), tol);
  }
}

TEST_CASE("flow loss kernels match the reference, and the loss is bitwise reproducible" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::size_t n = 64 * 256 * 16 + 5;  // 64 images x 256 tokens x 16 latent values, plus a ragged tail
  const auto pred = test::rounded(n, seed), target = test::rounded(n, seed + 1);
  test::DeviceBuffer<__nv_bfloat16> d_pred(test::to_bf16(pred)), d_target(test::to_bf16(target)), d_dpred(n);
  test::DeviceBuffer<float> d_partials(kFlowLossPartials), d_loss(1), d_loss_again(1);
  flow_loss_fwd(d_pred.get(), d_target.get(), d_partials.get(), d_loss.get(), static_cast<std::int64_t>(n), nullptr);
  flow_loss_fwd(d_pred.get(), d_target.get(), d_partials.get(), d_loss_again.get(), static_cast<std::int64_t>(n),
                nullptr);
  flow_loss_bwd(d_pred.get(), d_target.get(), 0.5f, d_dpred.get(), static_cast<std::int64_t>(n), nullptr);
  const double loss = ref::flow_loss(pred, target);
  const auto dpred = ref::flow_loss_bwd(pred, target, 0.5);
  const float gpu_loss = d_loss.download()[0];
  const float gpu_loss_again = d_loss_again.download()[0];
  test::check_close("loss", std::vector<double>{gpu_loss}, std::vector<double>{loss},
                    {0.0, 1e-5});  // fp32 sum of n squares
  CHECK(std::memcmp(&gpu_loss, &gpu_loss_again, sizeof(float)) == 0);
  test::check_close("dpred", test::download_double(d_dpred), dpred, test::bf16_tolerance(dpred));
}

TEST_CASE("elementwise launchers reject bad arguments before launching") {
  // Preconditions are checked on the host, so this runs without a GPU.
  CHECK_THROWS_AS(gelu_fwd(nullptr, nullptr, 0, nullptr), PreconditionError);
  CHECK_THROWS_AS(gelu_bwd(nullptr, nullptr, nullptr, 16, nullptr), PreconditionError);
  CHECK_THROWS_AS(gate_residual_fwd(nullptr, nullptr, nullptr, nullptr, 70000, 1, 8, nullptr), PreconditionError);
  CHECK_THROWS_AS(adamw_step({}, 0, nullptr, nullptr, nullptr, nullptr, 16, nullptr), PreconditionError);
  CHECK_THROWS_AS(flow_loss_fwd(nullptr, nullptr, nullptr, nullptr, 16, nullptr), PreconditionError);
}
