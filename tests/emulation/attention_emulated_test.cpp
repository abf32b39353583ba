// The flash-attention kernels of kernels/attention.cu, forward and backward, run on the CPU under an
// emulation of the CUDA execution model (README.md) and compared with the CPU reference by the GPU
// test's rules (tests/kernels/attention_check.hpp). An emulation, not a GPU test: it checks the
// kernels' logic (indexing, masking, tiling, the cp.async pipeline, barriers; every shared-memory
// access against races and bounds), not the hardware's arithmetic or speed. Needs no GPU.
// Run: ctest -R emulat, or build/bin/ecsim_emulation_tests (ECSIM_TEST_SEED=N repeats a draw).
// Shapes: the GPU test's edge cases (the emulation cannot afford EC-DiT's sizes) and EC-DiT-XL's
// grouping of three query heads per KV head at 128 tokens. Every shape runs twice: the 64-query
// forward with the split backward, and the 128-query forward with the fused backward where it fits
// (head dim 64, up to 256 keys), else the split one.
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "attention.cuh"
#include "attention_check.hpp"
#include "emulation/host_buffers.hpp"
#include "gpu_check.hpp"
#include "ref/attention.hpp"

using namespace ecsim;
using emulation_test::poisoned;

namespace {

// The launchers of attention.cu, compiled for the emulation, on host arrays, run as `variant` says.
test::AttentionKernels emulated_kernels(const test::AttentionVariant& variant) {
  return {[variant](const AttentionDims& d, const test::Bf16Vector& q, const test::Bf16Vector& k,
                    const test::Bf16Vector& v) {
            auto out = poisoned<__nv_bfloat16>(q.size());
            auto lse = poisoned<float>(static_cast<std::size_t>(d.lse_elements()));
            flash_attention_forward(q.data(), k.data(), v.data(), out.data(), lse.data(), d, nullptr,
                                    variant.forward_rows);
            return test::AttentionForwardOutputs{std::move(out), std::move(lse)};
          },
          [variant](const AttentionDims& d, const test::Bf16Vector& q, const test::Bf16Vector& k,
                    const test::Bf16Vector& v, const test::Bf16Vector& out, const std::vector<float>& lse,
                    const test::Bf16Vector& dout) {
            test::AttentionBackwardOutputs g{poisoned<float>(lse.size()), poisoned<__nv_bfloat16>(q.size()),
                                             poisoned<__nv_bfloat16>(k.size()), poisoned<__nv_bfloat16>(v.size())};
            flash_attention_backward(q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), g.delta.data(),
                                     g.dq.data(), g.dk.data(), g.dv.data(), d, nullptr, variant.backward);
            return g;
          }};
}

// Checks one shape in each of its variants (attention_check.hpp's attention_variants_for) and
// prints each output's worst error over its tolerance.
void check_emulated(const ref::AttentionShape& s, std::uint64_t seed, bool strided = false) {
  for (const test::VariantResult& r : test::check_attention(s, seed, emulated_kernels, strided)) {
    const std::string mask = s.causal ? " causal" : "";
    const std::string rows = strided ? " strided rows" : "";
    MESSAGE("B " << s.batch << " H " << s.heads << " KVH " << s.kv_heads << " Sq " << s.q_len << " Skv " << s.kv_len
                 << " D " << s.head_dim << mask << rows << ", " << r.variant << ": worst error / tolerance "
                 << r.ratios);
  }
}

}  // namespace

TEST_CASE(
    "emulated flash attention matches the reference: ragged lengths (200 queries, 77 keys), head dims 64 and 128") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kRaggedShapes); ++i)
    check_emulated(test::kRaggedShapes[i], seed + 100 * i);
}

TEST_CASE("emulated flash attention matches the reference: causal, bottom-right aligned") {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kCausalShapes); ++i)
    check_emulated(test::kCausalShapes[i], seed + 100 * i);
}

TEST_CASE("emulated flash attention matches the reference: three query heads per KV head, 3 keys") {
  // EC-DiT-XL's grouping (18 heads, 6 KV heads): dk and dv sum three heads' query tiles in turn.
  check_emulated({1, 6, 2, 128, 128, 64, false}, test::run_seed());
  // Fewer keys than a tile has rows: the only key tile is mostly zero-filled padding.
  check_emulated({1, 4, 2, 33, 3, 64, false}, test::run_seed() + 100);
}

TEST_CASE("emulated flash attention reads and writes strided rows: a fused projection's slices, in place") {
  // q and dq in rows of (H + 2 KVH) D, k, v, dk and dv in rows of 2 KVH D + 8: the gaps' values
  // must not change the results, and the backward must not write them.
  check_emulated({1, 6, 2, 128, 128, 64, false}, test::run_seed(), true);
  check_emulated({2, 4, 2, 200, 77, 128, false}, test::run_seed() + 100, true);
  check_emulated({2, 4, 2, 200, 333, 64, true}, test::run_seed() + 200, true);
}

TEST_CASE("emulated fused attention backward: two key tiles per warp for 129 to 256 keys") {
  // 129..256 keys take the block whose warps own two row tiles of 16 keys each (32 keys); ragged
  // lengths, the full 256, grouped heads, causal and strided rows.
  check_emulated({2, 4, 2, 70, 200, 64, false}, test::run_seed());
  check_emulated({1, 2, 2, 256, 256, 64, false}, test::run_seed() + 100);
  check_emulated({1, 4, 2, 100, 230, 64, true}, test::run_seed() + 200);
  check_emulated({1, 6, 2, 45, 129, 64, false}, test::run_seed() + 300, true);
}

TEST_CASE("the forward's default takes 128 queries per block only at head dim 128 over long sequences") {
  AttentionDims d{};
  d.batch = 2;
  d.heads = 16;
  d.kv_heads = 16;
  d.q_len = 4096;
  d.kv_len = 4096;
  d.head_dim = 128;
  CHECK(forward_rows_for(d) == AttentionForwardRows::k128);  // 2 x 16 x 4096 x 128, where it measured faster
  d.q_len = kForward128MinQueries - 1;
  CHECK(forward_rows_for(d) == AttentionForwardRows::k64);
  d.q_len = 4096;
  d.head_dim = 64;
  CHECK(forward_rows_for(d) == AttentionForwardRows::k64);  // slower at every head-dim-64 shape measured
  CHECK(forward_rows_for(d, AttentionForwardRows::k128) == AttentionForwardRows::k128);  // an explicit choice holds
  d.head_dim = 128;
  CHECK(forward_rows_for(d, AttentionForwardRows::k64) == AttentionForwardRows::k64);
}
