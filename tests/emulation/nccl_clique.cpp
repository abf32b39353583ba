// NCCL in one process over several emulated devices (nccl_clique.hpp).
#include "emulation/nccl_clique.hpp"

#include <cuda_bf16.h>

#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include "emulation/device_memory_registry.hpp"
#include "emulation/emulation_error.hpp"

namespace ecsim::emulation {

struct Clique {
  int ranks = 0;
};

namespace {

struct Recorded {
  CliqueRank at;
  CliqueOp op;
  std::string call;
};

std::vector<Recorded>& recorded() {
  static std::vector<Recorded> r;
  return r;
}

[[noreturn]] void fail(const std::string& what) {
  recorded().clear();
  throw EmulationError(what + " (emulated NCCL, tests/emulation/nccl_clique.cpp)");
}

std::size_t element_bytes(ncclDataType_t type) { return type == ncclBfloat16 ? 2 : 4; }

// Element i of a buffer of `type`, widened to fp32; and stored back, rounded to nearest even
// (CUDA's own conversions, as the emulated cuBLAS uses).
float load(const void* base, std::size_t i, ncclDataType_t type) {
  if (type == ncclBfloat16) return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
  return static_cast<const float*>(base)[i];
}

void store(void* base, std::size_t i, float value, ncclDataType_t type) {
  if (type == ncclBfloat16) {
    static_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16(value);
  } else {
    static_cast<float*>(base)[i] = value;
  }
}

// The elements each buffer of a rank's part spans: {send, receive}.
std::pair<std::size_t, std::size_t> extents(const CliqueOp& op, int ranks) {
  const auto n = static_cast<std::size_t>(ranks);
  switch (op.call) {
    case CliqueCall::kAllReduce: return {op.count, op.count};
    case CliqueCall::kAllGather: return {op.count, op.count * n};
    case CliqueCall::kReduceScatter: return {op.count * n, op.count};
    case CliqueCall::kSend: return {op.count, 0};
    case CliqueCall::kRecv: return {0, op.count};
  }
  return {0, 0};
}

const char* call_name(CliqueCall c) {
  switch (c) {
    case CliqueCall::kAllReduce: return "ncclAllReduce";
    case CliqueCall::kAllGather: return "ncclAllGather";
    case CliqueCall::kReduceScatter: return "ncclReduceScatter";
    case CliqueCall::kSend: return "ncclSend";
    case CliqueCall::kRecv: return "ncclRecv";
  }
  return "?";
}

// One collective: every rank's part, rank r at index r. Sums read every input before any output
// is written, so in-place calls (send == recv, or inside it) read what they were given.
void run_collective(const std::vector<const CliqueOp*>& part) {
  const CliqueOp& first = *part.front();
  const std::size_t n = part.size(), count = first.count;
  switch (first.call) {
    case CliqueCall::kAllReduce: {
      std::vector<float> sum(count, 0.0f);
      for (const CliqueOp* p : part) {
        for (std::size_t i = 0; i < count; ++i) sum[i] += load(p->send, i, p->type);
      }
      for (const CliqueOp* p : part) {
        for (std::size_t i = 0; i < count; ++i) store(p->recv, i, sum[i], p->type);
      }
      return;
    }
    case CliqueCall::kAllGather: {
      std::vector<float> all(count * n);
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t i = 0; i < count; ++i) all[r * count + i] = load(part[r]->send, i, first.type);
      }
      for (const CliqueOp* p : part) {
        for (std::size_t i = 0; i < all.size(); ++i) store(p->recv, i, all[i], p->type);
      }
      return;
    }
    case CliqueCall::kReduceScatter: {
      std::vector<float> sum(count * n, 0.0f);
      for (const CliqueOp* p : part) {
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += load(p->send, i, p->type);
      }
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t i = 0; i < count; ++i) store(part[r]->recv, i, sum[r * count + i], first.type);
      }
      return;
    }
    case CliqueCall::kSend:
    case CliqueCall::kRecv: return;
  }
}

// The ops of one clique, per rank, in call order: collectives, and point-to-point per (from, to).
struct CliqueOps {
  int ranks = 0;
  std::vector<std::vector<const Recorded*>> collectives;                    // [rank]
  std::map<std::pair<int, int>, std::deque<const Recorded*>> sends, recvs;  // (from, to)
};

}  // namespace

std::vector<CliqueRank> make_clique(int ranks) {
  auto clique = std::make_shared<Clique>();
  clique->ranks = ranks;
  std::vector<CliqueRank> out;
  for (int r = 0; r < ranks; ++r) out.push_back({clique, r});
  return out;
}

void record_clique_op(const CliqueRank& at, const CliqueOp& op, bool in_group, const char* call) {
  const std::string where = std::string(call) + " on rank " + std::to_string(at.rank) + " of " +
                            std::to_string(at.clique->ranks);
  if (!in_group) {
    fail(where + " outside ncclGroupStart/ncclGroupEnd: with every rank in one process, one rank's call waits "
                 "for the others forever");
  }
  if (op.type != ncclFloat32 && op.type != ncclBfloat16) {
    fail(where + " of NCCL data type " + std::to_string(static_cast<int>(op.type)) + " (fp32 and bf16 are emulated)");
  }
  if ((op.call == CliqueCall::kSend || op.call == CliqueCall::kRecv) && (op.peer < 0 || op.peer >= at.clique->ranks)) {
    fail(where + " with peer " + std::to_string(op.peer));
  }
  const auto [send_elements, recv_elements] = extents(op, at.clique->ranks);
  const std::size_t bytes = element_bytes(op.type);
  if (send_elements > 0) require_device_range(op.send, send_elements * bytes, where + ": send buffer");
  if (recv_elements > 0) require_device_range(op.recv, recv_elements * bytes, where + ": receive buffer");
  recorded().push_back({at, op, call});
}

void run_clique_group() {
  // Sort the group's ops by clique and rank, then check that they pair up before anything is done.
  std::map<const Clique*, CliqueOps> cliques;
  for (const Recorded& r : recorded()) {
    CliqueOps& c = cliques[r.at.clique.get()];
    c.ranks = r.at.clique->ranks;
    c.collectives.resize(static_cast<std::size_t>(c.ranks));
    switch (r.op.call) {
      case CliqueCall::kSend: c.sends[{r.at.rank, r.op.peer}].push_back(&r); break;
      case CliqueCall::kRecv: c.recvs[{r.op.peer, r.at.rank}].push_back(&r); break;
      default: c.collectives[static_cast<std::size_t>(r.at.rank)].push_back(&r); break;
    }
  }
  std::vector<std::vector<const CliqueOp*>> collectives;
  std::vector<std::pair<const CliqueOp*, const CliqueOp*>> transfers;  // (send, receive)
  for (auto& [clique, c] : cliques) {
    const std::size_t calls = c.collectives[0].size();
    for (int r = 1; r < c.ranks; ++r) {
      if (c.collectives[static_cast<std::size_t>(r)].size() != calls) {
        fail("ncclGroupEnd: rank 0 of " + std::to_string(c.ranks) + " made " + std::to_string(calls) +
             " collective calls in the group, rank " + std::to_string(r) + " " +
             std::to_string(c.collectives[static_cast<std::size_t>(r)].size()) + ": NCCL would wait forever");
      }
    }
    for (std::size_t k = 0; k < calls; ++k) {
      std::vector<const CliqueOp*> part;
      const CliqueOp& first = c.collectives[0][k]->op;
      for (int r = 0; r < c.ranks; ++r) {
        const Recorded& mine = *c.collectives[static_cast<std::size_t>(r)][k];
        if (mine.op.call != first.call || mine.op.count != first.count || mine.op.type != first.type) {
          fail("ncclGroupEnd: collective " + std::to_string(k) + " of the group is " + call_name(first.call) + " of " +
               std::to_string(first.count) + " elements on rank 0, " + mine.call + " of " +
               std::to_string(mine.op.count) + " elements (type " + std::to_string(static_cast<int>(mine.op.type)) +
               ") on rank " + std::to_string(r));
        }
        part.push_back(&mine.op);
      }
      collectives.push_back(std::move(part));
    }
    for (auto& [pair, sends] : c.sends) {
      std::deque<const Recorded*>& recvs = c.recvs[pair];
      const std::string route = "from rank " + std::to_string(pair.first) + " to rank " + std::to_string(pair.second);
      if (sends.size() != recvs.size()) {
        fail("ncclGroupEnd: " + std::to_string(sends.size()) + " sends " + route + ", " +
             std::to_string(recvs.size()) + " receives: NCCL would wait forever");
      }
      for (std::size_t k = 0; k < sends.size(); ++k) {
        const CliqueOp& s = sends[k]->op;
        const CliqueOp& r = recvs[k]->op;
        if (s.count != r.count || s.type != r.type) {
          fail("ncclGroupEnd: send " + std::to_string(k) + " " + route + " moves " + std::to_string(s.count) +
               " elements, its receive takes " + std::to_string(r.count));
        }
        transfers.emplace_back(&s, &r);
      }
      recvs.clear();
    }
    for (const auto& [pair, recvs] : c.recvs) {
      if (!recvs.empty()) {
        fail("ncclGroupEnd: " + std::to_string(recvs.size()) + " receives on rank " + std::to_string(pair.second) +
             " from rank " + std::to_string(pair.first) + " that no send matches: NCCL would wait forever");
      }
    }
  }
  for (const auto& part : collectives) run_collective(part);
  for (const auto& [send, recv] : transfers) std::memmove(recv->recv, send->send, send->count * element_bytes(send->type));
  recorded().clear();
}

}  // namespace ecsim::emulation
