// One micro-batch of synthetic rectified-flow data on the device, drawn on the host exactly as the
// CPU-reference model draws it (model_ref/flow_batch.hpp: latents, noise and text ~ N(0, 1),
// t ~ U(0, 1), MaskDiT's kept tokens), then rounded to bf16. The model's fixed inputs are computed
// with it: the timestep's sinusoidal features and each kept token's row of the position table.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "model_ref/config.hpp"
#include "model_ref/flow_batch.hpp"
#include "runner/device_memory.hpp"

namespace ecsim::runner {

struct DeviceBatch {
  std::int64_t images = 0;  // B
  std::int64_t seq = 0;     // S, kept tokens per image
  DeviceArray<__nv_bfloat16> x_t;        // [B S, patch_dim]
  DeviceArray<__nv_bfloat16> velocity;   // [B S, patch_dim] the target, noise - x0
  DeviceArray<__nv_bfloat16> positions;  // [B S, d] the kept tokens' rows of the 2-D sin-cos table
  DeviceArray<__nv_bfloat16> time_features;  // [B, freq]
  DeviceArray<__nv_bfloat16> text;       // [B L, text_width]; empty without cross-attention
};

DeviceBatch upload_batch(const model_ref::ModelConfig& c, const model_ref::FlowBatch& batch);

}  // namespace ecsim::runner
