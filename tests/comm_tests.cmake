# Test sources for simulator/comm/, added to ecsim_unit_tests (paths relative to tests/).
target_sources(ecsim_unit_tests PRIVATE
  unit/collective_test.cpp
  unit/collective_check_test.cpp
)
