#include "routing/expert_histogram.hpp"

namespace ecsim {

ExpertHistogram parse_expert_histogram(const Node& node) {
  ObjectReader r(node);
  ExpertHistogram h;
  h.file = r.node().file();
  h.path = r.node().path();
  const Node schema = r.required("schema");
  if (schema.as_string() != kExpertHistogramSchema) {
    schema.fail("must be \"" + std::string(kExpertHistogramSchema) + "\", got \"" + schema.as_string() + "\"");
  }
  h.experts = r.integer("experts", 1, 65536);
  h.source = r.string_or("source", "");
  const Node loads = r.required("loads");
  const std::vector<Node> rows = loads.as_array();
  if (rows.empty()) loads.fail("must hold at least one measurement (a row of per-expert token counts)");
  for (const Node& row : rows) {
    const std::vector<Node> counts = row.as_array();
    if (static_cast<std::int64_t>(counts.size()) != h.experts) {
      row.fail("has " + std::to_string(counts.size()) + " counts for " + std::to_string(h.experts) + " experts");
    }
    std::vector<double> values;
    double total = 0;
    for (const Node& c : counts) {
      const std::int64_t v = c.as_int();
      if (v < 0) c.fail("a token count must not be negative, got " + std::to_string(v));
      values.push_back(static_cast<double>(v));
      total += static_cast<double>(v);
    }
    if (total <= 0) row.fail("routes no tokens; a measurement needs at least one");
    h.loads.push_back(std::move(values));
  }
  r.finish();
  return h;
}

}  // namespace ecsim
