// The elementwise kernels (kernels/gelu.cu, gate_residual.cu, adamw.cu, flow_loss.cu, and the
// runner's silu.cu, bias.cu, residual_add.cu, cast.cu) run on the CPU under an emulation of the
// CUDA execution model (README.md) and compared with the CPU references by the GPU tests' rules
// (tests/kernels/elementwise_check.hpp, runner_kernels_check.hpp), on smaller shapes that keep the
// ragged edges: partial last blocks, a column tile and row lanes cut short, the flow loss's
// grid-stride loop. An emulation, not a GPU test: it checks the kernels' logic (indexing, coverage
// of every element, the block sums' barriers, every shared-memory access against races, bounds and
// unwritten reads), not the hardware's arithmetic or speed.
// Run: ctest -R emulat, or build/bin/ecsim_emulation_tests (ECSIM_TEST_SEED=N repeats a draw).
#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "adamw.cuh"
#include "bias.cuh"
#include "cast.cuh"
#include "elementwise_check.hpp"
#include "emulation/host_buffers.hpp"
#include "flow_loss.cuh"
#include "gate_residual.cuh"
#include "gelu.cuh"
#include "gpu_check.hpp"
#include "residual_add.cuh"
#include "runner_kernels_check.hpp"
#include "silu.cuh"

using namespace ecsim;
using emulation_test::poisoned;

namespace {

// The launchers, compiled for the emulation, on host arrays; every output poisoned before the run.
// An activation's two launchers (gelu.cu, silu.cu), forward then backward on the same x.
template <auto fwd, auto bwd>
test::ActivationOutputs run_activation(const test::Bf16Vector& x, const test::Bf16Vector& dy) {
  test::ActivationOutputs out{poisoned<__nv_bfloat16>(x.size()), poisoned<__nv_bfloat16>(x.size())};
  const auto n = static_cast<std::int64_t>(x.size());
  fwd(x.data(), out.y.data(), n, nullptr);
  bwd(x.data(), dy.data(), out.dx.data(), n, nullptr);
  return out;
}

test::GateResidualOutputs run_gate_residual(const ref::SampleRows& s, const test::GateResidualInputs& in) {
  const auto n = static_cast<std::size_t>(s.elements());
  const auto nv = in.gate.size();  // [B, d] in rows vector_stride apart
  test::GateResidualOutputs out{poisoned<__nv_bfloat16>(n), poisoned<__nv_bfloat16>(n), poisoned<__nv_bfloat16>(nv)};
  gate_residual_fwd(in.x.data(), in.y.data(), in.gate.data(), out.out.data(), s.batch, s.seq, s.hidden, nullptr,
                    in.vector_stride);
  auto partials = poisoned<float>(kColumnSumPartials);
  gate_residual_bwd(in.y.data(), in.gate.data(), in.dout.data(), out.dy.data(), out.dgate.data(), partials.data(),
                    s.batch, s.seq, s.hidden, nullptr, in.vector_stride);
  return out;
}

// A step's gradient buffer as Grad: fp32, or bf16 holding the values the check rounded to bf16.
// `read_back` sets the state's copy from the buffer after the step (which only reads it).
template <class Grad>
struct GradBuffer {
  std::vector<Grad> data;
  explicit GradBuffer(const std::vector<float>& g) {
    if constexpr (std::is_same_v<Grad, float>) {
      data = g;
    } else {
      data = test::to_bf16(test::to_double(g));
    }
  }
  std::vector<float> read_back() const {
    if constexpr (std::is_same_v<Grad, float>) {
      return data;
    } else {
      return test::to_float(test::to_double(std::span<const __nv_bfloat16>(data)));
    }
  }
};

// In place, as on the device: each step continues from the state the last one left.
template <class Grad>
std::vector<test::AdamWState> run_adamw(const AdamWHyperparameters& h, const test::AdamWState& initial,
                                        const std::vector<std::vector<float>>& grads) {
  test::AdamWState state = initial;
  std::vector<test::AdamWState> after;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const GradBuffer<Grad> grad(grads[i]);
    state.param_bf16 = poisoned<__nv_bfloat16>(state.param.size());
    adamw_step(h, static_cast<std::int64_t>(i + 1), state.param.data(), grad.data.data(), state.m.data(),
               state.v.data(), state.param_bf16.data(), static_cast<std::int64_t>(state.param.size()), nullptr);
    state.grad = grad.read_back();
    after.push_back(state);
  }
  return after;
}

template <class Grad>
std::vector<test::AdamWBf16State> run_adamw_bf16(const AdamWHyperparameters& h, const test::AdamWBf16State& initial,
                                                const std::vector<std::vector<float>>& grads) {
  test::AdamWBf16State state = initial;
  std::vector<test::AdamWBf16State> after;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const GradBuffer<Grad> grad(grads[i]);
    adamw_step_bf16(h, static_cast<std::int64_t>(i + 1), state.param.data(), grad.data.data(), state.m.data(),
                    state.v.data(), static_cast<std::int64_t>(state.param.size()), nullptr);
    state.grad = grad.read_back();
    after.push_back(state);
  }
  return after;
}

test::FlowLossOutputs run_flow_loss(const test::Bf16Vector& pred, const test::Bf16Vector& target, float dloss) {
  const auto n = static_cast<std::int64_t>(pred.size());
  auto partials = poisoned<float>(kFlowLossPartials);
  auto loss = poisoned<float>(1), loss_again = poisoned<float>(1);
  auto dpred = poisoned<__nv_bfloat16>(pred.size());
  flow_loss_fwd(pred.data(), target.data(), partials.data(), loss.data(), n, nullptr);
  flow_loss_fwd(pred.data(), target.data(), partials.data(), loss_again.data(), n, nullptr);
  flow_loss_bwd(pred.data(), target.data(), dloss, dpred.data(), n, nullptr);
  return {loss[0], loss_again[0], dpred};
}

test::BiasOutputs run_bias_residual_add(const test::BiasShape& s, const test::Bf16Vector& y0,
                                        const test::Bf16Vector& bias) {
  const auto gn = static_cast<std::size_t>(s.groups * s.n);
  test::BiasOutputs out{y0,
                        poisoned<float>(gn),
                        poisoned<__nv_bfloat16>(y0.size()),
                        poisoned<float>(gn),
                        poisoned<__nv_bfloat16>(gn),
                        poisoned<__nv_bfloat16>(gn)};
  // bias_grad over y0 first (y is overwritten by bias_add next).
  auto partials = poisoned<float>(kColumnSumPartials);
  const auto grad = [&](auto* dbias, GradientWrite write) {
    bias_grad(out.y.data(), dbias, s.groups, s.rows, s.n, write, partials.data(), nullptr);
  };
  grad(out.dbias.data(), GradientWrite::kOverwrite);
  grad(out.dbias_twice.data(), GradientWrite::kOverwrite);
  grad(out.dbias_twice.data(), GradientWrite::kAccumulate);
  grad(out.dbias_bf16.data(), GradientWrite::kOverwrite);
  grad(out.dbias_bf16_twice.data(), GradientWrite::kOverwrite);
  grad(out.dbias_bf16_twice.data(), GradientWrite::kAccumulate);
  residual_add(out.y.data(), out.y.data(), out.sum.data(), s.groups * s.rows * s.n, nullptr);
  bias_add(out.y.data(), bias.data(), s.groups, s.rows, s.n, nullptr);
  return out;
}

test::Bf16Vector run_cast(const std::vector<float>& in) {
  auto out = poisoned<__nv_bfloat16>(in.size());
  cast_fp32_to_bf16(in.data(), out.data(), static_cast<std::int64_t>(in.size()), nullptr);
  return out;
}

}  // namespace

// Each kernel runs once in 2-byte elements and once in 16-byte vectors (kernels/bf16_chunks.cuh).
TEST_CASE("emulated gelu kernels match the reference: 2^16 + 7 elements, and 2^16 in vectors") {
  const auto gelu = run_activation<gelu_fwd, gelu_bwd>;
  MESSAGE("worst error / tolerance " << test::check_gelu((1u << 16) + 7, test::run_seed(), gelu));
  MESSAGE("vectors: worst error / tolerance " << test::check_gelu(1u << 16, test::run_seed() + 1, gelu));
}

TEST_CASE("emulated gated residual kernels match the reference: 3 x 17 x 300, and d 304 in vectors") {
  // d 300: dgate's last 32-column tile is cut short (its 17 rows go in one chunk).
  MESSAGE("worst error / tolerance " << test::check_gate_residual({3, 17, 300}, test::run_seed(), run_gate_residual));
  MESSAGE("vectors: worst error / tolerance "
          << test::check_gate_residual({3, 17, 304}, test::run_seed() + 1, run_gate_residual));
  // The gate in the rows of the modulation's output [B, 6 d] (in vectors), and 2 elements apart.
  MESSAGE("gate rows 6 d apart: worst error / tolerance "
          << test::check_gate_residual({3, 17, 304}, test::run_seed() + 2, run_gate_residual, 6 * 304));
  MESSAGE("gate rows 302 apart: worst error / tolerance "
          << test::check_gate_residual({3, 17, 300}, test::run_seed() + 3, run_gate_residual, 302));
  // 2 x 10 tiles of d 300 are too few blocks: 200 rows per sample in 4 chunks, added by the finish.
  CHECK(column_chunks(2, 200, 300).chunks == 4);
  MESSAGE("row chunks, gate rows 6 d apart: worst error / tolerance "
          << test::check_gate_residual({2, 200, 300}, test::run_seed() + 4, run_gate_residual, 6 * 300));
}

TEST_CASE("emulated adamw kernel matches the reference over three steps: 2^14 + 3 fp32 values, and 2^14 in vectors, "
          "from fp32 and bf16 gradients") {
  MESSAGE("worst error / tolerance " << test::check_adamw((1u << 14) + 3, test::run_seed(), run_adamw<float>));
  MESSAGE("vectors: worst error / tolerance "
          << test::check_adamw(1u << 14, test::run_seed() + 1, run_adamw<float>));
  MESSAGE("bf16 gradients: worst error / tolerance "
          << test::check_adamw((1u << 14) + 3, test::run_seed() + 2, run_adamw<__nv_bfloat16>, true));
  MESSAGE("bf16 gradients, vectors: worst error / tolerance "
          << test::check_adamw(1u << 14, test::run_seed() + 3, run_adamw<__nv_bfloat16>, true));
}

TEST_CASE("emulated adamw kernel on bf16 weights and moments matches the reference: 2^14 + 3 values, and in vectors, "
          "from fp32 and bf16 gradients") {
  MESSAGE("worst error / tolerance "
          << test::check_adamw_bf16((1u << 14) + 3, test::run_seed(), run_adamw_bf16<float>));
  MESSAGE("vectors: worst error / tolerance "
          << test::check_adamw_bf16(1u << 14, test::run_seed() + 1, run_adamw_bf16<float>));
  MESSAGE("bf16 gradients: worst error / tolerance "
          << test::check_adamw_bf16((1u << 14) + 3, test::run_seed() + 2, run_adamw_bf16<__nv_bfloat16>, true));
  MESSAGE("bf16 gradients, vectors: worst error / tolerance "
          << test::check_adamw_bf16(1u << 14, test::run_seed() + 3, run_adamw_bf16<__nv_bfloat16>, true));
}

TEST_CASE("emulated flow loss kernels match the reference, and the loss is bitwise reproducible: 2^18 + 5 and 2^18") {
  // The GPU test's shapes: the partials kernel's grid-stride loop takes four turns and part of a
  // fifth in elements, half a turn in vectors.
  MESSAGE(
      "worst error / tolerance " << test::check_flow_loss(test::kFlowLossElements, test::run_seed(), run_flow_loss));
  MESSAGE("vectors: worst error / tolerance "
          << test::check_flow_loss(test::kFlowLossVectorElements, test::run_seed() + 1, run_flow_loss));
}

TEST_CASE("emulated silu kernels match the reference: 2^16 + 5 elements, and 2^16 in vectors") {
  const auto silu = run_activation<silu_fwd, silu_bwd>;
  MESSAGE("worst error / tolerance " << test::check_silu(test::kSiluElements, test::run_seed(), silu));
  MESSAGE("vectors: worst error / tolerance "
          << test::check_silu(test::kSiluVectorElements, test::run_seed() + 1, silu));
}

TEST_CASE("emulated bias, residual_add and cast kernels match the reference: 3 groups x 77 rows x 40 and x 37") {
  const std::uint64_t seed = test::run_seed();
  MESSAGE("worst error / tolerance " << test::check_bias_residual_add(test::kBiasShape, seed, run_bias_residual_add)
                                     << ", " << test::check_cast(test::kCastElements, seed + 100, run_cast));
  MESSAGE("elements: worst error / tolerance "
          << test::check_bias_residual_add(test::kBiasElementShape, seed + 1, run_bias_residual_add) << ", "
          << test::check_cast(test::kCastOddElements, seed + 101, run_cast));
  MESSAGE("bias_grad in 16 row chunks, and in one: worst error / tolerance "
          << test::check_bias_residual_add(test::kBiasChunkShape, seed + 2, run_bias_residual_add) << ", "
          << test::check_bias_residual_add(test::kBiasOneChunkShape, seed + 3, run_bias_residual_add));
}

TEST_CASE("bias_grad cuts rows into chunks only where the column tiles are too few, within its workspace") {
  CHECK(column_chunks(3, 77, 40).chunks == 2);
  CHECK(column_chunks(3, 77, 40).chunk_rows == 39);
  CHECK(column_chunks(1, 1000, 40).chunks == 16);
  CHECK(column_chunks(1, 1000, 40).chunk_rows == 63);
  CHECK(column_chunks(64, 5, 264).chunks == 1);
  CHECK(column_chunks(1, 65536, 1152).chunks == 15);  // 36 tiles: 540 blocks
  // Every chunk holds rows, and the partials fit kColumnSumPartials, over a spread of shapes.
  for (const std::int64_t groups : {1, 3, 8, 64, 600})
    for (const std::int64_t rows : {1, 63, 64, 65, 1000, 65536, 1 << 20})
      for (const std::int64_t n : {1, 16, 33, 1152, 4608, 18432}) {
        const ColumnChunks c = column_chunks(groups, rows, n);
        CAPTURE(groups);
        CAPTURE(rows);
        CAPTURE(n);
        CHECK(c.chunks >= 1);
        CHECK((c.chunks - 1) * c.chunk_rows < rows);
        CHECK(c.chunks * c.chunk_rows >= rows);
        if (c.chunks > 1) CHECK(c.chunks * groups * n <= kColumnSumPartials);
      }
}

TEST_CASE("emulated ragged bias_grad writes every group's sum, an empty group's 0, and adds where asked") {
  // 3 groups of 5, 0 and 70 rows (70: two row chunks), n 40, from dbias poisoned (NaN): overwrite
  // must leave no NaN (the empty group zeroed), then an accumulate over the same rows doubles it.
  const std::vector<std::int64_t> rows{5, 0, 70};
  const std::int64_t n = 40, total = 75;
  const test::Bf16Vector dy = test::to_bf16(test::random_values(static_cast<std::size_t>(total * n), 7));
  auto dbias = poisoned<float>(static_cast<std::size_t>(3 * n));
  auto partials = poisoned<float>(kColumnSumPartials);
  ragged_bias_grad(dy.data(), dbias.data(), rows.data(), 3, n, GradientWrite::kOverwrite, partials.data(), nullptr);
  const std::vector<float> once = dbias;
  ragged_bias_grad(dy.data(), dbias.data(), rows.data(), 3, n, GradientWrite::kAccumulate, partials.data(), nullptr);
  std::int64_t first = 0;
  for (std::int64_t g = 0; g < 3; ++g) {
    for (std::int64_t c = 0; c < n; ++c) {
      double sum = 0;
      for (std::int64_t r = first; r < first + rows[static_cast<std::size_t>(g)]; ++r) {
        sum += static_cast<double>(__bfloat162float(dy[static_cast<std::size_t>(r * n + c)]));
      }
      const auto i = static_cast<std::size_t>(g * n + c);
      CAPTURE(g);
      CAPTURE(c);
      CHECK(static_cast<double>(once[i]) == doctest::Approx(sum).epsilon(1e-5).scale(1e-5));
      CHECK(dbias[i] == 2 * once[i]);
    }
    first += rows[static_cast<std::size_t>(g)];
  }
}
