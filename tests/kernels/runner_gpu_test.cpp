// The runner's device model against the CPU-reference model (kernels/runner/, model_ref/), and the
// small kernels the runner added (silu, bias, residual_add, cast) against their references.
// Skipped without a GPU.
//   - one step's loss and the gradients of a sample of tensors match model_ref in fp64 from the
//     same fp32 weights and batch. Tolerances: the loss within 2% (the model computes in bf16:
//     ~20 roundings of 2^-9 deep, plus near-tied routing choices), each sampled tensor's gradient
//     within 10% relative L2 error ||g - ref|| / ||ref|| (bf16 activations and fp32 accumulation;
//     a token routed differently by a near tie moves a few rows, not the norm);
//   - the loss falls below half its first value in 50 AdamW steps on a fixed batch;
//   - two runs from the same seed give the same losses to the last bit (every kernel is deterministic);
//   - the same for the token-choice baseline (padded to a capacity, and dropless).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "bias.cuh"
#include "cast.cuh"
#include "gpu_check.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/model.hpp"
#include "model_ref/silu.hpp"
#include "ref/gemm.hpp"
#include "residual_add.cuh"
#include "runner/device_trainer.hpp"
#include "silu.cuh"

namespace ecsim {
namespace {

// model_ref's tiny model with the GPU kernels' constraints: head_dim 64, widths multiples of 8.
model_ref::ModelConfig tiny() {
  model_ref::ModelConfig c;
  c.hidden = 64;
  c.heads = 2;
  c.kv_heads = 1;
  c.head_dim = 64;
  c.ffn_width = 128;
  c.experts = 8;
  c.capacity_factor = 2.0;
  c.group_tokens = 16;  // C = 4
  c.text_tokens = 8;
  c.text_width = 64;
  c.cross_kv_heads = 1;
  c.cond_width = 32;
  c.timestep_freq_dim = 16;
  return c;
}

double relative_l2(std::span<const double> got, std::span<const double> ref) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff += (got[i] - ref[i]) * (got[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / norm);
}

// The tiny model routed by top-2 token choice: capacity factor 1.0 (padded rows, some picks
// dropped), or dropless (ragged grouped GEMMs) when capacity_factor is 0.
model_ref::ModelConfig tiny_token_choice(double capacity_factor) {
  model_ref::ModelConfig c = tiny();
  c.routing = model_ref::Routing::kTokenChoice;
  c.top_k = 2;
  c.capacity_factor = capacity_factor;
  return c;
}

std::vector<double> train(const model_ref::ModelConfig& c, std::uint64_t seed, int steps) {
  runner::DeviceTrainer trainer(c, seed, model_ref::InitScheme::kAdaLnZero, {3e-3f, 0.9f, 0.999f, 1e-8f, 0.0f}, 2,
                                nullptr);
  std::vector<runner::DeviceBatch> batches;
  batches.push_back(runner::upload_batch(c, model_ref::make_flow_batch(c, 2, seed + 1)));
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) losses.push_back(trainer.step(batches));
  return losses;
}

// One step's loss and the sampled gradients against model_ref (tolerances in the header comment).
void check_step_against_reference(const model_ref::ModelConfig& c) {
  const std::uint64_t seed = 7;
  runner::DeviceTrainer trainer(c, seed, model_ref::InitScheme::kAllRandom, {}, 2, nullptr);
  const model_ref::FlowBatch batch = model_ref::make_flow_batch(c, 2, 11);
  const double loss = trainer.loss_and_gradients(runner::upload_batch(c, batch));

  // The reference from the same fp32-rounded weights and the same bf16-rounded inputs.
  const model_ref::Model model(c);
  std::vector<double> params = model_ref::init_params(model.layout(), seed, model_ref::InitScheme::kAllRandom);
  for (double& p : params) p = static_cast<double>(static_cast<float>(p));
  model_ref::FlowBatch rounded = batch;
  for (auto* v : {&rounded.x_t, &rounded.velocity, &rounded.text}) {
    for (double& x : *v) x = static_cast<double>(__bfloat162float(__float2bfloat16(static_cast<float>(x))));
  }
  const model_ref::ModelForward f = model.forward(params, rounded);
  const std::vector<double> ref = model.backward(params, rounded, f);
  CAPTURE(loss);
  CAPTURE(f.loss);
  CHECK(std::abs(loss - f.loss) <= 0.02 * std::abs(f.loss));

  std::vector<float> grads(static_cast<std::size_t>(trainer.model().size()));
  CUDA_CHECK(cudaMemcpy(grads.data(), trainer.model().grads(), grads.size() * sizeof(float), cudaMemcpyDeviceToHost));
  int checked = 0;
  for (const model_ref::NamedTensor& t : model.layout().tensors) {
    // Every weight of blocks 0 (dense) and 1 (MoE), and the embedding and final layer's.
    const bool sampled = t.name.rfind("blocks.0.", 0) == 0 || t.name.rfind("blocks.1.", 0) == 0 ||
                         t.name.rfind("embed.", 0) == 0 || t.name.rfind("final.", 0) == 0;
    if (!sampled) continue;
    const auto r = model_ref::at(std::span<const double>(ref), t.ref);
    std::vector<double> g(static_cast<std::size_t>(t.ref.size));
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = grads[static_cast<std::size_t>(t.ref.offset) + i];
    CAPTURE(t.name);
    CHECK(relative_l2(g, r) <= 0.1);
    ++checked;
  }
  CHECK(checked > 20);
}

}  // namespace

TEST_CASE("runner: one step's loss and gradients match the CPU-reference model" *
          doctest::skip(!test::gpu_available())) {
  check_step_against_reference(tiny());
}

TEST_CASE("runner: token choice, padded to its capacity or dropless, matches the CPU-reference model" *
          doctest::skip(!test::gpu_available())) {
  for (const double capacity_factor : {1.0, 0.0}) {
    CAPTURE(capacity_factor);
    check_step_against_reference(tiny_token_choice(capacity_factor));
  }
}

TEST_CASE("runner: the loss halves within 50 AdamW steps on a fixed batch" * doctest::skip(!test::gpu_available())) {
  const std::vector<double> losses = train(tiny(), 5, 50);
  CAPTURE(losses.front());
  CAPTURE(losses.back());
  CHECK(losses.back() < 0.5 * losses.front());
}

TEST_CASE("runner: two runs from one seed give bitwise equal losses" * doctest::skip(!test::gpu_available())) {
  for (const model_ref::ModelConfig& c : {tiny(), tiny_token_choice(1.0), tiny_token_choice(0.0)}) {
    const std::vector<double> a = train(c, 9, 5), b = train(c, 9, 5);
    for (std::size_t i = 0; i < a.size(); ++i) {
      CAPTURE(i);
      CHECK(a[i] == b[i]);
    }
  }
}

TEST_CASE("silu kernels match the reference (2^16 + 5 elements)" * doctest::skip(!test::gpu_available())) {
  const std::size_t n = (1u << 16) + 5;
  const std::vector<double> x = test::to_double(std::span<const __nv_bfloat16>(test::to_bf16(test::random_values(n, 1, -6, 6))));
  const std::vector<double> dy =
      test::to_double(std::span<const __nv_bfloat16>(test::to_bf16(test::random_values(n, 2))));
  test::DeviceBuffer<__nv_bfloat16> dx_in(test::to_bf16(x)), ddy(test::to_bf16(dy)), y(n), dx(n);
  silu_fwd(dx_in.get(), y.get(), static_cast<std::int64_t>(n), nullptr);
  silu_bwd(dx_in.get(), ddy.get(), dx.get(), static_cast<std::int64_t>(n), nullptr);
  const auto ry = model_ref::silu_fwd(x), rdx = model_ref::silu_bwd(x, dy);
  test::check_close("silu_fwd", test::download_double(y), ry, test::bf16_tolerance(ry));
  test::check_close("silu_bwd", test::download_double(dx), rdx, test::bf16_tolerance(rdx));
}

TEST_CASE("bias, residual_add and cast kernels match the reference" * doctest::skip(!test::gpu_available())) {
  const std::int64_t groups = 3, rows = 77, n = 40;
  const auto y0 = test::to_double(std::span<const __nv_bfloat16>(test::to_bf16(test::random_values(groups * rows * n, 3))));
  const auto b = test::to_double(std::span<const __nv_bfloat16>(test::to_bf16(test::random_values(groups * n, 4))));
  test::DeviceBuffer<__nv_bfloat16> y(test::to_bf16(y0)), bias(test::to_bf16(b)), sum(y0.size());
  test::DeviceBuffer<float> db(static_cast<std::size_t>(groups * n));
  // bias_grad over y0 first (y is overwritten by bias_add next).
  bias_grad(y.get(), db.get(), groups, rows, n, GradientWrite::kOverwrite, nullptr);
  residual_add(y.get(), y.get(), sum.get(), groups * rows * n, nullptr);
  bias_add(y.get(), bias.get(), groups, rows, n, nullptr);
  std::vector<double> ry(y0), rdb(static_cast<std::size_t>(groups * n), 0.0), rsum(y0.size());
  for (std::int64_t g = 0; g < groups; ++g) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 0; i < n; ++i) {
        const std::size_t k = static_cast<std::size_t>((g * rows + r) * n + i);
        ry[k] += b[static_cast<std::size_t>(g * n + i)];
        rdb[static_cast<std::size_t>(g * n + i)] += y0[k];
        rsum[k] = 2 * y0[k];
      }
    }
  }
  test::check_close("bias_add", test::download_double(y), ry, test::bf16_tolerance(ry));
  test::check_close("bias_grad", test::to_double(db.download()), rdb, test::fp32_sum_tolerance(rdb));
  test::check_close("residual_add", test::download_double(sum), rsum, test::bf16_tolerance(rsum));
  const std::vector<double> f = test::random_values(1000, 5, -100, 100);
  const std::vector<float> f32(f.begin(), f.end());
  test::DeviceBuffer<float> in(f32);
  test::DeviceBuffer<__nv_bfloat16> out(f32.size());
  cast_fp32_to_bf16(in.get(), out.get(), static_cast<std::int64_t>(f32.size()), nullptr);
  const auto got = out.download();
  for (std::size_t i = 0; i < f32.size(); ++i) {
    CAPTURE(i);
    CHECK(__bfloat162float(got[i]) == __bfloat162float(__float2bfloat16(f32[i])));
  }
}

}  // namespace ecsim
