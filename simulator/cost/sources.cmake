# Sources of simulator/cost/ (compute costs from profiles), added to ecsim_core.
target_sources(ecsim_core PRIVATE
  cost/profile_file.cpp
  cost/kernel_calls.cpp
  cost/analytic_model.cpp
  cost/interpolation.cpp
  cost/kernel_sweep.cpp
  cost/analytic_profile.cpp
  cost/host_cost.cpp
  cost/compute_cost.cpp
)
