#include "app/model_command.hpp"

#include <cstdio>
#include <ostream>

#include "core/atomic_file.hpp"
#include "model/accounting.hpp"
#include "model/model_ops.hpp"
#include "scenario/scenario.hpp"

namespace ecsim {
namespace {

std::string line(const char* fmt, const std::string& a, const std::string& b) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a.c_str(), b.c_str());
  return buf;
}

void print_summary(const ModelSpec& m, const ModelSummary& s, std::ostream& out) {
  out << "model " << m.name << " (" << (m.kind == ModelKind::kDit ? "diffusion transformer" : "language model")
      << "): d=" << m.hidden << ", " << m.layers << " layers, " << m.attention.heads << " heads / "
      << m.attention.kv_heads << " KV heads, head dim " << m.attention.head_dim << "\n";
  if (m.moe.enabled()) {
    const auto& r = m.moe.routing;
    out << "  MoE: " << m.moe.experts << " experts in " << m.moe_layers() << " of " << m.layers << " layers, ";
    if (r.kind == RoutingKind::kExpertChoice) {
      out << "expert choice, f_c=" << r.capacity_factor << ", group " << r.group_tokens
          << " tokens, C=" << expert_choice_capacity(m) << " per expert and group\n";
    } else {
      out << "token choice top-" << r.top_k << ", "
          << (r.dropless() ? std::string("dropless") : "capacity factor " + std::to_string(r.capacity_factor)) << "\n";
    }
  }
  out << "\nparameters\n";
  out << line("  %-18s %12s\n", "total", format_count(s.params_total));
  out << line("  %-18s %12s\n", "activated", format_count(s.params_activated));
  for (int c = 0; c < kComponentCount; ++c) {
    const double v = s.params_by_component[static_cast<std::size_t>(c)];
    if (v > 0) out << line("    %-16s %12s\n", component_name(static_cast<Component>(c)), format_count(v));
  }
  if (m.other_params > 0) out << "    (other: " << m.other_params_note << ")\n";
  const char* unit = m.kind == ModelKind::kDit ? "image" : "sequence";
  out << "\nper " << unit << "\n";
  out << line("  %-34s %14s\n", "tokens (train / infer)",
              std::to_string(s.tokens_train) + " / " + std::to_string(s.tokens_infer));
  out << line("  %-34s %14s\n", "train FLOPs (forward + backward)", format_flops(s.train_flops_per_sample, 4));
  out << line("  %-34s %14s\n", "  of which forward", format_flops(s.fwd_flops_train_per_sample, 4));
  out << line("  %-34s %14s\n", "inference FLOPs (forward)", format_flops(s.infer_flops_per_sample, 4));
  out << line("  %-34s %14s\n", "activations saved for backward", format_bytes(s.activation_bytes_per_sample, 4));
}

}  // namespace

void run_model_command(const ModelCommandOptions& opts, std::ostream& out) {
  const ModelSpec m = load_model_or_scenario(opts.input);
  const ModelSummary s = summarize_model(m);
  print_summary(m, s, out);
  if (!opts.json_out.empty()) {
    write_file_atomic(opts.json_out, summary_to_json(m, s).dump(2) + "\n");
    out << "\nwrote " << opts.json_out << "\n";
  }
}

}  // namespace ecsim
