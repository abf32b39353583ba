// Router softmax and expert-choice routing kernels (kernels/router_softmax.cu, ec_route.cu,
// ec_permute.cu) against the CPU references (kernels/ref/softmax.hpp, expert_choice.hpp);
// skipped without a GPU.
// The routing decision is compared exactly: the reference routes the kernel's own fp32
// affinities (exact in fp64), so any difference is a selection or ordering bug, never rounding.
#include <doctest/doctest.h>

#include "ec_permute.cuh"
#include "ec_route.cuh"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ref/expert_choice.hpp"
#include "ref/softmax.hpp"
#include "router_softmax.cuh"

using namespace ecsim;

namespace {

// Runs ec_route on `logits` [T, E] and checks softmax, selection, gather, combine and their
// backward against the reference.
void check_expert_choice(const ExpertChoiceDims& d, const std::vector<float>& logits, std::int64_t hidden,
                         std::uint64_t seed) {
  CAPTURE(d.tokens);
  CAPTURE(d.experts);
  CAPTURE(d.group_tokens);
  CAPTURE(d.capacity);
  const auto te = static_cast<std::size_t>(d.tokens * d.experts);
  const auto slots = static_cast<std::size_t>(d.slots());
  const auto rows = static_cast<std::size_t>(d.tokens * hidden);
  const auto slot_rows = slots * static_cast<std::size_t>(hidden);
  test::DeviceBuffer<float> d_logits(logits), d_probs(te), d_gate(slots);
  test::DeviceBuffer<int> d_token(slots), d_slot_of(te);
  ec_route(d_logits.get(), d_probs.get(), d_token.get(), d_gate.get(), d_slot_of.get(), d, nullptr);

  // Softmax: fp32 exp and sum of E terms against fp64.
  const auto gpu_probs = test::download_double(d_probs);
  const auto probs = ref::softmax_rows(test::to_double(logits), d.tokens, d.experts);
  test::check_close("probs", gpu_probs, probs, {1e-7, 1e-5});

  // Selection: exact, from the kernel's own affinities.
  const ref::ExpertChoiceShape s{d.tokens, d.experts, d.group_tokens, d.capacity};
  const auto r = ref::ec_route(s, gpu_probs);
  const auto token = d_token.download();
  const auto gate = test::download_double(d_gate);
  const auto slot_of = d_slot_of.download();
  std::size_t wrong_token = 0, wrong_gate = 0, wrong_slot_of = 0;
  for (std::size_t slot = 0; slot < slots; ++slot) {
    if (token[slot] != r.token[slot]) ++wrong_token;
    if (gate[slot] != r.gate[slot]) ++wrong_gate;
  }
  std::vector<int> expected_slot_of(te, -1);
  const std::int64_t per_expert = d.groups() * d.capacity;
  for (std::size_t slot = 0; slot < slots; ++slot) {
    const auto e = static_cast<std::int64_t>(slot) / per_expert;
    expected_slot_of[static_cast<std::size_t>(r.token[slot] * d.experts + e)] = static_cast<int>(slot);
  }
  for (std::size_t i = 0; i < te; ++i) wrong_slot_of += slot_of[i] != expected_slot_of[i];
  CHECK_MESSAGE(wrong_token == 0, wrong_token << " of " << slots << " slots hold another token than the reference's");
  CHECK_MESSAGE(wrong_gate == 0, wrong_gate << " of " << slots << " gates differ from the chosen affinities");
  CHECK_MESSAGE(wrong_slot_of == 0,
                wrong_slot_of << " of " << te << " slot_of entries differ from the inverse of token");

  // Gather (a copy: exact), combine, and the backward of both.
  const auto x = test::rounded(rows, seed), ye = test::rounded(slot_rows, seed + 1), dy = test::rounded(rows, seed + 2);
  const auto dxe = test::rounded(slot_rows, seed + 3);
  test::DeviceBuffer<__nv_bfloat16> d_x(test::to_bf16(x)), d_xe(slot_rows), d_ye(test::to_bf16(ye)), d_y(rows);
  test::DeviceBuffer<__nv_bfloat16> d_dy(test::to_bf16(dy)), d_dye(slot_rows), d_dxe(test::to_bf16(dxe)), d_dx(rows);
  test::DeviceBuffer<float> d_dgate(slots), d_dprobs(te), d_dlogits(te);
  ec_gather(d_x.get(), d_token.get(), d_xe.get(), d, hidden, nullptr);
  ec_combine(d_ye.get(), d_slot_of.get(), d_gate.get(), d_y.get(), d, hidden, nullptr);
  ec_gather_bwd(d_dxe.get(), d_slot_of.get(), d_dx.get(), d, hidden, nullptr);
  ec_combine_bwd(d_ye.get(), d_dy.get(), d_token.get(), d_gate.get(), d_dye.get(), d_dgate.get(), d, hidden, nullptr);
  ec_gate_bwd(d_dgate.get(), d_slot_of.get(), d_dprobs.get(), d, nullptr);
  router_softmax_bwd(d_probs.get(), d_dprobs.get(), d_dlogits.get(), d.tokens, d.experts, nullptr);

  const auto xe = ref::ec_gather(r, x, hidden);
  test::check_close("xe", test::download_double(d_xe), xe, {0.0, 0.0});
  const auto y = ref::ec_combine(r, ye, hidden);
  test::check_close("y", test::download_double(d_y), y, test::bf16_tolerance(y));
  const auto dx = ref::ec_gather_bwd(r, dxe, hidden);
  test::check_close("dx", test::download_double(d_dx), dx, test::bf16_tolerance(dx));
  const auto cg = ref::ec_combine_bwd(r, ye, dy, hidden);
  test::check_close("dye", test::download_double(d_dye), cg.dye, test::bf16_tolerance(cg.dye));
  const auto gpu_dgate = test::download_double(d_dgate);
  test::check_close("dgate", gpu_dgate, cg.dgate, test::fp32_sum_tolerance(cg.dgate));
  // The affinity gradient from the kernel's own dgate: a scatter (exact), then the softmax
  // backward, an fp32 sum over E terms.
  const auto dprobs = ref::ec_gate_bwd(r, gpu_dgate);
  test::check_close("dprobs", test::download_double(d_dprobs), dprobs, {0.0, 0.0});
  const auto dlogits = ref::softmax_rows_bwd(gpu_probs, dprobs, d.tokens, d.experts);
  test::check_close("dlogits", test::download_double(d_dlogits), dlogits, test::fp32_sum_tolerance(dlogits));
}

}  // namespace

TEST_CASE("expert choice kernels match the reference (EC-DiT training: G 1024, 64 experts, C 32)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const ExpertChoiceDims d{2048, 64, 1024, 32};
  check_expert_choice(d, test::to_float(test::random_values(2048 * 64, seed, -4, 4)), 256, seed + 1);
}

TEST_CASE("expert choice kernels match the reference (group not a power of two, C larger than a warp)" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const ExpertChoiceDims d{3 * 384, 8, 384, 96};
  check_expert_choice(d, test::to_float(test::random_values(3 * 384 * 8, seed, -4, 4)), 72, seed + 1);
}

TEST_CASE("expert choice kernels break ties toward the lower token index, as the reference does" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  // Logits drawn from {0, 1}: many exactly equal affinities per expert.
  auto logits = test::to_float(test::random_values(512 * 16, seed));
  for (float& l : logits) l = l < 0 ? 0.0f : 1.0f;
  check_expert_choice({512, 16, 256, 40}, logits, 64, seed + 1);
}

TEST_CASE("router softmax kernels match the reference (T 4096, E 64)" * doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const std::int64_t t = 4096, e = 64;
  const auto logits = test::to_float(test::random_values(static_cast<std::size_t>(t * e), seed, -8, 8));
  const auto dprobs = test::to_float(test::random_values(static_cast<std::size_t>(t * e), seed + 1));
  test::DeviceBuffer<float> d_logits(logits), d_probs(logits.size()), d_dprobs(dprobs), d_dlogits(logits.size());
  router_softmax_fwd(d_logits.get(), d_probs.get(), t, e, nullptr);
  router_softmax_bwd(d_probs.get(), d_dprobs.get(), d_dlogits.get(), t, e, nullptr);
  const auto gpu_probs = test::download_double(d_probs);
  test::check_close("probs", gpu_probs, ref::softmax_rows(test::to_double(logits), t, e), {1e-7, 1e-5});
  const auto dlogits = ref::softmax_rows_bwd(gpu_probs, test::to_double(dprobs), t, e);
  test::check_close("dlogits", test::download_double(d_dlogits), dlogits, test::fp32_sum_tolerance(dlogits));
}

TEST_CASE("expert choice launchers reject dimensions that cannot be routed") {
  // Preconditions are checked on the host, so this runs without a GPU.
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {1000, 8, 384, 96}, nullptr),
                  PreconditionError);  // G !| T
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {8192, 8, 8192, 96}, nullptr),
                  PreconditionError);  // G > 4096
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {1024, 8, 512, 513}, nullptr),
                  PreconditionError);  // C > G
  CHECK_THROWS_AS(ec_select(nullptr, nullptr, nullptr, nullptr, {1024, 8, 512, 64}, nullptr),
                  PreconditionError);  // null buffers
}
