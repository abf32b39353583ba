// libFuzzer target for the scenario parser: any byte string must either parse or raise an
// InputError with a message; crashes, sanitizer reports and other exceptions are bugs.
// Build: CXX=clang++ cmake -B build-fuzz -DECSIM_FUZZ=ON -DECSIM_ENABLE_CUDA=OFF && ninja -C build-fuzz scenario_fuzz
// Run:   build-fuzz/bin/scenario_fuzz -max_total_time=60 NEW_CORPUS_DIR tests/fuzz/corpus scenarios/models
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/errors.hpp"
#include "model/accounting.hpp"
#include "scenario/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto doc = ecsim::parse_json_text(text, "fuzz.json");
    const auto root = ecsim::Node::root(doc);
    if (root.is_object() && root.json().contains("model")) {
      const auto scenario = ecsim::parse_scenario(root);
      (void)ecsim::scenario_to_json(scenario).dump();
    } else {
      const auto model = ecsim::parse_model(root);
      (void)ecsim::summarize_model(model);
    }
  } catch (const ecsim::InputError&) {
    // Rejected input: the expected outcome for most inputs.
  }
  return 0;
}
