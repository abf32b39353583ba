// Output paths (core/atomic_file.hpp): write_file_atomic writes whole files or none, and
// require_output_path refuses, before any work, a path it could not write, naming the option.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "core/atomic_file.hpp"
#include "core/errors.hpp"

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
