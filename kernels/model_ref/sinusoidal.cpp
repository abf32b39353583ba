#include "model_ref/sinusoidal.hpp"

#include <cmath>

namespace ecsim::model_ref {

std::vector<double> timestep_features(std::span<const double> t, std::int64_t dim) {
  const std::int64_t half = dim / 2;
  std::vector<double> f(t.size() * static_cast<std::size_t>(dim));
  for (std::size_t b = 0; b < t.size(); ++b) {
    for (std::int64_t i = 0; i < half; ++i) {
      const double freq = std::exp(-std::log(10000.0) * static_cast<double>(i) / static_cast<double>(half));
      const double arg = 1000.0 * t[b] * freq;
      f[b * dim + i] = std::cos(arg);
      f[b * dim + half + i] = std::sin(arg);
    }
  }
  return f;
}

std::vector<double> position_table(std::int64_t grid, std::int64_t hidden) {
  const std::int64_t quarter = hidden / 4;
  std::vector<double> table(static_cast<std::size_t>(grid * grid * hidden));
  for (std::int64_t row = 0; row < grid; ++row) {
    for (std::int64_t col = 0; col < grid; ++col) {
      double* p = table.data() + (row * grid + col) * hidden;
      for (std::int64_t i = 0; i < quarter; ++i) {
        const double w = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(quarter));
        p[i] = std::sin(static_cast<double>(col) * w);
        p[quarter + i] = std::cos(static_cast<double>(col) * w);
        p[2 * quarter + i] = std::sin(static_cast<double>(row) * w);
        p[3 * quarter + i] = std::cos(static_cast<double>(row) * w);
      }
    }
  }
  return table;
}

}  // namespace ecsim::model_ref
