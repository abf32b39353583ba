// Profile files (schema "ecsim.profile/1", ../shared/DESIGN.md): the strict reader, whose errors
// name the file and the JSON path, and the writer. Keys that carry their unit in the name
// (time_ns, hbm_bytes, *_per_s) hold plain numbers; the ceilings and byte counts also accept a
// value with its unit ("794TFLOPS", "2.97TBps", "80GB").
#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/errors.hpp"
#include "core/input_files.hpp"
#include "cost/analytic_model.hpp"
#include "cost/compute_cost.hpp"

namespace ecsim {
namespace {

// An entry's dtype: an element type, or the compound names the simulator's keys give a weight
// gradient into bf16 (weight_grad_dtype) and each AdamW recipe (optimizer_kernel), read from them.
const std::vector<std::string>& profile_dtypes() {
  static const std::vector<std::string> dtypes = [] {
    std::vector<std::string> d{"bf16", "fp16", "fp32", "fp8", weight_grad_dtype(Dtype::kBf16)};
    for (const Dtype master : {Dtype::kFp32, Dtype::kBf16}) {
      for (const Dtype moments : {Dtype::kFp32, Dtype::kBf16}) {
        for (const Dtype grads : {Dtype::kFp32, Dtype::kBf16}) {
          OptimizerSpec recipe;
          recipe.master = master, recipe.moments = moments, recipe.grads = grads;
          const std::string name = optimizer_kernel(1, recipe).dtype;
          if (std::find(d.begin(), d.end(), name) == d.end()) d.push_back(name);
        }
      }
    }
    return d;
  }();
  return dtypes;
}

// The dimensions a matrix, attention or bias entry must have, exactly; other families name their own.
const std::map<std::string, std::vector<std::string>>& required_dims() {
  static const std::map<std::string, std::vector<std::string>> dims = {
      {"gemm", {"k", "m", "n"}},
      {"gemm_bias", {"k", "m", "n"}},
      {"batched_gemm", {"batch", "k", "m", "n"}},
      {"batched_gemm_bias", {"batch", "k", "m", "n"}},
      {"gemm_wgrad", {"k", "m", "n"}},
      {"batched_gemm_wgrad", {"batch", "k", "m", "n"}},
      {"grouped_gemm", {"groups", "k", "m_total", "n"}},
      {"grouped_gemm_wgrad", {"groups", "k_total", "m", "n"}},
      {"attention_fwd", {"batch", "causal", "head_dim", "heads", "kv_heads", "kv_len", "q_len"}},
      {"attention_bwd", {"batch", "causal", "head_dim", "heads", "kv_heads", "kv_len", "q_len"}},
      {"bias_add", {"n", "rows"}},
      {"bias_add_bwd", {"n", "rows"}},
  };
  return dims;
}

ObjectReader object(const Node& n) {
  if (!n.is_object()) n.fail("must be an object");
  return ObjectReader(n);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

FlopsPerSecond read_flops_rate(const Node& n) {
  const FlopsPerSecond r = n.json().is_number() ? FlopsPerSecond{n.as_number()} : n.as_flops_rate();
  if (!(r.value > 0) || !std::isfinite(r.value)) n.fail("must be > 0");
  return r;
}

BytesPerSecond read_bandwidth(const Node& n) {
  const BytesPerSecond b = n.json().is_number() ? BytesPerSecond{n.as_number()} : n.as_bandwidth();
  if (!(b.value > 0) || !std::isfinite(b.value)) n.fail("must be > 0");
  return b;
}

Bytes read_bytes(const Node& n) {
  if (!n.json().is_number()) return n.as_bytes();
  const std::int64_t v = n.as_int();
  if (v < 0) n.fail("must not be negative, got " + std::to_string(v));
  return Bytes{static_cast<double>(v)};
}

struct Times {
  double p10 = 0, p50 = 0, p90 = 0;
};

// p10 <= p50 <= p90 from r's keys; each > 0, or where zero may be measured (a gap) in [0, 1 s].
Times read_ordered_times(ObjectReader& r, bool zero_allowed) {
  const auto read = [&](const char* key) { return zero_allowed ? r.number(key, 0, 1e9) : r.positive(key); };
  Times t;
  t.p10 = read("p10");
  t.p50 = read("p50");
  t.p90 = read("p90");
  if (t.p10 > t.p50) r.required("p10").fail("p10 exceeds p50 (" + std::to_string(t.p50) + ")");
  if (t.p90 < t.p50) r.required("p90").fail("p90 is below p50 (" + std::to_string(t.p50) + ")");
  return t;
}

Times read_times(const Node& n) {
  ObjectReader r = object(n);
  const Times t = read_ordered_times(r, false);
  r.finish();
  return t;
}

OpShape read_shape(const Node& n, const std::string& family) {
  if (!n.is_object()) n.fail("must be an object of named dimensions");
  OpShape shape;
  for (const auto& item : n.json().items()) {
    const Node dim = n.child(item.key());
    const std::int64_t v = dim.as_int();
    if (v < 0) dim.fail("must not be negative, got " + std::to_string(v));
    shape[item.key()] = v;
  }
  if (shape.empty()) n.fail("has no dimensions");
  auto it = required_dims().find(family);
  if (it != required_dims().end()) {
    std::vector<std::string> have;
    for (const auto& [name, v] : shape) have.push_back(name);
    if (have != it->second) {
      n.fail(family + " needs exactly the dimensions " + join(it->second) + ", got " + join(have));
    }
  }
  if (shape.count("causal") && shape.at("causal") > 1) n.child("causal").fail("must be 0 or 1");
  return shape;
}

ProfileEntry read_entry(const Node& n) {
  ObjectReader r = object(n);
  ProfileEntry e;
  e.op = r.string("op");
  if (e.op.empty()) r.required("op").fail("must name a kernel family");
  e.dtype = r.choice("dtype", profile_dtypes());
  e.shape = read_shape(r.required("shape"), e.op);
  const Times t = read_times(r.required("time_ns"));
  e.p10_ns = t.p10, e.p50_ns = t.p50, e.p90_ns = t.p90;
  e.samples = r.integer("samples", 0, std::int64_t{1} << 40);
  if (auto host = r.optional("host_ns")) {
    e.host_ns = host->as_number();
    if (!(e.host_ns > 0) || e.host_ns > 1e9) host->fail("must be > 0 and at most 1 s");
  }
  if (auto warm = r.optional("warm_ns")) {
    e.warm_ns = warm->as_number();
    if (!(e.warm_ns > 0) || e.warm_ns > 1e9) warm->fail("must be > 0 and at most 1 s");
  }
  r.finish();
  return e;
}

ProfileLaunchGap read_launch_gap(const Node& n) {
  ObjectReader r = object(n);
  const Times t = read_ordered_times(r, true);
  ProfileLaunchGap g{t.p10, t.p50, t.p90, 0};
  g.entries = r.integer("entries", 1, std::int64_t{1} << 40);
  r.finish();
  return g;
}

ProfileCollective read_collective(const Node& n) {
  ObjectReader r = object(n);
  ProfileCollective c;
  c.op = r.string("op");
  c.ranks = r.integer("ranks", 2, std::int64_t{1} << 24);
  c.bytes = read_bytes(r.required("bytes"));
  const Times t = read_times(r.required("time_ns"));
  c.p10_ns = t.p10, c.p50_ns = t.p50, c.p90_ns = t.p90;
  r.finish();
  return c;
}

// Times are whole nanoseconds in analytic profiles; write them without a fraction.
Json number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) return static_cast<std::int64_t>(v);
  return v;
}

Json times_json(double p10, double p50, double p90) {
  return {{"p10", number(p10)}, {"p50", number(p50)}, {"p90", number(p90)}};
}

}  // namespace

Profile load_profile(const std::filesystem::path& file) {
  // Parsed as it is (no "base" patches or file references: a profile is one self-contained file).
  const JsonDocument doc = parse_json_text(read_input_file(file, "profile"), file);
  const Node root = Node::root(doc);
  ObjectReader r = object(root);
  Profile p;
  p.file = file;
  const std::string schema = r.string("schema");
  if (schema != kProfileSchema) {
    r.required("schema").fail("unsupported schema \"" + schema + "\" (this ecsim reads \"" + kProfileSchema + "\")");
  }
  p.source = r.choice("source", {"measured", "analytic"});

  ObjectReader dev = object(r.required("device"));
  p.device.name = dev.string("name");
  p.device.sms = dev.integer("sms", 1, 1 << 20);
  p.device.hbm = read_bytes(dev.required("hbm_bytes"));
  p.device.clock_mhz = dev.integer("clock_mhz", 0, 1 << 20);
  p.device.driver = dev.string("driver");
  p.device.cuda = dev.string("cuda");
  dev.finish();

  p.created = r.string("created");
  ObjectReader tool = object(r.required("tool"));
  p.git_sha = tool.string("git_sha");
  p.command = tool.string("command");
  tool.finish();

  ObjectReader ceilings = object(r.required("ceilings"));
  p.matmul_ceiling = read_flops_rate(ceilings.required("bf16_matmul_flops_per_s"));
  p.hbm_ceiling = read_bandwidth(ceilings.required("hbm_bytes_per_s"));
  ceilings.finish();
  if (auto gap = r.optional("launch_gap_ns")) {
    if (p.source != "measured") gap->fail("only a measured profile has a launch gap");
    p.launch_gap = read_launch_gap(*gap);
  }

  if (auto pair = r.optional("event_pair_host_ns")) {
    if (p.source != "measured") pair->fail("only a measured profile has host times");
    const Times t = read_times(*pair);
    p.event_pair_host = ProfileEventPairHost{t.p10, t.p50, t.p90};
  }

  std::map<std::string, std::string> seen;  // entry key -> its JSON path
  for (const Node& n : r.required("ops").as_array()) {
    ProfileEntry e = read_entry(n);
    if (p.source == "measured" && e.samples < 1) n.child("samples").fail("a measured entry needs at least 1 sample");
    if (e.host_ns > 0 && !p.event_pair_host) {
      n.child("host_ns").fail("an entry's host time needs the profile's \"event_pair_host_ns\"");
    }
    if (e.warm_ns > 0 && p.source != "measured") n.child("warm_ns").fail("only a measured profile has warm times");
    if (e.warm_ns > 0 && kernel_class(e.op) != KernelClass::kMemory) {
      n.child("warm_ns").fail("only a memory-bound kernel's entry has a warm time, not " + e.op + "'s");
    }
    auto [it, fresh] = seen.emplace(kernel_key(e.op, e.dtype, e.shape), n.path());
    if (!fresh) n.fail("duplicate of " + it->second + " (same op, dtype and shape)");
    p.ops.push_back(std::move(e));
  }
  if (auto coll = r.optional("collectives")) {
    for (const Node& n : coll->as_array()) p.collectives.push_back(read_collective(n));
  }
  r.finish();
  return p;
}

Json profile_to_json(const Profile& p) {
  Json ops = Json::array();
  for (const auto& e : p.ops) {
    Json shape = Json::object();
    for (const auto& [name, v] : e.shape) shape[name] = v;
    ops.push_back({{"op", e.op},
                   {"dtype", e.dtype},
                   {"shape", shape},
                   {"time_ns", times_json(e.p10_ns, e.p50_ns, e.p90_ns)},
                   {"samples", e.samples}});
    if (e.host_ns > 0) ops.back()["host_ns"] = number(e.host_ns);
    if (e.warm_ns > 0) ops.back()["warm_ns"] = number(e.warm_ns);
  }
  Json j = {{"schema", kProfileSchema},
            {"source", p.source},
            {"device",
             {{"name", p.device.name},
              {"sms", p.device.sms},
              {"hbm_bytes", number(p.device.hbm.value)},
              {"clock_mhz", p.device.clock_mhz},
              {"driver", p.device.driver},
              {"cuda", p.device.cuda}}},
            {"created", p.created},
            {"tool", {{"git_sha", p.git_sha}, {"command", p.command}}},
            {"ceilings",
             {{"bf16_matmul_flops_per_s", number(p.matmul_ceiling.value)},
              {"hbm_bytes_per_s", number(p.hbm_ceiling.value)}}},
            {"ops", std::move(ops)}};
  if (p.launch_gap) {
    j["launch_gap_ns"] = times_json(p.launch_gap->p10_ns, p.launch_gap->p50_ns, p.launch_gap->p90_ns);
    j["launch_gap_ns"]["entries"] = p.launch_gap->entries;
  }
  if (p.event_pair_host) {
    const ProfileEventPairHost& e = *p.event_pair_host;
    j["event_pair_host_ns"] = times_json(e.p10_ns, e.p50_ns, e.p90_ns);
  }
  if (!p.collectives.empty()) {
    Json coll = Json::array();
    for (const auto& c : p.collectives) {
      coll.push_back({{"op", c.op},
                      {"ranks", c.ranks},
                      {"bytes", number(c.bytes.value)},
                      {"time_ns", times_json(c.p10_ns, c.p50_ns, c.p90_ns)}});
    }
    j["collectives"] = std::move(coll);
  }
  return j;
}

std::string format_profile(const Profile& p) {
  const Json j = profile_to_json(p);
  // Header keys first in the schema's order, then the arrays with one element per line.
  const std::array<const char*, 8> header{"schema",   "source",        "device", "created",
                                          "tool",     "ceilings",      "launch_gap_ns",
                                          "event_pair_host_ns"};
  std::string out = "{\n";
  for (const char* key : header) {
    if (j.contains(key)) out += "  \"" + std::string(key) + "\": " + j.at(key).dump() + ",\n";
  }
  auto array = [&](const char* key, bool last) {
    out += "  \"" + std::string(key) + "\": [";
    const Json& items = j.at(key);
    for (std::size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "\n    " : ",\n    ") + items[i].dump();
    out += items.empty() ? "]" : "\n  ]";
    out += last ? "\n" : ",\n";
  };
  const bool has_collectives = j.contains("collectives");
  array("ops", !has_collectives);
  if (has_collectives) array("collectives", true);
  out += "}\n";
  return out;
}

void write_profile(const std::filesystem::path& file, const Profile& p) { write_file_atomic(file, format_profile(p)); }

}  // namespace ecsim
