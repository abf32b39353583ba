// The fixed (parameter-free) sinusoidal encodings of DiT (facebookresearch/DiT models.py).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::model_ref {

// TimestepEmbedder.timestep_embedding: [cos(s f_i), sin(s f_i)], f_i = 10000^(-i / (dim/2)),
// i < dim/2, with s = 1000 t: rectified-flow time t in [0, 1] on DiT's 0..1000 timestep scale.
//   t [B] -> [B, dim]
std::vector<double> timestep_features(std::span<const double> t, std::int64_t dim);

// get_2d_sincos_pos_embed, added to the patch embedding: the token at grid (row, col) gets
// [sin(col w_i), cos(col w_i), sin(row w_i), cos(row w_i)], w_i = 10000^(-i / (d/4)), i < d/4.
//   -> [grid * grid, d], d a multiple of 4
std::vector<double> position_table(std::int64_t grid, std::int64_t hidden);

}  // namespace ecsim::model_ref
