// How a column sum over each group's rows is cut for the GPU (column_sums.cuh's kernels, for
// bias_grad, adaln_layernorm_bwd and gate_residual_bwd): blocks of kColumnTile columns of one
// group, and, where those tiles alone are fewer than kColumnSumTargetBlocks blocks, the rows cut
// into chunks of at least kColumnSumMinChunkRows, each chunk's sums written to a caller's fp32
// workspace and added in chunk order by a second kernel. The cut depends only on the shape, so
// the summation order is fixed and reruns match bit for bit. Host code (no CUDA).
#pragma once

#include <algorithm>
#include <cstdint>

namespace ecsim {

constexpr std::int64_t kColumnTile = 32;  // one warp's width: coalesced rows
constexpr std::int64_t kColumnSumTargetBlocks = 512;
constexpr std::int64_t kColumnSumMinChunkRows = 64;
// Floats one column sum's chunks need at most, whatever the shape: chunks x groups x n stays under
// 2 kColumnSumTargetBlocks x kColumnTile (a chunked shape has fewer tiles than the target).
constexpr std::int64_t kColumnSumPartials = 2 * kColumnSumTargetBlocks * kColumnTile;

// `chunks` chunks of `chunk_rows` rows (the last may hold fewer).
struct ColumnChunks {
  std::int64_t chunks, chunk_rows;
};

inline ColumnChunks column_chunks(std::int64_t groups, std::int64_t rows, std::int64_t n) {
  const std::int64_t tiles = (n + kColumnTile - 1) / kColumnTile * groups;
  if (tiles >= kColumnSumTargetBlocks) return {1, rows};
  const std::int64_t wanted = (kColumnSumTargetBlocks + tiles - 1) / tiles;
  const std::int64_t most = (rows + kColumnSumMinChunkRows - 1) / kColumnSumMinChunkRows;
  const std::int64_t chunks = std::max<std::int64_t>(1, std::min(wanted, most));
  const std::int64_t chunk_rows = (rows + chunks - 1) / chunks;
  return {(rows + chunk_rows - 1) / chunk_rows, chunk_rows};
}

}  // namespace ecsim
