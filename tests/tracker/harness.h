// What session_check needs around the reader library: starting a fixture under
// LD_PRELOAD=$LIBHEAPLENS with chosen HEAPLENS_* settings, finding and draining its session,
// decoding the records, and cleaning up (children and /dev/shm names) however the test ends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "event_decoder.h"
#include "format.h"
#include "session_reader.h"

namespace tracker_test {

namespace wire = heaplens::wire;
namespace reader = heaplens::reader;
using reader::Event;
using reader::Session;

// Joins its arguments with operator<< (messages).
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// Prints "FAIL: <test>: <what>" and exits 1 (children killed, names removed first).
[[noreturn]] void fail(const std::string& what);
void note(const std::string& what);  // an informational line on stdout
void set_test_name(const std::string& name);

#define EXPECT(cond, ...)                                                                     \
  do {                                                                                        \
    if (!(cond))                                                                              \
      ::tracker_test::fail(::tracker_test::str(__FILE__, ":", __LINE__, ": expected ", #cond, \
                                               ": ", __VA_ARGS__));                           \
  } while (0)

// Removes children still running and the session names of every process started here (and
// of their forked children); registered with atexit by init().
void init();
void remember_pid(pid_t pid);  // a process whose sessions must be cleaned up (fork children)

std::string lib_path();  // $LIBHEAPLENS, checked
std::string backend();   // $HEAPLENS_ALLOCATOR (jemalloc unless set)

struct ChildOptions {
  std::vector<std::string> argv;
  // Added to the environment as "NAME=value". The inherited environment keeps only
  // HEAPLENS_ALLOCATOR of the HEAPLENS_* variables (and no LD_PRELOAD).
  std::vector<std::string> env;
  bool preload = true;       // LD_PRELOAD=$LIBHEAPLENS
  bool keep_session = true;  // HEAPLENS_KEEP_SESSION=1
  bool stdin_pipe = false;   // else stdin is /dev/null
};

class Child {
 public:
  explicit Child(const ChildOptions& options);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool running();                    // reaps it if it exited
  int wait(double timeout_s);        // the wait status; fails the test on timeout
  void kill_now(int sig);
  void close_stdin();
  std::string out() const;  // everything it wrote so far
  std::string err() const;
  int status() const { return status_; }
  std::string describe_status() const;

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1, stdin_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// /dev/shm/heaplens-<uid>-<pid>-<n>
std::string session_path(pid_t pid, unsigned image = 0);
bool exists(const std::string& path);
// Names /dev/shm/heaplens-<uid>-<pid>-* that exist.
std::vector<std::string> named_sessions_of(pid_t pid);

// Opens /dev/shm/heaplens-<uid>-<pid>-<image>, retrying while it does not exist yet or is
// still being set up. `producer`: its exit before the session appears fails the test at once.
std::unique_ptr<Session> open_session(pid_t pid, reader::Access access, Child* producer,
                                      double timeout_s = 10, unsigned image = 0);

// Drains until kFinished (the producer is gone and all it committed was read); fails on
// kCorrupt or after timeout_s.
void drain_to_end(Session& s, std::vector<wire::Record>* out, double timeout_s);

struct Decoded {
  std::vector<Event> events;
  std::vector<std::size_t> record_of;  // index in the record stream of each event's record
  bool ended = false;
  std::size_t end_records = 0;        // End records seen
  std::uint64_t malformed = 0;
  std::map<std::int64_t, std::size_t> events_per_tid;
};
Decoded decode(const std::vector<wire::Record>& records);

// Checks a session's header against the process that made it and the settings it was
// started with.
void check_info(const Session& s, pid_t pid, wire::Mode mode);

// The GNU build-id of an ELF file on disk (empty if it has none).
std::vector<std::uint8_t> elf_build_id(const std::string& path);

// Lines of a fixture's stdout whose first word is `key`, split into words.
std::vector<std::vector<std::string>> lines_with(const std::string& text, const std::string& key);
std::uint64_t to_u64(const std::string& s);

double now_s();
void sleep_ms(double ms);

}  // namespace tracker_test
