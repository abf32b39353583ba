// How the profiler runs one planned call: the operands one run reads and writes (the timing loop
// rotates them among sets) and the launcher calls of kernels/*.cuh, the code the GPU tests check.
// A call can have several variants, timed alike, the first kept: a ragged product as the runner
// runs it (RaggedGemm), then cuBLAS's two ways (GroupedGemmMethod) beside it for the report; one
// variant otherwise.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm_bias.cuh"
#include "ragged_gemm.cuh"
#include "profiler/device_buffers.hpp"
#include "profiler/sweeps.hpp"

namespace ecsim::profiler {

// A shape the profiler cannot express with the kernels at hand (the profiler skips it and says why).
struct UnsupportedShape : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct KernelRun {
  std::vector<Operand> operands;
  std::function<void(const OperandSet&, cudaStream_t)> launch;
  std::shared_ptr<void> fixed;  // made once, shared by every run (routing indices)
};

struct RunContext {
  cublasHandle_t cublas = nullptr;
  cudaStream_t stream = nullptr;
  std::uint64_t seed = 0;
  GemmBias* gemm_bias = nullptr;  // the products with a bias (gemm_bias), on `stream`
  RaggedGemm* ragged_gemm = nullptr;  // ragged groups' products as the runner runs them, on `stream`
};

// The profile families kernels/ has a kernel for (attention: when kernels/attention.cuh exists at
// build time), and whether `family` is one.
const std::vector<std::string>& kernel_families();
bool has_kernel(const std::string& family);

int variant_count(const PlannedCall& call);
std::string variant_name(const PlannedCall& call, int variant);
// Throws UnsupportedShape, or PreconditionError from a launcher's checks.
KernelRun make_run(const PlannedCall& call, int variant, const RunContext& ctx);

}  // namespace ecsim::profiler
