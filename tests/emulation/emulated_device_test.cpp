// The emulated device (README.md, "The emulated device"): its CUDA runtime and cuBLAS compute what
// CUDA's documentation says on operands whose results are known, and refuse what CUDA would refuse
// or what would corrupt memory silently on a GPU, naming the call and the operand.
// The emulation's CUDA built-ins come before any CUDA header (rsqrtf is one).
#include "emulation/cuda_emulation.hpp"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "emulation/cublaslt_emulated.hpp"
#include "emulation/emulation_error.hpp"
#include "gemm_bias.cuh"
#include "gpu_check.hpp"

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

namespace {

// Small integers in bf16: every product, sum and bias here is exact, rounded once or twice.
std::vector<__nv_bfloat16> bf16_values(const std::vector<double>& v) { return ecsim::test::to_bf16(v); }

std::vector<double> values(const std::vector<__nv_bfloat16>& v) {
  return ecsim::test::to_double(std::span<const __nv_bfloat16>(v));
}

template <class T>
void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const T& v) {
  REQUIRE(cublasLtMatmulDescSetAttribute(d, a, &v, sizeof(v)) == CUBLAS_STATUS_SUCCESS);
}

}  // namespace

TEST_CASE("emulated cuBLASLt adds the bias in the epilogue, and refuses what cuBLASLt would, and less alignment") {
  // D [2 x 2] = A [2 x 3] B [3 x 2] + bias [2] per row, column-major, bf16.
  // A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]], bias = [10, 20]: D = [[14, 15], [30, 31]].
  DeviceVector<__nv_bfloat16> da(6), db(6), dbias(2), dd(4 + 8);
  const auto a = bf16_values({1, 4, 2, 5, 3, 6}), b = bf16_values({1, 0, 1, 0, 1, 1}), bias = bf16_values({10, 20});
  REQUIRE(cudaMemcpy(da.p, a.data(), 12, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(db.p, b.data(), 12, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(dbias.p, bias.data(), 4, cudaMemcpyHostToDevice) == cudaSuccess);
  cublasLtHandle_t h = nullptr;
  REQUIRE(cublasLtCreate(&h) == CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulDesc_t desc = nullptr;
  REQUIRE(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS);
  set_desc(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(CUBLASLT_EPILOGUE_BIAS));
  set_desc(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<const void*>(dbias.p));
  // An attribute of another size than its type's (a 64-bit transpose) is refused, as cuBLASLt does.
  const std::int64_t wide = CUBLAS_OP_T;
  CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &wide, sizeof(wide)) ==
        CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr, wrong = nullptr;
  REQUIRE(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, 2, 3, 2) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, 3, 2, 3) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, 2, 2, 2) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatrixLayoutCreate(&wrong, CUDA_R_16BF, 3, 2, 3) == CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulPreference_t pref = nullptr;
  REQUIRE(cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  // D's layout must have op(A)'s rows.
  CHECK(cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, wrong, wrong, pref, 1, &result, &found) ==
        CUBLAS_STATUS_INVALID_VALUE);
  REQUIRE(cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, ld, ld, pref, 1, &result, &found) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(found == 1);
  const float one = 1, zero = 0;
  REQUIRE(cudaMemset(dd.p, 0xFF, 24) == cudaSuccess);  // NaN: beta = 0 must not read it
  CHECK(cublasLtMatmul(h, desc, &one, da.p, la, db.p, lb, &zero, dd.p, ld, dd.p, ld, &result.algo, nullptr, 0,
                       nullptr) == CUBLAS_STATUS_SUCCESS);
  std::vector<__nv_bfloat16> d(4);
  REQUIRE(cudaMemcpy(d.data(), dd.p, 8, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(values(d) == std::vector<double>{14, 30, 15, 31});
  // The algorithm was chosen for 256-byte operands (the preference's default): D 16 bytes in is refused.
  CHECK(cublasLtMatmul(h, desc, &one, da.p, la, db.p, lb, &zero, dd.p + 8, ld, dd.p + 8, ld, &result.algo, nullptr,
                       0, nullptr) == CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatmulPreferenceDestroy(pref);
  for (cublasLtMatrixLayout_t l : {la, lb, ld, wrong}) cublasLtMatrixLayoutDestroy(l);
  cublasLtMatmulDescDestroy(desc);
  CHECK(cublasLtDestroy(h) == CUBLAS_STATUS_SUCCESS);
}

TEST_CASE("GemmBias runs the product and then bias_add where cuBLASLt has no fused algorithm, and counts it") {
  // y [3 x 8] = x [3 x 8] w [8 x 8] + b: x of small integers, w the identity, b = 100 + column.
  std::vector<double> x(24), w(64, 0.0), b(8);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 7) - 3;
  for (std::size_t i = 0; i < b.size(); ++i) {
    w[i * 8 + i] = 1.0;
    b[i] = 100.0 + static_cast<double>(i);
  }
  std::vector<double> want(24);
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = x[i] + b[i % 8];
  DeviceVector<__nv_bfloat16> dx(24), dw(64), db(8), dy(24);
  REQUIRE(cudaMemcpy(dx.p, bf16_values(x).data(), 48, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(dw.p, bf16_values(w).data(), 128, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(db.p, bf16_values(b).data(), 16, cudaMemcpyHostToDevice) == cudaSuccess);
  for (const bool offered : {true, false}) {
    CAPTURE(offered);
    const bool before = ecsim::emulation::offer_bias_epilogue(offered);
    ecsim::GemmBias fused;
    REQUIRE(cudaMemset(dy.p, 0xFF, 48) == cudaSuccess);
    fused.run(nullptr, {3, 8, 8}, dx.p, dw.p, db.p, dy.p);
    ecsim::emulation::offer_bias_epilogue(before);
    std::vector<__nv_bfloat16> y(24);
    REQUIRE(cudaMemcpy(y.data(), dy.p, 48, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(values(y) == want);
    CHECK(fused.unfused_shapes() == (offered ? 0 : 1));
  }
}
