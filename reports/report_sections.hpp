// The report's content, independent of its format: one section per kind of input (all results
// together, each plan, routing comparison and validation on its own), each with its facts, its
// figures and its tables. html_report draws the figures; markdown_report writes the tables.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "reports/report_charts.hpp"
#include "reports/report_inputs.hpp"

namespace ecsim {

struct Table {
  std::string caption;
  std::vector<std::string> headers;
  std::vector<bool> numeric;                    // per column: right-aligned
  std::vector<std::vector<std::string>> rows;   // text, numbers already with their units
};

struct Section {
  std::string id;
  std::string heading;
  std::vector<std::pair<std::string, std::string>> facts;  // ("scenario", "EC-DiT-M-64E ..."), ...
  std::vector<std::pair<std::string, std::string>> key_numbers;  // ("MAPE", "4.1%"): shown large
  std::vector<Figure> figures;
  std::vector<Table> tables;
};

// The inputs section first, then results, plans, routing comparisons, validations.
std::vector<Section> report_sections(const ReportInputs& inputs);

}  // namespace ecsim
