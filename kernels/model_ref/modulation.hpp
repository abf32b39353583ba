// The adaLN modulation vectors. A modulation GEMM's output [B, n d] holds n vectors of width d per
// sample, in DiT's order: a block's (n = 6) shift, scale, gate for self-attention, then for the FFN;
// the final layer's (n = 2) shift, scale. The norm and residual references take each as [B, d].
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ecsim::model_ref {

enum BlockModulation : std::int64_t { kShiftMsa, kScaleMsa, kGateMsa, kShiftFfn, kScaleFfn, kGateFfn, kBlockVectors };
enum FinalModulation : std::int64_t { kShiftFinal, kScaleFinal, kFinalVectors };

// mod [B, count d] -> vector `index` [B, d]
inline std::vector<double> modulation_vector(std::span<const double> mod, std::int64_t batch, std::int64_t count,
                                             std::int64_t hidden, std::int64_t index) {
  std::vector<double> v(static_cast<std::size_t>(batch * hidden));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < hidden; ++i) v[b * hidden + i] = mod[(b * count + index) * hidden + i];
  }
  return v;
}

// dmod [B, count d] += dvec [B, d] at vector `index`
inline void add_modulation_grad(std::span<double> dmod, std::int64_t batch, std::int64_t count, std::int64_t hidden,
                                std::int64_t index, std::span<const double> dvec) {
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < hidden; ++i) dmod[(b * count + index) * hidden + i] += dvec[b * hidden + i];
  }
}

}  // namespace ecsim::model_ref
