// ecsim-profile's run (profiler.hpp): plan, ceilings, one timed entry per planned call (the
// runner's variant kept), the NCCL collectives when several GPUs are visible, the profile file,
// and a report that says what was measured, what was skipped and why, how the grouped-GEMM
// methods compared, how well the entries predict each other (leave-one-out, the check tests/unit
// runs over the analytic profiles) and how well the simulator's collective model predicts the
// measured collectives (comm/collective_check.hpp).
#include "profiler/profiler.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "comm/collective_check.hpp"
#include "core/atomic_file.hpp"
#include "core/errors.hpp"
#include "core/json_input.hpp"
#include "core/units.hpp"
#include "core/utc_time.hpp"
#include "cost/analytic_model.hpp"
#include "cost/compute_cost.hpp"
#include "cost/interpolation.hpp"
#include "cublas_check.hpp"
#include "cuda_check.hpp"
#include "gemm.cuh"
#include "gemm_bias.cuh"
#include "precondition.hpp"
#include "profiler/ceilings.hpp"
#include "profiler/clock_cool_down.hpp"
#include "profiler/collective_runs.hpp"
#include "profiler/collective_sweep.hpp"
#include "profiler/device_buffers.hpp"
#include "profiler/device_info.hpp"
#include "profiler/kernel_runs.hpp"
#include "profiler/sweeps.hpp"
#include "profiler/timing.hpp"

namespace ecsim::profiler {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDevice = 0;
constexpr std::uint64_t kSeed = 0xEC51D0001ull;
// Per entry: 3 warm-up runs, 20..100 timed ones, up to 5 ms of timed GPU work (timing.hpp); runs of
// --rest-above-ms or more at least 10 times, each followed by a rest as long (entry_method). The
// ceilings and the collectives without rests.
constexpr TimingMethod kMethod{3, 20, 100, 5.0};
// A memory-bound entry's warm time: 20 runs on one operand set after 3 untimed ones, no more (a
// few microseconds each; the cold time has its full method).
constexpr TimingMethod kWarmMethod{3, 20, 20, 0.0};
constexpr double kEntryOverheadS = 0.5e-3;  // syncs, the hold kernel, cuBLAS's first call per shape
constexpr double kProgressEveryS = 15;
// Waiting for a held-down SM clock before entries (clock_cool_down.hpp) may take this share of
// --time-limit-s, or this many seconds without one.
constexpr double kCoolDownShareOfLimit = 0.1;
constexpr double kCoolDownWithoutLimitS = 60;
constexpr double kCommunicatorInitS = 2;  // ncclCommInitAll per rank count (a guess for --list)

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string shape_text(const OpShape& shape) {
  std::string out = "{";
  for (const auto& [name, v] : shape) out += (out.size() > 1 ? ", " : "") + name + ": " + std::to_string(v);
  return out + "}";
}

// A device name's GPU table row (it prices the plan: caps and order only) and the one-node
// cluster preset of that GPU (scenarios/clusters/), whose collective model the measured
// collectives are compared with. Other devices are planned as the first row.
struct DeviceRow {
  const char* token;    // in the device's name
  const char* gpu;      // GPU table row
  const char* cluster;  // scenarios/clusters/ preset
};
constexpr std::array<DeviceRow, 4> kDeviceRows{{{"H100", "H100-SXM", "dgx-h100.json"},
                                                {"H200", "H200-SXM", "hgx-h200.json"},
                                                {"A100", "A100-SXM-80GB", "dgx-a100.json"},
                                                {"B200", "B200", "dgx-b200.json"}}};

const DeviceRow& device_row(const std::string& device_name) {
  for (const DeviceRow& row : kDeviceRows) {
    if (device_name.find(row.token) != std::string::npos) return row;
  }
  return kDeviceRows[0];
}

GpuSpec planning_gpu(const std::string& device_name) { return *find_gpu(device_row(device_name).gpu); }

// --cluster, or the preset of the GPU table row `gpu_row` (every row of the table has one) in the
// clusters/ folder beside --models (scenarios/clusters/ by default).
ClusterSpec collective_cluster(const ProfilerOptions& o, const std::string& gpu_row) {
  std::filesystem::path file = o.cluster;
  if (file.empty()) {
    const char* preset = kDeviceRows[0].cluster;
    for (const DeviceRow& row : kDeviceRows) {
      if (gpu_row == row.gpu) preset = row.cluster;
    }
    file = (o.models_dir / ".." / "clusters" / preset).lexically_normal();
  }
  return parse_cluster(Node::root(load_json_file(file)));
}

TimingMethod entry_method(const ProfilerOptions& o) {
  TimingMethod m = kMethod;  // with TimingMethod's rest ratio (1) and rested minimum (10 samples)
  m.rest_above_ms = o.rest_above_ms;
  return m;
}

// Seconds the timing loop takes over a call predicted to run `ns` per run (timing.hpp's rule).
double entry_seconds(double ns, const TimingMethod& m) {
  const bool rested = m.rest_above_ms > 0 && ns >= m.rest_above_ms * 1e6;
  const double samples = std::clamp(m.target_ms * 1e6 / std::max(ns, 1.0),
                                    double(rested ? m.rested_min_samples : m.min_samples), double(m.max_samples));
  const double rests = rested ? (samples - 1) * m.rest_ratio : 0.0;
  return (m.warmup + samples + rests) * ns / kNanosPerSecond + kEntryOverheadS;
}

bool selected(const ProfilerOptions& o, const std::string& family) {
  return o.families.empty() || std::find(o.families.begin(), o.families.end(), family) != o.families.end();
}

// An unknown --family is bad input, refused before anything runs (the ceilings alone take
// seconds on a GPU, hours on the emulation), naming the families there are.
void require_known_families(const ProfilerOptions& o) {
  const std::vector<std::string> collectives = measured_collective_names();
  for (const std::string& f : o.families) {
    if (has_kernel(f) || std::find(collectives.begin(), collectives.end(), f) != collectives.end()) continue;
    std::string known;
    for (const std::string& k : kernel_families()) known += (known.empty() ? "" : ", ") + k;
    for (const std::string& k : collectives) known += ", " + k;
    throw InputError("--family: unknown family '" + f + "' (known: " + known + ")");
  }
}

// Whether measure() also times a call warm: memory-bound, its operands' footprint within the L2.
bool timed_warm(const std::string& op, double footprint_bytes, double l2_bytes) {
  return kernel_class(op) == KernelClass::kMemory && footprint_bytes <= l2_bytes;
}

void print_plan(const SweepPlan& plan, const GpuSpec& gpu, const TimingMethod& method, std::ostream& log) {
  std::map<std::string, std::pair<std::int64_t, double>> by_family;  // entries, predicted seconds
  double total = 0;
  std::int64_t warm = 0;
  for (const PlannedCall& c : plan.calls) {
    double s = entry_seconds(c.predicted_ns, method);
    if (timed_warm(c.call.op, c.call.bytes.value, gpu.l2.value)) {  // bytes read + written: the footprint
      s += (kWarmMethod.warmup + kWarmMethod.max_samples) * c.predicted_ns / kNanosPerSecond;
      ++warm;
    }
    s *= variant_count(c);
    by_family[c.call.op].first += 1;
    by_family[c.call.op].second += s;
    total += s;
  }
  log << "plan: " << plan.calls.size() << " kernel shapes, predicted " << std::fixed << std::setprecision(0) << total
      << " s of measurement on " << gpu.name << " (analytic times; caps " << std::setprecision(1)
      << plan.matrix_cap_ns / 1e6 << " ms matrix, " << plan.memory_cap_ns / 1e6 << " ms memory-bound; " << warm
      << " memory-bound shapes within the L2 timed warm too)\n";
  log << "  with the layouts of the validation campaign's " << plan.campaign_configs << " configurations ("
      << plan.campaign_dir.string() << ")\n";
  log << "  " << std::left << std::setw(22) << "family" << std::right << std::setw(8) << "shapes" << std::setw(12)
      << "predicted s" << "\n";
  for (const auto& [family, v] : by_family) {
    log << "  " << std::left << std::setw(22) << family << std::right << std::setw(8) << v.first << std::setw(12)
        << std::setprecision(1) << v.second << "\n";
  }
  for (const auto& [family, n] : plan.over_cap) log << "  over the cap, left to the roofline: " << family << " " << n << "\n";
  for (const auto& [family, n] : plan.without_kernel) {
    log << "  no kernel in kernels/ yet, left to the analytic model: " << family << " " << n << "\n";
  }
}

void print_collective_plan(const std::vector<PlannedCollective>& plan, int gpus, const ClusterSpec& cluster,
                           std::ostream& log) {
  const auto ranks = collective_rank_counts(gpus);
  double total = kCommunicatorInitS * static_cast<double>(ranks.size());
  for (const PlannedCollective& c : plan) total += entry_seconds(c.predicted_ns, kMethod);
  log << "collectives (NCCL, measured when 2 or more GPUs are visible; planned for " << gpus << "): " << plan.size()
      << " entries, predicted " << std::fixed << std::setprecision(0) << total << " s (the model of " << cluster.name
      << ", plus " << kCommunicatorInitS << " s per rank count for the communicators)\n";
  if (plan.empty()) return;
  log << "  ranks";
  for (const std::int64_t n : ranks) log << " " << n;
  log << "; bytes per rank";
  for (const PlannedCollective& c : plan) {
    if (c.ranks == plan.front().ranks && c.kind == plan.front().kind) log << " " << format_bytes(Bytes{double(c.bytes)});
  }
  log << "\n  ";
  std::string last;
  for (const PlannedCollective& c : plan) {
    if (c.ranks != ranks.front() || last == collective_name(c.kind)) continue;
    log << (last.empty() ? "" : ", ") << collective_name(c.kind) << " " << collective_dtype(c.kind);
    last = collective_name(c.kind);
  }
  log << "\n";
}

struct VariantTiming {
  std::string name;
  Timing timing;
  // A memory-bound call whose operands fit in the L2: the median re-run on one operand set, its
  // inputs left in the L2 by the run before (the profile entry's warm_ns); 0 otherwise.
  double warm_ns = 0;
  // NVML's SM clock right after the timed runs (0 without NVML); below the card's maximum, it was
  // capping its power (clock_cool_down.hpp).
  int sm_clock_mhz = 0;
};

struct MeasuredEntry {
  const PlannedCall* call;
  std::vector<VariantTiming> variants;  // the ones that ran
  std::size_t best = 0;
  const Timing& timing() const { return variants[best].timing; }
};

// Why entries were skipped: the count per reason, and one example each.
class SkipLog {
 public:
  void add(const std::string& reason, const PlannedCall& c) {
    auto& [n, example] = reasons_[reason];
    if (n++ == 0) example = c.call.op + " " + shape_text(c.call.shape);
  }
  void print(std::ostream& log) const {
    for (const auto& [reason, v] : reasons_) log << "  skipped " << v.first << " (" << reason << "), e.g. " << v.second << "\n";
  }
  std::size_t total() const {
    std::size_t n = 0;
    for (const auto& [reason, v] : reasons_) n += static_cast<std::size_t>(v.first);
    return n;
  }

 private:
  std::map<std::string, std::pair<std::int64_t, std::string>> reasons_;
};

bool out_of_memory(const CudaError& e) { return e.code() == cudaErrorMemoryAllocation; }

// Room for `sets` sets; after an allocation failure, frees the pools and tries once more.
void reserve(OperandPools& pools, const std::vector<Operand>& operands, int sets, cudaStream_t stream) {
  try {
    pools.reserve(operands, sets, stream);
  } catch (const CudaError& e) {
    if (!out_of_memory(e)) throw;
    cudaGetLastError();
    pools.release();
    pools.reserve(operands, sets, stream);
  }
}

std::optional<MeasuredEntry> measure(const PlannedCall& c, const TimingMethod& method, const RunContext& ctx,
                                     const DeviceInfo& device, OperandPools& pools, EventTimer& timer,
                                     SkipLog& skips) {
  MeasuredEntry entry{&c, {}, 0};
  for (int v = 0; v < variant_count(c); ++v) {
    const std::string name = variant_name(c, v);
    try {
      KernelRun run = make_run(c, v, ctx);
      const std::size_t footprint = OperandPools::footprint(run.operands);
      const int sets = rotation_sets(footprint, device.l2_bytes, kMethod.warmup + kMethod.max_samples);
      reserve(pools, run.operands, sets, ctx.stream);
      const Timing t =
          timer.time(sets, method, [&](int set) { run.launch(pools.set(run.operands, set), ctx.stream); });
      const int clock = current_sm_clock_mhz(device);
      double warm_ns = 0;
      if (timed_warm(c.call.op, static_cast<double>(footprint), static_cast<double>(device.l2_bytes))) {
        warm_ns = timer.time(1, kWarmMethod, [&](int) { run.launch(pools.set(run.operands, 0), ctx.stream); }).p50_ns;
      }
      entry.variants.push_back({name, t, warm_ns, clock});
    } catch (const UnsupportedShape& e) {
      skips.add(e.what(), c);
    } catch (const PreconditionError& e) {
      skips.add(std::string("launcher precondition: ") + e.what(), c);
    } catch (const CublasError& e) {
      if (variant_count(c) == 1) throw;
      skips.add("variant " + name + ": " + cublasGetStatusName(e.status()), c);  // the other variant still counts
    } catch (const CudaError& e) {
      if (!out_of_memory(e)) throw;
      cudaGetLastError();
      skips.add("does not fit in device memory", c);
    }
  }
  // A pool grown for one very large entry (the optimizer over 2^31 parameters) would crowd the
  // next ones; give such room back.
  if (pools.held_bytes() > device.hbm_bytes / 4) pools.release();
  if (entry.variants.empty()) return std::nullopt;
  // The first variant is what the runner runs (kernel_runs.hpp): its time is the entry's. Where it
  // could not run, the fastest of the others stands in.
  if (entry.variants.front().name != variant_name(c, 0)) {
    for (std::size_t i = 1; i < entry.variants.size(); ++i) {
      if (entry.variants[i].timing.p50_ns < entry.timing().p50_ns) entry.best = i;
    }
  }
  return entry;
}

// What the entry achieved: FLOP/s for matrix and attention kernels, bytes/s for the others.
std::string achieved(const KernelCall& call, double ns) {
  const Seconds t{ns / kNanosPerSecond};
  if (kernel_class(call.op) == KernelClass::kMemory) return format_bandwidth(rate(call.bytes, t), 3);
  return format_flops_rate(rate(call.flops, t), 3);
}

void report_families(const std::vector<MeasuredEntry>& entries, const GpuSpec& gpu, std::ostream& log) {
  struct Family {
    std::vector<double> rate, ratio;  // achieved per second; measured / analytic
  };
  std::map<std::string, Family> families;
  for (const MeasuredEntry& e : entries) {
    const KernelCall& call = e.call->call;
    const double t = e.timing().p50_ns / kNanosPerSecond;
    const bool memory = kernel_class(call.op) == KernelClass::kMemory;
    Family& f = families[call.op];
    f.rate.push_back((memory ? call.bytes.value : call.flops.value) / t);
    f.ratio.push_back(e.timing().p50_ns / static_cast<double>(analytic_kernel_time(gpu, call).value));
  }
  log << "measured kernels (median over a family's shapes; analytic = the " << gpu.name << " row's model):\n";
  log << "  " << std::left << std::setw(22) << "family" << std::right << std::setw(8) << "shapes" << std::setw(16)
      << "median rate" << std::setw(20) << "measured/analytic" << "\n";
  for (auto& [name, f] : families) {
    std::sort(f.rate.begin(), f.rate.end());
    std::sort(f.ratio.begin(), f.ratio.end());
    const double r = percentile(f.rate, 0.5);
    const bool memory = kernel_class(name) == KernelClass::kMemory;
    log << "  " << std::left << std::setw(22) << name << std::right << std::setw(8) << f.rate.size() << std::setw(16)
        << (memory ? format_bandwidth({r}, 3) : format_flops_rate({r}, 3)) << std::setw(20) << std::fixed
        << std::setprecision(2) << percentile(f.ratio, 0.5) << "\n";
  }
}

// The ragged-group variants side by side: each of cuBLAS's ways against the runner's (the first
// variant, whose time the profile keeps), over the shapes where the runner's ran.
void report_grouped_methods(const std::vector<MeasuredEntry>& entries, std::ostream& log) {
  std::map<std::string, std::vector<double>> ratios;  // variant -> its p50 / the runner's p50
  std::string runner;
  for (const MeasuredEntry& e : entries) {
    if (e.variants.size() < 2 || e.best != 0) continue;
    runner = e.variants[0].name;
    for (std::size_t i = 1; i < e.variants.size(); ++i) {
      ratios[e.variants[i].name].push_back(e.variants[i].timing.p50_ns / e.variants[0].timing.p50_ns);
    }
  }
  for (auto& [name, ratio] : ratios) {
    std::sort(ratio.begin(), ratio.end());
    const auto faster = std::count_if(ratio.begin(), ratio.end(), [](double r) { return r < 1.0; });
    log << "grouped_gemm: " << name << " / " << runner << " time: median " << std::setprecision(2)
        << percentile(ratio, 0.5) << ", p10 " << percentile(ratio, 0.1) << ", p90 " << percentile(ratio, 0.9) << "; "
        << name << " faster in " << faster << " of " << ratio.size() << " shapes (the profile keeps "
        << runner << ", what the runner runs)\n";
  }
}

// The entries whose timed runs each had a rest after them (TimingMethod::rest_above_ms), and how
// many of those were still timed while the card held its clock down.
void report_rests(const std::vector<MeasuredEntry>& entries, const TimingMethod& method, const DeviceInfo& device,
                  std::ostream& log) {
  int rested = 0, down = 0;
  for (const MeasuredEntry& e : entries) {
    const VariantTiming& v = e.variants[e.best];
    if (!v.timing.rested) continue;
    ++rested;
    if (clock_held_down(v.sm_clock_mhz, device.max_sm_clock_mhz)) ++down;
  }
  if (rested == 0) return;
  log << "rests: " << rested << " entries of runs of " << std::fixed << std::setprecision(2) << method.rest_above_ms
      << " ms or more timed " << method.rested_min_samples << "+ times, a rest of " << method.rest_ratio
      << " x a run's time after each; " << down << " of them timed with the SM clock held down\n";
}

// The memory-bound entries timed warm too (VariantTiming::warm_ns): how many, and their warm time
// over their cold one, the median per family, the smallest first (what the L2 saves them).
void report_warm(const std::vector<MeasuredEntry>& entries, std::ostream& log) {
  std::map<std::string, std::vector<double>> ratios;  // op -> warm / cold
  std::size_t warm = 0;
  for (const MeasuredEntry& e : entries) {
    const VariantTiming& v = e.variants[e.best];
    if (v.warm_ns <= 0 || v.timing.p50_ns <= 0) continue;
    ++warm;
    ratios[e.call->call.op].push_back(v.warm_ns / v.timing.p50_ns);
  }
  if (warm == 0) return;
  std::vector<std::pair<double, std::string>> by_ratio;
  for (auto& [op, r] : ratios) {
    std::sort(r.begin(), r.end());
    by_ratio.emplace_back(percentile(r, 0.5), op);
  }
  std::sort(by_ratio.begin(), by_ratio.end());
  log << "warm: " << warm << " memory-bound entries whose operands fit in the L2 re-timed on one operand set; "
      << "warm / cold, median by family:";
  for (const auto& [ratio, op] : by_ratio) log << " " << op << " " << std::fixed << std::setprecision(2) << ratio;
  log << "\n";
}

// The SM clock after each entry's timed runs against the card's maximum: how many entries were
// timed while the card held its clocks down, by family. Nothing without NVML.
void report_clocks(const std::vector<MeasuredEntry>& entries, const DeviceInfo& device, std::ostream& log) {
  std::vector<double> clocks;
  std::map<std::string, std::pair<int, int>> families;  // op -> (held down, entries)
  for (const MeasuredEntry& e : entries) {
    const int mhz = e.variants[e.best].sm_clock_mhz;
    if (mhz <= 0) continue;
    clocks.push_back(mhz);
    auto& [down, all] = families[e.call->call.op];
    ++all;
    if (clock_held_down(mhz, device.max_sm_clock_mhz)) ++down;
  }
  if (clocks.empty() || device.max_sm_clock_mhz <= 0) return;
  std::sort(clocks.begin(), clocks.end());
  int down_total = 0;
  for (const auto& [op, counts] : families) down_total += counts.first;
  log << "SM clock right after each entry's timed runs: median " << std::fixed << std::setprecision(0)
      << percentile(clocks, 0.5) << " MHz, p10 " << percentile(clocks, 0.1) << ", min " << clocks.front() << " (max "
      << device.max_sm_clock_mhz << "); " << down_total << " of " << clocks.size() << " entries below "
      << std::setprecision(0) << kHeldDownShare * 100 << "% of the max (the card capping its power: their times are slow)";
  for (const auto& [op, counts] : families) {
    if (counts.first > 0) log << "; " << op << " " << counts.first << " of " << counts.second;
  }
  log << "\n";
}

std::string csv_text(const std::vector<MeasuredEntry>& entries, const GpuSpec& gpu) {
  std::ostringstream os;
  os << "op,dtype,shape,role,variant,chosen,p10_ns,p50_ns,p90_ns,samples,achieved,analytic_ns,sm_clock_mhz,host_ns,"
        "warm_ns\n";
  for (const MeasuredEntry& e : entries) {
    const KernelCall& call = e.call->call;
    const auto analytic = analytic_kernel_time(gpu, call).value;
    for (std::size_t i = 0; i < e.variants.size(); ++i) {
      const Timing& t = e.variants[i].timing;
      os << call.op << "," << call.dtype << ",\"" << shape_text(call.shape) << "\"," << role_name(e.call->role) << ","
         << e.variants[i].name << "," << (i == e.best ? 1 : 0) << "," << std::fixed << std::setprecision(0) << t.p10_ns
         << "," << t.p50_ns << "," << t.p90_ns << "," << t.samples << "," << achieved(call, t.p50_ns) << ","
         << analytic << "," << e.variants[i].sm_clock_mhz << "," << t.host_ns << "," << e.variants[i].warm_ns << "\n";
    }
  }
  return os.str();
}

std::string plan_csv_text(const SweepPlan& plan) {
  std::ostringstream os;
  os << "op,dtype,shape,role,variants,predicted_ns\n";
  for (const PlannedCall& c : plan.calls) {
    os << c.call.op << "," << c.call.dtype << ",\"" << shape_text(c.call.shape) << "\"," << role_name(c.role) << ","
       << variant_count(c) << "," << std::fixed << std::setprecision(0) << c.predicted_ns << "\n";
  }
  return os.str();
}

class CudaSession {
 public:
  CudaSession() {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&cublas_));
    gemm_bias_ = std::make_unique<GemmBias>();
    ragged_gemm_ = std::make_unique<RaggedGemm>();
  }
  CudaSession(const CudaSession&) = delete;
  CudaSession& operator=(const CudaSession&) = delete;
  ~CudaSession() {
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }
  RunContext context() const { return {cublas_, stream_, kSeed, gemm_bias_.get(), ragged_gemm_.get()}; }

 private:
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<GemmBias> gemm_bias_;
  std::unique_ptr<RaggedGemm> ragged_gemm_;
};

}  // namespace

std::filesystem::path run_profiler(const ProfilerOptions& options, std::ostream& log) {
  const Clock::time_point start = Clock::now();
  const SweepSize size = options.quick ? SweepSize::kQuick : SweepSize::kFull;
  const FamilyFilter kernel_exists = [](const std::string& family) { return has_kernel(family); };
  const FamilyFilter chosen = [&](const std::string& family) { return selected(options, family); };
  const std::int64_t collective_max_bytes = options.collective_max_mib << 20;
  const TimingMethod method = entry_method(options);
  require_known_families(options);

  if (options.list_only) {
    const auto gpu = find_gpu(options.planning_gpu);
    if (!gpu) throw InputError("--gpu: unknown GPU '" + options.planning_gpu + "'");
    const SweepPlan plan = plan_sweep(options.models_dir, size, *gpu, kernel_exists, chosen);
    print_plan(plan, *gpu, method, log);
    const ClusterSpec cluster = collective_cluster(options, gpu->name);
    print_collective_plan(plan_collectives(options.planning_gpu_count, size, collective_max_bytes, cluster, chosen),
                          options.planning_gpu_count, cluster, log);
    if (!options.csv.empty()) write_file_atomic(options.csv, plan_csv_text(plan));
    return {};
  }

  const DeviceInfo device = query_device(kDevice);
  const std::filesystem::path out =
      options.out.empty() ? std::filesystem::path("profiles") / (device_slug(device.name) + ".json") : options.out;
  const GpuSpec gpu = planning_gpu(device.name);
  log << "device: " << device.name << ", " << device.sms << " SMs, " << format_bytes(Bytes{double(device.hbm_bytes)}, 3)
      << " HBM, L2 " << format_bytes(Bytes{double(device.l2_bytes)}, 3) << ", max SM clock " << device.max_sm_clock_mhz
      << " MHz; driver " << device.driver << ", CUDA runtime " << device.cuda_runtime << " (driver supports "
      << device.cuda_driver << "), cuBLAS " << device.cublas << "; " << device.device_count << " GPU(s) visible\n";
  const SweepPlan plan = plan_sweep(options.models_dir, size, gpu, kernel_exists, chosen);
  print_plan(plan, gpu, method, log);
  // Read before measuring, so that a bad cluster file stops the run before it spends GPU time.
  const std::optional<ClusterSpec> cluster =
      device.device_count > 1 ? std::optional(collective_cluster(options, gpu.name)) : std::nullopt;
  const std::vector<PlannedCollective> collective_plan =
      cluster ? plan_collectives(device.device_count, size, collective_max_bytes, *cluster, chosen)
              : std::vector<PlannedCollective>{};
  if (cluster) print_collective_plan(collective_plan, device.device_count, *cluster, log);
  // Refused now rather than after the sweep, whose measurements they hold; after the model and
  // cluster files are read, so that an output naming one of them is refused too.
  require_output_path(out, options.out.empty() ? "the profile (default profiles/<gpu>.json)" : "--out");
  if (!options.csv.empty()) require_output_path(options.csv, "--csv");
  require_distinct_outputs(out, "--out", options.csv, "--csv");

  CudaSession session;
  const RunContext ctx = session.context();
  OperandPools pools(kSeed);
  EventTimer timer(ctx.stream, kMethod.max_samples);

  const CeilingSizes ceiling_sizes{options.ceiling_gemm, static_cast<std::size_t>(options.ceiling_copy_mib) << 20};
  const Ceilings ceilings = measure_ceilings(ctx, device, pools, timer, kMethod, ceiling_sizes);
  log << std::fixed << std::setprecision(1) << "ceilings: bf16 GEMM " << ceilings.gemm << "^3 "
      << format_flops_rate({ceilings.matmul_flops_per_s}, 4) << " (p50 " << ceilings.matmul.p50_ns / 1e3 << " us, p10 "
      << ceilings.matmul.p10_ns / 1e3 << ", p90 " << ceilings.matmul.p90_ns / 1e3 << ", " << ceilings.matmul.samples
      << " samples); device copy " << format_bandwidth({ceilings.copy_bytes_per_s}, 4) << " counting "
      << format_bytes(Bytes{ceilings.copy_bytes}, 3) << " read + written; SM clock under load "
      << (ceilings.sm_clock_under_load_mhz > 0 ? std::to_string(ceilings.sm_clock_under_load_mhz) + " MHz"
                                                : std::string("unknown (no NVML)"))
      << "\n";
  // What every entry's host time holds besides its call: the two events of its timing.
  const Timing event_pair = timer.time_event_pairs(kMethod.max_samples);
  log << std::setprecision(0) << "host time to record an event pair: median " << event_pair.p50_ns << " ns (p10 "
      << event_pair.p10_ns << ", p90 " << event_pair.p90_ns << ")\n";

  std::vector<MeasuredEntry> entries;
  SkipLog skips;
  ClockCoolDown cool_down(
      device.max_sm_clock_mhz,
      options.time_limit_s > 0 ? kCoolDownShareOfLimit * options.time_limit_s : kCoolDownWithoutLimitS,
      [&device] { return current_sm_clock_mhz(device); });
  std::size_t not_started = 0;
  std::string failure;  // the entry and error that stopped the measurement
  double last_progress = 0;
  for (std::size_t i = 0; i < plan.calls.size(); ++i) {
    const double elapsed = seconds_since(start);
    if (options.time_limit_s > 0 && elapsed > options.time_limit_s) {
      not_started = plan.calls.size() - i;
      log << "time limit of " << options.time_limit_s << " s reached: " << not_started
          << " planned shapes not measured, from " << plan.calls[i].call.op << " on\n";
      break;
    }
    if (elapsed - last_progress > kProgressEveryS) {
      log << "  [" << i << "/" << plan.calls.size() << "] " << std::setprecision(0) << elapsed << " s, "
          << plan.calls[i].call.op << " " << shape_text(plan.calls[i].call.shape) << "\n"
          << std::flush;
      last_progress = elapsed;
    }
    // A CUDA or cuBLAS error other than running out of memory can leave the device unusable: stop,
    // but keep what was measured (the profile is written from host memory).
    try {
      cool_down.before_entry();
      if (auto e = measure(plan.calls[i], method, ctx, device, pools, timer, skips)) entries.push_back(std::move(*e));
    } catch (const CudaError& e) {
      failure = plan.calls[i].call.op + " " + shape_text(plan.calls[i].call.shape) + ": " + e.what();
    } catch (const CublasError& e) {
      failure = plan.calls[i].call.op + " " + shape_text(plan.calls[i].call.shape) + ": " + e.what();
    }
    if (!failure.empty()) {
      log << "measurement stopped at " << failure << "\n";
      break;
    }
  }
  if (const std::int64_t unfused = ctx.gemm_bias->unfused_shapes(); unfused > 0) {
    log << "gemm_bias: " << unfused << " shape(s) had no cuBLASLt algorithm with the bias in its epilogue and were "
        << "measured as the product, then bias_add (as the runner runs them)\n";
  }
  CollectiveSweepResult collectives;
  if (!cluster) {
    log << "collectives: skipped, " << device.device_count << " GPU visible\n";
  } else if (!failure.empty()) {
    log << "collectives: not measured, the kernel sweep stopped on an error\n";
  } else if (collective_plan.empty()) {
    log << "collectives: none selected by --family\n";
  } else {
    log << "collectives: " << collective_plan.size() << " entries over " << device.device_count << " GPUs, "
        << nccl_version() << "\n"
        << std::flush;
    const auto out_of_time = [&] { return options.time_limit_s > 0 && seconds_since(start) > options.time_limit_s; };
    collectives = measure_collectives(collective_plan, kMethod, out_of_time, log);
    if (collectives.not_started > 0) {
      log << "time limit of " << options.time_limit_s << " s reached: " << collectives.not_started
          << " planned collectives not measured\n";
    }
    if (!collectives.failure.empty()) {
      failure = "collective " + collectives.failure;
      log << "collectives stopped at " << collectives.failure << "\n";
    }
  }

  if (entries.empty() && collectives.measured.empty()) {
    throw RuntimeFailure("nothing measured (" + std::to_string(plan.calls.size()) + " kernel shapes and " +
                         std::to_string(collective_plan.size()) + " collectives planned" +
                         (failure.empty() ? ", --time-limit-s " + std::to_string(options.time_limit_s) +
                                                " spent before the first" : "; " + failure) +
                         "); no profile written");
  }
  Profile profile;
  profile.source = "measured";
  const int clock = ceilings.sm_clock_under_load_mhz > 0 ? ceilings.sm_clock_under_load_mhz : device.max_sm_clock_mhz;
  profile.device = {device.name, device.sms, Bytes{double(device.hbm_bytes)}, clock, device.driver, device.cuda_runtime};
  profile.created = utc_now_iso8601();
  profile.git_sha = options.git_sha;
  profile.command = options.command;
  profile.matmul_ceiling = {ceilings.matmul_flops_per_s};
  profile.hbm_ceiling = {ceilings.copy_bytes_per_s};
  std::vector<double> gaps;  // each entry's median gap between its timed runs
  for (const MeasuredEntry& e : entries) {
    const Timing& t = e.timing();
    profile.ops.push_back({e.call->call.op, e.call->call.dtype, e.call->call.shape, t.p10_ns, t.p50_ns, t.p90_ns,
                           t.samples, std::max(t.host_ns, 1.0), e.variants[e.best].warm_ns});
    if (t.samples >= 2 && !t.rested) gaps.push_back(t.gap_ns);
  }
  if (!entries.empty()) {  // the entries' host times each hold one event pair
    profile.event_pair_host = ProfileEventPairHost{std::max(event_pair.p10_ns, 1.0),
                                                   std::max(event_pair.p50_ns, 1.0),
                                                   std::max(event_pair.p90_ns, 1.0)};
  }
  if (!gaps.empty()) {
    const Timing g = summarize(gaps);
    profile.launch_gap = ProfileLaunchGap{g.p10_ns, g.p50_ns, g.p90_ns, static_cast<std::int64_t>(gaps.size())};
  }
  for (const MeasuredCollective& c : collectives.measured) {
    profile.collectives.push_back({collective_name(c.call.kind), c.call.ranks, Bytes{double(c.call.bytes)},
                                   c.timing.p10_ns, c.timing.p50_ns, c.timing.p90_ns});
  }
  write_profile(out, profile);
  const Profile reread = load_profile(out);  // the simulator's strict reader accepts what was written
  if (!options.csv.empty()) write_file_atomic(options.csv, csv_text(entries, gpu));

  log << "measured " << entries.size() << " of " << plan.calls.size() << " planned shapes in " << std::setprecision(0)
      << seconds_since(start) << " s; " << skips.total() << " skips, " << not_started << " not started\n";
  skips.print(log);
  if (reread.launch_gap) {
    log << "launch gap (idle between one timed run's stop event and the next one's start) over "
        << reread.launch_gap->entries << " entries: median " << std::setprecision(0) << reread.launch_gap->p50_ns
        << " ns (p10 " << reread.launch_gap->p10_ns << ", p90 " << reread.launch_gap->p90_ns
        << "); the simulator puts it before every operator\n";
  }
  if (!entries.empty()) {  // else only collectives were measured (--family)
    report_families(entries, gpu, log);
    report_grouped_methods(entries, log);
    report_rests(entries, method, device, log);
    report_warm(entries, log);
    report_clocks(entries, device, log);
    cool_down.report(log);
    log << "leave-one-out over the measured profile: ";
    print_leave_one_out(leave_one_out(reread), log);
  }
  if (!reread.collectives.empty()) print_collective_check(check_collectives(reread.collectives, *cluster), log);
  log << "wrote " << out.string() << " (" << reread.ops.size() << " entries, " << reread.collectives.size()
      << " collectives)\n";
  if (!failure.empty()) {
    throw RuntimeFailure("measurement stopped at " + failure + "; " + out.string() + " holds the " +
                         std::to_string(reread.ops.size()) + " entries and " +
                         std::to_string(reread.collectives.size()) + " collectives measured before it");
  }
  return out;
}

}  // namespace ecsim::profiler
