#include "reports/markdown_report.hpp"

#include "reports/report_sections.hpp"

namespace ecsim {
namespace {

// Pipes and line breaks would end a table cell early.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string render_table(const Table& t) {
  std::string m;
  if (!t.caption.empty()) m.append("**").append(cell(t.caption)).append("**\n\n");
  m += "|";
  for (const auto& h : t.headers) m.append(" ").append(cell(h)).append(" |");
  m += "\n|";
  for (std::size_t c = 0; c < t.headers.size(); ++c) m += c < t.numeric.size() && t.numeric[c] ? " ---: |" : " --- |";
  m += "\n";
  for (const auto& row : t.rows) {
    m += "|";
    for (const auto& v : row) m.append(" ").append(cell(v)).append(" |");
    m += "\n";
  }
  return m + "\n";
}

}  // namespace

std::string render_markdown_report(const ReportInputs& inputs, const std::string& title) {
  std::string m = "# " + title + "\n\nMade by `ecsim report` from " + std::to_string(inputs.files.size()) +
                  " file(s). Times are per training step, memory and traffic per GPU. The charts are in the HTML "
                  "report (`ecsim report ... -o report.html`).\n\n";
  for (const auto& s : report_sections(inputs)) {
    m += "## " + s.heading + "\n\n";
    for (const auto& [k, v] : s.facts) m += "- " + k + ": " + cell(v) + "\n";
    for (const auto& [k, v] : s.key_numbers) m += "- **" + k + ": " + cell(v) + "**\n";
    if (!s.facts.empty() || !s.key_numbers.empty()) m += "\n";
    for (const auto& f : s.figures) m += "- chart *" + f.caption + "*: " + f.note + "\n";
    if (!s.figures.empty()) m += "\n";
    for (const auto& t : s.tables) m += render_table(t);
  }
  return m;
}

}  // namespace ecsim
