// The report as one self-contained HTML page: inline CSS and inline SVG, no script, no font or
// image fetched from anywhere, so that it opens offline and can be mailed as one file.
#pragma once

#include <string>

#include "reports/report_inputs.hpp"

namespace ecsim {

std::string render_html_report(const ReportInputs& inputs, const std::string& title);

}  // namespace ecsim
