// adaln_layernorm kernels (kernels/adaln_layernorm.cu) against the CPU reference
// (kernels/ref/adaln_layernorm.hpp) on random bf16 inputs; skipped without a GPU.
#include <doctest/doctest.h>

#include "adaln_layernorm.cuh"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ref/adaln_layernorm.hpp"

using namespace ecsim;

namespace {

// Inputs rounded to bf16 once; the reference sees exactly what the kernel sees.
}  // namespace

TEST_CASE("adaln layernorm kernels match the reference (EC-DiT-XL rows: 4 x 256 x 1152)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const ref::SampleRows s{4, 256, 1152};
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = static_cast<std::size_t>(s.vector_elements());
  // An offset mean (x in [-1, 3)) checks that the variance is taken about the mean.
  const auto x = test::rounded(n, seed, -1, 3), shift = test::rounded(nv, seed + 1), scale = test::rounded(nv, seed + 2);
  const auto dy = test::rounded(n, seed + 3);
  const float eps = 1e-6f;

  test::DeviceBuffer<__nv_bfloat16> d_x(test::to_bf16(x)), d_shift(test::to_bf16(shift)), d_scale(test::to_bf16(scale));
  test::DeviceBuffer<__nv_bfloat16> d_y(n), d_dy(test::to_bf16(dy)), d_dx(n), d_dshift(nv), d_dscale(nv);
  test::DeviceBuffer<float> d_mean(static_cast<std::size_t>(s.batch * s.seq)),
      d_rstd(static_cast<std::size_t>(s.batch * s.seq));
  adaln_layernorm_fwd(d_x.get(), d_shift.get(), d_scale.get(), d_y.get(), d_mean.get(), d_rstd.get(), s.batch, s.seq,
                      s.hidden, eps, nullptr);
  adaln_layernorm_bwd(d_x.get(), d_scale.get(), d_mean.get(), d_rstd.get(), d_dy.get(), d_dx.get(), d_dshift.get(),
                      d_dscale.get(), s.batch, s.seq, s.hidden, nullptr);

  const auto f = ref::adaln_layernorm_fwd(s, x, shift, scale, eps);
  const auto g = ref::adaln_layernorm_bwd(s, x, scale, f.mean, f.rstd, dy);
  test::check_close("y", test::download_double(d_y), f.y, test::bf16_tolerance(f.y));
  // fp32 row statistics over d terms in [-1, 3): the mean's error is set by the terms' size, not
  // the mean's, hence an absolute part.
  test::check_close("mean", test::download_double(d_mean), f.mean, {1e-6, 1e-5});
  test::check_close("rstd", test::download_double(d_rstd), f.rstd, {0.0, 1e-5});
  test::check_close("dx", test::download_double(d_dx), g.dx, test::bf16_tolerance(g.dx));
  test::check_close("dshift", test::download_double(d_dshift), g.dshift, test::bf16_tolerance(g.dshift));
  test::check_close("dscale", test::download_double(d_dscale), g.dscale, test::bf16_tolerance(g.dscale));
}

TEST_CASE("adaln layernorm launchers reject bad shapes before launching") {
  // Preconditions are checked on the host, so this runs without a GPU.
  CHECK_THROWS_AS(adaln_layernorm_fwd(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 0, 8, 1e-6f, nullptr),
                  PreconditionError);
  CHECK_THROWS_AS(adaln_layernorm_fwd(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 4, 8, 1e-6f, nullptr),
                  PreconditionError);  // null buffers
}
