#include "reports/svg_canvas.hpp"

#include <cstdio>

namespace ecsim {
namespace {

// Coordinates to a tenth of a pixel: sharp enough, and the page stays small.
std::string num(double v) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.1f", v);
  std::string s = buf.data();
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s == "-0" ? "0" : s;
}

std::string title_element(std::string_view tooltip) {
  if (tooltip.empty()) return {};
  return std::string("<title>").append(xml_escape(tooltip)).append("</title>");
}

// An element with an optional tooltip: <tag attrs/> or <tag attrs><title>..</title></tag>.
// Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on `"<" + std::string(...)`.
std::string element(std::string_view tag, const std::string& attrs, std::string_view tooltip) {
  std::string e(1, '<');
  e.append(tag).append(attrs);
  if (tooltip.empty()) return e.append("/>");
  return e.append(">").append(title_element(tooltip)).append("</").append(tag).append(">");
}

const char* mark_class(bool mark) { return mark ? " class=\"mark\"" : ""; }

}  // namespace

const PaletteColor& palette(std::size_t i) { return kPalette[i % kPalette.size()]; }

const char* text_color_on(std::string_view fill) {
  for (const auto& c : kPalette) {
    if (fill == c.fill) return c.text;
  }
  return "#000000";
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

double text_width(std::string_view s, double font_px) {
  std::size_t chars = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++chars;  // count UTF-8 code points, not bytes ("µs", "·")
  }
  return 0.6 * font_px * static_cast<double>(chars);
}

SvgCanvas::SvgCanvas(std::string id, std::string title, double width)
    : id_(std::move(id)), title_(std::move(title)), width_(width) {}

void SvgCanvas::rect(double x, double y, double w, double h, std::string_view fill, std::string_view tooltip,
                     bool mark) {
  body_ += element("rect",
                   std::string(mark_class(mark)) + " x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) +
                       "\" height=\"" + num(h) + "\" fill=\"" + std::string(fill) + "\"",
                   tooltip);
}

void SvgCanvas::line(double x1, double y1, double x2, double y2, std::string_view stroke, double stroke_width,
                     bool dashed, std::string_view tooltip) {
  body_ += element("line",
                   " x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
                       "\" stroke=\"" + std::string(stroke) + "\" stroke-width=\"" + num(stroke_width) + "\"" +
                       (dashed ? " stroke-dasharray=\"6 4\"" : ""),
                   tooltip);
}

void SvgCanvas::polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke,
                         double stroke_width, bool dashed, std::string_view tooltip, bool mark) {
  std::string pts;
  for (const auto& [x, y] : points) {
    if (!pts.empty()) pts += ' ';
    pts.append(num(x)).append(",").append(num(y));
  }
  body_ += element("polyline",
                   std::string(mark_class(mark)) + " points=\"" + pts + "\" fill=\"none\" stroke=\"" +
                       std::string(stroke) + "\" stroke-width=\"" + num(stroke_width) +
                       "\" stroke-linejoin=\"round\"" + (dashed ? " stroke-dasharray=\"6 4\"" : ""),
                   tooltip);
}

void SvgCanvas::marker(Shape shape, double x, double y, double size, std::string_view fill,
                       std::string_view tooltip, bool mark) {
  const std::string paint = "\" fill=\"" + std::string(fill) + "\" stroke=\"#ffffff\" stroke-width=\"1\"";
  const double r = size / 2;
  switch (shape) {
    case Shape::kCircle:
      body_ += element("circle", std::string(mark_class(mark)) + " cx=\"" + num(x) + "\" cy=\"" + num(y) +
                                     "\" r=\"" + num(r) + paint, tooltip);
      return;
    case Shape::kSquare:
    case Shape::kBox:
      body_ += element("rect", std::string(mark_class(mark)) + " x=\"" + num(x - r) + "\" y=\"" + num(y - r) +
                                   "\" width=\"" + num(size) + "\" height=\"" + num(size) + paint, tooltip);
      return;
    case Shape::kDiamond: {
      const double d = r * 1.3;  // a diamond looks smaller than a square of the same width
      body_ += element("polygon", std::string(mark_class(mark)) + " points=\"" + num(x) + "," + num(y - d) + " " +
                                      num(x + d) + "," + num(y) + " " + num(x) + "," + num(y + d) + " " +
                                      num(x - d) + "," + num(y) + paint, tooltip);
      return;
    }
    case Shape::kTriangle: {
      const double d = r * 1.25;
      body_ += element("polygon", std::string(mark_class(mark)) + " points=\"" + num(x) + "," + num(y - d) + " " +
                                      num(x + d) + "," + num(y + d * 0.8) + " " + num(x - d) + "," +
                                      num(y + d * 0.8) + paint, tooltip);
      return;
    }
    case Shape::kLine:
    case Shape::kDashedLine:
      line(x - size, y, x + size, y, fill, 2.5, shape == Shape::kDashedLine, tooltip);
      return;
  }
}

void SvgCanvas::text(double x, double y, std::string_view s, Anchor anchor, double font_px, std::string_view fill,
                     std::string_view css_class, bool bold) {
  const char* a = anchor == Anchor::kStart ? "start" : anchor == Anchor::kMiddle ? "middle" : "end";
  body_ += "<text";
  if (!css_class.empty()) body_ += " class=\"" + std::string(css_class) + "\"";
  body_ += " x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + a + "\" font-size=\"" + num(font_px) +
           "\" fill=\"" + std::string(fill) + "\"" + (bold ? " font-weight=\"bold\"" : "") + ">" + xml_escape(s) +
           "</text>";
}

void SvgCanvas::vertical_text(double x, double y, std::string_view s, std::string_view css_class) {
  body_ += "<text class=\"" + std::string(css_class) + "\" transform=\"translate(" + num(x) + "," + num(y) +
           ") rotate(-90)\" text-anchor=\"middle\" font-size=\"" + num(kTitleFont) + "\" fill=\"" + kInk + "\">" +
           xml_escape(s) + "</text>";
}

std::string SvgCanvas::finish(double height) const {
  // No xmlns: inside HTML the parser puts <svg> in the SVG namespace itself, and the page then
  // holds no URL at all (the render check asserts that).
  return "<svg class=\"chart\" id=\"" + xml_escape(id_) + "\" data-chart=\"" + xml_escape(id_) + "\" role=\"img\" " +
         "viewBox=\"0 0 " + num(width_) + " " + num(height) + "\" width=\"" + num(width_) + "\" height=\"" +
         num(height) + "\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, " +
         "sans-serif\"><title>" + xml_escape(title_) + "</title>" + body_ + "</svg>";
}

}  // namespace ecsim
