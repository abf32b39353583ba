// Strict JSON reading: paths in messages, unknown keys, references, "base" patches, cycles.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/json_input.hpp"

using namespace ecsim;

namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_json_input_test";
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST_CASE("values are reached with their JSON path") {
  const auto doc = parse_json_text(R"({"a": {"b": [1, 2.5, "x"]}, "note": "free text"})", "t.json");
  ObjectReader r(Node::root(doc));
  Node b = ObjectReader(r.required("a")).required("b");
  const auto items = b.as_array();
  CHECK(items[0].as_int() == 1);
  CHECK(items[1].path() == "/a/b/1");
  CHECK_THROWS_WITH_AS(items[1].as_int(), "t.json: /a/b/1: must be a whole number, got 2.5", InputError);
  CHECK_THROWS_WITH_AS(items[2].as_number(), "t.json: /a/b/2: must be a number, got a string", InputError);
  r.finish();  // "note" is allowed everywhere
}

TEST_CASE("unknown keys are reported with the keys that are known") {
  const auto doc = parse_json_text(R"({"hidden": 8, "hiden": 9})", "m.json");
  ObjectReader r(Node::root(doc));
  CHECK(r.integer("hidden", 1, 100) == 8);
  CHECK_THROWS_WITH_AS(r.finish(), "m.json: /hiden: unknown key (known here: hidden)", InputError);
}

TEST_CASE("ranges and choices") {
  const auto doc = parse_json_text(R"({"f": -1, "k": "fast", "n": 7})", "r.json");
  ObjectReader r(Node::root(doc));
  CHECK_THROWS_WITH_AS(r.positive("f"), "r.json: /f: must be > 0, got -1", InputError);
  CHECK_THROWS_WITH_AS(r.choice("k", {"a", "b"}), "r.json: /k: must be one of \"a\", \"b\", got \"fast\"", InputError);
  CHECK_THROWS_WITH_AS(r.integer("n", 1, 4), "r.json: /n: must be in [1, 4], got 7", InputError);
  CHECK_THROWS_WITH_AS(r.integer("missing", 1, 4), "r.json: /: missing required key 'missing'", InputError);
}

TEST_CASE("a string where an object is due references a file, resolved beside the referrer") {
  write_temp("inner.json", R"({"x": 3})");
  const auto outer = write_temp("outer.json", R"({"part": "inner.json"})");
  ObjectReader r(Node::root(load_json_file(outer)));
  ObjectReader inner(r.required("part"));
  CHECK(inner.integer("x", 0, 10) == 3);
  CHECK(inner.node().file().filename() == "inner.json");
  CHECK(inner.node().path().empty());
}

TEST_CASE("base files are patched (RFC 7386) and cycles are errors") {
  write_temp("base.json", R"({"a": 1, "b": {"c": 2, "d": 3}})");
  const auto derived = write_temp("derived.json", R"({"base": "base.json", "b": {"d": null, "e": 5}})");
  const auto doc = load_json_file(derived);
  CHECK(*doc.root == Json::parse(R"({"a": 1, "b": {"c": 2, "e": 5}})"));

  const auto loop = write_temp("loop_a.json", R"({"base": "loop_b.json"})");
  write_temp("loop_b.json", R"({"base": "loop_a.json"})");
  CHECK_THROWS_WITH_AS(load_json_file(loop), doctest::Contains("reference cycle"), InputError);
}

TEST_CASE("syntax errors name the file") {
  const auto bad = write_temp("bad.json", "{\"a\": }");
  CHECK_THROWS_WITH_AS(load_json_file(bad), doctest::Contains("bad.json: /: not valid JSON"), InputError);
}
