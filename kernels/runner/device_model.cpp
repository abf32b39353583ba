#include "runner/device_model.hpp"

#include <utility>
#include <vector>

#include "cast.cuh"
#include "runner/param_layout.hpp"

namespace ecsim::runner {

DeviceModel::DeviceModel(const model_ref::ModelConfig& config, model_ref::ExpertRange stored, std::uint64_t seed,
                         model_ref::InitScheme scheme, OptimizerStorage storage)
    : config_(config), layout_(device_param_layout(config, stored)), storage_(storage) {
  const auto n = static_cast<std::size_t>(layout_.total);
  params_ = DeviceArray<__nv_bfloat16>(n);
  grads_ = DeviceArray<float>(n);
  CUDA_CHECK(cudaMemset(grads_.get(), 0, grads_.bytes()));
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
  if (storage_ == OptimizerStorage::kFp32Master) {
    // Also writes the bf16 copy the next forward reads.
    ecsim::adamw_step(h, step, master_.get(), grads_.get(), m_.get(), v_.get(), params_.get(), layout_.total, stream);
  } else {
    adamw_step_bf16(h, step, params_.get(), grads_.get(), m16_.get(), v16_.get(), layout_.total, stream);
  }
}

}  // namespace ecsim::runner
