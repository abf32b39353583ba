// The collective check (simulator/comm/collective_check.hpp) and the calibration built from it
// (collective_calibration.hpp: measured / model ratios, interpolated in log bytes, in-node groups
// only, carried into the simulated step) over a synthetic profile whose
// "measured" times come from bus bandwidths chosen by hand, on a one-node H100 cluster written
// out here (450 GB/s NVLink per direction, 1.5 us hop, NVLink SHARP). What the model predicts
// there, from comm_constants.cpp (tuning.cc's tables), with S = 1 GiB and 8 ranks:
//   ring and direct, Simple: bus rate R = 450 GB/s x 20.6/25 = 370.8 GB/s (NCCL's NVLink 4 rate);
//     all-gather and reduce-scatter move 7/8 S at R, 2533.78 us, after 8.4 + 7 x 3.4 = 32.2 us;
//     all-to-all moves 7/8 S at R after 8.4 + 3.4 = 11.8 us (one direct step).
//   NVLS all-reduce: S x 9/8 at 480 x 9/14 GB/s (the 480 GB/s bus rate of ANCHORS.md), 3914.68 us,
//     after one 23 us step: 3937.68 us (the ring's 5123.6 us loses).
//   all-gather of 8 KiB over 2 ranks, LL: 6.6 + 0.6 us + 4 KiB at the 87.7 GB/s LL cap = 7.2467 us.
// measured time = nccl-tests bytes / bus bandwidth; error = predicted / measured - 1.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "comm/collective_calibration.hpp"
#include "comm/collective_check.hpp"
#include "engine/event_engine.hpp"
#include "engine/step_builder.hpp"
#include "hardware/gpu.hpp"
#include "parallel/layout_plan.hpp"
#include "scenario/scenario.hpp"

using namespace ecsim;

namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kMiB = 1024.0 * 1024;
const std::filesystem::path kSource{ECSIM_SOURCE_DIR};
constexpr double kRing = 370.8e9;  // bytes/s

ClusterSpec one_h100_node() {
  ClusterSpec c;
  c.name = "one H100 node";
  c.gpu = *find_gpu("H100-SXM");
  c.gpus = 8;
  c.gpus_per_node = 8;
  c.nvlink = {parse_bandwidth("450GBps"), parse_duration("1.5us"), true};
  return c;
}

// An entry measured at `busbw` bytes/s: nccl-tests' time for `bytes` over `ranks` (factor: 2(n-1)/n
// for all-reduce, (n-1)/n for the others).
ProfileCollective measured_at(const char* op, std::int64_t ranks, double bytes, double factor, double busbw) {
  const double ns = bytes * factor / busbw * 1e9;
  return {op, ranks, Bytes{bytes}, ns * 0.95, ns, ns * 1.1};
}

}  // namespace

TEST_CASE("collective check: predicted over measured, from known bus bandwidths") {
  const double f8 = 7.0 / 8.0;
  const std::vector<ProfileCollective> profile = {
      measured_at("all_gather", 8, kGiB, f8, kRing),               // the model's own rate: +32.2/2533.78
      measured_at("reduce_scatter", 8, kGiB, f8, 0.8 * kRing),      // 3167.22 us measured
      measured_at("all_reduce", 8, kGiB, 2 * f8, 400e9),            // 4697.62 us measured
      measured_at("all_to_all", 8, kGiB, f8, 1.25 * kRing),         // 2027.02 us measured
      {"all_gather", 2, Bytes{8192}, 9e3, 10e3, 12e3},              // 10 us measured
      {"broadcast", 8, Bytes{kGiB}, 1e6, 2e6, 3e6},                 // no such collective in the model
      {"all_reduce", 16, Bytes{kGiB}, 1e6, 2e6, 3e6},               // more ranks than a node holds
  };
  const CollectiveCheck check = check_collectives(profile, one_h100_node());
  REQUIRE(check.rows.size() == 5);
  CHECK(check.unmodelled.size() == 2);

  CHECK(check.rows[0].predicted_ns == doctest::Approx((2533.776 + 32.2) * 1e3).epsilon(1e-5));
  CHECK(check.rows[0].error == doctest::Approx(32.2 / 2533.776).epsilon(1e-4));           // +1.27%
  CHECK(check.rows[1].error == doctest::Approx(2565.976 / 3167.220 - 1).epsilon(1e-5));   // -18.98%
  CHECK(check.rows[2].predicted.algorithm == Algorithm::kNvls);
  CHECK(check.rows[2].error == doctest::Approx(3937.684 / 4697.620 - 1).epsilon(1e-5));   // -16.18%
  CHECK(check.rows[3].predicted.algorithm == Algorithm::kDirect);
  CHECK(check.rows[3].error == doctest::Approx(2545.576 / 2027.021 - 1).epsilon(1e-5));   // +25.58%
  CHECK(check.rows[4].predicted.protocol == Protocol::kLl);
  CHECK(check.rows[4].error == doctest::Approx(7.2467 / 10 - 1).epsilon(1e-4));           // -27.53%
  // |errors| sorted: 1.27, 16.18, 18.98, 25.58, 27.53 (%): the median is the reduce-scatter's.
  CHECK(check.median_abs_error == doctest::Approx(std::fabs(check.rows[1].error)));
  CHECK(check.median_abs_error == doctest::Approx(0.18983).epsilon(1e-4));

  std::ostringstream table;
  print_collective_check(check, table);
  MESSAGE(table.str());
  CHECK(table.str().find("median |error| over 5 entries: 19.0%") != std::string::npos);
  CHECK(table.str().find("not priced: broadcast") != std::string::npos);
}

TEST_CASE("collective check: the same over the profile file the profiler writes and reads back") {
  // ecsim-profile checks the profile it reread (load_profile), so measured, fractional times must
  // survive the file: every field, and so every error, comes back the same.
  Profile p;
  p.source = "measured";
  p.device = {"NVIDIA H100 80GB HBM3", 132, parse_bytes("80GiB"), 1980, "580.00", "13.0"};
  p.created = "2026-01-01T00:00:00Z";
  p.git_sha = "test";
  p.command = "collective_check_test";
  p.matmul_ceiling = parse_flops_rate("750TFLOPS");
  p.hbm_ceiling = parse_bandwidth("3TBps");
  p.ops.push_back({"gelu", "bf16", {{"elements", 1 << 20}}, 10.5, 11.25, 12.75, 20});
  p.collectives = {measured_at("all_gather", 8, kGiB, 7.0 / 8.0, kRing),
                   measured_at("all_reduce", 2, 65536, 1.0, 123.4e9)};
  const auto file = std::filesystem::temp_directory_path() / "ecsim_collective_check_roundtrip.json";
  write_profile(file, p);
  const Profile back = load_profile(file);
  std::filesystem::remove(file);
  REQUIRE(back.collectives.size() == p.collectives.size());
  const CollectiveCheck before = check_collectives(p.collectives, one_h100_node());
  const CollectiveCheck after = check_collectives(back.collectives, one_h100_node());
  for (std::size_t i = 0; i < p.collectives.size(); ++i) {
    const ProfileCollective &a = p.collectives[i], &b = back.collectives[i];
    CHECK(b.op == a.op);
    CHECK(b.ranks == a.ranks);
    CHECK(b.bytes == a.bytes);
    CHECK(b.p10_ns == doctest::Approx(a.p10_ns).epsilon(1e-12));
    CHECK(b.p50_ns == doctest::Approx(a.p50_ns).epsilon(1e-12));
    CHECK(b.p90_ns == doctest::Approx(a.p90_ns).epsilon(1e-12));
    CHECK(after.rows[i].error == doctest::Approx(before.rows[i].error).epsilon(1e-12));
  }
}

TEST_CASE("collective check: op names map back to the model's collectives") {
  for (auto k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                 CollectiveKind::kAllToAll, CollectiveKind::kSendRecv}) {
    CHECK(collective_kind(collective_name(k)) == k);
  }
  CHECK_FALSE(collective_kind("broadcast").has_value());
}

namespace {

double model_ns(const ClusterSpec& c, CollectiveKind kind, double bytes, CommGroup group) {
  return plan_collective(c, kind, Bytes{bytes}, group).time_alone().value * kNanosPerSecond;
}

// An entry measured at `ratio` times the model's time on `cluster`.
ProfileCollective measured_ratio(const ClusterSpec& c, CollectiveKind kind, std::int64_t ranks, double bytes,
                                 double ratio) {
  const double ns = ratio * model_ns(c, kind, bytes, {ranks, ranks});
  return {collective_name(kind), ranks, Bytes{bytes}, ns, ns, ns};
}

}  // namespace

TEST_CASE("collective calibration: measured / model, interpolated in log bytes, for in-node groups only") {
  const ClusterSpec node = one_h100_node();
  const auto ag = CollectiveKind::kAllGather;
  // all_gather over 8 ranks measured at 2x the model at 1 MiB and 1.5x at 16 MiB.
  const CollectiveCalibration cal({measured_ratio(node, ag, 8, kMiB, 2.0), measured_ratio(node, ag, 8, 16 * kMiB, 1.5)},
                                  node);
  CHECK(cal.calibrated_groups() == 1);
  const CommGroup eight{8, 8};
  CHECK(*cal.ratio(ag, Bytes{kMiB}, eight) == doctest::Approx(2.0));
  CHECK(*cal.ratio(ag, Bytes{16 * kMiB}, eight) == doctest::Approx(1.5));
  CHECK(*cal.ratio(ag, Bytes{4 * kMiB}, eight) == doctest::Approx(1.75));    // log2 midway: 22 of 20..24
  CHECK(*cal.ratio(ag, Bytes{256 * 1024}, eight) == doctest::Approx(2.0));   // below: the nearest size's
  CHECK(*cal.ratio(ag, Bytes{kGiB}, eight) == doctest::Approx(1.5));         // above: the nearest size's
  CHECK_FALSE(cal.ratio(ag, Bytes{kMiB}, {16, 8}));                          // spans two nodes
  CHECK_FALSE(cal.ratio(ag, Bytes{kMiB}, {4, 4}));                           // 4 ranks were not measured
  CHECK_FALSE(cal.ratio(CollectiveKind::kAllReduce, Bytes{kMiB}, eight));    // nor was all_reduce
  // The calibrated plan takes ratio x the model's time: latency and every phase scaled.
  const CollectivePlan model = plan_collective(node, ag, Bytes{4 * kMiB}, eight);
  const CollectivePlan calibrated = cal.apply(model, Bytes{4 * kMiB}, eight);
  CHECK(calibrated.time_alone().value == doctest::Approx(1.75 * model.time_alone().value));
  CHECK(calibrated.algorithm == model.algorithm);
  CHECK(cal.apply(model, Bytes{4 * kMiB}, {16, 8}).time_alone().value == model.time_alone().value);
}

TEST_CASE("a profile's measured collectives price the simulated step's in-node collectives") {
  // xl-dense-tp2: tensor parallel over 2 GPUs of one node, whose all-gathers and reduce-scatters
  // sit in the step's dependency chain. Measured 3x slower than the model, the step is slower; a
  // profile without collectives prices the step exactly as before.
  const Scenario s = load_scenario(kSource / "tests" / "golden" / "xl-dense-tp2.json");
  const LayoutPlan p = plan_layout(s);
  Profile profile = load_profile(kSource / "profiles" / "h100-sxm-analytic.json");
  const ComputeCostModel plain = ComputeCostModel::from_profile(profile, s.cluster->gpu, &*s.cluster);
  CHECK(plain.collective_calibration() == nullptr);
  for (const double bytes : {64 * 1024.0, kMiB, 16 * kMiB, 256 * kMiB}) {
    for (const CollectiveKind k : {CollectiveKind::kAllGather, CollectiveKind::kReduceScatter}) {
      profile.collectives.push_back(measured_ratio(*s.cluster, k, 2, bytes, 3.0));
    }
  }
  const ComputeCostModel measured = ComputeCostModel::from_profile(profile, s.cluster->gpu, &*s.cluster);
  REQUIRE(measured.collective_calibration() != nullptr);
  CHECK(measured.description().find("measured collectives calibrate 2 (op, ranks) groups") != std::string::npos);
  const Nanos before = run_engine(build_step_graph(s, p, plain)).makespan;
  const Nanos after = run_engine(build_step_graph(s, p, measured)).makespan;
  CHECK(after > before);
  CHECK(run_engine(build_step_graph(s, p, ComputeCostModel::from_profile(profile, s.cluster->gpu))).makespan ==
        before);  // without a cluster, no calibration
}
