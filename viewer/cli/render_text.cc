#include <sys/wait.h>

#include <fmt/format.h>

#include <cstring>

#include "device_names.h"
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

// "1 block", "3 blocks", "~12 ± 3 blocks".
std::string counted(const Estimate& e, const char* noun) {
  return fmt::format("{} {}{}", count_text(e), noun, e.exact() && e.rounded() == 1 ? "" : "s");
}
std::string blocks_text(const Estimate& e) { return counted(e, "block"); }

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

void print_leaks(const model::LeakSet& l, std::size_t max_frames, std::size_t limit, std::FILE* out) {
  std::size_t i = 0;
  for (const auto& row : l.sites) {
    if (i == limit) {
      fmt::print(out, "    ... {} more leak sites\n", l.sites.size() - limit);
      break;
    }
    if (row.device == wire::kDeviceHost) {
      fmt::print(out, "    #{} {} in {} blocks\n", ++i, human_estimate(row.bytes), count_text(row.blocks));
    } else {
      fmt::print(out, "    #{} {} in {} of {} memory on {}\n", ++i, human_estimate(row.bytes), blocks_text(row.blocks),
                 model::kind_name(row.kind), model::device_name(row.device));
    }
    print_stack(row, max_frames, out);
  }
}

std::string image_title(const model::ImageReport& r) {
  const auto& info = r.image->info();
  return fmt::format("process {} (ppid {}{}) {}", info.pid, info.ppid,
                     info.image_of_pid > 0 ? fmt::format(", image {}", info.image_of_pid) : "", info.executable);
}

std::string leak_line(const model::LeakSet& l) {
  std::string s = fmt::format("{} in {} blocks", human_estimate(l.bytes), count_text(l.blocks));
  if (l.bytes.exact() && l.blocks.exact()) s += " (exact)";
  if (l.suppressed_blocks.value > 0.5)
    s += fmt::format("; {} in {} blocks suppressed", human_estimate(l.suppressed_bytes), count_text(l.suppressed_blocks));
  return s;
}

std::string kinds_text(const model::DeviceRow& d) {
  std::string s;
  for (const auto& [kind, k] : d.kinds) {
    s += fmt::format("{}{} {}, {}, peak {}, live {}", s.empty() ? "" : "; ", model::kind_name(kind),
                     counted(Estimate{static_cast<double>(k.allocs)}, "allocation"), human_bytes(static_cast<double>(k.alloc_bytes)),
                     human_bytes(static_cast<double>(k.peak_bytes)), human_bytes(static_cast<double>(k.live_bytes)));
  }
  return s;
}

std::string pool_text(const model::DevicePoolStats& p) {
  return fmt::format("reserved {}, in use {} (requested {}), cached {}, hit rate {:.1f}% ({} hits, {} misses), "
                     "fragmentation {:.1f}%, {} driver frees, {} trims",
                     human_bytes(static_cast<double>(p.reserved_bytes)), human_bytes(static_cast<double>(p.in_use_bytes)),
                     human_bytes(static_cast<double>(p.requested_bytes)), human_bytes(static_cast<double>(p.cached_bytes)),
                     100 * p.hit_rate(), p.hits, p.misses, 100 * p.fragmentation(), p.driver_frees, p.trims);
}

// A device's section: its headline, its kinds, the caching pool, and its leak sites.
void print_device(const model::ImageReport& r, const model::DeviceRow& d, const model::ReportOptions& o, std::FILE* out) {
  fmt::print(out, "  {}: {} ({}), {}, peak {} at {:.3f} s, {} {} in {}\n", d.name, counted(d.allocs, "allocation"),
             human_estimate(d.alloc_bytes), counted(d.frees, "free"),
             human_estimate(d.peak_bytes), static_cast<double>(d.peak_time_ns) / 1e9,
             r.leak_checked ? "leaked" : "live at end", human_estimate(d.leaks.bytes), blocks_text(d.leaks.blocks));
  if (d.leaks.suppressed_blocks.value > 0.5)
    fmt::print(out, "    suppressed: {} in {}\n", human_estimate(d.leaks.suppressed_bytes), blocks_text(d.leaks.suppressed_blocks));
  if (!d.kinds.empty()) fmt::print(out, "    by kind: {}\n", kinds_text(d));
  if (d.pool) fmt::print(out, "    caching pool: {}\n", pool_text(*d.pool));
  print_leaks(d.leaks, o.max_frames, o.top, out);
}

std::string peak_line(const model::ImageReport& r) {
  std::string s = fmt::format("{} at {:.3f} s", human_estimate(r.peak), static_cast<double>(r.peak_time_ns) / 1e9);
  if (r.peak.exact()) s += " (exact, requested bytes)";
  if (r.have_counters) s += fmt::format("; allocator peak {} (exact, size-class bytes)", human_bytes(static_cast<double>(r.counter_peak)));
  return s;
}

std::string limits_text(const CheckVerdict& v, bool devices) {
  auto one = [](std::uint64_t x, const char* unit) {
    return x == UINT64_MAX ? fmt::format("any number of {}", unit) : fmt::format("{} {}", x, unit);
  };
  const LeakLimits& l = v.limits;
  std::string s = one(l.max_bytes, "bytes") + ", " + one(l.max_blocks, "blocks");
  if (devices) s += "; on devices " + one(l.max_device_bytes, "bytes") + ", " + one(l.max_device_blocks, "blocks");
  return s;
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
      fmt::print(out, "  {}: {}\n", r.leak_checked ? "leaked at exit" : "live when recording ended", leak_line(r.leaks));
      print_leaks(r.leaks, o.max_frames, o.top, out);
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
      if (d.device != wire::kDeviceHost) print_device(r, d, o, out);
  }
  for (const auto& p : rep.symbol_problems) fmt::print(out, "note: {}\n", p);
}

void render_check_text(const model::Report& rep, const CheckVerdict& v, std::FILE* out) {
  for (const auto& r : rep.images) {
    if (!r.leak_checked) continue;
    if (!r.leaks.sites.empty()) {
      fmt::print(out, "heaplens: {} leaked {}\n", image_title(r), leak_line(r.leaks));
      print_leaks(r.leaks, 32, SIZE_MAX, out);
    }
    for (const auto& d : r.devices) {
      if (d.leaks.sites.empty()) continue;
      fmt::print(out, "heaplens: {} leaked on {} {}\n", image_title(r), d.name, leak_line(d.leaks));
      print_leaks(d.leaks, 32, SIZE_MAX, out);
    }
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
  bool devices = false;  // device memory was used: say what it leaked, even nothing
  for (const auto& r : rep.images)
    for (const auto& d : r.devices) devices = devices || d.device != wire::kDeviceHost;
  if (devices) {
    totals += fmt::format("; on devices {} in {}", human_bytes(rep.device_leaked_bytes.value), blocks_text(rep.device_leaked_blocks));
    if (rep.device_suppressed_blocks.value > 0.5)
      totals += fmt::format(" ({} in {} suppressed)", human_bytes(rep.device_suppressed_bytes.value),
                            blocks_text(rep.device_suppressed_blocks));
  }
  switch (v.kind) {
    case CheckVerdict::Kind::kClean:
      fmt::print(out, "heaplens: check passed: leaked {} (limits: {})\n", totals, limits_text(v, devices));
      break;
    case CheckVerdict::Kind::kLeaks:
      fmt::print(out, "heaplens: check FAILED: leaked {} exceeds the limits ({}); exit {}\n", totals, limits_text(v, devices),
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
                           : fmt::format("{} {}", r.leak_checked ? "leaked" : "live at end", leak_line(r.leaks));
    for (const auto& d : r.devices) {
      if (d.device == wire::kDeviceHost || m.state() == model::ImageState::kExec) continue;
      what += fmt::format("; {} peak {}, {} {} in {}", d.name, human_estimate(d.peak_bytes),
                          r.leak_checked ? "leaked" : "live at end", human_estimate(d.leaks.bytes), blocks_text(d.leaks.blocks));
    }
    fmt::print(out, "heaplens: pid {} {}: peak {}; {}; {} records dropped{}\n", m.info().pid, m.info().executable,
               human_estimate(r.peak), what, r.records_dropped,
               r.overhead >= 0 ? fmt::format("; tracking overhead {:.1f}% of CPU", 100 * r.overhead) : "");
  }
}

}  // namespace heaplens::cli
