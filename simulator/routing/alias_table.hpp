// Draws from a fixed categorical distribution in O(1) per draw (Walker's alias method, built with
// Vose's numerically stable procedure: "A linear algorithm for generating random numbers with a
// given distribution", IEEE TSE 1991).
#pragma once

#include <cstdint>
#include <vector>

#include "routing/random_stream.hpp"

namespace ecsim {

class AliasTable {
 public:
  // `weights`: non-negative, at least one positive; need not sum to 1.
  explicit AliasTable(const std::vector<double>& weights);
  // One 64-bit draw: the high half picks the column by multiply-shift (each column's chance is
  // 1/n within 2^-32, far below any sampling noise here), the low half is the coin. Inline and
  // without a division: routing draws tens of millions of these.
  std::size_t draw(RandomStream& rng) const {
    const std::uint64_t r = rng.next();
    const auto column = static_cast<std::size_t>(((r >> 32) * static_cast<std::uint64_t>(prob_.size())) >> 32);
    const double coin = static_cast<double>(r & 0xFFFFFFFFULL) * 0x1.0p-32;
    return coin < prob_[column] ? column : alias_[column];
  }
  std::size_t size() const { return prob_.size(); }

 private:
  std::vector<double> prob_;        // [n] chance of keeping column i
  std::vector<std::size_t> alias_;  // [n] the other outcome of column i
};

}  // namespace ecsim
