#include "plan/planner.hpp"

#include <algorithm>
#include <limits>

#include "plan/enumerate.hpp"
#include "core/parallel_for.hpp"
#include "result/simulation.hpp"

namespace ecsim {
namespace {

// A layout whose peak is within this share of the limit is reported as limited by memory: a
// larger micro-batch or less recomputation would not fit.
constexpr double kNearMemoryLimit = 0.95;
constexpr double kSecondsPerHour = 3600;
// Layouts a screen worker takes at a time: the ZeRO x recompute variants of one set of operators
// (4 x 3) share its memo entries.
constexpr std::size_t kScreenGrain = 12;

ComputeCostModel make_cost(const Scenario& s, const PlanSettings& settings) {
  return settings.profile ? ComputeCostModel::from_profile(*settings.profile, s.cluster->gpu, &*s.cluster)
                          : ComputeCostModel::analytic(s.cluster->gpu);
}

// Ties are broken the same way on every run: by GPU count, then by the layout's text.
bool layout_before(const PlanCandidate& a, const PlanCandidate& b) {
  if (a.gpus != b.gpus) return a.gpus < b.gpus;
  return layout_to_string(a.plan.layout) < layout_to_string(b.plan.layout);
}

Limiter limiter_of(const PlanCandidate& c) {
  if (c.memory.peak() >= c.memory_limit * kNearMemoryLimit) return Limiter::kMemory;
  if (c.compute >= c.exposed_comm && c.compute >= c.bubble) return Limiter::kCompute;
  return c.exposed_comm >= c.bubble ? Limiter::kExposedComm : Limiter::kBubble;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The memory check and, when it fits, the screen.
void measure(PlanCandidate& c, const Scenario& sg, const PlanSettings& settings, const ComputeCostModel& cost,
             ScreenMemo& memo) {
  c.memory = peak_memory(sg, c.plan);
  c.memory_limit = c.memory.hbm * settings.headroom;
  if (c.fits()) c.screen = screen_layout(sg, c.plan, cost, memo);
}

void run_engine_on(PlanCandidate& c, const Scenario& sg, const PlanSettings& settings, const ComputeCostModel& cost) {
  const SimulationResult r = simulate(sg, c.plan, cost);
  c.step_time = r.step_time;
  c.images_per_s = r.images_per_s;
  c.mfu = r.mfu;
  c.compute = r.compute;
  c.exposed_comm = r.exposed_comm;
  c.bubble = r.bubble;
  c.limiter = limiter_of(c);
  c.time_to_train = r.step_time * static_cast<double>(settings.train_steps);
  c.gpu_hours = c.time_to_train.value * static_cast<double>(c.gpus) / kSecondsPerHour;
}

// Faster first; between equals, the one that leaves more memory free.
bool faster(const PlanCandidate& a, const PlanCandidate& b) {
  if (a.images_per_s != b.images_per_s) return a.images_per_s > b.images_per_s;
  if (a.memory.peak() != b.memory.peak()) return a.memory.peak() < b.memory.peak();
  return layout_before(a, b);
}

// Progress of one phase, forwarded to the settings' callback when there is one.
auto progress_of(const PlanSettings& settings, const char* phase, std::size_t total) {
  return [&settings, phase, total](std::size_t done) {
    if (settings.progress) settings.progress(phase, done, total);
  };
}

}  // namespace

const char* limiter_name(Limiter l) {
  switch (l) {
    case Limiter::kCompute: return "compute";
    case Limiter::kExposedComm: return "exposed_comm";
    case Limiter::kBubble: return "bubble";
    case Limiter::kMemory: return "memory";
  }
  return "compute";
}

void PlanCounts::add(const PlanCounts& o) {
  enumerated += o.enumerated;
  for (const auto& [why, n] : o.invalid_by_reason) invalid_by_reason[why] += n;
  not_fitting += o.not_fitting;
  screened += o.screened;
  simulated += o.simulated;
}

void check_plan_settings(const PlanSettings& st) {
  if (st.gpu_counts.empty()) throw InputError("--gpus: no GPU count given");
  for (std::size_t i = 0; i < st.gpu_counts.size(); ++i) {
    if (st.gpu_counts[i] < 1) throw InputError("--gpus: " + std::to_string(st.gpu_counts[i]) + " is not a GPU count");
    if (std::find(st.gpu_counts.begin(), st.gpu_counts.begin() + static_cast<std::ptrdiff_t>(i), st.gpu_counts[i]) !=
        st.gpu_counts.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw InputError("--gpus: " + std::to_string(st.gpu_counts[i]) + " is given twice");
    }
  }
  if (st.top < 1) throw InputError("--top: must be at least 1, got " + std::to_string(st.top));
  if (!(st.headroom > 0 && st.headroom <= 1)) {
    throw InputError("--headroom: must be in (0, 1] (a share of HBM), got " + std::to_string(st.headroom));
  }
  if (st.simulate_factor < 1) {
    throw InputError("--simulate-factor: must be at least 1, got " + std::to_string(st.simulate_factor));
  }
  if (st.train_steps < 1) throw InputError("--train-steps: must be at least 1, got " + std::to_string(st.train_steps));
}

std::vector<std::size_t> pareto_front(const std::vector<PlanCandidate>& c) {
  std::vector<std::size_t> order(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (c[a].time_to_train != c[b].time_to_train) return c[a].time_to_train < c[b].time_to_train;
    if (c[a].gpu_hours != c[b].gpu_hours) return c[a].gpu_hours < c[b].gpu_hours;
    return a < b;
  });
  std::vector<std::size_t> front;
  for (const std::size_t i : order) {
    if (front.empty() || c[i].gpu_hours < c[front.back()].gpu_hours) front.push_back(i);
  }
  return front;
}

PlanResult run_plan(const Scenario& s, const PlanSettings& settings) {
  check_plan_settings(settings);
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to plan)");
  if (s.run.mode != RunMode::kTrain) {
    throw InputError(s.file.string(), "/run/mode", "ecsim plan plans training runs; this scenario is \"infer\"");
  }
  PlanResult out;
  out.scenario = s;
  out.gpu_counts = settings.gpu_counts;
  out.top = settings.top;
  out.headroom = settings.headroom;
  out.train_steps = settings.train_steps;
  const ComputeCostModel cost = make_cost(s, settings);  // workers take copies of their own
  out.cost_description = cost.description();

  // One scenario per GPU count, and every valid layout of each.
  std::vector<Scenario> scenarios;
  std::vector<PlanCandidate> valid;
  std::vector<std::size_t> scenario_of;
  for (const std::int64_t g : settings.gpu_counts) {
    if (g % s.cluster->gpus_per_node != 0) {
      throw InputError("--gpus: " + std::to_string(g) + " GPUs do not fill whole nodes of " +
                       std::to_string(s.cluster->gpus_per_node) + " GPUs");
    }
    Scenario sg = s;
    sg.cluster->gpus = g;
    Enumeration e = enumerate_layouts(sg);
    PlanCounts& counts = out.counts_by_gpus[g];
    counts.enumerated = e.enumerated;
    counts.invalid_by_reason = std::move(e.invalid_by_reason);
    for (LayoutPlan& p : e.valid) {
      PlanCandidate c;
      c.gpus = g;
      c.plan = std::move(p);
      valid.push_back(std::move(c));
      scenario_of.push_back(scenarios.size());
    }
    scenarios.push_back(std::move(sg));
  }

  // Memory, and the screen for those that fit.
  struct ScreenWorker {
    ComputeCostModel cost;
    ScreenMemo memo;
  };
  parallel_for(
      valid.size(), settings.threads, kScreenGrain,
      [&] { return ScreenWorker{cost.for_another_thread(), ScreenMemo{}}; },
      [&](ScreenWorker& w, std::size_t i) { measure(valid[i], scenarios[scenario_of[i]], settings, w.cost, w.memo); },
      progress_of(settings, "screen", valid.size()));

  // Per GPU count, the screen's best go to the engine.
  std::vector<PlanCandidate> chosen;
  std::vector<std::size_t> chosen_scenario;
  // top x factor, saturating: a huge factor means "simulate everything".
  const auto keep = settings.top > std::numeric_limits<std::int64_t>::max() / settings.simulate_factor
                        ? std::numeric_limits<std::size_t>::max()
                        : static_cast<std::size_t>(settings.top * settings.simulate_factor);
  for (std::size_t k = 0; k < scenarios.size(); ++k) {
    const std::int64_t g = settings.gpu_counts[k];
    std::vector<PlanCandidate> fitting;
    for (std::size_t i = 0; i < valid.size(); ++i) {
      if (scenario_of[i] != k) continue;
      if (valid[i].fits()) {
        fitting.push_back(valid[i]);
      } else {
        ++out.counts_by_gpus[g].not_fitting;
      }
    }
    out.counts_by_gpus[g].screened = static_cast<std::int64_t>(fitting.size());
    std::sort(fitting.begin(), fitting.end(), [](const PlanCandidate& a, const PlanCandidate& b) {
      if (a.screen.step_time != b.screen.step_time) return a.screen.step_time < b.screen.step_time;
      if (a.memory.peak() != b.memory.peak()) return a.memory.peak() < b.memory.peak();
      return layout_before(a, b);
    });
    if (fitting.size() > keep) fitting.resize(keep);
    out.counts_by_gpus[g].simulated = static_cast<std::int64_t>(fitting.size());
    for (PlanCandidate& c : fitting) {
      chosen.push_back(std::move(c));
      chosen_scenario.push_back(k);
    }
  }
  valid.clear();

  parallel_for(
      chosen.size(), settings.threads, 1, [&] { return cost.for_another_thread(); },
      [&](const ComputeCostModel& worker_cost, std::size_t i) {
        run_engine_on(chosen[i], scenarios[chosen_scenario[i]], settings, worker_cost);
      },
      progress_of(settings, "simulate", chosen.size()));
  std::sort(chosen.begin(), chosen.end(), faster);
  out.candidates = std::move(chosen);
  out.pareto = pareto_front(out.candidates);
  for (const auto& [g, counts] : out.counts_by_gpus) out.counts.add(counts);

  // The scenario's own layout, on its own GPU count, as the yardstick for the plan.
  const auto own = std::find(settings.gpu_counts.begin(), settings.gpu_counts.end(), s.cluster->gpus);
  if (s.layout && own != settings.gpu_counts.end()) {
    const Scenario& sg = scenarios[static_cast<std::size_t>(own - settings.gpu_counts.begin())];
    try {
      PlanCandidate c;
      c.gpus = sg.cluster->gpus;
      c.plan = plan_layout(sg, *s.layout, "/layout");
      ScreenMemo memo;
      measure(c, sg, settings, cost, memo);
      if (!c.fits()) c.screen = screen_layout(sg, c.plan, cost, memo);
      run_engine_on(c, sg, settings, cost);
      out.scenario_layout = std::move(c);
    } catch (const InputError& e) {
      out.scenario_layout_note = e.what();
    }
  }

  std::vector<double> ratios;
  for (const PlanCandidate& c : out.candidates) ratios.push_back(c.screen_vs_engine());
  out.median_ratio = median(ratios);
  if (!ratios.empty()) {
    out.min_ratio = *std::min_element(ratios.begin(), ratios.end());
    out.max_ratio = *std::max_element(ratios.begin(), ratios.end());
  }
  return out;
}

}  // namespace ecsim
