// The files this process has read as input (input_files.hpp).
#include "core/input_files.hpp"

#include <mutex>
#include <vector>

namespace ecsim {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::vector<std::filesystem::path>& registry() {
  static std::vector<std::filesystem::path> files;
  return files;
}

}  // namespace

void note_input_file(const std::filesystem::path& file) {
  const std::lock_guard<std::mutex> lock(registry_mutex());
  registry().push_back(file);
}

std::optional<std::filesystem::path> input_file_at(const std::filesystem::path& target) {
  std::error_code ec;
  if (!std::filesystem::exists(target, ec)) return std::nullopt;  // nothing there to lose
  const std::lock_guard<std::mutex> lock(registry_mutex());
  for (const std::filesystem::path& input : registry()) {
    if (std::filesystem::equivalent(input, target, ec) && !ec) return input;
  }
  return std::nullopt;
}

}  // namespace ecsim
