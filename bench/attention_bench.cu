// Benchmark (not a test): TFLOP/s of the fused attention kernels (kernels/attention.cu), forward
// and forward+backward, at the shapes of the measured anchors (ANCHORS.md: EC-DiT's 256-token
// images with head dim 64, self- and cross-attention to 128 text tokens, and 2x16x4096x128), each
// printed next to cuDNN SDPA's and FlashAttention-2's figures on an H100 SXM as the target. Rows
// with grouped-query KV heads (EC-DiT's own layout) have no anchor.
// FLOPs as the anchors count them: forward 4 B H Sq Skv D, backward 2.5x that, so forward+backward
// is 3.5x. Non-causal. CUDA events around each iteration, warm-up first, input sets rotated so that
// one pass touches at least 2x the L2 (read from the device), median with p10/p90.
// Run: build/bin/ecsim-bench-attention [--warmup N] [--iters N]; figures go to docs/PERFORMANCE.md
// with the card, date and command this prints.
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention.cuh"
#include "cuda_check.hpp"

using namespace ecsim;

namespace {

struct Options {
  int warmup = 10;  // iterations run before timing, per shape and pass
  int iters = 50;   // timed iterations, per shape and pass
};

const char* const kHelp =
    "ecsim-bench-attention: fused attention forward and forward+backward TFLOP/s at the ANCHORS shapes\n"
    "  --warmup N   untimed iterations before timing (default 10)\n"
    "  --iters N    timed iterations per shape and pass (default 50)\n"
    "  --help       this text\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    }
    if ((arg == "--warmup" || arg == "--iters") && i + 1 < argc) {
      const int n = std::stoi(argv[++i]);
      if (n < (arg == "--iters" ? 1 : 0)) throw std::invalid_argument(arg + " must be positive");
      (arg == "--warmup" ? o.warmup : o.iters) = n;
      continue;
    }
    throw std::invalid_argument("unknown or incomplete argument '" + arg + "' (see --help)");
  }
  return o;
}

// One row of the table: a shape and the anchors' TFLOP/s for it (0: none measured).
struct Case {
  const char* label;
  AttentionDims dims;
  double cudnn_fwd, cudnn_fwd_bwd;  // ANCHORS.md, cuDNN SDPA 9.19, H100 SXM
  double fa2_fwd, fa2_fwd_bwd;      // ANCHORS.md, FlashAttention-2 (SDPA flash backend)
};

const std::vector<Case> kCases = {
    {"XL self   64x18 256x256 D64", {64, 18, 18, 256, 256, 64, false}, 156, 117, 158, 101},
    {"XL cross  64x18 256x128 D64", {64, 18, 18, 256, 128, 64, false}, 132, 73, 95, 52},
    {"M self    32x48 256x256 D64", {32, 48, 48, 256, 256, 64, false}, 212, 143, 184, 112},
    {"M cross   32x48 256x128 D64", {32, 48, 48, 256, 128, 64, false}, 130, 71, 118, 59},
    {"M masked  32x48 128x128 D64", {32, 48, 48, 128, 128, 64, false}, 98, 61, 91, 52},
    {"long      2x16 4096x4096 D128", {2, 16, 16, 4096, 4096, 128, false}, 589, 553, 315, 294},
    {"XL self GQA 64x18/6 256x256", {64, 18, 6, 256, 256, 64, false}, 0, 0, 0, 0},
    {"M self GQA 32x48/12 256x256", {32, 48, 12, 256, 256, 64, false}, 0, 0, 0, 0},
};

// Device buffers of one input set, filled with random bf16 (never zeros: they can run faster).
struct Buffers {
  __nv_bfloat16 *q, *k, *v, *out, *dout, *dq, *dk, *dv;
  float *lse, *delta;
};

std::size_t set_bytes(const AttentionDims& d) {
  return 2 * (4 * static_cast<std::size_t>(d.q_elements()) + 4 * static_cast<std::size_t>(d.kv_elements())) +
         4 * 2 * static_cast<std::size_t>(d.lse_elements());
}

__nv_bfloat16* random_bf16(std::size_t n, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<__nv_bfloat16> host(n);
  for (auto& x : host) x = __float2bfloat16(dist(gen));
  __nv_bfloat16* p = nullptr;
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(__nv_bfloat16)));
  CUDA_CHECK(cudaMemcpy(p, host.data(), n * sizeof(__nv_bfloat16), cudaMemcpyHostToDevice));
  return p;
}

template <class T>
T* device_alloc(std::size_t n) {
  T* p = nullptr;
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)));
  return p;
}

Buffers make_set(const AttentionDims& d, std::mt19937_64& gen) {
  const auto nq = static_cast<std::size_t>(d.q_elements()), nkv = static_cast<std::size_t>(d.kv_elements());
  const auto nlse = static_cast<std::size_t>(d.lse_elements());
  Buffers b{};
  b.q = random_bf16(nq, gen);
  b.k = random_bf16(nkv, gen);
  b.v = random_bf16(nkv, gen);
  b.dout = random_bf16(nq, gen);
  b.out = device_alloc<__nv_bfloat16>(nq);
  b.dq = device_alloc<__nv_bfloat16>(nq);
  b.dk = device_alloc<__nv_bfloat16>(nkv);
  b.dv = device_alloc<__nv_bfloat16>(nkv);
  b.lse = device_alloc<float>(nlse);
  b.delta = device_alloc<float>(nlse);
  return b;
}

void free_set(const Buffers& b) {
  for (void* p : {static_cast<void*>(b.q), static_cast<void*>(b.k), static_cast<void*>(b.v), static_cast<void*>(b.out),
                  static_cast<void*>(b.dout), static_cast<void*>(b.dq), static_cast<void*>(b.dk),
                  static_cast<void*>(b.dv), static_cast<void*>(b.lse), static_cast<void*>(b.delta)}) {
    CUDA_CHECK(cudaFree(p));
  }
}

struct Stats {
  double median_ms, p10_ms, p90_ms;
};

Stats stats(std::vector<float> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double f) {
    return static_cast<double>(ms[static_cast<std::size_t>(f * static_cast<double>(ms.size() - 1))]);
  };
  return {at(0.5), at(0.1), at(0.9)};
}

// Times `run(set)` with a pair of events around each iteration, cycling through the input sets.
// Every iteration is queued before the first is read back, so the GPU runs them back to back and
// the host's launch time stays out of the events' interval.
template <class Run>
Stats time_pass(const std::vector<Buffers>& sets, const Options& o, Run run) {
  for (int i = 0; i < o.warmup; ++i) run(sets[static_cast<std::size_t>(i) % sets.size()]);
  const auto n = static_cast<std::size_t>(o.iters);
  std::vector<cudaEvent_t> start(n), stop(n);
  for (std::size_t i = 0; i < n; ++i) {
    CUDA_CHECK(cudaEventCreate(&start[i]));
    CUDA_CHECK(cudaEventCreate(&stop[i]));
  }
  for (std::size_t i = 0; i < n; ++i) {
    CUDA_CHECK(cudaEventRecord(start[i], nullptr));
    run(sets[i % sets.size()]);
    CUDA_CHECK(cudaEventRecord(stop[i], nullptr));
  }
  CUDA_CHECK(cudaEventSynchronize(stop[n - 1]));
  std::vector<float> ms(n);
  for (std::size_t i = 0; i < n; ++i) {
    CUDA_CHECK(cudaEventElapsedTime(&ms[i], start[i], stop[i]));
    CUDA_CHECK(cudaEventDestroy(start[i]));
    CUDA_CHECK(cudaEventDestroy(stop[i]));
  }
  return stats(std::move(ms));
}

std::string anchor(double tflops) { return tflops > 0 ? std::to_string(static_cast<int>(tflops)) : "-"; }

void print_device(int argc, char** argv, const Options& o) {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  int sm_clock_khz = 0, mem_clock_khz = 0, driver = 0, runtime = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_clock_khz, cudaDevAttrClockRate, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, device));
  CUDA_CHECK(cudaDriverGetVersion(&driver));
  CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  std::printf("# ecsim-bench-attention: fused attention (kernels/attention.cu), bf16, non-causal\n");
  std::printf("# device: %s, %d SMs, L2 %d MiB, max SM clock %d MHz, memory clock %d MHz, driver %d, runtime %d\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20, sm_clock_khz / 1000, mem_clock_khz / 1000,
              driver, runtime);
  std::printf("# date: %s\n# command: %s\n", date, command.c_str());
  std::printf("# %d warm-up and %d timed iterations per pass; CUDA events per iteration; median (p10, p90)\n", o.warmup,
              o.iters);
  std::printf("# TFLOP/s at the median: forward 4 B H Sq Skv D FLOPs, forward+backward 3.5x (as ANCHORS.md)\n");
  std::printf("# targets: ANCHORS.md on H100 SXM (cuDNN SDPA 9.19, FlashAttention-2); '-' where none was measured\n");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    print_device(argc, argv, o);
    int device = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    int l2_bytes = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));

    std::printf("%-30s %5s %8s %17s %8s %6s %5s %8s %17s %8s %6s %5s\n", "case", "sets", "fwd_ms", "(p10, p90)",
                "fwd_TF", "cuDNN", "FA2", "fb_ms", "(p10, p90)", "fb_TF", "cuDNN", "FA2");
    std::printf("%-30s %5s %8s %17s %8s %6s %5s %8s %17s %8s %6s %5s\n", "", "", "ms", "ms", "TFLOP/s", "TF/s", "TF/s",
                "ms", "ms", "TFLOP/s", "TF/s", "TF/s");
    std::mt19937_64 gen(20261126);
    for (const Case& c : kCases) {
      const AttentionDims& d = c.dims;
      // Enough sets that cycling through them touches at least 2x the L2 between reuses.
      const std::size_t bytes = set_bytes(d);
      const std::size_t n_sets = std::max<std::size_t>(1, (2 * static_cast<std::size_t>(l2_bytes) + bytes - 1) / bytes);
      std::vector<Buffers> sets;
      for (std::size_t i = 0; i < n_sets; ++i) sets.push_back(make_set(d, gen));
      // The backward reads the forward's out and lse.
      for (const Buffers& b : sets) flash_attention_forward(b.q, b.k, b.v, b.out, b.lse, d, nullptr);

      const Stats fwd = time_pass(
          sets, o, [&](const Buffers& b) { flash_attention_forward(b.q, b.k, b.v, b.out, b.lse, d, nullptr); });
      const Stats fb = time_pass(sets, o, [&](const Buffers& b) {
        flash_attention_forward(b.q, b.k, b.v, b.out, b.lse, d, nullptr);
        flash_attention_backward(b.q, b.k, b.v, b.out, b.lse, b.dout, b.delta, b.dq, b.dk, b.dv, d, nullptr);
      });
      CUDA_CHECK(cudaDeviceSynchronize());
      for (const Buffers& b : sets) free_set(b);

      const double fwd_flops =
          4.0 * static_cast<double>(d.batch * d.heads * d.q_len) * static_cast<double>(d.kv_len * d.head_dim);
      const double fb_flops = 3.5 * fwd_flops;
      char fwd_spread[32], fb_spread[32];
      std::snprintf(fwd_spread, sizeof fwd_spread, "(%.3f, %.3f)", fwd.p10_ms, fwd.p90_ms);
      std::snprintf(fb_spread, sizeof fb_spread, "(%.3f, %.3f)", fb.p10_ms, fb.p90_ms);
      std::printf("%-30s %5zu %8.3f %17s %8.1f %6s %5s %8.3f %17s %8.1f %6s %5s\n", c.label, n_sets, fwd.median_ms,
                  fwd_spread, fwd_flops / (fwd.median_ms * 1e9), anchor(c.cudnn_fwd).c_str(), anchor(c.fa2_fwd).c_str(),
                  fb.median_ms, fb_spread, fb_flops / (fb.median_ms * 1e9), anchor(c.cudnn_fwd_bwd).c_str(),
                  anchor(c.fa2_fwd_bwd).c_str());
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ecsim-bench-attention: %s\n", e.what());
    return 1;
  }
}
