// Which charts a report holds, and how each input maps onto one: the choice of chart form, series,
// colours and display units. html_report.cpp lays the figures out on the page.
#pragma once

#include <string>
#include <vector>

#include "reports/report_inputs.hpp"

namespace ecsim {

struct Figure {
  std::string id;       // the <svg>'s id and data-chart
  std::string caption;  // what the chart shows, in words
  std::string note;     // how to read it (units, what the marks are)
  std::string svg;
};

// All results side by side: step-time breakdown, memory by kind against HBM, communication by
// collective and by tier (one bar per result file).
std::vector<Figure> result_figures(const std::vector<ResultInput>& results);
// Candidates in rank order (step-time breakdown) and the Pareto front of time to train against
// GPU-hours. `n` numbers the plan in the page (ids "plan-<n>-...").
std::vector<Figure> plan_figures(const PlanInput& plan, std::size_t n);
// Step-time distribution per routing variant, all-to-all bytes per rank, FLOPs done and wasted.
std::vector<Figure> routing_figures(const RoutingInput& routing, std::size_t n);
// Predicted against measured per operator (log-log, identity line), error per operator, per step.
std::vector<Figure> validation_figures(const ValidationInput& validation, std::size_t n);

// "token choice, top-2, capacity 1.25", "expert choice, capacity 1", "token choice, top-2, dropless".
std::string describe_routing(const RoutingVariant& v);

// The variant's label where the file has one, else its name.
std::string variant_label(const RoutingVariant& v);

// A layout string broken at commas into lines of at most `width` characters, for axis labels.
std::string wrap_layout(const std::string& layout, std::size_t width = 24);

}  // namespace ecsim
