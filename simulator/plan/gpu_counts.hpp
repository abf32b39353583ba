// The GPU counts `ecsim plan --gpus` asks about: a count ("1024"), a comma list
// ("512,1024,2048"), a range with a factor ("512..4096x2": 512, 1024, 2048, 4096), or a comma list
// mixing both. Each count must fill whole nodes of the scenario's cluster.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ecsim {

// The counts in ascending order without repeats. A malformed spec, a count of zero, one that
// leaves a node part-filled, or more than kMaxGpuCounts counts: InputError naming "--gpus".
std::vector<std::int64_t> parse_gpu_counts(const std::string& spec, std::int64_t gpus_per_node);

// Each count is a whole planning run; a spec that asks for more is almost certainly a typo.
inline constexpr std::size_t kMaxGpuCounts = 64;

}  // namespace ecsim
