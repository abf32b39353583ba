// `ecsim report RESULT.json... [-o report.html] [--md report.md] [--title TEXT]`: one report from
// simulation results, plans, routing comparisons and validations (recognized by their "schema").
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ecsim {

struct ReportOptions {
  std::vector<std::string> inputs;
  std::string html_out;      // self-contained HTML page with the charts
  std::string markdown_out;  // the same numbers as Markdown tables
  std::string title = "ecsim report";
};

// Throws InputError (exit 2) for an unreadable or unknown input, or when no output is asked for.
void run_report_command(const ReportOptions& opts, std::ostream& out);

}  // namespace ecsim
