// What every kernel benchmark times with: the device's facts, a stream, a cuBLAS handle, operand
// pools rotated past 2x L2, and an event timer under one timing method (profiles/profiler/). It
// owns the stream and the handle and releases them, also when a benchmark throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <ostream>
#include <vector>

#include <cublas_v2.h>

#include "cublas_check.hpp"
#include "cuda_check.hpp"
#include "profiler/copy_ceiling.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/timing.hpp"

namespace ecsim::bench {

class BenchSession {
 public:
  BenchSession(const profiler::TimingMethod& timing, std::uint64_t seed)
      : method(timing), device(profiler::query_device(0)), stream(new_stream()), cublas(new_cublas()),
        pools(seed), timer(stream, timing.max_samples) {}
  BenchSession(const BenchSession&) = delete;
  BenchSession& operator=(const BenchSession&) = delete;
  ~BenchSession() {
    cublasDestroy(cublas);
    cudaStreamDestroy(stream);
  }

  // Times `launch` over enough operand sets that each run reads memory, not L2.
  profiler::Timing time(const std::vector<profiler::Operand>& operands,
                        const std::function<void(const profiler::OperandSet&)>& launch) {
    const int sets = profiler::rotation_sets(profiler::OperandPools::footprint(operands), device.l2_bytes,
                                             method.warmup + method.max_samples);
    pools.reserve(operands, sets, stream);
    return timer.time(sets, method, [&](int set) { launch(pools.set(operands, set)); });
  }

  // The device's copy ceiling over 1 GiB each way (as the profile measures it), printed to `out`
  // with what the benchmark sets beside it: the HBM floors of its bandwidth-bound cases.
  profiler::CopyCeiling copy_ceiling(std::ostream& out, const char* floors_of) {
    constexpr std::size_t kCopyBytes = std::size_t{1} << 30;
    const profiler::CopyCeiling c = profiler::measure_copy_ceiling(stream, device, pools, timer, method, kCopyBytes);
    out << std::fixed << std::setprecision(2) << "copy ceiling " << c.bytes_per_s / 1e12 << " TB/s (device-to-device, "
        << std::setprecision(0) << c.bytes / 2 / (1 << 20) << " MiB each way, bytes read + written): " << floors_of
        << " are at this rate\n";
    return c;
  }

  const profiler::TimingMethod method;
  const profiler::DeviceInfo device;
  cudaStream_t stream;
  cublasHandle_t cublas;
  profiler::OperandPools pools;
  profiler::EventTimer timer;

 private:
  static cudaStream_t new_stream() {
    cudaStream_t s = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }
  static cublasHandle_t new_cublas() {
    cublasHandle_t h = nullptr;
    CUBLAS_CHECK(cublasCreate(&h));
    return h;
  }
};

}  // namespace ecsim::bench
