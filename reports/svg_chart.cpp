#include "reports/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "reports/chart_scale.hpp"
#include "reports/display_units.hpp"

namespace ecsim {
namespace {

constexpr double kMargin = 8;
constexpr double kLineHeight = 15;      // one line of a category label
constexpr double kLegendRow = 20;
constexpr double kValueFont = 11;       // labels on and beside bars and points
constexpr double kPlotHeight = 300;     // of XY charts

std::vector<std::string> split_lines(const std::string& label) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = label.find('\n', start);
    lines.push_back(label.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) return lines;
    start = nl + 1;
  }
}

// A label's lines joined by spaces, for tooltips.
std::string one_line(std::string label) {
  std::replace(label.begin(), label.end(), '\n', ' ');
  return label;
}

double widest_line(const std::string& label, double font_px) {
  double w = 0;
  for (const auto& l : split_lines(label)) w = std::max(w, text_width(l, font_px));
  return w;
}

std::string series_color(const std::string& given, std::size_t index) {
  return given.empty() ? palette(index).fill : given;
}

std::string with_unit(double v, const std::string& unit) {
  if (unit.empty()) return format_number(v);
  return unit == "%" ? format_number(v) + "%" : format_number(v) + " " + unit;
}

// The legend flows left to right and wraps; returns the y below it.
double draw_legend(SvgCanvas& c, const std::vector<LegendEntry>& entries, double y) {
  double x = kMargin;
  for (const auto& e : entries) {
    const double w = 22 + text_width(e.name, kTickFont) + 18;
    if (x > kMargin && x + w > c.width() - kMargin) {
      x = kMargin;
      y += kLegendRow;
    }
    const double cy = y + kLegendRow / 2;
    switch (e.shape) {
      case Shape::kBox: c.rect(x, cy - 6, 14, 12, e.color, {}, false); break;
      case Shape::kLine:
      case Shape::kDashedLine: c.line(x, cy, x + 16, cy, e.color, 2.5, e.shape == Shape::kDashedLine); break;
      default: c.marker(e.shape, x + 7, cy, 10, e.color, {}, false);
    }
    c.text(x + 22, cy + 4, e.name, Anchor::kStart, kTickFont, kInk, "legend");
    x += w;
  }
  return y + kLegendRow + 4;
}

// Category labels right-aligned against the plot, centred on their row.
void draw_category_label(SvgCanvas& c, const std::string& label, double right, double center) {
  const auto lines = split_lines(label);
  const double first = center - (static_cast<double>(lines.size()) - 1) * kLineHeight / 2 + 4;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    c.text(right, first + static_cast<double>(k) * kLineHeight, lines[k], Anchor::kEnd, kTickFont, kInk);
  }
}

// A horizontal value axis below a plot: gridlines, tick labels and the axis title.
void draw_value_axis_x(SvgCanvas& c, const AxisScale& axis, double x0, double x1, double y0, double y1,
                       const std::string& title) {
  for (double t : axis.ticks) {
    const double x = axis.at(t, x0, x1);
    c.line(x, y0, x, y1, kGrid);
    c.text(x, y1 + 16, tick_label(axis, t), Anchor::kMiddle, kTickFont, kMuted, "tick");
  }
  c.text((x0 + x1) / 2, y1 + 36, title, Anchor::kMiddle, kTitleFont, kInk, "axis-title");
}

struct Extent {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

AxisScale data_axis(Extent e, bool log, bool pad) {
  if (e.empty()) e = {0, 1};
  if (log && e.lo > 0) return log_axis(e.lo, e.hi);
  const double span = e.hi > e.lo ? e.hi - e.lo : std::max(std::fabs(e.hi), 1.0);
  const double p = pad ? 0.06 * span : 0;
  return linear_axis(e.lo - p, e.hi + p, 6);
}

}  // namespace

std::string render_bar_chart(const BarChart& chart) {
  SvgCanvas c(chart.id, chart.title, kChartWidth);
  const std::size_t n = chart.categories.size();
  const auto value = [&](std::size_t s, std::size_t i) {
    const auto& v = chart.series[s].values;
    return i < v.size() ? v[i] : 0.0;
  };

  std::vector<LegendEntry> legend;
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    legend.push_back({chart.series[s].name, series_color(chart.series[s].color, s), Shape::kBox});
  }
  if (!chart.limits.empty()) legend.push_back({chart.limit_name, kInk, Shape::kDashedLine});

  // Value labels: the total after a stacked bar, each bar's value after a grouped one.
  Extent extent;
  extent.add(0);
  std::vector<std::string> end_labels;
  double right_w = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double total = 0;
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      total += value(s, i);
      if (!chart.stacked) {
        extent.add(value(s, i));
        right_w = std::max(right_w, text_width(with_unit(value(s, i), chart.value_unit), kValueFont));
      }
    }
    if (chart.stacked) extent.add(total);
    if (i < chart.limits.size()) extent.add(chart.limits[i]);
    std::string label = chart.stacked ? with_unit(total, chart.value_unit) : "";
    if (i < chart.notes.size() && !chart.notes[i].empty()) label += (label.empty() ? "" : " · ") + chart.notes[i];
    end_labels.push_back(label);
    right_w = std::max(right_w, text_width(label, kTickFont));
  }
  // Room left of zero for the labels of negative bars.
  if (extent.lo < 0) extent.lo -= 0.2 * (extent.hi - extent.lo);
  const AxisScale axis = linear_axis(extent.lo, extent.hi, 6);

  double label_w = text_width(chart.category_title, kTitleFont);
  for (const auto& cat : chart.categories) label_w = std::max(label_w, widest_line(cat, kTickFont));
  const double x0 = kMargin + label_w + 12;
  const double x1 = c.width() - kMargin - right_w - 10;

  std::size_t max_lines = 1;
  for (const auto& cat : chart.categories) max_lines = std::max(max_lines, split_lines(cat).size());
  const double bar_h = chart.stacked || chart.series.size() == 1 ? 24 : 15;
  const double bars_h = chart.stacked ? bar_h : bar_h * static_cast<double>(std::max<std::size_t>(1, chart.series.size()));
  const double row_h = std::max(bars_h + 14, static_cast<double>(max_lines) * kLineHeight + 12);

  const double legend_bottom = draw_legend(c, legend, kMargin);
  const double y0 = legend_bottom + 20;
  const double y1 = y0 + row_h * static_cast<double>(n);
  c.text(x0 - 12, y0 - 8, chart.category_title, Anchor::kEnd, kTitleFont, kInk, "axis-title", true);
  draw_value_axis_x(c, axis, x0, x1, y0, y1, chart.value_title);

  const double zero = axis.at(0, x0, x1);
  for (std::size_t i = 0; i < n; ++i) {
    const double top = y0 + row_h * static_cast<double>(i);
    const double center = top + row_h / 2;
    const std::string cat_name = one_line(chart.categories[i]);
    draw_category_label(c, chart.categories[i], x0 - 12, center);
    double bar_end = zero;
    if (chart.stacked) {
      double acc = 0;
      for (std::size_t s = 0; s < chart.series.size(); ++s) {
        const double v = value(s, i);
        const double a = axis.at(acc, x0, x1), b = axis.at(acc + v, x0, x1);
        const std::string fill = series_color(chart.series[s].color, s);
        c.rect(a, center - bar_h / 2, b - a, bar_h, fill,
               cat_name + " | " + chart.series[s].name + ": " + with_unit(v, chart.value_unit));
        const std::string inside = format_number(v);
        if (v > 0 && b - a > text_width(inside, kValueFont) + 8) {
          c.text((a + b) / 2, center + 4, inside, Anchor::kMiddle, kValueFont, text_color_on(fill));
        }
        acc += v;
        bar_end = b;
      }
    } else {
      const double first = center - bars_h / 2;
      for (std::size_t s = 0; s < chart.series.size(); ++s) {
        const double v = value(s, i);
        const double b = axis.at(v, x0, x1);
        const double y = first + bar_h * static_cast<double>(s);
        c.rect(std::min(zero, b), y + 1, std::fabs(b - zero), bar_h - 2, series_color(chart.series[s].color, s),
               cat_name + " | " + chart.series[s].name + ": " + with_unit(v, chart.value_unit));
        const bool negative = v < 0;
        c.text(negative ? b - 5 : b + 5, y + bar_h / 2 + 4, with_unit(v, chart.value_unit),
               negative ? Anchor::kEnd : Anchor::kStart, kValueFont, kInk);
        bar_end = std::max(bar_end, b);
      }
    }
    double label_x = bar_end + 6;
    if (i < chart.limits.size()) {
      const double x = axis.at(chart.limits[i], x0, x1);
      c.line(x, top + 3, x, top + row_h - 3, kInk, 2, true,
             chart.limit_name + ": " + with_unit(chart.limits[i], chart.value_unit));
      // The label follows the bar, unless the limit line would cross it.
      const double w = text_width(end_labels[i], kTickFont);
      if (x >= label_x - 4 && x <= label_x + w + 4) label_x = x + 6;
    }
    if (!end_labels[i].empty()) c.text(label_x, center + 4, end_labels[i], Anchor::kStart, kTickFont, kInk);
  }
  c.line(zero, y0, zero, y1, kInk, 1.2);
  return c.finish(y1 + 50);
}

std::string render_xy_chart(const XYChart& chart) {
  SvgCanvas c(chart.id, chart.title, kChartWidth);
  Extent ex, ey;
  for (const auto& s : chart.series) {
    for (double v : s.x) ex.add(v);
    for (double v : s.y) ey.add(v);
  }
  if (chart.identity) {
    ex.add(ey.lo);
    ex.add(ey.hi);
    ey = ex;
  }
  const AxisScale ax = data_axis(ex, chart.x_log, true);
  const AxisScale ay = chart.identity && chart.x_log == chart.y_log ? ax : data_axis(ey, chart.y_log, true);

  std::vector<LegendEntry> legend;
  if (chart.identity) legend.push_back({chart.identity_name, kMuted, Shape::kDashedLine});
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const auto& se = chart.series[s];
    legend.push_back({se.name, series_color(se.color, s), se.shape == Shape::kLine ? Shape::kLine : se.shape});
  }
  const double legend_bottom = draw_legend(c, legend, kMargin);

  double tick_w = 0;
  for (double t : ay.ticks) tick_w = std::max(tick_w, text_width(tick_label(ay, t), kTickFont));
  const double x0 = kMargin + 22 + tick_w + 8;
  const double x1 = c.width() - kMargin - 16;
  const double y0 = legend_bottom + 10;
  const double y1 = y0 + kPlotHeight;

  for (double t : ay.ticks) {
    const double y = ay.at(t, y1, y0);
    c.line(x0, y, x1, y, kGrid);
    c.text(x0 - 6, y + 4, tick_label(ay, t), Anchor::kEnd, kTickFont, kMuted, "tick");
  }
  draw_value_axis_x(c, ax, x0, x1, y0, y1, chart.x_title);
  c.vertical_text(kMargin + 8, (y0 + y1) / 2, chart.y_title, "axis-title");
  c.line(x0, y1, x1, y1, kInk, 1.2);
  c.line(x0, y0, x0, y1, kInk, 1.2);

  const auto px = [&](double v) { return ax.at(v, x0, x1); };
  const auto py = [&](double v) { return ay.at(v, y1, y0); };
  if (chart.identity) c.line(px(ax.lo), py(ax.lo), px(ax.hi), py(ax.hi), kMuted, 1.5, true, chart.identity_name);

  // Point labels go where they cover no other label and no point; a label with no free place is
  // left out (its point keeps the tooltip).
  struct Box {
    double l, t, r, b;
    bool overlaps(const Box& o) const { return l < o.r && o.l < r && t < o.b && o.t < b; }
  };
  std::vector<Box> taken;
  for (const auto& se : chart.series) {
    if (se.shape == Shape::kLine) continue;
    for (std::size_t i = 0; i < std::min(se.x.size(), se.y.size()); ++i) {
      taken.push_back({px(se.x[i]) - 5, py(se.y[i]) - 5, px(se.x[i]) + 5, py(se.y[i]) + 5});
    }
  }
  const auto place_label = [&](double x, double y, const std::string& text) {
    const double w = text_width(text, kValueFont);
    const bool right_first = ax.fraction(x) <= 0.7;  // near the right edge, try the left side first
    const std::array<std::pair<double, double>, 4> offsets{{{9, -6}, {9, 14}, {-9, -6}, {-9, 14}}};
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& [dx, dy] : offsets) {
        if ((dx > 0) != (right_first == (pass == 0))) continue;
        const double lx = dx > 0 ? px(x) + dx : px(x) + dx - w;
        const Box b{lx, py(y) + dy - 10, lx + w, py(y) + dy + 2};
        if (b.l < x0 || b.r > x1 || b.t < y0 || b.b > y1) continue;
        if (std::any_of(taken.begin(), taken.end(), [&](const Box& o) { return o.overlaps(b); })) continue;
        taken.push_back(b);
        c.text(lx, py(y) + dy, text, Anchor::kStart, kValueFont, kInk);
        return;
      }
    }
  };

  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const auto& se = chart.series[s];
    const std::string color = series_color(se.color, s);
    const std::size_t m = std::min(se.x.size(), se.y.size());
    if (se.line != XYLine::kNone && m > 0) {
      std::vector<std::pair<double, double>> pts;
      for (std::size_t i = 0; i < m; ++i) {
        if (se.line == XYLine::kSteps && i > 0) pts.emplace_back(px(se.x[i]), py(se.y[i - 1]));
        pts.emplace_back(px(se.x[i]), py(se.y[i]));
      }
      c.polyline(pts, color, 2.5, se.line == XYLine::kDashed, se.name, true);
    }
    if (se.shape == Shape::kLine) continue;
    for (std::size_t i = 0; i < m; ++i) {
      const std::string tip = i < se.tooltips.size()
                                  ? se.tooltips[i]
                                  : se.name + ": " + format_number(se.x[i]) + ", " + format_number(se.y[i]);
      c.marker(se.shape, px(se.x[i]), py(se.y[i]), 10, color, tip);
      if (i < se.labels.size() && !se.labels[i].empty()) place_label(se.x[i], se.y[i], se.labels[i]);
    }
  }
  return c.finish(y1 + 50);
}

std::string render_interval_chart(const IntervalChart& chart) {
  SvgCanvas c(chart.id, chart.title, kChartWidth);
  const PaletteColor box = palette(4);
  constexpr std::array<Shape, 3> kPointShapes{Shape::kDiamond, Shape::kCircle, Shape::kTriangle};
  const auto point_color = [](std::size_t k) { return std::string(k == 0 ? palette(5).fill : k == 1 ? kInk : palette(0).fill); };

  std::vector<LegendEntry> legend{{chart.box_name, box.fill, Shape::kBox}, {chart.whisker_name, kInk, Shape::kLine}};
  for (std::size_t k = 0; k < chart.point_names.size(); ++k) {
    legend.push_back({chart.point_names[k], point_color(k), kPointShapes[k % kPointShapes.size()]});
  }
  const double legend_bottom = draw_legend(c, legend, kMargin);

  Extent e;
  double label_w = text_width(chart.category_title, kTitleFont), note_w = 0;
  std::size_t max_lines = 1;
  for (const auto& r : chart.rows) {
    for (double v : {r.whisker_lo, r.box_lo, r.box_hi, r.whisker_hi}) e.add(v);
    for (double v : r.points) e.add(v);
    label_w = std::max(label_w, widest_line(r.label, kTickFont));
    note_w = std::max(note_w, text_width(r.note, kTickFont));
    max_lines = std::max(max_lines, split_lines(r.label).size());
  }
  const AxisScale axis = data_axis(e, false, true);
  const double x0 = kMargin + label_w + 12;
  const double x1 = c.width() - kMargin - note_w - 16;
  const double row_h = std::max(44.0, static_cast<double>(max_lines) * kLineHeight + 14);
  const double y0 = legend_bottom + 20;
  const double y1 = y0 + row_h * static_cast<double>(chart.rows.size());
  c.text(x0 - 12, y0 - 8, chart.category_title, Anchor::kEnd, kTitleFont, kInk, "axis-title", true);
  draw_value_axis_x(c, axis, x0, x1, y0, y1, chart.value_title);
  c.line(x0, y0, x0, y1, kInk, 1.2);

  const auto px = [&](double v) { return axis.at(v, x0, x1); };
  for (std::size_t i = 0; i < chart.rows.size(); ++i) {
    const auto& r = chart.rows[i];
    const double center = y0 + row_h * (static_cast<double>(i) + 0.5);
    draw_category_label(c, r.label, x0 - 12, center);
    // Whiskers with end caps, then the box over them (at least 3 px wide, so that a distribution
    // without spread still shows where it sits).
    for (const auto& [from, to] : {std::pair{r.whisker_lo, r.box_lo}, std::pair{r.box_hi, r.whisker_hi}}) {
      if (to <= from) continue;
      c.line(px(from), center, px(to), center, kInk, 1.5);
      const double cap = from == r.whisker_lo ? px(from) : px(to);
      c.line(cap, center - 7, cap, center + 7, kInk, 1.5,
             false, chart.whisker_name + ": " + with_unit(from, chart.value_unit) + " to " + with_unit(to, chart.value_unit));
    }
    const double bx = px(r.box_lo), bw = std::max(3.0, px(r.box_hi) - bx);
    c.rect(bx, center - 11, bw, 22, box.fill,
           one_line(r.label) + " | " + chart.box_name + ": " + with_unit(r.box_lo, chart.value_unit) + " to " +
               with_unit(r.box_hi, chart.value_unit));
    c.line(bx, center - 11, bx, center + 11, kInk, 2);
    for (std::size_t k = 0; k < r.points.size() && k < chart.point_names.size(); ++k) {
      c.marker(kPointShapes[k % kPointShapes.size()], px(r.points[k]), center, 11, point_color(k),
               chart.point_names[k] + ": " + with_unit(r.points[k], chart.value_unit));
    }
    c.text(x1 + 12, center + 4, r.note, Anchor::kStart, kTickFont, kInk);
  }
  return c.finish(y1 + 50);
}

}  // namespace ecsim
