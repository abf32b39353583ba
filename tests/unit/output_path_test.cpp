// Output paths (core/atomic_file.hpp): write_file_atomic writes whole files or none, through
// symbolic links, and devices and pipes in place; require_output_path refuses, before any work, a
// path it could not write, naming the option.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.hpp"
#include "core/errors.hpp"
#include "core/input_files.hpp"

namespace {

// A fresh folder under the system's temporary one, removed with the scope.
class TempFolder {
 public:
  TempFolder() {
    std::string name = (std::filesystem::temp_directory_path() / "ecsim-output-XXXXXX").string();
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path_ = name;
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("write_file_atomic writes the whole file and leaves no temporary beside it") {
  const TempFolder dir;
  const auto target = dir.path() / "run.json";
  ecsim::write_file_atomic(target, "{\"a\": 1}\n");
  CHECK(read(target) == "{\"a\": 1}\n");
  ecsim::write_file_atomic(target, "{}\n");  // replaces
  CHECK(read(target) == "{}\n");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);
  CHECK_THROWS_WITH_AS(ecsim::write_file_atomic(dir.path() / "missing" / "x.json", "{}"),
                       doctest::Contains("cannot write"), ecsim::RuntimeFailure);
}

TEST_CASE("write_file_atomic writes through a symbolic link, which stays a link") {
  const TempFolder dir;
  const auto file = dir.path() / "real.json";
  ecsim::write_file_atomic(file, "old");
  const auto link = dir.path() / "link.json";
  std::filesystem::create_symlink("real.json", link);  // relative, as users make them
  ecsim::write_file_atomic(link, "new");
  CHECK(std::filesystem::is_symlink(link));
  CHECK(read(file) == "new");
  // A dangling link makes the file it names.
  const auto dangling = dir.path() / "dangling.json";
  std::filesystem::create_symlink(dir.path() / "made.json", dangling);
  CHECK_NOTHROW(ecsim::require_output_path(dangling, "--json"));
  ecsim::write_file_atomic(dangling, "made");
  CHECK(std::filesystem::is_symlink(dangling));
  CHECK(read(dir.path() / "made.json") == "made");
}

TEST_CASE("write_file_atomic writes a device or pipe in place rather than replacing it with a file") {
  // A pipe stands for /dev/null and /dev/stdout, which a rename would replace (as root, for everyone).
  const TempFolder dir;
  const auto fifo = dir.path() / "pipe";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_NOTHROW(ecsim::require_output_path(fifo, "--json"));
  // The read end opened first, without blocking, so that the write cannot wait (nor hang the test
  // should the pipe be replaced); the few bytes fit the pipe's buffer.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  ecsim::write_file_atomic(fifo, "{\"a\": 1}\n");
  char buffer[64] = {};
  const ssize_t n = ::read(reader, buffer, sizeof buffer);
  ::close(reader);
  CHECK(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0) == "{\"a\": 1}\n");
  CHECK(std::filesystem::is_fifo(fifo));
}

TEST_CASE("require_output_path refuses, naming the option, what write_file_atomic could not write") {
  const TempFolder dir;
  CHECK_NOTHROW(ecsim::require_output_path(dir.path() / "run.json", "--json"));
  CHECK_NOTHROW(ecsim::require_output_path("run.json", "--json"));  // the working folder
  CHECK_THROWS_WITH_AS(ecsim::require_output_path(dir.path() / "no" / "run.json", "--json"),
                       doctest::Contains("--json: '"), ecsim::InputError);
  CHECK_THROWS_WITH_AS(ecsim::require_output_path(dir.path() / "no" / "run.json", "--json"),
                       doctest::Contains("/no' does not exist"), ecsim::InputError);
  CHECK_THROWS_WITH_AS(ecsim::require_output_path(dir.path(), "--trace"), doctest::Contains("is a folder, not a file"),
                       ecsim::InputError);
  const auto file = dir.path() / "plain";
  ecsim::write_file_atomic(file, "x");
  CHECK_THROWS_WITH_AS(ecsim::require_output_path(file / "run.json", "--json"), doctest::Contains("does not exist"),
                       ecsim::InputError);
  if (geteuid() != 0) {  // root may write anywhere
    std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    CHECK_THROWS_WITH_AS(ecsim::require_output_path(dir.path() / "run.json", "--json"),
                         doctest::Contains("does not take new files"), ecsim::InputError);
  }
}

TEST_CASE("no output overwrites a file this process read as input, however the path names it") {
  const TempFolder dir;
  const auto input = dir.path() / "scenario.json";
  ecsim::write_file_atomic(input, "{\"kept\": true}\n");
  const auto link = dir.path() / "link.json";
  std::filesystem::create_symlink("scenario.json", link);
  CHECK_FALSE(ecsim::input_file_at(input).has_value());  // not read yet
  ecsim::note_input_file(input);
  CHECK(ecsim::input_file_at(input) == input);
  CHECK(ecsim::input_file_at(link) == input);
  CHECK(ecsim::input_file_at(dir.path() / "." / "scenario.json") == input);
  CHECK_FALSE(ecsim::input_file_at(dir.path() / "other.json").has_value());
  CHECK_THROWS_WITH_AS(ecsim::require_output_path(link, "--json"), doctest::Contains("is an input of this run"),
                       ecsim::InputError);
  CHECK_THROWS_WITH_AS(ecsim::write_file_atomic(input, "{}"), doctest::Contains("not overwritten"), ecsim::InputError);
  CHECK(read(input) == "{\"kept\": true}\n");
  ecsim::write_file_atomic(dir.path() / "other.json", "{}");  // any other file is written
}
