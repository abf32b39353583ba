// What tests may change in the emulated cuBLASLt (cublaslt_emulated.cpp).
#pragma once

namespace ecsim::emulation {

// Whether the emulated heuristic offers algorithms with the bias epilogue (default true): false
// makes it answer as cuBLASLt does for a shape it has no fused kernel for (no algorithm found), so
// that a caller's fallback can be tested. Returns the previous setting.
bool offer_bias_epilogue(bool offered);

}  // namespace ecsim::emulation
