// `ecsim report`: the chart kit's scales and units, that every chart carries its axis titles,
// legend and data marks, that a report from the fixtures holds every chart and nothing fetched,
// and that bad inputs exit 2 through the real binary, naming the file and the JSON path.
#include <doctest/doctest.h>

#include "cli_runner.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/errors.hpp"
#include "reports/chart_scale.hpp"
#include "reports/display_units.hpp"
#include "reports/html_report.hpp"
#include "reports/markdown_report.hpp"
#include "reports/report_inputs.hpp"
#include "reports/svg_chart.hpp"

using namespace ecsim;

namespace {

const std::filesystem::path kFixtures = std::filesystem::path(ECSIM_SOURCE_DIR) / "tests" / "report_fixtures";

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The text of every <text class="CLASS" ...>...</text> in an SVG.
std::vector<std::string> texts_of_class(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::string open = "<text class=\"" + cls + "\"";
  for (std::size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    const std::size_t start = svg.find('>', at) + 1;
    out.push_back(svg.substr(start, svg.find("</text>", start) - start));
  }
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

std::vector<std::string> fixture_files() {
  std::vector<std::string> files;
  for (const char* f : {"result.json", "plan.json", "routing.json", "validation.json"}) {
    files.push_back((kFixtures / f).string());
  }
  return files;
}

}  // namespace

TEST_CASE("linear axes end on nice ticks that cover the data") {
  // Step ~ span / 6 rounded up to 1, 2, 2.5 or 5 x 10^k: 283.6 / 6 = 47.3 -> 50; 0..300 in 7 ticks.
  const AxisScale a = linear_axis(0, 283.6, 6);
  CHECK(a.lo == 0);
  CHECK(a.hi == doctest::Approx(300));
  CHECK(a.ticks.size() == 7);
  CHECK(tick_label(a, 150) == "150");
  // 14 / 6 = 2.33 -> 2.5, so the axis runs to 15 and labels need one decimal.
  const AxisScale b = linear_axis(0, 14, 6);
  CHECK(b.hi == doctest::Approx(15));
  CHECK(b.decimals == 1);
  CHECK(tick_label(b, 2.5) == "2.5");
  CHECK(tick_label(b, 0) == "0.0");
  // Negative values (prediction errors): -26.9..14.8, span 41.7 / 6 = 6.95 -> 10: -30..20.
  const AxisScale c = linear_axis(-26.9, 14.8, 6);
  CHECK(c.lo == doctest::Approx(-30));
  CHECK(c.hi == doctest::Approx(20));
  CHECK(tick_label(c, -10) == "-10");
  // Small fractions: 0.93 / 5 = 0.186 -> 0.2; 0..1 with one decimal.
  const AxisScale d = linear_axis(0, 0.93, 5);
  CHECK(d.hi == doctest::Approx(1.0));
  CHECK(tick_label(d, 0.6000000000000001) == "0.6");
  // A bound already on a tick stays there (no extra tick from rounding).
  CHECK(linear_axis(0, 0.3, 3).hi == doctest::Approx(0.3));
  // Degenerate domain: lo == hi still gives an axis.
  CHECK(linear_axis(5, 5).hi > 5);
}

TEST_CASE("scales map values onto pixels, linear and log10") {
  const AxisScale a = linear_axis(0, 300, 6);
  CHECK(a.at(150, 100, 700) == doctest::Approx(400));  // halfway of 100..700
  CHECK(a.at(0, 500, 100) == doctest::Approx(500));    // y axes run upward: lo at the bottom
  // Decades: 0.19..8.61 -> 0.1..10; 1 sits halfway, 0.1 at the start.
  const AxisScale l = log_axis(0.19, 8.61);
  REQUIRE(l.ticks.size() == 3);
  CHECK(l.lo == doctest::Approx(0.1));
  CHECK(l.hi == doctest::Approx(10));
  CHECK(l.fraction(1) == doctest::Approx(0.5));
  CHECK(tick_label(l, 0.1) == "0.1");
  CHECK(log_axis(3, 3).ticks.size() == 2);  // one value still spans a decade
}

TEST_CASE("display units: one unit from the largest value, numbers to three digits") {
  CHECK(time_unit_for(0.2836).symbol == "ms");
  CHECK(time_unit_for(4e-4).symbol == "µs");
  CHECK(time_unit_for(60800).symbol == "h");  // 16.9 h to train
  CHECK(bytes_unit_for(30.4e9).symbol == "GiB");
  CHECK(bytes_unit_for(941359104).symbol == "MiB");
  CHECK(format_number(812.4) == "812");
  CHECK(format_number(75.33) == "75.3");
  CHECK(format_number(0.07531) == "0.0753");
  CHECK(format_number(14442.6) == "14443");
  CHECK(format_grouped(14442.6) == "14,443");
  CHECK(format_with_unit(0.0676, percent_unit()) == "6.76%");
  // 2^30 * 28.31 bytes read in GiB.
  CHECK(format_with_unit(28.31 * 1073741824.0, bytes_unit_for(80e9)) == "28.3 GiB");
  CHECK(xml_escape("a<b & \"c\"") == "a&lt;b &amp; &quot;c&quot;");
}

TEST_CASE("a bar chart has its axis titles, a legend entry per series, and one mark per bar") {
  BarChart c;
  c.id = "t";
  c.title = "test";
  c.category_title = "layout";
  c.value_title = "time per training step (ms)";
  c.value_unit = "ms";
  c.categories = {"dp=8,tp=1", "dp=4,tp=2\nep=8"};
  c.series = {{"compute", {50, 60}, ""}, {"exposed <comm>", {230, 140}, ""}};
  c.stacked = true;
  c.limit_name = "HBM capacity";
  c.limits = {300, 300};
  const std::string svg = render_bar_chart(c);
  const auto titles = texts_of_class(svg, "axis-title");
  CHECK(has(titles, "layout"));
  CHECK(has(titles, "time per training step (ms)"));
  const auto legend = texts_of_class(svg, "legend");
  CHECK(has(legend, "compute"));
  CHECK(has(legend, "exposed &lt;comm&gt;"));  // escaped, never raw markup
  CHECK(has(legend, "HBM capacity"));
  CHECK(count(svg, "class=\"mark\"") == 4);  // 2 categories x 2 stacked parts
  CHECK(svg.find("280 ms") != std::string::npos);  // the total after the first bar: 50 + 230
  CHECK(svg.find("<title>dp=4,tp=2 ep=8 | compute: 60.0 ms</title>") != std::string::npos);
}

TEST_CASE("an XY chart has both axis titles, its legend, points and lines as marks") {
  XYChart c;
  c.id = "xy";
  c.title = "pareto";
  c.x_title = "time to train (h)";
  c.y_title = "cost (k GPU·h)";
  c.series = {{"candidate", {17, 29, 52}, {34.6, 29.4, 26.7}, {}, {}, "", Shape::kCircle, XYLine::kNone},
              {"Pareto front", {17, 52}, {34.6, 26.7}, {"2048 GPUs", "512 GPUs"}, {}, "", Shape::kSquare, XYLine::kSteps}};
  const std::string svg = render_xy_chart(c);
  const auto titles = texts_of_class(svg, "axis-title");
  CHECK(has(titles, "time to train (h)"));
  CHECK(has(titles, "cost (k GPU·h)"));
  const auto legend = texts_of_class(svg, "legend");
  CHECK(has(legend, "candidate"));
  CHECK(has(legend, "Pareto front"));
  CHECK(count(svg, "class=\"mark\"") == 3 + 2 + 1);  // points of both series and the front's line
  CHECK(svg.find(">2048 GPUs</text>") != std::string::npos);

  XYChart v;
  v.id = "pm";
  v.x_title = "measured (ms)";
  v.y_title = "predicted (ms)";
  v.x_log = v.y_log = true;
  v.identity = true;
  v.series = {{"operator", {0.25, 8.6}, {0.26, 8.2}, {}, {}, "", Shape::kCircle, XYLine::kNone}};
  const std::string log_svg = render_xy_chart(v);
  CHECK(has(texts_of_class(log_svg, "legend"), "prediction = measurement"));
  CHECK(has(texts_of_class(log_svg, "tick"), "0.1"));
  CHECK(has(texts_of_class(log_svg, "tick"), "10"));
}

TEST_CASE("an interval chart has its axis titles and a legend for box, whiskers and points") {
  IntervalChart c;
  c.id = "iv";
  c.category_title = "routing";
  c.value_title = "time per training step (ms)";
  c.value_unit = "ms";
  c.box_name = "p50 to p95";
  c.whisker_name = "p95 to p99";
  c.point_names = {"mean", "deterministic"};
  c.rows = {{"expert choice", 284, 284, 284, 284, {284, 284}, "p50 284 ms"},
            {"token choice", 295, 295, 310, 319, {297, 284}, "p50 295 ms"}};
  const std::string svg = render_interval_chart(c);
  const auto titles = texts_of_class(svg, "axis-title");
  CHECK(has(titles, "routing"));
  CHECK(has(titles, "time per training step (ms)"));
  const auto legend = texts_of_class(svg, "legend");
  for (const char* name : {"p50 to p95", "p95 to p99", "mean", "deterministic"}) CHECK(has(legend, name));
  CHECK(count(svg, "class=\"mark\"") == 2 * (1 + 2));  // per row: the box and two points
}

TEST_CASE("a report from the fixtures holds every chart, fetches nothing, and writes Markdown tables") {
  const ReportInputs in = load_report_inputs(fixture_files());
  REQUIRE(in.results.size() == 1);
  REQUIRE(in.plans.size() == 1);
  REQUIRE(in.routings.size() == 1);
  REQUIRE(in.validations.size() == 1);
  CHECK(in.plans[0].candidates.size() == 8);
  CHECK(in.routings[0].variants[0].kind == "expert_choice");
  CHECK_FALSE(in.routings[0].variants[0].top_k.has_value());  // expert choice has none
  CHECK(in.routings[0].variants[2].dropless);

  const std::string html = render_html_report(in, "fixture report");
  for (const char* id : {"step-time", "memory", "comm-collective", "comm-tier", "plan-1-ranking", "plan-1-pareto",
                         "routing-1-step-time", "routing-1-a2a", "routing-1-flops", "routing-1-dropped",
                         "validation-1-ops", "validation-1-error", "validation-1-steps"}) {
    CAPTURE(id);
    const std::size_t at = html.find(std::string("data-chart=\"") + id + "\"");
    REQUIRE(at != std::string::npos);
    const std::string svg = html.substr(at, html.find("</svg>", at) - at);
    CHECK(count(svg, "class=\"axis-title\"") >= 2);
    CHECK(count(svg, "class=\"legend\"") >= 1);
    CHECK(count(svg, "class=\"mark\"") >= 1);
  }
  // Self-contained: no script, no stylesheet or font link, no URL of any kind.
  for (const char* banned : {"<script", "<link", "@import", "url(", "http:", "https:", "src="}) {
    CAPTURE(banned);
    CHECK(html.find(banned) == std::string::npos);
  }
  CHECK(html.find("FIXTURE (hand-written, not computed)") != std::string::npos);
  // The validation's warning stands among its facts.
  REQUIRE(in.validations[0].warnings.size() == 1);
  CHECK(html.find("the run was measured on NVIDIA H200, the profile on NVIDIA H100 80GB HBM3") != std::string::npos);

  const std::string md = render_markdown_report(in, "fixture report");
  CHECK(md.rfind("# fixture report\n", 0) == 0);
  CHECK(md.find("| rank | GPUs | layout |") != std::string::npos);
  CHECK(md.find("| ---: |") != std::string::npos);
  CHECK(md.find("MAPE") != std::string::npos);
}

TEST_CASE("a result with a host lane shows the GPU's wait for the host beside its compute") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_report_test_host";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  nlohmann::json result = read_json(kFixtures / "result.json");
  const double compute = result["breakdown"]["compute_s"].get<double>();
  result["host"] = {{"priced", true}, {"gpu_wait_s", 0.25 * compute}, {"issue_s", 0.9 * compute}};
  write_text(dir / "host.json", result.dump());
  // The same result without a priced lane (as `ecsim simulate` writes it from a profile without host times).
  result["host"] = {{"priced", false}, {"gpu_wait_s", 0.0}, {"issue_s", 0.0}};
  write_text(dir / "plain.json", result.dump());

  const ReportInputs in = load_report_inputs({(dir / "host.json").string(), (dir / "plain.json").string()});
  REQUIRE(in.results.size() == 2);
  REQUIRE(in.results[0].host_wait_s.has_value());
  CHECK(*in.results[0].host_wait_s == doctest::Approx(0.25 * compute));
  CHECK_FALSE(in.results[1].host_wait_s.has_value());
  const std::string md = render_markdown_report(in, "host lane");
  CHECK(md.find("| layout | compute | of which waiting for the host | exposed communication |") != std::string::npos);
  CHECK(md.find("not priced") != std::string::npos);
  // Without any priced lane the table keeps its four parts.
  const std::string fixture_md = render_markdown_report(load_report_inputs(fixture_files()), "fixture report");
  CHECK(fixture_md.find("waiting for the host") == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a report names what priced each simulation, and the kernels a profile left to the roofline") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_report_test_pricing";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  nlohmann::json result = read_json(kFixtures / "result.json");
  result["cost_model"]["description"] = "profile profiles/h200-sxm.json (measured, NVIDIA H200, 7309 kernel shapes)";
  result["cost_model"]["outside_profile"] = {
      {{"op", "gemm"}, {"dtype", "bf16"}, {"calls", 28}, {"first_shape", {{"m", 1024}, {"n", 8}, {"k", 1152}}}},
      {{"op", "flow_loss"}, {"dtype", "bf16"}, {"calls", 1}, {"first_shape", {{"elements", 262144}}}}};
  write_text(dir / "result.json", result.dump());
  nlohmann::json validation = read_json(kFixtures / "validation.json");
  validation["cost_model"] = "profile profiles/h100-sxm.json (measured, NVIDIA H100 80GB HBM3, 6657 kernel shapes)";
  validation["pricing"] = {{"outside_profile", nlohmann::json::array()}};
  write_text(dir / "validation.json", validation.dump());

  const ReportInputs in = load_report_inputs({(dir / "result.json").string(), (dir / "validation.json").string()});
  CHECK(in.results[0].pricing.outside_profile ==
        "29 kernel calls: gemm (bf16) x28, e.g. k 1152, m 1024, n 8; flow_loss (bf16) x1, e.g. elements 262144");
  CHECK(in.validations[0].pricing.outside_profile.empty());
  const std::string md = render_markdown_report(in, "pricing");
  CHECK(md.find("costs: profile profiles/h200-sxm.json (measured, NVIDIA H200, 7309 kernel shapes)") !=
        std::string::npos);
  CHECK(md.find("outside the profile: 29 kernel calls: gemm (bf16) x28") != std::string::npos);
  CHECK(md.find("elements 262144 (priced by the analytic roofline)") != std::string::npos);
  CHECK(md.find("costs: profile profiles/h100-sxm.json") != std::string::npos);
  CHECK(count(md, "outside the profile") == 1);  // none for the validation, whose list is empty

  // A shape that is not an object of dimensions: the file and its JSON path.
  result["cost_model"]["outside_profile"][1]["first_shape"] = 262144;
  write_text(dir / "bad.json", result.dump());
  try {
    load_report_inputs({(dir / "bad.json").string()});
    FAIL("a bad first_shape was accepted");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("/cost_model/outside_profile/1/first_shape") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("ecsim report writes HTML and Markdown from the fixtures") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_report_test_ok";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string args = "report";
  for (const auto& f : fixture_files()) args += " '" + f + "'";
  const CliResult r = run_ecsim(args + " -o '" + (dir / "r.html").string() + "' --md '" + (dir / "r.md").string() + "'");
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(std::filesystem::file_size(dir / "r.html") > 10000);
  CHECK(std::filesystem::file_size(dir / "r.md") > 1000);
}

TEST_CASE("report inputs with a missing or wrong key exit 2, name the file and the JSON path, and write nothing") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_report_test_bad";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // Each case: a fixture, a change made to it, the place the message must name and a phrase it must hold.
  struct Case {
    const char* name;
    const char* fixture;
    const char* pointer;  // JSON pointer of the value to remove, or to replace when `value` is set
    const char* value;    // JSON text; nullptr: remove the key
    const char* where;
    const char* what;
  };
  constexpr std::array<Case, 9> kCases{{
      {"unknown_schema", "result.json", "/schema", "\"ecsim.result/9\"", "/schema", "unknown schema \"ecsim.result/9\""},
      {"no_schema", "plan.json", "/schema", nullptr, "/", "missing required key 'schema'"},
      {"result_no_grads", "result.json", "/memory/breakdown/grads", nullptr, "/memory/breakdown",
       "missing required key 'grads'"},
      {"result_no_tiers", "result.json", "/communication/bytes_per_tier", nullptr, "/communication",
       "missing required key 'bytes_per_tier'"},
      {"plan_no_bubble", "plan.json", "/candidates/1/breakdown/bubble_s", nullptr, "/candidates/1/breakdown",
       "missing required key 'bubble_s'"},
      {"routing_no_capacity", "routing.json", "/variants/1/routing/capacity_factor", nullptr, "/variants/1/routing",
       "missing required key 'capacity_factor'"},
      {"routing_no_top_k", "routing.json", "/variants/1/routing/top_k", nullptr, "/variants/1/routing",
       "missing required key 'top_k'"},
      {"validation_string_time", "validation.json", "/per_op/0/measured_s", "\"8.61ms\"", "/per_op/0/measured_s",
       "must be a number"},
      {"mfu_percent", "result.json", "/mfu", "6.8", "/mfu", "must be a fraction in [0, 1]"},
  }};
  const std::string html_out = (dir / "out.html").string();
  for (const auto& c : kCases) {
    const std::string name = c.name;
    CAPTURE(name);
    nlohmann::json j = read_json(kFixtures / c.fixture);
    const nlohmann::json::json_pointer ptr(c.pointer);
    if (c.value == nullptr) {
      j[ptr.parent_pointer()].erase(ptr.back());
    } else {
      j[ptr] = nlohmann::json::parse(c.value);
    }
    const auto bad = dir / (std::string(c.name) + ".json");
    write_text(bad, j.dump(2));
    // A good file first: the report must still not be written.
    const CliResult r = run_ecsim("report '" + (kFixtures / "result.json").string() + "' '" + bad.string() + "' -o '" +
                                   html_out + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(bad.string() + ": " + std::string(c.where)) != std::string::npos);
    CHECK(r.output.find(c.what) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(html_out));
  }

  CHECK_FALSE(std::filesystem::exists(html_out));
}

TEST_CASE("unreadable report inputs and a missing output exit 2") {
  const auto dir = std::filesystem::temp_directory_path() / "ecsim_report_test_unreadable";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string html_out = (dir / "out.html").string();
  SUBCASE("not JSON") {
    write_text(dir / "not_json.json", "{ \"schema\": ");
    const CliResult r = run_ecsim("report '" + (dir / "not_json.json").string() + "' -o '" + html_out + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("not_json.json: /: not valid JSON") != std::string::npos);
  }
  SUBCASE("not an object") {
    write_text(dir / "array.json", "[1, 2]");
    const CliResult r = run_ecsim("report '" + (dir / "array.json").string() + "' -o '" + html_out + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("array.json: /: must be a JSON object") != std::string::npos);
  }
  SUBCASE("a scenario, an input rather than a result") {
    const std::string scenario = (std::filesystem::path(ECSIM_SOURCE_DIR) / "scenarios" / "ecdit-xxl-32e-train.json").string();
    const CliResult r = run_ecsim("report '" + scenario + "' -o '" + html_out + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("ecdit-xxl-32e-train.json: /: a scenario or model, not a result") != std::string::npos);
  }
  SUBCASE("a file that does not exist") {
    const CliResult r = run_ecsim("report '" + (dir / "missing.json").string() + "' -o '" + html_out + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("missing.json") != std::string::npos);
  }
  SUBCASE("no output asked for") {
    const CliResult r = run_ecsim("report '" + (kFixtures / "result.json").string() + "'");
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("nothing to write") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(html_out));
}
