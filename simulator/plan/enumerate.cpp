#include "plan/enumerate.hpp"

#include <cctype>

#include "model/accounting.hpp"

namespace ecsim {
namespace {

// Where plan_layout's messages say the layout came from; its errors then carry "/layout/<key>".
constexpr const char* kLayoutSource = "/layout";

constexpr Recompute kRecomputeModes[] = {Recompute::kNone, Recompute::kSelective, Recompute::kFull};

class Enumerator {
 public:
  explicit Enumerator(const Scenario& s) : s_(s) {}

  void consider(const Layout& l) {
    ++out_.enumerated;
    try {
      out_.valid.push_back(plan_layout(s_, l, kLayoutSource));
    } catch (const InputError& e) {
      ++out_.invalid_by_reason[rejection_reason(e)];
    }
  }

  Enumeration take() { return std::move(out_); }

 private:
  const Scenario& s_;
  Enumeration out_;
};

}  // namespace

std::vector<std::int64_t> divisors(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t d = 1; d <= n; ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

std::string rejection_reason(const InputError& e) {
  // what() is "<file>: /layout/<key>: <why>"; keep "<key>: <why>".
  std::string what = e.what();
  const std::string prefix = e.file() + ": " + e.path() + ": ";
  if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
  std::string key = e.path();
  if (key.rfind(std::string(kLayoutSource) + "/", 0) == 0) key = key.substr(std::string(kLayoutSource).size() + 1);
  std::string reason = key + ": ";
  // Numbers become N so that one reason groups every layout it rejects; digits inside words
  // ("1F1B", "ZeRO-3") stay, since they name things rather than count them.
  auto is_word = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t i = 0; i < what.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(what[i]))) {
      reason += what[i];
      continue;
    }
    std::size_t end = i;
    while (end + 1 < what.size() && std::isdigit(static_cast<unsigned char>(what[end + 1]))) ++end;
    const bool in_word = (i > 0 && is_word(what[i - 1])) || (end + 1 < what.size() && is_word(what[end + 1])) ||
                         (i > 0 && what[i - 1] == '-');
    reason += in_word ? what.substr(i, end - i + 1) : std::string("N");
    i = end;
  }
  return reason;
}

Enumeration enumerate_layouts(const Scenario& s) {
  if (!s.cluster) throw InputError(s.file.string(), "/", "missing required key 'cluster' (needed to plan)");
  const ClusterSpec& c = *s.cluster;
  const ModelSpec& m = s.model;
  const std::int64_t group_samples = samples_for_whole_groups(m, s.run.mode == RunMode::kTrain);
  const std::int64_t experts = m.moe.enabled() ? m.moe.experts : 1;
  Enumerator e(s);
  for (const std::int64_t tp : divisors(c.gpus_per_node)) {
    if (m.attention.heads % tp != 0) continue;
    for (const std::int64_t pp : divisors(m.layers)) {
      Layout l;
      l.tp = tp;
      l.pp = pp;
      if (c.gpus % (tp * pp) != 0) {
        l.mbs = group_samples;
        e.consider(l);
        continue;
      }
      const std::int64_t dp = c.gpus / (tp * pp);
      l.dp = dp;
      std::vector<std::int64_t> mbs_values;
      if (s.run.global_batch % dp == 0) {
        const std::int64_t per_rank = s.run.global_batch / dp;
        for (const std::int64_t mbs : divisors(per_rank)) {
          if (mbs % group_samples == 0) mbs_values.push_back(mbs);
        }
      }
      if (mbs_values.empty()) {
        l.mbs = group_samples;
        e.consider(l);
        continue;
      }
      const std::vector<std::int64_t> vpp_values = pp == 1 ? std::vector<std::int64_t>{1} : divisors(m.layers / pp);
      for (const std::int64_t vpp : vpp_values) {
        l.vpp = vpp;
        for (const std::int64_t ep : divisors(experts)) {
          if (dp % ep != 0) continue;
          l.ep = ep;
          for (const std::int64_t mbs : mbs_values) {
            l.mbs = mbs;
            for (int zero = 0; zero <= 3; ++zero) {
              l.zero = zero;
              for (const Recompute r : kRecomputeModes) {
                l.recompute = r;
                e.consider(l);
              }
            }
          }
        }
      }
    }
  }
  return e.take();
}

}  // namespace ecsim
