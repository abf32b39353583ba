// Device facts for a measurement's header (device_info.hpp).
#include "profiler/device_info.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cctype>

#include "cuda_check.hpp"
#include "cuda_device.hpp"

namespace ecsim::profiler {
namespace {

// The few NVML entry points used, declared here so that neither nvml.h nor libnvidia-ml is needed
// at build time. NVML returns 0 (NVML_SUCCESS) on success; NVML_CLOCK_SM is 1.
class Nvml {
 public:
  static const Nvml& get() {
    static const Nvml nvml;
    return nvml;
  }
  bool ok() const { return ok_; }

  std::string driver_version() const {
    char buf[96] = {};
    if (!ok_ || driver_version_(buf, sizeof buf) != 0) return {};
    return buf;
  }

  int sm_clock_mhz(const std::string& pci_bus_id) const {
    void* device = nullptr;
    unsigned mhz = 0;
    if (!ok_ || device_by_pci_(pci_bus_id.c_str(), &device) != 0) return 0;
    if (clock_info_(device, kClockSm, &mhz) != 0) return 0;
    return static_cast<int>(mhz);
  }

 private:
  using InitFn = int (*)();
  using DriverVersionFn = int (*)(char*, unsigned);
  using DeviceByPciFn = int (*)(const char*, void**);
  using ClockInfoFn = int (*)(void*, int, unsigned*);
  static constexpr int kClockSm = 1;

  Nvml() {
    lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) return;
    const auto init = reinterpret_cast<InitFn>(dlsym(lib_, "nvmlInit_v2"));
    driver_version_ = reinterpret_cast<DriverVersionFn>(dlsym(lib_, "nvmlSystemGetDriverVersion"));
    device_by_pci_ = reinterpret_cast<DeviceByPciFn>(dlsym(lib_, "nvmlDeviceGetHandleByPciBusId_v2"));
    clock_info_ = reinterpret_cast<ClockInfoFn>(dlsym(lib_, "nvmlDeviceGetClockInfo"));
    ok_ = init != nullptr && driver_version_ != nullptr && device_by_pci_ != nullptr && clock_info_ != nullptr &&
          init() == 0;
  }

  void* lib_ = nullptr;
  DriverVersionFn driver_version_ = nullptr;
  DeviceByPciFn device_by_pci_ = nullptr;
  ClockInfoFn clock_info_ = nullptr;
  bool ok_ = false;
};

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

int attribute(cudaDeviceAttr attr, int device) {
  int v = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&v, attr, device));
  return v;
}

}  // namespace

DeviceInfo query_device(int index) {
  DeviceInfo d;
  d.index = index;
  d.device_count = require_cuda_devices();
  CUDA_CHECK(cudaSetDevice(index));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  d.name = prop.name;
  d.sms = prop.multiProcessorCount;
  d.hbm_bytes = prop.totalGlobalMem;
  d.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
  d.max_sm_clock_mhz = attribute(cudaDevAttrClockRate, index) / 1000;
  char bus[32] = {};
  CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof bus, index));
  d.pci_bus_id = bus;
  int v = 0;
  CUDA_CHECK(cudaRuntimeGetVersion(&v));
  d.cuda_runtime = cuda_version(v);
  CUDA_CHECK(cudaDriverGetVersion(&v));
  d.cuda_driver = cuda_version(v);
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  d.cublas = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  d.driver = Nvml::get().driver_version();
  if (d.driver.empty()) d.driver = "unknown (NVML not loaded); CUDA driver API " + d.cuda_driver;
  return d;
}

int current_sm_clock_mhz(const DeviceInfo& device) { return Nvml::get().sm_clock_mhz(device.pci_bus_id); }

std::string device_slug(const std::string& name) {
  std::string lower;
  for (const char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string vendor = "nvidia ";
  if (lower.rfind(vendor, 0) == 0) lower.erase(0, vendor.size());
  std::string slug;
  for (const char c : lower) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (keep) {
      slug += c;
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "gpu" : slug;
}

}  // namespace ecsim::profiler
