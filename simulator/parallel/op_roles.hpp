// The roles operators play under a layout, in one place for the step builder, the planner's
// screen and the memory model, so that all three see the same collectives and recomputation.
#pragma once

#include <string>

#include "model/op.hpp"
#include "scenario/layout.hpp"

namespace ecsim {

// Sequence-parallel TP regions: an all-gather before the operator that opens one, a
// reduce-scatter after the one that closes it (mirrored in backward).
inline bool starts_tp_region(const std::string& label) {
  return label == "self_attn.qkv" || label == "cross_attn.q" || label == "ffn.fc1" || label == "moe.router";
}
inline bool ends_tp_region(const std::string& label) {
  return label == "self_attn.out" || label == "cross_attn.out" || label == "ffn.fc2" || label == "moe.combine";
}

// Selective recomputation keeps the inputs of GEMMs and attention and reruns the cheap
// elementwise kernels (norms, activations, residual gates) from them.
inline bool recomputed_by_selective(const Op& op) {
  return !(op.name == "gemm" || op.name == "batched_gemm" || op.name == "grouped_gemm" || op.name == "attention_fwd");
}

// Whether a micro-batch after the step's first adds its weight gradients to the ones before (the
// runner: the first writes them, kernels/runner/device_linear.hpp). Not under ZeRO-3, where each
// micro-batch's gradients are reduce-scattered away and the next writes afresh.
inline bool later_micro_batches_add_grads(const Layout& layout) { return layout.zero != 3; }

}  // namespace ecsim
