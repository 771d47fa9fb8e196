#include "harness.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <iostream>
#include <set>

extern char** environ;

namespace tracker_test {
namespace {

std::string g_test = "session_check";
std::set<pid_t> g_pids;           // every process whose sessions we may have caused
std::set<pid_t> g_running;        // children not reaped yet
bool g_cleaning = false;

std::string shm_prefix(pid_t pid) {
  return str("heaplens-", getuid(), "-", pid, "-");
}

// "heaplens-<uid>-<pid>-<n>" of our uid: the pid, or 0.
pid_t pid_of_name(const std::string& name) {
  std::string prefix = str("heaplens-", getuid(), "-");
  if (name.rfind(prefix, 0) != 0) return 0;
  std::string rest = name.substr(prefix.size());
  auto dash = rest.find('-');
  if (dash == std::string::npos) return 0;
  return static_cast<pid_t>(std::atoll(rest.substr(0, dash).c_str()));
}

void cleanup() {
  if (g_cleaning) return;
  g_cleaning = true;
  for (pid_t pid : g_running) {
    ::kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
  }
  g_running.clear();
  // Names of our processes, and of processes they forked (their header names the parent).
  if (DIR* d = opendir("/dev/shm")) {
    std::vector<std::string> doomed;
    while (dirent* e = readdir(d)) {
      pid_t pid = pid_of_name(e->d_name);
      if (pid == 0) continue;
      std::string path = str("/dev/shm/", e->d_name);
      bool ours = g_pids.count(pid) != 0;
      if (!ours) {
        // The header's ppid, read raw: a segment the reader refuses is still ours to remove.
        std::int64_t ppid = 0;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
          if (pread(fd, &ppid, sizeof(ppid), offsetof(wire::SessionHeader, ppid)) != sizeof(ppid)) ppid = 0;
          close(fd);
        }
        ours = ppid > 0 && g_pids.count(static_cast<pid_t>(ppid)) != 0;
      }
      if (ours) doomed.push_back(path);
    }
    closedir(d);
    for (const std::string& path : doomed) ::unlink(path.c_str());
  }
}

std::string read_fd(int fd) {
  std::string out;
  if (fd < 0) return out;
  char buf[65536];
  off_t at = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  return out;
}

}  // namespace

void set_test_name(const std::string& name) { g_test = name; }

void fail(const std::string& what) {
  std::cerr << "FAIL: " << g_test << ": " << what << std::endl;
  std::exit(1);
}

void note(const std::string& what) { std::cout << g_test << ": " << what << std::endl; }

void init() {
  std::atexit(cleanup);
  // A test killed by a signal (ctest's timeout sends SIGKILL only at the very end).
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction sa {};
    sa.sa_handler = [](int) { std::exit(2); };
    sigaction(sig, &sa, nullptr);
  }
}

void remember_pid(pid_t pid) { g_pids.insert(pid); }

std::string lib_path() {
  const char* lib = std::getenv("LIBHEAPLENS");
  if (lib == nullptr || lib[0] != '/') fail("LIBHEAPLENS must be the absolute path of libheaplens.so");
  if (!exists(lib)) fail(str("LIBHEAPLENS=", lib, " does not exist (build first)"));
  return lib;
}

std::string backend() {
  const char* b = std::getenv("HEAPLENS_ALLOCATOR");
  return b != nullptr && *b != '\0' ? b : "jemalloc";
}

Child::Child(const ChildOptions& o) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string v = *e;
    if (v.rfind("LD_PRELOAD=", 0) == 0) continue;
    if (v.rfind("HEAPLENS_", 0) == 0 && v.rfind("HEAPLENS_ALLOCATOR=", 0) != 0) continue;
    env.push_back(v);
  }
  if (o.preload) env.push_back("LD_PRELOAD=" + lib_path());
  if (o.keep_session) env.push_back("HEAPLENS_KEEP_SESSION=1");
  for (const std::string& v : o.env) env.push_back(v);
  std::vector<char*> argv, envp;
  for (const std::string& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  out_ = memfd_create("tracker-out", MFD_CLOEXEC);
  err_ = memfd_create("tracker-err", MFD_CLOEXEC);
  int in[2] = {-1, -1};
  if (out_ < 0 || err_ < 0) fail(str("memfd_create: ", std::strerror(errno)));
  if (o.stdin_pipe) {
    if (pipe2(in, O_CLOEXEC) != 0) fail(str("pipe2: ", std::strerror(errno)));
  } else {
    in[0] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  pid_t parent = getpid();
  std::fflush(nullptr);
  pid_ = fork();
  if (pid_ < 0) fail(str("fork: ", std::strerror(errno)));
  if (pid_ == 0) {
    // The fixture must not outlive a driver that died.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(in[0], 0);
    dup2(out_, 1);
    dup2(err_, 2);
    execve(argv[0], argv.data(), envp.data());
    dprintf(2, "session_check: cannot execute %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  g_pids.insert(pid_);
  g_running.insert(pid_);
  close(in[0]);
  stdin_ = in[1];
}

Child::~Child() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    g_running.erase(pid_);
  }
  if (stdin_ >= 0) close(stdin_);
  close(out_);
  close(err_);
}

bool Child::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    g_running.erase(pid_);
    return false;
  }
  return true;
}

int Child::wait(double timeout_s) {
  double deadline = now_s() + timeout_s;
  while (running()) {
    if (now_s() > deadline) {
      kill_now(SIGKILL);
      fail(str("pid ", pid_, " (", g_test, "'s fixture) still runs after ", timeout_s, " s; stderr: ", err()));
    }
    sleep_ms(1);
  }
  return status_;
}

void Child::kill_now(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

void Child::close_stdin() {
  if (stdin_ >= 0) close(stdin_);
  stdin_ = -1;
}

std::string Child::out() const { return read_fd(out_); }
std::string Child::err() const { return read_fd(err_); }

std::string Child::describe_status() const {
  if (!reaped_) return "still running";
  if (WIFEXITED(status_)) return str("exit status ", WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) return str("killed by signal ", WTERMSIG(status_));
  return str("wait status ", status_);
}

std::string session_path(pid_t pid, unsigned image) { return str("/dev/shm/", shm_prefix(pid), image); }

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> named_sessions_of(pid_t pid) {
  std::vector<std::string> out;
  std::string prefix = shm_prefix(pid);
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) out.push_back(str("/dev/shm/", e->d_name));
    closedir(d);
  }
  return out;
}

std::unique_ptr<Session> open_session(pid_t pid, reader::Access access, Child* producer,
                                      double timeout_s, unsigned image) {
  std::string path = session_path(pid, image);
  double deadline = now_s() + timeout_s;
  std::string error;
  for (;;) {
    auto s = Session::open(path, access, &error);
    if (s) return s;
    if (producer != nullptr && !producer->running() && !exists(path))
      fail(str("pid ", pid, " ended (", producer->describe_status(), ") and left no session ", path,
               "; its stderr: ", producer->err()));
    if (now_s() > deadline) fail(str("no session at ", path, " after ", timeout_s, " s: ", error));
    sleep_ms(0.2);
  }
}

void drain_to_end(Session& s, std::vector<wire::Record>* out, double timeout_s) {
  double deadline = now_s() + timeout_s;
  std::string error;
  for (;;) {
    std::size_t before = out->size();
    Session::Drain st = s.drain(out, 1 << 20, &error);
    if (st == Session::Drain::kCorrupt) fail(str("drain: ", error));
    if (st == Session::Drain::kFinished) return;
    if (now_s() > deadline)
      fail(str("drain did not finish within ", timeout_s, " s (", out->size(), " records so far, producer ",
               s.producer_alive() ? "alive" : "gone", ")"));
    if (out->size() == before) sleep_ms(0.1);
  }
}

Decoded decode(const std::vector<wire::Record>& records) {
  Decoded d;
  reader::EventDecoder dec;
  for (std::size_t i = 0; i < records.size(); ++i) {
    Event e;
    if (wire::decode(records[i]).op == wire::Op::kEnd) ++d.end_records;
    if (dec.feed(records[i], &e)) {
      d.events.push_back(e);
      d.record_of.push_back(i);
      ++d.events_per_tid[e.tid];
    }
  }
  d.ended = dec.ended();
  d.malformed = dec.malformed();
  return d;
}

void check_info(const Session& s, pid_t pid, wire::Mode mode) {
  const reader::SessionInfo& info = s.info();
  EXPECT(info.pid == pid, "session header pid ", info.pid, ", process ", pid);
  EXPECT(info.mode == mode, "session mode ", static_cast<int>(info.mode), ", expected ", static_cast<int>(mode));
  std::uint32_t want_backend = backend() == "system" ? 1 : 0;
  EXPECT(info.backend == want_backend, "session backend ", info.backend, " but HEAPLENS_ALLOCATOR=", backend());
  EXPECT(!info.executable.empty(), "the header names no executable");
  EXPECT(info.clock_base_ns != 0 && info.start_realtime_ns != 0, "the header has no start time");
}

std::vector<std::uint8_t> elf_build_id(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::uint8_t> id;
  if (data.size() < sizeof(Elf64_Ehdr) || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0) return id;
  Elf64_Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof(eh));
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    std::size_t at = eh.e_phoff + static_cast<std::size_t>(i) * eh.e_phentsize;
    if (at + sizeof(Elf64_Phdr) > data.size()) break;
    Elf64_Phdr ph;
    std::memcpy(&ph, data.data() + at, sizeof(ph));
    if (ph.p_type != PT_NOTE || ph.p_offset + ph.p_filesz > data.size()) continue;
    std::size_t p = ph.p_offset, end = ph.p_offset + ph.p_filesz;
    while (p + sizeof(Elf64_Nhdr) <= end) {
      Elf64_Nhdr nh;
      std::memcpy(&nh, data.data() + p, sizeof(nh));
      std::size_t name = p + sizeof(nh);
      std::size_t desc = name + ((nh.n_namesz + 3) & ~3u);
      std::size_t next = desc + ((nh.n_descsz + 3) & ~3u);
      if (next > end) break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(data.data() + name, "GNU", 4) == 0)
        return std::vector<std::uint8_t>(data.begin() + static_cast<long>(desc),
                                         data.begin() + static_cast<long>(desc + nh.n_descsz));
      p = next;
    }
  }
  return id;
}

std::vector<std::vector<std::string>> lines_with(const std::string& text, const std::string& key) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    std::string word;
    while (words >> word) w.push_back(word);
    if (!w.empty() && w[0] == key) out.push_back(w);
  }
  return out;
}

std::uint64_t to_u64(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') fail(str("not a number: '", s, "'"));
  return v;
}

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void sleep_ms(double ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(std::fmod(ms, 1000.0) * 1e6)};
  nanosleep(&ts, nullptr);
}

}  // namespace tracker_test
