// Typed errors. Library code throws; only main() turns them into exit codes
// (InputError -> 2, anything else -> 1).
#pragma once

#include <stdexcept>
#include <string>

namespace ecsim {

// Bad user input: names the file and the JSON path ("ecdit.json: /model/moe/experts: ...").
struct InputError : std::runtime_error {
  InputError(const std::string& file, const std::string& json_path, const std::string& what)
      : std::runtime_error(file + ": " + (json_path.empty() ? "/" : json_path) + ": " + what),
        file_(file),
        path_(json_path.empty() ? "/" : json_path) {}
  // For input errors that have no JSON path (a bad --layout flag, a missing file).
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  std::string file_;
  std::string path_;
};

// A failure at run time that is not the user's input (I/O, an internal invariant).
struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ecsim
