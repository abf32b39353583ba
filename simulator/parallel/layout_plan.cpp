#include "parallel/layout_plan.hpp"

#include <algorithm>

#include "model/accounting.hpp"
#include "model/model_ops.hpp"

namespace ecsim {
namespace {

// Raises the error at the layout key the constraint is about.
class LayoutChecker {
 public:
  LayoutChecker(std::string file, std::string source) : file_(std::move(file)), source_(std::move(source)) {}
  void require(bool ok, const std::string& key, const std::string& why) const {
    if (ok) return;
    if (source_ == "--layout") throw InputError("--layout: " + key + ": " + why);
    throw InputError(file_, source_ + "/" + key, why);
  }

 private:
  std::string file_;
  std::string source_;
};

std::string s(std::int64_t v) { return std::to_string(v); }

// Ranks of a group with stride `stride` in Megatron order, placed on nodes of `per_node` GPUs.
CommGroup strided_group(std::int64_t size, std::int64_t stride, std::int64_t per_node) {
  CommGroup g;
  g.ranks = size;
  // Members at rank distance `stride`: as many share a node as fit in it.
  const std::int64_t fit = stride >= per_node ? 1 : per_node / stride;
  g.ranks_per_node = std::max<std::int64_t>(1, std::min(size, fit));
  return g;
}

}  // namespace

LayoutPlan plan_layout(const Scenario& sc, const Layout& in, const std::string& layout_source) {
  if (!sc.cluster) throw InputError(sc.file.string(), "/", "missing required key 'cluster' (needed to simulate)");
  const ClusterSpec& c = *sc.cluster;
  const ModelSpec& m = sc.model;
  const LayoutChecker check(sc.file.string(), layout_source);
  LayoutPlan p;
  p.layout = in;
  p.gpus = c.gpus;
  p.training = sc.run.mode == RunMode::kTrain;
  Layout& l = p.layout;

  check.require(c.gpus % (l.tp * l.pp) == 0, "tp", "tp x pp = " + s(l.tp * l.pp) + " does not divide " + s(c.gpus) + " GPUs");
  if (l.dp == 0) l.dp = c.gpus / (l.tp * l.pp);
  check.require(l.dp * l.tp * l.pp == c.gpus, "dp",
                "dp x tp x pp = " + s(l.dp) + " x " + s(l.tp) + " x " + s(l.pp) + " = " + s(l.dp * l.tp * l.pp) +
                    ", not the cluster's " + s(c.gpus) + " GPUs");
  check.require(c.gpus_per_node % l.tp == 0, "tp",
                "tp " + s(l.tp) + " must divide the " + s(c.gpus_per_node) + " GPUs of a node (TP stays on NVLink)");
  check.require(m.attention.heads % l.tp == 0, "tp", "tp " + s(l.tp) + " does not divide " + s(m.attention.heads) + " heads");
  const std::int64_t kv = m.attention.kv_heads;
  check.require(kv % l.tp == 0 || l.tp % kv == 0, "tp",
                "tp " + s(l.tp) + " and " + s(kv) + " KV heads: one must divide the other");
  check.require(m.ffn.width % l.tp == 0, "tp", "tp " + s(l.tp) + " does not divide the FFN width " + s(m.ffn.width));

  if (m.moe.enabled()) {
    check.require(m.moe.experts % l.ep == 0, "ep", s(l.ep) + " does not divide " + s(m.moe.experts) + " experts");
    check.require(l.dp % l.ep == 0, "ep",
                  "ep " + s(l.ep) + " must divide dp " + s(l.dp) + " (expert-parallel groups are formed from data-parallel ranks)");
  } else {
    check.require(l.ep == 1, "ep", "ep " + s(l.ep) + " needs a model with experts");
  }

  check.require(m.layers % (l.pp * l.vpp) == 0, "pp",
                s(m.layers) + " layers do not divide into pp x vpp = " + s(l.pp) + " x " + s(l.vpp) + " stages");
  check.require(l.vpp == 1 || l.pp > 1, "vpp", "virtual stages (vpp " + s(l.vpp) + ") need pp > 1");
  check.require(!(l.zero == 3 && l.pp > 1), "zero", "ZeRO-3 (FSDP) with pipeline parallelism is not supported; use zero <= 2");
  p.layers_per_chunk = m.layers / (l.pp * l.vpp);

  const std::int64_t per_step = l.dp * l.mbs;
  check.require(sc.run.global_batch % per_step == 0, "mbs",
                "global batch " + s(sc.run.global_batch) + " is not a multiple of dp x mbs = " + s(l.dp) + " x " +
                    s(l.mbs) + " = " + s(per_step));
  p.micro_batches = sc.run.global_batch / per_step;
  check.require(l.vpp == 1 || p.micro_batches % l.pp == 0, "vpp",
                "interleaved 1F1B needs the micro-batch count (" + s(p.micro_batches) + ") to be a multiple of pp " + s(l.pp));

  p.tokens_per_micro_batch = l.mbs * m.tokens_per_sample(p.training);
  if (m.moe.enabled() && m.moe.routing.kind == RoutingKind::kExpertChoice) {
    const std::int64_t g = m.moe.routing.group_tokens;
    check.require(p.tokens_per_micro_batch % g == 0, "mbs",
                  "a micro-batch of " + s(l.mbs) + " samples x " + s(m.tokens_per_sample(p.training)) + " tokens = " +
                      s(p.tokens_per_micro_batch) + " tokens does not fill whole expert-choice routing groups of " + s(g) +
                      " (smallest mbs: " + s(samples_for_whole_groups(m, p.training)) + ")");
  }
  if (l.tp > 1) {
    check.require(p.tokens_per_micro_batch % l.tp == 0, "tp",
                  "sequence parallel splits the " + s(p.tokens_per_micro_batch) + " tokens of a micro-batch; tp " + s(l.tp) +
                      " does not divide them");
  }

  const std::int64_t per_node = c.gpus_per_node;
  p.tp_group = strided_group(l.tp, 1, per_node);
  p.dp_group = strided_group(l.dp, l.tp, per_node);
  p.ep_group = strided_group(l.ep, l.tp, per_node);
  p.expert_dp_group = strided_group(l.dp / l.ep, l.tp * l.ep, per_node);
  p.pp_group = strided_group(l.pp, l.tp * l.dp, per_node);
  return p;
}

LayoutPlan plan_layout(const Scenario& sc) {
  if (!sc.layout) throw InputError(sc.file.string(), "/", "missing required key 'layout' (or give --layout)");
  return plan_layout(sc, *sc.layout, "/layout");
}

}  // namespace ecsim
