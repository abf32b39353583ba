#include "ref/attention.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "ref/tensor.hpp"

namespace ecsim::ref {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Scaled scores of one (sample, head) with the causal mask applied: [Sq, Skv].
RowMatrix masked_scores(const AttentionShape& s, const StridedView& q, const StridedView& k) {
  RowMatrix scores = s.scale() * (q * k.transpose());
  if (s.causal) {
    const std::int64_t shift = s.kv_len - s.q_len;
    for (std::int64_t i = 0; i < s.q_len; ++i) {
      for (std::int64_t j = i + shift + 1; j < s.kv_len; ++j) scores(i, j) = kNegInf;
    }
  }
  return scores;
}

}  // namespace

double AttentionShape::scale() const { return 1.0 / std::sqrt(static_cast<double>(head_dim)); }

void AttentionShape::validate(const char* op) const {
  const std::string name(op);
  require(batch > 0 && heads > 0 && kv_heads > 0 && q_len > 0 && kv_len > 0 && head_dim > 0,
          name + ": every dimension must be positive");
  require(heads % kv_heads == 0,
          name + ": kv_heads " + std::to_string(kv_heads) + " does not divide heads " + std::to_string(heads));
  require(!causal || kv_len >= q_len,
          name + ": causal attention needs kv_len " + std::to_string(kv_len) + " >= q_len " + std::to_string(q_len));
}

AttentionForward attention_fwd(const AttentionShape& s, std::span<const double> q, std::span<const double> k,
                               std::span<const double> v) {
  s.validate("attention_fwd");
  require_size(q, s.q_elements(), "attention_fwd", "q");
  require_size(k, s.kv_elements(), "attention_fwd", "k");
  require_size(v, s.kv_elements(), "attention_fwd", "v");
  const std::int64_t d = s.head_dim;
  const std::int64_t group = s.heads / s.kv_heads;
  const std::int64_t q_stride = s.heads * d;  // row stride of one head inside [S, H, D]
  const std::int64_t kv_stride = s.kv_heads * d;
  AttentionForward f{std::vector<double>(static_cast<std::size_t>(s.q_elements())),
                     std::vector<double>(static_cast<std::size_t>(s.lse_elements()))};
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::int64_t kvh = h / group;
      const auto qh = view(q.data() + (b * s.q_len * s.heads + h) * d, s.q_len, d, q_stride);          // [Sq, D]
      const auto kh = view(k.data() + (b * s.kv_len * s.kv_heads + kvh) * d, s.kv_len, d, kv_stride);  // [Skv, D]
      const auto vh = view(v.data() + (b * s.kv_len * s.kv_heads + kvh) * d, s.kv_len, d, kv_stride);  // [Skv, D]
      RowMatrix p = masked_scores(s, qh, kh);                                                          // [Sq, Skv]
      for (std::int64_t i = 0; i < s.q_len; ++i) {
        const double row_max = p.row(i).maxCoeff();
        p.row(i) = (p.row(i).array() - row_max).exp();
        const double sum = p.row(i).sum();
        p.row(i) /= sum;
        f.lse[static_cast<std::size_t>((b * s.heads + h) * s.q_len + i)] = row_max + std::log(sum);
      }
      view(f.out.data() + (b * s.q_len * s.heads + h) * d, s.q_len, d, q_stride) = p * vh;
    }
  }
  return f;
}

AttentionGrads attention_bwd(const AttentionShape& s, std::span<const double> q, std::span<const double> k,
                             std::span<const double> v, std::span<const double> out, std::span<const double> lse,
                             std::span<const double> dout) {
  s.validate("attention_bwd");
  require_size(q, s.q_elements(), "attention_bwd", "q");
  require_size(k, s.kv_elements(), "attention_bwd", "k");
  require_size(v, s.kv_elements(), "attention_bwd", "v");
  require_size(out, s.q_elements(), "attention_bwd", "out");
  require_size(lse, s.lse_elements(), "attention_bwd", "lse");
  require_size(dout, s.q_elements(), "attention_bwd", "dout");
  const std::int64_t d = s.head_dim;
  const std::int64_t group = s.heads / s.kv_heads;
  const std::int64_t q_stride = s.heads * d;
  const std::int64_t kv_stride = s.kv_heads * d;
  AttentionGrads g{std::vector<double>(static_cast<std::size_t>(s.q_elements())),
                   std::vector<double>(static_cast<std::size_t>(s.kv_elements())),
                   std::vector<double>(static_cast<std::size_t>(s.kv_elements()))};
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::int64_t kvh = h / group;
      const std::int64_t q_off = (b * s.q_len * s.heads + h) * d;
      const std::int64_t kv_off = (b * s.kv_len * s.kv_heads + kvh) * d;
      const auto qh = view(q.data() + q_off, s.q_len, d, q_stride);      // [Sq, D]
      const auto oh = view(out.data() + q_off, s.q_len, d, q_stride);    // [Sq, D]
      const auto doh = view(dout.data() + q_off, s.q_len, d, q_stride);  // [Sq, D]
      const auto kh = view(k.data() + kv_off, s.kv_len, d, kv_stride);   // [Skv, D]
      const auto vh = view(v.data() + kv_off, s.kv_len, d, kv_stride);   // [Skv, D]
      RowMatrix p = masked_scores(s, qh, kh);                            // [Sq, Skv]
      for (std::int64_t i = 0; i < s.q_len; ++i) {
        p.row(i) = (p.row(i).array() - lse[static_cast<std::size_t>((b * s.heads + h) * s.q_len + i)]).exp();
      }
      // dS = P * (dP - rowsum(dO * O)): the softmax Jacobian applied row by row.
      const Vector delta = (doh.array() * oh.array()).rowwise().sum();  // [Sq]
      const RowMatrix dp = doh * vh.transpose();                        // [Sq, Skv]
      const RowMatrix ds = p.array() * (dp.colwise() - delta).array();  // [Sq, Skv]
      view(g.dq.data() + q_off, s.q_len, d, q_stride) = s.scale() * (ds * kh);
      // The query heads of one group share K and V, so their gradients add.
      view(g.dk.data() + kv_off, s.kv_len, d, kv_stride) += s.scale() * (ds.transpose() * qh);
      view(g.dv.data() + kv_off, s.kv_len, d, kv_stride) += p.transpose() * doh;
    }
  }
  return g;
}

}  // namespace ecsim::ref
