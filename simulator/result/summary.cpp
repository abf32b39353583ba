#include <cstdio>
#include <ostream>

#include "result/outputs.hpp"

namespace ecsim {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pct(double part, double whole) { return whole > 0 ? fmt("%5.1f%%", 100 * part / whole) : "   -  "; }

}  // namespace

void print_summary(const SimulationResult& r, std::ostream& out) {
  const auto& sc = r.scenario;
  const auto& c = *sc.cluster;
  const bool train = r.plan.training;
  out << sc.name << "\n";
  out << "  model   " << sc.model.name << "\n";
  out << "  cluster " << c.name << ": " << c.gpus << " x " << c.gpu.name << "\n";
  out << "  layout  " << layout_to_string(r.plan.layout) << " (" << r.plan.micro_batches << " micro-batches of "
      << r.plan.layout.mbs << ")\n";
  out << "  costs   " << r.cost_description << "\n\n";

  if (train) {
    out << "step time            " << format_duration(r.step_time, 4) << "   (global batch " << sc.run.global_batch << ")\n";
  } else {
    out << "request batch time   " << format_duration(r.step_time, 4) << "   (" << sc.run.sampling_steps
        << " sampling steps x " << format_duration(r.pass_time, 4) << ", batch " << sc.run.global_batch << ")\n";
  }
  out << (sc.model.kind == ModelKind::kDit ? "images/s             " : "sequences/s          ") << fmt("%.1f", r.images_per_s)
      << "\n";
  out << "tokens/s             " << fmt("%.4g", r.tokens_per_s) << "\n";
  out << "model TFLOP/s / GPU  " << fmt("%.1f", r.model_tflops_per_gpu) << "   MFU " << fmt("%.1f%%", 100 * r.mfu)
      << " of " << format_flops_rate(c.gpu.peak_bf16, 4) << "\n\n";
  if (r.routing) {
    const auto& g = *r.routing;
    const auto& t = g.step_time;
    out << "routing loads        " << describe_routing_stats(g.stats) << ", seed " << g.seed << "\n";
    out << "  step time          deterministic " << format_duration(t.deterministic, 4) << "   mean "
        << format_duration(t.mean, 4) << "   p50 " << format_duration(t.p50, 4) << "   p95 "
        << format_duration(t.p95, 4) << "   p99 " << format_duration(t.p99, 4) << "\n";
    out << "  tokens             dropped " << fmt("%.2f%%", 100 * g.tokens_dropped_fraction) << " of (token, expert) pairs"
        << "   without an expert " << fmt("%.2f%%", 100 * g.tokens_without_expert_fraction) << "\n";
    // Expert choice can give a token up to E experts: the tail beyond 8 is one bucket.
    constexpr std::size_t kShown = 9;
    out << "  experts per token  mean " << fmt("%.3f", g.experts_per_token_mean) << "  ";
    double tail = 0;
    for (std::size_t k = 0; k < g.experts_per_token.size(); ++k) {
      if (k < kShown) {
        out << "  " << k << ": " << fmt("%.1f%%", 100 * g.experts_per_token[k]);
      } else {
        tail += g.experts_per_token[k];
      }
    }
    if (g.experts_per_token.size() > kShown) out << "  " << kShown << "+: " << fmt("%.1f%%", 100 * tail);
    out << "\n\n";
  }

  const double pass = r.pass_time.value;
  out << "time on the slowest rank (one " << (train ? "step" : "forward pass") << ")\n";
  out << "  compute            " << format_duration(r.compute, 4) << "  " << pct(r.compute.value, pass) << "\n";
  if (r.host_priced) {
    out << "    of which waiting for the host's launches " << format_duration(r.host_wait, 4) << "  "
        << pct(r.host_wait.value, pass) << " (the host issues for " << format_duration(r.host_issue, 4) << ")\n";
  }
  out << "  exposed comm       " << format_duration(r.exposed_comm, 4) << "  " << pct(r.exposed_comm.value, pass) << "\n";
  out << "  pipeline bubble    " << format_duration(r.bubble, 4) << "  " << pct(r.bubble.value, pass) << "\n\n";

  const auto& m = r.memory;
  out << "memory per GPU (stage " << m.stage << ")   " << format_bytes(m.peak(), 4) << " of " << format_bytes(m.hbm, 4)
      << (m.fits() ? "   fits" : "   DOES NOT FIT") << "\n";
  const std::pair<const char*, Bytes> parts[] = {{"params", m.params},           {"grads", m.grads},
                                                 {"optimizer", m.optimizer},     {"activations", m.activations},
                                                 {"comm buffers", m.comm_buffers}, {"workspace", m.workspace}};
  for (const auto& [name, b] : parts) {
    char line[96];
    std::snprintf(line, sizeof line, "  %-18s %10s\n", name, format_bytes(b, 4).c_str());
    out << line;
  }
  out << "\ncommunication per GPU per " << (train ? "step" : "pass") << "\n";
  for (int k = 0; k < kCollectiveKindCount; ++k) {
    const Bytes b = r.comm.bytes_by_kind[static_cast<std::size_t>(k)];
    if (b.value <= 0) continue;
    char line[128];
    std::snprintf(line, sizeof line, "  %-18s %10s   in flight %s\n", collective_name(static_cast<CollectiveKind>(k)),
                  format_bytes(b, 4).c_str(), format_duration(r.comm.busy_by_kind[static_cast<std::size_t>(k)], 4).c_str());
    out << line;
  }
  for (int t = 0; t < kTierCount; ++t) {
    const Bytes b = r.comm.bytes_by_tier[static_cast<std::size_t>(t)];
    char line[96];
    std::snprintf(line, sizeof line, "  on %-15s %10s\n", tier_name(static_cast<Tier>(t)), format_bytes(b, 4).c_str());
    out << line;
  }
  out << "\ncritical path: " << format_duration(r.critical_compute, 4) << " compute, "
      << format_duration(r.critical_comm, 4) << " communication; the largest parts:\n";
  for (const auto& e : r.critical_top) {
    char line[200];
    std::snprintf(line, sizeof line, "  %s  %-58s x%lld\n", pct(e.time.value, pass).c_str(), e.what.c_str(),
                  static_cast<long long>(e.count));
    out << line;
  }
  if (r.pricing.beyond_profile > 0) {
    out << "\nnote: " << r.pricing.beyond_profile << " kernel calls lie above the largest the profile measured "
        << "and were priced at its rate there\n";
  }
  if (r.pricing.below_profile > 0) {
    out << "\nnote: " << r.pricing.below_profile << " kernel calls lie below the smallest the profile measured "
        << "and were priced from it (at its efficiency; a memory-bound kernel along its first step)\n";
  }
  if (r.pricing.partly_outside()) {
    out << "\nnote: " << r.pricing.from_roofline << " kernel calls lie outside the profile and were priced by the "
        << "analytic roofline: " << describe_outside(r.pricing.outside) << "\n";
  }
}

}  // namespace ecsim
