#include "core/json_input.hpp"

#include "core/embedded_files.hpp"
#include "core/input_files.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace ecsim {
namespace {

std::string describe(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a number";
  }
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// JSON pointer escaping (RFC 6901) for keys that hold '/' or '~'.
std::string escape_key(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// Where the parser is, as a JSON pointer, so that a key given twice in one object can be named:
// JSON leaves duplicates undefined and the parser would keep the last without a word.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::filesystem::path& name) : name_(name) {}

  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start: frames_.push_back({false, 0, {}, {}}); break;
      case Json::parse_event_t::array_start: frames_.push_back({true, 0, {}, {}}); break;
      case Json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) {
          throw InputError(name_.string(), pointer(), "the key '" + top.key + "' is given twice in one object");
        }
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames_.pop_back();
        next_element();
        break;
      case Json::parse_event_t::value: next_element(); break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    std::size_t index;       // arrays: the element being read
    std::string key;         // objects: the key being read
    std::set<std::string> keys;
  };

  void next_element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }

  std::string pointer() const {
    std::string p;
    for (const Frame& f : frames_) p += "/" + (f.array ? std::to_string(f.index) : escape_key(f.key));
    return p;
  }

  std::filesystem::path name_;
  std::vector<Frame> frames_;
};

Json parse_text(std::string_view text, const std::filesystem::path& name) {
  try {
    return Json::parse(text.begin(), text.end(), DuplicateKeyCheck(name));
  } catch (const Json::parse_error& e) {
    throw InputError(name.string(), "/", "not valid JSON (byte " + std::to_string(e.byte) + "): " +
                                             std::string(e.what()).substr(std::string(e.what()).find(':') + 2));
  } catch (const Json::exception& e) {
    // Out-of-range numbers and the like: also the input's fault (found by tests/fuzz).
    throw InputError(name.string(), "/", std::string("not usable JSON: ") + e.what());
  }
}

// An embedded file, else the file on disk. A missing file is an InputError without a JSON path;
// the referring place adds its own.
std::string read_file_text(const std::filesystem::path& file) {
  if (auto embedded = embedded_file(file.lexically_normal().string())) return std::string(*embedded);
  return read_input_file(file, "file");
}

// A loaded base's layers, for the document that patches it: its own, or the whole file as one.
std::vector<JsonLayer> base_layers(const JsonDocument& base) {
  if (!base.layers.empty()) return base.layers;
  return {{base.root, "", base.file}};
}

// RFC 7386 merge patch of `patch` over `target`, with two rules for objects that name their own
// "base" (patches still to be applied to that file when they are read):
// - such an object in `patch` is a whole value (its file with its keys over it): it replaces what
//   `target` holds there, and keeps its nulls, which delete keys of that file;
// - where `target` is such an object (or lies inside one), the patch's nulls are kept as nulls
//   rather than applied, so that they reach the file too.
// Plain RFC 7386 would drop those nulls, and with them keys the user asked to delete.
void merge_patch_keeping_bases(Json& target, const Json& patch, bool target_is_patch = false) {
  if (!patch.is_object() || patch.contains("base")) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  target_is_patch = target_is_patch || target.contains("base");
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!it.value().is_null()) {
      merge_patch_keeping_bases(target[it.key()], it.value(), target_is_patch);
    } else if (target_is_patch) {
      target[it.key()] = nullptr;
    } else {
      target.erase(it.key());
    }
  }
}

}  // namespace

const std::filesystem::path& JsonDocument::origin(const std::string& pointer) const {
  for (const JsonLayer& layer : layers) {
    if (layer.json->contains(Json::json_pointer(layer.prefix + pointer))) return layer.file;
  }
  return file;
}

JsonDocument parse_json_text(std::string_view text, const std::filesystem::path& name) {
  JsonDocument doc;
  doc.file = name;
  doc.root = std::make_shared<const Json>(parse_text(text, name));
  return doc;
}

std::string read_input_file(const std::filesystem::path& file, std::string_view kind) {
  const std::string named = std::string(kind) + " '" + file.string() + "'";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw InputError(named + " does not exist");
  if (!std::filesystem::is_regular_file(file, ec)) throw InputError(named + " is not a regular file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError("cannot open " + named);
  note_input_file(file);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

JsonDocument load_json_file(const std::filesystem::path& file,
                            std::vector<std::filesystem::path> chain) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(file, ec);
  if (ec) canonical = file;
  for (const auto& earlier : chain) {
    if (earlier == canonical) {
      throw InputError(file.string(), "/", "reference cycle: this file refers back to itself through " +
                                               chain.back().string());
    }
  }
  Json root = parse_text(read_file_text(file), file);
  chain.push_back(canonical);

  // "base": a file whose object this one patches (RFC 7386), so variants list only differences.
  if (root.is_object() && root.contains("base")) {
    const Json& base_name = root["base"];
    if (!base_name.is_string()) {
      throw InputError(file.string(), "/base", "must be a file name, got " + describe(base_name));
    }
    auto base_path = file.parent_path() / base_name.get<std::string>();
    JsonDocument base;
    try {
      base = load_json_file(base_path, chain);
    } catch (const InputError& e) {
      if (!e.file().empty()) throw;
      throw InputError(file.string(), "/base", e.what());
    }
    if (!base.root->is_object()) {
      throw InputError(base_path.string(), "/", "a base file must hold an object");
    }
    Json merged = *base.root;
    root.erase("base");
    merge_patch_keeping_bases(merged, root);
    JsonDocument doc;
    doc.file = file;
    doc.root = std::make_shared<const Json>(std::move(merged));
    doc.chain = std::move(chain);
    doc.layers.push_back({std::make_shared<const Json>(std::move(root)), "", file});
    for (JsonLayer& layer : base_layers(base)) doc.layers.push_back(std::move(layer));
    return doc;
  }

  JsonDocument doc;
  doc.file = file;
  doc.root = std::make_shared<const Json>(std::move(root));
  doc.chain = std::move(chain);
  return doc;
}

Node::Node(std::shared_ptr<const JsonDocument> doc, const Json* value, std::string path)
    : doc_(std::move(doc)), value_(value), path_(std::move(path)) {}

Node Node::root(const JsonDocument& doc) {
  auto shared = std::make_shared<const JsonDocument>(doc);
  return Node(shared, shared->root.get(), "");
}

std::string Node::pointer_in_document() const { return path_.substr(doc_->root_path.size()); }

void Node::fail(const std::string& what) const { throw InputError(doc_->file.string(), path_, what); }

Node Node::object_or_reference() const {
  if (value_->is_object() && value_->contains("base")) {
    // An inline object that patches a file: resolved like a file's "base", reported at this path.
    const Json& base_name = (*value_)["base"];
    if (!base_name.is_string()) child("base").fail("must be a file name, got " + describe(base_name));
    const auto base_path = doc_->origin(pointer_in_document() + "/base").parent_path() / base_name.get<std::string>();
    std::vector<std::filesystem::path> chain = doc_->chain;
    if (chain.empty()) chain.push_back(doc_->file);
    JsonDocument base;
    try {
      base = load_json_file(base_path, chain);
    } catch (const InputError& e) {
      if (!e.file().empty()) throw;
      child("base").fail(e.what());
    }
    if (!base.root->is_object()) throw InputError(base_path.string(), "/", "a base file must hold an object");
    Json merged = *base.root;
    Json patch = *value_;
    patch.erase("base");
    merge_patch_keeping_bases(merged, patch);
    auto doc = std::make_shared<JsonDocument>();
    doc->file = doc_->file;
    doc->chain = doc_->chain;
    doc->root = std::make_shared<const Json>(std::move(merged));
    doc->root_path = path_;
    // This object's own keys, as the layers of this document that hold it wrote them, then the base's.
    const std::string here = pointer_in_document();
    if (doc_->layers.empty()) {
      doc->layers.push_back({doc_->root, here, doc_->file});
    } else {
      for (const JsonLayer& layer : doc_->layers) {
        const std::string at = layer.prefix + here;
        if (layer.json->contains(Json::json_pointer(at))) doc->layers.push_back({layer.json, at, layer.file});
      }
    }
    for (JsonLayer& layer : base_layers(base)) doc->layers.push_back(std::move(layer));
    return Node(doc, doc->root.get(), path_);
  }
  if (value_->is_object()) {
    Node plain = *this;
    if (auto note = replaced_reference_note()) plain.missing_key_note_ = std::make_shared<const std::string>(*note);
    return plain;
  }
  if (!value_->is_string()) fail("must be an object or the name of a file holding one, got " + describe(*value_));
  // Relative to the file that wrote this string (a base file's references are the base's).
  auto target = doc_->origin(pointer_in_document()).parent_path() / value_->get<std::string>();
  std::vector<std::filesystem::path> chain = doc_->chain;
  if (chain.empty()) chain.push_back(doc_->file);
  JsonDocument referenced;
  try {
    referenced = load_json_file(target, chain);
  } catch (const InputError& e) {
    // A missing referenced file is reported at the reference.
    if (e.file().empty()) fail(e.what());
    throw;
  }
  if (!referenced.root->is_object()) {
    throw InputError(target.string(), "/", "must hold an object, got " + describe(*referenced.root));
  }
  return Node::root(referenced);
}

std::string Node::as_string() const {
  if (!value_->is_string()) fail("must be a string, got " + describe(*value_));
  return value_->get<std::string>();
}

bool Node::as_bool() const {
  if (!value_->is_boolean()) fail("must be true or false, got " + describe(*value_));
  return value_->get<bool>();
}

double Node::as_number() const {
  if (!value_->is_number()) fail("must be a number, got " + describe(*value_));
  return value_->get<double>();
}

std::int64_t Node::as_int() const {
  if (!value_->is_number()) fail("must be a whole number, got " + describe(*value_));
  const double v = value_->get<double>();
  if (!value_->is_number_integer() && (std::floor(v) != v || !std::isfinite(v))) {
    fail("must be a whole number, got " + number_text(v));
  }
  if (v > 9.0e15 || v < -9.0e15) fail("whole number out of range, got " + number_text(v));
  return value_->is_number_integer() ? value_->get<std::int64_t>() : static_cast<std::int64_t>(v);
}

std::vector<Node> Node::as_array() const {
  if (!value_->is_array()) fail("must be an array, got " + describe(*value_));
  std::vector<Node> out;
  for (std::size_t i = 0; i < value_->size(); ++i) out.push_back(element(i));
  return out;
}

template <typename T, typename Parse>
static T parse_unit(const Node& n, Parse parse, const char* example) {
  if (n.json().is_number()) {
    n.fail("a bare number where a unit is due; write it with its unit, e.g. \"" + std::string(example) + "\"");
  }
  const std::string text = n.as_string();
  try {
    T v = parse(text);
    if (v.value < 0) n.fail("must not be negative, got '" + text + "'");
    return v;
  } catch (const UnitError& e) {
    n.fail(e.what());
  }
}

Bytes Node::as_bytes() const { return parse_unit<Bytes>(*this, parse_bytes, "80GiB"); }
BytesPerSecond Node::as_bandwidth() const { return parse_unit<BytesPerSecond>(*this, parse_bandwidth, "900GBps"); }
Seconds Node::as_duration() const { return parse_unit<Seconds>(*this, parse_duration, "2.5us"); }
FlopsPerSecond Node::as_flops_rate() const { return parse_unit<FlopsPerSecond>(*this, parse_flops_rate, "989TFLOPS"); }

Node Node::child(const std::string& key) const {
  if (!value_->is_object()) fail("must be an object, got " + describe(*value_));
  auto it = value_->find(key);
  if (it == value_->end()) fail("missing required key '" + key + "'" + (missing_key_note_ ? *missing_key_note_ : ""));
  Node n(doc_, &*it, path_ + "/" + escape_key(key));
  n.missing_key_note_ = missing_key_note_;
  return n;
}

Node Node::element(std::size_t i) const {
  Node n(doc_, &(*value_)[i], path_ + "/" + std::to_string(i));
  n.missing_key_note_ = missing_key_note_;
  return n;
}

std::optional<std::string> Node::replaced_reference_note() const {
  const std::string here = pointer_in_document();
  bool written = false;  // the layers are most derived first: the first that holds this object wrote it
  for (const JsonLayer& layer : doc_->layers) {
    const Json::json_pointer at(layer.prefix + here);
    if (!layer.json->contains(at)) continue;
    const Json& v = layer.json->at(at);
    if (written && v.is_string()) {
      const auto target = layer.file.parent_path() / v.get<std::string>();
      // As the user named the base: an absolute path stays one, a relative one is made relative to
      // the file that wrote this object.
      std::filesystem::path writer_dir = doc_->origin(here).parent_path();
      if (writer_dir.empty()) writer_dir = ".";
      std::error_code ec;
      auto from_here =
          target.is_absolute() ? target.lexically_normal() : std::filesystem::proximate(target, writer_dir, ec);
      if (ec) from_here = target;
      return "; this object replaces the reference to '" + v.get<std::string>() + "' in " + layer.file.string() +
             " (RFC 7386), so nothing of that file is read: to patch that file instead, give this object \"base\": \"" +
             from_here.generic_string() + "\"";
    }
    written = true;
  }
  return std::nullopt;
}

ObjectReader::ObjectReader(const Node& node) : node_(node.object_or_reference()) {}

bool ObjectReader::has(const std::string& key) const { return node_.json().contains(key); }

Node ObjectReader::required(const std::string& key) {
  seen_.insert(key);
  return node_.child(key);
}

std::optional<Node> ObjectReader::optional(const std::string& key) {
  seen_.insert(key);
  if (!has(key)) return std::nullopt;
  return node_.child(key);
}

std::string ObjectReader::string(const std::string& key) { return required(key).as_string(); }

std::string ObjectReader::string_or(const std::string& key, const std::string& fallback) {
  auto n = optional(key);
  return n ? n->as_string() : fallback;
}

std::string ObjectReader::choice(const std::string& key, const std::vector<std::string>& choices,
                                 const std::string& fallback) {
  auto n = optional(key);
  if (!n) {
    if (fallback.empty()) node_.child(key);  // reports the missing key
    return fallback;
  }
  const std::string v = n->as_string();
  if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
    n->fail("must be one of " + list + ", got \"" + v + "\"");
  }
  return v;
}

std::int64_t ObjectReader::integer(const std::string& key, std::int64_t min, std::int64_t max) {
  Node n = required(key);
  const std::int64_t v = n.as_int();
  if (v < min || v > max) {
    n.fail("must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(v));
  }
  return v;
}

std::int64_t ObjectReader::integer_or(const std::string& key, std::int64_t fallback, std::int64_t min,
                                      std::int64_t max) {
  if (!has(key)) {
    seen_.insert(key);
    return fallback;
  }
  return integer(key, min, max);
}

double ObjectReader::number(const std::string& key, double min, double max) {
  Node n = required(key);
  const double v = n.as_number();
  if (!(v >= min && v <= max)) {
    n.fail("must be in [" + number_text(min) + ", " + number_text(max) + "], got " + number_text(v));
  }
  return v;
}

double ObjectReader::number_or(const std::string& key, double fallback, double min, double max) {
  if (!has(key)) {
    seen_.insert(key);
    return fallback;
  }
  return number(key, min, max);
}

double ObjectReader::positive(const std::string& key) {
  Node n = required(key);
  const double v = n.as_number();
  if (!(v > 0) || !std::isfinite(v)) n.fail("must be > 0, got " + number_text(v));
  return v;
}

double ObjectReader::positive_or(const std::string& key, double fallback) {
  if (!has(key)) {
    seen_.insert(key);
    return fallback;
  }
  return positive(key);
}

bool ObjectReader::boolean_or(const std::string& key, bool fallback) {
  auto n = optional(key);
  return n ? n->as_bool() : fallback;
}

void ObjectReader::finish() const {
  for (const auto& [key, value] : node_.json().items()) {
    // Every object may carry a free-text "note" (the assumptions behind its numbers).
    if (key == "note") {
      if (!value.is_string()) node_.child(key).as_string();
      continue;
    }
    if (!seen_.count(key)) {
      std::string known;
      for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
      throw InputError(node_.file().string(), node_.path() + "/" + escape_key(key),
                       "unknown key (known here: " + known + ")");
    }
  }
}

}  // namespace ecsim
