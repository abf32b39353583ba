#include "runner/param_layout.hpp"

#include <string>

#include "precondition.hpp"

namespace ecsim::runner {

model_ref::ParamLayout device_param_layout(const model_ref::ModelConfig& c, model_ref::ExpertRange stored) {
  model_ref::ParamLayout layout = model_ref::make_param_layout(c, stored);
  for (const model_ref::NamedTensor& t : layout.tensors) {
    require(t.ref.offset % kParamAlignElements == 0,
            "device_param_layout: " + t.name + " starts at element " + std::to_string(t.ref.offset) +
                ", not on a 16-byte boundary of the bf16 buffer");
  }
  return layout;
}

}  // namespace ecsim::runner
