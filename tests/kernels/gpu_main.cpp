// Main of the GPU kernel tests. Without a device, every test case that needs one is skipped
// (doctest::skip, decided at start-up). When a run executes no test case at all for that reason
// (ctest runs one case per process), this prints "GPU tests skipped: <reason>", which ctest's
// SKIP_REGULAR_EXPRESSION (CMakeLists.txt) turns into a reported skip, never a pass. Cases that
// need no device (launcher preconditions) run and pass or fail as usual. Listing, which ctest does
// at build time to register the tests, includes the skipped cases, so the same tests are
// registered whether or not the build machine has a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>
#include <string_view>

#include "gpu_check.hpp"

namespace {

unsigned executed_test_cases = 0;

// Records how many test cases the run executed (skipped and filtered-out ones do not count).
struct ExecutedCounter : doctest::IReporter {
  explicit ExecutedCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    executed_test_cases = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("executed_counter", 1, ExecutedCounter);

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.starts_with("--list-test-cases") || arg.starts_with("-ltc")) listing = true;
  }
  if (listing) context.setOption("no-skip", true);
  const int status = context.run();
  if (!listing && !ecsim::test::gpu_available()) {
    if (executed_test_cases == 0) {
      std::cout << "GPU tests skipped: " << ecsim::test::gpu_unavailable_reason() << "\n";
    } else {
      std::cout << "no CUDA device (" << ecsim::test::gpu_unavailable_reason()
                << "): the test cases that need one were skipped\n";
    }
  }
  return status;
}
