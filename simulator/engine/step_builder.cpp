#include "engine/step_builder.hpp"

#include <map>
#include <set>
#include <tuple>

#include "comm/collective_calibration.hpp"
#include "engine/pipeline_schedule.hpp"
#include "parallel/op_roles.hpp"
#include "parallel/stage_ops.hpp"

namespace ecsim {
namespace {

// A collective attached to an operator: issued before or after its forward kernel; the backward
// mirrors it (an all-gather before the forward becomes a reduce-scatter after the backward).
struct CommHook {
  CollectiveKind kind;
  StreamKind stream;
  const CommGroup* group;
  Bytes buffer;
  std::string label;
  const CollectivePlan* fixed_plan = nullptr;  // a sampled routing's plan, used as is
};

CollectiveKind mirror(CollectiveKind k) {
  if (k == CollectiveKind::kAllGather) return CollectiveKind::kReduceScatter;
  if (k == CollectiveKind::kReduceScatter) return CollectiveKind::kAllGather;
  return k;
}

struct LayerParams {
  double dense = 0;
  double expert = 0;
};

class StepBuilder {
 public:
  StepBuilder(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost, const RoutingSample* routing)
      : s_(s), p_(p), cost_(cost), cluster_(*s.cluster), routing_(routing) {}

  TaskGraph build() {
    const std::int64_t pp = p_.layout.pp;
    for (std::int64_t r = 0; r < pp; ++r) {
      g_.rank_ids.push_back(r * p_.layout.dp * p_.layout.tp);
      g_.rank_stage.push_back(r);
      stages_.push_back(prepare_stage(r));
    }
    // Emit the stages' schedules interleaved so that every task's dependencies exist before it.
    std::vector<std::size_t> next(static_cast<std::size_t>(pp), 0);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::int64_t r = 0; r < pp; ++r) {
        auto& st = stages_[static_cast<std::size_t>(r)];
        auto& i = next[static_cast<std::size_t>(r)];
        while (i < st.schedule.size() && ready(r, st.schedule[i])) {
          emit(r, st.schedule[i]);
          ++i;
          progress = true;
        }
      }
    }
    for (std::int64_t r = 0; r < pp; ++r) {
      if (next[static_cast<std::size_t>(r)] != stages_[static_cast<std::size_t>(r)].schedule.size()) {
        throw RuntimeFailure("step builder: pipeline schedule of stage " + std::to_string(r) + " cannot proceed");
      }
      if (p_.training) emit_optimizer(r);
    }
    return std::move(g_);
  }

 private:
  struct OpEntry {
    std::int32_t op_index;
    Nanos fwd, bwd;  // bwd: writing the weights' gradients (a step's first micro-batch)
    Nanos bwd_add;   // adding to them (the later micro-batches)
    Nanos fwd_host, bwd_host;  // the host's time to issue them (Task::host)
    bool host_waits = false;   // the forward's host waits for it (dropless routing's row counts)
    std::vector<CommHook> before, after;
  };
  struct Layer {
    std::int64_t layer;
    std::vector<OpEntry> ops;
    LayerParams params;
  };
  struct Stage {
    std::vector<std::vector<Layer>> chunks;
    std::vector<ScheduleItem> schedule;
    std::vector<TaskId> grad_syncs;
    std::map<std::int64_t, TaskId> param_gather;  // ZeRO-1/2: per layer, at the start of the step
    std::set<std::int64_t> grads_written;         // chunks whose backward has run once this step
    TaskId last_compute = -1;
  };

  Stage prepare_stage(std::int64_t r) {
    Stage st;
    const Bytes act{static_cast<double>(p_.tokens_per_micro_batch) * static_cast<double>(s_.model.hidden) * kBf16Bytes};
    for (auto& chunk : stage_chunks(s_.model, p_, r)) {
      std::vector<Layer> layers;
      for (auto& ops : chunk.layers) {
        Layer layer;
        layer.layer = ops.empty() ? -1 : ops.front().layer;
        const LayerRouting* routed = nullptr;
        if (routing_ != nullptr && routing_->count(layer.layer)) {
          routed = &routing_->at(layer.layer);
          ops = routed_block_ops(s_.model, p_, layer.layer, *routed);
        }
        for (Op& op : ops) {
          OpEntry e;
          e.fwd = cost_.forward(op);
          const Dtype grads = s_.run.optimizer.grads;
          e.bwd = p_.training ? cost_.backward(op, WeightGrads::kWrite, grads) : Nanos{};
          const bool adds = p_.training && p_.micro_batches > 1 && later_micro_batches_add_grads(p_.layout);
          e.bwd_add = adds ? cost_.backward(op, WeightGrads::kAdd, grads) : e.bwd;
          e.fwd_host = cost_.host_forward(op);
          e.bwd_host = p_.training ? cost_.host_backward(op, grads) : Nanos{};
          e.host_waits = op.name == "tc_route" && s_.model.moe.routing.dropless();
          (op.sharding == ParamSharding::kExpertParallel ? layer.params.expert : layer.params.dense) += op.params;
          if (p_.layout.tp > 1 && starts_tp_region(op.label)) {
            e.before.push_back({CollectiveKind::kAllGather, StreamKind::kTp, &p_.tp_group, act, "tp.all_gather"});
          }
          if (p_.layout.tp > 1 && ends_tp_region(op.label)) {
            e.after.push_back({CollectiveKind::kReduceScatter, StreamKind::kTp, &p_.tp_group, act, "tp.reduce_scatter"});
          }
          if (p_.layout.ep > 1 && op.is_comm_boundary) {
            // What a rank sends: its rows of (token, expert) pairs, d wide in bf16.
            Bytes rows{static_cast<double>(op.shape.at("rows")) * static_cast<double>(s_.model.hidden) * kBf16Bytes};
            const CollectivePlan* fixed = routed && routed->all_to_all ? &*routed->all_to_all : nullptr;
            if (fixed != nullptr) rows = routed->all_to_all_bytes;
            if (op.name == "permute") {
              e.after.push_back({CollectiveKind::kAllToAll, StreamKind::kEp, &p_.ep_group, rows, "ep.dispatch", fixed});
            } else {
              e.before.push_back({CollectiveKind::kAllToAll, StreamKind::kEp, &p_.ep_group, rows, "ep.combine", fixed});
            }
          }
          g_.ops.push_back(std::move(op));
          e.op_index = static_cast<std::int32_t>(g_.ops.size() - 1);
          layer.ops.push_back(std::move(e));
        }
        layers.push_back(std::move(layer));
      }
      st.chunks.push_back(std::move(layers));
    }
    st.schedule = stage_schedule(p_.layout.pp, p_.layout.vpp, p_.micro_batches, r, p_.training);
    return st;
  }

  std::int64_t virtual_stage(std::int64_t r, std::int64_t chunk) const { return chunk * p_.layout.pp + r; }
  std::int64_t virtual_stages() const { return p_.layout.pp * p_.layout.vpp; }

  bool ready(std::int64_t r, const ScheduleItem& it) const {
    const std::int64_t vs = virtual_stage(r, it.chunk);
    if (it.forward) return vs == 0 || fwd_out_.count({vs - 1, it.micro_batch});
    return vs == virtual_stages() - 1 || bwd_out_.count({vs + 1, it.micro_batch});
  }

  std::int32_t plan(const CollectivePlan& fixed) {
    auto it = fixed_plan_index_.find(&fixed);
    if (it != fixed_plan_index_.end()) return it->second;
    g_.plans.push_back(fixed);
    const auto idx = static_cast<std::int32_t>(g_.plans.size() - 1);
    fixed_plan_index_.emplace(&fixed, idx);
    return idx;
  }

  std::int32_t plan(CollectiveKind kind, Bytes buffer, const CommGroup& group) {
    const auto key = std::make_tuple(static_cast<int>(kind), buffer.value, group.ranks, group.ranks_per_node);
    auto it = plan_cache_.find(key);
    if (it != plan_cache_.end()) return it->second;
    CollectivePlan planned = plan_collective(cluster_, kind, buffer, group);
    if (const CollectiveCalibration* measured = cost_.collective_calibration()) {
      planned = measured->apply(std::move(planned), buffer, group);
    }
    g_.plans.push_back(std::move(planned));
    const auto idx = static_cast<std::int32_t>(g_.plans.size() - 1);
    plan_cache_.emplace(key, idx);
    return idx;
  }

  TaskId comm(std::int64_t r, StreamKind stream, TaskPhase phase, CollectiveKind kind, Bytes buffer,
              const CommGroup& group, std::string label, std::int64_t layer, std::int64_t mb, std::vector<TaskId> deps,
              const CollectivePlan* fixed_plan = nullptr) {
    Task t;
    t.rank = static_cast<std::int32_t>(r);
    t.stream = stream;
    t.phase = phase;
    t.is_comm = true;
    t.plan = fixed_plan != nullptr ? plan(*fixed_plan) : plan(kind, buffer, group);
    t.name = collective_name(kind);
    t.label = std::move(label);
    t.layer = static_cast<std::int32_t>(layer);
    t.micro_batch = static_cast<std::int32_t>(mb);
    t.bytes = buffer;
    t.deps = std::move(deps);
    std::erase(t.deps, TaskId{-1});
    return g_.add(std::move(t));
  }

  // `adds_grads`: a backward that adds to the weights' gradients rather than writing them.
  TaskId compute(std::int64_t r, const OpEntry& e, TaskPhase phase, std::int64_t mb, std::int64_t chunk,
                 std::vector<TaskId> deps, bool adds_grads = false) {
    const Op& op = g_.ops[static_cast<std::size_t>(e.op_index)];
    Task t;
    t.rank = static_cast<std::int32_t>(r);
    t.phase = phase;
    t.op = e.op_index;
    t.name = phase == TaskPhase::kBackward ? (op.name == "attention_fwd" ? std::string("attention_bwd") : op.name + "_bwd")
                                           : op.name;
    if (phase == TaskPhase::kBackward && (op.name == "gemm" || op.name == "batched_gemm" || op.name == "grouped_gemm")) {
      t.name = op.name;  // a GEMM's backward is GEMMs
    }
    t.label = op.label;
    t.layer = static_cast<std::int32_t>(op.layer);
    t.micro_batch = static_cast<std::int32_t>(mb);
    t.chunk = static_cast<std::int32_t>(chunk);
    const bool bwd = phase == TaskPhase::kBackward;
    t.duration = bwd ? (adds_grads ? e.bwd_add : e.bwd) : e.fwd;
    t.lead_in = cost_.launch_gap();
    t.host = bwd ? e.bwd_host : e.fwd_host;
    t.host_waits = !bwd && e.host_waits;
    t.flops = bwd ? op.bwd_input + op.bwd_weight : op.fwd;
    t.bytes = bwd ? op.bwd_read + op.bwd_written : op.fwd_read + op.fwd_written;
    t.deps = std::move(deps);
    std::erase(t.deps, TaskId{-1});
    const TaskId id = g_.add(std::move(t));
    stages_[static_cast<std::size_t>(r)].last_compute = id;
    return id;
  }

  // Parameter bytes a layer's gather or reduction moves, for the dense and the expert part.
  void param_collectives(std::int64_t r, const Layer& layer, CollectiveKind kind, double bytes_per_param,
                         TaskPhase phase, std::int64_t mb, const std::vector<TaskId>& deps, std::vector<TaskId>& out) {
    const StreamKind stream = kind == CollectiveKind::kAllGather ? StreamKind::kDpGather : StreamKind::kDp;
    if (layer.params.dense > 0 && p_.dp_group.ranks > 1) {
      out.push_back(comm(r, stream, phase, kind, Bytes{layer.params.dense * bytes_per_param}, p_.dp_group,
                         std::string("dp.") + collective_name(kind), layer.layer, mb, deps));
    }
    if (layer.params.expert > 0 && p_.expert_dp_group.ranks > 1) {
      out.push_back(comm(r, stream, phase, kind, Bytes{layer.params.expert * bytes_per_param},
                         p_.expert_dp_group, std::string("edp.") + collective_name(kind), layer.layer, mb, deps));
    }
  }

  // FSDP: gather this layer's shards, at most one layer ahead of the compute (after the end of the
  // layer before the previous one in `layer_ends`); the gathers join `deps`.
  void fsdp_gather(std::int64_t r, const Layer& layer, std::int64_t mb, const std::vector<TaskId>& layer_ends,
                   std::vector<TaskId>& deps) {
    std::vector<TaskId> ids;
    const TaskId bound = layer_ends.size() >= 2 ? layer_ends[layer_ends.size() - 2] : -1;
    param_collectives(r, layer, CollectiveKind::kAllGather, kBf16Bytes, TaskPhase::kParamGather, mb, {bound}, ids);
    deps.insert(deps.end(), ids.begin(), ids.end());
  }

  // One op of a forward pass (or of its full recomputation) with the collectives around it; `deps`
  // becomes the last task, which is returned.
  TaskId forward_op(std::int64_t r, const OpEntry& e, TaskPhase phase, std::int64_t layer, const ScheduleItem& it,
                    std::vector<TaskId>& deps) {
    TaskId prev = -1;
    for (const CommHook& h : e.before) {
      prev = comm(r, h.stream, phase, h.kind, h.buffer, *h.group, h.label, layer, it.micro_batch, deps, h.fixed_plan);
      deps = {prev};
    }
    prev = compute(r, e, phase, it.micro_batch, it.chunk, deps);
    deps = {prev};
    for (const CommHook& h : e.after) {
      prev = comm(r, h.stream, phase, h.kind, h.buffer, *h.group, h.label, layer, it.micro_batch, deps, h.fixed_plan);
      deps = {prev};
    }
    return prev;
  }

  void emit(std::int64_t r, const ScheduleItem& it) {
    if (it.forward) {
      emit_forward(r, it);
    } else {
      emit_backward(r, it);
    }
  }

  void emit_forward(std::int64_t r, const ScheduleItem& it) {
    Stage& st = stages_[static_cast<std::size_t>(r)];
    const std::int64_t vs = virtual_stage(r, it.chunk);
    TaskId prev = vs == 0 ? -1 : fwd_out_.at({vs - 1, it.micro_batch});
    const int zero = p_.layout.zero;
    auto& layers = st.chunks[static_cast<std::size_t>(it.chunk)];
    if (p_.training && zero >= 1 && zero <= 2 && st.param_gather.empty()) {
      // The previous step's updated parameters are gathered while this step runs (Megatron's
      // overlapped parameter all-gather): one gather per layer, in layer order.
      for (const auto& chunk : st.chunks) {
        for (const Layer& layer : chunk) {
          std::vector<TaskId> ids;
          param_collectives(r, layer, CollectiveKind::kAllGather, kBf16Bytes, TaskPhase::kParamGather, -1, {}, ids);
          if (!ids.empty()) st.param_gather[layer.layer] = ids.back();
        }
      }
    }
    std::vector<TaskId> layer_ends;  // last compute task of each layer of this item (prefetch bound)
    for (const Layer& layer : layers) {
      std::vector<TaskId> deps{prev};
      if (it.micro_batch == 0 && st.param_gather.count(layer.layer)) deps.push_back(st.param_gather.at(layer.layer));
      if (zero == 3) fsdp_gather(r, layer, it.micro_batch, layer_ends, deps);
      for (const OpEntry& e : layer.ops) prev = forward_op(r, e, TaskPhase::kForward, layer.layer, it, deps);
      layer_ends.push_back(prev);
    }
    if (vs < virtual_stages() - 1) {
      fwd_out_[{vs, it.micro_batch}] =
          comm(r, StreamKind::kPp, TaskPhase::kPipeline, CollectiveKind::kSendRecv, boundary_bytes(), pair_group(),
               "pp.send_activations", -1, it.micro_batch, {prev});
    } else {
      fwd_out_[{vs, it.micro_batch}] = prev;
    }
  }

  void emit_backward(std::int64_t r, const ScheduleItem& it) {
    Stage& st = stages_[static_cast<std::size_t>(r)];
    const std::int64_t vs = virtual_stage(r, it.chunk);
    TaskId prev = vs == virtual_stages() - 1 ? fwd_out_.at({vs, it.micro_batch}) : bwd_out_.at({vs + 1, it.micro_batch});
    const int zero = p_.layout.zero;
    const bool last_mb = it.micro_batch == p_.micro_batches - 1;
    // The chunk's first backward of the step writes the weights' gradients, the later ones add
    // to them (op_roles.hpp).
    const bool adds_grads = !st.grads_written.insert(it.chunk).second && later_micro_batches_add_grads(p_.layout);
    auto& layers = st.chunks[static_cast<std::size_t>(it.chunk)];
    std::vector<TaskId> layer_ends;
    for (auto li = layers.rbegin(); li != layers.rend(); ++li) {
      const Layer& layer = *li;
      std::vector<TaskId> deps{prev};
      if (zero == 3) fsdp_gather(r, layer, it.micro_batch, layer_ends, deps);  // gathered again for the backward
      if (p_.layout.recompute == Recompute::kFull) {
        // The layer's forward again, its collectives included (TP all-gathers and reduce-scatters,
        // EP dispatch and combine): what they brought was not kept.
        for (const OpEntry& e : layer.ops) prev = forward_op(r, e, TaskPhase::kRecompute, layer.layer, it, deps);
      } else if (p_.layout.recompute == Recompute::kSelective) {
        // The elementwise kernels again, from the GEMMs' kept inputs: no collective is needed.
        for (const OpEntry& e : layer.ops) {
          if (!recomputed_by_selective(g_.ops[static_cast<std::size_t>(e.op_index)])) continue;
          prev = compute(r, e, TaskPhase::kRecompute, it.micro_batch, it.chunk, deps);
          deps = {prev};
        }
      }
      for (auto oi = layer.ops.rbegin(); oi != layer.ops.rend(); ++oi) {
        const OpEntry& e = *oi;
        for (auto h = e.after.rbegin(); h != e.after.rend(); ++h) {
          prev = comm(r, h->stream, TaskPhase::kBackward, mirror(h->kind), h->buffer, *h->group, h->label, layer.layer,
                      it.micro_batch, deps, h->fixed_plan);
          deps = {prev};
        }
        prev = compute(r, e, TaskPhase::kBackward, it.micro_batch, it.chunk, deps, adds_grads);
        deps = {prev};
        for (auto h = e.before.rbegin(); h != e.before.rend(); ++h) {
          prev = comm(r, h->stream, TaskPhase::kBackward, mirror(h->kind), h->buffer, *h->group, h->label, layer.layer,
                      it.micro_batch, deps, h->fixed_plan);
          deps = {prev};
        }
      }
      const double grad_bytes = dtype_bytes(s_.run.optimizer.grads);
      if (zero == 3) {
        param_collectives(r, layer, CollectiveKind::kReduceScatter, grad_bytes, TaskPhase::kGradSync, it.micro_batch,
                          {prev}, st.grad_syncs);
      } else if (last_mb) {
        // Gradients are accumulated over the micro-batches and reduced once, layer by layer,
        // while the backward of the earlier layers goes on.
        param_collectives(r, layer, zero == 0 ? CollectiveKind::kAllReduce : CollectiveKind::kReduceScatter, grad_bytes,
                          TaskPhase::kGradSync, it.micro_batch, {prev}, st.grad_syncs);
      }
      layer_ends.push_back(prev);
    }
    if (vs > 0) {
      bwd_out_[{vs, it.micro_batch}] =
          comm(r, StreamKind::kPp, TaskPhase::kPipeline, CollectiveKind::kSendRecv, boundary_bytes(), pair_group(),
               "pp.send_gradients", -1, it.micro_batch, {prev});
    }
  }

  void emit_optimizer(std::int64_t r) {
    Stage& st = stages_[static_cast<std::size_t>(r)];
    double dense = 0;
    double expert = 0;
    for (const auto& chunk : st.chunks) {
      for (const Layer& layer : chunk) {
        dense += layer.params.dense;
        expert += layer.params.expert;
      }
    }
    const bool sharded = p_.layout.zero >= 1;
    const double params = sharded ? dense / static_cast<double>(p_.dp_group.ranks) +
                                        expert / static_cast<double>(p_.expert_dp_group.ranks)
                                  : dense + expert;
    Task t;
    t.rank = static_cast<std::int32_t>(r);
    t.phase = TaskPhase::kOptimizer;
    t.name = s_.run.optimizer.kind == "adamw" ? "adamw" : "rmsprop_momentum";
    t.label = "optimizer.step";
    t.duration = cost_.optimizer_step(params, s_.run.optimizer);
    t.lead_in = cost_.launch_gap();
    t.host = cost_.host_optimizer(params, s_.run.optimizer);
    t.bytes = optimizer_kernel(params, s_.run.optimizer).bytes;  // kernel_calls.cpp: what the update moves
    t.deps = st.grad_syncs;
    t.deps.push_back(st.last_compute);
    std::erase(t.deps, TaskId{-1});
    st.last_compute = g_.add(std::move(t));
  }

  // Activations crossing a pipeline boundary: one micro-batch's tokens, d wide, 1/tp each under
  // sequence parallelism.
  Bytes boundary_bytes() const {
    return Bytes{static_cast<double>(p_.tokens_per_micro_batch) * static_cast<double>(s_.model.hidden) * kBf16Bytes /
                 static_cast<double>(p_.layout.tp)};
  }
  // Neighbouring stages: in one node only when a whole pipeline fits in it.
  CommGroup pair_group() const { return CommGroup{2, p_.pp_group.ranks_per_node > 1 ? 2 : 1}; }

  const Scenario& s_;
  const LayoutPlan& p_;
  const ComputeCostModel& cost_;
  const ClusterSpec& cluster_;
  const RoutingSample* routing_;
  TaskGraph g_;
  std::vector<Stage> stages_;
  std::map<std::pair<std::int64_t, std::int64_t>, TaskId> fwd_out_, bwd_out_;  // (virtual stage, micro-batch)
  std::map<std::tuple<int, double, std::int64_t, std::int64_t>, std::int32_t> plan_cache_;
  std::map<const CollectivePlan*, std::int32_t> fixed_plan_index_;
};

}  // namespace

TaskGraph build_step_graph(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost,
                           const RoutingSample* routing) {
  return StepBuilder(s, p, cost, routing).build();
}

}  // namespace ecsim
