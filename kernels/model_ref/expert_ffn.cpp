#include "model_ref/expert_ffn.hpp"

#include "ref/gelu.hpp"
#include "ref/gemm.hpp"

namespace ecsim::model_ref {
namespace {

// Expert e's rows of y [sum rows, width] get bias[e] ([E, width]).
void add_expert_bias(std::span<double> y, std::span<const double> bias, std::span<const std::int64_t> rows,
                     std::int64_t width) {
  std::int64_t first = 0;
  for (std::size_t e = 0; e < rows.size(); ++e) {
    const auto b = static_cast<std::int64_t>(e) * width;
    for (std::int64_t r = first; r < first + rows[e]; ++r) {
      for (std::int64_t i = 0; i < width; ++i) y[r * width + i] += bias[b + i];
    }
    first += rows[e];
  }
}

// dbias[e] += column sums of expert e's rows of dy.
void add_expert_bias_grad(std::span<double> dbias, std::span<const double> dy, std::span<const std::int64_t> rows,
                          std::int64_t width) {
  std::int64_t first = 0;
  for (std::size_t e = 0; e < rows.size(); ++e) {
    const auto b = static_cast<std::int64_t>(e) * width;
    for (std::int64_t r = first; r < first + rows[e]; ++r) {
      for (std::int64_t i = 0; i < width; ++i) dbias[b + i] += dy[r * width + i];
    }
    first += rows[e];
  }
}

void add(std::span<double> to, std::span<const double> from) {
  for (std::size_t i = 0; i < to.size(); ++i) to[i] += from[i];
}

}  // namespace

ExpertFfnForward expert_ffn_fwd(const ExpertsRef& ex, std::span<const double> params,
                                std::span<const std::int64_t> rows, std::span<const double> xe, const char* gemm_op,
                                const Tracer& trace) {
  ExpertFfnForward f;
  trace(gemm_op, "moe.expert_fc1");
  f.u = ref::grouped_gemm(rows, ex.width, ex.hidden, xe, at(params, ex.fc1_weight));
  add_expert_bias(f.u, at(params, ex.fc1_bias), rows, ex.width);
  trace("gelu", "moe.expert_gelu");
  f.g = ref::gelu_fwd(f.u);
  trace(gemm_op, "moe.expert_fc2");
  f.ye = ref::grouped_gemm(rows, ex.hidden, ex.width, f.g, at(params, ex.fc2_weight));
  add_expert_bias(f.ye, at(params, ex.fc2_bias), rows, ex.hidden);
  return f;
}

std::vector<double> expert_ffn_bwd(const ExpertsRef& ex, std::span<const double> params,
                                   std::span<const std::int64_t> rows, std::span<const double> xe,
                                   const ExpertFfnForward& f, std::span<const double> dye, std::span<double> grads) {
  add_expert_bias_grad(at(grads, ex.fc2_bias), dye, rows, ex.hidden);
  const ref::GroupedGemmGrads d2 =
      ref::grouped_gemm_bwd(rows, ex.hidden, ex.width, f.g, at(params, ex.fc2_weight), dye);
  add(at(grads, ex.fc2_weight), d2.dw);
  const std::vector<double> du = ref::gelu_bwd(f.u, d2.dx);  // [rows, f]
  add_expert_bias_grad(at(grads, ex.fc1_bias), du, rows, ex.width);
  const ref::GroupedGemmGrads d1 =
      ref::grouped_gemm_bwd(rows, ex.width, ex.hidden, xe, at(params, ex.fc1_weight), du);
  add(at(grads, ex.fc1_weight), d1.dw);
  return d1.dx;
}

}  // namespace ecsim::model_ref
