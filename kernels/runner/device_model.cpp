#include "runner/device_model.hpp"

#include <utility>
#include <vector>

#include "cast.cuh"
#include "runner/param_layout.hpp"

namespace ecsim::runner {

DeviceModel::DeviceModel(const model_ref::ModelConfig& config, model_ref::ExpertRange stored, std::uint64_t seed,
                         model_ref::InitScheme scheme, OptimizerStorage storage, GradientStorage grad_storage)
    : config_(config), layout_(device_param_layout(config, stored)), storage_(storage), grad_storage_(grad_storage) {
  const auto n = static_cast<std::size_t>(layout_.total);
  params_ = DeviceArray<__nv_bfloat16>(n);
  if (grad_storage_ == GradientStorage::kFp32) {
    grads_ = DeviceArray<float>(n);
  } else {
    grads16_ = DeviceArray<__nv_bfloat16>(n);
  }
  CUDA_CHECK(cudaMemset(grads().data(), 0, n * grads().element_bytes()));  // all-zero bits: 0 in fp32 and bf16
  {
    // The fp32 initial values: the masters, or (kBf16) a buffer freed once params are rounded from
    // it, before the moments are allocated (the allocator's peak holds no trace of it).
    DeviceArray<float> initial(n);
    const std::vector<double> init = model_ref::init_params(layout_, seed, scheme);
    initial.upload(std::vector<float>(init.begin(), init.end()));
    cast_fp32_to_bf16(initial.get(), params_.get(), layout_.total, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    if (storage_ == OptimizerStorage::kFp32Master) master_ = std::move(initial);
  }
  if (storage_ == OptimizerStorage::kFp32Master) {
    m_ = DeviceArray<float>(n);
    v_ = DeviceArray<float>(n);
    CUDA_CHECK(cudaMemset(m_.get(), 0, m_.bytes()));
    CUDA_CHECK(cudaMemset(v_.get(), 0, v_.bytes()));
  } else {
    m16_ = DeviceArray<__nv_bfloat16>(n);
    v16_ = DeviceArray<__nv_bfloat16>(n);
    CUDA_CHECK(cudaMemset(m16_.get(), 0, m16_.bytes()));  // bf16 zero is all-zero bits
    CUDA_CHECK(cudaMemset(v16_.get(), 0, v16_.bytes()));
  }
  CUDA_CHECK(cudaDeviceSynchronize());
}

void DeviceModel::adamw_step(const AdamWHyperparameters& h, std::int64_t step, cudaStream_t stream) const {
  grads().visit([&](const auto* g) {
    if (storage_ == OptimizerStorage::kFp32Master) {
      // Also writes the bf16 copy the next forward reads.
      ecsim::adamw_step(h, step, master_.get(), g, m_.get(), v_.get(), params_.get(), layout_.total, stream);
    } else {
      adamw_step_bf16(h, step, params_.get(), g, m16_.get(), v16_.get(), layout_.total, stream);
    }
  });
}

std::vector<float> DeviceModel::download_grads() const {
  if (grad_storage_ == GradientStorage::kFp32) return grads_.download();
  const std::vector<__nv_bfloat16> b = grads16_.download();
  std::vector<float> out(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) out[i] = __bfloat162float(b[i]);
  return out;
}

}  // namespace ecsim::runner
