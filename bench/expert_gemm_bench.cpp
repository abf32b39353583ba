// Benchmark (not a test): the expert GEMMs of kernels/gemm.cu at the ANCHORS shapes.
//  1. Uniform groups (expert choice: every expert takes C tokens) as one strided-batched cuBLAS
//     call, against a single cuBLAS GEMM of equal FLOPs ([E C, k] x [k, n]). Goal (issue 4): the
//     batched call within 5% of the single GEMM. Anchor: 670-690 TFLOP/s batched at d 2048,
//     f 8192, 65536 tokens, f_c 2 (ANCHORS.md, H100 SXM, cuBLAS through PyTorch).
//  2. Few tokens per expert (d 3072, f 12288, 8 experts of 128 and 512 tokens): anchors 321 and
//     708 TFLOP/s batched. Each uniform case also runs as the runner runs the experts' forward:
//     one cuBLASLt strided-batched matmul with a bias per expert (GemmBias::run_batched).
//  3. Ragged groups (token choice, top-2, loads Zipf(0.8) over the experts) as a loop of
//     cublasGemmEx against cublasGemmGroupedBatchedEx. Anchors: loop 620-680, grouped-batched
//     284-303 TFLOP/s. ANCHORS does not state the expert count; 64 here (EC-DiT-M's).
//  4. A linear layer's forward with its bias, at EC-DiT-XL's and M's layers over 64 and 32 images:
//     gemm_bias (kernels/gemm_bias.cuh, the bias in cuBLASLt's epilogue, as the runner runs it)
//     against gemm followed by bias_add (kernels/bias.cuh, the runner's way until 2026-11-27) and
//     the product alone. No goal: the fused form stays only if it is the faster.
// The batched product reads every expert's weights, E times what the single GEMM of equal FLOPs
// reads: with few tokens per expert that is most of its bytes, and the copy ceiling (measured here
// first) bounds it. At 8 experts of 128 tokens (d 3072, f 12288) the weights are 604 MB, about
// 0.21 ms at 3 TB/s, where the single 1024-row GEMM runs in about 0.12 ms: no batched kernel can
// come within 5% of it there. Each uniform case prints its floor (operands read and written once
// at the copy ceiling), the share of it reached, and the best share of the single GEMM's rate the
// floor allows.
// FLOPs 2 m n k per product. Method: profiles/profiler/timing.hpp.
// Run: build/bin/ecsim-bench-expert-gemm; figures go to docs/PERFORMANCE.md with the card, date
// and command it prints.
#include <CLI/CLI.hpp>
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "bench_header.hpp"
#include "bench_session.hpp"
#include "bias.cuh"
#include "cli/tool_main.hpp"
#include "cublas_check.hpp"
#include "cuda_check.hpp"
#include "gemm.cuh"
#include "gemm_bias.cuh"
#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/timing.hpp"

using namespace ecsim;
using namespace ecsim::profiler;

namespace {

using bf16 = __nv_bfloat16;

constexpr TimingMethod kMethod{5, 20, 50, 50.0};
constexpr double kZipfExponent = 0.8;
constexpr double kBatchedGoal = 0.95;  // batched time within 5% of the single GEMM's

using Bench = bench::BenchSession;

Operand bf16_in(std::int64_t n) { return {Fill::kUniformBf16, static_cast<std::size_t>(n) * sizeof(bf16)}; }
Operand bf16_out(std::int64_t n) { return {Fill::kScratch, static_cast<std::size_t>(n) * sizeof(bf16)}; }

double tflops(double flops, double ns) { return flops / ns * 1e-3; }

void print_row(const std::string& label, const Timing& t, double flops, const std::string& note) {
  std::cout << std::left << std::setw(44) << label << std::right << std::fixed << std::setprecision(3)
            << std::setw(10) << t.p50_ns / 1e6 << std::setw(10) << t.p10_ns / 1e6 << std::setw(10) << t.p90_ns / 1e6
            << std::setprecision(0) << std::setw(10) << tflops(flops, t.p50_ns) << "  " << note << "\n";
}

// Batched E x [C, k] x [k, n] against one [E C, k] x [k, n]; and the same with a bias per expert
// through cuBLASLt, as the runner runs the experts' forward (GemmBias::run_batched).
void uniform_case(Bench& b, const CopyCeiling& ceiling, GemmBias& lt, std::int64_t experts, std::int64_t capacity,
                  std::int64_t n, std::int64_t k, const std::string& anchor) {
  const GemmDims per_expert{capacity, n, k};
  const GemmDims single{experts * capacity, n, k};
  const double flops = 2.0 * static_cast<double>(experts * capacity * n * k);
  const Timing batched = b.time({bf16_in(experts * capacity * k), bf16_in(experts * k * n), bf16_out(experts * capacity * n)},
                                [&](const OperandSet& o) {
                                  batched_gemm(b.cublas, b.stream, experts, per_expert, o.at<bf16>(0), o.at<bf16>(1),
                                               o.at<bf16>(2));
                                });
  const Timing one = b.time({bf16_in(experts * capacity * k), bf16_in(k * n), bf16_out(experts * capacity * n)},
                            [&](const OperandSet& o) {
                              gemm(b.cublas, b.stream, single, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2));
                            });
  const Timing with_bias =
      b.time({bf16_in(experts * capacity * k), bf16_in(experts * k * n), bf16_in(experts * n),
              bf16_out(experts * capacity * n)},
             [&](const OperandSet& o) {
               lt.run_batched(b.stream, experts, per_expert, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2),
                              o.at<bf16>(3));
             });
  const double share = one.p50_ns / batched.p50_ns;
  std::ostringstream note;
  note << std::fixed << std::setprecision(1) << 100 * share << "% of single GEMM's rate (goal >= "
       << 100 * kBatchedGoal << "%: " << (share >= kBatchedGoal ? "met" : "missed") << ")";
  if (!anchor.empty()) note << "; anchor " << anchor;
  // x, every expert's W and y, each moved once at the copy ceiling.
  const double floor_bytes = 2.0 * static_cast<double>(experts * (capacity * k + k * n + capacity * n));
  const double floor_ns = floor_bytes / ceiling.bytes_per_s * 1e9;
  note << std::setprecision(3) << "; HBM floor " << floor_ns / 1e6 << " ms (" << std::setprecision(1)
       << 100 * floor_ns / batched.p50_ns << "% of it reached), which allows at most "
       << 100 * std::min(1.0, one.p50_ns / floor_ns) << "% of the single GEMM's rate";
  const std::string shape = std::to_string(capacity) + "x" + std::to_string(n) + "x" + std::to_string(k);
  print_row("batched " + std::to_string(experts) + " x " + shape, batched, flops, note.str());
  print_row("  single " + std::to_string(experts * capacity) + "x" + std::to_string(n) + "x" + std::to_string(k), one,
            flops, "");
  note.str("");
  note << std::fixed << std::setprecision(1) << 100 * one.p50_ns / with_bias.p50_ns
       << "% of single GEMM's rate (the runner's expert forward; no goal)";
  print_row("  batched with bias, cuBLASLt", with_bias, flops, note.str());
}

// Rows per expert for `total` rows with loads proportional to rank^-s, largest first.
std::vector<std::int64_t> zipf_rows(std::int64_t experts, std::int64_t total, double s) {
  std::vector<double> weight(static_cast<std::size_t>(experts));
  for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = std::pow(static_cast<double>(i + 1), -s);
  const double sum = std::accumulate(weight.begin(), weight.end(), 0.0);
  std::vector<std::int64_t> rows(weight.size());
  std::int64_t assigned = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = static_cast<std::int64_t>(std::floor(static_cast<double>(total) * weight[i] / sum));
    assigned += rows[i];
  }
  rows[0] += total - assigned;  // the rounding remainder goes to the busiest expert
  return rows;
}

void ragged_case(Bench& b, std::int64_t experts, std::int64_t total, std::int64_t n, std::int64_t k) {
  const std::vector<std::int64_t> rows = zipf_rows(experts, total, kZipfExponent);
  const GroupedGemmDims d{rows.data(), experts, n, k};
  const double flops = 2.0 * static_cast<double>(total * n * k);
  const std::size_t workspace = grouped_gemm_workspace_bytes(experts);
  const std::vector<Operand> operands{bf16_in(total * k), bf16_in(experts * k * n), bf16_out(total * n),
                                      {Fill::kScratch, workspace}};
  Timing t[2];
  const GroupedGemmMethod methods[2] = {GroupedGemmMethod::kGemmLoop, GroupedGemmMethod::kGroupedBatched};
  for (int i = 0; i < 2; ++i) {
    t[i] = b.time(operands, [&](const OperandSet& o) {
      grouped_gemm(b.cublas, b.stream, methods[i], d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.pointers[3],
                   workspace);
    });
  }
  const std::string shape = std::to_string(total) + " rows x" + std::to_string(n) + "x" + std::to_string(k);
  std::ostringstream note;
  note << "largest group " << rows.front() << ", smallest " << rows.back() << " rows; anchor 620-680";
  print_row("ragged loop " + std::to_string(experts) + "E " + shape, t[0], flops, note.str());
  note.str("");
  note << std::fixed << std::setprecision(2) << t[1].p50_ns / t[0].p50_ns << "x the loop's time; anchor 284-303";
  print_row("  grouped-batched", t[1], flops, note.str());
}

// y = x w + b: fused, as a product then a bias kernel, and the product alone.
void bias_case(Bench& b, GemmBias& fused, const std::string& layer, const GemmDims& d) {
  const double flops = 2.0 * static_cast<double>(d.m * d.n * d.k);
  const std::vector<Operand> operands{bf16_in(d.m * d.k), bf16_in(d.k * d.n), bf16_in(d.n), bf16_out(d.m * d.n)};
  const Timing one = b.time(operands, [&](const OperandSet& o) {
    fused.run(b.stream, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(3));
  });
  const Timing two = b.time(operands, [&](const OperandSet& o) {
    gemm(b.cublas, b.stream, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(3));
    bias_add(o.at<bf16>(3), o.at<bf16>(2), 1, d.m, d.n, b.stream);
  });
  const Timing bare = b.time(operands, [&](const OperandSet& o) {
    gemm(b.cublas, b.stream, d, o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(3));
  });
  const std::string shape = std::to_string(d.m) + "x" + std::to_string(d.n) + "x" + std::to_string(d.k);
  std::ostringstream note;
  note << std::fixed << std::setprecision(2) << one.p50_ns / two.p50_ns << "x the unfused time";
  print_row("gemm_bias " + layer + " " + shape, one, flops, note.str());
  note.str("");
  note << "bias kernel +" << std::setprecision(1) << 100 * (two.p50_ns / bare.p50_ns - 1) << "% over the product";
  print_row("  gemm + bias_add", two, flops, note.str());
  print_row("  gemm alone", bare, flops, "");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Expert GEMMs: batched against a single GEMM of equal FLOPs, ragged loop against grouped-batched; "
               "a linear layer's bias fused into its product against a kernel of its own"};
  bool quick = false;
  app.add_flag("--quick", quick, "the anchor shapes only, without the extra expert counts");
  if (auto rc = cli::parse_or_exit(app, argc, argv)) return *rc;
  return cli::run_reporting_errors("ecsim-bench-expert-gemm", [&] {
    Bench b(kMethod, 0xBE4C11ull);
    bench::print_header(b.device, cli::command_line(argc, argv), kMethod, std::cout);
    const CopyCeiling ceiling = b.copy_ceiling(std::cout, "the batched products' HBM floors below");

    std::cout << std::left << std::setw(44) << "case (rows x n x k)" << std::right << std::setw(10) << "p50 ms"
              << std::setw(10) << "p10 ms" << std::setw(10) << "p90 ms" << std::setw(10) << "TFLOP/s" << "  note\n";
    // 65536 tokens, f_c 2: 131072 expert rows, fc1 [rows, 8192] = [rows, 2048] x [2048, 8192], and fc2.
    GemmBias fused;  // cuBLASLt: the experts' forward with its bias, and the linear layers below
    uniform_case(b, ceiling, fused, 8, 16384, 8192, 2048, "670-690");
    uniform_case(b, ceiling, fused, 64, 2048, 8192, 2048, "670-690");
    uniform_case(b, ceiling, fused, 8, 16384, 2048, 8192, "");
    if (!quick) {
      uniform_case(b, ceiling, fused, 16, 8192, 8192, 2048, "");
      uniform_case(b, ceiling, fused, 32, 4096, 8192, 2048, "");
    }
    // d 3072, f 12288, eight experts of few tokens.
    uniform_case(b, ceiling, fused, 8, 128, 12288, 3072, "321");
    uniform_case(b, ceiling, fused, 8, 512, 12288, 3072, "708");
    // Token choice top-2 over 65536 tokens: 131072 rows.
    ragged_case(b, 64, 131072, 8192, 2048);
    if (!quick) ragged_case(b, 8, 131072, 8192, 2048);
    // Linear layers with a bias: XL (d 1152; qkv 1920 with 6 KV heads of 64; FFN 4608) over 64
    // images of 256 tokens, M (d 3072, FFN 12288) over 32.
    bias_case(b, fused, "XL qkv", {16384, 1920, 1152});
    bias_case(b, fused, "XL proj", {16384, 1152, 1152});
    bias_case(b, fused, "XL fc1", {16384, 4608, 1152});
    bias_case(b, fused, "XL fc2", {16384, 1152, 4608});
    if (!quick) {
      bias_case(b, fused, "M fc1", {8192, 12288, 3072});
      bias_case(b, fused, "M fc2", {8192, 3072, 12288});
    }
  });
}
