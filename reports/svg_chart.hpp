// The report's chart kit: three chart forms, each a plain description rendered to one <svg>.
//
//   BarChart       horizontal bars, one row per category, stacked (parts of a whole: step time,
//                  memory) or grouped (the same measure across layouts); optional limit line per
//                  row (HBM capacity) and a note after the bar ("does not fit").
//   XYChart        points and lines on linear or log10 axes: Pareto fronts, predicted against
//                  measured (with the identity line), values per step.
//   IntervalChart  one row per variant: a box (say p50-p95), whiskers, and point markers (mean,
//                  deterministic value): step-time distributions.
//
// Values arrive already in display units (see display_units.hpp); axis titles carry the unit.
// Every chart draws its axis titles and a legend; data marks carry class="mark" and a tooltip.
#pragma once

#include <string>
#include <vector>

#include "reports/svg_canvas.hpp"

namespace ecsim {

inline constexpr double kChartWidth = 880;  // the page's figure width; narrower screens scale it down

struct LegendEntry {
  std::string name;
  std::string color;
  Shape shape = Shape::kBox;
};

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category, display units
  std::string color;           // empty: the palette colour of the series' index
};

struct BarChart {
  std::string id;                       // element id and data-chart attribute
  std::string title;                    // accessible name (the page shows it as the caption)
  std::string category_title;           // "layout"
  std::string value_title;              // "step time (ms)"
  std::string value_unit;               // appended to value labels: "ms"
  std::vector<std::string> categories;  // one row each; '\n' breaks a label into lines
  std::vector<BarSeries> series;
  bool stacked = false;
  std::vector<std::string> notes;       // per category, printed after the value label; may be empty
  std::string limit_name;               // legend name of the limit line ("HBM capacity")
  std::vector<double> limits;           // per category; empty: no limit line
};

enum class XYLine { kNone, kSolid, kDashed, kSteps };  // kSteps: a staircase, as Pareto fronts are

struct XYSeries {
  std::string name;
  std::vector<double> x, y;          // display units
  std::vector<std::string> labels;   // printed beside each point; empty or one per point
  std::vector<std::string> tooltips; // empty or one per point; default "name: x, y"
  std::string color;                 // empty: the palette colour of the series' index
  Shape shape = Shape::kCircle;      // kLine: no markers
  XYLine line = XYLine::kNone;
};

struct XYChart {
  std::string id, title;
  std::string x_title, y_title;  // with units
  bool x_log = false, y_log = false;
  // Both axes over one domain, with the line y = x (predicted against measured).
  bool identity = false;
  std::string identity_name = "prediction = measurement";
  std::vector<XYSeries> series;
};

struct IntervalRow {
  std::string label;               // '\n' breaks it into lines
  double whisker_lo = 0, box_lo = 0, box_hi = 0, whisker_hi = 0;
  std::vector<double> points;      // one per IntervalChart::point_names
  std::string note;                // printed right of the row ("p50 812 ms, p99 905 ms")
};

struct IntervalChart {
  std::string id, title;
  std::string category_title, value_title, value_unit;
  std::string box_name, whisker_name;  // legend: "p50 to p95", "p95 to p99"
  std::vector<std::string> point_names;
  std::vector<IntervalRow> rows;
};

std::string render_bar_chart(const BarChart& chart);
std::string render_xy_chart(const XYChart& chart);
std::string render_interval_chart(const IntervalChart& chart);

}  // namespace ecsim
