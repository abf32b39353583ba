#include "reports/report_charts.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "reports/display_units.hpp"
#include "reports/svg_chart.hpp"

namespace ecsim {
namespace {

// The parts of a step keep their colours in every chart of the page.
constexpr const char* kComputeColor = "#0072B2";
constexpr const char* kExposedCommColor = "#E69F00";
constexpr const char* kBubbleColor = "#CC79A7";
constexpr const char* kNeutralColor = "#8c8c8c";  // points that are context, not the message
constexpr std::size_t kMaxPlanRows = 12;          // more candidates than this are in the table only

constexpr std::array<const char*, kMemoryKinds.size()> kMemoryNames{
    "parameters", "gradients", "optimizer state", "activations", "communication buffers", "workspace"};
constexpr std::array<const char*, kCollectiveKinds.size()> kCollectiveNames{
    "all-reduce", "all-gather", "reduce-scatter", "all-to-all", "point-to-point"};
constexpr std::array<const char*, kTiers.size()> kTierNames{"NVLink (in a node)", "network (between nodes)"};

std::string axis_title(const std::string& what, const DisplayUnit& unit) { return what + " (" + unit.symbol + ")"; }

std::vector<BarSeries> breakdown_series(const std::vector<StepBreakdown>& parts, const DisplayUnit& unit) {
  std::vector<BarSeries> s{{"compute", {}, kComputeColor},
                           {"exposed communication", {}, kExposedCommColor},
                           {"pipeline bubble", {}, kBubbleColor}};
  for (const auto& b : parts) {
    s[0].values.push_back(unit.of(b.compute_s));
    s[1].values.push_back(unit.of(b.exposed_comm_s));
    s[2].values.push_back(unit.of(b.bubble_s));
  }
  return s;
}

// Bars are labelled by layout; where two results share one, the file tells them apart.
std::vector<std::string> result_labels(const std::vector<ResultInput>& results) {
  std::multiset<std::string> layouts;
  for (const auto& r : results) layouts.insert(r.layout);
  std::vector<std::string> labels;
  for (const auto& r : results) {
    const std::string wrapped = wrap_layout(r.layout, 30);
    labels.push_back(layouts.count(r.layout) > 1 ? r.file + "\n" + wrapped : wrapped);
  }
  return labels;
}

std::string percent_text(double fraction) { return format_with_unit(fraction, percent_unit()); }

}  // namespace

std::string describe_routing(const RoutingVariant& v) {
  std::string s = v.kind == "expert_choice" ? "expert choice" : v.kind == "token_choice" ? "token choice" : v.kind;
  if (v.top_k) s += ", top-" + std::to_string(*v.top_k);
  s += v.dropless ? ", dropless" : ", capacity " + format_plain(*v.capacity_factor);
  return s;
}

std::string variant_label(const RoutingVariant& v) { return v.label.empty() ? v.name : v.label; }

std::string limiter_note(const std::string& limiter) {
  std::string words = limiter;
  std::replace(words.begin(), words.end(), '_', ' ');
  return "bound by " + words;
}

std::string wrap_layout(const std::string& layout, std::size_t width) {
  std::string out, line;
  std::size_t start = 0;
  while (start <= layout.size()) {
    const std::size_t comma = layout.find(',', start);
    const std::string part = layout.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!line.empty() && line.size() + 1 + part.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : ",") + part;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out + line;
}

std::vector<Figure> result_figures(const std::vector<ResultInput>& results) {
  std::vector<Figure> figs;
  if (results.empty()) return figs;
  const auto labels = result_labels(results);

  {
    std::vector<StepBreakdown> parts;
    double longest = 0;
    BarChart c;
    for (const auto& r : results) {
      parts.push_back(r.breakdown);
      longest = std::max(longest, r.breakdown.total());
      c.notes.push_back("MFU " + percent_text(r.mfu));
    }
    const DisplayUnit unit = time_unit_for(longest);
    c.id = "step-time";
    c.title = "Where the time of one training step goes, per layout";
    c.category_title = "layout";
    c.value_title = axis_title("time per training step", unit);
    c.value_unit = unit.symbol;
    c.categories = labels;
    c.series = breakdown_series(parts, unit);
    c.stacked = true;
    figs.push_back({c.id, c.title,
                    "On the slowest rank: compute, communication that compute does not hide, and pipeline bubble "
                    "add up to the step time (total after each bar).",
                    render_bar_chart(c)});
  }
  {
    double largest = 0;
    for (const auto& r : results) largest = std::max({largest, r.memory_peak_bytes, r.hbm_bytes});
    const DisplayUnit unit = bytes_unit_for(largest);
    BarChart c;
    c.id = "memory";
    c.title = "Memory per GPU by kind, against HBM capacity";
    c.category_title = "layout";
    c.value_title = axis_title("memory per GPU at its peak", unit);
    c.value_unit = unit.symbol;
    c.categories = labels;
    c.stacked = true;
    for (std::size_t k = 0; k < kMemoryKinds.size(); ++k) {
      BarSeries s{kMemoryNames[k], {}, palette(k).fill};
      for (const auto& r : results) s.values.push_back(unit.of(r.memory_bytes[k]));
      c.series.push_back(std::move(s));
    }
    c.limit_name = "HBM capacity";
    for (const auto& r : results) {
      c.limits.push_back(unit.of(r.hbm_bytes));
      c.notes.push_back((r.fits ? "fits in " : "exceeds ") + format_with_unit(r.hbm_bytes, unit));
    }
    figs.push_back({c.id, c.title,
                    "At the peak of the step, on the pipeline stage that needs most; the dashed line is the GPU's HBM.",
                    render_bar_chart(c)});
  }
  const auto traffic_chart = [&](const std::string& id, const std::string& title, auto names, auto bytes_of,
                                 const std::string& note) {
    double largest = 0;
    for (const auto& r : results) {
      for (double b : bytes_of(r)) largest = std::max(largest, b);
    }
    const DisplayUnit unit = bytes_unit_for(largest);
    BarChart c;
    c.id = id;
    c.title = title;
    c.category_title = id == "comm-tier" ? "tier" : "collective";
    c.value_title = axis_title("traffic per GPU per step", unit);
    c.value_unit = unit.symbol;
    std::vector<std::size_t> used;
    std::string unused;
    for (std::size_t k = 0; k < names.size(); ++k) {
      const bool any = std::any_of(results.begin(), results.end(), [&](const ResultInput& r) { return bytes_of(r)[k] > 0; });
      if (any) {
        used.push_back(k);
        c.categories.push_back(names[k]);
      } else {
        unused += (unused.empty() ? "" : ", ") + std::string(names[k]);
      }
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      BarSeries s{results[i].layout, {}, palette(i).fill};
      for (std::size_t k : used) s.values.push_back(unit.of(bytes_of(results[i])[k]));
      c.series.push_back(std::move(s));
    }
    figs.push_back({id, title, note + (unused.empty() ? "" : " Not used by any layout: " + unused + "."),
                    render_bar_chart(c)});
  };
  traffic_chart("comm-collective", "Communication per GPU per step, by collective", kCollectiveNames,
                [](const ResultInput& r) { return r.comm_bytes; }, "Bytes each GPU moves in one step; one bar per layout.");
  traffic_chart("comm-tier", "Communication per GPU per step, by tier", kTierNames,
                [](const ResultInput& r) { return r.tier_bytes; },
                "NVLink carries traffic between the GPUs of a node, the network the rest.");
  return figs;
}

std::vector<Figure> plan_figures(const PlanInput& plan, std::size_t n) {
  std::vector<Figure> figs;
  const std::string prefix = "plan-" + std::to_string(n) + "-";
  if (!plan.candidates.empty()) {
    const std::size_t shown = std::min(plan.candidates.size(), kMaxPlanRows);
    std::vector<StepBreakdown> parts;
    double longest = 0;
    BarChart c;
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& k = plan.candidates[i];
      parts.push_back(k.breakdown);
      longest = std::max(longest, k.breakdown.total());
      c.categories.push_back("#" + std::to_string(i + 1) + " · " + std::to_string(k.gpus) + " GPUs\n" +
                             wrap_layout(k.layout, 34));
      c.notes.push_back(k.fits ? limiter_note(k.limiter) : "does not fit");
    }
    const DisplayUnit unit = time_unit_for(longest);
    c.id = prefix + "ranking";
    c.title = "Candidate layouts in rank order";
    c.category_title = "rank, cluster, layout";
    c.value_title = axis_title("time per training step", unit);
    c.value_unit = unit.symbol;
    c.series = breakdown_series(parts, unit);
    c.stacked = true;
    std::string note = "Best first, as ranked by the planner; after each bar its step time and what bounds it.";
    if (shown < plan.candidates.size()) {
      note += " The first " + std::to_string(shown) + " of " + std::to_string(plan.candidates.size()) +
              " are drawn; all are in the table.";
    }
    figs.push_back({c.id, c.title, note, render_bar_chart(c)});
  }
  if (!plan.candidates.empty() || !plan.pareto.empty()) {
    double t_max = 0, h_max = 0;
    for (const auto& k : plan.candidates) {
      t_max = std::max(t_max, k.time_to_train_s);
      h_max = std::max(h_max, k.gpu_hours);
    }
    for (const auto& p : plan.pareto) {
      t_max = std::max(t_max, p.time_to_train_s);
      h_max = std::max(h_max, p.gpu_hours);
    }
    const DisplayUnit t = time_unit_for(t_max);
    const DisplayUnit h = gpu_hours_unit_for(h_max);
    XYChart c;
    c.id = prefix + "pareto";
    c.title = "Time to train against GPU-hours";
    c.x_title = axis_title("time to train", t);
    c.y_title = axis_title("cost", h);
    XYSeries fit{"candidate that fits", {}, {}, {}, {}, kNeutralColor, Shape::kCircle, XYLine::kNone};
    XYSeries unfit{"does not fit in HBM", {}, {}, {}, {}, palette(5).fill, Shape::kTriangle, XYLine::kNone};
    for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
      const auto& k = plan.candidates[i];
      XYSeries& s = k.fits ? fit : unfit;
      s.x.push_back(t.of(k.time_to_train_s));
      s.y.push_back(h.of(k.gpu_hours));
      s.tooltips.push_back("#" + std::to_string(i + 1) + " " + std::to_string(k.gpus) + " GPUs " + k.layout + ": " +
                           format_with_unit(k.time_to_train_s, t) + ", " + format_with_unit(k.gpu_hours, h));
    }
    std::vector<ParetoPoint> front = plan.pareto;
    std::sort(front.begin(), front.end(),
              [](const ParetoPoint& a, const ParetoPoint& b) { return a.time_to_train_s < b.time_to_train_s; });
    XYSeries pareto{"Pareto front", {}, {}, {}, {}, palette(0).fill, Shape::kSquare, XYLine::kSteps};
    for (const auto& p : front) {
      pareto.x.push_back(t.of(p.time_to_train_s));
      pareto.y.push_back(h.of(p.gpu_hours));
      pareto.labels.push_back(std::to_string(p.gpus) + " GPUs");
      pareto.tooltips.push_back(std::to_string(p.gpus) + " GPUs " + p.layout + ": " +
                                format_with_unit(p.time_to_train_s, t) + ", " + format_with_unit(p.gpu_hours, h));
    }
    for (XYSeries* s : {&fit, &unfit, &pareto}) {
      if (!s->x.empty()) c.series.push_back(std::move(*s));
    }
    figs.push_back({c.id, c.title,
                    "Lower left is better. No layout is both faster and cheaper than one on the front; "
                    "hover a point for its layout.",
                    render_xy_chart(c)});
  }
  return figs;
}

std::vector<Figure> routing_figures(const RoutingInput& routing, std::size_t n) {
  std::vector<Figure> figs;
  if (routing.variants.empty()) return figs;
  const std::string prefix = "routing-" + std::to_string(n) + "-";
  std::vector<std::string> labels;
  double t_max = 0, a2a_max = 0, flops_max = 0;
  for (const auto& v : routing.variants) {
    labels.push_back(variant_label(v));  // the routing settings are in the table below the charts
    t_max = std::max({t_max, v.step_time_s.p99, v.step_time_s.mean, v.step_time_s.deterministic});
    a2a_max = std::max({a2a_max, v.a2a_bytes_max, v.a2a_bytes_mean});
    flops_max = std::max({flops_max, v.flops_done, v.flops_wasted});
  }
  {
    const DisplayUnit unit = time_unit_for(t_max);
    IntervalChart c;
    c.id = prefix + "step-time";
    c.title = "Step-time distribution per routing";
    c.category_title = "routing";
    c.value_title = axis_title("time per training step", unit);
    c.value_unit = unit.symbol;
    c.box_name = "p50 to p95";
    c.whisker_name = "p95 to p99";
    c.point_names = {"mean", "deterministic (even load)"};
    for (std::size_t i = 0; i < routing.variants.size(); ++i) {
      const auto& d = routing.variants[i].step_time_s;
      c.rows.push_back({labels[i], unit.of(d.p50), unit.of(d.p50), unit.of(d.p95), unit.of(d.p99),
                        {unit.of(d.mean), unit.of(d.deterministic)},
                        "p50 " + format_with_unit(d.p50, unit) + ", p99 " + format_with_unit(d.p99, unit)});
    }
    figs.push_back({c.id, c.title,
                    "Over the seeded draws of expert loads (seed " + std::to_string(routing.seed) +
                        "): the box spans p50 to p95, the whisker reaches p99; the dot is the step time with the "
                        "load spread evenly.",
                    render_interval_chart(c)});
  }
  const auto variant_bars = [&](const std::string& id, const std::string& title, const std::string& note,
                                const std::string& what, const DisplayUnit& unit,
                                std::vector<std::pair<std::string, std::vector<double>>> series) {
    BarChart c;
    c.id = prefix + id;
    c.title = title;
    c.category_title = "routing";
    c.value_title = axis_title(what, unit);
    c.value_unit = unit.symbol;
    c.categories = labels;
    for (std::size_t s = 0; s < series.size(); ++s) {
      BarSeries b{series[s].first, {}, palette(s).fill};
      for (double v : series[s].second) b.values.push_back(unit.of(v));
      c.series.push_back(std::move(b));
    }
    figs.push_back({c.id, title, note, render_bar_chart(c)});
  };
  std::vector<double> a2a_top, a2a_mean, done, wasted, dropped, unchosen;
  bool any_unchosen = false;
  for (const auto& v : routing.variants) {
    a2a_top.push_back(v.a2a_bytes_max);
    a2a_mean.push_back(v.a2a_bytes_mean);
    done.push_back(v.flops_done);
    wasted.push_back(v.flops_wasted);
    dropped.push_back(v.tokens_dropped_fraction);
    unchosen.push_back(v.tokens_without_expert_fraction.value_or(0));
    any_unchosen = any_unchosen || v.tokens_without_expert_fraction.has_value();
  }
  std::vector<std::pair<std::string, std::vector<double>>> token_series{{"assignments dropped (over capacity)", dropped}};
  if (any_unchosen) token_series.emplace_back("tokens with no expert at all", unchosen);
  variant_bars("a2a", "All-to-all traffic per rank", "The busiest rank sets the pace of an all-to-all.",
               "all-to-all bytes per rank per step", bytes_unit_for(a2a_max),
               {{"busiest rank", a2a_top}, {"mean over ranks", a2a_mean}});
  variant_bars("flops", "Work done and wasted per step",
               "Wasted: FLOPs on capacity padding, which count toward the time but not toward the model.",
               "FLOPs per step", flops_unit_for(flops_max), {{"FLOPs done", done}, {"FLOPs wasted", wasted}});
  variant_bars("dropped", "Dropped assignments and tokens with no expert",
               "Token choice drops the assignments past an expert's capacity; under expert choice no assignment "
               "is dropped, but some tokens are picked by no expert. A token with no expert passes the MoE layer "
               "on the residual path only.",
               "share of tokens", percent_unit(), std::move(token_series));
  return figs;
}

std::vector<Figure> validation_figures(const ValidationInput& v, std::size_t n) {
  std::vector<Figure> figs;
  const std::string prefix = "validation-" + std::to_string(n) + "-";
  if (!v.per_op.empty()) {
    double t_max = 0;
    for (const auto& c : v.per_op) t_max = std::max({t_max, c.predicted_s, c.measured_s});
    const DisplayUnit unit = time_unit_for(t_max);
    XYChart c;
    c.id = prefix + "ops";
    c.title = "Predicted against measured time per operator";
    c.x_title = axis_title("measured", unit);
    c.y_title = axis_title("predicted", unit);
    c.x_log = c.y_log = true;
    c.identity = true;
    XYSeries ops{"operator", {}, {}, {}, {}, palette(0).fill, Shape::kCircle, XYLine::kNone};
    std::size_t skipped = 0;
    for (const auto& op : v.per_op) {
      if (op.predicted_s <= 0 || op.measured_s <= 0) {
        ++skipped;  // a log axis has no place for zero
        continue;
      }
      ops.x.push_back(unit.of(op.measured_s));
      ops.y.push_back(unit.of(op.predicted_s));
      ops.labels.push_back(op.name);
      ops.tooltips.push_back(op.name + ": predicted " + format_with_unit(op.predicted_s, unit) + ", measured " +
                             format_with_unit(op.measured_s, unit) + " (" + percent_text(op.error) + ")");
    }
    c.series.push_back(std::move(ops));
    std::string note = "Log-log: points on the dashed line are predicted exactly; above it the simulator "
                       "predicts too slow, below it too fast.";
    if (skipped > 0) note += " " + std::to_string(skipped) + " operator(s) with a zero time are in the table only.";
    figs.push_back({c.id, c.title, note, render_xy_chart(c)});

    BarChart e;
    e.id = prefix + "error";
    e.title = "Prediction error per operator";
    e.category_title = "operator";
    e.value_title = "error, (predicted − measured) / measured (%)";
    e.value_unit = "%";
    BarSeries s{"error", {}, palette(0).fill};
    for (const auto& op : v.per_op) {
      e.categories.push_back(op.name);
      s.values.push_back(percent_unit().of(op.error));
    }
    e.series.push_back(std::move(s));
    figs.push_back({e.id, e.title, "Left of zero: the simulator predicts the operator faster than it ran.",
                    render_bar_chart(e)});
  }
  if (!v.steps.empty()) {
    double t_max = 0;
    for (const auto& c : v.steps) t_max = std::max({t_max, c.predicted_s, c.measured_s});
    const DisplayUnit unit = time_unit_for(t_max);
    XYChart c;
    c.id = prefix + "steps";
    c.title = "Predicted and measured time per step";
    c.x_title = "training step";
    c.y_title = axis_title("step time", unit);
    XYSeries measured{"measured", {}, {}, {}, {}, palette(5).fill, Shape::kCircle, XYLine::kSolid};
    XYSeries predicted{"predicted", {}, {}, {}, {}, palette(0).fill, Shape::kSquare, XYLine::kDashed};
    for (const auto& st : v.steps) {
      const double x = static_cast<double>(st.step);
      measured.x.push_back(x);
      measured.y.push_back(unit.of(st.measured_s));
      measured.tooltips.push_back(st.name + " measured: " + format_with_unit(st.measured_s, unit));
      predicted.x.push_back(x);
      predicted.y.push_back(unit.of(st.predicted_s));
      predicted.tooltips.push_back(st.name + " predicted: " + format_with_unit(st.predicted_s, unit) + " (" +
                                   percent_text(st.error) + ")");
    }
    c.series = {std::move(measured), std::move(predicted)};
    figs.push_back({c.id, c.title, "Mean absolute error " + percent_text(v.mape) + " (MAPE, as written by validate).",
                    render_xy_chart(c)});
  }
  return figs;
}

}  // namespace ecsim
