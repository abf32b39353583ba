// The sm_80 instructions of kernels/mma_sm80.cuh on the CPU (mma_sm80_emulated.hpp). Operand
// layouts are the PTX ISA's, restated here from its tables rather than from the kernel's comments:
//   ldmatrix .x4 .b16 (m8n8): lane i supplies the address of row i % 8 of matrix i / 8; lane l
//     receives in register m the elements (row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1) of
//     matrix m, the lower column in the low 16 bits; with .trans, (rows 2 (l % 4) and 2 (l % 4) + 1,
//     column l / 4) instead.
//   mma.m16n8k16 .row.col, bf16 A and B, f32 C and D, with g = l / 4 and t = l % 4:
//     A registers 0-3 hold A[g][2t..2t+1], A[g+8][2t..2t+1], A[g][2t+8..2t+9], A[g+8][2t+8..2t+9];
//     B registers 0-1 hold B[2t..2t+1][g], B[2t+8..2t+9][g];
//     C and D elements 0-3 are [g][2t], [g][2t+1], [g+8][2t], [g+8][2t+1].
// The products are summed in fp64 and rounded once to fp32; the tensor cores' own rounding differs
// in the last bits, which the comparison with the reference tolerates.
#include "emulation/mma_sm80_emulated.hpp"

#include <bit>
#include <cstring>
#include <string>

#include "emulation/block_runtime.hpp"
#include "emulation/shared_memory_checker.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace ecsim::emulation {
namespace {

using detail::kWarpLanes;
using detail::running_thread;

#define ECSIM_CALLER_PC reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))

void require_aligned_16(const void* p, const char* what_address, std::uintptr_t pc) {
  if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0) {
    std::string what = detail::describe_thread(running_thread->id) + " passes " + what_address + " " +
                       std::to_string(reinterpret_cast<std::uintptr_t>(p)) + " at " + detail::describe_code(pc) +
                       ", which is not 16-byte aligned";
    detail::fail(std::move(what));
  }
}

void require_full_warp(const char* instruction, std::uintptr_t pc) {
  const detail::Warp& warp = detail::warp_of(*running_thread);
  if (warp.lanes != kWarpLanes) {
    std::string what = detail::describe_thread(running_thread->id) + " runs " + instruction + " at " +
                       detail::describe_code(pc) + " in a warp of " + std::to_string(warp.lanes) +
                       " threads: the instruction needs all 32";
    detail::fail(std::move(what));
  }
}

std::uint16_t load_bf16(const unsigned char* p) {
  std::uint16_t bits;
  std::memcpy(&bits, p, sizeof bits);
  return bits;
}

double bf16_value(std::uint32_t reg, int half) {
  const auto bits = static_cast<std::uint16_t>(half == 0 ? reg & 0xffffu : reg >> 16);
  return static_cast<double>(std::bit_cast<float>(std::uint32_t{bits} << 16));
}

void execute_ldmatrix(detail::Warp& warp, bool transposed) {
  for (int lane = 0; lane < kWarpLanes; ++lane) {
    const int g = lane / 4;
    const int t = lane % 4;
    for (int m = 0; m < 4; ++m) {
      const unsigned char* row_of = nullptr;
      std::size_t column = 0;
      std::uint32_t halves[2];
      for (int h = 0; h < 2; ++h) {
        if (transposed) {  // rows 2t and 2t + 1, column g
          row_of = warp.slots[static_cast<std::size_t>(8 * m + 2 * t + h)].row;
          column = static_cast<std::size_t>(g);
        } else {  // row g, columns 2t and 2t + 1
          row_of = warp.slots[static_cast<std::size_t>(8 * m + g)].row;
          column = static_cast<std::size_t>(2 * t + h);
        }
        halves[h] = load_bf16(row_of + 2 * column);
      }
      warp.slots[static_cast<std::size_t>(lane)].out[m] = halves[0] | halves[1] << 16;
    }
  }
}

void execute_mma(detail::Warp& warp) {
  double a[16][16];
  double b[16][8];
  for (int lane = 0; lane < kWarpLanes; ++lane) {
    const detail::LaneSlot& s = warp.slots[static_cast<std::size_t>(lane)];
    const int g = lane / 4;
    const int t = lane % 4;
    for (int h = 0; h < 2; ++h) {
      a[g][2 * t + h] = bf16_value(s.in[0], h);
      a[g + 8][2 * t + h] = bf16_value(s.in[1], h);
      a[g][2 * t + 8 + h] = bf16_value(s.in[2], h);
      a[g + 8][2 * t + 8 + h] = bf16_value(s.in[3], h);
      b[2 * t + h][g] = bf16_value(s.in[4], h);
      b[2 * t + 8 + h][g] = bf16_value(s.in[5], h);
    }
  }
  for (int lane = 0; lane < kWarpLanes; ++lane) {
    detail::LaneSlot& s = warp.slots[static_cast<std::size_t>(lane)];
    const int g = lane / 4;
    const int t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i / 2);
      const int column = 2 * t + i % 2;
      double sum = s.accumulator[i];
      for (int k = 0; k < 16; ++k) sum += a[row][k] * b[k][column];
      s.accumulator[i] = static_cast<float>(sum);
    }
  }
}

}  // namespace

void cp_async_cg_16(void* shared, const void* global, int src_bytes) {
  const std::uintptr_t pc = ECSIM_CALLER_PC;
  detail::Thread& me = *running_thread;
  if (src_bytes < 0 || src_bytes > 16) {
    std::string what = detail::describe_thread(me.id) + " starts a cp.async of 16 bytes with src-size " +
                       std::to_string(src_bytes) + " at " + detail::describe_code(pc) + " (0 to 16 allowed)";
    detail::fail(std::move(what));
  }
  require_aligned_16(shared, "the cp.async destination", pc);
  if (src_bytes > 0) require_aligned_16(global, "the cp.async source", pc);
  detail::shared_checker().issue_async_write(me.id, shared, 16, pc);
#if defined(__SANITIZE_ADDRESS__)
  if (src_bytes > 0 && __asan_region_is_poisoned(const_cast<void*>(global), static_cast<std::size_t>(src_bytes))) {
    __asan_describe_address(const_cast<void*>(global));
    std::string what = detail::describe_thread(me.id) + " starts a cp.async at " + detail::describe_code(pc) +
                       " from global memory that ASan marks unaddressable (its description is printed above)";
    detail::fail(std::move(what));
  }
#endif
  me.uncommitted.push_back(
      {static_cast<unsigned char*>(shared), static_cast<const unsigned char*>(global), src_bytes, pc});
}

void cp_async_commit_group() {
  detail::Thread& me = *running_thread;
  me.committed.push_back(std::move(me.uncommitted));
  me.uncommitted.clear();
}

void cp_async_wait_group(int pending) {
  detail::Thread& me = *running_thread;
  while (static_cast<int>(me.committed.size()) > pending) {
    detail::land_copies(me, me.committed.front());
    me.committed.pop_front();
  }
}

void ldmatrix_x4(std::uint32_t (&r)[4], const void* row, bool transposed) {
  const std::uintptr_t pc = ECSIM_CALLER_PC;
  detail::Thread& me = *running_thread;
  const char* name = transposed ? "ldmatrix.trans" : "ldmatrix";
  require_full_warp(name, pc);
  require_aligned_16(row, "the ldmatrix row address", pc);
  detail::shared_checker().read(me.id, row, 16, pc);  // this lane's row, read now
  detail::LaneSlot& slot = detail::warp_of(me).slots[static_cast<std::size_t>(me.lane())];
  slot.row = static_cast<const unsigned char*>(row);
  if (transposed) {
    detail::arrive_at_warp_op(detail::WarpOp::ldmatrix_trans, [](detail::Warp& w) { execute_ldmatrix(w, true); });
  } else {
    detail::arrive_at_warp_op(detail::WarpOp::ldmatrix, [](detail::Warp& w) { execute_ldmatrix(w, false); });
  }
  for (int i = 0; i < 4; ++i) r[i] = slot.out[i];
}

void mma_m16n8k16_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
  detail::Thread& me = *running_thread;
  require_full_warp("mma.sync", ECSIM_CALLER_PC);
  detail::LaneSlot& slot = detail::warp_of(me).slots[static_cast<std::size_t>(me.lane())];
  for (int i = 0; i < 4; ++i) {
    slot.in[i] = a[i];
    slot.accumulator[i] = c[i];
  }
  slot.in[4] = b0;
  slot.in[5] = b1;
  detail::arrive_at_warp_op(detail::WarpOp::mma, execute_mma);
  for (int i = 0; i < 4; ++i) c[i] = slot.accumulator[i];
}

}  // namespace ecsim::emulation
