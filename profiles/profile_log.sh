# shellcheck shell=bash
# What an ecsim-profile log says, for the scripts that run the profiler (profiles/run_on_gpu.sh) and
# the test that holds them to the profiler's real output (tests/emulation/profile_emulated_test.sh,
# on the emulated device). The lines read, as profiler.cpp writes them:
#   ceilings: bf16 GEMM 8192^3 798.1TFLOPS (p50 ...); device copy 3.0TBps counting ...
#   wrote profiles/h100-80gb-hbm3.json (412 entries, 0 collectives)
#
#   ecsim_profile_written LOG    prints "PATH ENTRIES" from the last "wrote" line; status 1 if none
#   ecsim_profile_ceilings LOG   prints the ceilings, short ("bf16 GEMM 8192^3 798.1TFLOPS; device
#                                copy 3.0TBps"); empty if the log has none

ecsim_profile_written() {
  sed -n 's/^wrote \(.*\) (\([0-9][0-9]*\) entries[,)].*$/\1 \2/p' "$1" | tail -n 1 | grep .
}

ecsim_profile_ceilings() {
  grep '^ceilings:' "$1" | tail -n 1 | sed 's/ (p50[^)]*)//; s/ counting.*//; s/^ceilings: //'
}
