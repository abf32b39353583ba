// A one-line progress bar on stderr for long commands (plan, and routing samples in simulate and
// compare-routing), drawn only where stderr is a terminal: progress_bar_if_terminal() gives the
// callback, or an empty one. Redrawn at most every kRedraw and at the end of a phase; it may be
// called from several threads, in any order of counts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>

#include "core/progress.hpp"

namespace ecsim {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out = stderr) : out_(out) {}

  void operator()(const char* phase, std::size_t done, std::size_t total) {
    const std::lock_guard<std::mutex> lock(mutex_);
    // Workers report their counts as they finish, so a smaller count can arrive after a larger
    // one (even after the phase's last): the bar only moves forward within a phase.
    if (phase_ == phase && done <= done_) return;
    phase_ = phase;
    done_ = done;
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - last_ < kRedraw) return;
    last_ = now;
    constexpr int kWidth = 40;
    const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
    std::fprintf(out_, "\r%-8s [%-*s] %zu/%zu", phase, kWidth,
                 std::string(static_cast<std::size_t>(filled), '#').c_str(), done, total);
    if (done == total) std::fprintf(out_, "\n");
    std::fflush(out_);
  }

 private:
  static constexpr std::chrono::milliseconds kRedraw{100};
  std::FILE* out_;
  std::mutex mutex_;
  std::string phase_;
  std::size_t done_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

// A bar's callback (the bar lives as long as the callback) where stderr is a terminal, else none.
inline Progress progress_bar_if_terminal() {
  if (isatty(STDERR_FILENO) == 0) return {};
  auto bar = std::make_shared<ProgressBar>();
  return [bar](const char* phase, std::size_t done, std::size_t total) { (*bar)(phase, done, total); };
}

}  // namespace ecsim
