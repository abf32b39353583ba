// CPU reference for the rectified-flow training loss (op name `flow_loss`): the mean squared error
// between the predicted velocity and the target velocity (noise - data), over all N elements:
//   loss = (1/N) sum_i (pred_i - target_i)^2,   dpred_i = dloss * 2 (pred_i - target_i) / N
#pragma once

#include <span>
#include <vector>

namespace ecsim::ref {

double flow_loss(std::span<const double> pred, std::span<const double> target);
std::vector<double> flow_loss_bwd(std::span<const double> pred, std::span<const double> target, double dloss = 1.0);

}  // namespace ecsim::ref
