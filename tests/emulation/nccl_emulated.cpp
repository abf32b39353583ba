// NCCL for the emulated device (README.md, "The emulated device"): the emulation runs one process on
// one device, where the runner never communicates (process_group.hpp: one process, no NCCL at all).
// These definitions complete the link of the runner's process group; a call to any of them means
// a multi-process path was reached, which the emulation does not cover, and it says so by throwing.
#include <nccl.h>

#include <string>

#include "emulation/emulation_error.hpp"

namespace {

[[noreturn]] void not_emulated(const char* call) {
  throw ecsim::emulation::EmulationError(std::string(call) +
                                         ": NCCL is not emulated (the CPU emulation runs one process, which needs none)");
}

}  // namespace

extern "C" {

ncclResult_t ncclGetUniqueId(ncclUniqueId*) { not_emulated("ncclGetUniqueId"); }
ncclResult_t ncclCommInitRank(ncclComm_t*, int, ncclUniqueId, int) { not_emulated("ncclCommInitRank"); }
ncclResult_t ncclCommSplit(ncclComm_t, int, int, ncclComm_t*, ncclConfig_t*) { not_emulated("ncclCommSplit"); }
ncclResult_t ncclCommDestroy(ncclComm_t) { not_emulated("ncclCommDestroy"); }
ncclResult_t ncclGroupStart() { not_emulated("ncclGroupStart"); }
ncclResult_t ncclGroupEnd() { not_emulated("ncclGroupEnd"); }
ncclResult_t ncclAllReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t) {
  not_emulated("ncclAllReduce");
}
ncclResult_t ncclSend(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t) { not_emulated("ncclSend"); }
ncclResult_t ncclRecv(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t) { not_emulated("ncclRecv"); }
const char* ncclGetErrorString(ncclResult_t) { return "NCCL is not emulated"; }

}  // extern "C"
