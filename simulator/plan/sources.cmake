# Sources of simulator/plan/ (the layout planner behind `ecsim plan`), added to ecsim_core.
target_sources(ecsim_core PRIVATE
  plan/gpu_counts.cpp
  plan/enumerate.cpp
  plan/screen.cpp
  plan/planner.cpp
  plan/plan_output.cpp
)
