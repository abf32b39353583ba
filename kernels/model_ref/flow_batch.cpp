#include "model_ref/flow_batch.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "precondition.hpp"

namespace ecsim::model_ref {
namespace {

// [C, H, W] -> [grid * grid, patch_dim] with values (pi, pj, channel)
std::vector<double> patchify(const ModelConfig& c, const double* latent) {
  const std::int64_t g = c.grid(), p = c.patch, ch = c.latent_channels, hw = c.latent_size;
  std::vector<double> tokens(static_cast<std::size_t>(c.tokens_per_image() * c.patch_dim()));
  for (std::int64_t row = 0; row < g; ++row) {
    for (std::int64_t col = 0; col < g; ++col) {
      double* out = tokens.data() + (row * g + col) * c.patch_dim();
      for (std::int64_t pi = 0; pi < p; ++pi) {
        for (std::int64_t pj = 0; pj < p; ++pj) {
          for (std::int64_t k = 0; k < ch; ++k) {
            out[(pi * p + pj) * ch + k] = latent[(k * hw + row * p + pi) * hw + col * p + pj];
          }
        }
      }
    }
  }
  return tokens;
}

}  // namespace

FlowBatch make_flow_batch(const ModelConfig& c, std::int64_t images, std::uint64_t seed) {
  c.validate();
  require(images > 0, "make_flow_batch: images must be positive");
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::int64_t all = c.tokens_per_image(), pd = c.patch_dim();
  const std::int64_t latent = c.latent_channels * c.latent_size * c.latent_size;
  FlowBatch batch;
  batch.images = images;
  batch.seq = c.kept_tokens();
  std::vector<double> x0(static_cast<std::size_t>(latent)), noise(x0.size()), x_t(x0.size()), v(x0.size());
  std::vector<std::int64_t> order(static_cast<std::size_t>(all));
  for (std::int64_t b = 0; b < images; ++b) {
    const double t = uniform(gen);
    batch.t.push_back(t);
    for (double& x : x0) x = normal(gen);
    for (double& x : noise) x = normal(gen);
    for (std::size_t i = 0; i < x0.size(); ++i) {
      x_t[i] = (1 - t) * x0[i] + t * noise[i];
      v[i] = noise[i] - x0[i];
    }
    const std::vector<double> xt_tokens = patchify(c, x_t.data()), v_tokens = patchify(c, v.data());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), gen);
    std::sort(order.begin(), order.begin() + batch.seq);
    for (std::int64_t s = 0; s < batch.seq; ++s) {
      const std::int64_t token = order[s];
      batch.kept.push_back(token);
      batch.x_t.insert(batch.x_t.end(), xt_tokens.begin() + token * pd, xt_tokens.begin() + (token + 1) * pd);
      batch.velocity.insert(batch.velocity.end(), v_tokens.begin() + token * pd, v_tokens.begin() + (token + 1) * pd);
    }
  }
  batch.text.resize(static_cast<std::size_t>(images * c.text_tokens * c.text_width));
  for (double& x : batch.text) x = normal(gen);
  return batch;
}

}  // namespace ecsim::model_ref
