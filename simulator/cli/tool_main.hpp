// What every ecsim executable's main() shares (DESIGN.md's exit codes: 0 success, 1 runtime
// failure, 2 bad input): parsing the command line with CLI11, turning exceptions into a message and
// an exit code, and the command line as recorded in the files a tool writes. Header-only; the
// including target links CLI11.
#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include "core/errors.hpp"

namespace ecsim::cli {

// Parses argv; returns the exit code when main should stop now: 0 after --help, 2 for bad input
// (CLI11 prints the message). nullopt: go on.
inline std::optional<int> parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// Runs `body`; an InputError is "<program>: error: <what>" and exit 2, any other exception
// "<program>: failed: <what>" and exit 1; 0 when body returns.
template <class Body>
int run_reporting_errors(const std::string& program, Body&& body) {
  try {
    std::forward<Body>(body)();
  } catch (const InputError& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// "ecsim-profile --quick --out x.json": the program's file name and its arguments as given.
inline std::string command_line(int argc, char** argv) {
  std::string command = std::filesystem::path(argv[0]).filename().string();
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  return command;
}

}  // namespace ecsim::cli
