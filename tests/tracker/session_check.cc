// session_check TEST FIXTURE [ARG]: real-program tests of the tracker. Each test starts a
// fixture (tests/tracker/tr_*.c*) under LD_PRELOAD=$LIBHEAPLENS with chosen HEAPLENS_*
// settings, finds its session (/dev/shm/heaplens-<uid>-<pid>-0, HEAPLENS_KEEP_SESSION=1, or
// through /proc for the unnamed-session test), drains it with the reader library, decodes the
// records and compares them with what the fixture says it did. Exit 0: passed; otherwise one
// "FAIL: ..." line on stderr. Children and session names are removed however it ends.
//
// Tests (see tests/tracker/CMakeLists.txt for the fixture each one runs):
//   lossless_wait   full mode, ON_FULL=wait, 64 KiB ring, 8 threads x 50000 allocations: nothing
//                   lost, every allocation once with its address and size, every free matched
//   drop_accounting full mode, 4 KiB ring never drained while the program runs: what was read
//                   plus what was dropped accounts for every record
//   sampled         sampled mode: large blocks exact, small ones sampled with unbiased weights
//   killed          a producer killed by SIGKILL while recording: the drain still finishes
//   fork            a forked child gets its own session; neither sees the other's blocks
//   stacks          stack ids and frames of two call sites; modules and build-ids
//   modules         a dlopen'ed and dlclose'd library stays in the module table, unloaded
//   api             every allocation function's records, and the exact live set at exit
//   settings        bad HEAPLENS_* values: one line each, program output and status unchanged
//   unnamed         without HEAPLENS_KEEP_SESSION: found through /proc, nothing left behind
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness.h"
#include "tr_common.h"

using namespace tracker_test;
using wire::Op;

namespace {

constexpr std::uint64_t kLargeThreshold = 256 << 10;

struct Run {
  std::unique_ptr<Child> child;
  std::unique_ptr<Session> session;
  std::vector<wire::Record> records;
  Decoded d;
  std::string out, err;
};

// Starts the fixture, drains its session live until the producer is gone, reaps it.
Run run_live(const ChildOptions& o, double timeout_s) {
  Run r;
  r.child = std::make_unique<Child>(o);
  r.session = open_session(r.child->pid(), reader::Access::kDrain, r.child.get());
  drain_to_end(*r.session, &r.records, timeout_s);
  r.child->wait(timeout_s);
  r.out = r.child->out();
  r.err = r.child->err();
  r.d = decode(r.records);
  return r;
}

void expect_exit(const Child& c, int code, const std::string& err) {
  EXPECT(WIFEXITED(c.status()) && WEXITSTATUS(c.status()) == code, "fixture ended with ", c.describe_status(),
         ", expected exit status ", code, "; stderr: ", err);
}

// The session's name is ours to remove (HEAPLENS_KEEP_SESSION=1).
void remove_name(Session& s) {
  std::string path = session_path(static_cast<pid_t>(s.info().pid));
  EXPECT(s.unlink_name(), "could not remove the session name ", path);
  EXPECT(!exists(path), path, " still exists after unlink_name()");
}

bool in_range(std::uint64_t pc, std::uint64_t lo, std::uint64_t size) { return pc >= lo && pc - lo < size; }

const char* op_name(Op op) {
  switch (op) {
    case Op::kAlloc: return "Alloc";
    case Op::kFree: return "Free";
    case Op::kRealloc: return "Realloc";
    default: return "other";
  }
}

std::string describe(const Event& e) {
  return str(op_name(e.op), "(addr=0x", std::hex, e.address, std::dec, " size=", e.size,
             " flags=", int(e.flags), " tid=", e.tid, " stack=", e.stack, ")");
}

// ---- the threads fixture ------------------------------------------------------------------

struct Worker {
  unsigned t = 0;
  std::uint64_t allocs_reported = 0, digest_reported = 0;
  std::uint64_t allocs = 0, frees = 0, digest = 0;
};

std::map<std::int64_t, Worker> parse_workers(const std::string& out, unsigned threads) {
  std::map<std::int64_t, Worker> workers;
  for (const auto& w : lines_with(out, "thread")) {
    EXPECT(w.size() == 5, "bad line from tr_threads");
    Worker k;
    k.t = static_cast<unsigned>(to_u64(w[1]));
    k.allocs_reported = to_u64(w[3]);
    k.digest_reported = to_u64(w[4]);
    workers[static_cast<std::int64_t>(to_u64(w[2]))] = k;
  }
  EXPECT(workers.size() == threads, "tr_threads reported ", workers.size(), " threads, expected ", threads,
         "; stdout: ", out);
  return workers;
}

// Replays the events against the workers' known sequences. `complete`: every allocation and
// free must be there (else each worker's events must be a prefix of its sequence). In full
// mode every block's Free is recorded, so an address can never be live twice.
void check_workers(const Decoded& d, std::map<std::int64_t, Worker>& workers, std::uint64_t iterations,
                   bool complete) {
  std::map<std::uint64_t, std::pair<std::uint64_t, std::int64_t>> live;  // address -> size, tid
  for (const Event& e : d.events) {
    auto w = workers.find(e.tid);
    bool worker = w != workers.end();
    if (e.op == Op::kAlloc || e.op == Op::kRealloc) {
      auto [it, fresh] = live.emplace(e.address, std::make_pair(e.size, e.tid));
      EXPECT(fresh, describe(e), ": address already live (allocated by tid ", it->second.second,
             ") with no Free in between");
    }
    if (e.op == Op::kFree) {
      auto it = live.find(e.address);
      if (worker) {
        EXPECT(it != live.end(), describe(e), ": a worker freed a block that is not live in the events");
        EXPECT(it->second.second == e.tid, describe(e), ": a worker freed a block of tid ", it->second.second);
        ++w->second.frees;
      }
      if (it != live.end()) live.erase(it);
    }
    if (!worker) continue;
    Worker& k = w->second;
    EXPECT(e.op == Op::kAlloc || e.op == Op::kFree, describe(e), ": unexpected op on a worker thread");
    if (e.op != Op::kAlloc) continue;
    std::uint64_t want = tr_thread_size(k.t, k.allocs);
    EXPECT(e.size == want, describe(e), ": allocation ", k.allocs, " of worker ", k.t, " should be ", want,
           " bytes");
    EXPECT(e.flags == 0, describe(e), ": full mode records without flags");
    EXPECT(e.stack != 0, describe(e), ": full mode unwinds every allocation");
    k.digest = tr_digest(k.digest, e.address, e.size);
    ++k.allocs;
  }
  for (auto& [tid, k] : workers) {
    if (complete) {
      EXPECT(k.allocs == iterations && k.allocs_reported == iterations, "worker ", k.t, " (tid ", tid, "): ",
             k.allocs, " allocations in the session, ", k.allocs_reported, " made, ", iterations, " expected");
      EXPECT(k.digest == k.digest_reported, "worker ", k.t, ": the addresses in the session differ from the "
             "ones the program got");
      EXPECT(k.frees == iterations, "worker ", k.t, ": ", k.frees, " frees in the session, ", iterations,
             " made");
    } else {
      EXPECT(k.allocs <= iterations && k.frees <= k.allocs, "worker ", k.t, ": ", k.allocs, " allocations and ",
             k.frees, " frees read, more than it made");
    }
  }
  if (complete) {
    for (const auto& [address, v] : live)
      EXPECT(workers.count(v.second) == 0, "a block of worker tid ", v.second, " at 0x", std::hex, address,
             std::dec, " was never freed in the events");
  }
}

// ---- 1. lossless wait mode ------------------------------------------------------------------

void test_lossless_wait(const std::string& fixture) {
  constexpr unsigned kThreads = 8;
  constexpr std::uint64_t kIterations = 50000;
  ChildOptions o;
  o.argv = {fixture, std::to_string(kThreads), std::to_string(kIterations)};
  o.env = {"HEAPLENS_MODE=full", "HEAPLENS_ON_FULL=wait", "HEAPLENS_RING_SIZE=64K"};
  double t0 = now_s();
  Run r = run_live(o, 60);
  expect_exit(*r.child, 0, r.err);
  Session& s = *r.session;
  check_info(s, r.child->pid(), wire::Mode::kFull);
  EXPECT(s.info().on_full == wire::OnFull::kWait, "the header says ON_FULL=drop");
  EXPECT(s.info().layout.ring_capacity == 4096, "ring of ", s.info().layout.ring_capacity, " records, 64K asked");
  reader::LiveStats st = s.stats();
  EXPECT(st.records_dropped == 0, st.records_dropped, " records dropped in wait mode");
  EXPECT(s.torn() == 0, s.torn(), " torn records from a producer that exited normally");
  EXPECT(r.d.malformed == 0, r.d.malformed, " malformed records");
  EXPECT(r.d.ended && r.d.end_records == 1, "End records: ", r.d.end_records);
  EXPECT(st.state == wire::SessionState::kExited, "session state ", static_cast<int>(st.state));
  EXPECT(st.events_unrecorded == 0, st.events_unrecorded, " events unrecorded");
  auto workers = parse_workers(r.out, kThreads);
  check_workers(r.d, workers, kIterations, true);
  EXPECT(r.records.size() >= 2 * kThreads * kIterations, "only ", r.records.size(), " records");
  EXPECT(r.err.find("heaplens:") == std::string::npos, "heaplens said something: ", r.err);
  note(str(r.records.size(), " records, ", r.d.events.size(), " events, 0 dropped, in ", now_s() - t0, " s"));
  remove_name(s);
}

// ---- 2. drop mode accounting ------------------------------------------------------------------

void test_drop_accounting(const std::string& fixture) {
  constexpr unsigned kThreads = 8;
  constexpr std::uint64_t kIterations = 50000;
  ChildOptions o;
  o.argv = {fixture, std::to_string(kThreads), std::to_string(kIterations)};
  o.env = {"HEAPLENS_MODE=full", "HEAPLENS_ON_FULL=drop", "HEAPLENS_RING_SIZE=4K"};
  Child child(o);
  child.wait(60);  // nobody drains while it runs
  std::string out = child.out(), err = child.err();
  expect_exit(child, 0, err);
  auto s = open_session(child.pid(), reader::Access::kDrain, nullptr, 2);
  check_info(*s, child.pid(), wire::Mode::kFull);
  std::uint64_t capacity = s->info().layout.ring_capacity;
  EXPECT(capacity == 256, "ring of ", capacity, " records, 4K asked");
  std::vector<wire::Record> records;
  drain_to_end(*s, &records, 10);
  reader::LiveStats st = s->stats();
  Decoded d = decode(records);
  EXPECT(s->torn() == 0, s->torn(), " torn records");
  EXPECT(st.state == wire::SessionState::kExited, "session state ", static_cast<int>(st.state));
  EXPECT(st.records_dropped > 0, "nothing dropped with a never-drained ring of ", capacity, " records");
  // Never drained: the first `capacity` reservations got in, every later record was dropped
  // (the End record included). records_written is the ring's head as published at exit.
  EXPECT(records.size() == capacity, records.size(), " records read from a full ring of ", capacity);
  EXPECT(st.records_written == records.size(), "header: ", st.records_written, " positions reserved, ",
         records.size(), " records read");
  // Every record attempted was either read or dropped. The workers alone attempted
  // 2 * threads * iterations events + one Thread record each; the rest (main thread, Time,
  // End) is bounded by the exact call counters and the session's duration in ms, as published
  // by the exit handler, plus what destructors running after it may still record
  // (kAfterExit: a few frees at most in this program).
  constexpr std::uint64_t kAfterExit = 64;
  std::uint64_t accounted = records.size() + st.records_dropped;
  std::uint64_t known = 2 * kThreads * kIterations + kThreads;
  std::uint64_t bound =
      st.allocations + st.frees + st.threads + 1 + st.published_ns / 1000000 + 2 + kAfterExit;
  EXPECT(accounted >= known, accounted, " records read or dropped, but the workers alone made ", known);
  EXPECT(accounted <= bound, accounted, " records read or dropped, more than the process could make (",
         bound, ")");
  auto workers = parse_workers(out, kThreads);
  check_workers(d, workers, kIterations, false);
  note(str(records.size(), " read + ", st.records_dropped, " dropped = ", accounted, " (workers ", known,
           ", bound ", bound, ")"));
  remove_name(*s);
}

// ---- 3. sampled mode --------------------------------------------------------------------------

void test_sampled(const std::string& fixture) {
  constexpr std::uint64_t kInterval = 64 << 10;
  ChildOptions o;
  o.argv = {fixture, std::to_string(kInterval)};
  o.env = {"HEAPLENS_MODE=sampled", "HEAPLENS_SAMPLE_INTERVAL=64K", "HEAPLENS_ON_FULL=wait"};
  Run r = run_live(o, 60);
  expect_exit(*r.child, 0, r.err);
  Session& s = *r.session;
  check_info(s, r.child->pid(), wire::Mode::kSampled);
  EXPECT(s.info().sample_interval == kInterval, "sample interval ", s.info().sample_interval);
  EXPECT(s.info().large_threshold == kLargeThreshold, "large threshold ", s.info().large_threshold);
  reader::LiveStats st = s.stats();
  EXPECT(st.records_dropped == 0 && s.torn() == 0 && r.d.malformed == 0 && r.d.ended,
         "dropped ", st.records_dropped, " torn ", s.torn(), " malformed ", r.d.malformed, " ended ", r.d.ended);

  struct Large { std::uint64_t address; bool freed; int allocs = 0, frees = 0; };
  std::map<std::uint64_t, Large> large;  // by size
  for (const auto& w : lines_with(r.out, "large")) large[to_u64(w[1])] = {to_u64(w[2]), w[3] == "1"};
  auto small = lines_with(r.out, "small");
  EXPECT(large.size() == 20 && small.size() == 1, "tr_sampled printed: ", r.out);
  double small_total = static_cast<double>(to_u64(small[0][1]));
  double expected_samples = std::atof(small[0][3].c_str());

  std::map<std::uint64_t, std::uint64_t> live;  // recorded blocks: address -> size
  double estimate = 0;
  std::uint64_t sampled = 0;
  for (const Event& e : r.d.events) {
    if (e.op == Op::kAlloc || e.op == Op::kRealloc) {
      bool is_large = e.size >= kLargeThreshold;
      EXPECT(is_large == !(e.flags & wire::kFlagSampled), describe(e),
             ": blocks >= the large threshold are recorded exactly, smaller ones only by the sampler");
      EXPECT(e.stack != 0, describe(e), ": a recorded allocation without a stack");
      EXPECT(live.emplace(e.address, e.size).second, describe(e), ": address already live");
      if (!is_large) {
        double p = -std::expm1(-static_cast<double>(e.size) / kInterval);
        estimate += static_cast<double>(e.size) / p;
        ++sampled;
      }
      auto it = large.find(e.size);
      if (it != large.end() && e.op == Op::kAlloc) {
        ++it->second.allocs;
        EXPECT(e.address == it->second.address, describe(e), ": the program got 0x", std::hex, it->second.address);
      }
    } else if (e.op == Op::kFree) {
      auto it = live.find(e.address);
      EXPECT(it != live.end(), describe(e), ": a Free of a block that was not recorded");
      auto lg = large.find(it->second);
      if (lg != large.end() && lg->second.address == e.address) ++lg->second.frees;
      live.erase(it);
    }
  }
  for (const auto& [size, l] : large) {
    EXPECT(l.allocs == 1, "large block of ", size, " bytes recorded ", l.allocs, " times");
    EXPECT(l.frees == (l.freed ? 1 : 0), "large block of ", size, " bytes: ", l.frees, " Frees, freed: ", l.freed);
  }
  double error = (estimate - small_total) / small_total;
  note(str("small blocks: ", small_total, " bytes, estimated ", estimate, " (", error * 100, " %) from ", sampled,
           " samples (", expected_samples, " expected)"));
  EXPECT(std::fabs(error) <= 0.10, "estimated ", estimate, " bytes of small blocks, the program allocated ",
         small_total);
  EXPECT(std::fabs(static_cast<double>(sampled) - expected_samples) <= 6 * std::sqrt(expected_samples) + 10,
         sampled, " samples, ", expected_samples, " expected");
  EXPECT(st.events_sampled >= sampled, "header counts ", st.events_sampled, " samples, ", sampled, " read");
  remove_name(s);
}

// ---- 4. killed producer -------------------------------------------------------------------------

void test_killed(const std::string& fixture) {
  ChildOptions o;
  o.argv = {fixture, "2", "0"};  // two threads allocating forever
  o.env = {"HEAPLENS_MODE=full", "HEAPLENS_ON_FULL=wait", "HEAPLENS_RING_SIZE=64K"};
  Child child(o);
  auto s = open_session(child.pid(), reader::Access::kDrain, &child);
  std::vector<wire::Record> records;
  std::string error;
  double until = now_s() + 0.2;
  while (now_s() < until) {
    EXPECT(s->drain(&records, 1 << 20, &error) == Session::Drain::kMore, "drain ended early: ", error,
           " (fixture ", child.describe_status(), ", stderr: ", child.err(), ")");
    sleep_ms(0.1);
  }
  EXPECT(!records.empty(), "nothing recorded in 200 ms");
  child.kill_now(SIGKILL);
  double t0 = now_s();
  drain_to_end(*s, &records, 10);  // must not hang on a dead producer
  double took = now_s() - t0;
  child.wait(10);
  EXPECT(WIFSIGNALED(child.status()) && WTERMSIG(child.status()) == SIGKILL, "fixture ", child.describe_status());
  EXPECT(!s->producer_alive(), "the producer still counts as alive");
  reader::LiveStats st = s->stats();
  EXPECT(st.state == wire::SessionState::kRunning, "a killed producer's session says state ",
         static_cast<int>(st.state));
  EXPECT(st.records_written > 0 && st.allocations > 0, "no counters published: records_written ",
         st.records_written, " allocations ", st.allocations);
  Decoded d = decode(records);
  EXPECT(!d.ended, "an End record from a process killed by SIGKILL");
  EXPECT(d.malformed == 0, d.malformed, " malformed records");
  // The workers' records up to the kill are prefixes of their sequences (unless a record was
  // torn: then only the counts are checked).
  std::map<std::int64_t, Worker> workers;
  for (const Event& e : d.events) {
    if (e.op != Op::kAlloc || e.size < 24 || e.size > 24 + 16 * 1023 + 1) continue;
    unsigned t = static_cast<unsigned>((e.size - 24) % 16);
    if (t < 2 && e.tid != child.pid()) workers[e.tid].t = t;
  }
  EXPECT(workers.size() == 2, "allocations of ", workers.size(), " worker threads found, 2 expected");
  if (s->torn() == 0) check_workers(d, workers, UINT64_MAX, false);
  note(str(records.size(), " records, ", d.events.size(), " events, torn ", s->torn(), ", dropped ",
           st.records_dropped, "; drain finished ", took * 1000, " ms after SIGKILL"));
  remove_name(*s);
}

// ---- 5. fork -------------------------------------------------------------------------------------

std::map<std::uint64_t, int> alloc_sizes(const Decoded& d, std::uint64_t lo, std::uint64_t hi) {
  std::map<std::uint64_t, int> n;
  for (const Event& e : d.events)
    if ((e.op == Op::kAlloc || e.op == Op::kRealloc) && e.size >= lo && e.size < hi) ++n[e.size];
  return n;
}

void test_fork(const std::string& fixture) {
  ChildOptions o;
  o.argv = {fixture};
  o.env = {"HEAPLENS_MODE=full"};
  Run r = run_live(o, 30);
  expect_exit(*r.child, 0, r.err);
  auto child_line = lines_with(r.out, "child");
  auto inherited_line = lines_with(r.out, "inherited");
  EXPECT(child_line.size() == 1 && inherited_line.size() == 1, "tr_fork printed: ", r.out);
  pid_t parent = r.child->pid();
  pid_t child = static_cast<pid_t>(to_u64(child_line[0][1]));
  remember_pid(child);
  std::uint64_t inherited = to_u64(inherited_line[0][1]);

  auto cs = open_session(child, reader::Access::kDrain, nullptr, 2);
  std::vector<wire::Record> child_records;
  drain_to_end(*cs, &child_records, 10);
  Decoded cd = decode(child_records);

  Session& ps = *r.session;
  check_info(ps, parent, wire::Mode::kFull);
  check_info(*cs, child, wire::Mode::kFull);
  EXPECT(cs->info().ppid == parent, "child session's ppid ", cs->info().ppid, ", parent ", parent);
  EXPECT(ps.stats().records_dropped == 0 && cs->stats().records_dropped == 0, "records dropped");
  EXPECT(r.d.ended && cd.ended, "End records: parent ", r.d.ended, " child ", cd.ended);
  EXPECT(ps.torn() == 0 && cs->torn() == 0, "torn records");

  std::map<std::uint64_t, int> once;
  auto expect_sizes = [](const std::map<std::uint64_t, int>& got, std::uint64_t first, const char* who) {
    for (std::uint64_t s = first; s < first + 5; ++s) {
      auto it = got.find(s);
      EXPECT(it != got.end() && it->second == 1, who, " session: allocation of ", s, " bytes recorded ",
             it == got.end() ? 0 : it->second, " times");
    }
  };
  expect_sizes(alloc_sizes(r.d, 70001, 70006), 70001, "parent");
  expect_sizes(alloc_sizes(r.d, 80001, 80006), 80001, "parent");
  EXPECT(alloc_sizes(r.d, 90001, 90006).empty(), "the parent's session has the child's allocations");
  expect_sizes(alloc_sizes(cd, 90001, 90006), 90001, "child");
  EXPECT(alloc_sizes(cd, 70001, 70006).empty(), "the child's session has the parent's pre-fork allocations");
  EXPECT(alloc_sizes(cd, 80001, 80006).empty(), "the child's session has the parent's post-fork allocations");
  for (const Event& e : r.d.events)
    if (e.op == Op::kAlloc && e.size >= 70001 && e.size < 80006)
      EXPECT(e.tid == parent, describe(e), ": parent allocation on tid ", e.tid);
  for (const Event& e : cd.events)
    if (e.op == Op::kAlloc && e.size >= 90001 && e.size < 90006)
      EXPECT(e.tid == child, describe(e), ": the child's thread is not named by a Thread record");
  auto freed = [&](const Decoded& d) {
    return std::count_if(d.events.begin(), d.events.end(),
                         [&](const Event& e) { return e.op == Op::kFree && e.address == inherited; });
  };
  EXPECT(freed(cd) == 1, "the child's free of the inherited block: ", freed(cd), " Frees in its session");
  EXPECT(freed(r.d) == 0, "the parent's session has the child's free of the inherited block");
  note(str("parent ", parent, ": ", r.d.events.size(), " events; child ", child, ": ", cd.events.size(), " events"));
  remove_name(*cs);
  remove_name(ps);
}

// ---- 6. stacks -----------------------------------------------------------------------------------

struct Symbol { std::uint64_t address = 0, size = 0; };

std::map<std::string, Symbol> parse_symbols(const std::string& out, std::initializer_list<const char*> names) {
  std::map<std::string, Symbol> m;
  for (const char* name : names) {
    auto l = lines_with(out, name);
    EXPECT(l.size() == 1 && l[0].size() == 3, "fixture did not print the range of ", name, ": ", out);
    m[name] = {to_u64(l[0][1]), to_u64(l[0][2])};
  }
  return m;
}

const reader::Module* module_of(const std::vector<reader::Module>& mods, std::uint64_t pc) {
  for (const reader::Module& m : mods)
    if (pc >= m.start && pc < m.end) return &m;
  return nullptr;
}

const reader::Module* module_named(const std::vector<reader::Module>& mods, const std::string& path) {
  for (const reader::Module& m : mods)
    if (m.path == path) return &m;
  return nullptr;
}

std::string realpath_of(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? buf : path;
}

const reader::Module* heaplens_module(const std::vector<reader::Module>& mods) {
  std::string lib = realpath_of(lib_path());
  for (const reader::Module& m : mods)
    if (realpath_of(m.path) == lib) return &m;
  return nullptr;
}

void test_stacks(const std::string& fixture) {
  constexpr std::uint64_t kSizeA = 12345, kSizeB = 23456;
  ChildOptions o;
  o.argv = {fixture};
  o.env = {"HEAPLENS_MODE=full"};
  Run r = run_live(o, 30);
  expect_exit(*r.child, 0, r.err);
  Session& s = *r.session;
  check_info(s, r.child->pid(), wire::Mode::kFull);
  auto sym = parse_symbols(r.out, {"site_a", "site_b", "main"});
  std::vector<reader::Module> mods = s.modules();
  const reader::Module* exe = module_named(mods, s.info().executable);
  EXPECT(exe != nullptr, "no module for the executable ", s.info().executable);
  EXPECT(!exe->build_id.empty(), "the executable's module has no build-id");
  EXPECT(exe->build_id == elf_build_id(fixture), "the executable's build-id differs from the file's");
  const reader::Module* own = heaplens_module(mods);
  EXPECT(own != nullptr, "libheaplens.so is not in the module table");

  std::map<std::uint64_t, std::set<std::uint32_t>> ids;  // size -> stack ids
  std::map<std::uint64_t, int> count;
  std::set<std::uint32_t> all_ids;
  for (const Event& e : r.d.events) {
    if (e.op == Op::kFree) EXPECT(e.stack == 0, describe(e), ": a Free with a stack");
    if (e.op != Op::kAlloc && e.op != Op::kRealloc) continue;
    if (e.stack != 0) all_ids.insert(e.stack);
    if (e.size == kSizeA || e.size == kSizeB) {
      ids[e.size].insert(e.stack);
      ++count[e.size];
    }
  }
  EXPECT(count[kSizeA] == 1000 && count[kSizeB] == 1000, count[kSizeA], " and ", count[kSizeB],
         " allocations of the two sites recorded");
  EXPECT(ids[kSizeA].size() == 1 && ids[kSizeB].size() == 1, ids[kSizeA].size(), " stack ids for site_a, ",
         ids[kSizeB].size(), " for site_b (one each expected)");
  std::uint32_t id_a = *ids[kSizeA].begin(), id_b = *ids[kSizeB].begin();
  EXPECT(id_a != 0 && id_b != 0 && id_a != id_b, "stack ids ", id_a, " and ", id_b);
  EXPECT(s.stats().stacks_dropped == 0, s.stats().stacks_dropped, " stacks dropped");

  for (auto [id, site] : {std::pair{id_a, "site_a"}, std::pair{id_b, "site_b"}}) {
    std::vector<std::uint64_t> frames = s.stack(id);
    EXPECT(frames.size() >= 3, site, "'s stack has ", frames.size(), " frames");
    EXPECT(in_range(frames[0], sym[site].address, sym[site].size), site, "'s innermost frame 0x", std::hex,
           frames[0], " is not inside ", site, " [0x", sym[site].address, ", +", std::dec, sym[site].size, ")");
    EXPECT(in_range(frames[1], sym["main"].address, sym["main"].size), site, "'s second frame 0x", std::hex,
           frames[1], " is not inside main");
    EXPECT(module_of(mods, frames[0]) == exe, site, "'s innermost frame is not in the executable's module");
  }
  // Every stack: frames inside known modules, none of them heaplens's own.
  for (std::uint32_t id : all_ids) {
    std::vector<std::uint64_t> frames = s.stack(id);
    EXPECT(!frames.empty(), "stack id ", id, " has no frames");
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const reader::Module* m = module_of(mods, frames[i]);
      EXPECT(m != nullptr, "stack ", id, " frame ", i, " (0x", std::hex, frames[i], std::dec,
             ") is in no module of the table");
      EXPECT(m != own, "stack ", id, " frame ", i, " (0x", std::hex, frames[i], std::dec,
             ") is inside libheaplens.so");
    }
  }
  note(str(all_ids.size(), " distinct stacks, ", mods.size(), " modules; site_a stack ", id_a, " (",
           s.stack(id_a).size(), " frames), site_b stack ", id_b, " (", s.stack(id_b).size(), " frames)"));
  remove_name(s);
}

// ---- 7. modules ----------------------------------------------------------------------------------

void test_modules(const std::string& fixture, const std::string& library) {
  constexpr std::uint64_t kLibSize = 31337;
  ChildOptions o;
  o.argv = {fixture, library};
  o.env = {"HEAPLENS_MODE=full"};
  Run r = run_live(o, 30);
  expect_exit(*r.child, 0, r.err);
  Session& s = *r.session;
  check_info(s, r.child->pid(), wire::Mode::kFull);
  auto sym = parse_symbols(r.out, {"lib_fn"});
  std::vector<reader::Module> mods = s.modules();
  std::vector<const reader::Module*> lib;
  for (const reader::Module& m : mods)
    if (m.path == library) lib.push_back(&m);
  EXPECT(lib.size() == 1, "the module table has ", lib.size(), " entries for ", library);
  const reader::Module& m = *lib[0];
  EXPECT(m.unloaded_ns != 0, library, " was dlclose'd but its module entry is not marked unloaded");
  EXPECT(m.unloaded_ns >= m.loaded_ns, "unloaded at ", m.unloaded_ns, " ns, before it was loaded (", m.loaded_ns, ")");
  EXPECT(!m.build_id.empty() && m.build_id == elf_build_id(library), "the library's build-id is missing or wrong");
  EXPECT(in_range(sym["lib_fn"].address, m.start, m.end - m.start), "tr_lib_alloc lies outside the module entry");
  const reader::Module* exe = module_named(mods, s.info().executable);
  EXPECT(exe != nullptr && exe->unloaded_ns == 0, "the executable is missing or marked unloaded");
  const reader::Module* own = heaplens_module(mods);
  EXPECT(own != nullptr && own->unloaded_ns == 0, "libheaplens.so is missing or marked unloaded");

  int allocs = 0, frees = 0;
  std::set<std::uint64_t> blocks;
  for (const Event& e : r.d.events) {
    if (e.op == Op::kAlloc && e.size == kLibSize) {
      ++allocs;
      blocks.insert(e.address);
      std::vector<std::uint64_t> frames = s.stack(e.stack);
      EXPECT(!frames.empty() && in_range(frames[0], sym["lib_fn"].address, sym["lib_fn"].size), describe(e),
             ": innermost frame not inside the library's tr_lib_alloc");
      EXPECT(module_of(mods, frames[0]) == &m, describe(e), ": innermost frame not in the library's module");
      EXPECT(e.time_ns <= m.unloaded_ns, describe(e), " at ", e.time_ns, " ns, after the unload (", m.unloaded_ns, ")");
    }
    if (e.op == Op::kFree && blocks.count(e.address)) ++frees;
  }
  EXPECT(allocs == 10 && frees == 10, allocs, " allocations and ", frees, " frees of the library's blocks");
  note(str(library, ": loaded at ", m.loaded_ns / 1e6, " ms, unloaded at ", m.unloaded_ns / 1e6, " ms"));
  remove_name(s);
}

// ---- 8. every allocation function, and the live set -----------------------------------------------

void test_api(const std::string& fixture) {
  constexpr std::uint64_t kBegin = 999983, kEnd = 999979;
  ChildOptions o;
  o.argv = {fixture};
  o.env = {"HEAPLENS_MODE=full"};
  Run r = run_live(o, 30);
  expect_exit(*r.child, 0, r.out + r.err);
  Session& s = *r.session;
  check_info(s, r.child->pid(), wire::Mode::kFull);
  EXPECT(s.stats().records_dropped == 0 && s.torn() == 0 && r.d.ended, "records lost");

  struct Want { Op op; std::uint8_t flags; std::uint64_t address, size; std::string line; };
  std::vector<Want> want;
  std::map<std::uint64_t, std::uint64_t> live_wanted;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream w(line);
    std::string k;
    std::uint64_t a = 0, b = 0, c = 0;
    w >> k;
    if (k == "A") { w >> a >> b; want.push_back({Op::kAlloc, 0, a, b, line}); }
    else if (k == "F") { w >> a; want.push_back({Op::kFree, 0, a, 0, line}); }
    else if (k == "R") {
      w >> a >> b >> c;
      want.push_back({Op::kFree, wire::kFlagRealloc, a, 0, line});
      want.push_back({Op::kRealloc, 0, b, c, line});
    } else if (k == "X") {
      w >> a >> b;
      want.push_back({Op::kFree, wire::kFlagRealloc, a, 0, line});
      want.push_back({Op::kAlloc, 0, a, b, line});
    } else if (k == "L") {
      w >> a >> b;
      live_wanted[a] = b;
    } else {
      fail(str("unexpected line from tr_api: ", line));
    }
  }
  EXPECT(want.size() > 20 && want.front().size == kBegin && want[want.size() - 2].size == kEnd &&
         want.back().op == Op::kFree, "tr_api printed: ", r.out);

  // The main thread's events from the begin marker on must be exactly the logged sequence.
  std::int64_t main_tid = r.child->pid();
  std::vector<std::size_t> main;  // indices of the main thread's events
  for (std::size_t i = 0; i < r.d.events.size(); ++i)
    if (r.d.events[i].tid == main_tid) main.push_back(i);
  auto begin = std::find_if(main.begin(), main.end(), [&](std::size_t i) {
    return r.d.events[i].op == Op::kAlloc && r.d.events[i].size == kBegin;
  });
  EXPECT(begin != main.end(), "no Alloc of the begin marker (", kBegin, " bytes) on the main thread");
  std::size_t at = static_cast<std::size_t>(begin - main.begin());
  EXPECT(main.size() - at >= want.size(), "only ", main.size() - at, " events after the begin marker, ",
         want.size(), " expected");
  for (std::size_t k = 0; k < want.size(); ++k) {
    const Event& e = r.d.events[main[at + k]];
    const Want& w = want[k];
    EXPECT(e.op == w.op && e.flags == w.flags && e.address == w.address && e.size == w.size, "event ", k,
           " after the marker is ", describe(e), "; for '", w.line, "' expected ", op_name(w.op), "(addr=0x",
           std::hex, w.address, std::dec, " size=", w.size, " flags=", int(w.flags), ")");
    EXPECT((e.op == Op::kFree) == (e.stack == 0), describe(e), ": allocations carry a stack, frees do not");
    // The new block of a realloc comes right after the old block's Free (on this thread).
    if (e.op == Op::kRealloc) EXPECT(k > 0 && want[k - 1].flags == wire::kFlagRealloc, "Realloc without its Free");
  }
  std::size_t first = main[at], last = main[at + want.size() - 1];

  // The live set at the end of the session, computed from every event; the blocks the
  // sequence left live must be exactly those the program says it leaked.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> live;  // address -> size, event
  for (std::size_t i = 0; i < r.d.events.size(); ++i) {
    const Event& e = r.d.events[i];
    if (e.op == Op::kFree) live.erase(e.address);
    else if (e.op == Op::kAlloc || e.op == Op::kRealloc) {
      EXPECT(live.emplace(e.address, std::make_pair(e.size, i)).second, describe(e), ": address already live");
    }
  }
  std::map<std::uint64_t, std::uint64_t> live_got;
  std::uint64_t bytes_got = 0, bytes_wanted = 0;
  for (const auto& [address, v] : live)
    if (v.second >= first && v.second <= last && r.d.events[v.second].tid == main_tid) {
      live_got[address] = v.first;
      bytes_got += v.first;
    }
  for (const auto& [address, size] : live_wanted) bytes_wanted += size;
  EXPECT(live_got.size() == live_wanted.size() && bytes_got == bytes_wanted, "live at exit per the events: ",
         live_got.size(), " blocks, ", bytes_got, " bytes; per the program: ", live_wanted.size(), " blocks, ",
         bytes_wanted, " bytes");
  EXPECT(live_got == live_wanted, "the live blocks differ from the program's (same count and bytes)");
  note(str(want.size(), " events as logged; ", live_got.size(), " blocks (", bytes_got, " bytes) live at exit"));
  remove_name(s);
}

// ---- 9. bad settings ------------------------------------------------------------------------------

void test_settings(const std::string& fixture) {
  ChildOptions plain;
  plain.argv = {fixture};
  plain.preload = false;
  plain.keep_session = false;
  Child base(plain);
  base.wait(30);
  std::string base_out = base.out();
  EXPECT(WIFEXITED(base.status()) && WEXITSTATUS(base.status()) == 7 && !base_out.empty(), "tr_hello without "
         "heaplens: ", base.describe_status(), ", stdout '", base_out, "'");

  struct Case {
    std::vector<std::string> env;
    std::vector<std::string> lines;  // each must appear in one line; exactly this many lines
    bool session;                    // a named session is left (else: none)
    std::function<void(const reader::SessionInfo&)> check;
  };
  const std::uint64_t kDefaultInterval = 512 << 10, kDefaultRing = 65536;
  auto defaults = [=](const reader::SessionInfo& i) {
    EXPECT(i.mode == wire::Mode::kSampled && i.sample_interval == kDefaultInterval &&
           i.on_full == wire::OnFull::kDrop && i.layout.ring_capacity == kDefaultRing,
           "settings not at their defaults: mode ", int(i.mode), " interval ", i.sample_interval, " on_full ",
           int(i.on_full), " ring ", i.layout.ring_capacity);
  };
  std::vector<std::string> many;
  for (int i = 0; i < 10; ++i) many.push_back(str("HEAPLENS_NO_SUCH_SETTING_", i, "=1"));
  std::vector<Case> cases = {
      {{"HEAPLENS_MODE=bogus", "HEAPLENS_KEEP_SESSION=1"},
       {"heaplens: HEAPLENS_MODE='bogus' is not sampled, full or off; using sampled"}, true, defaults},
      {{"HEAPLENS_SAMPLE_INTERVAL=0", "HEAPLENS_KEEP_SESSION=1"}, {"HEAPLENS_SAMPLE_INTERVAL='0' is not a size"}, true,
       defaults},
      {{"HEAPLENS_SAMPLE_INTERVAL=2T", "HEAPLENS_KEEP_SESSION=1"}, {"HEAPLENS_SAMPLE_INTERVAL='2T'"}, true, defaults},
      {{"HEAPLENS_ON_FULL=block", "HEAPLENS_KEEP_SESSION=1"}, {"HEAPLENS_ON_FULL='block' is not drop or wait"}, true,
       defaults},
      {{"HEAPLENS_RING_SIZE=3000", "HEAPLENS_KEEP_SESSION=1"}, {"HEAPLENS_RING_SIZE='3000' is not a power of two"},
       true, defaults},
      {{"HEAPLENS_RING_SIZE=2K", "HEAPLENS_KEEP_SESSION=1"}, {"HEAPLENS_RING_SIZE='2K'"}, true, defaults},
      {{"HEAPLENS_KEEP_SESSION=maybe"}, {"HEAPLENS_KEEP_SESSION='maybe'"}, false, nullptr},
      {{"HEAPLENS_SAMPLEINTERVAL=4096", "HEAPLENS_KEEP_SESSION=1"},
       {"heaplens: unknown setting HEAPLENS_SAMPLEINTERVAL ignored"}, true, defaults},
      {{"HEAPLENS_MODE=x", "HEAPLENS_ON_FULL=y"}, {"HEAPLENS_MODE='x'", "HEAPLENS_ON_FULL='y'"}, false, nullptr},
      {many, {"unknown setting HEAPLENS_NO_SUCH_SETTING_", "", "", "", "", "", "", ""}, false, nullptr},
      {{"HEAPLENS_MODE=", "HEAPLENS_KEEP_SESSION=1"}, {}, true, defaults},
      {{"HEAPLENS_MODE=off", "HEAPLENS_KEEP_SESSION=1"}, {}, false, nullptr},
      {{"HEAPLENS_MODE=FULL", "HEAPLENS_ON_FULL=Wait", "HEAPLENS_RING_SIZE=64KiB", "HEAPLENS_SAMPLE_INTERVAL=64k",
        "HEAPLENS_KEEP_SESSION=yes"},
       {}, true,
       [](const reader::SessionInfo& i) {
         EXPECT(i.mode == wire::Mode::kFull && i.on_full == wire::OnFull::kWait && i.layout.ring_capacity == 4096 &&
                i.sample_interval == 65536, "valid settings not applied");
       }},
  };
  for (const Case& c : cases) {
    std::string what;
    for (const std::string& e : c.env) {
      if (!what.empty()) what += ' ';
      what.append(e, 0, 40);
    }
    ChildOptions o;
    o.argv = {fixture};
    o.env = c.env;
    o.keep_session = false;
    Child child(o);
    child.wait(30);
    std::string out = child.out(), err = child.err();
    EXPECT(child.status() == base.status() && out == base_out, "[", what, "] the program changed: ",
           child.describe_status(), ", stdout '", out, "'; stderr: ", err);
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    EXPECT(lines.size() == c.lines.size(), "[", what, "] ", lines.size(), " lines on stderr, expected ",
           c.lines.size(), ": ", err);
    for (const std::string& l : lines) EXPECT(l.rfind("heaplens: ", 0) == 0, "[", what, "] stderr line: ", l);
    for (const std::string& want : c.lines)
      EXPECT(std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(want) != std::string::npos; }),
             "[", what, "] no line with '", want, "': ", err);
    if (c.session) {
      auto s = open_session(child.pid(), reader::Access::kObserve, nullptr, 2);
      check_info(*s, child.pid(), s->info().mode);
      if (c.check) c.check(s->info());
      remove_name(*s);
    }
    EXPECT(named_sessions_of(child.pid()).empty(), "[", what, "] a session name was left behind");
    note(str("[", what, "] ok: ", lines.empty() ? std::string("no message") : lines[0]));
  }
}

// ---- 10. unnamed sessions -------------------------------------------------------------------------

void test_unnamed(const std::string& fixture) {
  ChildOptions o;
  o.argv = {fixture};
  o.env = {"HEAPLENS_MODE=full"};
  o.keep_session = false;
  o.stdin_pipe = true;
  Child child(o);
  pid_t pid = child.pid();
  reader::SessionEntry found;
  double deadline = now_s() + 10;
  for (;;) {
    // Until the segment is set up its name exists (it is unlinked right after): wait for
    // the entry that comes from the process's descriptors.
    bool seen = false;
    for (const reader::SessionEntry& e : reader::list_sessions(getuid()))
      if (e.pid == pid && !e.named) found = e, seen = true;
    if (seen) break;
    EXPECT(child.running(), "tr_linger ended (", child.describe_status(), ") before its session was listed: ",
           child.err());
    EXPECT(now_s() < deadline, "list_sessions never listed pid ", pid);
    sleep_ms(0.5);
  }
  std::string proc = str("/proc/", pid, "/fd/");
  EXPECT(!found.named && found.alive && found.image == 0 && found.path.rfind(proc, 0) == 0,
         "listed as path ", found.path, " named ", found.named, " alive ", found.alive, " image ", found.image);
  // The name exists from shm_open until the segment is set up, then goes, while the program
  // still runs (it waits for stdin).
  deadline = now_s() + 5;
  while (!named_sessions_of(pid).empty()) {
    EXPECT(now_s() < deadline, "a /dev/shm name stays without HEAPLENS_KEEP_SESSION: ", named_sessions_of(pid)[0]);
    sleep_ms(0.5);
  }
  EXPECT(child.running(), "tr_linger ended early: ", child.describe_status());

  std::string error;
  auto s = Session::open_pid(pid, reader::Access::kDrain, &error);
  EXPECT(s != nullptr, "open_pid(", pid, "): ", error);
  check_info(*s, pid, wire::Mode::kFull);
  EXPECT(s->producer_alive(), "the producer does not count as alive");
  EXPECT(!s->unlink_name(), "unlink_name() succeeded on an unnamed session");
  std::vector<wire::Record> records;
  auto saw = [&](std::uint64_t size) {
    Decoded d = decode(records);
    return std::any_of(d.events.begin(), d.events.end(),
                       [&](const Event& e) { return e.op == Op::kAlloc && e.size == size; });
  };
  deadline = now_s() + 10;
  while (!saw(54321)) {
    EXPECT(s->drain(&records, 1 << 20, &error) == Session::Drain::kMore, "drain: ", error);
    EXPECT(now_s() < deadline, "the first allocation never showed up");
    sleep_ms(0.5);
  }
  child.close_stdin();
  drain_to_end(*s, &records, 10);
  child.wait(10);
  expect_exit(child, 0, child.err());
  Decoded d = decode(records);
  EXPECT(saw(54322) && d.ended, "the last allocation or the End record is missing");
  EXPECT(s->stats().state == wire::SessionState::kExited, "state ", int(s->stats().state));
  EXPECT(named_sessions_of(pid).empty(), "a /dev/shm name was left behind by a normal exit");
  for (const reader::SessionEntry& e : reader::list_sessions(getuid()))
    EXPECT(e.pid != pid, "the exited process is still listed (", e.path, ") while a reader holds its segment");
  s.reset();
  for (const reader::SessionEntry& e : reader::list_sessions(getuid()))
    EXPECT(e.pid != pid, "the exited process is still listed (", e.path, ")");
  EXPECT(named_sessions_of(pid).empty(), "a /dev/shm name was left behind");
  note(str("found as ", found.path, ", ", d.events.size(), " events, nothing left in /dev/shm"));
}

// ---- 11. a session opened while it is being set up --------------------------------------------

// A reader polling for a new session (as every test here, and the CLI, do) must never accept
// a header the producer has not finished writing: open() either fails ("still being set up",
// or the segment is not full-sized yet) or returns the producer's real pid, executable and
// settings.
void test_open_race(const std::string& fixture) {
  constexpr int kRuns = 40;
  int early = 0;
  for (int run = 0; run < kRuns; ++run) {
    ChildOptions o;
    o.argv = {fixture};
    o.env = {"HEAPLENS_MODE=full", "HEAPLENS_RING_SIZE=4K"};
    Child child(o);
    std::string path = session_path(child.pid());
    std::string error;
    std::unique_ptr<Session> s;
    double deadline = now_s() + 10;
    while (!(s = Session::open(path, reader::Access::kObserve, &error))) {
      if (exists(path)) ++early;
      EXPECT(now_s() < deadline, "no session at ", path, ": ", error);
    }
    const reader::SessionInfo& i = s->info();
    EXPECT(i.pid == child.pid() && !i.executable.empty() && i.mode == wire::Mode::kFull &&
               i.clock_base_ns != 0 && i.layout.ring_capacity == 256,
           "run ", run, ": open() accepted a header still being written: pid ", i.pid, " (process ", child.pid(),
           "), executable '", i.executable, "', mode ", int(i.mode), ", clock base ", i.clock_base_ns);
    child.wait(30);
    expect_exit(child, 7, child.err());
    remove_name(*s);
  }
  note(str(kRuns, " sessions opened as soon as possible, ", early, " refused attempts while being set up"));
}

// ---- the tracker's own time on a busy machine -------------------------------------------------

// The tracker times itself with the cycle counter, which runs on while a thread waits for the
// CPU. Here the fixture shares one CPU with a busy loop (and with this reader): preempted
// inside the tracker, a thread used to count the whole wait as tracker time, and the figure
// came out above the process's entire CPU time (1.2-1.7x). Whatever the machine does, the
// tracker's time is part of the process's CPU time.
void test_overhead_contended(const std::string& fixture) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  EXPECT(sched_getaffinity(0, sizeof mine, &mine) == 0, "sched_getaffinity: ", std::strerror(errno));
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &mine)) ++cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  // Children inherit it: the busy loop, the fixture and this reader take turns on one CPU.
  EXPECT(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity: ", std::strerror(errno));
  pid_t hog = fork();
  EXPECT(hog >= 0, "fork: ", std::strerror(errno));
  if (hog == 0) {
    for (;;) asm volatile("");
  }
  ChildOptions o;
  o.argv = {fixture, "4", "1000000"};  // about half a second of CPU
  o.env = {"HEAPLENS_MODE=full", "HEAPLENS_ON_FULL=wait"};
  Run r = run_live(o, 120);
  kill(hog, SIGKILL);
  waitpid(hog, nullptr, 0);
  sched_setaffinity(0, sizeof mine, &mine);
  expect_exit(*r.child, 0, r.err);
  reader::LiveStats st = r.session->stats();
  EXPECT(st.process_cpu_ns > 0 && st.tracker_ns > 0, "no figures: tracker ", st.tracker_ns, " ns, process CPU ",
         st.process_cpu_ns, " ns");
  double overhead = static_cast<double>(st.tracker_ns) / static_cast<double>(st.process_cpu_ns);
  EXPECT(overhead <= 1.0, "the tracker's time is ", overhead * 100, " % of the process's CPU time (",
         st.tracker_ns, " of ", st.process_cpu_ns, " ns): more than all of it");
  note(str("tracker ", st.tracker_ns / 1e6, " ms of ", st.process_cpu_ns / 1e6, " ms process CPU (", overhead * 100,
           " %), sharing one CPU with a busy loop"));
  remove_name(*r.session);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: session_check TEST FIXTURE [ARG]\n";
    return 2;
  }
  std::string test = argv[1], fixture = argv[2];
  set_test_name(str(test, " (", backend(), ")"));
  init();
  lib_path();
  if (test == "lossless_wait") test_lossless_wait(fixture);
  else if (test == "drop_accounting") test_drop_accounting(fixture);
  else if (test == "sampled") test_sampled(fixture);
  else if (test == "killed") test_killed(fixture);
  else if (test == "fork") test_fork(fixture);
  else if (test == "stacks") test_stacks(fixture);
  else if (test == "modules" && argc == 4) test_modules(fixture, argv[3]);
  else if (test == "api") test_api(fixture);
  else if (test == "settings") test_settings(fixture);
  else if (test == "unnamed") test_unnamed(fixture);
  else if (test == "open_race") test_open_race(fixture);
  else if (test == "overhead_contended") test_overhead_contended(fixture);
  else fail("unknown test or missing argument");
  note("passed");
  return 0;
}
