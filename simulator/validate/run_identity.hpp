// Whether a measured run is of the scenario it is validated against: the same model (as
// model_to_json writes it, with the blocks that ran) and the same images per step. A run of another
// model or batch would be laid over the wrong prediction, operator by operator, and its errors
// would mean nothing.
#pragma once

#include "scenario/scenario.hpp"
#include "validate/measured_run.hpp"

namespace ecsim {

// `scenario` with its model sliced to the blocks that ran. Throws InputError naming the run file and
// the JSON path of the first difference, and both values; a run file that records neither (written
// before they were recorded) is not checked.
void require_run_of(const Scenario& scenario, const MeasuredRun& run);

}  // namespace ecsim
