#include "reports/html_report.hpp"

#include "reports/report_sections.hpp"
#include "reports/svg_canvas.hpp"

namespace ecsim {
namespace {

// The page's whole style. System fonts only: the page must not fetch anything.
constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       color: #1a1a1a; background: #ffffff; margin: 0 auto; max-width: 1000px; padding: 28px 24px 64px;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 44px 0 8px; padding-bottom: 6px; border-bottom: 2px solid #e2e2e2; }
.lede { color: #555555; margin: 0 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 12px;
           font-size: 14px; }
dl.facts dt { color: #555555; }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.numbers { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.number { border: 1px solid #e2e2e2; border-radius: 8px; padding: 8px 14px; min-width: 140px; }
.number .label { color: #555555; font-size: 13px; }
.number .value { font-size: 22px; font-weight: 700; }
figure { margin: 18px 0; padding: 14px 16px 8px; border: 1px solid #e2e2e2; border-radius: 8px; }
figcaption { margin-bottom: 8px; }
figcaption .title { display: block; font-size: 16px; font-weight: 700; }
figcaption .note { display: block; color: #555555; font-size: 13.5px; }
svg.chart { display: block; width: 100%; max-width: 880px; height: auto; }
.table-wrap { overflow-x: auto; margin: 12px 0; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: 700; padding: 4px 0; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e2e2e2; text-align: left; vertical-align: top;
         white-space: nowrap; }
th { background: #f4f4f4; }
td.long { white-space: normal; min-width: 14em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: 12px 0; }
summary { cursor: pointer; font-weight: 700; }
footer { margin-top: 48px; color: #555555; font-size: 13px; }
)css";

std::string esc(const std::string& s) { return xml_escape(s); }

// Layout strings are long and have no spaces: let the browser break them after a comma.
std::string breakable(const std::string& s) {
  std::string out;
  for (char c : esc(s)) {
    out += c;
    if (c == ',') out += "<wbr>";
  }
  return out;
}

// Cells stay on one line, except long text (layouts, scenario names), which wraps in a column wide
// enough to need two or three lines.
constexpr std::size_t kLongCell = 24;
// Longer tables (a plan's every candidate) fold away behind a <details>, which needs no script.
constexpr std::size_t kFoldedRows = 15;

std::string render_table(const Table& t) {
  std::string h = "<div class=\"table-wrap\"><table>";
  if (!t.caption.empty()) h += "<caption>" + esc(t.caption) + "</caption>";
  const auto numeric = [&](std::size_t c) { return c < t.numeric.size() && t.numeric[c]; };
  h += "<thead><tr>";
  for (std::size_t c = 0; c < t.headers.size(); ++c) {
    h += std::string(numeric(c) ? "<th class=\"num\">" : "<th>") + esc(t.headers[c]) + "</th>";
  }
  h += "</tr></thead><tbody>";
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c) {
      const char* cls = numeric(c) ? " class=\"num\"" : row[c].size() > kLongCell ? " class=\"long\"" : "";
      h += std::string("<td") + cls + ">" + breakable(row[c]) + "</td>";
    }
    h += "</tr>";
  }
  h += "</tbody></table></div>";
  if (t.rows.size() <= kFoldedRows) return h;
  return "<details><summary>" + esc(t.caption.empty() ? "table" : t.caption) + ": all " +
         std::to_string(t.rows.size()) + " rows</summary>" + h + "</details>";
}

std::string render_section(const Section& s) {
  std::string h = "<section id=\"" + esc(s.id) + "\"><h2>" + esc(s.heading) + "</h2>";
  if (!s.facts.empty()) {
    h += "<dl class=\"facts\">";
    for (const auto& [k, v] : s.facts) h += "<dt>" + esc(k) + "</dt><dd>" + esc(v) + "</dd>";
    h += "</dl>";
  }
  if (!s.key_numbers.empty()) {
    h += "<div class=\"numbers\">";
    for (const auto& [k, v] : s.key_numbers) {
      h += "<div class=\"number\"><div class=\"label\">" + esc(k) + "</div><div class=\"value\">" + esc(v) +
           "</div></div>";
    }
    h += "</div>";
  }
  for (const auto& f : s.figures) {
    h += "<figure><figcaption><span class=\"title\">" + esc(f.caption) + "</span><span class=\"note\">" + esc(f.note) +
         "</span></figcaption>" + f.svg + "</figure>";
  }
  for (const auto& t : s.tables) h += render_table(t);
  return h + "</section>\n";
}

}  // namespace

std::string render_html_report(const ReportInputs& inputs, const std::string& title) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"ecsim report\">\n<title>" +
                  esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<header><h1>" + esc(title) +
                  "</h1><p class=\"lede\">Made by <code>ecsim report</code> from " +
                  std::to_string(inputs.files.size()) +
                  " file(s). Times are per training step and memory and traffic per GPU unless a chart says "
                  "otherwise; hover a bar or point for its exact value.</p></header>\n";
  for (const auto& s : report_sections(inputs)) h += render_section(s);
  h += "<footer>Colours from the Okabe–Ito palette, distinguishable with the common colour-vision deficiencies; "
       "series also differ in marker shape.</footer>\n</body>\n</html>\n";
  return h;
}

}  // namespace ecsim
