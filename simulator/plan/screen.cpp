#include "plan/screen.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "comm/collective_calibration.hpp"
#include "parallel/op_roles.hpp"
#include "parallel/stage_ops.hpp"

namespace ecsim {
namespace {

// One block (or the embedding / head) of one micro-batch on one rank, as priced operators:
// what does not depend on ZeRO, recomputation or the GPU count.
struct LayerOps {
  Seconds fwd, bwd;              // kernels (bwd writing the weights' gradients: a first micro-batch)
  Seconds bwd_add;               // the backward of a later micro-batch, adding to them
  Seconds recompute_selective;   // the elementwise forward kernels, rerun in backward
  int tp_gathers = 0;            // TP regions it opens (all-gather in forward, reduce-scatter in backward)
  int tp_scatters = 0;           // TP regions it closes (the reverse)
  std::vector<double> ep_rows;   // rows through each MoE dispatch or combine (an all-to-all each way)
  double dense = 0, expert = 0;  // parameters on this rank
};
using StageOps = std::vector<std::vector<LayerOps>>;  // per chunk, layers in order

using StageKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool>;
using CollectiveKey = std::tuple<int, double, std::int64_t, std::int64_t, std::int64_t>;

}  // namespace

struct ScreenMemo::Tables {
  std::map<StageKey, StageOps> stages;  // (mbs, tp, ep, pp, vpp, stage, training)
  std::map<CollectiveKey, Seconds> collectives;  // (kind, bytes, ranks, per node, cluster GPUs)
};

ScreenMemo::ScreenMemo() : tables_(std::make_unique<Tables>()) {}
ScreenMemo::~ScreenMemo() = default;
ScreenMemo::ScreenMemo(ScreenMemo&&) noexcept = default;
ScreenMemo& ScreenMemo::operator=(ScreenMemo&&) noexcept = default;

namespace {

// One block of one micro-batch with this layout's collectives and recomputation.
struct LayerCost {
  Seconds fwd_compute, bwd_compute;  // backward includes the recomputed forward kernels
  Seconds fwd_comm, bwd_comm;        // TP and EP collectives in the dependency chain
  Seconds gather;                    // its parameters' all-gather over the (expert) data-parallel group
  Seconds sync;                      // its gradients' reduction over the same groups
  Seconds fwd() const { return fwd_compute + fwd_comm; }
  Seconds bwd() const { return bwd_compute + bwd_comm; }
};

struct StageCost {
  std::vector<std::vector<LayerCost>> chunks;  // per virtual stage, layers in order
  Seconds compute, comm;                       // one micro-batch, all chunks
  Seconds optimizer;
  Seconds per_micro_batch() const { return compute + comm; }
  Seconds chunk_fwd(std::size_t c) const {
    Seconds t;
    for (const auto& l : chunks[c]) t += l.fwd();
    return t;
  }
  Seconds chunk_bwd(std::size_t c) const {
    Seconds t;
    for (const auto& l : chunks[c]) t += l.bwd();
    return t;
  }
};

class Screen {
 public:
  Screen(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost, ScreenMemo::Tables& memo)
      : s_(s), p_(p), cost_(cost), memo_(memo) {}

  ScreenEstimate estimate() {
    const std::int64_t pp = p_.layout.pp;
    std::vector<StageCost> stages;
    for (std::int64_t r = 0; r < pp; ++r) stages.push_back(stage_cost(r));
    std::size_t slowest = 0;
    for (std::size_t r = 1; r < stages.size(); ++r) {
      if (stages[r].per_micro_batch() + stages[r].optimizer > stages[slowest].per_micro_batch() + stages[slowest].optimizer) {
        slowest = r;
      }
    }
    const StageCost& st = stages[slowest];
    const double m = static_cast<double>(p_.micro_batches);
    ScreenEstimate e;
    e.compute = st.compute * m + st.optimizer;
    if (p_.layout.zero == 3) {
      e.exposed_comm = fsdp_exposed(st);
    } else {
      e.exposed_comm = st.comm * m + gather_stall(stages) + reduction_tail(stages) + pipeline_transfers();
      e.bubble = st.per_micro_batch() * (static_cast<double>(pp - 1) / static_cast<double>(p_.layout.vpp));
    }
    e.step_time = e.compute + e.exposed_comm + e.bubble;
    return e;
  }

 private:
  // Collective times alone (no bandwidth sharing): a layout asks for the same few sizes on every
  // layer, and layouts on the same GPU count share most of them.
  Seconds collective(CollectiveKind kind, Bytes buffer, const CommGroup& group) {
    if (group.ranks <= 1 || buffer.value <= 0) return {};
    const CollectiveKey key{static_cast<int>(kind), buffer.value, group.ranks, group.ranks_per_node, s_.cluster->gpus};
    const auto it = memo_.collectives.find(key);
    if (it != memo_.collectives.end()) return it->second;
    CollectivePlan planned = plan_collective(*s_.cluster, kind, buffer, group);
    if (const CollectiveCalibration* measured = cost_.collective_calibration()) {
      planned = measured->apply(std::move(planned), buffer, group);
    }
    const Seconds t = planned.time_alone();
    memo_.collectives.emplace(key, t);
    return t;
  }

  const StageOps& stage_ops(std::int64_t r) {
    const Layout& l = p_.layout;
    const StageKey key{l.mbs, l.tp, l.ep, l.pp, l.vpp, r, p_.training};
    const auto it = memo_.stages.find(key);
    if (it != memo_.stages.end()) return it->second;
    StageOps out;
    for (const ChunkOps& chunk : stage_chunks(s_.model, p_, r)) {
      std::vector<LayerOps> layers;
      // Each operator a task of the step builder's, after the launch gap (zero without a measured one).
      const Seconds gap = to_seconds(cost_.launch_gap());
      for (const auto& ops : chunk.layers) {
        LayerOps lo;
        Seconds host_fwd, host_bwd;  // the host lane's issue times (zero without host times)
        const Dtype grads = s_.run.optimizer.grads;
        for (const Op& op : ops) {
          const Seconds f = to_seconds(cost_.forward(op)) + gap;
          lo.fwd += f;
          lo.bwd += to_seconds(cost_.backward(op, WeightGrads::kWrite, grads)) + gap;
          lo.bwd_add += to_seconds(cost_.backward(op, WeightGrads::kAdd, grads)) + gap;
          if (cost_.prices_host()) {
            host_fwd += to_seconds(cost_.host_forward(op));
            host_bwd += to_seconds(cost_.host_backward(op, grads));
          }
          if (recomputed_by_selective(op)) lo.recompute_selective += f;
          lo.tp_gathers += starts_tp_region(op.label) ? 1 : 0;
          lo.tp_scatters += ends_tp_region(op.label) ? 1 : 0;
          if (op.is_comm_boundary) lo.ep_rows.push_back(static_cast<double>(op.shape.at("rows")));
          (op.sharding == ParamSharding::kExpertParallel ? lo.expert : lo.dense) += op.params;
        }
        // A layer whose kernels are shorter than the host's launches takes the host's time (the
        // step builder's host lane, per operator; here per layer, the host's lead carried inside it).
        lo.fwd = std::max(lo.fwd, host_fwd);
        lo.bwd = std::max(lo.bwd, host_bwd);
        lo.bwd_add = std::max(lo.bwd_add, host_bwd);
        layers.push_back(std::move(lo));
      }
      out.push_back(std::move(layers));
    }
    return memo_.stages.emplace(key, std::move(out)).first->second;
  }

  StageCost stage_cost(std::int64_t r) {
    const CommGroup& tp = p_.tp_group;
    const Bytes act{static_cast<double>(p_.tokens_per_micro_batch) * static_cast<double>(s_.model.hidden) * kBf16Bytes};
    // An all-gather before a TP region is a reduce-scatter in backward, and the reverse after it.
    const Seconds tp_gather = collective(CollectiveKind::kAllGather, act, tp);
    const Seconds tp_scatter = collective(CollectiveKind::kReduceScatter, act, tp);
    const Recompute rc = p_.layout.recompute;
    const CollectiveKind sync_kind = p_.layout.zero == 0 ? CollectiveKind::kAllReduce : CollectiveKind::kReduceScatter;
    const double grad_bytes = dtype_bytes(s_.run.optimizer.grads);
    StageCost st;
    double dense_total = 0, expert_total = 0;
    for (const auto& chunk : stage_ops(r)) {
      std::vector<LayerCost> layers;
      for (const LayerOps& lo : chunk) {
        LayerCost lc;
        lc.fwd_compute = lo.fwd;
        // A micro-batch's backward on average: the first writes the weights' gradients, the other
        // m - 1 add to them where later micro-batches add (op_roles.hpp), as the step builder has it.
        const double adding =
            later_micro_batches_add_grads(p_.layout) ? 1.0 - 1.0 / static_cast<double>(p_.micro_batches) : 0.0;
        const Seconds rerun = rc == Recompute::kFull        ? lo.fwd
                              : rc == Recompute::kSelective ? lo.recompute_selective
                                                            : Seconds{};
        lc.bwd_compute = lo.bwd + (lo.bwd_add - lo.bwd) * adding + rerun;
        lc.fwd_comm = tp_gather * lo.tp_gathers + tp_scatter * lo.tp_scatters;
        lc.bwd_comm = tp_scatter * lo.tp_gathers + tp_gather * lo.tp_scatters;
        for (const double rows : lo.ep_rows) {
          const Seconds t = collective(CollectiveKind::kAllToAll,
                                       Bytes{rows * static_cast<double>(s_.model.hidden) * kBf16Bytes}, p_.ep_group);
          lc.fwd_comm += t;
          lc.bwd_comm += t;
        }
        // Full recomputation reruns the forward with its collectives (the step builder's rule).
        if (rc == Recompute::kFull) lc.bwd_comm += lc.fwd_comm;
        lc.gather = collective(CollectiveKind::kAllGather, Bytes{lo.dense * kBf16Bytes}, p_.dp_group) +
                    collective(CollectiveKind::kAllGather, Bytes{lo.expert * kBf16Bytes}, p_.expert_dp_group);
        lc.sync = collective(sync_kind, Bytes{lo.dense * grad_bytes}, p_.dp_group) +
                  collective(sync_kind, Bytes{lo.expert * grad_bytes}, p_.expert_dp_group);
        st.compute += lc.fwd_compute + lc.bwd_compute;
        st.comm += lc.fwd_comm + lc.bwd_comm;
        dense_total += lo.dense;
        expert_total += lo.expert;
        layers.push_back(lc);
      }
      st.chunks.push_back(std::move(layers));
    }
    const bool sharded = p_.layout.zero >= 1;
    const double params = sharded ? dense_total / static_cast<double>(p_.dp_group.ranks) +
                                        expert_total / static_cast<double>(p_.expert_dp_group.ranks)
                                  : dense_total + expert_total;
    st.optimizer = to_seconds(cost_.optimizer_step(params, s_.run.optimizer) + cost_.launch_gap());
    return st;
  }

  // ZeRO-1/2: every layer's updated parameters are gathered in layer order from the start of the
  // step, and the first micro-batch's forward of a layer waits for its gather. Stage r's first
  // forward of chunk c starts after (c p + r) chunk forwards of the pipeline fill; the stall is
  // the largest lead of the gathers over that schedule (gathers and forwards are both in order).
  Seconds gather_stall(const std::vector<StageCost>& stages) const {
    if (p_.layout.zero < 1 || p_.layout.zero > 2) return {};
    const auto pp = static_cast<double>(p_.layout.pp);
    Seconds stall;
    for (std::size_t r = 0; r < stages.size(); ++r) {
      Seconds gathered;
      for (std::size_t c = 0; c < stages[r].chunks.size(); ++c) {
        Seconds reached = stages[r].chunk_fwd(c) * (static_cast<double>(c) * pp + static_cast<double>(r));
        for (const LayerCost& l : stages[r].chunks[c]) {
          gathered += l.gather;
          stall = std::max(stall, gathered - reached);
          reached += l.fwd();
        }
      }
    }
    return stall;
  }

  // ZeRO-0/1/2: gradients are reduced once, layer by layer, as the last micro-batch's backward
  // passes each layer; reductions run one after another, so what the remaining backward does not
  // cover is exposed at the end of the step. Interleaved 1F1B runs the last pp micro-batches'
  // backwards chunk by chunk (pipeline_schedule.cpp), so pp - 1 other backwards of each chunk
  // precede the last micro-batch's and hide reductions too. Stage r's last backward ends r chunk
  // backwards before the first stage's, which hides that much more.
  Seconds reduction_tail(const std::vector<StageCost>& stages) const {
    const auto others = static_cast<double>(std::min(p_.layout.pp, p_.micro_batches) - 1);
    Seconds tail;
    for (std::size_t r = 0; r < stages.size(); ++r) {
      Seconds done, free;
      for (std::size_t c = stages[r].chunks.size(); c-- > 0;) {
        if (p_.layout.vpp > 1) done += stages[r].chunk_bwd(c) * others;
        const auto& layers = stages[r].chunks[c];
        for (auto l = layers.rbegin(); l != layers.rend(); ++l) {
          done += l->bwd();
          free = std::max(free, done) + l->sync;
        }
      }
      const Seconds slack = stages[r].chunk_bwd(0) * static_cast<double>(r);
      tail = std::max(tail, free - done - slack);
    }
    return tail;
  }

  // Activations (and their gradients) cross every virtual-stage boundary once on the fill and
  // once on the drain; in the steady state the transfers overlap the other micro-batches' work.
  Seconds pipeline_transfers() {
    if (p_.layout.pp <= 1) return {};
    const Bytes boundary{static_cast<double>(p_.tokens_per_micro_batch) * static_cast<double>(s_.model.hidden) *
                         kBf16Bytes / static_cast<double>(p_.layout.tp)};
    const CommGroup pair{2, p_.pp_group.ranks_per_node > 1 ? 2 : 1};
    const double crossings = static_cast<double>(2 * (p_.layout.pp * p_.layout.vpp - 1));
    return collective(CollectiveKind::kSendRecv, boundary, pair) * crossings;
  }

  // ZeRO-3 (FSDP, no pipeline): each layer is gathered in forward and again in backward, at most
  // one layer ahead, so a gather hides behind the previous layer's compute and stalls by what it
  // exceeds it. In backward the gradients are reduce-scattered layer by layer at the same time
  // as the next gathers, through the same port: per layer the port carries both. The reduction
  // of the last layer of the step is exposed.
  Seconds fsdp_exposed(const StageCost& st) const {
    const auto& layers = st.chunks.front();
    Seconds stall;
    Seconds prev;
    for (const LayerCost& l : layers) {
      stall += std::max(Seconds{}, l.gather - prev);
      prev = l.fwd();
    }
    prev = {};
    for (auto l = layers.rbegin(); l != layers.rend(); ++l) {
      stall += std::max(Seconds{}, l->gather + l->sync - prev);
      prev = l->bwd();
    }
    const double m = static_cast<double>(p_.micro_batches);
    const Seconds last_sync = layers.empty() ? Seconds{} : layers.front().sync;
    return st.comm * m + stall * m + last_sync;
  }

  const Scenario& s_;
  const LayoutPlan& p_;
  const ComputeCostModel& cost_;
  ScreenMemo::Tables& memo_;
};

}  // namespace

ScreenEstimate screen_layout(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost, ScreenMemo& memo) {
  return Screen(s, p, cost, memo.tables()).estimate();
}

ScreenEstimate screen_layout(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost) {
  ScreenMemo memo;
  return screen_layout(s, p, cost, memo);
}

}  // namespace ecsim
