#include "ref/gate_residual.hpp"

namespace ecsim::ref {

std::vector<double> gate_residual_fwd(const SampleRows& s, std::span<const double> x, std::span<const double> y,
                                      std::span<const double> gate) {
  s.validate("gate_residual_fwd");
  require_size(x, s.elements(), "gate_residual_fwd", "x");
  require_size(y, s.elements(), "gate_residual_fwd", "y");
  require_size(gate, s.vector_elements(), "gate_residual_fwd", "gate");
  std::vector<double> out(x.size());
  const std::int64_t d = s.hidden;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const auto gb = view(gate.data() + b * d, 1, d, d);  // [1, d]
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t off = (b * s.seq + t) * d;
      view(out.data() + off, 1, d, d) = view(x.data() + off, 1, d, d) + gb.cwiseProduct(view(y.data() + off, 1, d, d));
    }
  }
  return out;
}

GateResidualGrads gate_residual_bwd(const SampleRows& s, std::span<const double> y, std::span<const double> gate,
                                    std::span<const double> dout) {
  s.validate("gate_residual_bwd");
  require_size(y, s.elements(), "gate_residual_bwd", "y");
  require_size(gate, s.vector_elements(), "gate_residual_bwd", "gate");
  require_size(dout, s.elements(), "gate_residual_bwd", "dout");
  GateResidualGrads g{std::vector<double>(dout.begin(), dout.end()), std::vector<double>(dout.size()),
                      std::vector<double>(gate.size(), 0.0)};
  const std::int64_t d = s.hidden;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const auto gb = view(gate.data() + b * d, 1, d, d);  // [1, d]
    auto dgb = view(g.dgate.data() + b * d, 1, d, d);    // [1, d]
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t off = (b * s.seq + t) * d;
      const auto dor = view(dout.data() + off, 1, d, d);
      view(g.dy.data() + off, 1, d, d) = gb.cwiseProduct(dor);
      dgb += dor.cwiseProduct(view(y.data() + off, 1, d, d));
    }
  }
  return g;
}

}  // namespace ecsim::ref
