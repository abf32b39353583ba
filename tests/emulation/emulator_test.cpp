// The emulator itself (README.md): its warp instructions, static __shared__ variables and runtime
// calls compute what CUDA and the PTX ISA say on operands whose results are known, and each of its
// checks fails a kernel written to break that rule, with a message that names the rule. Kernels in
// checker_kernels.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "emulation/checker_kernels.hpp"
#include "emulation/emulation_error.hpp"

using ecsim::emulation::EmulationError;
using ecsim::emulation_test::Bug;
using ecsim::emulation_test::run_buggy_kernel;

namespace {

// Small integers times 2^-3: exact in bf16, and their products' sums exact in fp32.
std::vector<float> exact_matrix(std::mt19937& gen) {
  std::uniform_int_distribution<int> dist(-8, 8);
  std::vector<float> m(16 * 16);
  for (float& x : m) x = static_cast<float>(dist(gen)) / 8.0f;
  return m;
}

}  // namespace

TEST_CASE("emulated ldmatrix and mma.sync multiply 16x16 matrices exactly, with and without .trans") {
  std::mt19937 gen(12345);
  const auto a = exact_matrix(gen);
  const auto b = exact_matrix(gen);
  for (const bool trans_load : {false, true}) {
    CAPTURE(trans_load);
    const auto d = ecsim::emulation_test::warp_matrix_product(a, b, trans_load);
    std::size_t wrong = 0;
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 16; ++j) {
        double expected = 0;  // d[i][j] = sum_k a[i][k] b[k][j]
        for (int k = 0; k < 16; ++k) expected += double{a[i * 16 + k]} * double{b[k * 16 + j]};
        wrong += d[static_cast<std::size_t>(i * 16 + j)] != expected;
      }
    }
    CHECK_MESSAGE(wrong == 0, wrong << " of 256 elements of d differ from a b");
  }
}

TEST_CASE("emulated shuffles move values between lanes as CUDA defines them") {
  const auto out = ecsim::emulation_test::warp_shuffles();
  for (int lane = 0; lane < 32; ++lane) {
    CAPTURE(lane);
    CHECK(out[4 * lane] == 50);                                         // index 5
    CHECK(out[4 * lane + 1] == 10 * (lane >= 3 ? lane - 3 : lane));     // up 3: lanes 0-2 keep theirs
    CHECK(out[4 * lane + 2] == 10 * (lane % 8 < 5 ? lane + 3 : lane));  // down 3 within groups of 8
    CHECK(out[4 * lane + 3] == 10 * (lane ^ 6));                        // xor 6
  }
}

TEST_CASE("emulated ballots and warp sums: each lane sees the warp's votes and sum, as CUDA defines them") {
  const auto v = ecsim::emulation_test::warp_votes();
  unsigned every_third = 0;
  for (int lane = 0; lane < 32; lane += 3) every_third |= 1u << lane;
  for (int t = 0; t < 64; ++t) {
    CAPTURE(t);
    const int lane = t % 32, warp = t / 32;
    CHECK(v.votes[static_cast<std::size_t>(t)] == every_third);
    CHECK(v.below[static_cast<std::size_t>(t)] == (lane + 2) / 3);  // multiples of 3 below the lane
    CHECK(v.sums[static_cast<std::size_t>(t)] == 10 * (31 * 32 / 2) + 32 * warp);
  }
}

TEST_CASE("emulated __syncthreads_count gives every thread its block's count of true predicates, barrier by barrier") {
  const auto counts = ecsim::emulation_test::barrier_counts();
  for (int block = 0; block < 2; ++block) {
    CAPTURE(block);
    // Block b votes with t + b: t + b a multiple of 3 for 32 of 96 threads in either block; t + b
    // above 89 for 6 threads in block 0 (90..95), 7 in block 1 (89..95).
    for (int t = 0; t < 96; ++t) {
      CAPTURE(t);
      const auto at = static_cast<std::size_t>(3 * (96 * block + t));
      CHECK(counts[at] == 32);
      CHECK(counts[at + 1] == 6 + block);
      CHECK(counts[at + 2] == 0);
    }
  }
}

TEST_CASE("emulated static __shared__ arrays hold one copy per block: block_reduce.cuh's scans and sums") {
  // Three blocks of 64: the helpers' partials (static __shared__) must come from the running block only.
  constexpr int kBlocks = 3, kThreads = 64;
  std::vector<int> in(kBlocks * kThreads);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i * 7 % 11) - 5;
  const auto r = ecsim::emulation_test::block_reductions(in, kBlocks);
  for (int b = 0; b < kBlocks; ++b) {
    int before = 0, block_total = 0;  // scan[i] = sum of the block's v before thread t; total = all of them
    for (int t = 0; t < kThreads; ++t) block_total += in[static_cast<std::size_t>(b * kThreads + t)];
    for (int t = 0; t < kThreads; ++t) {
      const auto i = static_cast<std::size_t>(b * kThreads + t);
      CAPTURE(b);
      CAPTURE(t);
      CHECK(r.scan[i] == before);
      CHECK(r.total[i] == block_total);
      CHECK(r.scan_twice[i] == 2 * before);
      CHECK(r.total_twice[i] == 2 * block_total);
      CHECK(r.sum[i] == static_cast<float>(block_total));  // small integers: exact in fp32
      before += in[i];
    }
  }
}

TEST_CASE("emulated __float_as_uint and __uint_as_float reinterpret the bits") {
  const std::vector<float> v{1.0f, -2.0f, 0.0f, -0.0f, std::numeric_limits<float>::infinity(), 0.1f};
  const std::vector<unsigned> expected{0x3f800000u, 0xc0000000u, 0u, 0x80000000u, 0x7f800000u, 0x3dcccccdu};
  const auto r = ecsim::emulation_test::float_bits(v);
  for (std::size_t i = 0; i < v.size(); ++i) {
    CAPTURE(i);
    CHECK(r.bits[i] == expected[i]);
    CHECK(r.back[i] == v[i]);
    CHECK(std::signbit(r.back[i]) == std::signbit(v[i]));
  }
}

TEST_CASE("emulated cudaMemsetAsync sets the first count bytes to the value and leaves the rest") {
  const auto bytes = ecsim::emulation_test::memset_async(0xAB, 5);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    CAPTURE(i);
    CHECK(bytes[i] == (i < 5 ? 0xAB : 0x11));
  }
}

TEST_CASE("the emulation passes a kernel with its barriers in place") { CHECK_NOTHROW(run_buggy_kernel(Bug::none)); }

TEST_CASE("the emulation reports shared-memory races: a missing __syncthreads") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::read_after_write), doctest::Contains("read-after-write race"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::write_after_read), doctest::Contains("write-after-read race"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::write_after_write), doctest::Contains("write-after-write race"),
                       EmulationError);
}

TEST_CASE("the emulation reports races and stale reads in static __shared__ arrays") {
  // The message names the memory and the rule.
  const auto failure = [](Bug bug) {
    try {
      run_buggy_kernel(bug);
    } catch (const EmulationError& e) {
      return std::string(e.what());
    }
    return std::string("no EmulationError");
  };
  const std::string race = failure(Bug::static_race);
  CHECK_MESSAGE(race.find("static __shared__") != std::string::npos, race);
  CHECK_MESSAGE(race.find("read-after-write race") != std::string::npos, race);
  const std::string stale = failure(Bug::static_stale_read);
  CHECK_MESSAGE(stale.find("block (1,0,0)") != std::string::npos, stale);
  CHECK_MESSAGE(stale.find("static __shared__") != std::string::npos, stale);
  CHECK_MESSAGE(stale.find("no thread of the block has written") != std::string::npos, stale);
}

TEST_CASE("the emulation reports a read of a cp.async destination before cp.async.wait_group") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::read_before_copy_lands), doctest::Contains("is in flight"),
                       EmulationError);
}

TEST_CASE("the emulation reports shared-memory accesses out of bounds or never written") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::shared_past_end), doctest::Contains("bytes past the end"), EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::ldmatrix_past_end), doctest::Contains("bytes past the end"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::unwritten_read), doctest::Contains("no thread of the block has written"),
                       EmulationError);
}

TEST_CASE("the emulation reports barriers and shuffles that not every thread reaches") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::barrier_after_exit), doctest::Contains("threads of its block exited"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::barrier_never_complete), doctest::Contains("wait at __syncthreads"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::shuffle_after_exit), doctest::Contains("lanes wait at a shuffle"),
                       EmulationError);
}

TEST_CASE("the emulation refuses a launch beyond the kernel's dynamic shared memory") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::too_much_shared), doctest::Contains("allow_dynamic_shared"),
                       EmulationError);
}

TEST_CASE("the emulation reports a vector access that is not aligned to its size, which a GPU stops on") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::misaligned_vector_read), doctest::Contains("reads 16 bytes at address"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::misaligned_vector_read), doctest::Contains("(8 past a multiple of 16)"),
                       EmulationError);
}

TEST_CASE("the emulation reports global memory that two blocks of one launch touch, one of them writing") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::blocks_write_one_word),
                       doctest::Contains("writes 4 bytes of global memory at"), EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::blocks_write_one_word), doctest::Contains("that block (0,0,0) wrote"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::block_reads_others_write), doctest::Contains("that block (0,0,0) wrote"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::block_overwrites_read), doctest::Contains("that block (0,0,0) read"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::block_overwrites_read), doctest::Contains("a race between blocks"),
                       EmulationError);
}

TEST_CASE("the emulation reports global memory that two threads of a block touch between barriers, one writing") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::threads_write_one_global_word),
                       doctest::Contains("that thread 0 (warp 0, lane 0) wrote since the last __syncthreads"),
                       EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::threads_write_one_global_word),
                       doctest::Contains("a write-after-write race between threads of the block"), EmulationError);
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::global_read_after_write),
                       doctest::Contains("a read-after-write race between threads of the block"), EmulationError);
}

#if defined(__SANITIZE_ADDRESS__)
// Global memory has no emulator-side bounds; the sanitizer build's hooks ask ASan (README.md).
TEST_CASE("the emulation reports a global-memory access past a buffer (sanitizer build)") {
  CHECK_THROWS_WITH_AS(run_buggy_kernel(Bug::global_past_end), doctest::Contains("ASan marks unaddressable"),
                       EmulationError);
}
#endif
