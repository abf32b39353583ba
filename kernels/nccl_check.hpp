// NCCL_CHECK: turns a failed NCCL call into an NcclError naming the expression, file:line, the
// result code and NCCL's string for it (as CUDA_CHECK does for CUDA). Shared by the runner's
// process group and the profiler's collective sweep; only targets that link NCCL include it.
#pragma once

#include <nccl.h>

#include <stdexcept>
#include <string>

namespace ecsim {

struct NcclError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void nccl_check(ncclResult_t r, const char* expression, const char* file, int line) {
  if (r != ncclSuccess) {
    throw NcclError(std::string(expression) + " at " + file + ":" + std::to_string(line) + ": ncclResult " +
                    std::to_string(static_cast<int>(r)) + " (" + ncclGetErrorString(r) + ")");
  }
}

}  // namespace ecsim

#define NCCL_CHECK(expr) ::ecsim::nccl_check((expr), #expr, __FILE__, __LINE__)
