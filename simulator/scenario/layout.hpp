// The parallel layout: data parallel (with ZeRO stage), tensor parallel (with sequence
// parallel), expert parallel, pipeline parallel (1F1B, interleaved with vpp virtual stages),
// micro-batch size and activation recomputation. From a scenario's "layout" object or the
// --layout flag ("dp=..,tp=..,pp=..,vpp=..,ep=..,zero=..,mbs=..,recompute=..").
#pragma once

#include <cstdint>
#include <string>

#include "core/json_input.hpp"

namespace ecsim {

enum class Recompute { kNone, kSelective, kFull };
const char* recompute_name(Recompute r);

struct Layout {
  std::int64_t dp = 0;   // 0: derived as gpus / (tp * pp)
  std::int64_t tp = 1;
  std::int64_t pp = 1;
  std::int64_t vpp = 1;  // virtual stages per pipeline rank (interleaved 1F1B when > 1)
  std::int64_t ep = 1;   // expert parallel degree, within the dp x tp ranks of a stage
  int zero = 1;          // ZeRO stage 0..3 (3 = FSDP)
  std::int64_t mbs = 1;  // micro-batch size in samples
  Recompute recompute = Recompute::kNone;
};

Layout parse_layout(const Node& node);
// Applies "dp=8,tp=2,..." over `base`; throws InputError naming the flag and the bad item.
Layout apply_layout_flag(Layout base, const std::string& flag);
Json layout_to_json(const Layout& l);
std::string layout_to_string(const Layout& l);  // the --layout form

}  // namespace ecsim
