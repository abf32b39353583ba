// The emulated device (README.md, "The emulated device"): its CUDA runtime and cuBLAS compute what
// CUDA's documentation says on operands whose results are known, and refuse what CUDA would refuse
// or what would corrupt memory silently on a GPU, naming the call and the operand.
// The emulation's CUDA built-ins come before any CUDA header (rsqrtf is one).
#include "emulation/cuda_emulation.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "emulation/emulation_error.hpp"

using ecsim::emulation::EmulationError;

namespace {

// A cudaMalloc'd buffer, freed at scope exit.
template <class T>
struct DeviceVector {
  explicit DeviceVector(std::size_t n) : size(n) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)) == cudaSuccess);
  }
  ~DeviceVector() { cudaFree(p); }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;
  T* p = nullptr;
  std::size_t size;
};

}  // namespace

TEST_CASE("emulated rsqrtf is 1/sqrt(x) in fp32") {
  CHECK(rsqrtf(4.0f) == 0.5f);
  CHECK(rsqrtf(0.25f) == 2.0f);
  CHECK(std::isinf(rsqrtf(0.0f)));
  CHECK(std::abs(rsqrtf(2.0f) - 0.70710678f) <= 1e-7f);
}

TEST_CASE("emulated cudaMemcpy moves bytes to and from device memory, and refuses what leaves its allocation") {
  DeviceVector<float> d(4);
  const std::vector<float> host{1, 2, 3, 4};
  std::vector<float> back(4, 0.0f);
  CHECK(cudaMemcpy(d.p, host.data(), 16, cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(back.data(), d.p, 16, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(back == host);
  // One element too many, the directions swapped, a host pointer as device memory.
  CHECK_THROWS_WITH_AS(cudaMemcpy(d.p + 1, host.data(), 16, cudaMemcpyHostToDevice),
                       doctest::Contains("run past its end"), EmulationError);
  CHECK_THROWS_WITH_AS(cudaMemcpy(d.p, host.data(), 16, cudaMemcpyDeviceToHost),
                       doctest::Contains("is not device memory"), EmulationError);
  CHECK_THROWS_WITH_AS(cudaMemcpy(back.data(), d.p, 16, cudaMemcpyHostToDevice),
                       doctest::Contains("is not device memory"), EmulationError);
  CHECK_THROWS_WITH_AS(cudaMemset(d.p + 2, 0, 12), doctest::Contains("run past its end"), EmulationError);
  CHECK_THROWS_AS(cudaFree(d.p + 1), EmulationError);
  std::size_t free = 0, total = 0;
  CHECK(cudaMemGetInfo(&free, &total) == cudaSuccess);
  CHECK(total - free >= 16);
}

TEST_CASE("emulated cudaMalloc gives memory that reads as NaN until written, as a GPU gives stale bytes") {
  DeviceVector<float> d(3);
  std::vector<float> back(3, 0.0f);
  CHECK(cudaMemcpy(back.data(), d.p, 12, cudaMemcpyDeviceToHost) == cudaSuccess);
  for (const float v : back) CHECK(std::isnan(v));
  DeviceVector<std::uint16_t> h(2);  // bf16 bits
  std::vector<std::uint16_t> bits(2, 0);
  CHECK(cudaMemcpy(bits.data(), h.p, 4, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(bits == std::vector<std::uint16_t>{0xFFFF, 0xFFFF});  // a bf16 NaN
}

TEST_CASE("emulated events time the host clock once both are recorded") {
  cudaEvent_t a = nullptr, b = nullptr;
  REQUIRE(cudaEventCreate(&a) == cudaSuccess);
  REQUIRE(cudaEventCreate(&b) == cudaSuccess);
  float ms = -1;
  CHECK(cudaEventRecord(a, nullptr) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, a, b) == cudaErrorInvalidResourceHandle);
  CHECK(cudaEventRecord(b, nullptr) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, a, b) == cudaSuccess);
  CHECK(ms >= 0.0f);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
}

TEST_CASE("emulated device attributes agree with the device properties, and the unknown ones are refused") {
  cudaDeviceProp prop{};
  REQUIRE(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  int value = -1;
  CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrL2CacheSize, 0) == cudaSuccess);
  CHECK(value == prop.l2CacheSize);
  CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  CHECK(value == prop.multiProcessorCount);
  for (const cudaDeviceAttr clock : {cudaDevAttrClockRate, cudaDevAttrMemoryClockRate}) {
    value = -1;
    CHECK(cudaDeviceGetAttribute(&value, clock, 0) == cudaSuccess);
    CHECK(value == 0);  // no clock
  }
  CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrWarpSize, 0) == cudaErrorInvalidValue);
  CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrL2CacheSize, 1) == cudaErrorInvalidDevice);
}

TEST_CASE("emulated cublasGemmEx computes column-major products with transposes, and checks its operands") {
  // A is 2 x 3 stored transposed (3 x 2, ld 3), B is 3 x 2 (ld 4, one padding row), C is 2 x 2.
  // op(A) = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]]: C = [[4, 5], [10, 11]].
  const std::vector<float> a_t{1, 2, 3, 4, 5, 6};
  const std::vector<float> b{1, 0, 1, -99, 0, 1, 1, -99};
  DeviceVector<float> da(6), db(8), dc(4);
  REQUIRE(cudaMemcpy(da.p, a_t.data(), 24, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(db.p, b.data(), 32, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemset(dc.p, 0xFF, 16) == cudaSuccess);  // NaN: beta = 0 must not read it
  cublasHandle_t h = nullptr;
  REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
  const float one = 1, zero = 0;
  CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, da.p, CUDA_R_32F, 3, db.p, CUDA_R_32F, 4, &zero, dc.p,
                     CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
  std::vector<float> c(4);
  REQUIRE(cudaMemcpy(c.data(), dc.p, 16, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(c == std::vector<float>{4, 10, 5, 11});
  // A leading dimension below the rows cuBLAS rejects; a B that runs past its buffer the emulation refuses.
  CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, da.p, CUDA_R_32F, 2, db.p, CUDA_R_32F, 4, &zero, dc.p,
                     CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE);
  CHECK_THROWS_WITH_AS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, da.p, CUDA_R_32F, 3, db.p + 2,
                                    CUDA_R_32F, 4, &zero, dc.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                       doctest::Contains("cublasGemmEx: B"), EmulationError);
  CHECK(cublasDestroy(h) == CUBLAS_STATUS_SUCCESS);
}
