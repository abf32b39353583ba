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
//   - the same for the token-choice baseline (padded to a capacity, and dropless);
//   - a step's first micro-batch overwrites the gradients the last step left, and later ones add;
//   - AdamW on bf16 weights and moments (no masters) takes the fp32-master step to within the
//     masters' bf16 rounding;
//   - bf16 gradients (grad_dtype "bf16") match model_ref as the fp32 ones do, and are the fp32
//     step's gradients rounded once (one bf16 rounding, 2^-8 relative, plus the fp32 products'
//     own differences, 2^-12 of the tensor's largest gradient).
// The added kernels' inputs and checks: runner_kernels_check.hpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "bias.cuh"
#include "cast.cuh"
#include "gpu_check.hpp"
#include "model_ref/flow_batch.hpp"
#include "model_ref/model.hpp"
#include "ref/gemm.hpp"
#include "residual_add.cuh"
#include "runner/device_trainer.hpp"
#include "runner_kernels_check.hpp"
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

// The trainer's gradient buffer, on the host (bf16 gradients widened).
std::vector<float> gradients(const runner::DeviceTrainer& t) { return t.model().download_grads(); }

// The trainer's bf16 weights, on the host.
std::vector<double> weights(const runner::DeviceTrainer& t) {
  std::vector<__nv_bfloat16> w(static_cast<std::size_t>(t.model().size()));
  CUDA_CHECK(cudaMemcpy(w.data(), t.model().params(), w.size() * sizeof(__nv_bfloat16), cudaMemcpyDeviceToHost));
  return test::to_double(std::span<const __nv_bfloat16>(w));
}

// One step's loss and the sampled gradients against model_ref (tolerances in the header comment).
void check_step_against_reference(const model_ref::ModelConfig& c, test::ReferenceSeeds seeds,
                                  runner::GradientStorage storage = runner::GradientStorage::kFp32) {
  runner::DeviceTrainer trainer(c, seeds.params, model_ref::InitScheme::kAllRandom, {}, 2, nullptr,
                                runner::OptimizerStorage::kFp32Master, storage);
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

  const std::vector<float> grads = gradients(trainer);
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

// The added kernels on the GPU (checks in runner_kernels_check.hpp, which the emulated test
// tests/emulation/elementwise_emulated_test.cpp shares): inputs uploaded, outputs poisoned before
// the run and downloaded after.
test::ActivationOutputs gpu_silu(const test::Bf16Vector& x, const test::Bf16Vector& dy) {
  const auto n = static_cast<std::int64_t>(x.size());
  test::DeviceBuffer<__nv_bfloat16> d_x(x), d_dy(dy), d_y(x.size()), d_dx(x.size());
  silu_fwd(d_x.get(), d_y.get(), n, nullptr);
  silu_bwd(d_x.get(), d_dy.get(), d_dx.get(), n, nullptr);
  return {d_y.download(), d_dx.download()};
}

test::BiasOutputs gpu_bias_residual_add(const test::BiasShape& s, const test::Bf16Vector& y0,
                                        const test::Bf16Vector& bias) {
  test::DeviceBuffer<__nv_bfloat16> d_y(y0), d_bias(bias), d_sum(y0.size());
  const auto gn = static_cast<std::size_t>(s.groups * s.n);
  test::DeviceBuffer<float> d_dbias(gn), d_dbias_twice(gn), d_partials(kColumnSumPartials);
  test::DeviceBuffer<__nv_bfloat16> d_dbias16(gn), d_dbias16_twice(gn);
  // bias_grad over y0 first (y is overwritten by bias_add next).
  float* partials = d_partials.get();
  const auto grad = [&](auto* dbias, GradientWrite write) {
    bias_grad(d_y.get(), dbias, s.groups, s.rows, s.n, write, partials, nullptr);
  };
  grad(d_dbias.get(), GradientWrite::kOverwrite);
  grad(d_dbias_twice.get(), GradientWrite::kOverwrite);
  grad(d_dbias_twice.get(), GradientWrite::kAccumulate);
  grad(d_dbias16.get(), GradientWrite::kOverwrite);
  grad(d_dbias16_twice.get(), GradientWrite::kOverwrite);
  grad(d_dbias16_twice.get(), GradientWrite::kAccumulate);
  residual_add(d_y.get(), d_y.get(), d_sum.get(), s.groups * s.rows * s.n, nullptr);
  bias_add(d_y.get(), d_bias.get(), s.groups, s.rows, s.n, nullptr);
  return {d_y.download(),          d_dbias.download(),    d_sum.download(),
          d_dbias_twice.download(), d_dbias16.download(), d_dbias16_twice.download()};
}

test::Bf16Vector gpu_cast(const std::vector<float>& in) {
  test::DeviceBuffer<float> d_in(in);
  test::DeviceBuffer<__nv_bfloat16> d_out(in.size());
  cast_fp32_to_bf16(d_in.get(), d_out.get(), static_cast<std::int64_t>(in.size()), nullptr);
  return d_out.download();
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

TEST_CASE("runner: one step with bf16 gradients matches the CPU-reference model, and the fp32 step's gradients "
          "rounded" *
          doctest::skip(!test::gpu_available())) {
  check_step_against_reference(test::runner_tiny(), test::kExpertChoiceSeeds, runner::GradientStorage::kBf16);
  // Token choice too: dropless runs the ragged dW products and bias gradients into bf16.
  for (const model_ref::ModelConfig& c : {test::runner_tiny(), test::runner_tiny_token_choice(0.0)}) {
    CAPTURE(c.dropless());
    const runner::DeviceBatch batch = runner::upload_batch(c, model_ref::make_flow_batch(c, 2, 41));
    runner::DeviceTrainer fp32(c, 40, model_ref::InitScheme::kAllRandom, {}, 2, nullptr);
    runner::DeviceTrainer bf16(c, 40, model_ref::InitScheme::kAllRandom, {}, 2, nullptr,
                               runner::OptimizerStorage::kFp32Master, runner::GradientStorage::kBf16);
    CHECK(fp32.loss_and_gradients(batch) == bf16.loss_and_gradients(batch));  // the same forward
    const std::vector<float> a = gradients(fp32), b = gradients(bf16);
    std::size_t apart = 0, moved = 0;
    for (const model_ref::NamedTensor& t : fp32.model().layout().tensors) {
      const auto first = static_cast<std::size_t>(t.ref.offset), last = first + static_cast<std::size_t>(t.ref.size);
      float largest = 0;
      for (std::size_t i = first; i < last; ++i) largest = std::max(largest, std::abs(a[i]));
      for (std::size_t i = first; i < last; ++i) {
        if (std::abs(b[i] - a[i]) > std::ldexp(std::abs(a[i]), -8) + std::ldexp(largest, -12)) ++apart;
        if (b[i] != 0.0f) ++moved;
      }
    }
    CAPTURE(moved);
    CHECK(apart == 0);
    CHECK(moved > a.size() / 2);
  }
}

TEST_CASE("runner: the loss halves within 50 AdamW steps on a fixed batch" * doctest::skip(!test::gpu_available())) {
  const std::vector<double> losses = train(test::runner_tiny(), 5, 50);
  CAPTURE(losses.front());
  CAPTURE(losses.back());
  CHECK(losses.back() < 0.5 * losses.front());
}

TEST_CASE("runner: one step's first micro-batch writes the gradients and the others add to them" *
          doctest::skip(!test::gpu_available())) {
  // Nothing zeroes the gradients between steps (AdamW only reads them): the first micro-batch's
  // dW products and bias gradients overwrite them, the later ones add. Two trainers from one seed
  // take a step; then a's gradients are poisoned (NaN bytes) and b's zeroed, and one micro-batch's
  // gradients must come out bitwise equal from both. Two micro-batches of the same batch, each
  // weighted 1/2, must then give those gradients again (not 1/2 of them: the second overwrote;
  // nor 2x: the first added to the last). In fp32 gradients, and in bf16 ones on the dropless
  // model, whose linear layers and ragged experts each write and add into bf16.
  using runner::GradientStorage;
  const std::vector<std::pair<GradientStorage, model_ref::ModelConfig>> cases = {
      {GradientStorage::kFp32, test::runner_tiny()},
      {GradientStorage::kFp32, test::runner_tiny_token_choice(0.0)},
      {GradientStorage::kBf16, test::runner_tiny_token_choice(0.0)}};
  for (const auto& [storage, c] : cases) {
    const bool bf16 = storage == GradientStorage::kBf16;
    CAPTURE(bf16);
    CAPTURE(c.dropless());
    std::vector<runner::DeviceBatch> batches;
    batches.push_back(runner::upload_batch(c, model_ref::make_flow_batch(c, 2, 21)));
    runner::DeviceTrainer a(c, 20, model_ref::InitScheme::kAllRandom, {}, 2, nullptr,
                            runner::OptimizerStorage::kFp32Master, storage);
    runner::DeviceTrainer b(c, 20, model_ref::InitScheme::kAllRandom, {}, 2, nullptr,
                            runner::OptimizerStorage::kFp32Master, storage);
    a.step(batches);
    b.step(batches);
    const std::size_t bytes = static_cast<std::size_t>(a.model().size()) * a.model().grads().element_bytes();
    CUDA_CHECK(cudaMemset(a.model().grads().data(), 0xFF, bytes));
    CUDA_CHECK(cudaMemset(b.model().grads().data(), 0, bytes));
    a.loss_and_gradients(batches.front());
    b.loss_and_gradients(batches.front());
    const std::vector<float> ga = gradients(a), gb = gradients(b);
    CHECK(std::all_of(ga.begin(), ga.end(), [](float g) { return std::isfinite(g); }));
    CHECK(std::any_of(ga.begin(), ga.end(), [](float g) { return g != 0.0f; }));
    CHECK(ga == gb);
    batches.push_back(runner::upload_batch(c, model_ref::make_flow_batch(c, 2, 21)));
    a.synced_gradients(batches);
    const std::vector<float> two = gradients(a);
    float largest = 0, worst = 0;
    for (std::size_t i = 0; i < ga.size(); ++i) {
      largest = std::max(largest, std::abs(ga[i]));
      worst = std::max(worst, std::abs(two[i] - ga[i]));
    }
    // Halving is exact in bf16 and fp32 (away from subnormals), so the halves add back to the whole
    // up to roundings; a bound of one bf16 rounding (2^-9) of the largest gradient still tells a
    // wrong write apart, which is off by half of the largest at least. bf16 gradients round the
    // first half and the sum: one bf16 ulp (2^-7 of the largest at most).
    CHECK(worst <= std::ldexp(largest, bf16 ? -7 : -9));
  }
}

TEST_CASE("runner: AdamW on bf16 weights and moments takes the fp32-master step to within the masters' rounding" *
          doctest::skip(!test::gpu_available())) {
  // Two trainers from one seed and batch, one per OptimizerStorage, take one step. Their first
  // gradients are the same (the same bf16 weights and kernels); the fp32-master step rounds
  // (master - update) to bf16, the bf16 step (bf16(master) - update). The two differ by master's
  // own rounding (half a bf16 ulp of the weight before, 2^-8 of it) and the results' (one ulp of
  // the result, 2^-7 of it) at most: where the update cancels most of a weight, the first is many
  // ulps of the result. lr 1e-2, far above a weight's bf16 ulp, so nearly every weight moves, and
  // a step that updated the wrong buffer or left the weights alone fails.
  const model_ref::ModelConfig c = test::runner_tiny();
  const AdamWHyperparameters h{1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f};
  std::vector<runner::DeviceBatch> batches;
  batches.push_back(runner::upload_batch(c, model_ref::make_flow_batch(c, 2, 31)));
  runner::DeviceTrainer fp32(c, 30, model_ref::InitScheme::kAllRandom, h, 2, nullptr,
                             runner::OptimizerStorage::kFp32Master);
  runner::DeviceTrainer bf16(c, 30, model_ref::InitScheme::kAllRandom, h, 2, nullptr, runner::OptimizerStorage::kBf16);
  const std::vector<double> before = weights(bf16);
  REQUIRE(before == weights(fp32));
  CHECK(fp32.step(batches) == bf16.step(batches));  // the same forward
  const std::vector<double> a = weights(fp32), b = weights(bf16);
  std::size_t moved = 0, apart = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (b[i] != before[i]) ++moved;
    if (std::abs(a[i] - b[i]) > std::ldexp(std::abs(before[i]), -8) + std::ldexp(std::abs(a[i]), -7)) ++apart;
  }
  CAPTURE(moved);
  CAPTURE(a.size());
  CHECK(moved > a.size() * 9 / 10);
  CHECK(apart == 0);
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

TEST_CASE("silu kernels match the reference (2^16 + 5 elements, and 2^16 in 16-byte vectors)" *
          doctest::skip(!test::gpu_available())) {
  test::check_silu(test::kSiluElements, test::run_seed(), gpu_silu);
  test::check_silu(test::kSiluVectorElements, test::run_seed() + 1, gpu_silu);
}

TEST_CASE("bias, residual_add and cast kernels match the reference (in 16-byte vectors and in 2-byte elements)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  test::check_bias_residual_add(test::kBiasShape, seed, gpu_bias_residual_add);
  test::check_bias_residual_add(test::kBiasElementShape, seed + 1, gpu_bias_residual_add);
  test::check_bias_residual_add(test::kBiasChunkShape, seed + 2, gpu_bias_residual_add);
  test::check_bias_residual_add(test::kBiasOneChunkShape, seed + 3, gpu_bias_residual_add);
  test::check_cast(test::kCastElements, seed + 100, gpu_cast);
  test::check_cast(test::kCastOddElements, seed + 101, gpu_cast);
}

}  // namespace ecsim
