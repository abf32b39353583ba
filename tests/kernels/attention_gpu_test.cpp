// Fused attention kernels (kernels/attention.cu) against the CPU reference (kernels/ref/attention.hpp)
// on random bf16 inputs, at EC-DiT's shapes and at the edges (ragged lengths, causal, head dim
// 128 at 4096 tokens); skipped without a GPU. Run: ctest -R attention, or
// build/bin/ecsim_kernel_gpu_tests -tc='*attention*' (ECSIM_TEST_SEED=N repeats a failing draw).
//
// Tolerances, |gpu - ref| <= atol + rtol |ref|, from where the kernels round to bf16:
//   out    P is rounded to bf16 (2^-9 relative per weight) before P V, which moves out by at most
//          2^-9 max|V|, and out is rounded once more (2^-9 |out|): twice each, atol = 2^-8 max|V|,
//          rtol = 2^-7.
//   lse    fp32 throughout (scores over D products, exp2, a row sum of at most 4096 terms, each
//          well under 2^-14 here): atol = 2^-11. A key masked wrongly moves lse by about its
//          weight, 1/Skv or more, so the check still sees it.
//   delta  an fp32 sum of D products: fp32_sum_tolerance.
//   dq, dk, dv  P and dS are rounded to bf16 before the second product, dS's rows sum to zero (so
//          dq and dk cancel), and the gradients sum over Sq (and the group's heads): atol =
//          2^-6 max|ref|, rtol = 2^-6, four times the forward's.
// The backward is fed the reference's out and lse (rounded as the forward stores them), so its
// check measures the backward alone.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "attention.cuh"
#include "gpu_check.hpp"
#include "precondition.hpp"
#include "ref/attention.hpp"

using namespace ecsim;

namespace {

// Inputs rounded to bf16 once; the reference sees exactly what the kernel sees.
double max_abs(std::span<const double> v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

AttentionDims dims_of(const ref::AttentionShape& s) {
  return {s.batch, s.heads, s.kv_heads, s.q_len, s.kv_len, s.head_dim, s.causal};
}

// atol 2^-6 of the largest reference gradient, floored at 2^-24 (fp32 leftovers where every
// gradient is 0, e.g. one key: P = 1 and dP = delta exactly).
test::Tolerance gradient_tolerance(std::span<const double> ref) {
  return {std::max(std::ldexp(max_abs(ref), -6), std::ldexp(1.0, -24)), std::ldexp(1.0, -6)};
}

// delta[b, h, i] = sum_c dout[b, i, h, c] out[b, i, h, c], the backward's first stage.
std::vector<double> expected_delta(const ref::AttentionShape& s, const std::vector<double>& out,
                                   const std::vector<double>& dout) {
  std::vector<double> delta(static_cast<std::size_t>(s.lse_elements()));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t i = 0; i < s.q_len; ++i) {
      for (std::int64_t h = 0; h < s.heads; ++h) {
        const std::int64_t row = ((b * s.q_len + i) * s.heads + h) * s.head_dim;
        double sum = 0;
        for (std::int64_t c = 0; c < s.head_dim; ++c) {
          sum += dout[static_cast<std::size_t>(row + c)] * out[static_cast<std::size_t>(row + c)];
        }
        delta[static_cast<std::size_t>((b * s.heads + h) * s.q_len + i)] = sum;
      }
    }
  }
  return delta;
}

// Runs the forward and the backward on fresh random inputs and checks every output.
void check_attention(const ref::AttentionShape& s, std::uint64_t seed) {
  CAPTURE(seed);
  CAPTURE(s.batch);
  CAPTURE(s.heads);
  CAPTURE(s.kv_heads);
  CAPTURE(s.q_len);
  CAPTURE(s.kv_len);
  CAPTURE(s.head_dim);
  CAPTURE(s.causal);
  const auto nq = static_cast<std::size_t>(s.q_elements());
  const auto nkv = static_cast<std::size_t>(s.kv_elements());
  const auto nlse = static_cast<std::size_t>(s.lse_elements());
  // q in [-4, 4) makes the scores' spread about 1.3 (not ~0.3), so the softmax is peaked and the
  // running maximum moves between key tiles, which exercises the online rescaling.
  const auto q = test::rounded(nq, seed, -4, 4), k = test::rounded(nkv, seed + 1), v = test::rounded(nkv, seed + 2);
  const auto dout = test::rounded(nq, seed + 3);
  const AttentionDims d = dims_of(s);

  test::DeviceBuffer<__nv_bfloat16> d_q(test::to_bf16(q)), d_k(test::to_bf16(k)), d_v(test::to_bf16(v));
  test::DeviceBuffer<__nv_bfloat16> d_out(nq);
  test::DeviceBuffer<float> d_lse(nlse);
  flash_attention_forward(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_lse.get(), d, nullptr);

  const auto f = ref::attention_fwd(s, q, k, v);
  test::check_close("out", test::download_double(d_out), f.out, {std::ldexp(max_abs(v), -8), std::ldexp(1.0, -7)});
  test::check_close("lse", test::download_double(d_lse), f.lse, {std::ldexp(1.0, -11), 0.0});

  const auto out_stored = test::to_double(std::span<const __nv_bfloat16>(test::to_bf16(f.out)));
  const auto lse_stored = test::to_double(test::to_float(f.lse));
  test::DeviceBuffer<__nv_bfloat16> d_out_ref(test::to_bf16(out_stored)), d_dout(test::to_bf16(dout));
  test::DeviceBuffer<float> d_lse_ref(test::to_float(lse_stored)), d_delta(nlse);
  test::DeviceBuffer<__nv_bfloat16> d_dq(nq), d_dk(nkv), d_dv(nkv);
  flash_attention_backward(d_q.get(), d_k.get(), d_v.get(), d_out_ref.get(), d_lse_ref.get(), d_dout.get(),
                           d_delta.get(), d_dq.get(), d_dk.get(), d_dv.get(), d, nullptr);

  const auto delta = expected_delta(s, out_stored, dout);
  test::check_close("delta", test::download_double(d_delta), delta, test::fp32_sum_tolerance(delta));
  const auto g = ref::attention_bwd(s, q, k, v, out_stored, lse_stored, dout);
  test::check_close("dq", test::download_double(d_dq), g.dq, gradient_tolerance(g.dq));
  test::check_close("dk", test::download_double(d_dk), g.dk, gradient_tolerance(g.dk));
  test::check_close("dv", test::download_double(d_dv), g.dv, gradient_tolerance(g.dv));
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
  // Neither length is a multiple of a tile (64 rows; 64 or 32 streamed columns).
  check_attention(shape(2, 4, 2, 200, 77, 64), test::run_seed());
  check_attention(shape(2, 4, 2, 200, 77, 128), test::run_seed() + 100);
}

TEST_CASE("flash attention matches the reference: causal, bottom-right aligned" *
          doctest::skip(!test::gpu_available())) {
  // Skv > Sq shifts the diagonal by 133 keys; the square case has it through the tiles' corners.
  check_attention(shape(2, 4, 2, 200, 333, 64, true), test::run_seed());
  check_attention(shape(2, 4, 4, 256, 256, 128, true), test::run_seed() + 100);
  // One query row: it sees every key.
  check_attention(shape(1, 2, 1, 1, 70, 64, true), test::run_seed() + 200);
}

TEST_CASE("flash attention is deterministic: reruns match bit for bit" * doctest::skip(!test::gpu_available())) {
  const std::uint64_t seed = test::run_seed();
  CAPTURE(seed);
  const auto s = shape(2, 18, 6, 256, 128, 64);
  const AttentionDims d = dims_of(s);
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
  auto backward_bits = [&] {
    test::DeviceBuffer<__nv_bfloat16> d_dq(nq), d_dk(nkv), d_dv(nkv);
    flash_attention_backward(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_lse.get(), d_dout.get(), d_delta.get(),
                             d_dq.get(), d_dk.get(), d_dv.get(), d, nullptr);
    std::vector<std::uint16_t> bits(nq + 2 * nkv);
    const auto dq = d_dq.download(), dk = d_dk.download(), dv = d_dv.download();
    std::memcpy(bits.data(), dq.data(), nq * 2);
    std::memcpy(bits.data() + nq, dk.data(), nkv * 2);
    std::memcpy(bits.data() + nq + nkv, dv.data(), nkv * 2);
    return bits;
  };
  const auto first = backward_bits();
  const auto second = backward_bits();
  std::size_t differ = 0;
  for (std::size_t i = 0; i < first.size(); ++i) differ += first[i] != second[i];
  CHECK_MESSAGE(differ == 0, differ << " of " << first.size() << " gradient elements differ between two runs");
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
}
