// The runner's device model against the CPU-reference model (kernels/runner/, model_ref/), and the
// small kernels the runner added (silu, bias, residual_add, cast) against their references.
// Skipped without a GPU.
//   - one step's loss and the gradients of a sample of tensors match model_ref in fp64 from the
//     same fp32 weights and batch. Tolerances: the loss within 2% (the model computes in bf16:
//     ~20 roundings of 2^-9 deep, plus near-tied routing choices), each sampled tensor's gradient
//     within 10% relative L2 error ||g - ref|| / ||ref|| (bf16 activations and fp32 accumulation),
//     on seeds whose routing has no near tie that bf16 could flip (runner_reference.hpp);
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
#include "runner_reference.hpp"
#include "silu.cuh"

namespace ecsim {
namespace {

double relative_l2(std::span<const double> got, std::span<const double> ref) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff += (got[i] - ref[i]) * (got[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / norm);
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
void check_step_against_reference(const model_ref::ModelConfig& c, test::ReferenceSeeds seeds) {
  runner::DeviceTrainer trainer(c, seeds.params, model_ref::InitScheme::kAllRandom, {}, 2, nullptr);
  const double loss = trainer.loss_and_gradients(runner::upload_batch(c, model_ref::make_flow_batch(c, 2, seeds.batch)));

  // The reference from the same fp32-rounded weights and the same bf16-rounded inputs, routed as
  // the device routes (runner_reference.hpp; runner_plan_test.cpp checks the margin in CI too).
  const model_ref::Model model(c);
  const test::RoundedReference reference = test::rounded_reference(c, seeds, 2);
  const model_ref::ModelForward& f = reference.forward;
  const double margin = test::routing_margin(c, f);
  CAPTURE(margin);
  REQUIRE_MESSAGE(margin >= test::kMinRoutingMargin, "the reference routes a near tie: pick other seeds");
  const std::vector<double> ref = model.backward(reference.params, reference.batch, f);
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
  check_step_against_reference(test::runner_tiny(), test::kExpertChoiceSeeds);
}

TEST_CASE("runner: token choice, padded to its capacity or dropless, matches the CPU-reference model" *
          doctest::skip(!test::gpu_available())) {
  for (const double capacity_factor : {1.0, 0.0}) {
    CAPTURE(capacity_factor);
    check_step_against_reference(test::runner_tiny_token_choice(capacity_factor), test::kTokenChoiceSeeds);
  }
}

TEST_CASE("runner: the loss halves within 50 AdamW steps on a fixed batch" * doctest::skip(!test::gpu_available())) {
  const std::vector<double> losses = train(test::runner_tiny(), 5, 50);
  CAPTURE(losses.front());
  CAPTURE(losses.back());
  CHECK(losses.back() < 0.5 * losses.front());
}

TEST_CASE("runner: two runs from one seed give bitwise equal losses" * doctest::skip(!test::gpu_available())) {
  for (const model_ref::ModelConfig& c :
       {test::runner_tiny(), test::runner_tiny_token_choice(1.0), test::runner_tiny_token_choice(0.0)}) {
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
