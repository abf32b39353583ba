#include "runner/device_model.hpp"

#include <vector>

#include "cast.cuh"
#include "runner/param_layout.hpp"

namespace ecsim::runner {

DeviceModel::DeviceModel(const model_ref::ModelConfig& config, model_ref::ExpertRange stored, std::uint64_t seed,
                         model_ref::InitScheme scheme)
    : config_(config), layout_(device_param_layout(config, stored)) {
  const auto n = static_cast<std::size_t>(layout_.total);
  params_ = DeviceArray<__nv_bfloat16>(n);
  master_ = DeviceArray<float>(n);
  grads_ = DeviceArray<float>(n);
  m_ = DeviceArray<float>(n);
  v_ = DeviceArray<float>(n);
  {
    const std::vector<double> init = model_ref::init_params(layout_, seed, scheme);
    std::vector<float> master(init.begin(), init.end());
    master_.upload(master);
  }
  CUDA_CHECK(cudaMemset(grads_.get(), 0, grads_.bytes()));
  CUDA_CHECK(cudaMemset(m_.get(), 0, m_.bytes()));
  CUDA_CHECK(cudaMemset(v_.get(), 0, v_.bytes()));
  cast_fp32_to_bf16(master_.get(), params_.get(), layout_.total, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace ecsim::runner
