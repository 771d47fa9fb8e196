#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "device_names.h"
#include "render.h"

namespace heaplens::cli {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 has no representation for most control characters: drop them.
        if (c >= 0x20 || c == '\n' || c == '\t') out += static_cast<char>(c);
    }
  }
  return out;
}

std::string site_name(const model::SiteRow& row) {
  for (const model::Frame& f : row.frames)
    if (!f.function.empty()) return model::describe(f);
  return row.frames.empty() ? fmt::format("stack {}", row.stack) : model::describe(row.frames.front());
}

struct Case {
  std::string name, failure, body;
  bool error = false;
};

// One leak site. Names must stay the same from run to run (CI systems track testcases by name):
// the device, the site and the program, never a pid; two stacks through the same site are
// numbered.
Case leak_case(const model::SiteRow& row, const std::string& program, bool failed, std::map<std::string, int>* seen) {
  Case c;
  std::string where = row.device == wire::kDeviceHost ? "" : " on " + model::device_name(row.device);
  std::string base = fmt::format("leak{} in {} [{}]", where, site_name(row), program);
  int n = ++(*seen)[base];
  c.name = n == 1 ? base : fmt::format("{} #{}", base, n);
  std::string amount = fmt::format("{} bytes in {} blocks{}{}", row.bytes.rounded(), row.blocks.rounded(),
                                   row.device == wire::kDeviceHost ? "" : fmt::format(" of {} memory", model::kind_name(row.kind)),
                                   row.bytes.exact() ? "" : " (estimate)");
  for (const auto& f : row.frames) c.body += "at " + model::describe(f) + "\n";
  if (failed) c.failure = amount + " leaked";
  else c.body = amount + " leaked, within the limits\n" + c.body;
  return c;
}

}  // namespace

std::string render_junit(const model::Report& rep, const CheckVerdict& v, double seconds) {
  std::string program = rep.command.argv.empty() ? "program" : std::filesystem::path(rep.command.argv[0]).filename().string();
  bool over = v.kind == CheckVerdict::Kind::kLeaks;
  std::vector<Case> cases;
  std::map<std::string, int> seen;
  for (const auto& r : rep.images) {
    if (!r.leak_checked) continue;
    std::string exe = std::filesystem::path(r.image->info().executable).filename().string();
    // A site fails when the limits of its memory (host, or devices) were exceeded.
    for (const auto& row : r.leaks.sites) cases.push_back(leak_case(row, exe, over && v.host_over, &seen));
    for (const auto& d : r.devices)
      for (const auto& row : d.leaks.sites) cases.push_back(leak_case(row, exe, over && v.device_over, &seen));
  }
  if (v.kind == CheckVerdict::Kind::kProgramFailed) {
    Case c;
    c.name = "program exit status";
    c.failure = rep.exit ? describe_status(rep.exit->wait_status) : "no exit status";
    c.error = true;
    cases.push_back(std::move(c));
  }
  if (cases.empty()) cases.push_back({"no leaks", "", "", false});
  std::size_t failures = 0, errors = 0;
  for (const auto& c : cases) {
    if (c.error) ++errors;
    else if (!c.failure.empty()) ++failures;
  }
  std::string suite = "heaplens.leaks." + program;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"heaplens\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n",
                     cases.size(), failures, errors, seconds);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3f}\">\n",
                     xml_escape(suite), cases.size(), failures, errors, seconds);
  for (const auto& c : cases) {
    out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"0\"", xml_escape(c.name), xml_escape(suite));
    if (c.failure.empty() && c.body.empty()) {
      out += "/>\n";
      continue;
    }
    out += ">\n";
    if (!c.failure.empty()) {
      out += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", c.error ? "error" : "failure",
                         xml_escape(c.failure), c.error ? "program-failed" : "leak", xml_escape(c.body),
                         c.error ? "error" : "failure");
    } else {
      out += fmt::format("      <system-out>{}</system-out>\n", xml_escape(c.body));
    }
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace heaplens::cli
