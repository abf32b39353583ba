// Device memory for the profiler's measurements (device_buffers.hpp): random fills and the
// rotated operand pools.
//   fill_uniform_*: one thread per element over a grid-stride loop; value = splitmix64(seed + i),
//   top 24 bits as a fraction, so any element can be regenerated and no generator state is kept.
// Without a GPU: tests/emulation/profile_emulated_test.sh runs the profiler, these pools included,
// on the emulated device.
#include <cuda_bf16.h>

#include <algorithm>
#include <utility>

#include "cuda_check.hpp"
#include "elementwise_launch.cuh"
#include "launch.cuh"
#include "profiler/device_buffers.hpp"

namespace ecsim::profiler {
namespace {

constexpr int kThreads = 256;
constexpr std::size_t kAlign = 256;  // every operand starts on a 256-byte boundary (cudaMalloc's alignment)
constexpr float kUnit = 1.0f / 16777216.0f;  // 2^-24: 24 random bits to [0, 1)

__device__ inline float uniform01(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * kUnit;
}

// p[i] = scale u + offset, u uniform in [0, 1).
__global__ void __launch_bounds__(kThreads)
    fill_bf16_kernel(__nv_bfloat16* __restrict__ p, std::int64_t n, std::uint64_t seed, float scale, float offset) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    p[i] = __float2bfloat16(scale * uniform01(seed, static_cast<std::uint64_t>(i)) + offset);
  }
}

void fill_bf16(void* p, std::size_t elements, std::uint64_t seed, float scale, float offset, cudaStream_t stream) {
  if (elements == 0) return;
  const auto n = static_cast<std::int64_t>(elements);
  CUDA_CHECK(launch_kernel(fill_bf16_kernel, elementwise_blocks(n, kThreads), kThreads, 0, stream,
                           static_cast<__nv_bfloat16*>(p), n, seed, scale, offset));
}

__global__ void __launch_bounds__(kThreads) fill_fp32_kernel(float* __restrict__ p, std::int64_t n, std::uint64_t seed) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    p[i] = uniform01(seed, static_cast<std::uint64_t>(i));
  }
}

std::size_t aligned(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

int pool_index(Fill fill) { return static_cast<int>(fill); }

}  // namespace

DeviceAllocation::DeviceAllocation(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMalloc(&p_, bytes));
}

DeviceAllocation::DeviceAllocation(DeviceAllocation&& other) noexcept
    : p_(std::exchange(other.p_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceAllocation& DeviceAllocation::operator=(DeviceAllocation&& other) noexcept {
  if (this != &other) {
    if (p_ != nullptr) cudaFree(p_);
    p_ = std::exchange(other.p_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DeviceAllocation::~DeviceAllocation() {
  if (p_ != nullptr) cudaFree(p_);
}

void fill_uniform_bf16(void* p, std::size_t elements, std::uint64_t seed, cudaStream_t stream) {
  fill_bf16(p, elements, seed, 2.0f, -1.0f, stream);
}

void fill_unit_bf16(void* p, std::size_t elements, std::uint64_t seed, cudaStream_t stream) {
  fill_bf16(p, elements, seed, 1.0f, 0.0f, stream);
}

void fill_uniform_fp32(void* p, std::size_t elements, std::uint64_t seed, cudaStream_t stream) {
  if (elements == 0) return;
  const auto n = static_cast<std::int64_t>(elements);
  CUDA_CHECK(launch_kernel(fill_fp32_kernel, elementwise_blocks(n, kThreads), kThreads, 0, stream,
                           static_cast<float*>(p), n, seed));
}

std::size_t OperandPools::set_bytes(const std::vector<Operand>& operands, Fill fill) {
  std::size_t bytes = 0;
  for (const Operand& o : operands) {
    if (o.fill == fill) bytes += aligned(o.bytes);
  }
  return bytes;
}

std::size_t OperandPools::footprint(const std::vector<Operand>& operands) {
  std::size_t bytes = 0;
  for (const Operand& o : operands) bytes += aligned(o.bytes);
  return bytes;
}

void OperandPools::reserve(const std::vector<Operand>& operands, int sets, cudaStream_t stream) {
  for (const Fill fill : {Fill::kUniformBf16, Fill::kUnitBf16, Fill::kUniformFp32, Fill::kScratch}) {
    const std::size_t need = set_bytes(operands, fill) * static_cast<std::size_t>(sets);
    DeviceAllocation& pool = pools_[pool_index(fill)];
    if (need <= pool.bytes()) continue;
    // Grow by half again over the need: the sweep asks for slowly growing sizes.
    pool = DeviceAllocation();
    const std::size_t generous = aligned(need + need / 2);
    try {
      pool = DeviceAllocation(generous);
    } catch (const CudaError&) {
      cudaGetLastError();  // an allocation failure is not sticky; clear it and try the exact need
      pool = DeviceAllocation(aligned(need));
    }
    const std::uint64_t seed = seed_ + 0x1000 * ++fills_;
    if (fill == Fill::kUniformBf16) fill_uniform_bf16(pool.get(), pool.bytes() / 2, seed, stream);
    if (fill == Fill::kUnitBf16) fill_unit_bf16(pool.get(), pool.bytes() / 2, seed, stream);
    if (fill == Fill::kUniformFp32) fill_uniform_fp32(pool.get(), pool.bytes() / 4, seed, stream);
  }
}

OperandSet OperandPools::set(const std::vector<Operand>& operands, int index) const {
  OperandSet s;
  std::size_t offset[kPools] = {};
  for (const Operand& o : operands) {
    const int pool = pool_index(o.fill);
    const std::size_t base = set_bytes(operands, o.fill) * static_cast<std::size_t>(index);
    s.pointers.push_back(static_cast<char*>(pools_[pool].get()) + base + offset[pool]);
    offset[pool] += aligned(o.bytes);
  }
  return s;
}

void OperandPools::release() {
  for (DeviceAllocation& pool : pools_) pool = DeviceAllocation();
}

std::size_t OperandPools::held_bytes() const {
  std::size_t bytes = 0;
  for (const DeviceAllocation& pool : pools_) bytes += pool.bytes();
  return bytes;
}

int rotation_sets(std::size_t footprint_bytes, std::size_t l2_bytes, int runs) {
  if (footprint_bytes == 0) return 1;
  const std::size_t needed = (2 * l2_bytes + footprint_bytes - 1) / footprint_bytes;
  return static_cast<int>(std::clamp<std::size_t>(needed, 1, static_cast<std::size_t>(std::max(runs, 1))));
}

}  // namespace ecsim::profiler
