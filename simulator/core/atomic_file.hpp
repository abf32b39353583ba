// Outputs are written atomically: into a temporary file beside the target, then renamed, so a
// failed run never leaves a half-written file.
#pragma once

#include <filesystem>
#include <string_view>

namespace ecsim {

// Throws RuntimeFailure (naming the file) when the directory is missing or not writable.
void write_file_atomic(const std::filesystem::path& target, std::string_view content);

}  // namespace ecsim
