#include "ref/adaln_layernorm.hpp"

#include <cmath>

namespace ecsim::ref {

AdaLnForward adaln_layernorm_fwd(const SampleRows& s, std::span<const double> x, std::span<const double> shift,
                                 std::span<const double> scale, double eps) {
  s.validate("adaln_layernorm_fwd");
  require(eps > 0, "adaln_layernorm_fwd: eps must be positive");
  require_size(x, s.elements(), "adaln_layernorm_fwd", "x");
  require_size(shift, s.vector_elements(), "adaln_layernorm_fwd", "shift");
  require_size(scale, s.vector_elements(), "adaln_layernorm_fwd", "scale");
  const std::int64_t d = s.hidden;
  AdaLnForward f{std::vector<double>(x.size()), std::vector<double>(static_cast<std::size_t>(s.batch * s.seq)),
                 std::vector<double>(static_cast<std::size_t>(s.batch * s.seq))};
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const auto sh = view(shift.data() + b * d, 1, d, d);  // [1, d]
    const auto sc = view(scale.data() + b * d, 1, d, d);  // [1, d]
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t row = b * s.seq + t;
      const auto xr = view(x.data() + row * d, 1, d, d);  // [1, d]
      const double mean = xr.mean();
      const double var = (xr.array() - mean).square().mean();
      const double rstd = 1.0 / std::sqrt(var + eps);
      view(f.y.data() + row * d, 1, d, d).array() = (xr.array() - mean) * rstd * (1.0 + sc.array()) + sh.array();
      f.mean[static_cast<std::size_t>(row)] = mean;
      f.rstd[static_cast<std::size_t>(row)] = rstd;
    }
  }
  return f;
}

AdaLnGrads adaln_layernorm_bwd(const SampleRows& s, std::span<const double> x, std::span<const double> scale,
                               std::span<const double> mean, std::span<const double> rstd, std::span<const double> dy) {
  s.validate("adaln_layernorm_bwd");
  require_size(x, s.elements(), "adaln_layernorm_bwd", "x");
  require_size(scale, s.vector_elements(), "adaln_layernorm_bwd", "scale");
  require_size(mean, s.batch * s.seq, "adaln_layernorm_bwd", "mean");
  require_size(rstd, s.batch * s.seq, "adaln_layernorm_bwd", "rstd");
  require_size(dy, s.elements(), "adaln_layernorm_bwd", "dy");
  const std::int64_t d = s.hidden;
  AdaLnGrads g{std::vector<double>(x.size()), std::vector<double>(static_cast<std::size_t>(s.vector_elements()), 0.0),
               std::vector<double>(static_cast<std::size_t>(s.vector_elements()), 0.0)};
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const auto sc = view(scale.data() + b * d, 1, d, d);  // [1, d]
    auto dsh = view(g.dshift.data() + b * d, 1, d, d);    // [1, d]
    auto dsc = view(g.dscale.data() + b * d, 1, d, d);    // [1, d]
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t row = b * s.seq + t;
      const double r = rstd[static_cast<std::size_t>(row)];
      const Eigen::ArrayXXd xhat =
          (view(x.data() + row * d, 1, d, d).array() - mean[static_cast<std::size_t>(row)]) * r;
      const Eigen::ArrayXXd dyr = view(dy.data() + row * d, 1, d, d).array();  // [1, d]
      dsh.array() += dyr;
      dsc.array() += dyr * xhat;
      // With g = dy * (1 + scale), the LayerNorm backward: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
      const Eigen::ArrayXXd gx = dyr * (1.0 + sc.array());
      view(g.dx.data() + row * d, 1, d, d).array() = r * (gx - gx.mean() - xhat * (gx * xhat).mean());
    }
  }
  return g;
}

}  // namespace ecsim::ref
