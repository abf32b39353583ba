#include "app/plan_command.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <unistd.h>

#include "core/atomic_file.hpp"
#include "plan/gpu_counts.hpp"
#include "plan/plan_output.hpp"

namespace ecsim {
namespace {

// A one-line bar on stderr, redrawn at most every kRedraw and at the end of a phase; callers
// are the planner's workers.
class ProgressBar {
 public:
  void operator()(const char* phase, std::size_t done, std::size_t total) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - last_ < kRedraw) return;
    last_ = now;
    constexpr int kWidth = 40;
    const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
    std::fprintf(stderr, "\r%-8s [%-*s] %zu/%zu", phase, kWidth, std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 done, total);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  static constexpr std::chrono::milliseconds kRedraw{100};
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

void run_plan_command(const PlanCommandOptions& opts, std::ostream& out) {
  const Scenario s = load_scenario(opts.scenario);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to plan)");
  PlanSettings settings = opts.settings;
  settings.gpu_counts = parse_gpu_counts(opts.gpus, s.cluster->gpus_per_node);
  if (!opts.profile.empty()) settings.profile = load_profile(opts.profile);
  ProgressBar bar;
  if (isatty(STDERR_FILENO) != 0) {
    settings.progress = [&bar](const char* phase, std::size_t done, std::size_t total) { bar(phase, done, total); };
  }
  const PlanResult r = run_plan(s, settings);
  print_plan(r, out);
  if (!opts.json_out.empty()) {
    write_file_atomic(opts.json_out, plan_to_json(r).dump(2) + "\n");
    out << "wrote " << opts.json_out << "\n";
  }
}

}  // namespace ecsim
