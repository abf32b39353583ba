// GPU kinds: datasheet peaks and measured ceilings, each constant with its source
// (../shared/ANCHORS.md lists them). Scenarios name a kind ("H100-SXM") or describe one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/json_input.hpp"
#include "core/units.hpp"

namespace ecsim {

struct GpuSpec {
  std::string name;
  FlopsPerSecond peak_bf16;       // dense bf16 tensor-core peak (datasheet)
  FlopsPerSecond matmul_ceiling;  // what a large cuBLAS GEMM reaches (measured)
  Bytes hbm;                      // memory capacity
  BytesPerSecond hbm_peak;        // datasheet
  BytesPerSecond hbm_ceiling;     // device copy, bytes read + written (measured)
  Bytes l2;
  int sms = 0;
  std::string source;             // where the numbers come from
};

// The built-in table (A100-SXM-80GB, H100-SXM, H200-SXM, B200).
const std::vector<GpuSpec>& gpu_table();
std::optional<GpuSpec> find_gpu(const std::string& name);
// A name from the table, or an object describing a GPU (format in scenarios/README.md).
GpuSpec parse_gpu(const Node& node);
Json gpu_to_json(const GpuSpec& g);

}  // namespace ecsim
