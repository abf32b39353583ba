#include "runner/device_batch.hpp"

#include <span>
#include <vector>

#include "model_ref/sinusoidal.hpp"

namespace ecsim::runner {
namespace {

std::vector<__nv_bfloat16> to_bf16(std::span<const double> v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16(static_cast<float>(v[i]));
  return out;
}

DeviceArray<__nv_bfloat16> upload(std::span<const double> v) {
  DeviceArray<__nv_bfloat16> d(v.size());
  if (!v.empty()) d.upload(to_bf16(v));
  return d;
}

}  // namespace

DeviceBatch upload_batch(const model_ref::ModelConfig& c, const model_ref::FlowBatch& batch) {
  DeviceBatch b;
  b.images = batch.images;
  b.seq = batch.seq;
  b.x_t = upload(batch.x_t);
  b.velocity = upload(batch.velocity);
  b.text = upload(batch.text);
  b.time_features = upload(model_ref::timestep_features(batch.t, c.timestep_freq_dim));
  const std::vector<double> table = model_ref::position_table(c.grid(), c.hidden);  // [grid^2, d]
  const std::int64_t d = c.hidden;
  std::vector<double> rows(static_cast<std::size_t>(batch.images * batch.seq * d));  // [B S, d]
  for (std::size_t i = 0; i < batch.kept.size(); ++i) {
    for (std::int64_t j = 0; j < d; ++j) {
      rows[i * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)] =
          table[static_cast<std::size_t>(batch.kept[i] * d + j)];
    }
  }
  b.positions = upload(rows);
  return b;
}

}  // namespace ecsim::runner
