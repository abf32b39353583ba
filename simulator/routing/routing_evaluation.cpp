#include "routing/routing_evaluation.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "core/parallel_for.hpp"
#include "engine/event_engine.hpp"
#include "engine/step_builder.hpp"
#include "parallel/memory.hpp"
#include "parallel/stage_ops.hpp"
#include "routing/expert_choice_routing.hpp"
#include "routing/expert_shares.hpp"
#include "routing/token_choice_routing.hpp"

namespace ecsim {
namespace {

// What a random stream is for; with the sampled step and the layer it keys the stream, so the
// routings of a comparison see the same expert shares in the same step and layer.
enum StreamPurpose : std::uint64_t { kSharesStream = 1, kRouteStream = 2 };

double d(std::int64_t v) { return static_cast<double>(v); }

// Expert FFN FLOPs (fc1, activation, fc2) per routed row, from the same operator formulas the
// simulator prices: the MoE layer of one micro-batch on one rank without TP or EP, divided by
// the rows its experts compute.
Flops flops_per_expert_row(const ModelSpec& m, const LayoutPlan& p) {
  OpContext ctx;
  ctx.samples = p.layout.mbs;
  ctx.training = p.training;
  const std::vector<Op> ops = moe_ffn_ops(m, p.tokens_per_micro_batch, ctx);
  Flops total;
  double rows = 0;
  for (const Op& op : ops) {
    if (op.component == Component::kExperts) total += p.training ? op.train_flops() : op.fwd;
    if (op.name == "unpermute") rows = d(op.shape.at("rows"));
  }
  return total / rows;
}

// One layer's traffic: per rank, what it sends to and receives from the other ranks.
struct TrafficStats {
  double busiest_rows = 0;    // max over ranks of the larger of send and receive (excluding itself)
  double mean_rows = 0;       // mean over ranks of what each sends
  double busiest_buffer = 0;  // max over ranks of send or receive including itself (nccl-tests' buffer)
};

TrafficStats traffic_stats(const std::vector<std::vector<std::int64_t>>& rows) {
  TrafficStats t;
  const std::size_t n = rows.size();
  for (std::size_t r = 0; r < n; ++r) {
    double sent = 0, received = 0;
    const double self = d(rows[r][r]);
    for (std::size_t q = 0; q < n; ++q) {
      if (q == r) continue;
      sent += d(rows[r][q]);
      received += d(rows[q][r]);
    }
    t.busiest_rows = std::max({t.busiest_rows, sent, received});
    t.busiest_buffer = std::max({t.busiest_buffer, sent + self, received + self});
    t.mean_rows += sent / d(static_cast<std::int64_t>(n));
  }
  return t;
}

void add_histogram(std::vector<std::int64_t>& into, const std::vector<std::int64_t>& h) {
  if (into.size() < h.size()) into.resize(h.size(), 0);
  for (std::size_t i = 0; i < h.size(); ++i) into[i] += h[i];
}

// Activation bytes one micro-batch leaves on a stage when the sampled layers route as sampled.
Bytes routed_activations(const Scenario& s, const LayoutPlan& p, std::vector<ChunkOps> chunks,
                         const RoutingSample& sample) {
  for (auto& chunk : chunks) {
    for (auto& ops : chunk.layers) {
      const std::int64_t layer = ops.empty() ? -1 : ops.front().layer;
      auto it = sample.find(layer);
      if (it != sample.end()) ops = routed_block_ops(s.model, p, layer, it->second);
    }
  }
  return activation_bytes_per_micro_batch(chunks, p.layout.recompute, p, s.model);
}

// What one sampled step of one routing adds to the totals that depend on the order of addition
// (floating-point sums, the step times); they are summed in sample order, so the results do not
// depend on the threads that drew the steps.
struct StepOutcome {
  Seconds time;
  double flops_done = 0, flops_wasted = 0, a2a_max = 0, a2a_mean = 0;
  Bytes memory_peak;
};

// The whole-number totals, which each worker sums over the steps it drew (exact in any order).
struct StepCounts {
  std::vector<std::int64_t> histogram;  // tokens by the number of experts that process them
  std::int64_t pairs = 0, dropped = 0, tokens_routed = 0;

  void add(const StepCounts& o) {
    add_histogram(histogram, o.histogram);
    pairs += o.pairs;
    dropped += o.dropped;
    tokens_routed += o.tokens_routed;
  }
};

// The step being drawn: per layer routing, the rows of one EP group's micro-batch over the layers,
// and all-to-all bytes per stage.
struct StepDraft {
  RoutingSample sample;
  double computed = 0, kept = 0;
  std::vector<double> stage_max, stage_mean;
};

// One routing being evaluated: its scenario and plan, and what does not change between samples.
// Its steps are drawn into a StepDraft and StepCounts; const, so that workers can share it.
class Evaluation {
 public:
  Evaluation(Scenario s, LayoutPlan p, const ComputeCostModel& cost)
      : s_(std::move(s)), p_(std::move(p)), rs_(s_.model.moe.routing) {
    const double passes = p_.training ? 1.0 : d(s_.run.sampling_steps);
    passes_ = passes;
    deterministic_ = to_seconds(run_engine(build_step_graph(s_, p_, cost)).makespan) * passes;
    expert_choice_ = rs_.kind == RoutingKind::kExpertChoice;
    ragged_ = !expert_choice_ && rs_.dropless();
    // How often a sampled layer's routing happens per step, over the cluster: every micro-batch
    // of every expert-parallel group of the stage, in every pass.
    per_step_ = d(p_.micro_batches) * passes * d(p_.layout.dp / p_.layout.ep);
    // A layer's all-to-alls per micro-batch: dispatch and combine, mirrored in backward.
    exchanges_ = (p_.training ? 4.0 : 2.0) * d(p_.micro_batches) * passes;
    per_row_ = flops_per_expert_row(s_.model, p_);
    for (std::int64_t st = 0; st < p_.layout.pp; ++st) {
      stage_memory_.push_back(estimate_memory(s_, p_, st));
      stage_ops_.push_back(stage_chunks(s_.model, p_, st));
      stage_activations_.push_back(activation_bytes_per_micro_batch(stage_ops_.back(), p_.layout.recompute, p_, s_.model));
      memory_peak_ = std::max(memory_peak_, stage_memory_.back().peak());
    }
  }

  bool expert_choice() const { return expert_choice_; }
  const RoutingSpec& routing() const { return rs_; }
  std::int64_t tokens() const { return p_.tokens_per_micro_batch; }  // one rank's micro-batch
  std::int64_t ep() const { return p_.layout.ep; }
  std::int64_t capacity() const { return rs_.dropless() ? 0 : token_choice_capacity(s_.model, tokens()); }

  StepDraft begin_step() const {
    StepDraft draft;
    draft.stage_max.assign(static_cast<std::size_t>(p_.layout.pp), 0);
    draft.stage_mean.assign(static_cast<std::size_t>(p_.layout.pp), 0);
    return draft;
  }

  // Expert choice: one group stands for the layer's groups in this step; the experts' work is
  // the same in all of them, and the share of tokens without an expert is what it samples.
  void add_expert_choice(StepDraft& draft, StepCounts& counts, std::int64_t layer, const std::vector<double>& shares,
                         RandomStream& rng) const {
    const std::int64_t experts = s_.model.moe.experts;
    const std::int64_t c = expert_choice_capacity(s_.model);
    const std::int64_t groups = tokens() / rs_.group_tokens;
    const ExpertChoiceGroup g = route_expert_choice_group(shares, rs_.group_tokens, c, rng);
    add_histogram(counts.histogram, g.experts_per_token);
    counts.tokens_routed += rs_.group_tokens;
    draft.computed += d(experts * c * groups * ep());
    draft.kept += d(experts * c * groups * ep());
    const auto n = static_cast<std::size_t>(ep());
    const std::int64_t rows = c * groups * (experts / ep());  // to each peer, from each rank
    add_traffic(draft, layer, std::vector<std::vector<std::int64_t>>(n, std::vector<std::int64_t>(n, rows)));
  }

  void add_token_choice(StepDraft& draft, StepCounts& counts, std::int64_t layer, const TokenChoices& choices) const {
    const TokenChoiceLayer t = keep_within_capacity(choices, capacity());
    add_histogram(counts.histogram, t.experts_per_token);
    counts.tokens_routed += t.tokens;
    counts.pairs += t.assignments;
    counts.dropped += t.dropped;
    draft.computed += d(t.computed_rows());
    draft.kept += d(t.kept());
    const auto traffic = t.dispatch_rows();
    add_traffic(draft, layer, traffic);
    if (!ragged_) return;
    LayerRouting routed;
    routed.expert_rows = t.expert_rows(t.busiest_rank());
    if (ep() > 1) {
      const double row_bytes = d(s_.model.hidden) * kBf16Bytes;
      std::vector<std::vector<Bytes>> bytes(traffic.size());
      for (std::size_t r = 0; r < traffic.size(); ++r) {
        for (std::int64_t rows : traffic[r]) bytes[r].push_back(Bytes{d(rows) * row_bytes});
      }
      routed.all_to_all = plan_alltoallv(*s_.cluster, bytes, p_.ep_group);
      routed.all_to_all_bytes = Bytes{traffic_stats(traffic).busiest_buffer * row_bytes};
    }
    draft.sample[layer] = std::move(routed);
  }

  // Where the loads change the work (dropless), the step is simulated again with the sample
  // (priced by `cost`, the worker's own); otherwise every sampled step is the deterministic one.
  StepOutcome end_step(const StepDraft& draft, const ComputeCostModel& cost) const {
    StepOutcome o;
    o.flops_done = per_row_.value * draft.computed * per_step_;
    o.flops_wasted = per_row_.value * (draft.computed - draft.kept) * per_step_;
    o.a2a_max = *std::max_element(draft.stage_max.begin(), draft.stage_max.end());
    for (double b : draft.stage_mean) o.a2a_mean += b / d(p_.layout.pp);
    o.memory_peak = memory_peak_;
    if (!ragged_) {
      o.time = deterministic_;
      return o;
    }
    o.time = to_seconds(run_engine(build_step_graph(s_, p_, cost, &draft.sample)).makespan) * passes_;
    if (!p_.training) return o;
    for (std::size_t st = 0; st < stage_ops_.size(); ++st) {
      const Bytes more = routed_activations(s_, p_, stage_ops_[st], draft.sample) - stage_activations_[st];
      const MemoryBreakdown& m = stage_memory_[st];
      o.memory_peak = std::max(o.memory_peak, m.peak() + more * m.in_flight_micro_batches);
    }
    return o;
  }

  // The steps' outcomes in sample order (this evaluation's of each), and the counts of all steps.
  RoutingEvaluation finish(const RoutingStatsSpec& stats, const std::vector<const StepOutcome*>& steps,
                           StepCounts counts) const {
    RoutingEvaluation out;
    out.stats = stats;
    out.seed = s_.run.seed;
    out.routing = rs_;
    double flops_done = 0, flops_wasted = 0, a2a_max = 0, a2a_mean = 0;
    std::vector<Seconds> times;
    Bytes memory_peak = memory_peak_;
    for (const StepOutcome* o : steps) {
      times.push_back(o->time);
      flops_done += o->flops_done;
      flops_wasted += o->flops_wasted;
      a2a_max += o->a2a_max;
      a2a_mean += o->a2a_mean;
      memory_peak = std::max(memory_peak, o->memory_peak);
    }
    const double n = d(stats.samples);
    out.step_time = summarize_step_times(deterministic_, times);
    out.tokens_dropped_fraction = counts.pairs > 0 ? d(counts.dropped) / d(counts.pairs) : 0;
    std::vector<std::int64_t>& histogram = counts.histogram;
    while (histogram.size() > 2 && histogram.back() == 0) histogram.pop_back();
    for (std::size_t k = 0; k < histogram.size(); ++k) {
      const double f = d(histogram[k]) / d(counts.tokens_routed);
      out.experts_per_token.push_back(f);
      out.experts_per_token_mean += f * d(static_cast<std::int64_t>(k));
    }
    out.tokens_without_expert_fraction = out.experts_per_token.front();
    out.flops_done = Flops{flops_done / n};
    out.flops_wasted = Flops{flops_wasted / n};
    out.a2a_max = Bytes{a2a_max / n};
    out.a2a_mean = Bytes{a2a_mean / n};
    out.memory_peak = memory_peak;
    out.fits = memory_peak <= stage_memory_.front().hbm;
    return out;
  }

 private:
  void add_traffic(StepDraft& draft, std::int64_t layer, const std::vector<std::vector<std::int64_t>>& traffic) const {
    const TrafficStats ts = traffic_stats(traffic);
    const double row_bytes = d(s_.model.hidden) * kBf16Bytes;
    const auto st = static_cast<std::size_t>((layer / p_.layers_per_chunk) % p_.layout.pp);
    draft.stage_max[st] += ts.busiest_rows * row_bytes * exchanges_;
    draft.stage_mean[st] += ts.mean_rows * row_bytes * exchanges_;
  }

  Scenario s_;
  LayoutPlan p_;
  RoutingSpec rs_;
  double passes_ = 1, per_step_ = 0, exchanges_ = 0;
  Seconds deterministic_;
  bool expert_choice_ = false, ragged_ = false;
  Flops per_row_;
  std::vector<MemoryBreakdown> stage_memory_;
  std::vector<std::vector<ChunkOps>> stage_ops_;
  std::vector<Bytes> stage_activations_;
  Bytes memory_peak_;  // the deterministic step's, over the stages
};

// The evaluations of one comparison and the draws they share.
struct SharedDraws {
  const std::vector<Evaluation>& evals;
  const ModelSpec& model;
  std::uint64_t seed;
  const RoutingStatsSpec& stats;
  std::vector<std::int64_t> moe_layers;
  std::map<std::int64_t, std::vector<std::size_t>> token_choice;  // evaluations by top-k
};

// Sampled step `step` of every evaluation: the outcomes, and the counts added to `counts`.
std::vector<StepOutcome> draw_step(const SharedDraws& w, std::uint64_t step, const ComputeCostModel& cost,
                                   std::vector<StepCounts>& counts) {
  std::vector<StepDraft> drafts;
  for (const Evaluation& e : w.evals) drafts.push_back(e.begin_step());
  for (std::int64_t layer : w.moe_layers) {
    const auto l = static_cast<std::uint64_t>(layer);
    RandomStream share_rng(w.seed, {step, l, kSharesStream});
    const std::vector<double> shares = draw_expert_shares(w.stats, w.model.moe.experts, share_rng);
    for (std::size_t i = 0; i < w.evals.size(); ++i) {
      if (!w.evals[i].expert_choice()) continue;
      RandomStream rng(w.seed, {step, l, kRouteStream});
      w.evals[i].add_expert_choice(drafts[i], counts[i], layer, shares, rng);
    }
    for (const auto& [k, group] : w.token_choice) {
      const Evaluation& first = w.evals[group.front()];
      RandomStream rng(w.seed, {step, l, kRouteStream});
      const TokenChoices choices =
          draw_token_choices(shares, {first.ep(), first.tokens(), w.model.moe.experts, k, 0}, rng);
      for (std::size_t i : group) w.evals[i].add_token_choice(drafts[i], counts[i], layer, choices);
    }
  }
  std::vector<StepOutcome> out;
  for (std::size_t i = 0; i < w.evals.size(); ++i) out.push_back(w.evals[i].end_step(drafts[i], cost));
  return out;
}

std::vector<RoutingEvaluation> run_evaluations(const std::vector<Evaluation>& evals, const ModelSpec& m,
                                               std::uint64_t seed, const RoutingStatsSpec& stats,
                                               const ComputeCostModel& cost, const SamplingRun& run) {
  SharedDraws w{evals, m, seed, stats, {}, {}};
  for (std::int64_t l = 0; l < m.layers; ++l) {
    if (m.moe.is_moe_layer(l)) w.moe_layers.push_back(l);
  }
  for (std::size_t i = 0; i < evals.size(); ++i) {
    if (!evals[i].expert_choice()) w.token_choice[evals[i].routing().top_k].push_back(i);
  }
  // Each worker: its own cost model (not thread-safe) and counts, kept here to be summed after.
  struct Worker {
    ComputeCostModel cost;
    std::vector<StepCounts>* counts;
  };
  std::mutex workers_mutex;
  std::vector<std::unique_ptr<std::vector<StepCounts>>> worker_counts;
  const auto n = static_cast<std::size_t>(stats.samples);
  std::vector<std::vector<StepOutcome>> steps(n);
  parallel_for(
      n, run.threads, 1,
      [&] {
        auto counts = std::make_unique<std::vector<StepCounts>>(evals.size());
        Worker worker{cost.for_another_thread(), counts.get()};
        const std::lock_guard<std::mutex> lock(workers_mutex);
        worker_counts.push_back(std::move(counts));
        return worker;
      },
      [&](Worker& worker, std::size_t i) { steps[i] = draw_step(w, i, worker.cost, *worker.counts); },
      [&](std::size_t done) {
        if (run.progress) run.progress("routing", done, n);
      });
  std::vector<RoutingEvaluation> out;
  for (std::size_t e = 0; e < evals.size(); ++e) {
    StepCounts counts;
    for (const auto& c : worker_counts) counts.add((*c)[e]);
    std::vector<const StepOutcome*> outcomes;
    for (const auto& step : steps) outcomes.push_back(&step[e]);
    out.push_back(evals[e].finish(stats, outcomes, std::move(counts)));
  }
  return out;
}

}  // namespace

RoutingEvaluation evaluate_routing(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost,
                                   const RoutingStatsSpec& stats, const SamplingRun& run) {
  check_routing_stats(stats, s.model);
  std::vector<Evaluation> evals;
  evals.emplace_back(s, p, cost);
  return run_evaluations(evals, s.model, s.run.seed, stats, cost, run).front();
}

std::vector<RoutingEvaluation> evaluate_routings(const Scenario& s, const Layout& layout,
                                                 const std::vector<RoutingSpec>& routings,
                                                 const ComputeCostModel& cost, const RoutingStatsSpec& stats,
                                                 const SamplingRun& run) {
  check_routing_stats(stats, s.model);
  std::vector<Evaluation> evals;
  evals.reserve(routings.size());
  for (const RoutingSpec& r : routings) {
    Scenario sv = s;
    sv.model.moe.routing = r;
    LayoutPlan p = plan_layout(sv, layout, "/layout");
    evals.emplace_back(std::move(sv), std::move(p), cost);
  }
  return run_evaluations(evals, s.model, s.run.seed, stats, cost, run);
}

Json routing_spec_to_json(const RoutingSpec& r) {
  if (r.kind == RoutingKind::kExpertChoice) {
    return {{"kind", "expert_choice"}, {"capacity_factor", r.capacity_factor}, {"group_tokens", r.group_tokens}};
  }
  Json j = {{"kind", "token_choice"}, {"top_k", r.top_k}, {"dropless", r.dropless()}};
  if (!r.dropless()) j["capacity_factor"] = r.capacity_factor;
  return j;
}

Json routing_evaluation_to_json(const RoutingEvaluation& e) {
  return {{"routing", routing_spec_to_json(e.routing)},
          {"flops_done", e.flops_done.value},
          {"flops_wasted", e.flops_wasted.value},
          {"tokens_dropped_fraction", e.tokens_dropped_fraction},
          {"tokens_without_expert_fraction", e.tokens_without_expert_fraction},
          {"experts_per_token", {{"mean", e.experts_per_token_mean}, {"fractions", e.experts_per_token}}},
          {"a2a_bytes_per_rank", {{"max", e.a2a_max.value}, {"mean", e.a2a_mean.value}}},
          {"step_time_s",
           {{"deterministic", e.step_time.deterministic.value},
            {"mean", e.step_time.mean.value},
            {"p50", e.step_time.p50.value},
            {"p95", e.step_time.p95.value},
            {"p99", e.step_time.p99.value}}},
          {"memory_peak_bytes", e.memory_peak.value},
          {"fits", e.fits}};
}

}  // namespace ecsim
