# Sources of simulator/comm/ (collective cost models), added to ecsim_core.
target_sources(ecsim_core PRIVATE
  comm/collective.cpp
  comm/collective_check.cpp
  comm/collective_calibration.cpp
  comm/comm_constants.cpp
)
