// ecsim-run's work, behind main(): resolve the scenario (run_config.hpp), build the device model,
// draw the synthetic micro-batches, run warm-up and measured steps, check that the ops it timed are
// the planned ones (op_plan.hpp), print step times, losses and memory beside the simulator's
// estimate, and write the run JSON and trace (rank 0).
#pragma once

#include <ostream>

#include "runner/process_group.hpp"
#include "runner/run_config.hpp"

namespace ecsim::runner {

// Throws InputError for bad input, CudaError / CublasError / NcclError / RuntimeFailure otherwise.
void run(const RunOptions& options, ProcessGroup& group, std::ostream& out);

}  // namespace ecsim::runner
