// Whole-model accounting: parameters (total, activated, per component), FLOPs per sample for
// training (forward + backward) and inference (forward), activation bytes saved per sample.
#pragma once

#include <array>
#include <cstdint>

#include "model/model_spec.hpp"
#include "model/op.hpp"

namespace ecsim {

struct ModelSummary {
  double params_total = 0;
  double params_activated = 0;
  std::array<double, kComponentCount> params_by_component{};
  Flops train_flops_per_sample;  // forward + backward (input and weight gradients)
  Flops fwd_flops_train_per_sample;
  Flops infer_flops_per_sample;  // forward over all tokens (no masking)
  Bytes activation_bytes_per_sample;  // saved for backward in training, no recomputation
  std::int64_t tokens_train = 0;  // per sample
  std::int64_t tokens_infer = 0;
  std::int64_t samples_per_group_train = 1;  // samples that fill whole routing groups
  std::int64_t samples_per_group_infer = 1;
};

ModelSummary summarize_model(const ModelSpec& m);
// Smallest number of samples whose tokens fill whole expert-choice routing groups.
std::int64_t samples_for_whole_groups(const ModelSpec& m, bool training);
Json summary_to_json(const ModelSpec& m, const ModelSummary& s);

}  // namespace ecsim
