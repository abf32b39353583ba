# Test sources for simulator/cost/, added to ecsim_unit_tests (paths relative to tests/).
target_sources(ecsim_unit_tests PRIVATE
  unit/compute_cost_test.cpp
  unit/analytic_profile_test.cpp
)
