// The report as Markdown (GitHub-flavoured tables): the same sections and numbers as the HTML
// page, for pasting into an issue or a review; the charts are in the HTML page.
#pragma once

#include <string>

#include "reports/report_inputs.hpp"

namespace ecsim {

std::string render_markdown_report(const ReportInputs& inputs, const std::string& title);

}  // namespace ecsim
