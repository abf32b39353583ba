#include "routing/alias_table.hpp"

#include "core/errors.hpp"

namespace ecsim {

AliasTable::AliasTable(const std::vector<double>& weights) : prob_(weights.size()), alias_(weights.size()) {
  const std::size_t n = weights.size();
  double sum = 0;
  for (double w : weights) {
    if (!(w >= 0)) throw RuntimeFailure("alias table: negative or NaN weight");
    sum += w;
  }
  if (n == 0 || !(sum > 0)) throw RuntimeFailure("alias table: needs a positive weight");
  // Scaled so that the average column holds 1; columns below 1 borrow from those above.
  std::vector<double> scaled(n);
  std::vector<std::size_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / sum;
    (scaled[i] < 1 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const std::size_t s = small.back();
    small.pop_back();
    const std::size_t l = large.back();
    prob_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left holds 1 up to rounding.
  for (std::size_t i : large) prob_[i] = 1, alias_[i] = i;
  for (std::size_t i : small) prob_[i] = 1, alias_[i] = i;
}

}  // namespace ecsim
