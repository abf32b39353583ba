// Fused attention kernels (kernels/attention.cu) against the CPU reference (kernels/ref/attention.hpp)
// on random bf16 inputs, at EC-DiT's shapes and at the edges (ragged lengths, causal, head dim
// 128 at 4096 tokens), each shape twice (the 64-query forward with the split backward; the
// 128-query forward with the fused backward where it fits); skipped without a GPU. Run: ctest -R attention, or
// build/bin/ecsim_kernel_gpu_tests -tc='*attention*' (ECSIM_TEST_SEED=N repeats a failing draw).
//
// Tolerances and the comparison with the reference: attention_check.hpp, which the emulated test
// (tests/emulation/attention_emulated_test.cpp) shares.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <vector>

#include "attention.cuh"
#include "attention_check.hpp"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ref/attention.hpp"

using namespace ecsim;

namespace {

// The kernels on the GPU: inputs uploaded, outputs poisoned before the run and downloaded after;
// run as `variant` says.
test::AttentionKernels gpu_kernels(const test::AttentionVariant& variant) {
  return {
      [variant](const AttentionDims& d, const test::Bf16Vector& q, const test::Bf16Vector& k,
                const test::Bf16Vector& v) {
        test::DeviceBuffer<__nv_bfloat16> d_q(q), d_k(k), d_v(v), d_out(q.size());
        test::DeviceBuffer<float> d_lse(static_cast<std::size_t>(d.lse_elements()));
        flash_attention_forward(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_lse.get(), d, nullptr,
                                variant.forward_rows);
        return test::AttentionForwardOutputs{d_out.download(), d_lse.download()};
      },
      [variant](const AttentionDims& d, const test::Bf16Vector& q, const test::Bf16Vector& k,
                const test::Bf16Vector& v, const test::Bf16Vector& out, const std::vector<float>& lse,
                const test::Bf16Vector& dout) {
        test::DeviceBuffer<__nv_bfloat16> d_q(q), d_k(k), d_v(v), d_out(out), d_dout(dout);
        test::DeviceBuffer<float> d_lse(lse), d_delta(lse.size());
        test::DeviceBuffer<__nv_bfloat16> d_dq(q.size()), d_dk(k.size()), d_dv(v.size());
        flash_attention_backward(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_lse.get(), d_dout.get(), d_delta.get(),
                                 d_dq.get(), d_dk.get(), d_dv.get(), d, nullptr, variant.backward);
        return test::AttentionBackwardOutputs{d_delta.download(), d_dq.download(), d_dk.download(), d_dv.download()};
      }};
}

// Checks one shape in each of its variants: the 64-query forward with the split backward, and the
// 128-query forward with the fused backward where it fits (head dim 64, up to 256 keys).
void check_attention(const ref::AttentionShape& s, std::uint64_t seed, bool strided = false) {
  test::check_attention(s, seed, gpu_kernels, strided);
}

ref::AttentionShape shape(std::int64_t batch, std::int64_t heads, std::int64_t kv_heads, std::int64_t q_len,
                          std::int64_t kv_len, std::int64_t head_dim, bool causal = false) {
  return {batch, heads, kv_heads, q_len, kv_len, head_dim, causal};
}

}  // namespace

TEST_CASE("flash attention matches the reference: EC-DiT-XL self-attention (4 x 18 heads, 6 KV heads, 256 tokens)" *
          doctest::skip(!test::gpu_available())) {
  check_attention(shape(4, 18, 6, 256, 256, 64), test::run_seed());
}

TEST_CASE("flash attention reads and writes strided rows: EC-DiT-XL's fused qkv and its cross-attention's fused kv" *
          doctest::skip(!test::gpu_available())) {
  // q and dq in rows of (H + 2 KVH) D, k, v, dk and dv in rows of 2 KVH D + 8 (attention_check.hpp).
  check_attention(shape(4, 18, 6, 256, 256, 64), test::run_seed(), true);
  check_attention(shape(4, 18, 18, 256, 128, 64), test::run_seed() + 100, true);
}

TEST_CASE("flash attention matches the reference: cross-attention, 256 image tokens to 128 text tokens" *
          doctest::skip(!test::gpu_available())) {
  check_attention(shape(4, 18, 18, 256, 128, 64), test::run_seed());
}

TEST_CASE("flash attention matches the reference: masked training, EC-DiT-M (2 x 48 heads, 12 KV heads, 128 tokens)" *
          doctest::skip(!test::gpu_available())) {
  check_attention(shape(2, 48, 12, 128, 128, 64), test::run_seed());
}

TEST_CASE("flash attention matches the reference: head dim 128, 4096 tokens (1 x 2 heads, 1 KV head)" *
          doctest::skip(!test::gpu_available())) {
  check_attention(shape(1, 2, 1, 4096, 4096, 128), test::run_seed());
}

TEST_CASE("flash attention matches the reference: ragged lengths (200 queries, 77 keys), head dims 64 and 128" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kRaggedShapes); ++i)
    check_attention(test::kRaggedShapes[i], seed + 100 * i);
}

TEST_CASE("flash attention matches the reference: causal, bottom-right aligned" *
          doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  for (std::size_t i = 0; i < std::size(test::kCausalShapes); ++i)
    check_attention(test::kCausalShapes[i], seed + 100 * i);
}

TEST_CASE("flash attention is deterministic: reruns match bit for bit" * doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const auto s = shape(2, 18, 6, 256, 128, 64);
  const AttentionDims d = test::dims_of(s);
  const auto nq = static_cast<std::size_t>(s.q_elements());
  const auto nkv = static_cast<std::size_t>(s.kv_elements());
  const auto nlse = static_cast<std::size_t>(s.lse_elements());
  test::DeviceBuffer<__nv_bfloat16> d_q(test::to_bf16(test::rounded(nq, seed, -4, 4))),
      d_k(test::to_bf16(test::rounded(nkv, seed + 1)));
  test::DeviceBuffer<__nv_bfloat16> d_v(test::to_bf16(test::rounded(nkv, seed + 2))),
      d_dout(test::to_bf16(test::rounded(nq, seed + 3)));
  test::DeviceBuffer<__nv_bfloat16> d_out(nq);
  test::DeviceBuffer<float> d_lse(nlse), d_delta(nlse);
  flash_attention_forward(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_lse.get(), d, nullptr);

  // Bit patterns of dq, dk, dv after one backward into fresh (poisoned) buffers.
  auto backward_bits = [&](AttentionBackwardKernels kernels) {
    test::DeviceBuffer<__nv_bfloat16> d_dq(nq), d_dk(nkv), d_dv(nkv);
    flash_attention_backward(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_lse.get(), d_dout.get(), d_delta.get(),
                             d_dq.get(), d_dk.get(), d_dv.get(), d, nullptr, kernels);
    std::vector<std::uint16_t> bits(nq + 2 * nkv);
    const auto dq = d_dq.download(), dk = d_dk.download(), dv = d_dv.download();
    std::memcpy(bits.data(), dq.data(), nq * 2);
    std::memcpy(bits.data() + nq, dk.data(), nkv * 2);
    std::memcpy(bits.data() + nq + nkv, dv.data(), nkv * 2);
    return bits;
  };
  for (const test::AttentionVariant& v : test::attention_variants_for(s)) {
    const std::string variant = v.name();
    INFO("variant: " << variant);
    const auto first = backward_bits(v.backward);
    const auto second = backward_bits(v.backward);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < first.size(); ++i) differ += first[i] != second[i];
    CHECK_MESSAGE(differ == 0, differ << " of " << first.size() << " gradient elements differ between two runs");
  }
}

TEST_CASE("flash attention launchers reject bad shapes and buffers before launching") {
  // Preconditions are checked on the host, so this runs without a GPU. The pointers are never
  // dereferenced: the launchers throw first.
  const auto at = [](std::uintptr_t address) { return reinterpret_cast<__nv_bfloat16*>(address); };
  float* lse = reinterpret_cast<float*>(std::uintptr_t{4096});
  __nv_bfloat16* p = at(1024);
  const AttentionDims good{2, 8, 2, 128, 128, 64, false};
  auto forward = [&](const AttentionDims& d, __nv_bfloat16* q) {
    flash_attention_forward(q, p, p, p, lse, d, nullptr);
  };
  AttentionDims d = good;
  d.head_dim = 96;
  CHECK_THROWS_AS(forward(d, p), PreconditionError);
  d = good;
  d.kv_heads = 3;  // does not divide 8
  CHECK_THROWS_AS(forward(d, p), PreconditionError);
  d = good;
  d.q_len = 0;
  CHECK_THROWS_AS(forward(d, p), PreconditionError);
  d = good;
  d.causal = true;
  d.kv_len = 100;  // causal needs kv_len >= q_len
  CHECK_THROWS_AS(forward(d, p), PreconditionError);
  CHECK_THROWS_AS(forward(good, nullptr), PreconditionError);
  CHECK_THROWS_AS(forward(good, at(1024 + 2)), PreconditionError);  // not 16-byte aligned
  CHECK_THROWS_AS(flash_attention_backward(p, p, p, p, lse, p, nullptr, p, p, p, good, nullptr),
                  PreconditionError);  // no delta scratch
  // The fused backward holds at most 256 keys of head dim 64; asked for anything else, it refuses.
  const auto fused = [&](const AttentionDims& dims) {
    flash_attention_backward(p, p, p, p, lse, p, lse, p, p, p, dims, nullptr, AttentionBackwardKernels::kFused);
  };
  d = good;
  d.kv_len = 257;
  CHECK_THROWS_AS(fused(d), PreconditionError);
  d = good;
  d.head_dim = 128;
  CHECK_THROWS_AS(fused(d), PreconditionError);
}
