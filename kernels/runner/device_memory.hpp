// Device allocations of the runner, counted: every buffer the model, its optimizer and its
// activations hold goes through DeviceArray, so the runner knows its own peak (what the simulator's
// memory estimate describes) apart from the CUDA context and cuBLAS workspaces that
// cudaMemGetInfo also sees.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cuda_check.hpp"

namespace ecsim::runner {

// Bytes held by DeviceArrays now, and the most held at once since the process started.
struct TrackedMemory {
  std::size_t current = 0;
  std::size_t peak = 0;
};
TrackedMemory& tracked_memory();

// cudaMemGetInfo: bytes in use on the device (total - free), the whole process's view.
std::size_t device_bytes_in_use();

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t n) : n_(n) {
    if (n_ == 0) return;
    CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), bytes()));
    TrackedMemory& t = tracked_memory();
    t.current += bytes();
    if (t.current > t.peak) t.peak = t.current;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  ~DeviceArray() { release(); }

  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }
  void upload(const std::vector<T>& host) {
    require_size(host.size());
    CUDA_CHECK(cudaMemcpy(p_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_ > 0) CUDA_CHECK(cudaMemcpy(host.data(), p_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  void require_size(std::size_t n) const;
  void release() {
    if (p_ == nullptr) return;
    cudaFree(p_);  // in a destructor: an error here cannot be thrown, and the process is ending
    tracked_memory().current -= bytes();
    p_ = nullptr;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

void throw_size_mismatch(std::size_t expected, std::size_t got);

template <class T>
void DeviceArray<T>::require_size(std::size_t n) const {
  if (n != n_) throw_size_mismatch(n_, n);
}

}  // namespace ecsim::runner
