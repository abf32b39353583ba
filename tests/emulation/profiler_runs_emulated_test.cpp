// The profiler's kernel runs (profiles/profiler/kernel_runs.cpp) on the emulated device: what the
// timed kernels read and write, which profile_emulated_test.sh's end-to-end run does not look at;
// and its timing loop's rests (profiles/profiler/timing.cu).
// A run that updates its operands in place (AdamW) times them again and again; its values must
// stay those of training (finite, second moments not negative), or the timed kernel takes paths
// training never takes (NaN through IEEE sqrt and division: their slow paths).
#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "attention.cuh"
#include "cost/kernel_sweep.hpp"  // runner_optimizer_recipes
#include "cuda_check.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/kernel_runs.hpp"
#include "profiler/timing.hpp"

namespace ecsim::emulation_test {
namespace {

using profiler::Fill;
using profiler::KernelRun;
using profiler::OperandPools;
using profiler::OperandSet;
using profiler::PlannedCall;

// Operand i of a set as fp32 values, read by its fill (bf16 or fp32).
std::vector<float> download_operand(const KernelRun& run, const OperandSet& set, std::size_t i) {
  const bool fp32 = run.operands[i].fill == Fill::kUniformFp32;
  const std::size_t n = run.operands[i].bytes / (fp32 ? sizeof(float) : sizeof(__nv_bfloat16));
  std::vector<float> out(n);
  CUDA_CHECK(cudaDeviceSynchronize());
  if (fp32) {
    CUDA_CHECK(cudaMemcpy(out.data(), set.pointers[i], n * sizeof(float), cudaMemcpyDeviceToHost));
    return out;
  }
  std::vector<__nv_bfloat16> bf16(n);
  CUDA_CHECK(cudaMemcpy(bf16.data(), set.pointers[i], n * sizeof(__nv_bfloat16), cudaMemcpyDeviceToHost));
  for (std::size_t j = 0; j < n; ++j) out[j] = __bfloat162float(bf16[j]);
  return out;
}

TEST_CASE("the profiler's AdamW runs keep the state they update as training's: finite, second moments not negative") {
  constexpr std::int64_t kParams = 4096;
  constexpr int kRuns = 3;
  const profiler::RunContext ctx;
  for (const OptimizerSpec& recipe : runner_optimizer_recipes()) {
    PlannedCall c;
    c.call = optimizer_kernel(kParams, recipe);
    c.role = profiler::KernelRole::kForward;
    c.family = c.call.op;
    c.op_shape = c.call.shape;
    CAPTURE(c.call.dtype);
    const KernelRun run = profiler::make_run(c, 0, ctx);
    REQUIRE(run.operands.size() >= 4);  // param, gradient, m, v (and the bf16 copy with fp32 masters)
    OperandPools pools(0x5EED);
    pools.reserve(run.operands, 1, nullptr);
    const OperandSet set = pools.set(run.operands, 0);
    for (int r = 0; r < kRuns; ++r) run.launch(set, nullptr);
    const std::vector<float> param = download_operand(run, set, 0);
    const std::vector<float> m = download_operand(run, set, 2);
    const std::vector<float> v = download_operand(run, set, 3);
    REQUIRE(param.size() == static_cast<std::size_t>(kParams));
    std::size_t bad = 0, negative_v = 0;
    for (std::size_t i = 0; i < param.size(); ++i) {
      if (!std::isfinite(param[i]) || !std::isfinite(m[i]) || !std::isfinite(v[i])) ++bad;
      if (v[i] < 0) ++negative_v;
    }
    CHECK(bad == 0);
    CHECK(negative_v == 0);
  }
}

// Uploads bf16 values to a new device buffer (freed by the caller).
__nv_bfloat16* upload_bf16(const std::vector<float>& values) {
  std::vector<__nv_bfloat16> host(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) host[i] = __float2bfloat16(values[i]);
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, host.size() * sizeof(__nv_bfloat16)));
  CUDA_CHECK(cudaMemcpy(p, host.data(), host.size() * sizeof(__nv_bfloat16), cudaMemcpyHostToDevice));
  return static_cast<__nv_bfloat16*>(p);
}

// Columns [first, first + width) of a row-major [rows, cols] matrix, packed.
std::vector<float> columns(const std::vector<float>& m, std::int64_t cols, std::int64_t first, std::int64_t width) {
  const std::int64_t rows = static_cast<std::int64_t>(m.size()) / cols;
  std::vector<float> out;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = first; c < first + width; ++c) out.push_back(m[static_cast<std::size_t>(r * cols + c)]);
  }
  return out;
}

TEST_CASE("the profiler's attention runs read q, k and v where the runner keeps them: in the fused projections") {
  // Self-attention (40 queries, 40 keys): q, k, v slices of one [B S, (H + 2 KVH) D] buffer;
  // cross-attention (40 queries, 24 text keys): q packed, k and v slices of one [B L, 2 KVH D].
  constexpr std::int64_t kBatch = 2, kHeads = 4, kKvHeads = 2, kDim = 64;
  const profiler::RunContext ctx;
  for (const std::int64_t kv_len : {40, 24}) {
    const bool self = kv_len == 40;
    CAPTURE(self);
    PlannedCall c;
    c.call.op = "attention_fwd";
    c.call.shape = {{"batch", kBatch}, {"heads", kHeads}, {"kv_heads", kKvHeads}, {"q_len", 40},
                    {"kv_len", kv_len},  {"head_dim", kDim}, {"causal", 0}};
    c.role = profiler::KernelRole::kForward;
    c.family = c.call.op;
    c.op_shape = c.call.shape;
    const KernelRun run = profiler::make_run(c, 0, ctx);
    const std::int64_t qw = kHeads * kDim, kvw = kKvHeads * kDim, nq = kBatch * 40 * qw;
    const std::int64_t nkv = kBatch * kv_len * kvw;
    REQUIRE(run.operands.size() == (self ? 3u : 4u));  // (qkv | q, kv), out, lse
    CHECK(run.operands[0].bytes == static_cast<std::size_t>((self ? nq + 2 * nkv : nq) * 2));
    if (!self) CHECK(run.operands[1].bytes == static_cast<std::size_t>(2 * nkv * 2));
    OperandPools pools(0x5EED);
    pools.reserve(run.operands, 1, nullptr);
    const OperandSet set = pools.set(run.operands, 0);
    run.launch(set, nullptr);
    const std::size_t out_at = self ? 1 : 2;
    const std::vector<float> strided_out = download_operand(run, set, out_at);

    // The same attention on packed copies of the slices the run read.
    std::vector<float> q, k, v;
    if (self) {
      const std::vector<float> qkv = download_operand(run, set, 0);
      q = columns(qkv, qw + 2 * kvw, 0, qw);
      k = columns(qkv, qw + 2 * kvw, qw, kvw);
      v = columns(qkv, qw + 2 * kvw, qw + kvw, kvw);
    } else {
      q = download_operand(run, set, 0);
      const std::vector<float> kv = download_operand(run, set, 1);
      k = columns(kv, 2 * kvw, 0, kvw);
      v = columns(kv, 2 * kvw, kvw, kvw);
    }
    AttentionDims packed;
    packed.batch = kBatch, packed.heads = kHeads, packed.kv_heads = kKvHeads;
    packed.q_len = 40, packed.kv_len = kv_len, packed.head_dim = kDim;
    __nv_bfloat16* dq = upload_bf16(q);
    __nv_bfloat16* dk = upload_bf16(k);
    __nv_bfloat16* dv = upload_bf16(v);
    __nv_bfloat16* dout = upload_bf16(std::vector<float>(static_cast<std::size_t>(nq), 0.0f));
    float* lse = nullptr;
    CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&lse), static_cast<std::size_t>(packed.lse_elements()) * 4));
    flash_attention_forward(dq, dk, dv, dout, lse, packed, nullptr);
    std::vector<__nv_bfloat16> packed_out(static_cast<std::size_t>(nq));
    CUDA_CHECK(cudaMemcpy(packed_out.data(), dout, packed_out.size() * 2, cudaMemcpyDeviceToHost));
    std::size_t differ = 0;
    for (std::size_t i = 0; i < packed_out.size(); ++i) differ += __bfloat162float(packed_out[i]) != strided_out[i];
    CHECK(differ == 0);
    for (void* p : {static_cast<void*>(dq), static_cast<void*>(dk), static_cast<void*>(dv), static_cast<void*>(dout),
                    static_cast<void*>(lse)}) {
      CUDA_CHECK(cudaFree(p));
    }

    // The backward writes dq, dk, dv into buffers of the same layouts (the emulation checks its bounds).
    c.call.op = "attention_bwd";
    c.family = c.call.op;
    c.role = profiler::KernelRole::kBackward;
    const KernelRun bwd = profiler::make_run(c, 0, ctx);
    REQUIRE(bwd.operands.size() == (self ? 6u : 8u));  // qkv | q, kv; out, lse, dout, delta; dqkv | dq, dkv
    CHECK(bwd.operands.back().bytes == static_cast<std::size_t>((self ? nq + 2 * nkv : 2 * nkv) * 2));
    pools.reserve(bwd.operands, 1, nullptr);
    bwd.launch(pools.set(bwd.operands, 0), nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
  }
}

TEST_CASE("the timing loop rests after each long run, times the runs alone, and keeps no gap then") {
  profiler::EventTimer timer(nullptr, 100);  // the default stream
  // A run of 1 ms: the emulated device runs what a stream holds as it is enqueued (README.md), so
  // the host's sleep lies between the run's events as a kernel would.
  constexpr double kRunNs = 1e6;
  const auto run = [](int) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };

  // Runs of 0.5 ms or more: 10 samples (5 ms of target work would take 5), a rest as long as a run
  // after each but the last: 10 runs and 9 rests of at least 1 ms each.
  const profiler::TimingMethod rested_method{1, 20, 100, 5.0, 0.5, 1.0, 10};
  const profiler::Timing rested = timer.time(1, rested_method, run);
  CHECK(rested.span_ns >= 1.5 * rested.samples * rested.p50_ns);  // about 1.9: 10 runs, 9 rests
  CHECK(rested.rested);
  CHECK(rested.samples == 10);
  CHECK(rested.gap_ns == 0);
  CHECK(rested.p10_ns >= 0.99 * kRunNs);  // a sample holds its run, not the rest after it

  // Without rests: the minimum of 20 samples, back to back, and the gap between them measured.
  const profiler::Timing plain = timer.time(1, profiler::TimingMethod{1, 20, 100, 5.0}, run);
  CHECK_FALSE(plain.rested);
  CHECK(plain.samples == 20);
  CHECK(plain.span_ns < 1.5 * plain.samples * plain.p50_ns);  // about 1: back to back
  CHECK(plain.p10_ns >= 0.99 * kRunNs);
}

}  // namespace
}  // namespace ecsim::emulation_test
