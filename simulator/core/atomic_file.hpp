// Outputs are written atomically: into a temporary file beside the target, then renamed, so a
// failed run never leaves a half-written file. A target that is a symbolic link writes the file it
// names (the link stays); a device, pipe or socket (/dev/null, /dev/stdout, a fifo) is written in
// place rather than replaced by a plain file.
#pragma once

#include <filesystem>
#include <string_view>

namespace ecsim {

// Throws RuntimeFailure (naming the file) when the directory is missing or not writable.
void write_file_atomic(const std::filesystem::path& target, std::string_view content);

// Throws InputError naming `option` unless write_file_atomic could write `target`: its folder
// exists and takes new files, and `target` is not a folder. For a tool whose work is costly
// (ecsim-run's training steps), to refuse an output path before the work rather than after it.
void require_output_path(const std::filesystem::path& target, std::string_view option);

// Throws InputError naming both options when two outputs name one file (so that the second
// would replace the first), however the paths spell it; empty paths are not outputs.
void require_distinct_outputs(const std::filesystem::path& a, std::string_view a_option,
                              const std::filesystem::path& b, std::string_view b_option);

}  // namespace ecsim
