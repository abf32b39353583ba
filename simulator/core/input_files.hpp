// The files this process has read as input (scenarios, the files they reference, profiles, run
// files, report inputs), so that no output overwrites one: `ecsim simulate s.json --json s.json`
// would otherwise replace the scenario with its result. The readers note each file they open;
// write_file_atomic and require_output_path (atomic_file.hpp) refuse a target that is one of them.
#pragma once

#include <filesystem>
#include <optional>

namespace ecsim {

// Records `file` (a path that exists) as read by this process.
void note_input_file(const std::filesystem::path& file);

// The input file `target` names (the same file, through any links or relative paths), if any.
std::optional<std::filesystem::path> input_file_at(const std::filesystem::path& target);

}  // namespace ecsim
