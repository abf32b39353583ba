// Operator -> the kernel calls that run it, named and shaped as profile entries. The byte counts
// of the backward calls split the operator's bwd_read/bwd_written (model/op.cpp) per kernel, so
// the calls of one operator add up to its own formulas.
#include "cost/compute_cost.hpp"

#include "core/errors.hpp"
#include "cost/analytic_model.hpp"

namespace ecsim {
namespace {

double d(std::int64_t v) { return static_cast<double>(v); }

std::int64_t dim(const Op& op, const char* name) {
  auto it = op.shape.find(name);
  if (it == op.shape.end()) {
    throw RuntimeFailure("operator " + op.label + " (" + op.name + ") has no dimension '" + name + "'");
  }
  return it->second;
}

bool has_work(Flops f, Bytes b) { return f.value > 0 || b.value > 0; }


bool is_matrix(const Op& op) { return kernel_class(op.name) == KernelClass::kMatmul; }

// A linear layer's bias in a kernel of its own (kernels/bias.cuh), over the product's output rows
// (all groups' together) of width n: forward y += b after a ragged product reads and writes them
// (the others add their bias in the product's epilogue: gemm_bias, batched_gemm_bias); backward
// db = column sums of dY reads them. The key {rows, n} sets the price, so the bytes count
// what every caller moves alike (a grouped product's per-group db, groups x n fp32, is left out).
KernelCall bias_call(const Op& op, bool backward) {
  const std::int64_t n = dim(op, "n");
  const std::int64_t rows = op.name == "grouped_gemm" ? dim(op, "m_total")
                            : op.name == "batched_gemm" ? dim(op, "batch") * dim(op, "m")
                                                         : dim(op, "m");
  const double e = d(rows) * d(n);
  const Bytes bytes = backward ? Bytes{e * kBf16Bytes + d(n) * kFp32Bytes} : Bytes{2 * e * kBf16Bytes};
  return {backward ? "bias_add_bwd" : "bias_add", {{"rows", rows}, {"n", n}}, Flops{e}, bytes};
}

// y[m,n] = x[m,k] W[k,n] over `batch` independent problems (batch 1: a plain gemm).
// dX[m,k] = dY[m,n] W^T[n,k]: a gemm of shape [m, k, n], reads dY and W, writes dX.
// dW[k,n] = X^T[k,m] dY[m,n]: a gemm_wgrad (batched_gemm_wgrad) of shape [k, n, m], reads X and
// dY, writes the gradient in `grads` (fp32: kernels/gemm.cuh's gemm_dw with GradientWrite::kOverwrite,
// as the runner's first micro-batch of a step runs it); `w` kAdd: the later micro-batches' dW += ,
// which reads the old gradient too (added_read).
void gemm_backward(const Op& op, std::int64_t batch, WeightGrads w, Dtype grads, std::vector<KernelCall>& out) {
  const std::int64_t m = dim(op, "m"), n = dim(op, "n"), k = dim(op, "k");
  const double b = d(batch);
  const double g = dtype_bytes(grads);
  auto shaped = [&](std::int64_t mm, std::int64_t nn, std::int64_t kk) {
    OpShape s{{"m", mm}, {"n", nn}, {"k", kk}};
    if (op.name == "batched_gemm") s["batch"] = batch;
    return s;
  };
  if (op.bwd_input.value > 0) {
    const Bytes bytes{b * (d(m) * d(n) + d(k) * d(n) + d(m) * d(k)) * kBf16Bytes};
    out.push_back({op.name, shaped(m, k, n), op.bwd_input, bytes});
  }
  if (op.bwd_weight.value > 0) {
    const Bytes bytes{b * ((d(m) * d(n) + d(m) * d(k)) * kBf16Bytes + d(k) * d(n) * g)};
    KernelCall call{op.name + "_wgrad", shaped(k, n, m), op.bwd_weight, bytes, weight_grad_dtype(grads)};
    if (w == WeightGrads::kAdd) call.added_read = Bytes{b * d(k) * d(n) * g};
    out.push_back(std::move(call));
  }
}

// Ragged groups sharing n and k. dX is again a grouped gemm [m_total, k, n]; dW_g = X_g^T dY_g
// is a [k, n] product per group whose inner dimension is the group's rows: grouped_gemm_wgrad.
void grouped_backward(const Op& op, WeightGrads w, Dtype grads, std::vector<KernelCall>& out) {
  const std::int64_t g = dim(op, "groups"), mt = dim(op, "m_total"), n = dim(op, "n"), k = dim(op, "k");
  const double gb = dtype_bytes(grads);
  if (op.bwd_input.value > 0) {
    const Bytes bytes{(d(mt) * d(n) + d(g) * d(k) * d(n) + d(mt) * d(k)) * kBf16Bytes};
    out.push_back({"grouped_gemm", {{"groups", g}, {"m_total", mt}, {"n", k}, {"k", n}}, op.bwd_input, bytes});
  }
  if (op.bwd_weight.value > 0) {
    const Bytes bytes{(d(mt) * d(n) + d(mt) * d(k)) * kBf16Bytes + d(g) * d(k) * d(n) * gb};
    KernelCall call{"grouped_gemm_wgrad", {{"groups", g}, {"m", k}, {"n", n}, {"k_total", mt}}, op.bwd_weight, bytes,
                    weight_grad_dtype(grads)};
    if (w == WeightGrads::kAdd) call.added_read = Bytes{d(g) * d(k) * d(n) * gb};
    out.push_back(std::move(call));
  }
}

}  // namespace

std::string weight_grad_dtype(Dtype grads) {
  return grads == Dtype::kFp32 ? "bf16" : std::string("bf16_grads_") + dtype_name(grads);
}

std::vector<KernelCall> forward_kernels(const Op& op) {
  const Bytes bytes = op.fwd_read + op.fwd_written;
  if (!has_work(op.fwd, bytes)) return {};
  // A product's bias is added in its epilogue (gemm_bias, batched_gemm_bias: cuBLASLt), which reads
  // the bias too (one per batch entry); ragged groups' biases still take a kernel of their own.
  if (op.bias && (op.name == "gemm" || op.name == "batched_gemm")) {
    const double biases = op.name == "batched_gemm" ? d(dim(op, "batch")) : 1.0;
    return {{op.name + "_bias", op.shape, op.fwd, bytes + Bytes{biases * d(dim(op, "n")) * kBf16Bytes}}};
  }
  std::vector<KernelCall> out{{op.name, op.shape, op.fwd, bytes}};
  if (op.bias && is_matrix(op)) out.push_back(bias_call(op, false));
  return out;
}

std::vector<KernelCall> backward_kernels(const Op& op, WeightGrads w, Dtype grads) {
  std::vector<KernelCall> out;
  if (is_matrix(op)) {
    if (op.name == "grouped_gemm") {
      grouped_backward(op, w, grads, out);
    } else {
      gemm_backward(op, op.name == "batched_gemm" ? dim(op, "batch") : 1, w, grads, out);
    }
    // The bias gradient after dX and dW, as the runner runs it.
    if (op.bias && op.bwd_weight.value > 0) out.push_back(bias_call(op, true));
    return out;
  }
  // attention_fwd -> attention_bwd (dQ, dK, dV in one kernel); elementwise X -> X_bwd.
  const Flops flops = op.bwd_input + op.bwd_weight;
  const Bytes bytes = op.bwd_read + op.bwd_written;
  if (!has_work(flops, bytes)) return out;
  const std::string name = op.name == "attention_fwd" ? "attention_bwd" : op.name + "_bwd";
  out.push_back({name, op.shape, flops, bytes});
  return out;
}

KernelCall optimizer_kernel(double params, const OptimizerSpec& recipe) {
  // Per parameter, in one pass (kernels/adamw.cuh): reads the weight (the fp32 master, or the bf16
  // weight itself when there is no master), the gradient and two moments; writes the weight and
  // both moments back, and with a master the bf16 copy the next forward reads. Nothing zeroes the
  // gradient (the next step's first micro-batch overwrites it). The runner's default, all fp32:
  // 4 x 4 B read, 3 x 4 + 2 B written, 30 B; without masters and with bf16 moments, 16 B. About 12
  // FLOPs (two moment updates, square root, division, decay, step).
  const bool master = recipe.master == Dtype::kFp32;
  const double weight = master ? kFp32Bytes : kBf16Bytes;
  const double moments = 2 * dtype_bytes(recipe.moments);
  const double bytes_per_param =
      weight + dtype_bytes(recipe.grads) + moments + weight + moments + (master ? kBf16Bytes : 0.0);
  constexpr double kFlopsPerParam = 12;
  const auto n = static_cast<std::int64_t>(params);
  std::string dtype = std::string("master_") + dtype_name(recipe.master) + "_moments_" + dtype_name(recipe.moments) +
                      "_grads_" + dtype_name(recipe.grads);
  if (recipe.grads == Dtype::kFp32 && recipe.master == recipe.moments) dtype = dtype_name(recipe.master);
  return {"adamw", {{"params", n}}, Flops{kFlopsPerParam * params}, Bytes{bytes_per_param * params}, dtype};
}

std::string kernel_key(const std::string& op, const std::string& dtype, const OpShape& shape) {
  std::string key = op + "|" + dtype;
  for (const auto& [name, v] : shape) key += "|" + name + "=" + std::to_string(v);
  return key;
}

std::string kernel_key(const KernelCall& c) { return kernel_key(c.op, c.dtype, c.shape); }

bool is_bias_kernel(const std::string& op) { return op == "bias_add" || op == "bias_add_bwd"; }

}  // namespace ecsim
