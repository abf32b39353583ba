// NCCL in one process over several emulated devices (nccl_clique.cpp, ECSIM_EMULATED_DEVICES), and
// the profiler's collective timing on them (profiles/profiler/collective_runs.cpp), which no GPU
// machine lent so far has run: it needs 2 or more GPUs in one machine. Known answers for each
// collective, the pairing of grouped sends and receives, the refusals where NCCL would hang or fail,
// then measure_collectives over 2 devices, every kind it times.
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_check.hpp"
#include "emulation/emulation_error.hpp"
#include "gpu_check.hpp"
#include "nccl_check.hpp"
#include "profiler/collective_runs.hpp"

namespace ecsim::emulation_test {
namespace {

using ecsim::emulation::EmulationError;
using ecsim::test::DeviceBuffer;

// ECSIM_EMULATED_DEVICES for the scope of a test; back to one device after.
class EmulatedDevices {
 public:
  explicit EmulatedDevices(int n) { setenv("ECSIM_EMULATED_DEVICES", std::to_string(n).c_str(), 1); }
  EmulatedDevices(const EmulatedDevices&) = delete;
  EmulatedDevices& operator=(const EmulatedDevices&) = delete;
  ~EmulatedDevices() {
    unsetenv("ECSIM_EMULATED_DEVICES");
    cudaSetDevice(0);
  }
};

// ncclCommInitAll's communicators, destroyed with the scope.
class Comms {
 public:
  explicit Comms(int ranks) : comms_(static_cast<std::size_t>(ranks)) {
    NCCL_CHECK(ncclCommInitAll(comms_.data(), ranks, nullptr));
  }
  Comms(const Comms&) = delete;
  Comms& operator=(const Comms&) = delete;
  ~Comms() {
    for (ncclComm_t c : comms_) ncclCommDestroy(c);
  }
  ncclComm_t operator[](std::size_t r) const { return comms_[r]; }

 private:
  std::vector<ncclComm_t> comms_;
};

// Rank r's input: element i is r + 1 + i / 8 (exact in bf16 for the sizes here).
std::vector<float> rank_input(int r, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(r + 1) + static_cast<float>(i) / 8.0f;
  return v;
}

std::vector<__nv_bfloat16> to_bf16_exact(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out;
  for (float x : v) out.push_back(__float2bfloat16(x));
  return out;
}

std::vector<float> to_floats(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> out;
  for (__nv_bfloat16 x : v) out.push_back(__bfloat162float(x));
  return out;
}

constexpr int kRanks = 3;  // not a power of two
constexpr std::size_t kCount = 40;

TEST_CASE("emulated devices: ECSIM_EMULATED_DEVICES sets how many there are, and cudaSetDevice stays inside them") {
  int count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&count));
  CHECK(count == 1);
  const EmulatedDevices devices(kRanks);
  CUDA_CHECK(cudaGetDeviceCount(&count));
  CHECK(count == kRanks);
  CHECK(cudaSetDevice(kRanks - 1) == cudaSuccess);
  int current = -1;
  CUDA_CHECK(cudaGetDevice(&current));
  CHECK(current == kRanks - 1);
  CHECK(cudaSetDevice(kRanks) == cudaErrorInvalidDevice);
  setenv("ECSIM_EMULATED_DEVICES", "9", 1);
  CHECK_THROWS_WITH_AS(cudaGetDeviceCount(&count), doctest::Contains("not a device count from 1 to 8"),
                       EmulationError);
}

TEST_CASE("emulated NCCL in one process: all-reduce, all-gather and reduce-scatter over 3 ranks, fp32 and bf16") {
  const EmulatedDevices devices(kRanks);
  const Comms comms(kRanks);
  std::vector<std::unique_ptr<DeviceBuffer<float>>> in, reduced, scattered;
  std::vector<std::unique_ptr<DeviceBuffer<__nv_bfloat16>>> in16, reduced16, gathered16;
  for (int r = 0; r < kRanks; ++r) {
    in.push_back(std::make_unique<DeviceBuffer<float>>(rank_input(r, kCount * kRanks)));
    reduced.push_back(std::make_unique<DeviceBuffer<float>>(kCount * kRanks));
    scattered.push_back(std::make_unique<DeviceBuffer<float>>(kCount));
    in16.push_back(std::make_unique<DeviceBuffer<__nv_bfloat16>>(to_bf16_exact(rank_input(r, kCount))));
    reduced16.push_back(std::make_unique<DeviceBuffer<__nv_bfloat16>>(kCount));
    gathered16.push_back(std::make_unique<DeviceBuffer<__nv_bfloat16>>(kCount * kRanks));
  }
  NCCL_CHECK(ncclGroupStart());
  for (int r = 0; r < kRanks; ++r) {
    const auto i = static_cast<std::size_t>(r);
    NCCL_CHECK(ncclAllReduce(in[i]->get(), reduced[i]->get(), kCount * kRanks, ncclFloat32, ncclSum, comms[i], nullptr));
    NCCL_CHECK(ncclReduceScatter(in[i]->get(), scattered[i]->get(), kCount, ncclFloat32, ncclSum, comms[i], nullptr));
    NCCL_CHECK(ncclAllReduce(in16[i]->get(), reduced16[i]->get(), kCount, ncclBfloat16, ncclSum, comms[i], nullptr));
    NCCL_CHECK(ncclAllGather(in16[i]->get(), gathered16[i]->get(), kCount, ncclBfloat16, comms[i], nullptr));
  }
  NCCL_CHECK(ncclGroupEnd());
  // Sum over ranks of r + 1 + i / 8: 6 + 3 i / 8.
  for (int r = 0; r < kRanks; ++r) {
    CAPTURE(r);
    const auto i = static_cast<std::size_t>(r);
    const std::vector<float> sum = reduced[i]->download();
    for (std::size_t e = 0; e < sum.size(); ++e) CHECK(sum[e] == 6.0f + 3.0f * static_cast<float>(e) / 8.0f);
    const std::vector<float> part = scattered[i]->download();
    for (std::size_t e = 0; e < kCount; ++e) {
      CHECK(part[e] == 6.0f + 3.0f * static_cast<float>(i * kCount + e) / 8.0f);
    }
    const std::vector<float> sum16 = to_floats(reduced16[i]->download());
    for (std::size_t e = 0; e < kCount; ++e) CHECK(sum16[e] == 6.0f + 3.0f * static_cast<float>(e) / 8.0f);
    const std::vector<float> all = to_floats(gathered16[i]->download());
    for (std::size_t e = 0; e < all.size(); ++e) {
      CHECK(all[e] == static_cast<float>(e / kCount + 1) + static_cast<float>(e % kCount) / 8.0f);
    }
  }
}

TEST_CASE("emulated NCCL in one process: grouped sends and receives pair in order, a rank's own included") {
  const EmulatedDevices devices(2);
  const Comms comms(2);
  // Every rank sends its two halves to ranks 0 and 1 (as the profiler's all-to-all does); two
  // transfers from rank 0 to rank 1 pair in the order they were posted.
  DeviceBuffer<float> send0(rank_input(0, 2 * kCount)), send1(rank_input(1, 2 * kCount));
  DeviceBuffer<float> recv0(2 * kCount), recv1(2 * kCount);
  DeviceBuffer<float> extra_send(rank_input(5, kCount)), extra_recv(kCount);
  const DeviceBuffer<float>* send[] = {&send0, &send1};
  const DeviceBuffer<float>* recv[] = {&recv0, &recv1};
  NCCL_CHECK(ncclGroupStart());
  for (int r = 0; r < 2; ++r) {
    for (int p = 0; p < 2; ++p) {
      NCCL_CHECK(ncclSend(send[r]->get() + p * kCount, kCount, ncclFloat32, p, comms[static_cast<std::size_t>(r)],
                          nullptr));
      NCCL_CHECK(ncclRecv(recv[r]->get() + p * kCount, kCount, ncclFloat32, p, comms[static_cast<std::size_t>(r)],
                          nullptr));
    }
  }
  NCCL_CHECK(ncclSend(extra_send.get(), kCount, ncclFloat32, 1, comms[0], nullptr));
  NCCL_CHECK(ncclRecv(extra_recv.get(), kCount, ncclFloat32, 0, comms[1], nullptr));
  NCCL_CHECK(ncclGroupEnd());
  // recv[r] = [rank 0's part r, rank 1's part r].
  for (int r = 0; r < 2; ++r) {
    CAPTURE(r);
    const std::vector<float> got = recv[r]->download();
    for (int p = 0; p < 2; ++p) {
      const std::vector<float> from = rank_input(p, 2 * kCount);
      for (std::size_t e = 0; e < kCount; ++e) {
        CHECK(got[static_cast<std::size_t>(p) * kCount + e] == from[static_cast<std::size_t>(r) * kCount + e]);
      }
    }
  }
  CHECK(extra_recv.download() == rank_input(5, kCount));
}

TEST_CASE("emulated NCCL in one process refuses what NCCL would hang or fail on") {
  const EmulatedDevices devices(2);
  const Comms comms(2);
  DeviceBuffer<float> a(kCount), b(kCount);
  SUBCASE("a collective outside a group") {
    CHECK_THROWS_WITH_AS(ncclAllReduce(a.get(), b.get(), kCount, ncclFloat32, ncclSum, comms[0], nullptr),
                         doctest::Contains("outside ncclGroupStart/ncclGroupEnd"), EmulationError);
  }
  SUBCASE("a rank that does not join a collective") {
    NCCL_CHECK(ncclGroupStart());
    NCCL_CHECK(ncclAllReduce(a.get(), b.get(), kCount, ncclFloat32, ncclSum, comms[0], nullptr));
    CHECK_THROWS_WITH_AS(ncclGroupEnd(), doctest::Contains("rank 0 of 2 made 1 collective calls in the group, rank 1 0"),
                         EmulationError);
  }
  SUBCASE("ranks that disagree on the count") {
    NCCL_CHECK(ncclGroupStart());
    NCCL_CHECK(ncclAllReduce(a.get(), b.get(), kCount, ncclFloat32, ncclSum, comms[0], nullptr));
    NCCL_CHECK(ncclAllReduce(a.get(), b.get(), kCount - 1, ncclFloat32, ncclSum, comms[1], nullptr));
    CHECK_THROWS_WITH_AS(ncclGroupEnd(), doctest::Contains("of 39 elements (type 7) on rank 1"), EmulationError);
  }
  SUBCASE("a receive that no send matches") {
    NCCL_CHECK(ncclGroupStart());
    NCCL_CHECK(ncclRecv(b.get(), kCount, ncclFloat32, 0, comms[1], nullptr));
    CHECK_THROWS_WITH_AS(ncclGroupEnd(), doctest::Contains("1 receives on rank 1 from rank 0 that no send matches"),
                         EmulationError);
  }
  SUBCASE("a buffer past its allocation, and host memory") {
    NCCL_CHECK(ncclGroupStart());
    CHECK_THROWS_WITH_AS(ncclAllReduce(a.get(), b.get(), kCount + 1, ncclFloat32, ncclSum, comms[0], nullptr),
                         doctest::Contains("ncclAllReduce on rank 0 of 2: send buffer"), EmulationError);
    std::vector<float> host(kCount);
    CHECK_THROWS_WITH_AS(ncclSend(host.data(), kCount, ncclFloat32, 1, comms[0], nullptr),
                         doctest::Contains("ncclSend on rank 0 of 2: send buffer"), EmulationError);
    NCCL_CHECK(ncclGroupEnd());  // nothing left recorded
  }
  SUBCASE("a peer outside the clique") {
    NCCL_CHECK(ncclGroupStart());
    CHECK_THROWS_WITH_AS(ncclSend(a.get(), kCount, ncclFloat32, 2, comms[0], nullptr),
                         doctest::Contains("with peer 2"), EmulationError);
    NCCL_CHECK(ncclGroupEnd());
  }
}

TEST_CASE("the profiler times every collective kind over 2 emulated devices (collective_runs.cpp)") {
  const EmulatedDevices devices(2);
  std::vector<profiler::PlannedCollective> plan;
  for (const CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather,
                                    CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll}) {
    for (const std::int64_t bytes : {std::int64_t{64} << 10, std::int64_t{256} << 10}) plan.push_back({kind, 2, bytes, 0});
  }
  profiler::TimingMethod method;
  method.warmup = 1;
  method.min_samples = 3;
  method.max_samples = 5;
  std::ostringstream log;
  const profiler::CollectiveSweepResult r = profiler::measure_collectives(plan, method, [] { return false; }, log);
  INFO(log.str());
  CHECK(r.failure.empty());
  REQUIRE(r.measured.size() == plan.size());
  for (const profiler::MeasuredCollective& m : r.measured) {
    CAPTURE(static_cast<int>(m.call.kind));
    CHECK(m.timing.samples >= method.min_samples);
    CHECK((0 < m.timing.p10_ns && m.timing.p10_ns <= m.timing.p50_ns && m.timing.p50_ns <= m.timing.p90_ns));
  }
  CHECK(log.str().find("collectives over 2 GPUs: communicators ready") != std::string::npos);
  CHECK(profiler::nccl_version().rfind("NCCL 2.", 0) == 0);
}

}  // namespace
}  // namespace ecsim::emulation_test
