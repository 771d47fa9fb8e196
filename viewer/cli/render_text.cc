#include <sys/wait.h>

#include <fmt/format.h>

#include <cstring>

#include "render.h"

namespace heaplens::cli {

using model::Estimate;
using model::human_bytes;
using model::human_estimate;

namespace {

std::string count_text(const Estimate& e) {
  if (e.exact()) return fmt::format("{}", e.rounded());
  return fmt::format("~{} ± {:.0f}", e.rounded(), e.error());
}

std::string mode_text(const model::ImageModel& m) {
  switch (static_cast<wire::Mode>(m.info().mode)) {
    case wire::Mode::kFull: return "full";
    case wire::Mode::kSampled: return fmt::format("sampled every {} on average", human_bytes(static_cast<double>(m.info().sample_interval)));
    case wire::Mode::kOff: return "off";
  }
  return "?";
}

std::string device_name(std::uint32_t d) {
  if (d == wire::kDeviceHost) return "host";
  if (d >= wire::kDeviceCudaFirst && d < wire::kDeviceCudaFirst + wire::kMaxCudaDevices)
    return fmt::format("cuda:{}", d - wire::kDeviceCudaFirst);
  return fmt::format("device {}", d);
}

void print_stack(const model::SiteRow& row, std::size_t max_frames, std::FILE* out) {
  if (row.frames.empty()) {
    fmt::print(out, "        (no stack: {})\n", row.stack == 0 ? "not unwound, or the stack table was full" : "unknown stack id");
    return;
  }
  std::size_t n = 0;
  for (const model::Frame& f : row.frames) {
    if (n++ == max_frames) {
      fmt::print(out, "        ... {} more frames\n", row.frames.size() - max_frames);
      break;
    }
    fmt::print(out, "        at {}\n", model::describe(f));
    for (const auto& i : f.inlined)
      fmt::print(out, "           inlined into {} ({}:{})\n", i.function.empty() ? "?" : i.function, i.file, i.line);
  }
}

void print_sites(const char* title, const std::vector<model::SiteRow>& rows, bool by_count,
                 const model::ReportOptions& o, std::FILE* out) {
  if (rows.empty()) return;
  fmt::print(out, "  {}:\n", title);
  std::size_t i = 0;
  for (const auto& row : rows) {
    if (by_count) {
      fmt::print(out, "    #{} {} allocations, {}\n", ++i, count_text(row.count), human_estimate(row.bytes));
    } else {
      fmt::print(out, "    #{} {} in {} blocks\n", ++i, human_estimate(row.bytes), count_text(row.blocks));
    }
    print_stack(row, std::min<std::size_t>(o.max_frames, 6), out);
  }
}

void print_leaks(const model::ImageReport& r, std::size_t max_frames, std::size_t limit, std::FILE* out) {
  std::size_t i = 0;
  for (const auto& row : r.leaks) {
    if (i == limit) {
      fmt::print(out, "    ... {} more leak sites\n", r.leaks.size() - limit);
      break;
    }
    fmt::print(out, "    #{} {} in {} blocks{}\n", ++i, human_estimate(row.bytes), count_text(row.blocks),
               row.device != 0 ? " on " + device_name(row.device) : "");
    print_stack(row, max_frames, out);
  }
}

std::string image_title(const model::ImageReport& r) {
  const auto& info = r.image->info();
  return fmt::format("process {} (ppid {}{}) {}", info.pid, info.ppid,
                     info.image_of_pid > 0 ? fmt::format(", image {}", info.image_of_pid) : "", info.executable);
}

std::string leak_line(const model::ImageReport& r) {
  std::string s = fmt::format("{} in {} blocks", human_estimate(r.leaked_bytes), count_text(r.leaked_blocks));
  if (r.leaked_bytes.exact() && r.leaked_blocks.exact()) s += " (exact)";
  if (r.suppressed_blocks.value > 0.5)
    s += fmt::format("; {} in {} blocks suppressed", human_estimate(r.suppressed_bytes), count_text(r.suppressed_blocks));
  return s;
}

std::string peak_line(const model::ImageReport& r) {
  std::string s = fmt::format("{} at {:.3f} s", human_estimate(r.peak), static_cast<double>(r.peak_time_ns) / 1e9);
  if (r.peak.exact()) s += " (exact, requested bytes)";
  if (r.have_counters) s += fmt::format("; allocator peak {} (exact, size-class bytes)", human_bytes(static_cast<double>(r.counter_peak)));
  return s;
}

std::string limits_text(const CheckVerdict& v) {
  auto one = [](std::uint64_t x, const char* unit) {
    return x == UINT64_MAX ? fmt::format("any number of {}", unit) : fmt::format("{} {}", x, unit);
  };
  return one(v.max_bytes, "bytes") + ", " + one(v.max_blocks, "blocks");
}

}  // namespace

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "ended";
}

void render_text(const model::Report& rep, const model::ReportOptions& o, std::FILE* out) {
  if (!rep.command.argv.empty()) {
    std::string cmd;
    for (const auto& a : rep.command.argv) cmd += (cmd.empty() ? "" : " ") + a;
    fmt::print(out, "command: {}\n", cmd);
  }
  if (rep.exit) fmt::print(out, "status:  process {} {}\n", rep.exit->pid, describe_status(rep.exit->wait_status));
  if (!rep.complete) fmt::print(out, "trace:   INCOMPLETE: {}\n", rep.trace_message);
  for (const auto& r : rep.images) {
    const model::ImageModel& m = *r.image;
    fmt::print(out, "\n== {}\n", image_title(r));
    fmt::print(out, "  ended: {}{}; mode: {}\n", model::to_string(m.state()),
               m.end_message().empty() ? "" : " (" + m.end_message() + ")", mode_text(m));
    fmt::print(out, "  peak: {}\n", peak_line(r));
    if (r.have_counters) {
      fmt::print(out, "  calls: {} allocations, {} frees, {} requested (exact counters)\n", r.allocations, r.frees,
                 human_bytes(static_cast<double>(r.bytes_requested)));
      fmt::print(out, "  records: {} written, {} dropped{}; tracking overhead {}\n", r.records_written, r.records_dropped,
                 r.stacks_dropped ? fmt::format(", {} stacks lost", r.stacks_dropped) : "",
                 r.overhead >= 0 ? fmt::format("{:.1f}% of the process's CPU time", 100 * r.overhead) : "unknown");
    }
    if (m.state() == model::ImageState::kExec) {
      fmt::print(out, "  (replaced by exec: what it held is not a leak)\n");
    } else {
      fmt::print(out, "  {}: {}\n", r.leak_checked ? "leaked at exit" : "live when recording ended", leak_line(r));
      print_leaks(r, o.max_frames, o.top, out);
    }
    print_sites("live at the peak", r.peak_sites, false, o, out);
    print_sites("top allocation sites by bytes", r.top_bytes, false, o, out);
    print_sites("top allocation sites by count", r.top_count, true, o, out);
    print_sites("temporary allocations (freed within 1 ms)", r.temporary, true, o, out);
    if (!r.threads.empty()) {
      fmt::print(out, "  threads:\n");
      std::size_t n = 0;
      for (const auto& t : r.threads) {
        if (n++ == o.top) break;
        fmt::print(out, "    {:>10}  {} allocations, {}, {} frees\n",
                   t.tid > 0 ? std::to_string(t.tid) : fmt::format("slot {}", -t.tid), count_text(t.allocs),
                   human_estimate(t.alloc_bytes), count_text(t.frees));
      }
    }
    for (const auto& d : r.devices)
      fmt::print(out, "  {}: {} allocations, {} allocated, peak {}, live {}\n", device_name(d.device),
                 count_text(d.allocs), human_estimate(d.alloc_bytes), human_bytes(d.peak_bytes), human_estimate(d.live_bytes));
  }
  for (const auto& p : rep.symbol_problems) fmt::print(out, "note: {}\n", p);
}

void render_check_text(const model::Report& rep, const CheckVerdict& v, std::FILE* out) {
  for (const auto& r : rep.images) {
    if (!r.leak_checked || r.leaks.empty()) continue;
    fmt::print(out, "heaplens: {} leaked {}\n", image_title(r), leak_line(r));
    print_leaks(r, 32, SIZE_MAX, out);
  }
  for (const auto& r : rep.images) {
    if (r.records_dropped > 0)
      fmt::print(out, "heaplens: warning: process {} dropped {} records; leak figures are a lower bound\n",
                 r.image->info().pid, r.records_dropped);
  }
  if (!rep.complete) fmt::print(out, "heaplens: warning: trace incomplete: {}\n", rep.trace_message);
  std::string totals = fmt::format("{} in {} blocks", human_estimate(rep.leaked_bytes), count_text(rep.leaked_blocks));
  if (rep.suppressed_blocks.value > 0.5)
    totals += fmt::format(" ({} in {} blocks suppressed)", human_bytes(rep.suppressed_bytes.value), count_text(rep.suppressed_blocks));
  switch (v.kind) {
    case CheckVerdict::Kind::kClean:
      fmt::print(out, "heaplens: check passed: leaked {} (limits: {})\n", totals, limits_text(v));
      break;
    case CheckVerdict::Kind::kLeaks:
      fmt::print(out, "heaplens: check FAILED: leaked {} exceeds the limits ({}); exit {}\n", totals, limits_text(v),
                 v.exit_code);
      break;
    case CheckVerdict::Kind::kProgramFailed:
      fmt::print(out, "heaplens: the program failed ({}); leaked {}; exit {}\n",
                 rep.exit ? describe_status(rep.exit->wait_status) : "no exit status", totals, v.exit_code);
      break;
  }
}

void render_summary(const model::Report& rep, std::FILE* out) {
  for (const auto& r : rep.images) {
    const model::ImageModel& m = *r.image;
    std::string what = m.state() == model::ImageState::kExec
                           ? "exec'd"
                           : fmt::format("{} {}", r.leak_checked ? "leaked" : "live at end", leak_line(r));
    fmt::print(out, "heaplens: pid {} {}: peak {}; {}; {} records dropped{}\n", m.info().pid, m.info().executable,
               human_estimate(r.peak), what, r.records_dropped,
               r.overhead >= 0 ? fmt::format("; tracking overhead {:.1f}% of CPU", 100 * r.overhead) : "");
  }
}

const char* to_string(CheckVerdict::Kind k) {
  switch (k) {
    case CheckVerdict::Kind::kClean: return "clean";
    case CheckVerdict::Kind::kLeaks: return "leaks";
    case CheckVerdict::Kind::kProgramFailed: return "program-failed";
  }
  return "?";
}

}  // namespace heaplens::cli
