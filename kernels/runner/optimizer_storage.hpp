// Where AdamW's state lives on the device (DeviceModel), as a scenario's run.optimizer dtypes ask
// (run_config.cpp's optimizer_storage). No CUDA here: the CPU side includes it.
#pragma once

namespace ecsim::runner {

enum class OptimizerStorage {
  kFp32Master,  // master_dtype and moment_dtype "fp32" (the default): fp32 masters and moments
  kBf16,        // both "bf16": no masters, bf16 moments (torch.optim.AdamW on a bf16 model)
};

// The weight gradients' dtype (run.optimizer.grad_dtype): fp32 (the default) or bf16, which the
// dW products write and add to, the data-parallel all-reduce sums and AdamW reads.
enum class GradientStorage { kFp32, kBf16 };

}  // namespace ecsim::runner
