// What the GPU tests share: whether a device is present (and why not), device buffers that are
// poisoned on allocation, bf16 conversions, and the comparison with a CPU reference.
// Every kernel is compared with its fp64 reference run on the same bf16-rounded inputs, with
// |gpu - ref| <= atol + rtol |ref|; a NaN (the poison) never passes.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_check.hpp"
#include "cuda_device.hpp"
#include "gradient_check.hpp"  // random_values

namespace ecsim::test {

// Empty when a CUDA device is present, otherwise why the GPU tests cannot run.
inline const std::string& gpu_unavailable_reason() {
  static const std::string reason = cuda_device_unavailable_reason();
  return reason;
}

inline bool gpu_available() { return gpu_unavailable_reason().empty(); }

// The seed of this run's random inputs: ECSIM_TEST_SEED when set (to reproduce a failure), else
// fresh from std::random_device. Tests CAPTURE it, so a failure prints it.
inline std::uint64_t run_seed() {
  static const std::uint64_t seed = [] {
    if (const char* s = std::getenv("ECSIM_TEST_SEED"))
      return static_cast<std::uint64_t>(std::strtoull(s, nullptr, 10));
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) | rd();
  }();
  return seed;
}

inline std::vector<__nv_bfloat16> to_bf16(std::span<const double> v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16(static_cast<float>(v[i]));
  return out;
}

inline std::vector<double> to_double(std::span<const __nv_bfloat16> v) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<double>(__bfloat162float(v[i]));
  return out;
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Uniform values already rounded to bf16 (so a kernel's bf16 input and the reference's fp64 input
// are the same numbers).
inline std::vector<double> rounded(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return to_double(std::span<const __nv_bfloat16>(to_bf16(random_values(n, seed, lo, hi))));
}

// `packed` [rows, width] placed in rows `stride` apart; the gaps hold other random values, which a
// kernel must neither read (the results would change) nor overwrite.
inline std::vector<double> spread_rows(const std::vector<double>& packed, std::int64_t width, std::int64_t stride,
                                       std::uint64_t seed) {
  const auto rows = static_cast<std::int64_t>(packed.size()) / width;
  std::vector<double> out = rounded(static_cast<std::size_t>(rows * stride), seed);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy_n(packed.begin() + r * width, width, out.begin() + r * stride);
  }
  return out;
}

// The rows of `spread` (`width` of every `stride` values) packed; `gaps_poisoned` is false where a
// value between them is not NaN (the poison an output starts as: the kernel wrote past its row).
inline std::vector<double> gather_rows(const std::vector<double>& spread, std::int64_t width, std::int64_t stride,
                                       bool& gaps_poisoned) {
  const auto rows = static_cast<std::int64_t>(spread.size()) / stride;
  std::vector<double> out(static_cast<std::size_t>(rows * width));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy_n(spread.begin() + r * stride, width, out.begin() + r * width);
    for (std::int64_t c = width; c < stride; ++c) {
      if (!std::isnan(spread[static_cast<std::size_t>(r * stride + c)])) gaps_poisoned = false;
    }
  }
  return out;
}

inline std::vector<float> to_float(const std::vector<double>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

// A device allocation, poisoned when made: bytes 0xFF (NaN in bf16 and fp32) for floating
// point, 0x7F (0x7F7F7F7F, never a valid index) for integers, so that an element a kernel fails
// to write cannot pass a comparison.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), bytes()));
    CUDA_CHECK(cudaMemset(p_, std::is_integral_v<T> ? 0x7F : 0xFF, bytes()));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p_); }

  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    REQUIRE(host.size() == n_);
    CUDA_CHECK(cudaMemcpy(p_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(host.data(), p_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  std::size_t bytes() const { return n_ * sizeof(T); }
  T* p_ = nullptr;
  std::size_t n_;
};

inline std::vector<double> download_double(const DeviceBuffer<__nv_bfloat16>& b) {
  return to_double(std::span<const __nv_bfloat16>(b.download()));
}
inline std::vector<double> download_double(const DeviceBuffer<float>& b) { return to_double(b.download()); }

struct Tolerance {
  double atol;
  double rtol;
};

// A bf16 output is rounded once from fp32: relative error up to 2^-8. Allow twice that (2^-7),
// plus 2^-8 of the tensor's largest magnitude for elements that cancel toward zero, where the
// fp32 arithmetic's error is set by the size of the terms rather than of the result.
inline Tolerance bf16_tolerance(std::span<const double> ref) {
  double largest = 0;
  for (double r : ref) largest = std::max(largest, std::abs(r));
  return {std::ldexp(largest, -8), std::ldexp(1.0, -7)};
}

// An fp32 reduction of at most ~10^4 terms: error below ~32 * 2^-24 of the terms' magnitude;
// allow 1e-5 relative, and 1e-5 of the largest magnitude absolute.
inline Tolerance fp32_sum_tolerance(std::span<const double> ref) {
  double largest = 0;
  for (double r : ref) largest = std::max(largest, std::abs(r));
  return {1e-5 * largest, 1e-5};
}

// Checks every element; on failure reports the mismatch count, the first index and both values.
inline void check_close(const std::string& what, std::span<const double> gpu, std::span<const double> ref,
                        Tolerance tol) {
  REQUIRE_MESSAGE(gpu.size() == ref.size(),
                  what << ": gpu has " << gpu.size() << " elements, reference " << ref.size());
  std::size_t mismatches = 0, first = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!(std::abs(gpu[i] - ref[i]) <= tol.atol + tol.rtol * std::abs(ref[i]))) {
      if (mismatches++ == 0) first = i;
    }
  }
  CHECK_MESSAGE(mismatches == 0, what << ": " << mismatches << " of " << ref.size()
                                      << " elements outside |gpu - ref| <= " << tol.atol << " + " << tol.rtol
                                      << " |ref|; first at " << first << ": gpu " << (ref.empty() ? 0.0 : gpu[first])
                                      << ", ref " << (ref.empty() ? 0.0 : ref[first]));
}

// Checks outputs (check_close) and keeps, for the summary a test prints, each one's worst error
// over its tolerance: max |kernel - ref| / (atol + rtol |ref|), at most 1 to pass. An exact check
// (tolerance 0) counts 0 where equal and infinity elsewhere; a NaN (the poison) counts infinity.
class CheckLog {
 public:
  void check(const char* what, std::span<const double> kernel, std::span<const double> ref, Tolerance tol) {
    check_close(what, kernel, ref, tol);
    double worst = 0;
    for (std::size_t i = 0; i < ref.size() && i < kernel.size(); ++i) {
      const double error = std::abs(kernel[i] - ref[i]);
      const double ratio = error == 0 ? 0.0 : error / (tol.atol + tol.rtol * std::abs(ref[i]));
      worst = std::isnan(ratio) ? std::numeric_limits<double>::infinity() : std::max(worst, ratio);
    }
    summary_ += std::string(summary_.empty() ? "" : ", ") + what + " " + std::to_string(worst);
  }
  // "probs 0.012, y 0.31, ...": each output's worst error over its tolerance.
  const std::string& summary() const { return summary_; }

 private:
  std::string summary_;
};

}  // namespace ecsim::test
