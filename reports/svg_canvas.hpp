// The drawing surface of the report's charts: SVG elements written as text, with presentation
// attributes inline so that a chart looks the same inside the HTML page and on its own. Data marks
// (bars, points, lines made from data) carry class="mark" and a <title> tooltip with their value,
// which a browser shows on hover without any script; the render check counts them.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ecsim {

// Okabe & Ito, "Color Universal Design" (2008): distinguishable under the common colour-vision
// deficiencies. `text` is the label colour with the better contrast on `fill` (WCAG ratio).
struct PaletteColor {
  const char* fill;
  const char* text;
};
inline constexpr std::array<PaletteColor, 7> kPalette{{
    {"#0072B2", "#ffffff"},  // blue
    {"#E69F00", "#000000"},  // orange
    {"#009E73", "#000000"},  // bluish green
    {"#CC79A7", "#000000"},  // reddish purple
    {"#56B4E9", "#000000"},  // sky blue
    {"#D55E00", "#000000"},  // vermillion
    {"#F0E442", "#000000"},  // yellow: last, it is faint on white
}};
const PaletteColor& palette(std::size_t i);  // wraps around
// The text colour for a fill: the palette's choice, black for colours outside it.
const char* text_color_on(std::string_view fill);

inline constexpr const char* kInk = "#1a1a1a";     // axes, reference lines, labels
inline constexpr const char* kMuted = "#555555";   // tick labels, notes
inline constexpr const char* kGrid = "#e2e2e2";    // gridlines
inline constexpr double kTickFont = 12;
inline constexpr double kTitleFont = 13;

// Marker shapes: colour and shape both tell series apart, so a chart survives grey-scale print.
enum class Shape { kBox, kLine, kDashedLine, kCircle, kSquare, kDiamond, kTriangle };

// "&", "<", ">", quotes -> entities.
std::string xml_escape(std::string_view s);
// Width of `s` in pixels at `font_px`, estimated from its character count (0.6 em per character
// covers DejaVu Sans and the usual system sans-serifs); layout reserves room with it.
double text_width(std::string_view s, double font_px);

enum class Anchor { kStart, kMiddle, kEnd };

class SvgCanvas {
 public:
  SvgCanvas(std::string id, std::string title, double width);
  double width() const { return width_; }

  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view tooltip, bool mark = true);
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double stroke_width = 1,
            bool dashed = false, std::string_view tooltip = {});
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke, double stroke_width,
                bool dashed, std::string_view tooltip, bool mark);
  void marker(Shape shape, double x, double y, double size, std::string_view fill, std::string_view tooltip, bool mark = true);
  void text(double x, double y, std::string_view s, Anchor anchor, double font_px = kTickFont,
            std::string_view fill = kMuted, std::string_view css_class = {}, bool bold = false);
  // Text turned a quarter to the left, centred at (x, y): titles of vertical axes.
  void vertical_text(double x, double y, std::string_view s, std::string_view css_class);

  // The <svg> element with everything drawn so far, `height` pixels tall.
  std::string finish(double height) const;

 private:
  std::string id_;
  std::string title_;
  double width_;
  std::string body_;
};

}  // namespace ecsim
