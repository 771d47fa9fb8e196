#include <sys/wait.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "device_names.h"
#include "render.h"

namespace heaplens::cli {

namespace {

using json = nlohmann::ordered_json;

json stack_json(const model::SiteRow& row) {
  json frames = json::array();
  for (const model::Frame& f : row.frames) {
    json j = {{"pc", fmt::format("0x{:x}", f.pc)}, {"function", f.function}, {"file", f.file},
              {"line", f.line}, {"module", f.module}};
    if (!f.inlined.empty()) {
      json inl = json::array();
      for (const auto& i : f.inlined) inl.push_back({{"function", i.function}, {"file", i.file}, {"line", i.line}});
      j["inlined_into"] = inl;
    }
    frames.push_back(std::move(j));
  }
  return frames;
}

json site_json(const model::SiteRow& row, bool with_suppression) {
  json j = {{"bytes", row.bytes.rounded()}, {"blocks", row.blocks.rounded()},
            {"exact", row.bytes.exact() && row.blocks.exact()}};
  if (!row.bytes.exact()) j["error_bytes"] = static_cast<std::uint64_t>(row.bytes.error() + 0.5);
  if (row.device != 0) {
    j["device"] = row.device;
    j["device_name"] = model::device_name(row.device);
    j["kind"] = model::kind_name(row.kind);
  }
  if (with_suppression)
    j["suppressed_by"] = row.suppressed_by ? json("leak:" + row.suppressed_by->pattern) : json(nullptr);
  j["stack"] = stack_json(row);
  return j;
}

json rows_json(const std::vector<model::SiteRow>& rows) {
  json a = json::array();
  for (const auto& r : rows) {
    json j = site_json(r, false);
    j["allocations"] = r.count.rounded();
    a.push_back(std::move(j));
  }
  return a;
}

// A leak set's totals; the host's also state their error bounds (device figures are exact).
json leak_totals(const model::LeakSet& l, bool with_error) {
  json j = {{"bytes", l.bytes.rounded()}, {"blocks", l.blocks.rounded()}, {"exact", l.bytes.exact() && l.blocks.exact()}};
  if (with_error) {
    j["error_bytes"] = static_cast<std::uint64_t>(l.bytes.error() + 0.5);
    j["error_blocks"] = static_cast<std::uint64_t>(l.blocks.error() + 0.5);
  }
  j["suppressed_bytes"] = l.suppressed_bytes.rounded();
  j["suppressed_blocks"] = l.suppressed_blocks.rounded();
  return j;
}

json leak_sites(const model::LeakSet& l) {
  json sites = json::array();
  for (const auto& s : l.sites) sites.push_back(site_json(s, true));
  for (const auto& s : l.suppressed) sites.push_back(site_json(s, true));
  return sites;
}

json pool_json(const model::DevicePoolStats& p) {
  return {{"reserved_bytes", p.reserved_bytes}, {"in_use_bytes", p.in_use_bytes},
          {"requested_bytes", p.requested_bytes}, {"cached_bytes", p.cached_bytes},
          {"largest_cached", p.largest_cached}, {"hits", p.hits},
          {"misses", p.misses}, {"hit_rate", p.hit_rate()},
          {"fragmentation", p.fragmentation()}, {"driver_frees", p.driver_frees},
          {"trims", p.trims}};
}

// Host first, then each device used. The host's leaks are the process's totals (its sites are
// in the process's "leaks").
json devices_json(const model::ImageReport& r) {
  json devices = json::array();
  for (const model::DeviceRow& d : r.devices) {
    bool host = d.device == wire::kDeviceHost;
    json j = {{"device", d.device}, {"name", d.name}, {"allocations", d.allocs.rounded()},
              {"bytes", d.alloc_bytes.rounded()}, {"frees", d.frees.rounded()},
              {"peak_bytes", d.peak_bytes.rounded()}, {"peak_time_ns", d.peak_time_ns},
              {"live_bytes", d.live_bytes.rounded()}, {"live_blocks", d.live_blocks.rounded()}};
    if (host) {
      j["leaks"] = leak_totals(r.leaks, true);
    } else {
      j["leaks"] = leak_totals(d.leaks, false);
      j["leaks"]["sites"] = leak_sites(d.leaks);
      json kinds = json::object();
      for (const auto& [kind, k] : d.kinds)
        kinds[model::kind_name(kind)] = {{"allocations", k.allocs}, {"bytes", k.alloc_bytes},
                                         {"live_bytes", k.live_bytes}, {"peak_bytes", k.peak_bytes}};
      j["by_kind"] = std::move(kinds);
      if (d.pool) j["pool"] = pool_json(*d.pool);
    }
    devices.push_back(std::move(j));
  }
  return devices;
}

const char* mode_name(std::uint32_t m) {
  switch (static_cast<wire::Mode>(m)) {
    case wire::Mode::kFull: return "full";
    case wire::Mode::kSampled: return "sampled";
    case wire::Mode::kOff: return "off";
  }
  return "unknown";
}

}  // namespace

std::string render_json(const model::Report& rep, const model::ReportOptions&, const CheckVerdict* v) {
  json root;
  root["tool"] = "heaplens";
  root["version"] = "0.1.0";
  root["trace"] = rep.trace_path;
  root["command"] = rep.command.argv;
  if (rep.exit) {
    int st = rep.exit->wait_status;
    if (WIFSIGNALED(st)) root["status"] = {{"pid", rep.exit->pid}, {"signal", WTERMSIG(st)}};
    else root["status"] = {{"pid", rep.exit->pid}, {"exit_code", WIFEXITED(st) ? WEXITSTATUS(st) : -1}};
  } else {
    root["status"] = nullptr;
  }
  root["complete"] = rep.complete;
  if (!rep.complete) root["trace_message"] = rep.trace_message;
  json procs = json::array();
  for (const auto& r : rep.images) {
    const model::ImageModel& m = *r.image;
    json p;
    p["pid"] = m.info().pid;
    p["ppid"] = m.info().ppid;
    p["image"] = r.index;
    p["image_of_pid"] = m.info().image_of_pid;
    p["executable"] = m.info().executable;
    p["mode"] = mode_name(m.info().mode);
    if (m.sampled()) p["sample_interval"] = m.info().sample_interval;
    p["ended"] = model::to_string(m.state());
    p["leak_checked"] = r.leak_checked;
    p["peak"] = {{"bytes", r.peak.rounded()}, {"exact", r.peak.exact()},
                 {"error_bytes", static_cast<std::uint64_t>(r.peak.error() + 0.5)}, {"time_ns", r.peak_time_ns}};
    if (r.have_counters) {
      p["counters"] = {{"allocations", r.allocations},          {"frees", r.frees},
                       {"bytes_requested", r.bytes_requested},  {"peak_allocated_bytes", r.counter_peak},
                       {"records_written", r.records_written},  {"records_dropped", r.records_dropped},
                       {"stacks_dropped", r.stacks_dropped}};
      if (r.overhead >= 0) p["counters"]["tracking_overhead"] = r.overhead;
    }
    p["records_dropped"] = r.records_dropped;
    json leaks = leak_totals(r.leaks, true);
    leaks["sites"] = leak_sites(r.leaks);
    p["leaks"] = std::move(leaks);
    p["live_at_peak"] = rows_json(r.peak_sites);
    p["top_by_bytes"] = rows_json(r.top_bytes);
    p["top_by_count"] = rows_json(r.top_count);
    p["temporary"] = rows_json(r.temporary);
    json threads = json::array();
    for (const auto& t : r.threads)
      threads.push_back({{"tid", t.tid}, {"allocations", t.allocs.rounded()}, {"bytes", t.alloc_bytes.rounded()},
                         {"frees", t.frees.rounded()}});
    p["threads"] = std::move(threads);
    p["devices"] = devices_json(r);
    procs.push_back(std::move(p));
  }
  root["processes"] = std::move(procs);
  root["totals"] = {{"leaked_bytes", rep.leaked_bytes.rounded()},
                    {"leaked_blocks", rep.leaked_blocks.rounded()},
                    {"suppressed_bytes", rep.suppressed_bytes.rounded()},
                    {"suppressed_blocks", rep.suppressed_blocks.rounded()},
                    {"device_leaked_bytes", rep.device_leaked_bytes.rounded()},
                    {"device_leaked_blocks", rep.device_leaked_blocks.rounded()},
                    {"exact", rep.exact}};
  if (v != nullptr) {
    root["verdict"] = to_string(v->kind);
    root["thresholds"] = {{"max_leaked_bytes", v->limits.max_bytes},
                          {"max_leaked_blocks", v->limits.max_blocks},
                          {"max_leaked_device_bytes", v->limits.max_device_bytes},
                          {"max_leaked_device_blocks", v->limits.max_device_blocks}};
    root["exit_code"] = v->exit_code;
  }
  return root.dump(2) + "\n";
}

}  // namespace heaplens::cli
