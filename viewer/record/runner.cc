#include "runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "session_drain.h"
#include "session_name.h"
#include "background_symbolizer.h"
#include "trace_sink.h"
#include "trace_writer.h"

extern char** environ;

namespace heaplens::record {

namespace {

constexpr std::uint64_t kScanEveryNs = 5'000'000;
constexpr std::uint64_t kFlushEveryNs = 200'000'000;
// A name of ours that cannot be opened yet (its producer is still setting it up) is retried
// this long before it is given up on.
constexpr std::uint64_t kOpenRetryNs = 2'000'000'000;

volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_interrupted = 0;

void forward_signal(int sig) {
  if (g_child > 0) kill(static_cast<pid_t>(g_child), sig);
}
void note_interrupt(int) { g_interrupted = 1; }

// Installs a handler for the lifetime of a scope (or until restore()).
class SignalGuard {
 public:
  SignalGuard(int sig, void (*handler)(int)) : sig_(sig) {
    struct sigaction sa{};
    sa.sa_handler = handler;
    sigaction(sig, &sa, &old_);
  }
  ~SignalGuard() { restore(); }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  void restore() {
    if (!restored_) sigaction(sig_, &old_, nullptr);
    restored_ = true;
  }

 private:
  int sig_;
  struct sigaction old_{};
  bool restored_ = false;
};

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void sleep_ms(long ms) {
  timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

std::uint64_t random_run_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    if (getrandom(&id, sizeof(id), 0) != sizeof(id)) id = now_ns() ^ (static_cast<std::uint64_t>(getpid()) << 40);
  }
  return id;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// The environment of the traced program: the caller's, with our settings on top.
std::vector<std::string> child_environment(const RunOptions& o, std::uint64_t run_id) {
  std::map<std::string, std::string> set;
  std::string preload = o.preload;
  if (const char* old = getenv("LD_PRELOAD"); old != nullptr && *old != '\0') preload += std::string(":") + old;
  set["LD_PRELOAD"] = preload;
  set["HEAPLENS_MODE"] = o.mode;
  if (!o.sample_interval.empty()) set["HEAPLENS_SAMPLE_INTERVAL"] = o.sample_interval;
  set["HEAPLENS_KEEP_SESSION"] = "1";
  set["HEAPLENS_RUN_ID"] = fmt::format("{:x}", run_id);
  // This process drains every session as it goes, so a full ring means a burst: the program
  // waits for us (bounded, see HEAPLENS_ON_FULL) rather than lose records.
  set["HEAPLENS_ON_FULL"] = "wait";
  // In full mode a larger ring absorbs bursts while this process is descheduled.
  if (o.lossless) set["HEAPLENS_RING_SIZE"] = "16MiB";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    // HEAPLENS_PRELOAD is this command's setting, not the library's (which would flag it as
    // unknown).
    if (!set.count(key) && key != "HEAPLENS_PRELOAD") env.push_back(kv);
  }
  for (auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

std::string default_trace_path(const std::string& program, std::int64_t pid) {
  std::string base = std::filesystem::path(program).filename().string();
  if (base.empty()) base = "program";
  return fmt::format("heaplens-{}.{}.trace", base, pid);
}

// Finds the sessions of one run in /dev/shm and attaches to each once.
class Discovery {
 public:
  Discovery(std::uint64_t run_id, trace::TraceVisitor* out, BackgroundSymbolizer* symbolizer)
      : run_id_(run_id), uid_(getuid()), out_(out), symbolizer_(symbolizer) {}

  // Attaches to sessions that appeared since the last scan.
  void scan(std::vector<std::unique_ptr<SessionDrain>>* drains, std::uint64_t now) {
    DIR* d = opendir("/dev/shm");
    if (d == nullptr) return;
    while (dirent* e = readdir(d)) {
      std::uint32_t uid, n;
      std::int64_t pid;
      if (!session_name::parse(e->d_name, &uid, &pid, &n) || uid != uid_) continue;
      // An exec'd image creates its session under the name its previous image had (that one
      // was drained and unlinked): a name is a new session when its inode is new.
      std::string name = std::string(e->d_name) + "#" + std::to_string(e->d_ino);
      if (done_.count(name)) continue;
      std::string path = std::string("/dev/shm/") + e->d_name;
      std::string error;
      auto observe = reader::Session::open(path, reader::Access::kObserve, &error);
      if (!observe) {
        auto [it, inserted] = first_seen_.try_emplace(name, now);
        if (!inserted && now - it->second > kOpenRetryNs) done_.insert(name);
        continue;
      }
      if (observe->info().run_id != run_id_) {
        done_.insert(name);
        continue;
      }
      observe.reset();
      auto session = reader::Session::open(path, reader::Access::kDrain, &error);
      done_.insert(name);
      if (!session) {
        fmt::print(stderr, "heaplens: cannot record {}: {}\n", path, error);
        continue;
      }
      auto image = static_cast<std::uint32_t>(next_image_++);
      drains->push_back(std::make_unique<SessionDrain>(std::move(session), image, n, out_, symbolizer_));
    }
    closedir(d);
  }

 private:
  std::uint64_t run_id_;
  std::uint32_t uid_;
  trace::TraceVisitor* out_;
  BackgroundSymbolizer* symbolizer_;
  std::set<std::string> done_;
  std::map<std::string, std::uint64_t> first_seen_;
  std::size_t next_image_ = 0;
};

bool all_finished(const std::vector<std::unique_ptr<SessionDrain>>& drains) {
  for (const auto& d : drains)
    if (!d->finished()) return false;
  return true;
}

}  // namespace

std::string find_preload(std::string* error) {
  if (const char* p = getenv("HEAPLENS_PRELOAD"); p != nullptr && *p != '\0') {
    if (access(p, R_OK) == 0) return std::filesystem::absolute(p).string();
    *error = fmt::format("HEAPLENS_PRELOAD={} is not a readable file", p);
    return {};
  }
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> candidates;
  if (!ec) {
    candidates.push_back(self.parent_path() / "libheaplens.so");
    candidates.push_back(self.parent_path().parent_path() / "lib" / "heaplens" / "libheaplens.so");
    candidates.push_back(self.parent_path().parent_path() / "lib" / "libheaplens.so");
  }
#ifdef HEAPLENS_BUILD_PRELOAD
  candidates.emplace_back(HEAPLENS_BUILD_PRELOAD);
#endif
  for (const auto& c : candidates)
    if (access(c.c_str(), R_OK) == 0) return c.string();
  *error = "cannot find libheaplens.so next to heaplens or in its build tree; set HEAPLENS_PRELOAD";
  return {};
}

RunResult run_program(const RunOptions& o, trace::TraceVisitor* model) {
  RunResult res;
  std::uint64_t t0 = now_ns();
  std::uint64_t run_id = random_run_id();
  std::vector<std::string> env = child_environment(o, run_id);

  // The child waits on `go` until the trace file exists: a run that cannot write its trace
  // never starts the program. `err` (close-on-exec) carries the errno of a failed exec.
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    res.error = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return res;
  }
  // Descendants whose parent exits are re-parented to us, so we can tell when the whole tree
  // is gone and never leave zombies.
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  std::vector<char*> cargv, cenv;
  for (const auto& a : o.argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  // The terminal's ^C and ^\ reach the program (same process group) and end it; this process
  // must stay to write the rest of the trace.
  SignalGuard ignore_int(SIGINT, SIG_IGN), ignore_quit(SIGQUIT, SIG_IGN);

  pid_t pid = fork();
  if (pid < 0) {
    res.error = fmt::format("cannot fork: {}", std::strerror(errno));
    return res;
  }
  if (pid == 0) {
    ignore_int.restore();
    ignore_quit.restore();
    close(go[1]);
    close(err[0]);
    char c = 0;
    while (read(go[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (c != 'g') _exit(127);
    execvpe(cargv[0], cargv.data(), cenv.data());
    int e = errno;
    (void)!write(err[1], &e, sizeof(e));
    _exit(127);
  }
  close(go[0]);
  close(err[1]);
  res.pid = pid;
  g_child = pid;
  SignalGuard forward_term(SIGTERM, forward_signal), forward_hup(SIGHUP, forward_signal);

  res.trace_path = o.trace_path.empty() ? default_trace_path(o.argv[0], pid) : o.trace_path;
  std::string error;
  auto writer = trace::TraceWriter::create(res.trace_path, &error);
  if (!writer) {
    close(go[1]);  // the child reads EOF and exits without running the program
    int st;
    waitpid(pid, &st, 0);
    close(err[0]);
    res.error = error;
    return res;
  }
  (void)!write(go[1], "g", 1);
  close(go[1]);
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(err[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR) {
  }
  close(err[0]);
  if (got == static_cast<ssize_t>(sizeof(exec_errno))) {
    int st;
    waitpid(pid, &st, 0);
    writer->close();
    unlink(res.trace_path.c_str());
    res.error = fmt::format("cannot run '{}': {}", o.argv[0], std::strerror(exec_errno));
    res.exit_code = exec_errno == ENOENT ? 127 : 126;
    return res;
  }
  res.started = true;

  WriterVisitor file(writer.get());
  Tee out;
  out.add(&file);
  out.add(model);
  std::error_code cwd_error;
  out.on_command({o.argv, std::filesystem::current_path(cwd_error).string(), realtime_ns()});

  BackgroundSymbolizer symbolizer;
  Discovery discovery(run_id, &out, &symbolizer);
  std::vector<std::unique_ptr<SessionDrain>> drains;
  bool root_done = false, tree_done = false;
  int status = 0;
  std::uint64_t last_scan = 0, last_flush = now_ns(), tree_done_at = 0;
  for (;;) {
    std::uint64_t now = now_ns();
    if (now - last_scan >= kScanEveryNs) {
      discovery.scan(&drains, now);
      last_scan = now;
    }
    std::size_t moved = 0;
    for (auto& d : drains) moved += d->pump(now);
    res.records += moved;
    out.on_poll();
    // Reap the program and any orphaned descendant (we are their subreaper).
    for (;;) {
      int st;
      pid_t w = waitpid(-1, &st, WNOHANG);
      if (w > 0) {
        if (w == pid) {
          root_done = true;
          status = st;
          g_child = 0;
        }
        continue;
      }
      if (w < 0 && errno == ECHILD && root_done && !tree_done) {
        tree_done = true;
        tree_done_at = now;
      }
      break;
    }
    if (now - last_flush >= kFlushEveryNs) {
      writer->flush();
      last_flush = now;
    }
    if (tree_done) {
      // One last look for sessions created just before their process exited.
      if (now - tree_done_at < 2 * kScanEveryNs) {
        sleep_ms(1);
        continue;
      }
      discovery.scan(&drains, now);
      if (all_finished(drains)) break;
      // Every process is gone, so every session finishes once drained; a segment whose
      // producer disappeared mid-write is settled by drain() itself.
      if (now - tree_done_at > 10'000'000'000ULL) {
        for (auto& d : drains) d->detach();
        break;
      }
    }
    if (moved == 0) sleep_ms(1);
  }

  for (const trace::SymbolDef& s : symbolizer.finish()) out.on_symbol(s);
  out.on_exit({pid, status});
  res.wait_status = status;
  res.exit_code = exit_code_of(status);
  res.trace_ok = writer->close();
  if (!res.trace_ok) res.error = writer->error();
  res.trace_bytes = writer->bytes_written();
  res.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  g_child = 0;
  return res;
}

RunResult record_session(const std::string& target, const std::string& trace_path, trace::TraceVisitor* model,
                         const std::atomic<bool>* stop) {
  RunResult res;
  std::uint64_t t0 = now_ns();
  std::string error;
  std::unique_ptr<reader::Session> session;
  bool numeric = !target.empty() && target.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    session = reader::Session::open_pid(std::stoll(target), reader::Access::kDrain, &error);
  } else {
    session = reader::Session::open(target, reader::Access::kDrain, &error);
  }
  if (!session) {
    res.error = error;
    res.exit_code = 1;
    return res;
  }
  res.pid = session->info().pid;
  res.trace_path = trace_path.empty() ? default_trace_path(session->info().executable, res.pid) : trace_path;
  auto writer = trace::TraceWriter::create(res.trace_path, &error);
  if (!writer) {
    res.error = error;
    res.exit_code = 1;
    return res;
  }
  res.started = true;
  std::uint32_t uid, n = 0;
  std::int64_t pid;
  std::string base = std::filesystem::path(session->info().path).filename().string();
  session_name::parse(base.c_str(), &uid, &pid, &n);

  WriterVisitor file(writer.get());
  Tee out;
  out.add(&file);
  out.add(model);
  out.on_command({{session->info().executable}, "", realtime_ns()});
  BackgroundSymbolizer symbolizer;
  SessionDrain drain(std::move(session), 0, n, &out, &symbolizer);

  SignalGuard note_int(SIGINT, note_interrupt), note_term(SIGTERM, note_interrupt);
  std::uint64_t last_flush = now_ns();
  while (!drain.finished()) {
    if (g_interrupted || (stop != nullptr && stop->load(std::memory_order_relaxed))) {
      drain.pump(now_ns());
      drain.detach();
      break;
    }
    std::uint64_t now = now_ns();
    std::size_t moved = drain.pump(now);
    res.records += moved;
    out.on_poll();
    if (now - last_flush >= kFlushEveryNs) {
      writer->flush();
      last_flush = now;
    }
    if (moved == 0) sleep_ms(1);
  }
  note_int.restore();
  note_term.restore();
  for (const trace::SymbolDef& s : symbolizer.finish()) out.on_symbol(s);
  res.trace_ok = writer->close();
  if (!res.trace_ok) res.error = writer->error();
  res.trace_bytes = writer->bytes_written();
  res.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  return res;
}

}  // namespace heaplens::record
