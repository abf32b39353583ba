// The part of the CUDA runtime API that the kernels' launchers, the runner and the GPU tests' buffers
// call, for one emulated device whose memory is host memory (README.md, "The emulated device").
// Launches run to completion before they return (launch.cuh), so every stream is in order with the
// host: an async copy or memset happens at once, a synchronize has nothing to wait for, and an
// event records the host clock when it is recorded. What CUDA would refuse (a copy that leaves its
// allocation, a host pointer given as device memory, freeing an unknown pointer, a runtime call
// from inside a kernel) throws EmulationError with what was wrong, where CUDA would return an error
// code or corrupt memory silently. No CUDA library is linked: these definitions are the runtime.
// The emulator's definitions of CUDA's keywords come before any CUDA header (cuda_emulation.hpp).
#include "emulation/block_runtime.hpp"

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <new>
#include <string>

#include "emulation/device_memory_registry.hpp"
#include "emulation/emulation_error.hpp"

// The runtime's opaque handle types, defined by the emulation that owns them.
struct CUevent_st {
  std::chrono::steady_clock::time_point at;
  bool recorded = false;
};
struct CUstream_st {};

namespace ecsim::emulation {
namespace {

constexpr std::size_t kAllocationAlignment = 256;  // cudaMalloc's guarantee
constexpr std::size_t kDeviceBytes = 80ull << 30;   // what cudaMemGetInfo reports as the total
constexpr int kL2Bytes = 1 << 20;                   // cudaDeviceProp::l2CacheSize

std::map<std::uintptr_t, std::size_t>& allocations() {
  static std::map<std::uintptr_t, std::size_t> a;
  return a;
}

std::string address(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

// The live allocation containing p, or allocations().end().
std::map<std::uintptr_t, std::size_t>::const_iterator allocation_of(const void* p) {
  const auto& a = allocations();
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  auto it = a.upper_bound(at);
  if (it == a.begin()) return a.end();
  --it;
  return at < it->first + it->second ? it : a.end();
}

// Devices: 1, or ECSIM_EMULATED_DEVICES (1 to 8), read at each call so that a test can set it. They
// share the host's memory and clock; cudaSetDevice only changes which one the thread calls current,
// which the emulated NCCL's one-process communicators (ncclCommInitAll) are built over.
constexpr int kMaxDevices = 8;
thread_local int current_device = 0;

int device_count() {
  const char* text = std::getenv("ECSIM_EMULATED_DEVICES");
  if (text == nullptr || *text == '\0') return 1;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (*end != '\0' || n < 1 || n > kMaxDevices) {
    throw EmulationError("ECSIM_EMULATED_DEVICES='" + std::string(text) + "': not a device count from 1 to " +
                         std::to_string(kMaxDevices));
  }
  return static_cast<int>(n);
}

bool valid_device(int device) { return device >= 0 && device < device_count(); }

// Runtime calls are the host's: one from a kernel's thread is a bug the GPU would not compile.
void require_host_thread(const char* call) {
  if (detail::running_thread != nullptr) {
    std::string what = std::string(call) + " inside a running kernel";
    detail::fail(std::move(what));
  }
}

void copy(void* dst, const void* src, std::size_t count, cudaMemcpyKind kind, const char* call) {
  require_host_thread(call);
  if (count == 0) return;
  const std::string name(call);
  switch (kind) {
    case cudaMemcpyHostToDevice:
      require_device_range(dst, count, name + ": destination");
      require_host_pointer(src, name + ": source (host to device)");
      break;
    case cudaMemcpyDeviceToHost:
      require_device_range(src, count, name + ": source");
      require_host_pointer(dst, name + ": destination (device to host)");
      break;
    case cudaMemcpyDeviceToDevice:
      require_device_range(src, count, name + ": source");
      require_device_range(dst, count, name + ": destination");
      break;
    case cudaMemcpyHostToHost:
    case cudaMemcpyDefault: break;
  }
  std::memmove(dst, src, count);
}

}  // namespace

void require_device_range(const void* p, std::size_t bytes, const std::string& what) {
  const auto it = allocation_of(p);
  if (it == allocations().end()) {
    throw EmulationError(what + ": " + address(p) + " is not device memory (no live cudaMalloc allocation holds it)");
  }
  const std::size_t offset = reinterpret_cast<std::uintptr_t>(p) - it->first;
  if (bytes > it->second - offset) {
    throw EmulationError(what + ": " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                         " of an allocation of " + std::to_string(it->second) + " bytes run past its end");
  }
}

void require_host_pointer(const void* p, const std::string& what) {
  if (allocation_of(p) != allocations().end()) {
    throw EmulationError(what + ": " + address(p) + " is device memory (a cudaMalloc allocation)");
  }
}

std::size_t device_bytes_allocated() {
  std::size_t total = 0;
  for (const auto& [start, bytes] : allocations()) total += bytes;
  return total;
}

}  // namespace ecsim::emulation

namespace emu = ecsim::emulation;

extern "C" {

cudaError_t cudaMalloc(void** p, size_t bytes) {
  emu::require_host_thread("cudaMalloc");
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  // Exactly `bytes`, so that the sanitizer build's ASan sees an access one past the end.
  *p = ::operator new(bytes, std::align_val_t{emu::kAllocationAlignment}, std::nothrow);
  if (*p == nullptr) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xFF, bytes);
  emu::allocations()[reinterpret_cast<std::uintptr_t>(*p)] = bytes;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  emu::require_host_thread("cudaFree");
  if (p == nullptr) return cudaSuccess;
  const auto it = emu::allocations().find(reinterpret_cast<std::uintptr_t>(p));
  if (it == emu::allocations().end()) {
    throw emu::EmulationError("cudaFree(" + emu::address(p) + "): not the start of a live cudaMalloc allocation");
  }
  emu::allocations().erase(it);
  ::operator delete(p, std::align_val_t{emu::kAllocationAlignment});
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  *total = emu::kDeviceBytes;
  *free = emu::kDeviceBytes - emu::device_bytes_allocated();
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  emu::copy(dst, src, count, kind, "cudaMemcpy");
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t) {
  emu::copy(dst, src, count, kind, "cudaMemcpyAsync");
  return cudaSuccess;
}

// `height` rows of `width` bytes, `spitch` and `dpitch` bytes apart.
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t) {
  if (width > dpitch || width > spitch) return cudaErrorInvalidPitchValue;
  for (size_t r = 0; r < height; ++r) {
    emu::copy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width, kind,
              "cudaMemcpy2DAsync");
  }
  return cudaSuccess;
}

// The first `count` bytes at `p` become the byte `value`. Device memory from cudaMalloc must hold
// them all; the emulated kernel tests' host vectors, which stand for device buffers, are accepted.
cudaError_t cudaMemsetAsync(void* p, int value, size_t count, cudaStream_t) {
  emu::require_host_thread("cudaMemsetAsync");
  if (emu::allocation_of(p) != emu::allocations().end()) emu::require_device_range(p, count, "cudaMemsetAsync");
  std::memset(p, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemset(void* p, int value, size_t count) { return cudaMemsetAsync(p, value, count, nullptr); }

cudaError_t cudaGetDeviceCount(int* count) {
  *count = emu::device_count();
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (!emu::valid_device(device)) return cudaErrorInvalidDevice;
  emu::current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = emu::current_device;
  return cudaSuccess;
}

// A compute capability 9.0 device, named for what it is. Only what the launch limits
// (cuda_emulation.cpp), the runner's output and the profiler's device record (device_info.cpp)
// read is filled in. The L2 is small, so that the profiler's operand rotation past 2x L2 stays
// small; no cache is emulated.
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!emu::valid_device(device)) return cudaErrorInvalidDevice;
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "CPU emulation of a CUDA device (ecsim tests/emulation)");
  prop->major = 9;
  prop->minor = 0;
  prop->totalGlobalMem = emu::kDeviceBytes;
  prop->l2CacheSize = emu::kL2Bytes;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

// The SM and memory clocks are 0 kHz: the emulation has none (the profile's clock_mhz 0, as
// analytic profiles say "none"). The L2 and the SM count are cudaGetDeviceProperties'. Other
// attributes are not emulated.
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!emu::valid_device(device)) return cudaErrorInvalidDevice;
  switch (attr) {
    case cudaDevAttrClockRate:
    case cudaDevAttrMemoryClockRate: *value = 0; return cudaSuccess;
    case cudaDevAttrL2CacheSize: *value = emu::kL2Bytes; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = 1; return cudaSuccess;
    default: return cudaErrorInvalidValue;
  }
}

// No PCI bus: a text no driver library will take for a bus id (NVML finds no device by it).
cudaError_t cudaDeviceGetPCIBusId(char* bus_id, int len, int device) {
  if (!emu::valid_device(device)) return cudaErrorInvalidDevice;
  if (len <= 0) return cudaErrorInvalidValue;
  std::snprintf(bus_id, static_cast<std::size_t>(len), "none (emulated)");
  return cudaSuccess;
}

// The runtime is the CUDA headers' version it was compiled against; there is no driver, for which
// CUDA reports 0.
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

// Emulated launches throw what they find and return cudaSuccess, so there is never an error to report.
cudaError_t cudaGetLastError() { return cudaSuccess; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new CUstream_st;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  emu::require_host_thread("cudaEventRecord");
  event->at = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }

// As CUDA: an error unless both events have been recorded.
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!start->recorded || !end->recorded) return cudaErrorInvalidResourceHandle;
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorInvalidPitchValue: return "cudaErrorInvalidPitchValue";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    default: return "cudaError (emulated runtime)";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory (emulated device: host allocation failed)";
    case cudaErrorInvalidDevice: return "invalid device ordinal (the emulation has device 0 only)";
    case cudaErrorInvalidValue: return "invalid argument (or a device attribute the emulation does not have)";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle (an event not yet recorded)";
    default: return "an emulated runtime call returned an error code";
  }
}

}  // extern "C"
