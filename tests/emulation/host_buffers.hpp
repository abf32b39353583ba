// The emulated tests' stand-ins for device buffers: host arrays of exactly the kernel's size (so
// that the sanitizer build's ASan sees an access past the end), poisoned as the GPU tests'
// DeviceBuffer is (tests/kernels/gpu_check.hpp): bytes 0xFF (NaN in bf16 and fp32) for floating
// point, 0x7F (0x7F7F7F7F, never a valid index) for integers, so that an element a kernel fails to
// write cannot pass a comparison.
#pragma once

#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

namespace ecsim::emulation_test {

template <class T>
std::vector<T> poisoned(std::size_t n) {
  std::vector<T> v(n);
  std::memset(static_cast<void*>(v.data()), std::is_integral_v<T> ? 0x7F : 0xFF, n * sizeof(T));
  return v;
}

}  // namespace ecsim::emulation_test
