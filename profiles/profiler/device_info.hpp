// What a measurement records about its device: name, SMs, memory, L2 (read from the device, never
// assumed), clocks and software versions. Clocks and the driver version come from NVML, loaded at
// run time (dlopen) so that the profiler also starts, and lists its plan, on a machine without
// a driver.
#pragma once

#include <cstddef>
#include <string>

namespace ecsim::profiler {

struct DeviceInfo {
  int index = 0;
  int device_count = 0;  // CUDA devices visible
  std::string name;      // "NVIDIA H100 80GB HBM3"
  int sms = 0;
  std::size_t hbm_bytes = 0;
  std::size_t l2_bytes = 0;
  int max_sm_clock_mhz = 0;  // cudaDevAttrClockRate
  std::string driver;        // NVML's driver version, e.g. "580.159.04"
  std::string cuda_runtime;  // "13.0"
  std::string cuda_driver;   // the CUDA version the driver supports
  std::string cublas;        // "13.0.2"
  std::string pci_bus_id;
};

// Throws CudaError when no device can be opened.
DeviceInfo query_device(int index);

// The SM clock now (NVML_CLOCK_SM, MHz); 0 where NVML is not available.
int current_sm_clock_mhz(const DeviceInfo& device);

// "NVIDIA H100 80GB HBM3" -> "h100-80gb-hbm3": a file name for the device's profile.
std::string device_slug(const std::string& name);

}  // namespace ecsim::profiler
