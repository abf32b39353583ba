// Prediction laid over measurement: the run's configuration is simulated exactly (its scenario,
// layout and layer count), operators are matched by (pipeline stage of the rank, label, layer,
// micro-batch, pass) with the kernel family checked, and the errors are summed per operator kind
// and per step. Matched: compute tasks and the expert-parallel all-to-alls ("all_to_all" labelled
// "ep.dispatch" / "ep.combine"); other collectives are not timed per op by ecsim-run.
#pragma once

#include <string>
#include <vector>

#include "result/simulation.hpp"
#include "validate/block_times.hpp"
#include "validate/measured_run.hpp"

namespace ecsim {

struct KindError {
  std::string kind;  // "gemm (forward)", "attention_bwd (backward)"
  double predicted_s = 0;
  double measured_s = 0;
  std::int64_t count = 0;
  // The host's time inside these operators: the host lane's (0 where the profile prices none)
  // and the runner's (0 in a run file without host times).
  double predicted_host_s = 0;
  double measured_host_s = 0;
  double error() const { return measured_s > 0 ? predicted_s / measured_s - 1 : 0; }  // signed
};

struct StepError {
  std::int64_t step = 0;
  double predicted_s = 0;
  double measured_s = 0;
  double error() const { return predicted_s / measured_s - 1; }
};

struct Validation {
  std::string scenario_name;
  std::string run_file;
  std::string device;
  std::string layout;
  std::vector<KindError> per_kind;      // sorted by |predicted - measured|, largest first
  std::vector<StepError> steps;
  double mape = 0;                      // mean |error| over steps
  double predicted_step_s = 0;
  double measured_step_mean_s = 0;
  std::int64_t matched = 0, unmatched_measured = 0, unmatched_predicted = 0;
  // On the first measured rank: the step less the sum of its timed operators, predicted (the
  // matched tasks' sum) and measured (mean step): time the GPU spends between operators, e.g.
  // idle while the host enqueues the next kernels, which a step of short kernels is bound by.
  double predicted_between_ops_s = 0, measured_between_ops_s = 0;
  // That rank's host time inside its operators' scopes (0 in a run file without it), and between
  // them: the runner's own work from one scope's close to the next one's open (0 in a run file
  // without it, from before the second session of 2026-11-29).
  double host_in_ops_s = 0, host_between_ops_s = 0;
  // Where the profile has host times (host_priced): the simulated host's time issuing the same
  // rank's operators, each with its event pair as the runner times it, and how long the GPU
  // waited for it (inside the step).
  bool host_priced = false;
  double predicted_host_in_ops_s = 0, predicted_gpu_wait_for_host_s = 0;
  double predicted_peak_memory_bytes = 0, measured_peak_memory_bytes = 0;
  // The predicted peak in three parts: what the runner's allocator peak holds (the trained
  // parameters, gradients, optimizer states, activations), compared with the measured peak; the
  // model's frozen remainder (other_params: text encoder etc., bf16), which the runner does not
  // build; the CUDA context, workspaces and NCCL buffers, which its allocator does not count.
  double predicted_buffers_bytes = 0, predicted_frozen_bytes = 0, predicted_context_and_comm_bytes = 0;
  // One block's step per kind (block_times.hpp); empty unless one pipeline stage ran the model.
  std::vector<BlockTime> blocks;
  std::string cost_description;
  // Where the prediction's kernel prices came from; the calls a profile left to the roofline are
  // the first suspects where an operator kind disagrees.
  PricingStats pricing;
  // What makes the comparison less than it seems, printed and in the JSON (validate_command.cpp: a
  // measured profile made on another device than the one that ran).
  std::vector<std::string> warnings;
};

// Simulates the run's configuration of `s` and compares.
Validation validate_run(const Scenario& s, const MeasuredRun& run, const ComputeCostModel& cost);
Json validation_to_json(const Validation& v);
void print_validation(const Validation& v, std::ostream& out);

}  // namespace ecsim
