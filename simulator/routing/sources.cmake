# Sources of simulator/routing/ (routing statistics: sampled per-expert loads), added to ecsim_core.
target_sources(ecsim_core PRIVATE
  routing/random_stream.cpp
  routing/alias_table.cpp
  routing/expert_histogram.cpp
  routing/routing_stats_spec.cpp
  routing/expert_shares.cpp
  routing/token_choice_routing.cpp
  routing/expert_choice_routing.cpp
  routing/routing_sample.cpp
  routing/step_time_distribution.cpp
  routing/routing_evaluation.cpp
  routing/routing_variants.cpp
)
