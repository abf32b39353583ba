// The adaLN LayerNorm kernels (kernels/adaln_layernorm.cu: a block per row with two block sums per
// pass, and the column sums of dshift and dscale) run on the CPU under an emulation of the CUDA
// execution model (README.md) and compared with the CPU reference by the GPU test's rules
// (tests/kernels/adaln_layernorm_check.hpp). An emulation, not a GPU test: it checks the kernels'
// logic (indexing, the block sums' barriers and their static __shared__ partials, every
// shared-memory access against races, bounds and unwritten reads), not the hardware's arithmetic
// or speed.
// Run: ctest -R emulat, or build/bin/ecsim_emulation_tests (ECSIM_TEST_SEED=N repeats a draw).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "adaln_layernorm.cuh"
#include "adaln_layernorm_check.hpp"
#include "emulation/host_buffers.hpp"
#include "gpu_check.hpp"

using namespace ecsim;
using emulation_test::poisoned;

namespace {

// The launchers, compiled for the emulation, on host arrays; every output poisoned before the run.
test::AdaLnOutputs run_adaln_layernorm(const ref::SampleRows& s, const test::AdaLnInputs& in) {
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = in.shift.size();  // [B, d] in rows vector_stride apart
  const auto rows = static_cast<std::size_t>(s.batch * s.seq);
  test::AdaLnOutputs out{poisoned<__nv_bfloat16>(n), poisoned<float>(rows),       poisoned<float>(rows),
                         poisoned<__nv_bfloat16>(n), poisoned<__nv_bfloat16>(nv), poisoned<__nv_bfloat16>(nv)};
  adaln_layernorm_fwd(in.x.data(), in.shift.data(), in.scale.data(), out.y.data(), out.mean.data(), out.rstd.data(),
                      s.batch, s.seq, s.hidden, in.eps, nullptr, in.vector_stride);
  auto partials = poisoned<float>(kAdaLnBwdPartials);
  adaln_layernorm_bwd(in.x.data(), in.scale.data(), out.mean.data(), out.rstd.data(), in.dy.data(),
                      in.dresidual.empty() ? nullptr : in.dresidual.data(), out.dx.data(), out.dshift.data(),
                      out.dscale.data(), partials.data(), s.batch, s.seq, s.hidden, nullptr, in.vector_stride);
  return out;
}

}  // namespace

TEST_CASE("emulated adaln layernorm kernels match the reference: EC-DiT-XL's width, 3 x 21 x 1152, and d 300") {
  // d 1152 in 16-byte vectors (kernels/bf16_chunks.cuh) = 144 chunks: each row's strided loops end
  // before a turn is done, and the column kernel's last block on half its threads. d 300 in 2-byte
  // elements: the loops take a second, partial turn. Each with and without the residual path's
  // gradient added to dx.
  for (const bool residual : {false, true}) {
    const std::string ratios =
        test::check_adaln_layernorm({3, 21, 1152}, test::run_seed(), run_adaln_layernorm, residual);
    MESSAGE("d 1152, residual " << residual << ": worst error / tolerance " << ratios);
    const std::string element_ratios =
        test::check_adaln_layernorm({3, 21, 300}, test::run_seed() + 1, run_adaln_layernorm, residual);
    MESSAGE("d 300, residual " << residual << ": worst error / tolerance " << element_ratios);
  }
}

TEST_CASE("emulated adaln layernorm's dshift and dscale over row chunks: 2 x 200 x 296 and 1 x 130 x 1152") {
  // 2 x 10 column tiles are too few blocks: the 200 rows of each sample go in 4 chunks of 50, whose
  // sums the finish kernel adds; 1 x 36 tiles: 130 rows in 3 chunks (44, 44, 42).
  CHECK(column_chunks(2, 200, 296).chunks == 4);
  CHECK(column_chunks(1, 130, 1152).chunks == 3);
  for (const bool residual : {false, true}) {
    MESSAGE("2 x 200 x 296, residual " << residual << ": worst error / tolerance "
                                       << test::check_adaln_layernorm({2, 200, 296}, test::run_seed() + 2,
                                                                      run_adaln_layernorm, residual));
  }
  MESSAGE("1 x 130 x 1152 in 16-byte vectors, vectors 6 d apart: worst error / tolerance "
          << test::check_adaln_layernorm({1, 130, 1152}, test::run_seed() + 3, run_adaln_layernorm, true, 6 * 1152));
}

TEST_CASE("emulated adaln layernorm kernels read shift and scale, and write their gradients, in wider rows") {
  // The modulation's output [B, 6 d] read in place (a multiple of 8: 16-byte vectors), and a stride
  // that is not (2-byte elements).
  const std::string ratios =
      test::check_adaln_layernorm({3, 21, 1152}, test::run_seed(), run_adaln_layernorm, true, 6 * 1152);
  MESSAGE("d 1152, vectors 6 d apart: worst error / tolerance " << ratios);
  const std::string odd =
      test::check_adaln_layernorm({3, 21, 296}, test::run_seed() + 1, run_adaln_layernorm, true, 301);
  MESSAGE("d 296, vectors 301 apart: worst error / tolerance " << odd);
}
