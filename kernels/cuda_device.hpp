// Whether this process can use a CUDA device, and why not, in words: one check shared by the tools
// that need a GPU (ecsim-run, ecsim-profile, the kernel benchmarks) and the GPU tests' skip reason,
// so that a machine without a GPU or driver gets a sentence rather than a bare CUDA error code.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace ecsim {

// Empty when at least one device is usable (`count` gets how many); otherwise, e.g.
//   "cudaGetDeviceCount: cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA
//    runtime version): no NVIDIA driver is loaded, or it is older than this build's CUDA 13.0"
inline std::string cuda_device_unavailable_reason(int& count) {
  count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaSuccess) return count == 0 ? "cudaGetDeviceCount reports no device" : "";
  std::string reason =
      std::string("cudaGetDeviceCount: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  if (err == cudaErrorInsufficientDriver) {
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    reason += ": no NVIDIA driver is loaded, or it is older than this build's CUDA " + std::to_string(runtime / 1000) +
              "." + std::to_string(runtime % 1000 / 10);
  } else if (err == cudaErrorNoDevice) {
    reason += ": no NVIDIA GPU is visible to this process (is CUDA_VISIBLE_DEVICES set?)";
  }
  return reason;
}

inline std::string cuda_device_unavailable_reason() {
  int count = 0;
  return cuda_device_unavailable_reason(count);
}

// The number of devices; throws std::runtime_error("no CUDA GPU is usable here: <reason>") when
// there is none (the tools' mains print it after their name and exit with code 1).
inline int require_cuda_devices() {
  int count = 0;
  const std::string reason = cuda_device_unavailable_reason(count);
  if (!reason.empty()) throw std::runtime_error("no CUDA GPU is usable here: " + reason);
  return count;
}

}  // namespace ecsim
