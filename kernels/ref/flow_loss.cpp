#include "ref/flow_loss.hpp"

#include "ref/tensor.hpp"

namespace ecsim::ref {

double flow_loss(std::span<const double> pred, std::span<const double> target) {
  require(!pred.empty(), "flow_loss: no elements");
  require_size(target, static_cast<std::int64_t>(pred.size()), "flow_loss", "target");
  double sum = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) sum += (pred[i] - target[i]) * (pred[i] - target[i]);
  return sum / static_cast<double>(pred.size());
}

std::vector<double> flow_loss_bwd(std::span<const double> pred, std::span<const double> target, double dloss) {
  require(!pred.empty(), "flow_loss_bwd: no elements");
  require_size(target, static_cast<std::int64_t>(pred.size()), "flow_loss_bwd", "target");
  const double factor = 2.0 * dloss / static_cast<double>(pred.size());
  std::vector<double> dpred(pred.size());
  for (std::size_t i = 0; i < pred.size(); ++i) dpred[i] = factor * (pred[i] - target[i]);
  return dpred;
}

}  // namespace ecsim::ref
