#include "core/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errors.hpp"
#include "core/input_files.hpp"

namespace ecsim {
namespace {

// The file a write to `target` lands in: through its symbolic links, so that an output named by a
// link writes the file the link names and the link stays a link.
std::filesystem::path through_links(const std::filesystem::path& target) {
  std::filesystem::path p = target;
  std::error_code ec;
  for (int hops = 0; hops < 40 && std::filesystem::is_symlink(p, ec); ++hops) {
    const std::filesystem::path link = std::filesystem::read_symlink(p, ec);
    if (ec) break;
    p = link.is_absolute() ? link : p.parent_path() / link;
  }
  return p;
}

// A device, pipe or socket (/dev/null, /dev/stdout, a fifo): written in place, since there is no
// file to replace atomically, and a rename would put a plain file where the device was.
bool is_special_file(const std::filesystem::path& p) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(p, ec);
  return !ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st) &&
         !std::filesystem::is_directory(st);
}

// Writes all of `content` to `fd`; 0, or the errno that stopped it.
int write_all(int fd, std::string_view content) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

[[noreturn]] void cannot_write(const std::filesystem::path& target, const std::string& why) {
  throw RuntimeFailure("cannot write '" + target.string() + "': " + why);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& target, std::string_view content) {
  if (const auto input = input_file_at(target)) {
    throw InputError("'" + target.string() + "' is an input of this run (" + input->string() +
                     "): not overwritten; write the output to another file");
  }
  // Opened by its own name: the kernel follows the links (/dev/stdout's through /proc included).
  if (is_special_file(target)) {
    const int fd = ::open(target.c_str(), O_WRONLY);
    if (fd < 0) cannot_write(target, std::strerror(errno));
    const int error = write_all(fd, content);
    if (::close(fd) != 0 && error == 0) cannot_write(target, std::strerror(errno));
    if (error != 0) cannot_write(target, std::strerror(error));
    return;
  }
  const std::filesystem::path path = through_links(target);
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string name = path.filename().string();
  name.append(".tmp.XXXXXX");
  std::string tmpl = (dir / ("." + name)).string();
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) cannot_write(target, std::strerror(errno));
  if (const int error = write_all(fd, content); error != 0) {
    ::close(fd);
    std::remove(tmpl.c_str());
    cannot_write(target, std::strerror(error));
  }
  // mkstemp creates 0600; outputs are ordinary files.
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmpl.c_str());
    cannot_write(target, why);
  }
  std::error_code ec;
  std::filesystem::rename(tmpl, path, ec);
  if (ec) {
    std::remove(tmpl.c_str());
    cannot_write(target, ec.message());
  }
}

void require_output_path(const std::filesystem::path& target, std::string_view option) {
  const std::string where = std::string(option) + ": '" + target.string() + "'";
  if (const auto input = input_file_at(target)) {
    throw InputError(where + " is an input of this run (" + input->string() + "): write the output to another file");
  }
  if (is_special_file(target)) {
    if (::access(target.c_str(), W_OK) != 0) throw InputError(where + ": not writable (" + std::strerror(errno) + ")");
    return;
  }
  const std::filesystem::path path = through_links(target);
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw InputError(where + ": the folder '" + dir.string() + "' does not exist");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw InputError(where + ": the folder '" + dir.string() + "' does not take new files (" + std::strerror(errno) +
                     ")");
  }
  if (std::filesystem::is_directory(path, ec)) throw InputError(where + " is a folder, not a file");
}

void require_distinct_outputs(const std::filesystem::path& a, std::string_view a_option,
                              const std::filesystem::path& b, std::string_view b_option) {
  if (a.empty() || b.empty()) return;
  const auto resolved = [](const std::filesystem::path& p) {
    return std::filesystem::weakly_canonical(std::filesystem::absolute(p));  // absolute: see GCC 12's relative case
  };
  if (resolved(a) == resolved(b)) {
    throw InputError(std::string(b_option) + ": '" + b.string() + "' is also the " + std::string(a_option) + " file");
  }
}

}  // namespace ecsim
