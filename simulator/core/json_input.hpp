// Strict reading of JSON input files. Every value is reached through a Node that knows its file
// and JSON pointer, so each error names both. A key given twice in one object is an error (JSON
// leaves it undefined; the parser would keep the last). Objects are read through ObjectReader, which
// rejects unknown keys when finished. A string where an object is expected may reference another
// file ("model": "models/ecdit-m-64e.json"), resolved relative to the referring file (the file that
// wrote the string, also when it reaches this one through a "base"); cycles are errors. A
// referenced object may name a "base" file and override some of its keys (JSON merge patch,
// RFC 7386); such an object is a whole value in a variant's patch, and nulls aimed at its file
// reach that file. A key missing from a plain object that replaced a base's file reference says so.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "core/units.hpp"

namespace ecsim {

using Json = nlohmann::json;

// Where a document's values came from: the JSON `json` holds at `prefix` (a JSON pointer) was
// written in `file`. A file with a "base" has its own keys as the first layer and its base's layers
// after them, so that a file reference among the values resolves against the file that wrote it.
struct JsonLayer {
  std::shared_ptr<const Json> json;
  std::string prefix;
  std::filesystem::path file;
};

// One loaded document: keeps the text's file name, and the chain of files that led to it.
struct JsonDocument {
  std::filesystem::path file;
  std::shared_ptr<const Json> root;
  std::vector<std::filesystem::path> chain;  // referring files, outermost first (cycle check)
  std::vector<JsonLayer> layers;             // most derived first; empty: every value is `file`'s
  std::string root_path;                     // the JSON pointer of `root` in `file`, for messages

  // The file that wrote the value at `pointer` (relative to `root`).
  const std::filesystem::path& origin(const std::string& pointer) const;
};

// Parses a file (with "base" resolution); throws InputError naming the file on syntax errors.
JsonDocument load_json_file(const std::filesystem::path& file,
                            std::vector<std::filesystem::path> chain = {});
// Parses text given in memory (the embedded default scenario, the fuzzer).
JsonDocument parse_json_text(std::string_view text, const std::filesystem::path& name);
// The bytes of an input file on disk, noted as one (core/input_files.hpp). A missing file, a folder
// or an unreadable one is an InputError without a JSON path, naming it as `kind` ("file",
// "profile"): "<kind> 'x' does not exist", "... is not a regular file", "cannot open <kind> 'x'".
std::string read_input_file(const std::filesystem::path& file, std::string_view kind);

class Node {
 public:
  Node(std::shared_ptr<const JsonDocument> doc, const Json* value, std::string path);
  static Node root(const JsonDocument& doc);

  const std::string& path() const { return path_; }
  const std::filesystem::path& file() const { return doc_->file; }
  const Json& json() const { return *value_; }
  [[noreturn]] void fail(const std::string& what) const;

  bool is_object() const { return value_->is_object(); }
  bool is_string() const { return value_->is_string(); }
  // An object here, or a string naming a file that holds one (resolved relative to this file).
  Node object_or_reference() const;

  std::string as_string() const;
  bool as_bool() const;
  double as_number() const;
  std::int64_t as_int() const;
  std::vector<Node> as_array() const;
  Bytes as_bytes() const;
  BytesPerSecond as_bandwidth() const;
  Seconds as_duration() const;
  FlopsPerSecond as_flops_rate() const;

  Node child(const std::string& key) const;  // requires the key to exist
  Node element(std::size_t i) const;

 private:
  std::string pointer_in_document() const;  // path_ within doc_->root
  // Where this plain object replaced a file reference that a base file made at the same place
  // (RFC 7386), the words a missing key's error adds: why, and how to patch that file instead.
  std::optional<std::string> replaced_reference_note() const;

  std::shared_ptr<const JsonDocument> doc_;
  const Json* value_;
  std::string path_;
  std::shared_ptr<const std::string> missing_key_note_;  // passed on to children
};

// Reads the keys of one object; finish() reports any key that no one asked for.
class ObjectReader {
 public:
  explicit ObjectReader(const Node& node);  // node must be an object (or a reference to one)
  const Node& node() const { return node_; }
  bool has(const std::string& key) const;
  Node required(const std::string& key);
  std::optional<Node> optional(const std::string& key);

  std::string string(const std::string& key);
  std::string string_or(const std::string& key, const std::string& fallback);
  // One of `choices`; the error lists them.
  std::string choice(const std::string& key, const std::vector<std::string>& choices,
                     const std::string& fallback = {});
  std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::int64_t integer_or(const std::string& key, std::int64_t fallback, std::int64_t min,
                          std::int64_t max);
  double number(const std::string& key, double min, double max);  // inclusive bounds
  double positive(const std::string& key);                             // > 0
  double positive_or(const std::string& key, double fallback);
  double number_or(const std::string& key, double fallback, double min, double max);
  bool boolean_or(const std::string& key, bool fallback);
  void finish() const;  // throws on unknown keys

 private:
  Node node_;
  std::set<std::string> seen_;
};

}  // namespace ecsim
