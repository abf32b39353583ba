// Device memory for measurements: allocations that free themselves, random fills, and the pools
// the timing loop rotates each run's operands through, so that a timed run finds its inputs in
// HBM rather than in L2 (STYLE.md: buffers rotated past 2x L2, random data, never zeros).
// Compiled by nvcc (C++17) and g++ (C++20) alike.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ecsim::profiler {

class DeviceAllocation {
 public:
  DeviceAllocation() = default;
  explicit DeviceAllocation(std::size_t bytes);
  DeviceAllocation(DeviceAllocation&& other) noexcept;
  DeviceAllocation& operator=(DeviceAllocation&& other) noexcept;
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;
  ~DeviceAllocation();

  void* get() const { return p_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// Uniform values from a counter-based hash of (seed, index): bf16 in [-1, 1); bf16 in [0, 1) (unit);
// fp32 in [0, 1), which is valid for every fp32 input the kernels read (logits, probabilities,
// second moments, row statistics, a logsumexp).
void fill_uniform_bf16(void* p, std::size_t elements, std::uint64_t seed, cudaStream_t stream);
void fill_unit_bf16(void* p, std::size_t elements, std::uint64_t seed, cudaStream_t stream);
void fill_uniform_fp32(void* p, std::size_t elements, std::uint64_t seed, cudaStream_t stream);

enum class Fill {
  kUniformBf16,  // a bf16 input
  // A bf16 input that must not be negative: AdamW's bf16 second moments. A negative one makes
  // sqrt and the division return NaN, which take the slow paths of a GPU's IEEE fp32 sequences.
  // Over [-1, 1) moments an H200 ran AdamW at 3.2 TB/s, the runner's steps at 4.0 to 4.1
  // (2026-11-28); those NaNs are the likely cause.
  kUnitBf16,
  kUniformFp32,  // an fp32 input (also fp32 state a kernel updates in place)
  kScratch,      // an output or workspace: whatever an earlier run left there
};

// One operand of a kernel run; its size in bytes.
struct Operand {
  Fill fill;
  std::size_t bytes;
};

// The operands of one set, in the order they were declared.
struct OperandSet {
  std::vector<void*> pointers;
  template <class T>
  T* at(std::size_t i) const {
    return static_cast<T*>(pointers.at(i));
  }
};

// Four pools, one per Fill, each holding `sets` back-to-back copies of a run's operands of that
// fill. A pool grows (freed, reallocated, refilled) when a run needs more than it holds.
class OperandPools {
 public:
  explicit OperandPools(std::uint64_t seed) : seed_(seed) {}

  // Bytes one set occupies in the pool of `fill` (operands 256-byte aligned).
  static std::size_t set_bytes(const std::vector<Operand>& operands, Fill fill);
  // Bytes one set occupies over all pools: what one run touches.
  static std::size_t footprint(const std::vector<Operand>& operands);

  // Room for `sets` sets; throws CudaError (cudaErrorMemoryAllocation) when the device has no room.
  void reserve(const std::vector<Operand>& operands, int sets, cudaStream_t stream);
  // Set `index` (< the sets reserved) of `operands`.
  OperandSet set(const std::vector<Operand>& operands, int index) const;
  void release();
  std::size_t held_bytes() const;

 private:
  static constexpr int kPools = 4;
  DeviceAllocation pools_[kPools];
  std::uint64_t seed_;
  std::uint64_t fills_ = 0;  // a new seed per refill, so grown pools hold fresh values
};

// Sets to rotate among so that two uses of one set are at least 2x L2 apart (or no set is reused
// within `runs` runs).
int rotation_sets(std::size_t footprint_bytes, std::size_t l2_bytes, int runs);

}  // namespace ecsim::profiler
