#include "model_ref/config.hpp"

#include <cmath>
#include <string>

#include "precondition.hpp"

namespace ecsim::model_ref {
namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

std::int64_t ModelConfig::kept_tokens() const {
  const std::int64_t all = tokens_per_image();
  return all - static_cast<std::int64_t>(std::llround(mask_ratio * static_cast<double>(all)));
}

std::int64_t ModelConfig::capacity() const {
  return static_cast<std::int64_t>(
      std::floor(static_cast<double>(group_tokens) * capacity_factor / static_cast<double>(experts)));
}

std::int64_t ModelConfig::token_choice_capacity(std::int64_t tokens) const {
  if (dropless()) return -1;
  return static_cast<std::int64_t>(std::ceil(capacity_factor * static_cast<double>(tokens) *
                                             static_cast<double>(top_k) / static_cast<double>(experts)));
}

void ModelConfig::validate() const {
  const std::string m = "model_ref config: ";
  require(hidden > 0 && layers > 0 && heads > 0 && head_dim > 0 && ffn_width > 0,
          m + "hidden, layers, heads, head_dim and ffn_width must be positive");
  require(kv_heads > 0 && heads % kv_heads == 0,
          m + "kv_heads " + str(kv_heads) + " does not divide heads " + str(heads));
  // DiT's 2-D sin-cos position table splits d into four equal parts (sin, cos of row and column).
  require(hidden % 4 == 0, m + "hidden " + str(hidden) + " is not a multiple of 4");
  require(latent_size > 0 && latent_channels > 0 && patch > 0 && latent_size % patch == 0,
          m + "patch " + str(patch) + " does not divide latent_size " + str(latent_size));
  require(cond_width > 0, m + "cond_width must be positive");
  require(timestep_freq_dim > 0 && timestep_freq_dim % 2 == 0,
          m + "timestep_freq_dim " + str(timestep_freq_dim) + " must be positive and even");
  require(mask_ratio >= 0 && mask_ratio < 1, m + "mask_ratio must lie in [0, 1)");
  require(kept_tokens() > 0, m + "mask_ratio leaves no token");
  require(text_tokens >= 0, m + "text_tokens must not be negative");
  if (has_cross_attention()) {
    require(text_width > 0, m + "text_width must be positive");
    require(cross_kv_heads > 0 && heads % cross_kv_heads == 0,
            m + "cross_kv_heads " + str(cross_kv_heads) + " does not divide heads " + str(heads));
  }
  require(experts >= 0, m + "experts must not be negative");
  if (experts > 0) {
    require(moe_every > 0 && moe_first >= 0, m + "moe_every must be positive and moe_first not negative");
    if (routing == Routing::kTokenChoice) {  // group_tokens is unused: the whole micro-batch is routed at once
      require(top_k >= 1 && top_k <= experts, m + "top_k " + str(top_k) + " outside [1, experts " + str(experts) + "]");
      require(capacity_factor >= 0, m + "capacity_factor must not be negative (0: dropless)");
    } else {
      require(group_tokens > 0, m + "group_tokens must be positive");
      require(capacity() >= 1 && capacity() <= group_tokens,
              m + "capacity floor(G f_c / E) = " + str(capacity()) + " outside [1, group_tokens " +
                  str(group_tokens) + "]");
    }
  }
}

}  // namespace ecsim::model_ref
