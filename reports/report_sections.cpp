#include "reports/report_sections.hpp"

#include <algorithm>

#include "reports/display_units.hpp"

namespace ecsim {
namespace {

// A lone value picks its own unit; the columns of a table share one (from their largest value),
// so that rows compare at a glance and a zero reads "0 ms", not "0 µs".
std::string time_text(double s) { return format_with_unit(s, time_unit_for(s)); }
std::string bytes_text(double b) { return format_with_unit(b, bytes_unit_for(b)); }
std::string percent_text(double f) { return format_with_unit(f, percent_unit()); }
std::string memory_text(double peak, double hbm) {
  const DisplayUnit u = bytes_unit_for(std::max(peak, hbm));
  return format_number(u.of(peak)) + " / " + format_with_unit(hbm, u);
}

std::vector<std::pair<std::string, std::string>> scenario_facts(const ScenarioRef& s, const std::string& file) {
  std::vector<std::pair<std::string, std::string>> facts{{"scenario", s.name}};
  if (!s.file.empty()) facts.emplace_back("scenario file", s.file);
  facts.emplace_back("read from", file);
  return facts;
}

// What priced the kernels, and the calls a profile left to the analytic roofline: `which` names the
// layout, at the start of the value, where a section holds several (short keys keep the facts'
// values wide).
void add_pricing_facts(std::vector<std::pair<std::string, std::string>>& facts, const Pricing& p,
                       const std::string& which = {}) {
  const std::string prefix = which.empty() ? "" : which + ": ";
  if (!p.costs.empty()) facts.emplace_back("costs", prefix + p.costs);
  if (!p.outside_profile.empty()) facts.emplace_back("outside the profile", prefix + p.outside_profile +
                                                                              " (priced by the analytic roofline)");
}

Section inputs_section(const ReportInputs& in) {
  Table t{"", {"file", "kind", "scenario", "what"}, {false, false, false, false}, {}};
  for (const auto& r : in.results) t.rows.push_back({r.file, "simulation result", r.scenario.name, r.layout});
  for (const auto& p : in.plans) {
    t.rows.push_back({p.file, "layout plan", p.scenario.name, std::to_string(p.candidates.size()) + " candidates"});
  }
  for (const auto& r : in.routings) {
    t.rows.push_back({r.file, "routing comparison", r.scenario.name, std::to_string(r.variants.size()) + " variants"});
  }
  for (const auto& v : in.validations) {
    t.rows.push_back({v.file, "validation", v.scenario.name, std::to_string(v.per_op.size()) + " operators, " +
                                                               std::to_string(v.steps.size()) + " steps"});
  }
  return {"inputs", "Inputs", {}, {}, {}, {t}};
}

Section results_section(const std::vector<ResultInput>& results) {
  Section s{"results", "Simulated layouts", {}, {}, result_figures(results), {}};
  Table t{"", {"layout", "scenario", "step time", "images/s", "MFU", "exposed comm", "memory / HBM", "fits"},
          {false, false, true, true, true, true, true, false}, {}};
  for (const auto& r : results) {
    t.rows.push_back({r.layout, r.scenario.name, time_text(r.step_time_s), format_grouped(r.images_per_s),
                      percent_text(r.mfu), time_text(r.exposed_comm_s), memory_text(r.memory_peak_bytes, r.hbm_bytes),
                      r.fits ? "yes" : "no"});
  }
  s.tables.push_back(std::move(t));

  Table steps{"Step time by part", {"layout", "compute", "exposed communication", "pipeline bubble", "total"},
              {false, true, true, true, true}, {}};
  // Where a result priced the host's launches: how much of its compute the GPU spent waiting for them.
  const bool host_lane = std::any_of(results.begin(), results.end(), [](const auto& r) { return r.host_wait_s; });
  if (host_lane) {
    steps.headers.insert(steps.headers.begin() + 2, "of which waiting for the host");
    steps.numeric.insert(steps.numeric.begin() + 2, true);
  }
  Table memory{"Memory per GPU by kind", {"layout"}, {false}, {}};
  for (const char* k : kMemoryKinds) {
    memory.headers.emplace_back(k);
    memory.numeric.push_back(true);
  }
  memory.headers.insert(memory.headers.end(), {"peak", "HBM"});
  memory.numeric.insert(memory.numeric.end(), {true, true});
  Table comm{"Communication per GPU per step", {"layout"}, {false}, {}};
  for (const char* k : kCollectiveKinds) {
    comm.headers.emplace_back(k);
    comm.numeric.push_back(true);
  }
  for (const char* k : kTiers) {
    comm.headers.push_back(std::string("on ") + k);
    comm.numeric.push_back(true);
  }
  double longest = 0, largest_memory = 0, largest_comm = 0;
  for (const auto& r : results) {
    longest = std::max(longest, r.breakdown.total());
    largest_memory = std::max({largest_memory, r.memory_peak_bytes, r.hbm_bytes});
    for (double v : r.comm_bytes) largest_comm = std::max(largest_comm, v);
    for (double v : r.tier_bytes) largest_comm = std::max(largest_comm, v);
  }
  const DisplayUnit tu = time_unit_for(longest), mu = bytes_unit_for(largest_memory), cu = bytes_unit_for(largest_comm);
  for (const auto& r : results) {
    const auto& b = r.breakdown;
    steps.rows.push_back({r.layout, format_with_unit(b.compute_s, tu), format_with_unit(b.exposed_comm_s, tu),
                          format_with_unit(b.bubble_s, tu), format_with_unit(b.total(), tu)});
    if (host_lane) {
      steps.rows.back().insert(steps.rows.back().begin() + 2,
                               r.host_wait_s ? format_with_unit(*r.host_wait_s, tu) : "not priced");
    }
    std::vector<std::string> m{r.layout};
    for (double v : r.memory_bytes) m.push_back(format_with_unit(v, mu));
    m.push_back(format_with_unit(r.memory_peak_bytes, mu));
    m.push_back(format_with_unit(r.hbm_bytes, mu));
    memory.rows.push_back(std::move(m));
    std::vector<std::string> c{r.layout};
    for (double v : r.comm_bytes) c.push_back(format_with_unit(v, cu));
    for (double v : r.tier_bytes) c.push_back(format_with_unit(v, cu));
    comm.rows.push_back(std::move(c));
  }
  s.tables.insert(s.tables.end(), {std::move(steps), std::move(memory), std::move(comm)});
  if (results.size() == 1) {
    s.facts = scenario_facts(results[0].scenario, results[0].file);
    add_pricing_facts(s.facts, results[0].pricing);
  } else {
    // One "costs" line where every result was priced alike.
    const bool same_costs = std::all_of(results.begin(), results.end(),
                                        [&](const auto& r) { return r.pricing.costs == results[0].pricing.costs; });
    if (same_costs) add_pricing_facts(s.facts, {results[0].pricing.costs, {}});
    for (const auto& r : results) {
      add_pricing_facts(s.facts, same_costs ? Pricing{{}, r.pricing.outside_profile} : r.pricing, r.layout);
    }
  }
  return s;
}

Section plan_section(const PlanInput& p, std::size_t n) {
  Section s{"plan-" + std::to_string(n), "Layout plan: " + p.scenario.name, scenario_facts(p.scenario, p.file), {},
            plan_figures(p, n), {}};
  std::string sizes;
  for (auto g : p.gpus) sizes += (sizes.empty() ? "" : ", ") + format_grouped(static_cast<double>(g));
  s.facts.emplace_back("cluster sizes searched", sizes + " GPUs");
  if (!p.candidates.empty()) {
    const auto& best = p.candidates.front();
    s.facts.emplace_back("best layout", std::to_string(best.gpus) + " GPUs, " + best.layout);
    // The best layout's numbers, under its "best layout" fact.
    s.key_numbers = {{"GPUs", format_grouped(static_cast<double>(best.gpus))},
                     {"step time", time_text(best.step_time_s)},
                     {"time to train", format_with_unit(best.time_to_train_s, time_unit_for(best.time_to_train_s))},
                     {"cost", format_grouped(best.gpu_hours) + " GPU·h"}};
  }
  Table t{"Candidates, best first",
          {"rank", "GPUs", "layout", "step time", "images/s", "MFU", "memory / HBM", "fits", "bound by",
           "time to train", "GPU-hours", "Pareto"},
          {true, true, false, true, true, true, true, false, false, true, true, false},
          {}};
  for (std::size_t i = 0; i < p.candidates.size(); ++i) {
    const auto& k = p.candidates[i];
    const bool on_front = std::any_of(p.pareto.begin(), p.pareto.end(), [&](const ParetoPoint& q) {
      return q.gpus == k.gpus && q.layout == k.layout;
    });
    t.rows.push_back({std::to_string(i + 1), format_grouped(static_cast<double>(k.gpus)), k.layout,
                      time_text(k.step_time_s), format_grouped(k.images_per_s), percent_text(k.mfu),
                      memory_text(k.memory_peak_bytes, k.hbm_bytes), k.fits ? "yes" : "no", k.limiter,
                      format_with_unit(k.time_to_train_s, time_unit_for(k.time_to_train_s)),
                      format_grouped(k.gpu_hours), on_front ? "on the front" : ""});
  }
  s.tables.push_back(std::move(t));
  return s;
}

Section routing_section(const RoutingInput& r, std::size_t n) {
  Section s{"routing-" + std::to_string(n), "Expert choice against token choice: " + r.scenario.name,
            scenario_facts(r.scenario, r.file), {}, routing_figures(r, n), {}};
  s.facts.emplace_back("layout", r.layout);
  s.facts.emplace_back("seed", std::to_string(r.seed));
  Table times{"Step time per variant",
              {"variant", "routing", "deterministic", "mean", "p50", "p95", "p99"},
              {false, false, true, true, true, true, true},
              {}};
  Table costs{"What each variant costs (dropped: assignments past capacity; no expert: tokens that got none; a2a: "
              "all-to-all bytes per rank and step)",
              {"variant", "dropped", "no expert", "a2a max", "a2a mean", "FLOPs done", "FLOPs wasted", "memory peak"},
              {false, true, true, true, true, true, true, true},
              {}};
  double t_max = 0, a2a_max = 0, flops_max = 0;
  for (const auto& v : r.variants) {
    t_max = std::max({t_max, v.step_time_s.p99, v.step_time_s.mean, v.step_time_s.deterministic});
    a2a_max = std::max(a2a_max, v.a2a_bytes_max);
    flops_max = std::max(flops_max, v.flops_done);
  }
  const DisplayUnit tu = time_unit_for(t_max), au = bytes_unit_for(a2a_max), fu = flops_unit_for(flops_max);
  for (const auto& v : r.variants) {
    const auto& d = v.step_time_s;
    times.rows.push_back({variant_label(v), describe_routing(v), format_with_unit(d.deterministic, tu), format_with_unit(d.mean, tu),
                          format_with_unit(d.p50, tu), format_with_unit(d.p95, tu), format_with_unit(d.p99, tu)});
    costs.rows.push_back({variant_label(v), percent_text(v.tokens_dropped_fraction),
                          v.tokens_without_expert_fraction ? percent_text(*v.tokens_without_expert_fraction) : "-", format_with_unit(v.a2a_bytes_max, au),
                          format_with_unit(v.a2a_bytes_mean, au), format_with_unit(v.flops_done, fu),
                          format_with_unit(v.flops_wasted, fu), bytes_text(v.memory_peak_bytes)});
  }
  s.tables.push_back(std::move(times));
  s.tables.push_back(std::move(costs));
  return s;
}

Section validation_section(const ValidationInput& v, std::size_t n) {
  Section s{"validation-" + std::to_string(n), "Predicted against measured: " + v.scenario.name,
            scenario_facts(v.scenario, v.file), {{"MAPE", percent_text(v.mape)}}, validation_figures(v, n), {}};
  add_pricing_facts(s.facts, v.pricing);
  for (const std::string& w : v.warnings) s.facts.emplace_back("warning", w);
  const auto table = [](const std::string& caption, const std::string& first, const std::vector<Comparison>& rows) {
    Table t{caption, {first, "predicted", "measured", "error"}, {false, true, true, true}, {}};
    for (const auto& c : rows) {
      t.rows.push_back({c.name, time_text(c.predicted_s), time_text(c.measured_s), percent_text(c.error)});
    }
    return t;
  };
  if (!v.per_op.empty()) s.tables.push_back(table("Per operator", "operator", v.per_op));
  if (!v.steps.empty()) s.tables.push_back(table("Per step", "step", v.steps));
  return s;
}

}  // namespace

std::vector<Section> report_sections(const ReportInputs& in) {
  std::vector<Section> out{inputs_section(in)};
  if (!in.results.empty()) out.push_back(results_section(in.results));
  for (std::size_t i = 0; i < in.plans.size(); ++i) out.push_back(plan_section(in.plans[i], i + 1));
  for (std::size_t i = 0; i < in.routings.size(); ++i) out.push_back(routing_section(in.routings[i], i + 1));
  for (std::size_t i = 0; i < in.validations.size(); ++i) out.push_back(validation_section(in.validations[i], i + 1));
  return out;
}

}  // namespace ecsim
