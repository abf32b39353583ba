// adaln_layernorm kernels (kernels/adaln_layernorm.cu) against the CPU reference
// (kernels/ref/adaln_layernorm.hpp) on random bf16 inputs; skipped without a GPU.
// The inputs and the comparison with the reference: adaln_layernorm_check.hpp, which the emulated
// test (tests/emulation/adaln_layernorm_emulated_test.cpp) shares.
#include <doctest/doctest.h>

#include <optional>

#include "adaln_layernorm.cuh"
#include "adaln_layernorm_check.hpp"
#include "gpu_check.hpp"
#include "precondition.hpp"

using namespace ecsim;

namespace {

// The launchers on the GPU: inputs uploaded, outputs poisoned before the run and downloaded after;
// the backward reads the forward's mean and rstd where the forward left them.
test::AdaLnOutputs gpu_adaln_layernorm(const ref::SampleRows& s, const test::AdaLnInputs& in) {
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = in.shift.size();  // [B, d] in rows vector_stride apart
  const auto rows = static_cast<std::size_t>(s.batch * s.seq);
  test::DeviceBuffer<__nv_bfloat16> d_x(in.x), d_shift(in.shift), d_scale(in.scale);
  test::DeviceBuffer<__nv_bfloat16> d_y(n), d_dy(in.dy), d_dx(n), d_dshift(nv), d_dscale(nv);
  // The residual path's gradient, or none; with one, dx is written over it (the runner's aliasing).
  std::optional<test::DeviceBuffer<__nv_bfloat16>> d_dres;
  if (!in.dresidual.empty()) d_dres.emplace(in.dresidual);
  __nv_bfloat16* dx = d_dres ? d_dres->get() : d_dx.get();
  test::DeviceBuffer<float> d_mean(rows), d_rstd(rows), d_partials(kAdaLnBwdPartials);
  adaln_layernorm_fwd(d_x.get(), d_shift.get(), d_scale.get(), d_y.get(), d_mean.get(), d_rstd.get(), s.batch, s.seq,
                      s.hidden, in.eps, nullptr, in.vector_stride);
  adaln_layernorm_bwd(d_x.get(), d_scale.get(), d_mean.get(), d_rstd.get(), d_dy.get(), d_dres ? dx : nullptr, dx,
                      d_dshift.get(), d_dscale.get(), d_partials.get(), s.batch, s.seq, s.hidden, nullptr,
                      in.vector_stride);
  return {d_y.download(),
          d_mean.download(),
          d_rstd.download(),
          d_dres ? d_dres->download() : d_dx.download(),
          d_dshift.download(),
          d_dscale.download()};
}

}  // namespace

TEST_CASE("adaln layernorm kernels match the reference (EC-DiT-XL rows: 4 x 256 x 1152, and d 1100)" *
          doctest::skip(!test::gpu_available())) {
  for (const bool residual : {false, true}) {
    test::check_adaln_layernorm({4, 256, 1152}, test::run_seed(), gpu_adaln_layernorm, residual);  // 16-byte vectors
    test::check_adaln_layernorm({4, 256, 1100}, test::run_seed() + 1, gpu_adaln_layernorm, residual);  // 2-byte
  }
  // shift and scale in the rows of the modulation's output [B, 6 d], read and written in place.
  test::check_adaln_layernorm({4, 256, 1152}, test::run_seed() + 2, gpu_adaln_layernorm, true, 6 * 1152);
  test::check_adaln_layernorm({4, 256, 1100}, test::run_seed() + 3, gpu_adaln_layernorm, true, 1105);
}

TEST_CASE("adaln layernorm launchers reject bad shapes before launching") {
  // Preconditions are checked on the host, so this runs without a GPU.
  CHECK_THROWS_AS(adaln_layernorm_fwd(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 0, 8, 1e-6f, nullptr),
                  PreconditionError);
  CHECK_THROWS_AS(adaln_layernorm_fwd(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 4, 8, 1e-6f, nullptr),
                  PreconditionError);  // null buffers
}
