// The runner's data and expert parallelism against one process's own step (kernels/runner/
// process_group.hpp, expert_parallel.hpp). Run under `mpirun -np 2`, one rank per device: on GPUs
// over NCCL, or on the emulated device (tests/emulation: NCCL over MPI). Each rank takes its own
// batch and, from one seed (kAllRandom, so every block's weights matter),
//   a. steps a DeviceTrainer in the layout under test (dp 2, then dp 2 with ep 2: each rank stores
//      and computes 4 of runner_tiny()'s 8 experts, and expert rows cross ranks both ways; then dp 2
//      with bf16 gradients, which NCCL sums in bf16);
//   b. computes the loss and gradients of the same batch in a DeviceTrainer of its own (no group).
// The step's loss must equal b's (the forward rows are the same rows, wherever an expert runs),
// and its gradients after the group's sums must equal the mean over ranks of b's, tensor by
// tensor (a rank's own experts only, under ep 2): relative L2 error <= 1e-5, fp32 sums in another
// order; with bf16 gradients 2^-8 (each element's sum rounded once to bf16, 2^-9 relative at most,
// from halves that are the own step's bf16 gradients halved exactly). A row sent to the wrong expert, a wrong chunk offset or a missed range is an error of
// order one. Prints one line per layout; exit 0 when every check holds on every rank, 77 (skipped)
// where fewer GPUs than ranks are visible.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cuda_check.hpp"
#include "model_ref/flow_batch.hpp"
#include "runner/device_batch.hpp"
#include "runner/device_trainer.hpp"
#include "runner/process_group.hpp"
#include "runner_reference.hpp"

namespace ecsim {
namespace {

constexpr double kTolerance = 1e-5, kBf16Tolerance = 1.0 / 256;
constexpr std::uint64_t kParamSeed = 4, kBatchSeed = 14;
constexpr std::int64_t kImages = 2;

// Failures of this rank's checks, each printed.
int check_layout(int argc, char** argv, int rank, int ranks, int ep, runner::GradientStorage storage) {
  const model_ref::ModelConfig c = test::runner_tiny();
  const bool bf16 = storage == runner::GradientStorage::kBf16;
  const char* grads_name = bf16 ? "bf16" : "fp32";
  int failures = 0;
  auto fail = [&](const std::string& what) {
    std::printf("rank %d, dp %d ep %d, %s gradients: %s\n", rank, ranks, ep, grads_name, what.c_str());
    ++failures;
  };

  runner::RankGroups groups;
  if (ep > 1) {
    for (int r = 0; r < ranks; ++r) groups.ep.push_back(r);
    groups.ep_rank = rank;
    groups.expert_dp = {rank};
  } else {
    groups.ep = {rank};
    for (int r = 0; r < ranks; ++r) groups.expert_dp.push_back(r);
  }
  runner::ProcessGroup group(&argc, &argv);
  group.connect(groups);
  std::vector<runner::DeviceBatch> batches;
  batches.push_back(
      runner::upload_batch(c, model_ref::make_flow_batch(c, kImages, kBatchSeed + static_cast<std::uint64_t>(rank))));

  runner::DeviceTrainer own(c, kParamSeed, model_ref::InitScheme::kAllRandom, {}, kImages, nullptr,
                            runner::OptimizerStorage::kFp32Master, storage);
  const double own_loss = own.loss_and_gradients(batches.front());
  std::vector<float> own_grads = own.model().download_grads();
  std::vector<float> mean(own_grads.size());
  MPI_Allreduce(own_grads.data(), mean.data(), static_cast<int>(mean.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  for (float& g : mean) g /= static_cast<float>(ranks);

  runner::DeviceTrainer trainer(c, kParamSeed, model_ref::InitScheme::kAllRandom, {}, kImages, &group,
                                runner::OptimizerStorage::kFp32Master, storage);
  const double loss = trainer.synced_gradients(batches);
  if (std::abs(loss - own_loss) > 1e-6 * std::abs(own_loss)) {
    fail("loss " + std::to_string(loss) + ", its own step's " + std::to_string(own_loss));
  }
  const std::vector<float> grads = trainer.model().download_grads();

  const model_ref::ParamLayout& full = own.model().layout();
  int checked = 0, experts_checked = 0;
  for (const model_ref::NamedTensor& t : trainer.model().layout().tensors) {
    const model_ref::NamedTensor* match = nullptr;
    for (const model_ref::NamedTensor& f : full.tensors) {
      if (f.name == t.name) match = &f;
    }
    if (match == nullptr) {
      fail(t.name + " is not in the full model's layout");
      continue;
    }
    // An expert tensor stores [experts, ...]: the shard's slice of the full one.
    std::int64_t offset = match->ref.offset;
    if (t.experts > 0) {
      offset += t.first_expert * (match->ref.size / match->experts);
      ++experts_checked;
    }
    double diff = 0, norm = 0;
    for (std::int64_t i = 0; i < t.ref.size; ++i) {
      const double got = grads[static_cast<std::size_t>(t.ref.offset + i)];
      const double want = mean[static_cast<std::size_t>(offset + i)];
      diff += (got - want) * (got - want);
      norm += want * want;
    }
    const double error = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
    if (!(error <= (bf16 ? kBf16Tolerance : kTolerance))) {
      fail(t.name + ": relative L2 error " + std::to_string(error));
    }
    ++checked;
  }
  const bool expected_experts = ep > 1 ? experts_checked > 0 && trainer.shard().count == c.experts / ep
                                       : trainer.shard().count == c.experts;
  if (!expected_experts) fail("the shard holds " + std::to_string(trainer.shard().count) + " experts");
  std::printf("rank %d, dp %d ep %d, %s gradients: loss %.6f (own step %.6f), %d tensors compared (%d of experts), "
              "%s\n",
              rank, ranks, ep, grads_name, loss, own_loss, checked, experts_checked, failures == 0 ? "ok" : "FAILED");
  return failures;
}

}  // namespace

// Why this machine cannot give every rank a GPU of its own; empty when it can. On the emulated
// device each process is its own device.
std::string devices_missing([[maybe_unused]] int ranks) {
#ifndef ECSIM_CUDA_EMULATION
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return std::string("cudaGetDeviceCount: ") + cudaGetErrorName(err);
  if (count < ranks) return std::to_string(ranks) + " ranks need " + std::to_string(ranks) + " GPUs, " +
                            std::to_string(count) + " visible";
#endif
  return {};
}

}  // namespace ecsim

constexpr int kSkipped = 77;  // ctest's SKIP_RETURN_CODE

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int failures = 0;
  try {
    if (ranks != 2) {
      std::printf("run under mpirun -np 2 (got %d ranks)\n", ranks);
      failures = 1;
    } else if (const std::string why = ecsim::devices_missing(ranks); !why.empty()) {
      // NCCL needs a GPU per rank. Every rank sees the same devices, so all skip together.
      if (rank == 0) std::printf("skipped: %s\n", why.c_str());
      MPI_Finalize();
      return kSkipped;
    } else {
      using ecsim::runner::GradientStorage;
      for (const int ep : {1, 2}) failures += ecsim::check_layout(argc, argv, rank, ranks, ep, GradientStorage::kFp32);
      failures += ecsim::check_layout(argc, argv, rank, ranks, 1, GradientStorage::kBf16);
    }
  } catch (const std::exception& e) {
    // The other rank may wait in a collective this one will never reach: end the whole run.
    std::printf("rank %d: %s\n", rank, e.what());
    std::fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, EXIT_FAILURE);
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Finalize();
  return total == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
