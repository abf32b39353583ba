// Routing statistics (simulator/routing/): the samplers against their closed forms, expert and
// token choice against what they must do by construction, seeds, the sampled step time, and
// `ecsim compare-routing` through the binary. Each statistical check states its tolerance: a
// number of standard errors of the sampled quantity, derived in the comment next to it.
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/progress_bar.hpp"
#include "engine/event_engine.hpp"
#include "engine/step_builder.hpp"
#include "routing/alias_table.hpp"
#include "routing/expert_choice_routing.hpp"
#include "routing/expert_shares.hpp"
#include "routing/random_stream.hpp"
#include "routing/routing_evaluation.hpp"
#include "routing/routing_variants.hpp"
#include "routing/step_time_distribution.hpp"
#include "routing/token_choice_routing.hpp"

using namespace ecsim;

namespace {

const std::filesystem::path kSource = ECSIM_SOURCE_DIR;

RoutingStatsSpec spec_of(LoadDistribution d, double parameter = 0, std::int64_t samples = 64) {
  RoutingStatsSpec s;
  s.distribution = d;
  if (d == LoadDistribution::kZipf) s.exponent = parameter;
  if (d == LoadDistribution::kDirichlet) s.concentration = parameter;
  s.samples = samples;
  return s;
}

// P[X > cap] weighted by the excess: E[max(0, X - cap)] for X ~ Binomial(n, p), summed in logs.
double expected_excess(std::int64_t n, double p, std::int64_t cap) {
  double sum = 0;
  for (std::int64_t x = cap + 1; x <= n; ++x) {
    const double log_pmf = std::lgamma(static_cast<double>(n + 1)) - std::lgamma(static_cast<double>(x + 1)) -
                           std::lgamma(static_cast<double>(n - x + 1)) + static_cast<double>(x) * std::log(p) +
                           static_cast<double>(n - x) * std::log1p(-p);
    sum += std::exp(log_pmf) * static_cast<double>(x - cap);
  }
  return sum;
}

// EC-DiT-XXL-32E on 256 H100 (ep = 32, one expert per rank) with top-2 dropless token choice:
// the routing whose sampled steps change the work, so each is simulated again.
Scenario xxl_top2_dropless() {
  Scenario s = load_scenario(kSource / "scenarios" / "ecdit-xxl-32e-train.json");
  s.model.moe.routing.kind = RoutingKind::kTokenChoice;
  s.model.moe.routing.top_k = 2;
  s.model.moe.routing.capacity_factor = 0;  // dropless
  return s;
}

// One hot expert holding `hot` of the first choices, the others sharing the rest equally.
std::vector<double> one_hot_shares(std::int64_t experts, double hot) {
  std::vector<double> s(static_cast<std::size_t>(experts), (1 - hot) / static_cast<double>(experts - 1));
  s[0] = hot;
  return s;
}

}  // namespace

TEST_CASE("random streams: same seed and keys give the same numbers, others differ") {
  RandomStream a(7, {1, 2, 3}), b(7, {1, 2, 3}), c(8, {1, 2, 3}), d(7, {2, 1, 3});
  bool all_same = true, c_differs = false, d_differs = false;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = a.next();
    all_same = all_same && x == b.next();
    c_differs = c_differs || x != c.next();
    d_differs = d_differs || x != d.next();
  }
  CHECK(all_same);
  CHECK(c_differs);
  CHECK(d_differs);
  // uniform() over 1e5 draws: mean 1/2 with standard error sqrt(1/12/1e5) = 9.1e-4; allow 5.
  RandomStream u(1, {});
  double sum = 0;
  for (int i = 0; i < 100000; ++i) sum += u.uniform();
  CHECK(std::abs(sum / 1e5 - 0.5) < 5 * 9.1e-4);
}

TEST_CASE("gamma draws match mean and variance (both = shape)") {
  // Gamma(k, 1): mean k, variance k. Over n = 40000 draws the mean's standard error is
  // sqrt(k/n); the sample variance's is about k*sqrt((2 + 6/k)/n). Allow 5 standard errors.
  for (double k : {0.3, 1.0, 4.0}) {
    CAPTURE(k);
    RandomStream rng(3, {static_cast<std::uint64_t>(k * 10)});
    const int n = 40000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
      const double x = std::exp(rng.log_gamma(k));
      sum += x;
      sq += x * x;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    CHECK(std::abs(mean - k) < 5 * std::sqrt(k / n));
    CHECK(std::abs(var - k) < 5 * k * std::sqrt((2 + 6 / k) / n));
  }
}

TEST_CASE("the alias table draws each outcome with its weight") {
  // Weights 1:2:3:0:4 over 1e5 draws: each frequency within 5 binomial standard errors; the zero
  // weight is never drawn.
  const std::vector<double> w{1, 2, 3, 0, 4};
  const AliasTable table(w);
  RandomStream rng(5, {});
  std::vector<int> count(w.size(), 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++count[table.draw(rng)];
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double p = w[i] / 10;
    CAPTURE(i);
    CHECK(std::abs(count[i] / static_cast<double>(n) - p) <= 5 * std::sqrt(p * (1 - p) / n));
  }
  CHECK(count[3] == 0);
}

TEST_CASE("Zipf shares follow i^-s and are only permuted between draws") {
  // share_i = i^-s / sum_j j^-s; E = 4, s = 1: H = 1 + 1/2 + 1/3 + 1/4 = 25/12, share_1 = 12/25.
  const auto z = zipf_shares(4, 1.0);
  CHECK(z[0] == doctest::Approx(12.0 / 25));
  CHECK(z[3] == doctest::Approx(3.0 / 25));
  const RoutingStatsSpec spec = spec_of(LoadDistribution::kZipf, 0.8);
  RandomStream rng(1, {});
  const auto expected = zipf_shares(32, 0.8);
  bool moved = false;
  for (int i = 0; i < 20; ++i) {
    auto s = draw_expert_shares(spec, 32, rng);
    moved = moved || s != expected;
    std::sort(s.begin(), s.end(), std::greater<>());
    for (std::size_t e = 0; e < s.size(); ++e) CHECK(s[e] == doctest::Approx(expected[e]).epsilon(1e-12));
  }
  CHECK(moved);  // the hot expert lands on different experts (ranks)
}

TEST_CASE("top-1 loads under Zipf match the shares") {
  // Top-1: a token picks expert e with probability share_e, so expert e's count over N tokens is
  // Binomial(N, share_e): within 5 standard errors sqrt(share(1-share)/N) of share_e * N.
  const auto shares = zipf_shares(32, 0.8);
  RandomStream rng(11, {});
  const TokenChoiceLayer t = route_token_choice(shares, {4, 50000, 32, 1, 0}, rng);
  const double n = 4 * 50000.0;
  for (std::int64_t e = 0; e < 32; ++e) {
    const double p = shares[static_cast<std::size_t>(e)];
    CAPTURE(e);
    CHECK(std::abs(static_cast<double>(t.computed_rows(e)) / n - p) <= 5 * std::sqrt(p * (1 - p) / n));
  }
  CHECK(t.dropped == 0);
  CHECK(t.kept() == t.computed_rows());
}

TEST_CASE("Dirichlet shares match the Dirichlet's mean and variance") {
  // Symmetric Dirichlet(alpha) over E experts: E[share] = 1/E, Var = (1/E)(1 - 1/E)/(E*alpha + 1).
  // Over n = 20000 draws, an expert's mean share has standard error sqrt(Var/n): allow 5. The
  // sample variance of a Beta-distributed share has a relative standard error of about
  // sqrt((kurtosis - 1)/n) < 3% here: allow 10%.
  const std::int64_t e = 32;
  for (double alpha : {0.3, 2.0}) {
    CAPTURE(alpha);
    const RoutingStatsSpec spec = spec_of(LoadDistribution::kDirichlet, alpha);
    RandomStream rng(17, {});
    const int n = 20000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
      const auto s = draw_expert_shares(spec, e, rng);
      CHECK(std::accumulate(s.begin(), s.end(), 0.0) == doctest::Approx(1.0));
      sum += s[5];
      sq += s[5] * s[5];
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    const double expected_var = (1.0 / e) * (1 - 1.0 / e) / (static_cast<double>(e) * alpha + 1);
    CHECK(std::abs(mean - 1.0 / e) < 5 * std::sqrt(expected_var / n));
    CHECK(var == doctest::Approx(expected_var).epsilon(0.10));
  }
}

TEST_CASE("uniform loads: no drops with room for the noise, binomial overflow at capacity factor 1") {
  // Uniform shares, top-2 of 32: each token takes 2 distinct experts, so an expert's count on one
  // rank is Binomial(T, 2/32) exactly (one Bernoulli per token). T = 1024: mean 64, sd 7.7.
  const std::vector<double> uniform(32, 1.0 / 32);
  RandomStream rng(23, {});
  // Capacity factor 2: capacity 128 is 8 standard deviations above the mean; nothing is dropped.
  const TokenChoiceLayer roomy = route_token_choice(uniform, {32, 1024, 32, 2, 128}, rng);
  CHECK(roomy.dropped == 0);
  CHECK(roomy.tokens_without_expert == 0);
  // Dropless: nothing dropped, and the padding-free rows are exactly the T*k pairs.
  const TokenChoiceLayer dropless = route_token_choice(uniform, {32, 1024, 32, 2, 0}, rng);
  CHECK(dropless.dropped == 0);
  CHECK(dropless.computed_rows() == 32 * 1024 * 2);
  // Capacity factor 1: capacity 64; dropped pairs per (rank, expert) are E[max(0, X - 64)] for
  // X ~ Bin(1024, 1/16), a fraction of the 64 pairs per expert that the binomial sum gives.
  // Over 4 draws of 32 ranks x 32 experts = 4096 counts, the standard error of the sampled
  // fraction is below sd(max(0, X-64))/64/sqrt(4096) < 7.7/64/64 = 0.0019: allow 0.01.
  double dropped = 0, pairs = 0;
  for (int draw = 0; draw < 4; ++draw) {
    const TokenChoiceLayer tight = route_token_choice(uniform, {32, 1024, 32, 2, 64}, rng);
    dropped += static_cast<double>(tight.dropped);
    pairs += static_cast<double>(tight.assignments);
  }
  const double expected = expected_excess(1024, 1.0 / 16, 64) / 64;
  const double got = dropped / pairs;
  MESSAGE("uniform loads, capacity factor 1: dropped " << got << ", binomial closed form " << expected);
  CHECK(std::abs(got - expected) < 0.01);
  CHECK(expected > 0.03);  // the check above is not vacuous
}

TEST_CASE("a known skew drops what it must") {
  // One hot expert with share h = 1/4 of the first choices, the 31 others q = 3/124 each, as a
  // histogram would give (counts 31 and 3 x 31). T = 65536 tokens per rank, 8 ranks.
  const std::int64_t e = 32, t = 65536, ranks = 8;
  const double h = 0.25, q = 0.75 / 31;
  const auto shares = one_hot_shares(e, h);
  SUBCASE("top-1, capacity factor 1.25") {
    // Capacity ceil(1.25 * T / E) = 2560 per rank. The hot expert receives Bin(T, h), mean 16384,
    // and keeps 2560; the others receive Bin(T, q), mean 1586 (sd 39), far below 2560. So the
    // dropped fraction of pairs is (hT - 2560)/T = h - 1.25/32 = 0.2109375. Its standard error
    // over 8 ranks is sqrt(h(1-h)/(8T)) = 6e-4: allow 0.003.
    RandomStream rng(29, {});
    const TokenChoiceLayer r = route_token_choice(shares, {ranks, t, e, 1, 2560}, rng);
    const double got = static_cast<double>(r.dropped) / static_cast<double>(r.assignments);
    CHECK(std::abs(got - (h - 1.25 / 32)) < 0.003);
    CHECK(r.computed_rows() == 2560 * ranks * e);  // padded: every expert computes its capacity
    // Top-1: a token whose choice is dropped has no expert, so the two fractions agree.
    CHECK(r.tokens_without_expert == r.dropped);
  }
  SUBCASE("top-2, capacity factor 1.0") {
    // Without replacement in proportion to the shares, the hot expert is in a token's top-2 with
    // probability P = h + sum_{j != hot} q * h/(1-q) = h + (1-h) h/(1-q) = 0.442149. Each other
    // expert: q + h q/(1-h) + (E-2) q^2/(1-q) = 0.050253 (and 0.442149 + 31 x 0.050253 = 2).
    // Capacity ceil(1.0 * 2T/E) = 4096: others (mean 3293, sd 56) stay below it, the hot expert
    // drops P*T - 4096 pairs of the 2T: (P - 1/16)/2 = 0.189824, standard error
    // sqrt(P(1-P)/(8T))/2 = 3.4e-4: allow 0.002.
    const double p_hot = h + (1 - h) * h / (1 - q);
    const double p_other = q + h * q / (1 - h) + static_cast<double>(e - 2) * q * q / (1 - q);
    CHECK(p_hot + static_cast<double>(e - 1) * p_other == doctest::Approx(2.0));
    RandomStream rng(31, {});
    const TokenChoiceLayer r = route_token_choice(shares, {ranks, t, e, 2, 4096}, rng);
    const double got = static_cast<double>(r.dropped) / static_cast<double>(r.assignments);
    MESSAGE("one hot expert (1/4), top-2, cf 1.0: dropped " << got << ", closed form " << (p_hot - 1.0 / 16) / 2);
    CHECK(std::abs(got - (p_hot - 1.0 / 16) / 2) < 0.002);
    // Only the hot expert overflows, and a token's two experts are distinct: whichever of them
    // is dropped, the other (never the hot one) is kept, so no token goes without an expert.
    CHECK(r.tokens_without_expert == 0);
  }
}

TEST_CASE("expert choice: every expert takes exactly C tokens of each group") {
  // G = 1024, E = 32, f_c = 2: C = 64 per expert; the tokens' expert counts add up to E*C, so
  // the mean experts per token is f_c exactly, however skewed the shares.
  for (const auto& shares : {std::vector<double>(32, 1.0 / 32), zipf_shares(32, 1.2), one_hot_shares(32, 0.5)}) {
    RandomStream rng(37, {});
    const ExpertChoiceGroup g = route_expert_choice_group(shares, 1024, 64, rng);
    for (std::int64_t n : g.per_expert) CHECK(n == 64);
    std::int64_t tokens = 0, pairs = 0;
    for (std::size_t k = 0; k < g.experts_per_token.size(); ++k) {
      tokens += g.experts_per_token[k];
      pairs += g.experts_per_token[k] * static_cast<std::int64_t>(k);
    }
    CHECK(tokens == 1024);
    CHECK(pairs == 32 * 64);
  }
  // Skew leaves more tokens without any expert: a token that strongly prefers the hot expert
  // has a low affinity to every other one.
  RandomStream a(41, {}), b(41, {});
  const auto flat = route_expert_choice_group(std::vector<double>(32, 1.0 / 32), 1024, 64, a);
  const auto skewed = route_expert_choice_group(one_hot_shares(32, 0.5), 1024, 64, b);
  MESSAGE("tokens without an expert: uniform " << flat.experts_per_token[0] << ", one hot expert "
                                               << skewed.experts_per_token[0] << " of 1024");
  CHECK(skewed.experts_per_token[0] > flat.experts_per_token[0]);
}

TEST_CASE("step-time percentiles interpolate between order statistics") {
  // Type 7 on 1..5 s: p50 = 3, p95 at rank 0.95*4 = 3.8 -> 4.8, p99 at 3.96 -> 4.96.
  std::vector<Seconds> v{{5}, {1}, {4}, {2}, {3}};
  const StepTimeDistribution d = summarize_step_times(Seconds{2.5}, v);
  CHECK(d.deterministic.value == 2.5);
  CHECK(d.mean.value == doctest::Approx(3));
  CHECK(d.p50.value == doctest::Approx(3));
  CHECK(d.p95.value == doctest::Approx(4.8));
  CHECK(d.p99.value == doctest::Approx(4.96));
}

TEST_CASE("a routing sample with uniform loads reproduces the deterministic step exactly") {
  // XXL-32E, top-2 dropless, ep = 32 (one expert per rank), T = 1024 tokens per rank: uniform
  // loads give every expert T*k/E = 64 rows from each of the 32 ranks (2048 rows), and every rank
  // sends 64 rows to every peer. Given as a sample (ragged GEMM rows and a per-peer all-to-all
  // plan), that must price exactly as the deterministic graph does.
  Scenario s = xxl_top2_dropless();
  const LayoutPlan p = plan_layout(s);
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  const Nanos deterministic = run_engine(build_step_graph(s, p, cost)).makespan;
  const double row = static_cast<double>(s.model.hidden) * kBf16Bytes;
  const std::vector<std::vector<Bytes>> matrix(32, std::vector<Bytes>(32, Bytes{64 * row}));
  RoutingSample sample;
  for (std::int64_t l = 0; l < s.model.layers; ++l) {
    if (s.model.moe.is_moe_layer(l)) sample[l] = {{64 * 32}, plan_alltoallv(*s.cluster, matrix, p.ep_group), Bytes{2048 * row}};
  }
  CHECK(sample.size() == 19);
  CHECK(run_engine(build_step_graph(s, p, cost, &sample)).makespan == deterministic);
  // One hot expert's rank with twice the rows is slower.
  for (auto& [layer, routed] : sample) routed.expert_rows = {2 * 64 * 32};
  CHECK(run_engine(build_step_graph(s, p, cost, &sample)).makespan > deterministic);
}

TEST_CASE("sampled steps report their progress once a step, in order, and the result does not depend on it") {
  const Scenario s = load_scenario(kSource / "scenarios" / "ecdit-xxl-32e-train.json");
  const LayoutPlan p = plan_layout(s);
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  const RoutingStatsSpec zipf = spec_of(LoadDistribution::kZipf, 0.8, 5);
  std::vector<std::size_t> done;
  const auto with = routing_evaluation_to_json(
      evaluate_routing(s, p, cost, zipf, {1, [&](const char* phase, std::size_t d, std::size_t total) {
                                            CHECK(std::string(phase) == "routing");
                                            CHECK(total == 5);
                                            done.push_back(d);
                                          }}));
  CHECK(done == std::vector<std::size_t>{1, 2, 3, 4, 5});
  CHECK(with == routing_evaluation_to_json(evaluate_routing(s, p, cost, zipf)));
}

TEST_CASE("sampled steps give the same results, bit for bit, on any number of worker threads") {
  // Dropless token choice: every sampled step is simulated again, on the workers' own cost models.
  Scenario s = xxl_top2_dropless();
  const LayoutPlan p = plan_layout(s);
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  const RoutingStatsSpec zipf = spec_of(LoadDistribution::kZipf, 0.8, 7);
  const Json one = routing_evaluation_to_json(evaluate_routing(s, p, cost, zipf, {1, {}}));
  std::mutex m;
  std::vector<std::size_t> done;
  const Progress count = [&](const char*, std::size_t d, std::size_t) {
    const std::lock_guard<std::mutex> lock(m);
    done.push_back(d);
  };
  const Json four = routing_evaluation_to_json(evaluate_routing(s, p, cost, zipf, {4, count}));
  CHECK(one.dump() == four.dump());
  std::sort(done.begin(), done.end());
  CHECK(done == std::vector<std::size_t>{1, 2, 3, 4, 5, 6, 7});
  // A comparison's variants share draws; each keeps its own totals whatever thread drew a step.
  std::vector<RoutingSpec> routings;
  const std::vector<ComparedRouting> variants = routing_variants(s.model, p.tokens_per_micro_batch);
  for (std::size_t i : {std::size_t{0}, std::size_t{2}, variants.size() - 1}) routings.push_back(variants[i].routing);
  Json serial, parallel;
  for (const auto& e : evaluate_routings(s, p.layout, routings, cost, zipf, {1, {}})) {
    serial.push_back(routing_evaluation_to_json(e));
  }
  for (const auto& e : evaluate_routings(s, p.layout, routings, cost, zipf, {3, {}})) {
    parallel.push_back(routing_evaluation_to_json(e));
  }
  CHECK(serial.dump() == parallel.dump());
  CHECK(serial[0] != serial[1]);
}

TEST_CASE("the terminal progress bar only moves forward, whatever order the workers report in") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  ProgressBar bar(out);
  bar("routing", 3, 5);
  bar("routing", 2, 5);  // a worker that finished earlier reports late
  bar("routing", 5, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the redraw interval
  bar("routing", 4, 5);  // after the phase's end
  bar("simulate", 1, 2);  // a new phase starts over
  std::rewind(out);
  std::string text;
  for (int c = std::fgetc(out); c != EOF; c = std::fgetc(out)) text += static_cast<char>(c);
  std::fclose(out);
  CHECK(text.find("3/5") != std::string::npos);
  CHECK(text.find("5/5\n") != std::string::npos);
  CHECK(text.find("2/5") == std::string::npos);
  CHECK(text.find("4/5") == std::string::npos);
  CHECK(text.substr(text.size() - 3) == "1/2");
}

TEST_CASE("sampled steps: same seed identical, another seed different, skew slows dropless token choice") {
  Scenario s = xxl_top2_dropless();
  const LayoutPlan p = plan_layout(s);
  const ComputeCostModel cost = ComputeCostModel::analytic(s.cluster->gpu);
  const RoutingStatsSpec zipf = spec_of(LoadDistribution::kZipf, 0.8, 8);
  const auto one = routing_evaluation_to_json(evaluate_routing(s, p, cost, zipf));
  const auto again = routing_evaluation_to_json(evaluate_routing(s, p, cost, zipf));
  s.run.seed = 2;
  const auto other = routing_evaluation_to_json(evaluate_routing(s, p, cost, zipf));
  CHECK(one == again);
  CHECK(one["step_time_s"] != other["step_time_s"]);
  const auto& t = one["step_time_s"];
  MESSAGE("XXL-32E top-2 dropless, Zipf 0.8: deterministic " << t["deterministic"] << " s, mean " << t["mean"]
                                                              << ", p99 " << t["p99"]);
  // The busiest rank computes more than the average one and its all-to-all is larger: every
  // sampled step is slower than the uniform estimate.
  CHECK(t["p50"].get<double>() > t["deterministic"].get<double>());
  CHECK(t["p50"].get<double>() <= t["p95"].get<double>());
  CHECK(t["p95"].get<double>() <= t["p99"].get<double>());
  CHECK(one["tokens_dropped_fraction"] == 0.0);
  CHECK(one["flops_wasted"] == 0.0);
  CHECK(one["a2a_bytes_per_rank"]["max"].get<double>() > one["a2a_bytes_per_rank"]["mean"].get<double>());
}

TEST_CASE("ecsim simulate prints and writes the step-time distribution when routing_stats is given") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_routing_simulate_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto scenario = dir / "xxl-zipf.json";
  // The XXL-32E training scenario with routing statistics added to its run.
  auto xxl = nlohmann::json::parse(read_text(kSource / "scenarios" / "ecdit-xxl-32e-train.json"));
  xxl["model"] = (kSource / "scenarios" / xxl["model"].get<std::string>()).string();
  xxl["cluster"] = (kSource / "scenarios" / xxl["cluster"].get<std::string>()).string();
  xxl["run"]["routing_stats"] = {{"distribution", "zipf"}, {"exponent", 0.8}, {"samples", 8}};
  std::ofstream(scenario) << xxl.dump(2);
  const auto json = dir / "r.json";
  const CliResult r = run_ecsim("simulate " + scenario.string() + " --json " + json.string());
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("routing loads        zipf (exponent 0.8), 8 sampled steps, seed 1") != std::string::npos);
  CHECK(r.output.find("p99") != std::string::npos);
  const auto j = nlohmann::json::parse(read_text(json));
  const auto& routing = j["routing"];
  CHECK(routing["distribution"]["distribution"] == "zipf");
  CHECK(routing["seed"] == 1);
  CHECK(routing["samples"] == 8);
  // Expert choice: balanced by construction, so every sampled step is the deterministic one.
  CHECK(routing["step_time_s"]["mean"] == routing["step_time_s"]["deterministic"]);
  CHECK(routing["step_time_s"]["deterministic"].get<double>() == doctest::Approx(j["step_time_s"].get<double>()));
  CHECK(routing["tokens_dropped_fraction"] == 0.0);
  CHECK(routing["tokens_without_expert_fraction"].get<double>() > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ecsim compare-routing on XXL-32E prints the table, expert choice drops and pads nothing") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_compare_routing_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto json = dir / "routing.json";
  const CliResult r =
      run_ecsim("compare-routing " + (kSource / "scenarios" / "ecdit-xxl-32e-train.json").string() + " --json " + json.string());
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  MESSAGE(r.output);
  for (const char* name : {"ec-fc1", "ec-fc2", "tc-top1-cf1.0", "tc-top2-cf1.25", "tc-top2-cf2.0", "tc-top2-dropless"}) {
    CHECK(r.output.find(name) != std::string::npos);
  }
  CHECK(r.output.find("equal activated compute") != std::string::npos);
  CHECK(r.output.find('#') != std::string::npos);  // the bar chart

  const auto j = nlohmann::json::parse(read_text(json));
  CHECK(j["schema"] == "ecsim.routing/1");
  CHECK(j["scenario"]["name"] == "EC-DiT-XXL-32E training on 256 H100");
  CHECK(j["layout"].is_string());
  CHECK(j["distribution"]["distribution"] == "zipf");
  CHECK(j["seed"] == 1);
  REQUIRE(j["variants"].size() == 10);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& v : j["variants"]) {
    by_name[v["name"]] = v;
    for (const char* key : {"flops_done", "flops_wasted", "tokens_dropped_fraction", "memory_peak_bytes"}) {
      CHECK(v.contains(key));
    }
    CHECK(v["a2a_bytes_per_rank"].contains("max"));
    CHECK(v["a2a_bytes_per_rank"].contains("mean"));
    for (const char* key : {"deterministic", "mean", "p50", "p95", "p99"}) CHECK(v["step_time_s"].contains(key));
  }
  for (const char* ec : {"ec-fc1", "ec-fc2"}) {
    const auto& v = by_name.at(ec);
    CHECK(v["routing"]["kind"] == "expert_choice");
    CHECK(v["tokens_dropped_fraction"] == 0.0);
    CHECK(v["flops_wasted"] == 0.0);
    CHECK(v["step_time_s"]["p99"] == v["step_time_s"]["deterministic"]);
  }
  // Equal activated compute: EC f_c=2 does the useful work of top-2 without drops, i.e. the
  // FLOPs of dropless top-2 (T*k rows either way).
  CHECK(by_name.at("ec-fc2")["flops_done"].get<double>() ==
        doctest::Approx(by_name.at("tc-top2-dropless")["flops_done"].get<double>()));
  // Capacity factor 1 under Zipf 0.8 drops and pads; dropless does neither.
  CHECK(by_name.at("tc-top2-cf1.0")["tokens_dropped_fraction"].get<double>() > 0);
  CHECK(by_name.at("tc-top2-cf1.0")["flops_wasted"].get<double>() > 0);
  CHECK(by_name.at("tc-top2-dropless")["tokens_dropped_fraction"] == 0.0);
  CHECK(by_name.at("tc-top2-dropless")["routing"]["dropless"] == true);
  CHECK_FALSE(by_name.at("tc-top2-dropless")["routing"].contains("capacity_factor"));
  std::filesystem::remove_all(dir);
}
