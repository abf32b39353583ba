#include "hardware/gpu.hpp"

namespace ecsim {

const std::vector<GpuSpec>& gpu_table() {
  // One row per GPU kind. Peaks from NVIDIA datasheets; ceilings measured where ANCHORS.md has
  // them (H100), else the H100's measured/peak ratio applied to the datasheet (stated per row).
  static const std::vector<GpuSpec> table = {
      {"A100-SXM-80GB", parse_flops_rate("312TFLOPS"), parse_flops_rate("250TFLOPS"), parse_bytes("80GB"),
       parse_bandwidth("2.04TBps"), parse_bandwidth("1.81TBps"), parse_bytes("40MiB"), 108,
       "NVIDIA A100 datasheet (312 TFLOP/s bf16, 2.04 TB/s); ceilings = datasheet x H100 measured ratios "
       "(0.80 GEMM, 0.89 copy), an estimate"},
      {"H100-SXM", parse_flops_rate("989TFLOPS"), parse_flops_rate("794TFLOPS"), parse_bytes("80GB"),
       parse_bandwidth("3.35TBps"), parse_bandwidth("2.97TBps"), parse_bytes("50MiB"), 132,
       "NVIDIA H100 SXM datasheet; ceilings measured on one H100 SXM 80GB 2026-11-26 "
       "(cuBLAS bf16 GEMM 8192^3: 794 TFLOP/s; device copy 2.97 TB/s), ANCHORS.md"},
      {"H200-SXM", parse_flops_rate("989TFLOPS"), parse_flops_rate("794TFLOPS"), parse_bytes("141GB"),
       parse_bandwidth("4.8TBps"), parse_bandwidth("4.26TBps"), parse_bytes("50MiB"), 132,
       "NVIDIA H200 datasheet (H100 compute, 141 GB at 4.8 TB/s); GEMM ceiling as H100, copy ceiling = "
       "4.8 TB/s x 0.887 (H100 measured ratio), an estimate"},
      {"B200", parse_flops_rate("2250TFLOPS"), parse_flops_rate("1800TFLOPS"), parse_bytes("180GB"),
       parse_bandwidth("8TBps"), parse_bandwidth("7.1TBps"), parse_bytes("126MiB"), 148,
       "NVIDIA HGX B200 datasheet (2250 TFLOP/s dense bf16, 180 GB at 8 TB/s); ceilings = datasheet x H100 "
       "measured ratios, an estimate"},
  };
  return table;
}

std::optional<GpuSpec> find_gpu(const std::string& name) {
  for (const auto& g : gpu_table()) {
    if (g.name == name) return g;
  }
  return std::nullopt;
}

GpuSpec parse_gpu(const Node& node) {
  if (node.is_string()) {
    const std::string name = node.as_string();
    if (auto g = find_gpu(name)) return *g;
    std::string known;
    for (const auto& g : gpu_table()) known += (known.empty() ? "" : ", ") + g.name;
    node.fail("unknown GPU '" + name + "' (known: " + known + "; or describe one as an object)");
  }
  ObjectReader r(node);
  GpuSpec g;
  g.name = r.string("name");
  g.peak_bf16 = r.required("peak_bf16").as_flops_rate();
  g.matmul_ceiling = r.has("matmul_ceiling") ? r.required("matmul_ceiling").as_flops_rate() : g.peak_bf16;
  g.hbm = r.required("hbm").as_bytes();
  g.hbm_peak = r.required("hbm_bandwidth").as_bandwidth();
  g.hbm_ceiling = r.has("hbm_ceiling") ? r.required("hbm_ceiling").as_bandwidth() : g.hbm_peak;
  g.l2 = r.has("l2") ? r.required("l2").as_bytes() : parse_bytes("50MiB");
  g.sms = static_cast<int>(r.integer_or("sms", 132, 1, 100000));
  g.source = r.string("source");
  for (const auto& [key, value] : std::initializer_list<std::pair<const char*, double>>{
           {"peak_bf16", g.peak_bf16.value}, {"hbm", g.hbm.value}, {"hbm_bandwidth", g.hbm_peak.value}}) {
    if (value <= 0) r.required(key).fail("must be > 0");
  }
  if (g.matmul_ceiling > g.peak_bf16) r.required("matmul_ceiling").fail("exceeds peak_bf16");
  r.finish();
  return g;
}

Json gpu_to_json(const GpuSpec& g) {
  return {{"name", g.name},
          {"peak_bf16", format_flops_rate(g.peak_bf16)},
          {"matmul_ceiling", format_flops_rate(g.matmul_ceiling)},
          {"hbm", format_bytes(g.hbm)},
          {"hbm_bandwidth", format_bandwidth(g.hbm_peak)},
          {"hbm_ceiling", format_bandwidth(g.hbm_ceiling)},
          {"l2", format_bytes(g.l2)},
          {"sms", g.sms},
          {"source", g.source}};
}

}  // namespace ecsim
