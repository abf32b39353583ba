// The forward's ops in execution order, named as the simulator names them
// (simulator/model/model_ops.cpp, moe_ops.cpp): `op` is the kernel family ("gemm",
// "attention_fwd", "batched_gemm", ...), `label` the position ("self_attn.qkv"), `layer` the block
// (-1 for the embedding, `layers` for the final layer). A GPU runner that records the same list can
// be laid over this model, and over the simulator's ops, one op at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ecsim::model_ref {

struct TracedOp {
  std::string op;
  std::string label;
  std::int64_t layer = 0;
  bool operator==(const TracedOp&) const = default;
};

// Appends to `ops` when it is set; the forward passes one down to every layer it runs.
struct Tracer {
  std::vector<TracedOp>* ops = nullptr;
  std::int64_t layer = 0;
  void operator()(const char* op, const char* label) const {
    if (ops != nullptr) ops->push_back({op, label, layer});
  }
};

}  // namespace ecsim::model_ref
