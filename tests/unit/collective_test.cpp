// Collective costs (simulator/comm/): the plan's arithmetic, NCCL's choice of the cheapest
// algorithm, and theory checks against the public nccl-tests figures of ANCHORS.md, each printing
// its deviation. Bus bandwidth is nccl-tests': algbw x 2(n-1)/n for all-reduce, x (n-1)/n for
// all-gather, reduce-scatter and all-to-all, with n the ranks of the whole communicator.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <utility>

#include "comm/collective.hpp"
#include "comm/comm_constants.hpp"
#include "core/errors.hpp"
#include "core/json_input.hpp"

using namespace ecsim;

namespace {

ClusterSpec load_cluster(const std::string& name) {
  return parse_cluster(
      Node::root(load_json_file(std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "clusters" / name)));
}

const Bytes kGiB = parse_bytes("1GiB");
double in_gbps(BytesPerSecond b) { return b.value / parse_bandwidth("1GBps").value; }
double in_us(Seconds s) { return s.value / parse_duration("1us").value; }

CommGroup group(std::int64_t ranks, std::int64_t per_node) { return CommGroup{ranks, per_node}; }

BytesPerSecond busbw(const ClusterSpec& c, CollectiveKind k, Bytes buffer, const CommGroup& g) {
  return bus_bandwidth(k, buffer, g.ranks, plan_collective(c, k, buffer, g).time_alone());
}

// A theory check: prints model, reference and deviation, and holds the deviation to `tolerance`.
void check_against(const std::string& what, double model, double reference, double tolerance) {
  const double deviation = model / reference - 1;
  MESSAGE(what << ": model " << model << ", reference " << reference << ", deviation " << deviation * 100 << "%");
  CHECK(std::abs(deviation) <= tolerance);
}

}  // namespace

TEST_CASE("collective: one rank or zero bytes cost nothing") {
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (auto k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kAllToAll,
                 CollectiveKind::kSendRecv}) {
    const CollectivePlan one = plan_collective(c, k, kGiB, group(1, 1));
    CHECK(one.phases.empty());
    CHECK(one.latency.value == 0);
    CHECK(one.time_alone().value == 0);
    CHECK(plan_collective(c, k, Bytes{}, group(16, 8)).time_alone().value == 0);
  }
  CHECK(plan_alltoallv(c, {kGiB, Bytes{}, Bytes{}}, 0, group(3, 1)).time_alone().value == 0);  // only to itself
}

TEST_CASE("collective: time_alone = latency + sum over stages of the slowest overlapping phase") {
  CollectivePlan plan;
  plan.latency = parse_duration("10us");
  plan.phases = {{Tier::kNvlink, parse_bytes("1GB"), parse_bandwidth("100GBps"), false},   // 10 ms
                 {Tier::kNetwork, parse_bytes("2GB"), parse_bandwidth("50GBps"), true},    // 40 ms, alongside
                 {Tier::kNvlink, parse_bytes("1GB"), parse_bandwidth("200GBps"), false}};  // 5 ms, after
  CHECK(plan.time_alone().value == doctest::Approx(parse_duration("45.01ms").value).epsilon(1e-12));
  CHECK(plan.bytes_on(Tier::kNvlink).value == parse_bytes("2GB").value);
  CHECK(plan.bytes_on(Tier::kNetwork).value == parse_bytes("2GB").value);
}

TEST_CASE("collective: bus bandwidth uses nccl-tests' factors") {
  const Seconds t = parse_duration("2s");
  const Bytes b = parse_bytes("8GB");
  const double algbw = parse_bandwidth("4GBps").value;  // 8 GB in 2 s
  CHECK(bus_bandwidth(CollectiveKind::kAllReduce, b, 8, t).value == doctest::Approx(algbw * 2 * 7 / 8));
  CHECK(bus_bandwidth(CollectiveKind::kAllGather, b, 8, t).value == doctest::Approx(algbw * 7 / 8));
  CHECK(bus_bandwidth(CollectiveKind::kReduceScatter, b, 8, t).value == doctest::Approx(algbw * 7 / 8));
  CHECK(bus_bandwidth(CollectiveKind::kAllToAll, b, 8, t).value == doctest::Approx(algbw * 7 / 8));
  CHECK(bus_bandwidth(CollectiveKind::kSendRecv, b, 2, t).value == doctest::Approx(algbw));
  CHECK(bus_bandwidth(CollectiveKind::kAllReduce, b, 1, t).value == 0);  // one rank moves nothing
}

TEST_CASE("collective: tiers follow the group's placement") {
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (auto k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                 CollectiveKind::kAllToAll, CollectiveKind::kSendRecv}) {
    const std::string kind_name = collective_name(k);
    CAPTURE(kind_name);
    const CollectivePlan inside = plan_collective(c, k, kGiB, group(8, 8));
    CHECK(inside.bytes_on(Tier::kNvlink).value > 0);
    CHECK(inside.bytes_on(Tier::kNetwork).value == 0);
    const CollectivePlan strided = plan_collective(c, k, kGiB, group(16, 1));
    CHECK(strided.bytes_on(Tier::kNvlink).value == 0);
    CHECK(strided.bytes_on(Tier::kNetwork).value > 0);
    const CollectivePlan both = plan_collective(c, k, kGiB, group(32, 8));
    CHECK(both.bytes_on(Tier::kNetwork).value > 0);
  }
  // A ring all-gather over 4 nodes x 8: each rank moves (n-1)/n S, 7/8 of it over NVLink, 1/8 over its NIC.
  CollectivePlan ring = plan_collective(c, CollectiveKind::kAllGather, kGiB, group(32, 8));
  REQUIRE(ring.algorithm == Algorithm::kRing);
  CHECK(ring.bytes_on(Tier::kNvlink).value == doctest::Approx(kGiB.value * 31 / 32 * 7 / 8));
  CHECK(ring.bytes_on(Tier::kNetwork).value == doctest::Approx(kGiB.value * 31 / 32 / 8));
  REQUIRE(ring.phases.size() == 2);
  CHECK(ring.phases[1].overlaps_previous);  // pipelined: NVLink and the NICs busy together
}

TEST_CASE("nccl-tests 8xH100: ring all-reduce, all-gather, reduce-scatter reach 360-370 GB/s bus bandwidth") {
  // 450 GB/s NVLink x 20.6/25 (the per-link rate NCCL assumes for Hopper) = 370.8 GB/s, less latency.
  ClusterSpec c = load_cluster("dgx-h100.json");
  c.nvlink.nvls = false;  // nccl-tests' ring figure: NCCL_ALGO=Ring, or a system without NVLS
  for (Bytes size : {kGiB, kGiB * 4.0}) {
    for (auto k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter}) {
      const CollectivePlan plan = plan_collective(c, k, size, group(8, 8));
      CHECK(plan.algorithm == Algorithm::kRing);
      CHECK(plan.protocol == Protocol::kSimple);
      check_against(std::string(collective_name(k)) + " 8xH100 " + format_bytes(size) + " busbw GB/s",
                    in_gbps(busbw(c, k, size, group(8, 8))), 365, 0.10);
    }
  }
}

TEST_CASE("nccl-tests 8xH100: all-reduce with NVLS reaches about 480 GB/s bus bandwidth") {
  const ClusterSpec c = load_cluster("dgx-h100.json");
  for (Bytes size : {kGiB, kGiB * 4.0}) {
    const CollectivePlan plan = plan_collective(c, CollectiveKind::kAllReduce, size, group(8, 8));
    CHECK(plan.algorithm == Algorithm::kNvls);
    check_against("all_reduce NVLS 8xH100 " + format_bytes(size) + " busbw GB/s",
                  in_gbps(busbw(c, CollectiveKind::kAllReduce, size, group(8, 8))), 480, 0.10);
  }
  // NVLS is used only where the switch has it.
  const ClusterSpec a100 = load_cluster("dgx-a100.json");
  CHECK(plan_collective(a100, CollectiveKind::kAllReduce, kGiB, group(8, 8)).algorithm != Algorithm::kNvls);
}

TEST_CASE("nccl-tests across nodes, one rank per node: 46-49 GB/s bus bandwidth per 400 Gb/s NIC") {
  // The ring's latency grows with the nodes (NCCL: 14 us a network step, x1.4 plateau), so at 64
  // nodes it takes large buffers to approach the NIC, as in nccl-tests' largest sizes.
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (std::int64_t nodes : {16, 64}) {
    for (Bytes size : {kGiB, kGiB * 8.0}) {
      for (auto k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter}) {
        const std::string what = std::string(collective_name(k)) + " " + std::to_string(nodes) + " nodes x 1, " +
                                 format_bytes(size) + ", busbw GB/s";
        check_against(what, in_gbps(busbw(c, k, size, group(nodes, 1))), 47.5, 0.10);
      }
    }
  }
}

TEST_CASE("nccl-tests across nodes, 8 ranks per node: all-reduce bus bandwidth is 8 NICs' worth") {
  // Bus bandwidth counts the 2(n-1)/n S a rank moves; 7/8 of it goes over NVLink and 1/8 over the
  // rank's own NIC, so a bus bandwidth of B means B/8 per NIC: 46-49 GB/s per NIC is 368-392 GB/s.
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (std::int64_t nodes : {16, 64}) {
    const CommGroup g = group(8 * nodes, 8);
    const CollectivePlan plan = plan_collective(c, CollectiveKind::kAllReduce, kGiB, g);
    CHECK(plan.algorithm == Algorithm::kHierarchical);  // NVLS_TREE where the switch has NVLS
    check_against("all_reduce NVLS tree " + std::to_string(nodes) + " nodes x 8, 1GiB, busbw per NIC GB/s",
                  in_gbps(busbw(c, CollectiveKind::kAllReduce, kGiB, g)) / 8, 47.5, 0.10);
  }
  // Two nodes: each is root of one tree and leaf of the other, so a NIC carries S/p, not 2S/p,
  // and the NVLS part inside the node, S(p+1)/p, sets the pace.
  const CollectivePlan two = plan_collective(c, CollectiveKind::kAllReduce, kGiB, group(16, 8));
  CHECK(two.algorithm == Algorithm::kHierarchical);
  CHECK(two.bytes_on(Tier::kNetwork).value == doctest::Approx(kGiB.value / 8));
  CHECK(two.bytes_on(Tier::kNvlink).value == doctest::Approx(kGiB.value * 9 / 8));
  ClusterSpec no_nvls = c;
  no_nvls.nvlink.nvls = false;
  for (std::int64_t nodes : {2, 16}) {
    const CommGroup g = group(8 * nodes, 8);
    const Bytes size = kGiB * 8.0;  // the ring's 2(n-1) steps of latency need large buffers
    const std::string chosen = algorithm_name(plan_collective(no_nvls, CollectiveKind::kAllReduce, size, g).algorithm);
    CAPTURE(chosen);
    check_against("all_reduce without NVLS " + std::to_string(nodes) + " nodes x 8, 8GiB, busbw per NIC GB/s",
                  in_gbps(busbw(no_nvls, CollectiveKind::kAllReduce, size, g)) / 8, 47.5, 0.10);
  }
}

TEST_CASE("nccl small messages: all-reduce of 8 B to 8 KiB takes tens of microseconds") {
  // NCCL's own figures: LL ring in a node 6.6 + 14 x 0.6 = 15 us; LL tree over 16 nodes
  // 6.8 + 2 x 4 x 5 = 46.8 us.
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (const CommGroup& g : {group(8, 8), group(16, 1), group(128, 8), group(512, 8)}) {
    for (const char* size : {"8B", "64B", "1KiB", "8KiB"}) {
      const CollectivePlan plan = plan_collective(c, CollectiveKind::kAllReduce, parse_bytes(size), g);
      const double t = in_us(plan.time_alone());
      MESSAGE("all_reduce " << std::string(size) << " on " << g.ranks << " ranks (" << g.ranks_per_node
                            << " per node): " << t << " us, " << std::string(algorithm_name(plan.algorithm)) << "/"
                            << std::string(protocol_name(plan.protocol)));
      CHECK(t >= 5);
      CHECK(t <= 100);
    }
  }
  check_against("all_reduce 8B in a node, us", in_us(plan_collective(c, CollectiveKind::kAllReduce,
                                                                     parse_bytes("8B"), group(8, 8)).time_alone()),
                15.0, 0.10);
}

TEST_CASE("collective: NCCL's latency and LL tables, scaled by the cluster's hop latency") {
  ClusterSpec c = load_cluster("dgx-h100.json");
  const auto candidate = [&](Algorithm a, Protocol p, Bytes size) {
    for (const auto& cand : collective_candidates(c, CollectiveKind::kAllReduce, size, group(8, 8))) {
      if (cand.algorithm == a && cand.protocol == p) return cand;
    }
    FAIL("no candidate " << std::string(algorithm_name(a)) << "/" << std::string(protocol_name(p)));
    return CollectivePlan{};
  };
  // Ring Simple in a node: baseLat 8.4 + 2(n-1) = 14 steps x 3.4 us = 56 us; ring LL 6.6 + 14 x 0.6.
  CHECK(in_us(candidate(Algorithm::kRing, Protocol::kSimple, kGiB).latency) == doctest::Approx(56.0));
  CHECK(in_us(candidate(Algorithm::kRing, Protocol::kLl, kGiB).latency) == doctest::Approx(15.0));
  // LL's bus rate: min(370.8 / 4, llMaxBw 87.7 GB/s).
  const CollectivePlan ll = candidate(Algorithm::kRing, Protocol::kLl, kGiB);
  CHECK(in_gbps(bus_bandwidth(CollectiveKind::kAllReduce, kGiB, 8, ll.time_alone() - ll.latency)) ==
        doctest::Approx(87.7));
  // An NVLink hop twice the reference's (1.5 us) doubles the per-step part, not the base.
  c.nvlink.latency = parse_duration("3us");
  CHECK(in_us(candidate(Algorithm::kRing, Protocol::kLl, kGiB).latency) == doctest::Approx(6.6 + 14 * 1.2));
}

TEST_CASE("collective: the chosen algorithm is the cheapest candidate, and the choice moves with size") {
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  std::set<std::pair<Algorithm, Protocol>> all_reduce_choices;
  for (const CommGroup& g : {group(8, 8), group(4, 4), group(16, 1), group(16, 8), group(128, 8), group(32, 4)}) {
    for (auto k : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                   CollectiveKind::kAllToAll, CollectiveKind::kSendRecv}) {
      for (double size = 8; size <= 8 * kGiB.value; size *= 8) {
        const CollectivePlan chosen = plan_collective(c, k, Bytes{size}, g);
        const auto candidates = collective_candidates(c, k, Bytes{size}, g);
        REQUIRE(!candidates.empty());
        double best = candidates.front().time_alone().value;
        for (const auto& cand : candidates) best = std::min(best, cand.time_alone().value);
        const std::string kind_name = collective_name(k);
    CAPTURE(kind_name);
        CAPTURE(size);
        CAPTURE(g.ranks);
        CHECK(chosen.time_alone().value == best);
        if (k == CollectiveKind::kAllReduce) all_reduce_choices.insert({chosen.algorithm, chosen.protocol});
      }
    }
  }
  CHECK(all_reduce_choices.size() >= 4);  // LL for latency, Simple / NVLS for bandwidth, trees between
  const CollectivePlan small = plan_collective(c, CollectiveKind::kAllReduce, parse_bytes("8B"), group(8, 8));
  const CollectivePlan large = plan_collective(c, CollectiveKind::kAllReduce, kGiB, group(8, 8));
  CHECK(small.protocol == Protocol::kLl);
  CHECK(large.algorithm == Algorithm::kNvls);
}

TEST_CASE("nccl-tests all-to-all across nodes is bound by about one NIC per GPU") {
  // Per rank (n-p)/n S leaves over its NIC at 47.5 GB/s and (p-1)/n S goes over NVLink alongside.
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (std::int64_t nodes : {2, 16}) {
    const CommGroup g = group(8 * nodes, 8);
    const CollectivePlan plan = plan_collective(c, CollectiveKind::kAllToAll, kGiB, g);
    const double nic = in_gbps(rate(plan.bytes_on(Tier::kNetwork), plan.time_alone()));
    check_against("all_to_all " + std::to_string(nodes) + " nodes x 8, 1GiB, GB/s through each NIC", nic, 47.5, 0.10);
    // nccl-tests' bus bandwidth counts the NVLink share too: (n-1)/(n-p) x the NIC.
    const double expected = 47.5 * static_cast<double>(g.ranks - 1) / static_cast<double>(g.ranks - 8);
    check_against("all_to_all " + std::to_string(nodes) + " nodes x 8, 1GiB, busbw GB/s",
                  in_gbps(busbw(c, CollectiveKind::kAllToAll, kGiB, g)), expected, 0.10);
  }
}

TEST_CASE("alltoallv with equal sizes equals the uniform all-to-all") {
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  for (const CommGroup& g : {group(8, 8), group(16, 1), group(32, 8), group(64, 4)}) {
    for (const char* size : {"64KiB", "256MiB"}) {
      const Bytes total = parse_bytes(size);
      const std::vector<Bytes> row(static_cast<std::size_t>(g.ranks), total / static_cast<double>(g.ranks));
      const CollectivePlan uniform = plan_collective(c, CollectiveKind::kAllToAll, total, g);
      for (std::int64_t me : {std::int64_t{0}, g.ranks - 1}) {
        const CollectivePlan v = plan_alltoallv(c, row, me, g);
        CHECK(v.protocol == uniform.protocol);
        CHECK(v.time_alone().value == doctest::Approx(uniform.time_alone().value).epsilon(1e-12));
        CHECK(v.bytes_on(Tier::kNvlink).value == doctest::Approx(uniform.bytes_on(Tier::kNvlink).value));
        CHECK(v.bytes_on(Tier::kNetwork).value == doctest::Approx(uniform.bytes_on(Tier::kNetwork).value));
      }
      const std::vector<std::vector<Bytes>> matrix(static_cast<std::size_t>(g.ranks), row);
      CHECK(plan_alltoallv(c, matrix, g).time_alone().value ==
            doctest::Approx(uniform.time_alone().value).epsilon(1e-12));
    }
  }
}

TEST_CASE("alltoallv: a skewed exchange is slower than a uniform one with the same total") {
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  const CommGroup g = group(32, 8);  // 4 nodes x 8: expert parallelism over 32 GPUs
  const auto n = static_cast<std::size_t>(g.ranks);
  const Bytes per_rank = parse_bytes("256MiB");
  const std::vector<std::vector<Bytes>> uniform(n, std::vector<Bytes>(n, per_rank / static_cast<double>(n)));
  // Token-choice skew: every rank sends half of its tokens to the experts on rank 0 (a hot
  // expert) and spreads the rest; the group moves the same bytes, but rank 0 receives ~n/2 x more.
  std::vector<std::vector<Bytes>> skewed(n, std::vector<Bytes>(n, per_rank / (2.0 * static_cast<double>(n - 1))));
  for (auto& row : skewed) row[0] = per_rank / 2.0;
  skewed[0][0] = per_rank / 2.0;
  double total_uniform = 0, total_skewed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      total_uniform += uniform[i][j].value;
      total_skewed += skewed[i][j].value;
    }
  }
  REQUIRE(total_skewed == doctest::Approx(total_uniform));
  const double t_uniform = plan_alltoallv(c, uniform, g).time_alone().value;
  const double t_skewed = plan_alltoallv(c, skewed, g).time_alone().value;
  MESSAGE("alltoallv 4 nodes x 8, 256MiB a rank: uniform " << format_duration(Seconds{t_uniform}, 4) << ", skewed "
                                                            << format_duration(Seconds{t_skewed}, 4) << " (x"
                                                            << t_skewed / t_uniform << ")");
  CHECK(t_skewed > 4 * t_uniform);

  // One row with the same total: what goes to other nodes sets the time, so skew towards
  // remote peers is slower and skew towards the own node faster than uniform.
  const std::vector<Bytes> row(n, per_rank / static_cast<double>(n));
  std::vector<Bytes> remote(n, Bytes{}), local(n, Bytes{});
  for (std::size_t j = 8; j < n; ++j) remote[j] = per_rank / static_cast<double>(n - 8);
  for (std::size_t j = 1; j < 8; ++j) local[j] = per_rank / 7.0;
  const double t_row = plan_alltoallv(c, row, 0, g).time_alone().value;
  CHECK(plan_alltoallv(c, remote, 0, g).time_alone().value > t_row);
  CHECK(plan_alltoallv(c, local, 0, g).time_alone().value < t_row);
}

TEST_CASE("collective: oversubscription slows all-to-all beyond a leaf, not rings") {
  ClusterSpec c = load_cluster("dgx-h100-1024.json");
  ClusterSpec over = c;
  over.network.nodes_per_leaf = 16;
  over.network.oversubscription = 2.0;
  const Bytes size = kGiB;
  // 64 nodes: 48 of a rank's 63 remote nodes sit beyond its leaf, so the spine carries 48/63 of its
  // traffic at half rate: the NIC slows by 2 x 48/63.
  const CommGroup wide = group(512, 8);
  const auto net_time = [&](const ClusterSpec& cl, CollectiveKind k, const CommGroup& g) {
    const CollectivePlan p = plan_collective(cl, k, size, g);
    for (const auto& ph : p.phases) {
      if (ph.tier == Tier::kNetwork) return transfer_time(ph.bytes, ph.bandwidth).value;
    }
    return 0.0;
  };
  check_against("all_to_all 64 nodes x 8 on a 2:1 spine, network slowdown",
                net_time(over, CollectiveKind::kAllToAll, wide) / net_time(c, CollectiveKind::kAllToAll, wide),
                2.0 * 48 / 63, 1e-9);
  // Inside one leaf, nothing changes; a ring's traffic stays in the leaf but for one hop in 16.
  CHECK(net_time(over, CollectiveKind::kAllToAll, group(128, 8)) ==
        doctest::Approx(net_time(c, CollectiveKind::kAllToAll, group(128, 8))));
  CHECK(net_time(over, CollectiveKind::kAllGather, group(64, 1)) ==
        doctest::Approx(net_time(c, CollectiveKind::kAllGather, group(64, 1))));
}

TEST_CASE("collective: send/recv over NVLink inside a node, over one NIC across nodes") {
  const ClusterSpec c = load_cluster("dgx-h100-1024.json");
  const CollectivePlan inside = plan_collective(c, CollectiveKind::kSendRecv, kGiB, group(2, 2));
  const CollectivePlan across = plan_collective(c, CollectiveKind::kSendRecv, kGiB, group(2, 1));
  check_against("send/recv in a node 1GiB, GB/s", in_gbps(rate(kGiB, inside.time_alone())), 370.8, 0.10);
  check_against("send/recv across nodes 1GiB, GB/s", in_gbps(rate(kGiB, across.time_alone())), 47.5, 0.10);
  CHECK(in_us(plan_collective(c, CollectiveKind::kSendRecv, parse_bytes("8B"), group(2, 1)).time_alone()) < 20);
}

TEST_CASE("collective: groups that do not fit the cluster are errors") {
  const ClusterSpec node = load_cluster("dgx-h100.json");
  CHECK_THROWS_AS(plan_collective(node, CollectiveKind::kAllReduce, kGiB, group(16, 16)), RuntimeFailure);
  CHECK_THROWS_AS(plan_collective(node, CollectiveKind::kAllReduce, kGiB, group(16, 8)), RuntimeFailure);
  CHECK_THROWS_AS(plan_collective(node, CollectiveKind::kAllReduce, kGiB, group(0, 1)), RuntimeFailure);
  CHECK_THROWS_AS(plan_alltoallv(node, {kGiB, kGiB}, 0, group(4, 4)), RuntimeFailure);
}
