// Compute costs (simulator/cost/): the analytic model's closed forms and anchors, operator ->
// kernel calls, the profile reader's errors, pricing from a profile, and the leave-one-out check
// of the committed analytic profile. Expected values are derived in the comments.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "cost/analytic_model.hpp"
#include "cost/compute_cost.hpp"
#include "cost/interpolation.hpp"
#include "model/model_ops.hpp"
#include "scenario/scenario.hpp"

using namespace ecsim;

namespace {

const std::filesystem::path kSource{ECSIM_SOURCE_DIR};

GpuSpec h100() { return *find_gpu("H100-SXM"); }

double ns(Nanos t) { return static_cast<double>(t.value); }

// Achieved rate of one kernel call under the analytic model, in TFLOP/s.
double tflops(const KernelCall& c) {
  return c.flops.value / to_seconds(analytic_kernel_time(h100(), c)).value / parse_flops_rate("1TFLOPS").value;
}

KernelCall only_call(const Op& op) {
  const auto calls = forward_kernels(op);
  REQUIRE(calls.size() == 1);
  return calls.front();
}

const Profile& h100_analytic_profile() {
  static const Profile p = load_profile(kSource / "profiles" / "h100-sxm-analytic.json");
  return p;
}

// A profile of no entries yet, with the H100's ceilings: "analytic" or "measured".
Profile empty_h100_profile(const std::string& source) {
  Profile p;
  p.source = source;
  p.device = {"H100-SXM", 132, parse_bytes("80GB"), 0, "none (analytic)", "none (analytic)"};
  if (source == "measured") p.device = {"NVIDIA H100 80GB HBM3", 132, parse_bytes("80GB"), 1980, "580", "13.0"};
  p.created = "2026-11-26T00:00:00Z";
  p.git_sha = "test";
  p.command = "compute_cost_test";
  p.matmul_ceiling = h100().matmul_ceiling;
  p.hbm_ceiling = h100().hbm_ceiling;
  return p;
}

// `p` written to a temporary file under `name` and read back by the strict reader.
Profile round_trip(const Profile& p, const std::string& name) {
  const auto file = std::filesystem::temp_directory_path() / name;
  write_profile(file, p);
  Profile back = load_profile(file);
  std::filesystem::remove(file);
  return back;
}

}  // namespace

TEST_CASE("analytic: a large GEMM runs at the matmul ceiling times its efficiency") {
  // 8192^3 is the shape that defines the ceiling (794 TFLOP/s on H100): efficiency 1, so
  // t = 3 us launch + 2 * 8192^3 / 794e12 s = 3 us + 1384.8 us.
  const KernelCall c = only_call(make_gemm("g", Component::kFfn, 8192, 8192, 8192, false));
  const double e = matmul_efficiency("gemm", c.shape);
  CHECK(e == doctest::Approx(1.0));
  const Seconds expected = launch_overhead() + compute_time(c.flops, {h100().matmul_ceiling.value * e});
  CHECK(ns(analytic_kernel_time(h100(), c)) == doctest::Approx(ns(to_nanos(expected))).epsilon(1e-9));
  CHECK(ns(analytic_kernel_time(h100(), c)) == doctest::Approx(1387.8e3).epsilon(1e-3));

  // The same closed form on another GPU: B200's own ceiling (1800 TFLOP/s in the table).
  const GpuSpec b200 = *find_gpu("B200");
  const Seconds on_b200 = launch_overhead() + compute_time(c.flops, b200.matmul_ceiling);
  CHECK(ns(analytic_kernel_time(b200, c)) == doctest::Approx(ns(to_nanos(on_b200))).epsilon(1e-9));
}

TEST_CASE("analytic: the expert-GEMM anchors of ANCHORS.md are reproduced") {
  // d=3072, f=12288, one expert: y[t, 12288] = x[t, 3072] W. Measured TFLOP/s include the launch,
  // so the model's whole time must give back the measured rate.
  const std::pair<std::int64_t, double> anchors[] = {{128, 217}, {256, 380}, {512, 584},
                                                     {1024, 639}, {2048, 705}, {4096, 761}};
  for (const auto& anchor : anchors) {
    const std::int64_t tokens = anchor.first;
    const double measured = anchor.second;
    CAPTURE(tokens);
    const KernelCall c = only_call(make_batched_gemm("e", Component::kExperts, 1, tokens, 12288, 3072, false));
    CHECK(tflops(c) == doctest::Approx(measured).epsilon(0.005));
  }
  // Eight experts batched (ANCHORS.md: 321 at 128 tokens, weight-streaming bound by construction;
  // 708 at 512 tokens, where the model gives about 680: within 5%).
  const KernelCall b128 = only_call(make_batched_gemm("e", Component::kExperts, 8, 128, 12288, 3072, false));
  CHECK(tflops(b128) == doctest::Approx(321).epsilon(0.01));
  const KernelCall b512 = only_call(make_batched_gemm("e", Component::kExperts, 8, 512, 12288, 3072, false));
  CHECK(tflops(b512) == doctest::Approx(708).epsilon(0.05));
}

TEST_CASE("analytic: efficiency rises with tokens per expert") {
  // Expert FFN of EC-DiT-M (d=3072, f=12288) with 8 local experts: achieved TFLOP/s never falls as
  // tokens per expert grow from 16 to 16384, and 4096 tokens run over twice as fast as 128.
  double previous = 0;
  for (std::int64_t tokens = 16; tokens <= 16384; tokens *= 2) {
    CAPTURE(tokens);
    const double r = tflops(only_call(make_batched_gemm("e", Component::kExperts, 8, tokens, 12288, 3072, false)));
    CHECK(r >= previous);
    previous = r;
  }
  const auto rate_at = [](std::int64_t tokens) {
    return tflops(only_call(make_batched_gemm("e", Component::kExperts, 8, tokens, 12288, 3072, false)));
  };
  CHECK(rate_at(4096) > 2 * rate_at(128));
  // A smaller n*k (EC-DiT-XL, d=1152, f=4608 over TP 2) is less efficient at the same tokens.
  const double xl = tflops(only_call(make_batched_gemm("e", Component::kExperts, 8, 512, 2304, 1152, false)));
  CHECK(xl < rate_at(512));
  // Ragged groups run at the grouped/batched ratio of ANCHORS.md (605 / 680) of uniform ones.
  const std::vector<std::int64_t> rows(8, 2048);
  const OpShape grouped{{"groups", 8}, {"m_total", 8 * 2048}, {"n", 12288}, {"k", 3072}};
  const OpShape batched{{"batch", 8}, {"m", 2048}, {"n", 12288}, {"k", 3072}};
  CHECK(matmul_efficiency("grouped_gemm", grouped) ==
        doctest::Approx(matmul_efficiency("batched_gemm", batched) * 605.0 / 680.0));
}

TEST_CASE("analytic: a large elementwise op moves its bytes at a fraction of the HBM ceiling") {
  // GeLU over 2^28 bf16 values reads and writes each once: 2^28 * 4 B = 1.074 GB, streamed at
  // 0.90 x 2.97 TB/s = 2.673 TB/s: 401.7 us + 3 us launch.
  const KernelCall c = only_call(make_elementwise("gelu", "act", Component::kFfn, std::int64_t{1} << 28, 1, 1, 8, 1));
  CHECK(c.bytes.value == doctest::Approx(4.0 * (1 << 28)));
  const double fraction = memory_kernel("gelu").hbm_fraction;
  CHECK(fraction == doctest::Approx(0.90));
  const Seconds expected = launch_overhead() + transfer_time(c.bytes, {h100().hbm_ceiling.value * fraction});
  CHECK(ns(analytic_kernel_time(h100(), c)) == doctest::Approx(ns(to_nanos(expected))).epsilon(1e-9));
  CHECK(ns(analytic_kernel_time(h100(), c)) == doctest::Approx(404.7e3).epsilon(1e-3));
  // Its backward is gelu_bwd: reads dY and the saved input, writes dX (3 x 2^28 x 2 B).
  const auto bwd =
      backward_kernels(make_elementwise("gelu", "act", Component::kFfn, std::int64_t{1} << 28, 1, 1, 8, 1));
  REQUIRE(bwd.size() == 1);
  CHECK(bwd.front().op == "gelu_bwd");
  CHECK(bwd.front().bytes.value == doctest::Approx(6.0 * (1 << 28)));
}

TEST_CASE("analytic: the routing selection takes at least its latency, its backward only its bytes") {
  // XL's 8 images of 128 tokens over 8 experts: a few hundred KB of scores, yet the selection took
  // 18.6 to 25.5 us in the runner on an H100 and an H200; priced as 3 launches + the 15 us floor.
  const Op ec = make_ec_route("moe.route", 1024, 8, 1024, 256);
  const Op tc = make_tc_route("moe.route", 1024, 8, 2);
  for (const Op& op : {ec, tc}) {
    CAPTURE(op.name);
    const KernelCall fwd = only_call(op);
    const Seconds floor{memory_kernel(op.name).forward_floor_s};
    CHECK(floor.value == doctest::Approx(15e-6));
    CHECK(ns(analytic_kernel_time(h100(), fwd)) == doctest::Approx(ns(to_nanos(launch_overhead() * 3 + floor))));
    const auto bwd = backward_kernels(op);
    REQUIRE(bwd.size() == 1);
    CHECK(ns(analytic_kernel_time(h100(), bwd.front())) < ns(to_nanos(launch_overhead() * 3 + floor * 0.5)));
  }
  // Where the scores take longer to stream than the floor, their bytes rule: 65536 tokens x 64.
  const KernelCall big = only_call(make_ec_route("moe.route", 65536, 64, 1024, 32));
  const MemoryKernelRow& row = memory_kernel("ec_route");
  CHECK(ns(analytic_kernel_time(h100(), big)) ==
        doctest::Approx(ns(to_nanos(launch_overhead() * 3 +
                                    transfer_time(big.bytes, {h100().hbm_ceiling.value * row.hbm_fraction}))))
            .epsilon(1e-9));
}

TEST_CASE("analytic: attention at EC-DiT shapes runs at 100-200 TFLOP/s forward") {
  // ANCHORS.md, cuDNN SDPA, EC-DiT-M with masking: 32 images x 48 heads, 128 x 128, head dim 64:
  // forward 98 TFLOP/s, forward+backward 61 (backward counted as 2.5x forward FLOPs).
  const auto rates = [](const Op& a) {
    const KernelCall fwd = only_call(a);
    const auto bwd = backward_kernels(a);
    REQUIRE(bwd.size() == 1);
    CHECK(bwd.front().op == "attention_bwd");
    const Seconds both = to_seconds(analytic_kernel_time(h100(), fwd) + analytic_kernel_time(h100(), bwd.front()));
    return std::make_pair(tflops(fwd), 3.5 * fwd.flops.value / both.value / parse_flops_rate("1TFLOPS").value);
  };
  const auto [masked_fwd, masked_both] =
      rates(make_attention("a", Component::kSelfAttention, 32, 48, 12, 128, 128, 64, false));
  CHECK(masked_fwd == doctest::Approx(98).epsilon(0.005));
  CHECK(masked_both == doctest::Approx(61).epsilon(0.005));
  // 256 x 256 has two rows (XL self 156 / 117, M self 212 / 143); the model takes their geometric
  // mean, so both shapes land between the two measurements.
  for (auto [images, heads] : {std::pair<std::int64_t, std::int64_t>{64, 18}, {32, 48}}) {
    const auto [fwd, both] =
        rates(make_attention("a", Component::kSelfAttention, images, heads, 6, 256, 256, 64, false));
    CHECK(fwd >= 156);
    CHECK(fwd <= 212);
    CHECK(both >= 117);
    CHECK(both <= 143);
  }
  // Every EC-DiT self/cross shape of the table lands in 90-220 TFLOP/s forward.
  for (auto [b, h, q, kv] : {std::array<std::int64_t, 4>{64, 18, 256, 256}, {64, 18, 256, 128},
                             {32, 48, 256, 128}, {32, 48, 128, 128}}) {
    const double r = tflops(only_call(make_attention("a", Component::kSelfAttention, b, h, 6, q, kv, 64, false)));
    CHECK(r > 90);
    CHECK(r < 220);
  }
  // One image of XL at TP 8 (2 heads x 2 query tiles = 4 blocks on 132 SMs) runs far slower per FLOP.
  const double lone = tflops(only_call(make_attention("a", Component::kSelfAttention, 1, 2, 1, 256, 256, 64, false)));
  CHECK(lone < 10);
}

TEST_CASE("kernel calls: a gemm's backward is two products of transposed shapes, its bias gradient a kernel of "
          "its own") {
  // y[m,n] = x[m,k] W[k,n] + b with m=256, n=4608, k=1152.
  // dX[m,k] = dY[m,n] W^T: gemm {m: 256, n: 1152, k: 4608}; dW[k,n] = X^T dY: gemm_wgrad
  // {m: 1152, n: 4608, k: 256}, which writes the fp32 gradient (a later micro-batch adds to it);
  // db = column sums of dY: bias_add_bwd {rows: 256, n: 4608}, after them, as the runner runs it.
  const Op g = make_gemm("fc1", Component::kFfn, 256, 4608, 1152, true);
  const auto calls = backward_kernels(g);
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].op == "gemm");
  CHECK(calls[0].shape == OpShape{{"m", 256}, {"n", 1152}, {"k", 4608}});
  CHECK(calls[1].op == "gemm_wgrad");
  CHECK(calls[1].shape == OpShape{{"m", 1152}, {"n", 4608}, {"k", 256}});
  CHECK(calls[1].bytes.value == (256.0 * 4608 + 256.0 * 1152) * 2 + 1152.0 * 4608 * 4);
  CHECK(calls[1].added_read.value == 0);
  CHECK(calls[2].op == "bias_add_bwd");
  CHECK(calls[2].shape == OpShape{{"rows", 256}, {"n", 4608}});
  CHECK(calls[0].flops.value == 2.0 * 256 * 4608 * 1152);
  CHECK(calls[1].flops.value == 2.0 * 256 * 4608 * 1152);
  // The two products' bytes are the operator's backward traffic, split; the bias pass reads dY
  // and writes db in fp32.
  CHECK((calls[0].bytes + calls[1].bytes).value == (g.bwd_read + g.bwd_written).value);
  CHECK(calls[2].bytes.value == 256.0 * 4608 * 2 + 4608.0 * 4);
  // Forward: one product with the bias in its epilogue (gemm_bias, cuBLASLt), which reads b too.
  const auto fwd = forward_kernels(g);
  REQUIRE(fwd.size() == 1);
  CHECK(fwd[0].op == "gemm_bias");
  CHECK(fwd[0].shape == OpShape{{"m", 256}, {"n", 4608}, {"k", 1152}});
  CHECK(fwd[0].flops.value == g.fwd.value);
  CHECK(fwd[0].bytes.value == (g.fwd_read + g.fwd_written).value + 4608.0 * 2);
  // The cost model's forward and backward are the sums of their kernels.
  const ComputeCostModel model = ComputeCostModel::analytic(h100());
  CHECK(model.backward(g) == model.kernel(calls[0]) + model.kernel(calls[1]) + model.kernel(calls[2]));
  CHECK(model.forward(g) == model.kernel(fwd[0]));
  // A later micro-batch adds to the gradient: the same keys, and the old gradient read on top of
  // the dW's price at the HBM ceiling.
  const auto adding = backward_kernels(g, WeightGrads::kAdd);
  REQUIRE(adding.size() == 3);
  CHECK(kernel_key(adding[1]) == kernel_key(calls[1]));
  CHECK(adding[1].added_read.value == 1152.0 * 4608 * 4);
  CHECK(adding[0].added_read.value == 0);
  CHECK(adding[2].added_read.value == 0);
  const double read_ns = 1152.0 * 4608 * 4 / h100().hbm_ceiling.value * 1e9;
  CHECK(static_cast<double>((model.backward(g, WeightGrads::kAdd) - model.backward(g)).value) ==
        doctest::Approx(read_ns).epsilon(0.001));
  // Uniform experts add each one's bias in the batched product's epilogue (batched_gemm_bias);
  // ragged experts keep a bias kernel after the product: y += b reads and writes every row.
  const Op experts = make_batched_gemm("fc1", Component::kExperts, 4, 64, 4608, 1152, true);
  const auto efwd = forward_kernels(experts);
  REQUIRE(efwd.size() == 1);
  CHECK(efwd[0].op == "batched_gemm_bias");
  CHECK(efwd[0].shape == experts.shape);
  CHECK(efwd[0].bytes.value == (experts.fwd_read + experts.fwd_written).value + 4 * 4608.0 * 2);
  const Op ragged = make_grouped_gemm("fc1", Component::kExperts, {100, 156, 0}, 4608, 1152, true);
  const auto rfwd = forward_kernels(ragged);
  REQUIRE(rfwd.size() == 2);
  CHECK(rfwd[0].op == "grouped_gemm");
  CHECK(rfwd[1].op == "bias_add");
  CHECK(rfwd[1].shape == OpShape{{"rows", 256}, {"n", 4608}});
  CHECK(rfwd[1].bytes.value == 2 * 256.0 * 4608 * 2);
  CHECK(model.forward(ragged) == model.kernel(rfwd[0]) + model.kernel(rfwd[1]));
  // Without a bias, the products alone.
  const Op plain = make_gemm("router", Component::kRouter, 256, 32, 1152, false);
  CHECK(forward_kernels(plain).size() == 1);
  CHECK(backward_kernels(plain).size() == 2);
  // Uniform experts: batched_gemm for dX, batched_gemm_wgrad for dW, the operator's traffic split.
  const auto ebwd = backward_kernels(experts);
  REQUIRE(ebwd.size() == 3);
  CHECK(ebwd[0].op == "batched_gemm");
  CHECK(ebwd[1].op == "batched_gemm_wgrad");
  CHECK(ebwd[1].shape == OpShape{{"batch", 4}, {"m", 1152}, {"n", 4608}, {"k", 64}});
  CHECK((ebwd[0].bytes + ebwd[1].bytes).value == (experts.bwd_read + experts.bwd_written).value);
  CHECK(backward_kernels(experts, WeightGrads::kAdd)[1].added_read.value == 4 * 1152.0 * 4608 * 4);

  // Ragged groups: dX is a grouped gemm [m_total, k, n]; dW a grouped_gemm_wgrad {groups, k, n, m_total}.
  const Op r = make_grouped_gemm("e", Component::kExperts, {100, 300, 0, 624}, 12288, 3072, false);
  const auto rc = backward_kernels(r);
  REQUIRE(rc.size() == 2);
  CHECK(rc[0].shape == OpShape{{"groups", 4}, {"m_total", 1024}, {"n", 3072}, {"k", 12288}});
  CHECK(rc[1].op == "grouped_gemm_wgrad");
  CHECK(rc[1].shape == OpShape{{"groups", 4}, {"m", 3072}, {"n", 12288}, {"k_total", 1024}});
  CHECK((rc[0].bytes + rc[1].bytes).value == (r.bwd_read + r.bwd_written).value);
  CHECK(backward_kernels(r, WeightGrads::kAdd)[1].added_read.value == 4 * 3072.0 * 12288 * 4);
}

TEST_CASE("kernel calls: bf16 weight gradients are written and added in 2 bytes, under a key of their own") {
  // A scenario's run.optimizer.grad_dtype bf16: every dW product writes (and a later micro-batch
  // reads) 2 bytes per parameter, not 4, under dtype "bf16_grads_bf16", which no profile measured
  // writing fp32 gradients can price; dX and the bias gradient keep their keys.
  const Op experts = make_batched_gemm("fc1", Component::kExperts, 8, 128, 4608, 1152, true);
  const auto fp32 = backward_kernels(experts, WeightGrads::kAdd);
  const auto bf16 = backward_kernels(experts, WeightGrads::kAdd, Dtype::kBf16);
  REQUIRE(fp32.size() == 3);
  REQUIRE(bf16.size() == 3);
  const double grad_elems = 8 * 1152.0 * 4608;
  CHECK(fp32[1].bytes.value - bf16[1].bytes.value == grad_elems * 2);
  CHECK(bf16[1].added_read.value == grad_elems * 2);
  CHECK(bf16[1].dtype == "bf16_grads_bf16");
  CHECK(fp32[1].dtype == "bf16");
  CHECK(kernel_key(bf16[0]) == kernel_key(fp32[0]));
  CHECK(kernel_key(bf16[2]) == kernel_key(fp32[2]));
  const Op ragged = make_grouped_gemm("fc1", Component::kExperts, {100, 300, 0, 624}, 4608, 1152, false);
  const auto rb = backward_kernels(ragged, WeightGrads::kWrite, Dtype::kBf16);
  REQUIRE(rb.size() == 2);
  CHECK(rb[1].dtype == "bf16_grads_bf16");
  CHECK(backward_kernels(ragged)[1].bytes.value - rb[1].bytes.value == 4 * 1152.0 * 4608 * 2);
  // 128 rows per expert: the dW moves mostly its gradient, so the analytic price falls with it.
  const ComputeCostModel model = ComputeCostModel::analytic(h100());
  CHECK(model.backward(experts, WeightGrads::kAdd, Dtype::kBf16) < model.backward(experts, WeightGrads::kAdd));
}

TEST_CASE("profile files: bad ones name the file and the JSON path") {
  struct Case {
    const char* file;
    const char* where;
    const char* what;
  };
  const Case cases[] = {
      {"wrong_schema.json", "wrong_schema.json: /schema", "unsupported schema \"ecsim.profile/2\""},
      {"unknown_key.json", "unknown_key.json: /ops/1/shpe", "unknown key"},
      {"missing_time.json", "missing_time.json: /ops/0", "missing required key 'time_ns'"},
      {"p10_above_p50.json", "p10_above_p50.json: /ops/0/time_ns/p10", "p10 exceeds p50"},
      {"launch_gap_p90_below.json", "launch_gap_p90_below.json: /launch_gap_ns/p90", "p90 is below p50"},
      {"launch_gap_in_analytic.json", "launch_gap_in_analytic.json: /launch_gap_ns", "only a measured profile"},
      {"host_without_event_pair.json", "host_without_event_pair.json: /ops/1/host_ns", "event_pair_host_ns"},
      {"event_pair_in_analytic.json", "event_pair_in_analytic.json: /event_pair_host_ns",
       "only a measured profile has host times"},
      {"host_ns_zero.json", "host_ns_zero.json: /ops/2/host_ns", "must be > 0"},
      {"warm_ns_zero.json", "warm_ns_zero.json: /ops/2/warm_ns", "must be > 0"},
      {"warm_ns_on_gemm.json", "warm_ns_on_gemm.json: /ops/0/warm_ns", "only a memory-bound kernel's entry"},
      {"warm_ns_in_analytic.json", "warm_ns_in_analytic.json: /ops/2/warm_ns", "only a measured profile has warm"},
      {"gemm_missing_dim.json", "gemm_missing_dim.json: /ops/0/shape", "gemm needs exactly the dimensions k, m, n"},
      {"bad_dtype.json", "bad_dtype.json: /ops/0/dtype", "must be one of"},
      {"duplicate_entry.json", "duplicate_entry.json: /ops/3", "duplicate of /ops/0"},
      {"bad_ceiling_unit.json", "bad_ceiling_unit.json: /ceilings/hbm_bytes_per_s", "unknown bandwidth unit"},
      {"negative_ceiling.json", "negative_ceiling.json: /ceilings/bf16_matmul_flops_per_s", "must be > 0"},
      {"measured_without_samples.json", "measured_without_samples.json: /ops/2/samples", "at least 1 sample"},
      {"negative_dim.json", "negative_dim.json: /ops/1/shape/m", "must not be negative"},
      {"device_not_object.json", "device_not_object.json: /device", "must be an object"},
      {"unknown_source.json", "unknown_source.json: /source", "must be one of \"measured\", \"analytic\""},
      {"ops_not_array.json", "ops_not_array.json: /ops", "must be an array"},
      {"not_json.json", "not_json.json: /", "not valid JSON"},
      {"does_not_exist.json", "does_not_exist.json", "does not exist"},
  };
  const std::filesystem::path dir = kSource / "tests" / "bad_inputs" / "profiles";
  for (const Case& c : cases) {
    CAPTURE(c.file);
    std::string message;
    try {
      load_profile(dir / c.file);
    } catch (const InputError& e) {
      message = e.what();
    }
    CAPTURE(message);
    CHECK(message.find(c.where) != std::string::npos);
    CHECK(message.find(c.what) != std::string::npos);
  }
}

TEST_CASE("profile files: written and read back unchanged") {
  const std::vector<KernelCall> calls = {
      only_call(make_gemm("g", Component::kFfn, 1024, 4608, 1152, false)),
      only_call(make_attention("a", Component::kSelfAttention, 8, 18, 6, 128, 128, 64, false)),
      only_call(make_elementwise("gelu", "act", Component::kFfn, 1 << 20, 1, 1, 8, 1)),
  };
  Profile p = empty_h100_profile("analytic");
  for (const auto& c : calls) {
    const auto t = static_cast<double>(analytic_kernel_time(h100(), c).value);
    p.ops.push_back({c.op, c.dtype, c.shape, t, t, t, 0});
  }
  p.collectives.push_back({"all_reduce", 8, parse_bytes("256MiB"), 700e3, 710e3, 730e3});
  // A measured profile's launch gap, and none in an analytic one.
  Profile measured = p;
  measured.source = "measured";
  for (ProfileEntry& e : measured.ops) e.samples = 20;
  measured.launch_gap = ProfileLaunchGap{1400, 1550.5, 2100, 3};
  const Profile gap_back = round_trip(measured, "ecsim_compute_cost_roundtrip_gap.json");
  REQUIRE(gap_back.launch_gap.has_value());
  CHECK(gap_back.launch_gap->p10_ns == 1400);
  CHECK(gap_back.launch_gap->p50_ns == 1550.5);
  CHECK(gap_back.launch_gap->p90_ns == 2100);
  CHECK(gap_back.launch_gap->entries == 3);
  CHECK(ComputeCostModel::from_profile(gap_back, h100()).launch_gap() == Nanos{1551});
  const Profile back = round_trip(p, "ecsim_compute_cost_roundtrip.json");
  CHECK(back.device.name == "H100-SXM");
  CHECK(!back.launch_gap.has_value());
  CHECK(ComputeCostModel::from_profile(back, h100()).launch_gap() == Nanos{});
  CHECK(back.matmul_ceiling == p.matmul_ceiling);
  CHECK(back.hbm_ceiling == p.hbm_ceiling);
  REQUIRE(back.ops.size() == p.ops.size());
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    CHECK(back.ops[i].op == p.ops[i].op);
    CHECK(back.ops[i].shape == p.ops[i].shape);
    CHECK(back.ops[i].p50_ns == p.ops[i].p50_ns);
  }
  REQUIRE(back.collectives.size() == 1);
  CHECK(back.collectives[0].bytes == parse_bytes("256MiB"));
}

TEST_CASE("host times: written and read back, and priced per operator less the event pair") {
  const Op fc1 = make_gemm("g", Component::kFfn, 1024, 4608, 1152, false);
  const Op big = make_gemm("g", Component::kFfn, 16384, 4608, 1152, false);
  const Op act = make_elementwise("gelu", "act", Component::kFfn, 1 << 20, 1, 1, 8, 1);
  Profile p = empty_h100_profile("measured");
  p.event_pair_host = ProfileEventPairHost{2000, 2500, 3500};
  // Host times: a small and a large product (the nearest shape is taken), none for the dW product
  // nor for gelu (the family in another dtype, then the median over all, stand in).
  const KernelCall small_call = forward_kernels(fc1).front();
  const KernelCall big_call = forward_kernels(big).front();
  p.ops.push_back({small_call.op, small_call.dtype, small_call.shape, 9e3, 1e4, 11e3, 20, 12500});
  p.ops.push_back({big_call.op, big_call.dtype, big_call.shape, 9e4, 1e5, 11e4, 20, 14500});
  const KernelCall gelu_call = forward_kernels(act).front();
  p.ops.push_back({gelu_call.op, "fp32", gelu_call.shape, 4e3, 5e3, 6e3, 20, 6500.25, 3900.5});

  const Profile back = round_trip(p, "ecsim_compute_cost_host.json");
  REQUIRE(back.event_pair_host.has_value());
  CHECK(back.event_pair_host->p50_ns == 2500);
  CHECK(back.event_pair_host->p90_ns == 3500);
  REQUIRE(back.ops.size() == 3);
  CHECK(back.ops[0].host_ns == 12500);
  CHECK(back.ops[2].host_ns == 6500.25);
  // A memory-bound entry's warm time (the L2-resident re-run), kept; none on the others.
  CHECK(back.ops[2].warm_ns == 3900.5);
  CHECK(back.ops[0].warm_ns == 0);

  ComputeCostModel model = ComputeCostModel::from_profile(back, h100());
  CHECK(model.prices_host());
  CHECK(model.description().find("the host's launch times from it") != std::string::npos);
  CHECK(model.host_forward(fc1) == Nanos{10000});  // 12.5 us less the 2.5 us event pair
  CHECK(model.host_forward(big) == Nanos{12000});
  // gelu: no bf16 entry, the fp32 one stands in.
  CHECK(model.host_forward(act) == Nanos{4000});
  // A backward of dX (a gemm: its nearest entry, 10 us) and dW (no gemm_wgrad entry: the median
  // of all three entries, 12.5 us, less the pair: 10 us).
  REQUIRE(backward_kernels(fc1).size() == 2);
  CHECK(model.host_backward(fc1) == Nanos{20000});
  // Timed as the runner times them: one event pair per operator, whatever its calls.
  model.time_operators(true);
  CHECK(model.host_forward(fc1) == Nanos{12500});
  CHECK(model.host_backward(fc1) == Nanos{22500});

  // Without host times (an analytic profile, or a measured one from before them): nothing.
  const ComputeCostModel analytic = ComputeCostModel::from_profile(h100_analytic_profile(), h100());
  CHECK(!analytic.prices_host());
  CHECK(analytic.host_forward(fc1) == Nanos{});
  CHECK(ComputeCostModel::analytic(h100()).host_backward(fc1) == Nanos{});
}

TEST_CASE("pricing from a profile: inside the measured range from neighbours, above it at the top's rate, "
          "below it at the bottom's, outside analytic") {
  const GpuSpec gpu = h100();
  const ComputeCostModel model = ComputeCostModel::from_profile(h100_analytic_profile(), gpu);
  CHECK(model.description().find("h100-sxm-analytic.json (analytic, H100-SXM") != std::string::npos);

  // A shape in the profile is priced as its entry: the analytic time, from the profile.
  const Op listed = make_batched_gemm("e", Component::kExperts, 8, 512, 12288, 3072, false);
  CHECK(model.forward(listed) == analytic_kernel_time(gpu, forward_kernels(listed).front()));
  CHECK(model.stats().from_profile == 1);
  CHECK(model.stats().from_roofline == 0);

  // Between swept shapes (700 tokens per expert lies between 512 and 1024): interpolated, and
  // within 3% of the analytic model it was made from.
  const Op between = make_batched_gemm("e", Component::kExperts, 8, 700, 12288, 3072, false);
  CHECK(ns(model.forward(between)) ==
        doctest::Approx(ns(analytic_kernel_time(gpu, forward_kernels(between).front()))).epsilon(0.03));
  CHECK(model.stats().from_profile == 2);

  // Far above the sweep (a million tokens per expert, the sweep ends at 16384): at the top entry's
  // efficiency, counted apart; the analytic model the profile was made from has saturated there.
  const Op above = make_batched_gemm("e", Component::kExperts, 8, 1 << 20, 12288, 3072, false);
  CHECK(ns(model.forward(above)) ==
        doctest::Approx(ns(analytic_kernel_time(gpu, forward_kernels(above).front()))).epsilon(0.03));
  CHECK(model.stats().beyond_profile == 1);
  CHECK(model.stats().from_profile == 2);

  // Below every sweep (2 tokens per expert, the sweeps start at 16): at the 16-token entry's
  // efficiency against the roofline, counted apart. The 8 experts' weights (604 MB) bound both
  // shapes, so the roofline barely moves and the time is about the 16-token entry's.
  const Op below = make_batched_gemm("e", Component::kExperts, 8, 2, 12288, 3072, false);
  const Op bottom = make_batched_gemm("e", Component::kExperts, 8, 16, 12288, 3072, false);
  const double bottom_ns = ns(analytic_kernel_time(gpu, forward_kernels(bottom).front()));
  const double below_ns = ns(model.forward(below));
  CHECK(below_ns < bottom_ns);
  CHECK(below_ns > 0.95 * bottom_ns);
  CHECK(model.stats().below_profile == 1);
  CHECK(model.stats().from_roofline == 0);

  // A family the profile has no entry of (the LLMs' SwiGLU): the analytic fallback, counted with
  // its family and shape.
  const Op swiglu = make_elementwise("swiglu", "ffn.act", Component::kFfn, 1 << 20, 2, 1, 1, 0);
  CHECK(model.forward(swiglu) == analytic_kernel_time(gpu, forward_kernels(swiglu).front()));
  CHECK(model.stats().from_roofline == 1);
  REQUIRE(model.stats().outside.size() == 1);
  CHECK(model.stats().outside.begin()->second.op == "swiglu");
  CHECK(model.stats().outside.begin()->second.first_shape.at("elements") == 1 << 20);
  CHECK(describe_outside(model.stats().outside) == "swiglu (bf16) x1, e.g. elements 1048576");

  // Optimizer steps: swept over 2^20..2^32 parameters, so 1e9 is interpolated (the time is
  // linear in the parameters past the launch: within 1% of the analytic value).
  const double analytic_step = ns(analytic_kernel_time(gpu, optimizer_kernel(1e9)));
  CHECK(ns(model.optimizer_step(1e9)) == doctest::Approx(analytic_step).epsilon(0.01));
  CHECK(model.stats().from_profile == 3);
  CHECK(model.optimizer_step(0) == Nanos{});
}

TEST_CASE("pricing above a profile's sweep: at its top entry's rate where the rate has saturated, else analytic") {
  // A measured-looking profile, made by hand: AdamW with a launch-bound start (2^10 and 2^12
  // parameters both take 5 us) and a bandwidth-bound end (2^26 to 2^28 at 2 parameters per ns);
  // a GEMM sweep along m at a constant 40% of the matmul ceiling.
  const GpuSpec gpu = h100();
  Profile p;
  p.source = "measured";
  p.device = {"NVIDIA H100 80GB HBM3", 132, parse_bytes("80GB"), 1980, "580", "13.0"};
  p.matmul_ceiling = gpu.matmul_ceiling;
  p.hbm_ceiling = gpu.hbm_ceiling;
  auto entry = [&](const KernelCall& c, double t) { p.ops.push_back({c.op, c.dtype, c.shape, t, t, t, 20}); };
  entry(optimizer_kernel(1 << 10), 5000);
  entry(optimizer_kernel(1 << 12), 5000);
  entry(optimizer_kernel(1 << 26), 0.5 * (1 << 26));
  entry(optimizer_kernel(1 << 28), 0.5 * (1 << 28));
  auto gemm_at = [](std::int64_t m) { return only_call(make_gemm("g", Component::kFfn, m, 4608, 1152, false)); };
  const double flops_per_ns = 0.4 * gpu.matmul_ceiling.value / 1e9;
  for (const std::int64_t m : {1024, 2048, 4096}) entry(gemm_at(m), gemm_at(m).flops.value / flops_per_ns);

  const ComputeCostModel model = ComputeCostModel::from_profile(p, gpu);
  // Above the bandwidth-bound end: time with parameters (3 billion take 3e9 / 2^28 of the top's).
  CHECK(ns(model.optimizer_step(3e9)) == doctest::Approx(0.5 * 3e9).epsilon(1e-6));
  CHECK(model.stats().beyond_profile == 1);
  // Above the GEMM sweep: the same efficiency, so twice the FLOPs take twice the time.
  CHECK(ns(model.kernel(gemm_at(8192))) == doctest::Approx(gemm_at(8192).flops.value / flops_per_ns).epsilon(1e-6));
  CHECK(model.stats().beyond_profile == 2);
  // Below the sweep: AdamW continues its first step, flat (launch-bound) at 5 us; the GEMM keeps
  // its smallest entry's 40% of the roofline, which at 256 rows is its bytes at the HBM ceiling.
  CHECK(ns(model.optimizer_step(256)) == doctest::Approx(5000).epsilon(1e-6));
  const double gemm_256_bytes = 2.0 * (256 * 1152 + 1152 * 4608 + 256 * 4608);
  const double gemm_256_roofline_ns = std::max(gemm_at(256).flops.value / (gpu.matmul_ceiling.value / 1e9),
                                               gemm_256_bytes / (gpu.hbm_ceiling.value / 1e9));
  CHECK(ns(model.kernel(gemm_at(256))) == doctest::Approx(gemm_256_roofline_ns / 0.4).epsilon(1e-3));
  CHECK(model.stats().below_profile == 2);
  CHECK(model.stats().from_roofline == 0);
  // Below a bandwidth-bound first step: proportional to the work (2^24 parameters take a quarter
  // of 2^26's time), and no faster than the bytes at the copy ceiling.
  Profile bandwidth_bound = p;
  bandwidth_bound.ops.erase(bandwidth_bound.ops.begin(), bandwidth_bound.ops.begin() + 2);
  const ComputeCostModel on_bandwidth = ComputeCostModel::from_profile(bandwidth_bound, gpu);
  CHECK(ns(on_bandwidth.optimizer_step(1 << 24)) == doctest::Approx(0.5 * (1 << 24)).epsilon(1e-6));
  CHECK(on_bandwidth.stats().below_profile == 1);

  // A sweep that ends launch-bound (time flat in the work): a memory-bound kernel is carried flat
  // above it, until its bytes at the copy ceiling take longer.
  Profile flat = p;
  flat.ops.resize(2);
  const ComputeCostModel on_flat = ComputeCostModel::from_profile(flat, gpu);
  CHECK(ns(on_flat.optimizer_step(1e5)) == doctest::Approx(5000).epsilon(1e-6));
  const KernelCall big = optimizer_kernel(1e9);
  CHECK(on_flat.optimizer_step(1e9) == to_nanos(transfer_time(big.bytes, gpu.hbm_ceiling)));
  CHECK(on_flat.stats().beyond_profile == 2);
  CHECK(on_flat.stats().from_roofline == 0);
  // A GEMM sweep whose efficiency still changes at its top: nothing to carry above it.
  Profile rising = p;
  rising.ops.back().p50_ns *= 1.5;
  const ComputeCostModel on_rising = ComputeCostModel::from_profile(rising, gpu);
  CHECK(on_rising.kernel(gemm_at(8192)) == analytic_kernel_time(gpu, gemm_at(8192)));
  CHECK(on_rising.stats().from_roofline == 1);
  // One size only: no step to show a saturated rate.
  Profile single = p;
  single.ops = {p.ops[3]};
  const ComputeCostModel on_single = ComputeCostModel::from_profile(single, gpu);
  CHECK(on_single.optimizer_step(3e9) == analytic_kernel_time(gpu, optimizer_kernel(3e9)));
  // The leave-one-out check prices from neighbours only: the ends of a sweep stay outside.
  const LeaveOneOutResult loo = leave_one_out(p);
  CHECK(loo.outside == 4);  // each sweep's two ends
}

TEST_CASE("pricing a memory-bound kernel: along its work at its own widths, between two widths, else over every "
          "width") {
  // adaLN-LayerNorm at two widths whose entries share their work two by two (4096 x 1152 and
  // 1536 x 3072 are both 4718592 elements; 16384 x 1152 and 6144 x 3072 both 18874368), the
  // narrower rows slower, as an H200 measured them (48.8 against 34.6 us at 18874368).
  Profile p = empty_h100_profile("measured");
  auto norm = [](std::int64_t tokens, std::int64_t hidden) { return OpShape{{"tokens", tokens}, {"hidden", hidden}}; };
  auto entry = [&](const std::string& op, const OpShape& shape, double t) {
    p.ops.push_back({op, "bf16", shape, t, t, t, 20});
  };
  entry("adaln_layernorm", norm(4096, 1152), 16000);
  entry("adaln_layernorm", norm(16384, 1152), 48000);
  entry("adaln_layernorm", norm(1536, 3072), 13000);
  entry("adaln_layernorm", norm(6144, 3072), 34000);
  // `layernorm` keyed by elements, as profiles made before the seventh session of 2026-11-28 have it.
  entry("layernorm", {{"elements", 4718592}}, 10000);
  entry("layernorm", {{"elements", 18874368}}, 30000);
  const ProfileIndex index(p);
  auto price = [&](const std::string& op, const OpShape& shape) {
    const std::optional<double> t = index.price_ns(op, "bf16", shape);
    REQUIRE(t);
    return *t;
  };
  // Log time linear in log size between a and b (sizes xa < x < xb).
  auto between = [](double xa, double ta, double x, double xb, double tb) {
    return ta * std::pow(tb / ta, std::log(x / xa) / std::log(xb / xa));
  };

  // At a measured shape: its own entry, not the mean of the two widths of its work (40398 ns).
  CHECK(price("adaln_layernorm", norm(16384, 1152)) == doctest::Approx(48000));
  CHECK(price("adaln_layernorm", norm(1536, 3072)) == doctest::Approx(13000));
  // Along the tokens of its width.
  CHECK(price("adaln_layernorm", norm(8192, 1152)) == doctest::Approx(between(4096, 16000, 8192, 16384, 48000)));
  // A width between two swept ones: at the call's work along each width's sweep, then in log width.
  const double work = 4096.0 * 2048;
  const double at_1152 = between(4718592, 16000, work, 18874368, 48000);
  const double at_3072 = between(4718592, 13000, work, 18874368, 34000);
  CHECK(price("adaln_layernorm", norm(4096, 2048)) == doctest::Approx(between(1152, at_1152, 2048, 3072, at_3072)));
  // A width outside them: along the work over both widths (the geometric mean at each size).
  const double low = std::sqrt(16000.0 * 13000.0), high = std::sqrt(48000.0 * 34000.0);
  CHECK(price("adaln_layernorm", norm(2048, 4096)) ==
        doctest::Approx(between(4718592, low, 2048.0 * 4096, 18874368, high)));
  // Entries keyed by elements price a call keyed by tokens and width along the work.
  CHECK(price("layernorm", norm(8192, 1152)) ==
        doctest::Approx(between(4718592, 10000, 8192.0 * 1152, 18874368, 30000)));
  // Token choice's routing at top 2 from the top-2 sweep, not the mean of both (an H200's: 20.5 us
  // for 8192 tokens over 8 experts at top 1, 28.7 at top 2).
  auto route = [](std::int64_t tokens, std::int64_t top_k) {
    return OpShape{{"tokens", tokens}, {"experts", 8}, {"top_k", top_k}};
  };
  entry("tc_route", route(4096, 1), 16700);
  entry("tc_route", route(8192, 1), 20500);
  entry("tc_route", route(4096, 2), 19300);
  entry("tc_route", route(8192, 2), 28700);
  const ProfileIndex with_routes(p);
  CHECK(*with_routes.price_ns("tc_route", "bf16", route(8192, 2)) == doctest::Approx(28700));
  CHECK(*with_routes.price_ns("tc_route", "bf16", route(6144, 2)) ==
        doctest::Approx(between(4096 * 8, 19300, 6144 * 8, 8192 * 8, 28700)));

  // A kernel that streams its tensor as flat (the bias added after a product) keeps one sweep over
  // every width: two entries of equal work are one size, priced at their geometric mean.
  auto bias = [](std::int64_t rows, std::int64_t n) { return OpShape{{"rows", rows}, {"n", n}}; };
  entry("bias_add", bias(1024, 1152), 9000);
  entry("bias_add", bias(64, 18432), 8000);
  const ProfileIndex with_bias(p);
  CHECK(*with_bias.price_ns("bias_add", "bf16", bias(1024, 1152)) == doctest::Approx(std::sqrt(9000.0 * 8000.0)));

  // The committed H200 profile prices XL's adaLN-LayerNorm over 64 images of 256 tokens as measured
  // (before the seventh session of 2026-11-28: 41.1 us, between it and M's 6144 x 3072; the runner took 49.7).
  const Profile h200 = load_profile(kSource / "profiles" / "h200-sxm.json");
  const ProfileIndex measured(h200);
  int found = 0;
  for (const ProfileEntry& e : h200.ops) {
    if (e.op == "adaln_layernorm" && e.shape == norm(16384, 1152)) {
      CHECK(*measured.price_ns(e.op, e.dtype, e.shape) == doctest::Approx(e.p50_ns));
      ++found;
    }
  }
  CHECK(found == 1);
}

TEST_CASE("the optimizer's update moves the bytes its recipe's dtypes say, under a key of its own") {
  // fp32 masters and moments: read master, gradient, m, v (16 B), write master, m, v (12 B) and the
  // bf16 copy (2 B). bf16 weights and moments, fp32 gradient: read 2 + 4 + 2 + 2, write 2 + 2 + 2.
  const KernelCall fp32 = optimizer_kernel(1e6);
  CHECK(fp32.bytes.value == doctest::Approx(30e6));
  CHECK(fp32.dtype == "fp32");
  OptimizerSpec bf16;
  bf16.master = Dtype::kBf16;
  bf16.moments = Dtype::kBf16;
  const KernelCall b = optimizer_kernel(1e6, bf16);
  CHECK(b.bytes.value == doctest::Approx(16e6));
  CHECK(b.dtype == "bf16");
  CHECK(kernel_key(b) != kernel_key(fp32));
  // A recipe the runner does not keep still gets its bytes: fp32 masters, bf16 moments and
  // gradients: read 4 + 2 + 2 + 2, write 4 + 2 + 2 and the bf16 copy 2.
  OptimizerSpec mixed;
  mixed.moments = Dtype::kBf16;
  mixed.grads = Dtype::kBf16;
  const KernelCall m = optimizer_kernel(1e6, mixed);
  CHECK(m.bytes.value == doctest::Approx(20e6));
  CHECK(m.dtype == "master_fp32_moments_bf16_grads_bf16");
  // The H100 analytic profile holds both recipes the runner keeps: the bf16 one prices below.
  const ComputeCostModel model = ComputeCostModel::from_profile(h100_analytic_profile(), h100());
  CHECK(model.optimizer_step(1e9, bf16) < model.optimizer_step(1e9));
  CHECK(model.stats().from_roofline == 0);
}

TEST_CASE("a profile made on another card than the scenario's GPU says so") {
  const GpuSpec h100_row = h100();
  ProfileDevice measured{"NVIDIA H100 80GB HBM3", 132, parse_bytes("80GB"), 1980, "550.54", "12.4"};
  CHECK(profile_device_mismatch(measured, h100_row).empty());
  CHECK(profile_device_mismatch({"H100-SXM", 132, parse_bytes("80GB"), 0, "", ""}, h100_row).empty());  // analytic
  CHECK(profile_device_mismatch(measured, *find_gpu("H200-SXM")) ==
        "made on NVIDIA H100 80GB HBM3, not an H200-SXM: its times price another card");
  measured.name = "NVIDIA H100 PCIe";
  CHECK_FALSE(profile_device_mismatch(measured, h100_row).empty());  // PCIe clocks and HBM2e, not SXM's

  // The description carries the warning, so every summary and JSON that names the costs shows it.
  const ComputeCostModel on_a100 = ComputeCostModel::from_profile(h100_analytic_profile(), *find_gpu("A100-SXM-80GB"));
  CHECK(on_a100.description().find("WARNING: made on H100-SXM, not an A100-SXM-80GB") != std::string::npos);
  CHECK(ComputeCostModel::from_profile(h100_analytic_profile(), h100_row).description().find("WARNING") ==
        std::string::npos);
}

TEST_CASE("pricing from a profile: the default scenario's kernels all lie inside the analytic profile") {
  // EC-DiT-M-64E training, TP 2, EP 64, 8 images per micro-batch (scenarios/ecdit-m-64e-train.json).
  const Scenario s = default_scenario();
  REQUIRE(s.layout);
  OpContext ctx;
  ctx.samples = s.layout->mbs;
  ctx.tp = s.layout->tp;
  ctx.ep = s.layout->ep;
  const ComputeCostModel model = ComputeCostModel::from_profile(h100_analytic_profile(), h100());
  Nanos step;
  for (const Op& op : model_ops(s.model, ctx)) step += model.forward(op) + model.backward(op);
  CHECK(model.stats().from_roofline == 0);
  CHECK(model.stats().beyond_profile == 0);
  CHECK(model.stats().below_profile == 0);
  CHECK(model.stats().from_profile > 0);
  MESSAGE("default scenario, one micro-batch forward+backward on H100 (analytic profile): "
          << format_duration(to_seconds(step), 4) << " over " << model.stats().from_profile << " kernel calls");
}

TEST_CASE("leave-one-out: the committed H100 analytic profile predicts each entry from the others") {
  // Each entry dropped and priced from the rest; entries at the ends of every sweep through them
  // have no bracketing neighbours left and are counted, not scored.
  const LeaveOneOutResult r = leave_one_out(h100_analytic_profile());
  std::ostringstream report;
  print_leave_one_out(r, report);
  MESSAGE("leave-one-out over profiles/h100-sxm-analytic.json: " << report.str());
  CHECK(r.predicted >= r.entries * 3 / 4);
  CHECK(r.median <= 0.05);
  CHECK(r.p90 <= 0.15);
}

TEST_CASE("leave-one-out: every committed measured profile predicts each entry from the others") {
  // Issue 4's bar for a profile measured on a GPU (profiles/run_on_gpu.sh writes profiles/<gpu>.json,
  // source "measured"): median error at most 5%, 90th percentile at most 15%. Reported as skipped
  // by ctest (tests/CMakeLists.txt) until such a profile is committed.
  std::vector<std::filesystem::path> measured;
  for (const auto& entry : std::filesystem::directory_iterator(kSource / "profiles")) {
    if (entry.path().extension() != ".json") continue;
    if (load_profile(entry.path()).source == "measured") measured.push_back(entry.path());
  }
  if (measured.empty()) {
    std::cout << "skipped until committed: no measured profile in profiles/ yet\n";
    return;
  }
  for (const std::filesystem::path& file : measured) {
    CAPTURE(file);
    const LeaveOneOutResult r = leave_one_out(load_profile(file));
    std::ostringstream report;
    print_leave_one_out(r, report);
    MESSAGE("leave-one-out over " << file.filename().string() << ": " << report.str());
    CHECK(r.predicted >= r.entries / 2);
    CHECK(r.median <= 0.05);
    CHECK(r.p90 <= 0.15);
    // The sweeps' end entries, each priced from the next one in as a call past that end is: a
    // whole step out, the hardest case of that pricing. The H100 and H200 profiles (2026-11-27/28):
    // the smallest at a median of 8.2 and 9.4% (the analytic model 39 and 35%), the largest 3.7
    // and 2.6%. Bars with room for another card's profile, not for a return to the roofline.
    CHECK(r.below.predicted >= r.outside / 2);
    CHECK(r.below.median <= 0.15);
    CHECK(r.above.median <= 0.10);
  }
}
