// The cuBLASLt calls of kernels/gemm_bias.cu, for the emulated device (README.md, "The emulated
// device"): D = alpha op(A) op(B) + beta C with CUBLASLT_EPILOGUE_DEFAULT or _BIAS, over a strided
// batch too (a bias per batch entry), computed and checked by gemm_problem.hpp. Descriptors live
// in cuBLASLt's own opaque structs. Checked as cuBLASLt checks them (CUBLAS_STATUS_INVALID_VALUE):
// an attribute set with a size other than its type's (cublasLt.h), layouts that do not fit the
// product; a workspace must lie in device memory; and, stricter than cuBLASLt, which may then read
// out of bounds or fail later: every operand and the bias at least as aligned as the heuristic was
// told when it chose the algorithm (its preference and the bias pointer it saw), and C = D (the
// emulation does not copy C). What gemm_bias.cu does not use returns CUBLAS_STATUS_NOT_SUPPORTED.
// The emulator's definitions of CUDA's keywords come before any CUDA header (cuda_emulation.hpp).
#include "emulation/block_runtime.hpp"

#include <cublasLt.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

#include "emulation/cublaslt_emulated.hpp"
#include "emulation/device_memory_registry.hpp"
#include "emulation/gemm_problem.hpp"

struct cublasLtContext {};

namespace ecsim::emulation {
namespace {

bool bias_epilogue_offered = true;  // offer_bias_epilogue

struct Desc {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  std::int32_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  std::uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  std::int32_t bias_type = -1;  // -1: D's type
  std::int64_t bias_batch_stride = 0;
};

struct Layout {
  cudaDataType_t type;
  std::uint64_t rows, cols;
  std::int64_t ld;
  std::int32_t batch = 1;
  std::int64_t batch_stride = 0;  // elements
};

struct Preference {
  std::uint64_t max_workspace = 0;
  std::uint32_t alignment[4] = {256, 256, 256, 256};  // A, B, C, D (cuBLASLt's defaults)
};

// What the emulated heuristic writes into cublasLtMatmulAlgo_t: the alignments it chose for.
struct Algo {
  std::uint32_t magic;
  std::uint32_t alignment[4];
  std::uint32_t bias_alignment;
};
constexpr std::uint32_t kAlgoMagic = 0xec51a190;

static_assert(sizeof(Desc) <= sizeof(cublasLtMatmulDescOpaque_t));
static_assert(sizeof(Layout) <= sizeof(cublasLtMatrixLayoutOpaque_t));
static_assert(sizeof(Preference) <= sizeof(cublasLtMatmulPreferenceOpaque_t));
static_assert(sizeof(Algo) <= sizeof(cublasLtMatmulAlgo_t));

template <class T, class Opaque>
T* state(Opaque* o) {
  return std::launder(reinterpret_cast<T*>(o->data));
}

template <class T, class Opaque>
cublasStatus_t create(Opaque** out, const T& value) {
  if (out == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *out = new Opaque{};
  new ((*out)->data) T(value);
  return CUBLAS_STATUS_SUCCESS;
}

// Copies an attribute whose type is T, as cuBLASLt does: the size must be T's.
template <class T>
cublasStatus_t assign(T& to, const void* buf, std::size_t size) {
  if (buf == nullptr || size != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&to, buf, sizeof(T));
  return CUBLAS_STATUS_SUCCESS;
}

std::uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  return a == 0 ? 256u : static_cast<std::uint32_t>(std::min<std::uintptr_t>(a & (~a + 1), 256));
}

bool transposed(std::int32_t t) { return t == CUBLAS_OP_T; }

// The product's m, n, k from the layouts, or false where they do not fit together.
bool product_dims(const Desc& d, const Layout& a, const Layout& b, const Layout& c, const Layout& out, int& m,
                  int& n, int& k) {
  const bool ops_ok = (d.trans_a == CUBLAS_OP_N || d.trans_a == CUBLAS_OP_T) &&
                      (d.trans_b == CUBLAS_OP_N || d.trans_b == CUBLAS_OP_T);
  const bool ta = transposed(d.trans_a), tb = transposed(d.trans_b);
  const std::uint64_t a_rows = ta ? a.cols : a.rows, a_cols = ta ? a.rows : a.cols;
  const std::uint64_t b_rows = tb ? b.cols : b.rows, b_cols = tb ? b.rows : b.cols;
  const bool fits = ops_ok && a_rows == out.rows && b_cols == out.cols && a_cols == b_rows && c.rows == out.rows &&
                    c.cols == out.cols && c.type == out.type && a.batch == out.batch && b.batch == out.batch &&
                    c.batch == out.batch && out.batch >= 1;
  m = static_cast<int>(out.rows);
  n = static_cast<int>(out.cols);
  k = static_cast<int>(a_cols);
  return fits;
}

cublasStatus_t check_operation(const Desc& d, const Layout& a, const Layout& b, const Layout& c,
                               const Layout& out) {
  if (d.compute != CUBLAS_COMPUTE_32F || d.scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d.epilogue != CUBLASLT_EPILOGUE_DEFAULT && d.epilogue != CUBLASLT_EPILOGUE_BIAS) {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (d.bias_type != -1 && d.bias_type != out.type) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (a.type != CUDA_R_16BF || b.type != CUDA_R_16BF) return CUBLAS_STATUS_NOT_SUPPORTED;
  int m = 0, n = 0, k = 0;
  if (!product_dims(d, a, b, c, out, m, n, k)) return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

bool offer_bias_epilogue(bool offered) {
  const bool before = bias_epilogue_offered;
  bias_epilogue_offered = offered;
  return before;
}

}  // namespace ecsim::emulation

namespace emu = ecsim::emulation;

extern "C" {

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  return emu::create(desc, emu::Desc{compute, scale});
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute,
                                              const void* buf, size_t size) {
  if (desc == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  emu::Desc& d = *emu::state<emu::Desc>(desc);
  switch (attribute) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return emu::assign(d.trans_a, buf, size);
    case CUBLASLT_MATMUL_DESC_TRANSB: return emu::assign(d.trans_b, buf, size);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return emu::assign(d.epilogue, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return emu::assign(d.bias, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: return emu::assign(d.bias_type, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE: return emu::assign(d.bias_batch_stride, buf, size);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  if (ld < 1 || static_cast<std::uint64_t>(ld) < rows) return CUBLAS_STATUS_INVALID_VALUE;
  return emu::create(layout, emu::Layout{type, rows, cols, ld});
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout,
                                                cublasLtMatrixLayoutAttribute_t attribute, const void* buf,
                                                size_t size) {
  if (layout == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  emu::Layout& l = *emu::state<emu::Layout>(layout);
  switch (attribute) {
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT: return emu::assign(l.batch, buf, size);
    case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET: return emu::assign(l.batch_stride, buf, size);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* preference) {
  return emu::create(preference, emu::Preference{});
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t preference) {
  delete preference;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t preference,
                                                    cublasLtMatmulPreferenceAttributes_t attribute, const void* buf,
                                                    size_t size) {
  if (preference == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  emu::Preference& p = *emu::state<emu::Preference>(preference);
  switch (attribute) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return emu::assign(p.max_workspace, buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return emu::assign(p.alignment[0], buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return emu::assign(p.alignment[1], buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return emu::assign(p.alignment[2], buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return emu::assign(p.alignment[3], buf, size);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

// One algorithm for every valid operation, needing no workspace.
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t preference, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int* returned) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (desc == nullptr || a == nullptr || b == nullptr || c == nullptr || d == nullptr || preference == nullptr ||
      requested < 1 || results == nullptr || returned == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const emu::Desc& op = *emu::state<emu::Desc>(desc);
  const cublasStatus_t s = emu::check_operation(op, *emu::state<emu::Layout>(a), *emu::state<emu::Layout>(b),
                                                *emu::state<emu::Layout>(c), *emu::state<emu::Layout>(d));
  if (s != CUBLAS_STATUS_SUCCESS) return s;
  const emu::Preference& p = *emu::state<emu::Preference>(preference);
  if (op.epilogue == CUBLASLT_EPILOGUE_BIAS && !emu::bias_epilogue_offered) {
    *returned = 0;  // as cuBLASLt answers a shape it has no kernel for
    return CUBLAS_STATUS_SUCCESS;
  }
  results[0] = cublasLtMatmulHeuristicResult_t{};
  emu::Algo algo{emu::kAlgoMagic, {p.alignment[0], p.alignment[1], p.alignment[2], p.alignment[3]},
                 emu::alignment_of(op.bias)};
  std::memcpy(results[0].algo.data, &algo, sizeof(algo));
  results[0].workspaceSize = 0;
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t a, const void* B, cublasLtMatrixLayout_t b, const void* beta,
                              const void* C, cublasLtMatrixLayout_t c, void* D, cublasLtMatrixLayout_t d,
                              const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspace_bytes,
                              cudaStream_t) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (desc == nullptr || a == nullptr || b == nullptr || c == nullptr || d == nullptr || alpha == nullptr ||
      beta == nullptr || algo == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const emu::Desc& op = *emu::state<emu::Desc>(desc);
  const emu::Layout &la = *emu::state<emu::Layout>(a), &lb = *emu::state<emu::Layout>(b);
  const emu::Layout &lc = *emu::state<emu::Layout>(c), &ld = *emu::state<emu::Layout>(d);
  if (const cublasStatus_t s = emu::check_operation(op, la, lb, lc, ld); s != CUBLAS_STATUS_SUCCESS) return s;
  emu::Algo chosen{};
  std::memcpy(&chosen, algo->data, sizeof(chosen));
  if (chosen.magic != emu::kAlgoMagic) return CUBLAS_STATUS_INVALID_VALUE;  // not from the heuristic
  const void* operands[4] = {A, B, C, D};
  for (int i = 0; i < 4; ++i) {
    if (emu::alignment_of(operands[i]) < chosen.alignment[i]) return CUBLAS_STATUS_INVALID_VALUE;
  }
  const bool bias = op.epilogue == CUBLASLT_EPILOGUE_BIAS;
  if (bias && (op.bias == nullptr || emu::alignment_of(op.bias) < chosen.bias_alignment)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const float b0 = *static_cast<const float*>(beta);
  if (C != D && b0 != 0.0f) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (workspace_bytes > 0) emu::require_device_range(workspace, workspace_bytes, "cublasLtMatmul: workspace");
  int m = 0, n = 0, k = 0;
  emu::product_dims(op, la, lb, lc, ld, m, n, k);
  for (std::int32_t i = 0; i < ld.batch; ++i) {
    emu::Problem p{static_cast<cublasOperation_t>(op.trans_a),
                   static_cast<cublasOperation_t>(op.trans_b),
                   m,
                   n,
                   k,
                   *static_cast<const float*>(alpha),
                   {emu::offset(A, i * la.batch_stride, la.type), la.type, static_cast<int>(la.ld)},
                   {emu::offset(B, i * lb.batch_stride, lb.type), lb.type, static_cast<int>(lb.ld)},
                   b0,
                   const_cast<void*>(emu::offset(D, i * ld.batch_stride, ld.type)),
                   ld.type,
                   static_cast<int>(ld.ld)};
    p.bias = bias ? emu::offset(op.bias, i * op.bias_batch_stride, ld.type) : nullptr;
    const std::string call = ld.batch == 1 ? "cublasLtMatmul" : "cublasLtMatmul (batch " + std::to_string(i) + ")";
    if (const cublasStatus_t s = emu::run_problem(p, op.compute, call); s != CUBLAS_STATUS_SUCCESS) return s;
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
