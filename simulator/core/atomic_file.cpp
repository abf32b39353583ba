#include "core/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errors.hpp"

namespace ecsim {

void write_file_atomic(const std::filesystem::path& target, std::string_view content) {
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string name = target.filename().string();
  name.append(".tmp.XXXXXX");
  std::string tmpl = (dir / ("." + name)).string();
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw RuntimeFailure("cannot write '" + target.string() + "': " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      std::remove(tmpl.c_str());
      throw RuntimeFailure("cannot write '" + target.string() + "': " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  // mkstemp creates 0600; outputs are ordinary files.
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::remove(tmpl.c_str());
    throw RuntimeFailure("cannot write '" + target.string() + "': " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmpl, target, ec);
  if (ec) {
    std::remove(tmpl.c_str());
    throw RuntimeFailure("cannot write '" + target.string() + "': " + ec.message());
  }
}

void require_output_path(const std::filesystem::path& target, std::string_view option) {
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  const std::string where = std::string(option) + ": '" + target.string() + "'";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw InputError(where + ": the folder '" + dir.string() + "' does not exist");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw InputError(where + ": the folder '" + dir.string() + "' does not take new files (" + std::strerror(errno) +
                     ")");
  }
  if (std::filesystem::is_directory(target, ec)) throw InputError(where + " is a folder, not a file");
}

}  // namespace ecsim
