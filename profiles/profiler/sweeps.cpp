// Which kernel calls the profiler measures (sweeps.hpp). The full sweep walks the same layouts and
// sweeps as the analytic profile (simulator/cost/analytic_profile.cpp; keep the two in step), so
// that each measured entry has an analytic twin to compare with; entries predicted to run longer
// than a cap are left out: past it a matrix kernel runs at its ceiling and the simulator's
// roofline fallback, priced with the measured ceilings, is as good as a measurement.
#include "profiler/sweeps.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <tuple>

#include "core/errors.hpp"
#include "cost/analytic_model.hpp"
#include "cost/analytic_profile.hpp"
#include "model/model_ops.hpp"
#include "scenario/scenario.hpp"

namespace ecsim::profiler {
namespace {

struct SweepConstants {
  std::vector<const char*> model_files;  // empty: the whole EC-DiT family (load_ecdit_family)
  std::vector<std::int64_t> samples;     // images per micro-batch on one rank
  std::vector<std::int64_t> tensor_parallel;
  std::vector<std::int64_t> expert_parallel;
  std::vector<std::int64_t> local_experts;   // of a batched (uniform) expert GEMM
  std::vector<std::int64_t> ragged_experts;  // of a grouped (ragged) expert GEMM
  int row_octave_step;                       // tokens per expert 16 * 2^i, i += step, up to 16384
  std::vector<std::int64_t> seq_lens;        // attention sweeps
  std::vector<std::int64_t> attention_batches;
  int params_log2_step;                      // optimizer over 2^20..2^32 parameters
  double matrix_cap_ms;                      // per-entry caps on the predicted time
  double memory_cap_ms;
};

// Full: analytic_profile.cpp's constants. Quick: the smallest and the largest model, fewer
// expert-parallel and ragged-group counts, lower caps. Along the axes the simulator interpolates on
// (micro-batch images, tokens per expert, local experts, sequence length, attention batch) the
// quick sweep steps as finely as the full one: with micro-batches in powers of two, local experts
// 1/8/64, every other octave of tokens per expert and three sequence lengths, its shapes failed the
// leave-one-out bar even priced by the smooth analytic model (p90 20.8%; now 10.6%;
// tests/kernels/profiler_plan_test.cpp).
const SweepConstants& constants(SweepSize size) {
  static const SweepConstants full{
      {}, {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}, {1, 2, 4, 8}, {1, 2, 4, 8, 16, 32, 64},
      {1, 2, 4, 8, 16, 32, 64}, {2, 8, 32, 64}, 1, {128, 256, 512, 1024, 2048, 4096}, {1, 2, 4, 8, 16, 32, 64},
      1, 10.0, 50.0};
  static const SweepConstants quick{
      {"ecdit-xl-32e.json", "ecdit-m-64e.json"},
      {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64},
      {1, 2, 4, 8},
      {1, 8, 64},
      {1, 2, 4, 8, 16, 32, 64},
      {8, 64},
      1,
      {128, 256, 512, 1024, 2048, 4096},
      {1, 2, 4, 8, 16, 32, 64},
      2,
      4.0,
      20.0};
  return size == SweepSize::kFull ? full : quick;
}

// analytic_profile.cpp: tokens per expert from 16 to 16384, text tokens of the cross-attention,
// the most tokens one attention call holds, the optimizer's parameter range.
constexpr double kFirstRows = 16;
constexpr int kRowOctaves = 10;
constexpr std::int64_t kTextTokens = 128;
constexpr std::array<std::int64_t, 2> kHeadDims{64, 128};
constexpr std::int64_t kMaxAttentionTokens = 16384;
constexpr int kFirstParamsLog2 = 20;
constexpr int kLastParamsLog2 = 32;

bool is_matrix_family(const std::string& family) {
  return family == "gemm" || family == "batched_gemm" || family == "grouped_gemm";
}

// Measurement order within the layouts' shapes and within the sweeps': memory-bound families first
// (cheap), then the matrix families, attention last.
int family_rank(const std::string& op) {
  static const std::array<const char*, 6> order{"gemm",          "batched_gemm",  "grouped_gemm",
                                                "grouped_gemm_wgrad", "attention_fwd", "attention_bwd"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (op == order[i]) return static_cast<int>(i) + 1;
  }
  return 0;
}

std::string key_of(const KernelCall& c) {
  std::string key = c.op + "|" + c.dtype;
  for (const auto& [name, v] : c.shape) key += "|" + name + "=" + std::to_string(v);
  return key;
}

class CallCollector {
 public:
  CallCollector(const GpuSpec& gpu, const SweepConstants& k, const FamilyFilter& has_kernel,
                const FamilyFilter& selected, SweepPlan& plan)
      : gpu_(gpu), has_kernel_(has_kernel), selected_(selected), plan_(plan) {
    plan_.matrix_cap_ns = k.matrix_cap_ms * 1e6;
    plan_.memory_cap_ns = k.memory_cap_ms * 1e6;
  }

  void add_op(const Op& op) {
    for (KernelCall& c : forward_kernels(op)) add(std::move(c), KernelRole::kForward, op);
    const std::vector<KernelCall> backward = backward_kernels(op);
    for (std::size_t i = 0; i < backward.size(); ++i) {
      KernelRole role = KernelRole::kBackward;
      if (is_matrix_family(op.name)) {
        // kernel_calls.cpp lists dX (when the operator has an input gradient), then dW.
        const bool input_grad = i == 0 && op.bwd_input.value > 0 && backward[i].op != "grouped_gemm_wgrad";
        role = input_grad ? KernelRole::kInputGrad : KernelRole::kWeightGrad;
      }
      add(backward[i], role, op);
    }
  }

  // While set, the calls added are the shapes the model's own layouts run (not sweeps).
  void set_from_layouts(bool on) { from_layouts_ = on; }
  // After collecting: marks the planned calls whose key a layout produced (also when a sweep
  // added the key first).
  void mark_layout_calls() {
    for (PlannedCall& c : plan_.calls) c.from_layout = layout_keys_.count(key_of(c.call)) > 0;
  }

  void add_optimizer(double params) {
    Op op;
    op.name = "adamw";
    op.shape = {{"params", static_cast<std::int64_t>(params)}};
    add(optimizer_kernel(params), KernelRole::kForward, op);
  }

 private:
  void add(KernelCall c, KernelRole role, const Op& op) {
    if (from_layouts_) layout_keys_.insert(key_of(c));
    if (!seen_.insert(key_of(c)).second) return;  // first role wins: forward, then dX, then dW
    if (!selected_(c.op)) return;
    if (!has_kernel_(c.op)) {
      ++plan_.without_kernel[c.op];
      return;
    }
    const auto predicted = static_cast<double>(analytic_kernel_time(gpu_, c).value);
    const bool memory = kernel_class(c.op) == KernelClass::kMemory;
    if (predicted > (memory ? plan_.memory_cap_ns : plan_.matrix_cap_ns)) {
      ++plan_.over_cap[c.op];
      return;
    }
    plan_.calls.push_back({std::move(c), role, op.name, op.shape, predicted});
  }

  const GpuSpec& gpu_;
  const FamilyFilter& has_kernel_;
  const FamilyFilter& selected_;
  SweepPlan& plan_;
  std::set<std::string> seen_;
  bool from_layouts_ = false;
  std::set<std::string> layout_keys_;
};


std::int64_t local_heads(std::int64_t heads, std::int64_t tp) { return heads % tp == 0 ? heads / tp : 1; }

// One dense and one MoE block, the embedding and the head, under every layout of the sweep.
void add_layouts(const ModelSpec& m, const SweepConstants& k, CallCollector& calls) {
  for (const bool training : {true, false}) {
    for (const std::int64_t samples : k.samples) {
      for (const std::int64_t tp : k.tensor_parallel) {
        if (!tp_fits(m, tp)) continue;
        for (const std::int64_t ep : k.expert_parallel) {
          if (ep > 1 && (!m.moe.enabled() || m.moe.experts % ep != 0)) continue;
          OpContext ctx;
          ctx.samples = samples;
          ctx.training = training;
          ctx.tp = tp;
          ctx.ep = ep;
          for (const Op& op : swept_layout_ops(m, ctx)) calls.add_op(op);
        }
      }
    }
  }
}

// Expert FFN GEMMs fc1 [rows, f, d] and fc2 [rows, d, f] over tokens per expert and local experts.
void add_expert_sweeps(std::int64_t d, std::int64_t f, const SweepConstants& k, CallCollector& calls) {
  for (int i = 0; i <= kRowOctaves; i += k.row_octave_step) {
    const auto rows = static_cast<std::int64_t>(std::llround(kFirstRows * std::pow(2.0, i)));
    for (const std::int64_t e : k.local_experts) {
      calls.add_op(make_batched_gemm("sweep.fc1", Component::kExperts, e, rows, f, d, true));
      calls.add_op(make_batched_gemm("sweep.fc2", Component::kExperts, e, rows, d, f, true));
    }
    for (const std::int64_t e : k.ragged_experts) {
      const std::vector<std::int64_t> groups(static_cast<std::size_t>(e), rows);
      calls.add_op(make_grouped_gemm("sweep.fc1", Component::kExperts, groups, f, d, true));
      calls.add_op(make_grouped_gemm("sweep.fc2", Component::kExperts, groups, d, f, true));
    }
  }
}

// Self- and cross-attention at longer sequences and at head dim 128 (half as many heads).
void add_attention_sweeps(const ModelSpec& m, std::int64_t tp, const SweepConstants& k, CallCollector& calls) {
  for (const std::int64_t head_dim : kHeadDims) {
    const std::int64_t q_width = m.attention.heads * m.attention.head_dim;
    if (q_width % (head_dim * tp) != 0) continue;
    const std::int64_t heads = q_width / head_dim / tp;
    const std::int64_t per_head = std::max<std::int64_t>(1, head_dim / m.attention.head_dim);
    const std::int64_t kv = local_heads(std::max<std::int64_t>(1, m.attention.kv_heads / per_head), tp);
    const std::int64_t text_kv = local_heads(std::max<std::int64_t>(1, m.dit.cross_kv_heads / per_head), tp);
    for (const std::int64_t seq : k.seq_lens) {
      for (const std::int64_t batch : k.attention_batches) {
        if (batch * seq > kMaxAttentionTokens) continue;
        calls.add_op(
            make_attention("sweep.self", Component::kSelfAttention, batch, heads, kv, seq, seq, head_dim, false));
        calls.add_op(make_attention("sweep.cross", Component::kCrossAttention, batch, heads, text_kv, seq, kTextTokens,
                                    head_dim, false));
      }
    }
  }
}

std::vector<ModelSpec> load_models(const std::filesystem::path& models_dir, const SweepConstants& k) {
  std::error_code ec;
  if (!std::filesystem::is_directory(models_dir, ec)) {
    throw InputError("--models: folder '" + models_dir.string() +
                     "' does not exist; it holds the EC-DiT model files (scenarios/models/ of the repository): "
                     "run from the repository's root, or give --models DIR");
  }
  if (k.model_files.empty()) return load_ecdit_family(models_dir);
  std::vector<ModelSpec> models;
  for (const char* file : k.model_files) models.push_back(load_model_or_scenario(models_dir / file));
  return models;
}

}  // namespace

const char* role_name(KernelRole role) {
  switch (role) {
    case KernelRole::kForward: return "forward";
    case KernelRole::kInputGrad: return "dX";
    case KernelRole::kWeightGrad: return "dW";
    case KernelRole::kBackward: return "backward";
  }
  return "unknown";
}

SweepPlan plan_sweep(const std::filesystem::path& models_dir, SweepSize size, const GpuSpec& gpu,
                     const FamilyFilter& has_kernel, const FamilyFilter& selected) {
  const SweepConstants& k = constants(size);
  SweepPlan plan;
  CallCollector calls(gpu, k, has_kernel, selected, plan);
  std::set<std::pair<std::int64_t, std::int64_t>> expert_shapes;                    // (d, f/tp) swept
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> attention_shapes;  // (d, heads, tp)
  for (const ModelSpec& m : load_models(models_dir, k)) {
    calls.set_from_layouts(true);
    add_layouts(m, k, calls);
    calls.set_from_layouts(false);
    for (const std::int64_t tp : k.tensor_parallel) {
      if (!tp_fits(m, tp)) continue;
      if (expert_shapes.insert({m.hidden, m.ffn.width / tp}).second) add_expert_sweeps(m.hidden, m.ffn.width / tp, k, calls);
      if (attention_shapes.insert({m.hidden, m.attention.heads, tp}).second) add_attention_sweeps(m, tp, k, calls);
    }
  }
  // Every step's optimizer update is priced from this sweep: measured with the layouts' shapes.
  calls.set_from_layouts(true);
  for (int log2 = kFirstParamsLog2; log2 <= kLastParamsLog2; log2 += k.params_log2_step) {
    calls.add_optimizer(std::ldexp(1.0, log2));
  }
  calls.set_from_layouts(false);
  calls.mark_layout_calls();
  // The shapes real steps run first, so that a run cut by its time limit has those; within each
  // part, cheap families first and each family by predicted time.
  std::stable_sort(plan.calls.begin(), plan.calls.end(), [](const PlannedCall& a, const PlannedCall& b) {
    if (a.from_layout != b.from_layout) return a.from_layout;
    const int ra = family_rank(a.call.op), rb = family_rank(b.call.op);
    if (ra != rb) return ra < rb;
    if (a.call.op != b.call.op) return a.call.op < b.call.op;
    return a.predicted_ns < b.predicted_ns;
  });
  return plan;
}

double predicted_plan_seconds(const SweepPlan& plan, int runs_per_call) {
  double ns = 0;
  for (const PlannedCall& c : plan.calls) ns += c.predicted_ns * runs_per_call;
  return ns * 1e-9;
}

}  // namespace ecsim::profiler
