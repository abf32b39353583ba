#include "scenario/layout.hpp"

#include <charconv>
#include <set>
#include <sstream>

namespace ecsim {
namespace {

Recompute recompute_from(const std::string& s) {
  if (s == "selective") return Recompute::kSelective;
  if (s == "full") return Recompute::kFull;
  return Recompute::kNone;
}

}  // namespace

const char* recompute_name(Recompute r) {
  switch (r) {
    case Recompute::kNone: return "none";
    case Recompute::kSelective: return "selective";
    case Recompute::kFull: return "full";
  }
  return "none";
}

Layout parse_layout(const Node& node) {
  ObjectReader r(node);
  Layout l;
  l.dp = r.integer_or("dp", 0, 0, 1 << 20);
  l.tp = r.integer_or("tp", 1, 1, 1024);
  l.pp = r.integer_or("pp", 1, 1, 1024);
  l.vpp = r.integer_or("vpp", 1, 1, 64);
  l.ep = r.integer_or("ep", 1, 1, 1 << 16);
  l.zero = static_cast<int>(r.integer_or("zero", 1, 0, 3));
  l.mbs = r.integer_or("mbs", 1, 1, 1 << 16);
  l.recompute = recompute_from(r.choice("recompute", {"none", "selective", "full"}, "none"));
  r.finish();
  return l;
}

Layout apply_layout_flag(Layout l, const std::string& flag) {
  std::stringstream items(flag);
  std::string item;
  std::set<std::string> given;
  while (std::getline(items, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      throw InputError("--layout: '" + item + "' is not key=value (keys: dp, tp, pp, vpp, ep, zero, mbs, recompute)");
    }
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    // "dp=512,dp=256" would otherwise keep one of them without a word.
    if (!given.insert(key).second) throw InputError("--layout: " + key + " is given twice");
    if (key == "recompute") {
      if (value != "none" && value != "selective" && value != "full") {
        throw InputError("--layout: recompute must be none, selective or full, got '" + value + "'");
      }
      l.recompute = recompute_from(value);
      continue;
    }
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size() || v < 0) {
      throw InputError("--layout: " + key + " must be a whole number >= 0, got '" + value + "'");
    }
    const bool zero_ok = key == "dp" || key == "zero";
    if (v == 0 && !zero_ok) throw InputError("--layout: " + key + " must be >= 1, got 0");
    if (key == "dp") l.dp = v;
    else if (key == "tp") l.tp = v;
    else if (key == "pp") l.pp = v;
    else if (key == "vpp") l.vpp = v;
    else if (key == "ep") l.ep = v;
    else if (key == "mbs") l.mbs = v;
    else if (key == "zero") {
      if (v > 3) throw InputError("--layout: zero must be 0, 1, 2 or 3, got " + value);
      l.zero = static_cast<int>(v);
    } else {
      throw InputError("--layout: unknown key '" + key + "' (keys: dp, tp, pp, vpp, ep, zero, mbs, recompute)");
    }
  }
  return l;
}

Json layout_to_json(const Layout& l) {
  return {{"dp", l.dp}, {"tp", l.tp},     {"pp", l.pp},   {"vpp", l.vpp},
          {"ep", l.ep}, {"zero", l.zero}, {"mbs", l.mbs}, {"recompute", recompute_name(l.recompute)}};
}

std::string layout_to_string(const Layout& l) {
  std::ostringstream os;
  os << "dp=" << l.dp << ",tp=" << l.tp << ",pp=" << l.pp << ",vpp=" << l.vpp << ",ep=" << l.ep
     << ",zero=" << l.zero << ",mbs=" << l.mbs << ",recompute=" << recompute_name(l.recompute);
  return os.str();
}

}  // namespace ecsim
