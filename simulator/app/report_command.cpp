#include "app/report_command.hpp"

#include <ostream>
#include <utility>

#include "core/atomic_file.hpp"
#include "core/errors.hpp"
#include "reports/html_report.hpp"
#include "reports/markdown_report.hpp"

namespace ecsim {

void run_report_command(const ReportOptions& opts, std::ostream& out) {
  if (opts.html_out.empty() && opts.markdown_out.empty()) {
    throw InputError("ecsim report: nothing to write; give -o FILE (HTML) and/or --md FILE (Markdown)");
  }
  const ReportInputs inputs = load_report_inputs(opts.inputs);
  // Both outputs are rendered before either is written, and each is written atomically.
  const std::string html = opts.html_out.empty() ? "" : render_html_report(inputs, opts.title);
  const std::string markdown = opts.markdown_out.empty() ? "" : render_markdown_report(inputs, opts.title);
  for (const auto& [path, text] : {std::pair{opts.html_out, html}, {opts.markdown_out, markdown}}) {
    if (path.empty()) continue;
    write_file_atomic(path, text);
    out << "wrote " << path << "\n";
  }
}

}  // namespace ecsim
