// Where AdamW's state lives on the device (DeviceModel), as a scenario's run.optimizer dtypes ask
// (run_config.cpp's optimizer_storage). No CUDA here: the CPU side includes it.
#pragma once

namespace ecsim::runner {

enum class OptimizerStorage {
  kFp32Master,  // master_dtype and moment_dtype "fp32" (the default): fp32 masters and moments
  kBf16,        // both "bf16": no masters, bf16 moments (torch.optim.AdamW on a bf16 model)
};

}  // namespace ecsim::runner
