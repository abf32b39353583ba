// Running the real `ecsim` binary from a test, as a user would: the command line, its exit code
// and everything it printed (stdout and stderr together). The binary's path is ECSIM_BINARY.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include <doctest/doctest.h>

struct CliResult {
  int exit_code = -1;
  std::string output;
};

// Runs `ecsim <args>` (args are passed to the shell as written).
inline CliResult run_ecsim(const std::string& args) {
  CliResult r;
  FILE* pipe = popen((std::string(ECSIM_BINARY) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) r.output += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
