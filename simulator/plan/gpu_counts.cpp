#include "plan/gpu_counts.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "core/errors.hpp"

namespace ecsim {
namespace {

// Beyond this no cluster exists, and products of counts stay far from overflow.
constexpr std::int64_t kMaxGpus = std::int64_t{1} << 24;

[[noreturn]] void fail(const std::string& spec, const std::string& why) {
  throw InputError("--gpus '" + spec + "': " + why +
                   " (give a count, a comma list such as 512,1024,2048, or a range with a factor such as 512..4096x2)");
}

std::int64_t whole_number(const std::string& spec, const std::string& text, const char* what) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    fail(spec, std::string(what) + " '" + text + "' is not a whole number");
  }
  if (v < 1 || v > kMaxGpus) fail(spec, std::string(what) + " " + text + " is out of range [1, " + std::to_string(kMaxGpus) + "]");
  return v;
}

}  // namespace

std::vector<std::int64_t> parse_gpu_counts(const std::string& spec, std::int64_t gpus_per_node) {
  std::vector<std::int64_t> counts;
  std::stringstream items(spec);
  std::string item;
  if (spec.empty()) fail(spec, "no GPU count given");
  while (std::getline(items, item, ',')) {
    const auto dots = item.find("..");
    if (dots == std::string::npos) {
      counts.push_back(whole_number(spec, item, "count"));
    } else {
      const auto x = item.find('x', dots + 2);
      if (x == std::string::npos) fail(spec, "range '" + item + "' has no factor (write it as FROM..TOxFACTOR)");
      const std::int64_t from = whole_number(spec, item.substr(0, dots), "range start");
      const std::int64_t to = whole_number(spec, item.substr(dots + 2, x - dots - 2), "range end");
      const std::int64_t factor = whole_number(spec, item.substr(x + 1), "factor");
      if (from > to) fail(spec, "range '" + item + "' ends below its start");
      if (factor < 2) fail(spec, "factor " + std::to_string(factor) + " must be at least 2");
      for (std::int64_t g = from; g <= to; g *= factor) {
        counts.push_back(g);
        if (counts.size() > kMaxGpuCounts) break;
      }
    }
    if (counts.size() > kMaxGpuCounts) {
      fail(spec, "more than " + std::to_string(kMaxGpuCounts) + " GPU counts");
    }
  }
  // getline drops a trailing empty item; "1024," is as malformed as ",1024".
  if (spec.back() == ',') fail(spec, "count '' is not a whole number");
  for (const std::int64_t g : counts) {
    if (g % gpus_per_node != 0) {
      fail(spec, std::to_string(g) + " GPUs do not fill whole nodes of " + std::to_string(gpus_per_node) + " GPUs");
    }
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  return counts;
}

}  // namespace ecsim
