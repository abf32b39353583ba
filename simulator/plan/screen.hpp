// The planner's fast screen: a closed-form estimate of one training step of a layout, from the
// same per-operator costs and collective plans the event engine uses, without building the task
// graph. It ranks thousands of layouts so that the engine need only simulate the best few.
//
//   step = m x t_stage                      micro-batches through the slowest stage
//        + (p - 1) / v x t_stage            pipeline fill and drain (interleaved: v virtual stages)
//        + gather stall + reduction tail    ZeRO parameter gathers and gradient reductions that
//                                           compute does not cover ("collective time - overlap")
//        + pipeline transfers on the fill/drain chain + optimizer step
//
// t_stage is one micro-batch's forward and backward on a stage: its kernels (with recomputation)
// plus its TP and EP collectives, which sit in the dependency chain and are never hidden.
// What it leaves out, and the engine has: bandwidth shared between overlapping collectives,
// stage imbalance beyond the slowest stage, the exact 1F1B order.
#pragma once

#include <memory>

#include "cost/compute_cost.hpp"
#include "parallel/layout_plan.hpp"

namespace ecsim {

struct ScreenEstimate {
  Seconds step_time;
  Seconds compute;       // kernels of the slowest stage, recomputation and optimizer included
  Seconds exposed_comm;  // collectives that compute does not cover
  Seconds bubble;        // pipeline fill and drain
};

// What the screen keeps between layouts: the priced operators of a stage, which depend on the
// micro-batch size, TP, EP and the pipeline split but not on ZeRO, recomputation or the GPU count
// (one entry serves a dozen layouts and more), and collective times. Valid for one model, one
// cluster kind (any GPU count) and one cost model; one per thread, like the cost model.
class ScreenMemo {
 public:
  ScreenMemo();
  ~ScreenMemo();
  ScreenMemo(ScreenMemo&&) noexcept;
  ScreenMemo& operator=(ScreenMemo&&) noexcept;
  struct Tables;
  Tables& tables() { return *tables_; }

 private:
  std::unique_ptr<Tables> tables_;
};

// Training layouts only (plan_layout'ed); `cost` and `memo` are not shared between threads.
ScreenEstimate screen_layout(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost, ScreenMemo& memo);
// Without a memo (one layout, or a test).
ScreenEstimate screen_layout(const Scenario& s, const LayoutPlan& p, const ComputeCostModel& cost);

}  // namespace ecsim
