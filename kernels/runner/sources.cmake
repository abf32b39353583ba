# The runner's sources that drive the device (kernels/README.md, "Runner"): built into ecsim_runner
# against the CUDA libraries (kernels/CMakeLists.txt), and into tests/emulation's emulated runner
# against the emulated device, so that both run the same code.
set(ecsim_runner_device_sources
  ${CMAKE_CURRENT_LIST_DIR}/device_memory.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_batch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_linear.cpp
  ${CMAKE_CURRENT_LIST_DIR}/op_timer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_block.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_block_expert_choice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_block_token_choice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/device_trainer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process_group.cpp
  ${CMAKE_CURRENT_LIST_DIR}/run_output.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runner.cpp
)
