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
  std::filesystem::create_directories(p.parent_path());
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

TEST_CASE("a file reference that reaches a document through a base resolves beside the file that wrote it") {
  // lib/base.json names lib/parts/inner.json as "parts/inner.json"; a variant in another folder
  // patches it without restating that reference.
  write_temp("lib/parts/inner.json", R"({"x": 4})");
  write_temp("lib/deeper/root.json", R"({"part": "../parts/inner.json", "y": 1})");
  write_temp("lib/base.json", R"({"base": "deeper/root.json", "own": "parts/inner.json", "y": 2})");
  const auto variant = write_temp("mine/variant.json", R"({"base": "../lib/base.json", "y": 3})");
  ObjectReader r(Node::root(load_json_file(variant)));
  CHECK(ObjectReader(r.required("own")).integer("x", 0, 10) == 4);   // written in lib/base.json
  CHECK(ObjectReader(r.required("part")).integer("x", 0, 10) == 4);  // written in lib/deeper/root.json
  CHECK(r.integer("y", 0, 10) == 3);

  // A reference the variant restates resolves beside the variant.
  write_temp("mine/parts/inner.json", R"({"x": 7})");
  const auto restated = write_temp("mine/restated.json", R"({"base": "../lib/base.json", "own": "parts/inner.json"})");
  ObjectReader again(Node::root(load_json_file(restated)));
  CHECK(ObjectReader(again.required("own")).integer("x", 0, 10) == 7);

  // An inline object's "base" and the references in that base resolve the same way, also when the
  // inline object itself came from a base file; errors still name the variant and the path.
  write_temp("lib/cluster.json", R"({"part": "parts/inner.json", "n": 1})");
  write_temp("lib/scenario.json", R"({"cluster": {"base": "cluster.json", "n": 2}})");
  const auto outer = write_temp("mine/outer.json", R"({"base": "../lib/scenario.json", "cluster": {"n": 5}})");
  ObjectReader o(Node::root(load_json_file(outer)));
  ObjectReader cluster(o.required("cluster"));
  CHECK(ObjectReader(cluster.required("part")).integer("x", 0, 10) == 4);
  CHECK_THROWS_WITH_AS(cluster.integer("n", 0, 4), doctest::Contains("outer.json: /cluster/n: must be in [0, 4], got 5"),
                       InputError);
}

TEST_CASE("a null that deletes a key of a based object's file reaches that file") {
  write_temp("nulls/parts/x.json", R"({"a": 1, "b": 2})");
  write_temp("nulls/lib.json", R"({"part": "parts/x.json", "inline": {"base": "parts/x.json", "a": 3}})");
  // A variant's object with its own "base" replaces the reference and keeps its nulls.
  const auto own = write_temp("nulls/own.json", R"({"base": "lib.json", "part": {"base": "parts/x.json", "b": null}})");
  ObjectReader o(Node::root(load_json_file(own)));
  ObjectReader part(o.required("part"));
  CHECK(part.integer("a", 0, 10) == 1);
  CHECK_FALSE(part.has("b"));
  // A plain patch over the base's based inline object passes its nulls on to that object's file.
  const auto over = write_temp("nulls/over.json", R"({"base": "lib.json", "inline": {"b": null}})");
  ObjectReader v(Node::root(load_json_file(over)));
  ObjectReader inl(v.required("inline"));
  CHECK(inl.integer("a", 0, 10) == 3);
  CHECK_FALSE(inl.has("b"));
}

TEST_CASE("an object that replaced a base's file reference says so when a key is missing from it") {
  write_temp("replaced/parts/x.json", R"({"a": 1, "b": 2})");
  write_temp("replaced/lib/scenario.json", R"({"part": "../parts/x.json"})");
  const auto variant = write_temp("replaced/mine/v.json", R"({"base": "../lib/scenario.json", "part": {"b": 5}})");
  ObjectReader o(Node::root(load_json_file(variant)));
  ObjectReader part(o.required("part"));
  CHECK(part.integer("b", 0, 10) == 5);
  CHECK_THROWS_WITH_AS(part.integer("a", 0, 10),
                       doctest::Contains("v.json: /part: missing required key 'a'; this object replaces the reference "
                                         "to '../parts/x.json' in "),
                       InputError);
  // The base named absolutely (the temporary folder), so the path to give is absolute too.
  const std::string x = (std::filesystem::temp_directory_path() / "ecsim_json_input_test/replaced/parts/x.json")
                            .lexically_normal()
                            .generic_string();
  const std::string give = "give this object \"base\": \"" + x + "\"";
  CHECK_THROWS_WITH_AS(part.integer("a", 0, 10), doctest::Contains(give.c_str()), InputError);
  // A plain object where no reference was says nothing more.
  const auto plain = write_temp("replaced/mine/plain.json", R"({"base": "../lib/scenario.json", "other": {"b": 5}})");
  ObjectReader p(Node::root(load_json_file(plain)));
  CHECK_THROWS_WITH_AS(ObjectReader(p.required("other")).integer("a", 0, 10),
                       doctest::Contains("replaced/mine/plain.json: /other: missing required key 'a'"), InputError);
  try {
    ObjectReader(p.required("other")).integer("a", 0, 10);
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("replaces") == std::string::npos);
  }
}

TEST_CASE("a key given twice in one object is an error at its path, wherever the object lies") {
  CHECK_THROWS_WITH_AS(parse_json_text(R"({"a": [1, {"x": 1}, {"y": 2, "z": [], "y": 3}]})", "d.json"),
                       "d.json: /a/2/y: the key 'y' is given twice in one object", InputError);
  CHECK_THROWS_WITH_AS(parse_json_text(R"({"k/1": {"v": 1, "v": 1}})", "d.json"),
                       "d.json: /k~11/v: the key 'v' is given twice in one object", InputError);
  // The same key in sibling or nested objects is no repeat.
  CHECK_NOTHROW(parse_json_text(R"({"a": {"x": 1}, "b": {"x": 2, "c": {"x": 3}}, "x": [{"x": 1}, {"x": 2}]})", "ok.json"));
}

TEST_CASE("syntax errors name the file") {
  const auto bad = write_temp("bad.json", "{\"a\": }");
  CHECK_THROWS_WITH_AS(load_json_file(bad), doctest::Contains("bad.json: /: not valid JSON"), InputError);
}
