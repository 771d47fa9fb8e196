// `heaplens ls`: this user's live sessions, and stale segments of processes that are gone.
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include "commands.h"
#include "report.h"
#include "session_reader.h"

namespace heaplens::cli {

namespace {

std::string uptime(std::uint64_t start_realtime_ns) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::uint64_t now = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
  double s = now > start_realtime_ns ? static_cast<double>(now - start_realtime_ns) / 1e9 : 0;
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{}h{:02}m", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
}

}  // namespace

int ls_command(bool clean) {
  std::uint32_t uid = getuid();
  auto sessions = reader::list_sessions(uid);
  std::size_t live = 0, stale = 0;
  fmt::print("{:>8}  {:>9}  {:>11}  {:<8}  {:<9}  {}\n", "PID", "UPTIME", "LIVE", "MODE", "RECORDER", "PROGRAM");
  for (const auto& e : sessions) {
    if (!e.alive) {
      ++stale;
      continue;
    }
    std::string error;
    auto s = reader::Session::open(e.path, reader::Access::kObserve, &error);
    if (!s) {
      fmt::print("{:>8}  {}\n", e.pid, error);
      continue;
    }
    ++live;
    const auto& info = s->info();
    reader::LiveStats st = s->stats();
    std::uint64_t consumer = s->active_consumer_pid();
    const char* mode = info.mode == wire::Mode::kFull ? "full" : info.mode == wire::Mode::kSampled ? "sampled" : "off";
    fmt::print("{:>8}  {:>9}  {:>11}  {:<8}  {:<9}  {}\n", info.pid, uptime(info.start_realtime_ns),
               model::human_bytes(static_cast<double>(st.live_bytes)), mode,
               consumer != 0 ? std::to_string(consumer) : "-", info.executable);
  }
  if (live == 0) fmt::print("(no live heaplens sessions)\n");
  if (stale > 0) {
    if (clean) {
      std::size_t removed = reader::sweep_stale(uid);
      fmt::print(stderr, "heaplens: removed {} stale session segment{} of processes that are gone\n", removed,
                 removed == 1 ? "" : "s");
    } else {
      fmt::print(stderr, "heaplens: {} stale session segment{} of processes that are gone (heaplens ls removes them)\n",
                 stale, stale == 1 ? "" : "s");
    }
  }
  return 0;
}

}  // namespace heaplens::cli
