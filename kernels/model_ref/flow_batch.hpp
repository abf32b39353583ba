// A synthetic rectified-flow training batch: latents x0 ~ N(0, 1), noise ~ N(0, 1), time
// t ~ U(0, 1) per image, x_t = (1 - t) x0 + t noise, and the target velocity noise - x0; text
// embeddings ~ N(0, 1). With masking (MaskDiT) each image keeps a random subset of its patch tokens,
// in grid order, and the loss covers the kept tokens only, as the simulator's final.loss does.
// Patchify: latent [C, H, W] -> token (row, col) of the patch grid with values (pi, pj, channel),
// DiT's unpatchify order.
#pragma once

#include <cstdint>
#include <vector>

#include "model_ref/config.hpp"

namespace ecsim::model_ref {

struct FlowBatch {
  std::int64_t images = 0;                // B
  std::int64_t seq = 0;                   // S, kept tokens per image
  std::vector<double> t;                  // [B]
  std::vector<std::int64_t> kept;         // [B, S] grid index (row * grid + col) of each kept token, ascending
  std::vector<double> x_t;                // [B, S, patch_dim]
  std::vector<double> velocity;           // [B, S, patch_dim] noise - x0
  std::vector<double> text;               // [B, L, text_width]
};

// Every draw from one mt19937_64 seeded with `seed`: the same seed gives the same batch.
FlowBatch make_flow_batch(const ModelConfig& c, std::int64_t images, std::uint64_t seed);

}  // namespace ecsim::model_ref
