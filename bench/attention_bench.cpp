// Benchmark (not a test): TFLOP/s of the fused attention kernels (kernels/attention.cu), forward
// and forward+backward, at the shapes of the measured anchors (ANCHORS.md: EC-DiT's 256-token
// images with head dim 64, self- and cross-attention to 128 text tokens, and 2x16x4096x128), each
// printed next to cuDNN SDPA's and FlashAttention-2's figures on an H100 SXM as the target. Rows
// with grouped-query KV heads (EC-DiT's own layout) have no anchor.
// FLOPs as the anchors count them: forward 4 B H Sq Skv D, backward 2.5x that, so forward+backward
// is 3.5x. Non-causal. The backward is the launcher's choice (AttentionBackwardKernels::kAuto, as
// the runner and the profiler run it). Two more columns: 'split f+b', forward+backward TFLOP/s
// with the split backward passes where the fused one fits; 'other fwd', the forward's TFLOP/s with
// the number of queries per block (AttentionForwardRows) the launcher did not choose.
// Method: profiles/profiler/timing.hpp (as the other kernel benchmarks).
// Run: build/bin/ecsim-bench-attention; figures go to docs/PERFORMANCE.md with the card, date and
// command it prints.
#include <CLI/CLI.hpp>
#include <cuda_bf16.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "attention.cuh"
#include "bench_header.hpp"
#include "bench_session.hpp"
#include "cli/tool_main.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/timing.hpp"

using namespace ecsim;
using namespace ecsim::profiler;

namespace {

using bf16 = __nv_bfloat16;

constexpr TimingMethod kMethod{5, 20, 100, 20.0};

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

// q, k, v, dout (random bf16: never zeros, which can run faster); out, dq, dk, dv; lse, delta.
std::vector<Operand> operands(const AttentionDims& d) {
  const auto q = static_cast<std::size_t>(d.q_elements()) * sizeof(bf16);
  const auto kv = static_cast<std::size_t>(d.kv_elements()) * sizeof(bf16);
  const auto rows = static_cast<std::size_t>(d.lse_elements()) * sizeof(float);
  return {{Fill::kUniformBf16, q}, {Fill::kUniformBf16, kv}, {Fill::kUniformBf16, kv}, {Fill::kUniformBf16, q},
          {Fill::kScratch, q},     {Fill::kScratch, q},      {Fill::kScratch, kv},     {Fill::kScratch, kv},
          {Fill::kScratch, rows},  {Fill::kScratch, rows}};
}

void forward(const OperandSet& o, const AttentionDims& d, cudaStream_t stream,
             AttentionForwardRows rows = AttentionForwardRows::kAuto) {
  flash_attention_forward(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(4), o.at<float>(8), d, stream,
                          rows);
}

// The backward reads the forward's out and lse, so the forward runs first.
void forward_backward(const OperandSet& o, const AttentionDims& d, cudaStream_t stream,
                      AttentionBackwardKernels kernels = AttentionBackwardKernels::kAuto) {
  forward(o, d, stream);
  flash_attention_backward(o.at<bf16>(0), o.at<bf16>(1), o.at<bf16>(2), o.at<bf16>(4), o.at<float>(8), o.at<bf16>(3),
                           o.at<float>(9), o.at<bf16>(5), o.at<bf16>(6), o.at<bf16>(7), d, stream, kernels);
}

std::string anchor(double tflops) { return tflops > 0 ? std::to_string(static_cast<int>(tflops)) : "-"; }

// The median in ms, (p10, p90) and TFLOP/s of a pass of `flops`, in columns of 11, 20 and 9.
std::string pass_cells(const Timing& t, double flops) {
  std::ostringstream spread;
  spread << std::fixed << std::setprecision(3) << "(" << t.p10_ns / 1e6 << ", " << t.p90_ns / 1e6 << ")";
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << std::setw(11) << t.p50_ns / 1e6 << std::setw(20) << spread.str()
    << std::setprecision(1) << std::setw(9) << flops / t.p50_ns / 1e3;
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fused attention forward and forward+backward TFLOP/s at the ANCHORS shapes"};
  if (auto rc = cli::parse_or_exit(app, argc, argv)) return *rc;
  return cli::run_reporting_errors("ecsim-bench-attention", [&] {
    bench::BenchSession b(kMethod, 0xA77E7ull);
    bench::print_header(b.device, cli::command_line(argc, argv), kMethod, std::cout);
    std::cout << "# fused attention (kernels/attention.cu), bf16, non-causal; TFLOP/s at the median: forward 4 B H Sq "
                 "Skv D FLOPs, forward+backward 3.5x (as ANCHORS.md)\n"
              << "# backward: the launcher's choice (fused for head dim 64 and up to 256 keys); 'split f+b': "
                 "forward+backward with the split backward passes, where the fused one fits; forward: the "
                 "launcher's choice of 64 or 128 queries per block (128 at head dim 128 from "
              << kForward128MinQueries << " queries on); 'other fwd': forward TFLOP/s with the other\n"
              << "# targets: ANCHORS.md on H100 SXM (cuDNN SDPA 9.19, FlashAttention-2); '-' where none was measured\n";
    std::cout << std::left << std::setw(30) << "case" << std::right;
    for (const char* pass : {"fwd", "fwd+bwd"}) {
      std::cout << std::setw(11) << (std::string(pass) + " ms") << std::setw(20) << "(p10, p90)" << std::setw(9)
                << "TFLOP/s" << std::setw(7) << "cuDNN" << std::setw(5) << "FA2";
    }
    std::cout << std::setw(12) << "split f+b" << std::setw(14) << "other fwd" << "\n";
    for (const Case& c : kCases) {
      const AttentionDims& d = c.dims;
      const std::vector<Operand> ops = operands(d);
      const Timing fwd = b.time(ops, [&](const OperandSet& o) { forward(o, d, b.stream); });
      const Timing fb = b.time(ops, [&](const OperandSet& o) { forward_backward(o, d, b.stream); });
      const double fwd_flops =
          4.0 * static_cast<double>(d.batch * d.heads * d.q_len) * static_cast<double>(d.kv_len * d.head_dim);
      // Where the fused backward fits, the split passes too, so that a session reads what it gains.
      const auto tflops = [](double flops, const Timing& t) {
        std::ostringstream cell;
        cell << std::fixed << std::setprecision(1) << flops / t.p50_ns / 1e3;
        return cell.str();
      };
      std::string split = "-";
      if (fused_attention_backward_fits(d)) {
        split = tflops(3.5 * fwd_flops, b.time(ops, [&](const OperandSet& o) {
          forward_backward(o, d, b.stream, AttentionBackwardKernels::kSplit);
        }));
      }
      // The forward with the number of queries per block the launcher did not choose.
      const AttentionForwardRows other = forward_rows_for(d) == AttentionForwardRows::k128 ? AttentionForwardRows::k64
                                                                                           : AttentionForwardRows::k128;
      const std::string other_rows =
          std::string(other == AttentionForwardRows::k128 ? "128q " : "64q ") +
          tflops(fwd_flops, b.time(ops, [&](const OperandSet& o) { forward(o, d, b.stream, other); }));
      std::cout << std::left << std::setw(30) << c.label << std::right << pass_cells(fwd, fwd_flops) << std::setw(7)
                << anchor(c.cudnn_fwd) << std::setw(5) << anchor(c.fa2_fwd) << pass_cells(fb, 3.5 * fwd_flops)
                << std::setw(7) << anchor(c.cudnn_fwd_bwd) << std::setw(5) << anchor(c.fa2_fwd_bwd) << std::setw(12)
                << split << std::setw(14) << other_rows << std::endl;
    }
  });
}
