// Google Benchmark: the session ring (shared/ring.h) and the stack table (shared/stack_table.h)
// on their own, outside any traced process. Targets (from the tracker issue): one producer
// puts >= 50 M records/s, the consumer drains >= 50 M records/s.
//
//   BM_ring_produce/CAP          one thread: try_reserve(1) + put per record into a ring of CAP
//                                records (65536 = the default HEAPLENS_RING_SIZE of 1 MiB). The
//                                consumer side is advanced by a plain tail store every CAP/2
//                                records (a consumer that keeps up, at no cost to the loop),
//                                so every iteration pays the real CAS on ring_head, the acquire
//                                load of ring_tail and the two stores of put.
//   BM_ring_drain/CAP/BATCH      Consumer::read of a ring holding CAP committed records, BATCH
//                                records per call (the reader library asks for up to 65536);
//                                the refill between drains is not timed.
//   BM_ring_produce_consume/CAP/MIN
//                                producer (the benchmark thread) and consumer (a second thread,
//                                up to 4096 records a read) at once; an iteration is 1 Mi records
//                                put by one and read, in order and checked, by the other. Real
//                                time. MIN 1: the consumer chases the producer, reading whatever
//                                is there (the shared cache lines bounce for every few records);
//                                MIN 4096: it reads once that many records wait, like a reader
//                                that polls. full_waits_per_record: reservations refused.
//   BM_stack_intern_hit/DEPTH    stacks::Interner::intern of a DEPTH-frame stack that is already
//                                in the table (table holding 4096 stacks, default geometry).
//   BM_stack_intern_hit_many/D   the same, cycling through the 4096 stored stacks (more cache
//                                misses: closer to a program with many allocation sites).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "format.h"
#include "ring.h"
#include "stack_table.h"

namespace wire = heaplens::wire;
namespace ring = heaplens::ring;
namespace stacks = heaplens::stacks;

namespace {

// Page-aligned, zeroed and touched memory (the session segment is a fresh shared mapping).
template <typename T>
struct Region {
  T* p = nullptr;
  explicit Region(std::size_t count) {
    std::size_t bytes = (count * sizeof(T) + 4095) & ~std::size_t{4095};
    p = static_cast<T*>(std::aligned_alloc(4096, bytes));
    if (p == nullptr) throw std::bad_alloc();
    std::memset(static_cast<void*>(p), 0, bytes);
  }
  ~Region() { std::free(p); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
};

// A session header plus a ring of `capacity` records, empty (head = tail = 0).
struct TestRing {
  std::unique_ptr<wire::SessionHeader> header{new wire::SessionHeader{}};
  Region<wire::Record> slots;
  std::uint64_t capacity;
  explicit TestRing(std::uint64_t cap) : slots(cap), capacity(cap) {
    header->ring_capacity = cap;
  }
  ring::Producer producer() { return ring::Producer(header.get(), slots.p, capacity); }
  ring::Consumer consumer() { return ring::Consumer(header.get(), slots.p, capacity); }
};

// A typical Alloc record; w1 (address) varies per record.
wire::Record sample_record(std::uint64_t i) {
  wire::Fields f{};
  f.op = wire::Op::kAlloc;
  f.flags = wire::kFlagSampled;
  f.thread = 3;
  f.stack = 1234;
  f.address = 0x7f0000000000ULL + i * 16;
  f.size = 48;
  return wire::encode(f, 0);
}

void BM_ring_produce(benchmark::State& state) {
  const auto cap = static_cast<std::uint64_t>(state.range(0));
  TestRing r(cap);
  ring::Producer prod = r.producer();
  const std::uint64_t release_mask = cap / 2 - 1;  // the "consumer" frees half the ring at a time
  wire::Record rec = sample_record(0);
  std::uint64_t failed = 0;
  for (auto _ : state) {
    std::uint64_t pos;
    if (!prod.try_reserve(1, &pos)) [[unlikely]] {
      ++failed;
      continue;
    }
    rec.w1 = pos;  // a different address every record, as in a real stream
    prod.put(pos, rec);
    if (((pos + 1) & release_mask) == 0) [[unlikely]]
      r.header->ring_tail.store(pos + 1, std::memory_order_release);
  }
  if (failed != 0) state.SkipWithError("try_reserve failed: the ring filled up");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sizeof(wire::Record)));
}

// Puts `n` records at the producer's next positions (commits them all).
void fill(ring::Producer& prod, std::uint64_t n) {
  wire::Record rec = sample_record(0);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t pos;
    if (!prod.try_reserve(1, &pos)) std::abort();
    rec.w1 = pos;
    prod.put(pos, rec);
  }
}

void BM_ring_drain(benchmark::State& state) {
  const auto cap = static_cast<std::uint64_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  TestRing r(cap);
  ring::Producer prod = r.producer();
  ring::Consumer cons = r.consumer();
  std::vector<wire::Record> out(batch);
  std::uint64_t sum = 0;
  bool bad = false;
  for (auto _ : state) {
    state.PauseTiming();
    fill(prod, cap);  // every slot committed, with this lap's tag
    state.ResumeTiming();
    std::uint64_t got = 0;
    while (got < cap) {
      std::size_t n = 0;
      if (cons.read(out.data(), batch, &n) != ring::ReadStatus::kOk || n == 0) [[unlikely]] {
        bad = true;
        break;
      }
      sum += out[n - 1].w1;  // use what was read
      got += n;
    }
    benchmark::DoNotOptimize(sum);
    if (bad) {
      state.SkipWithError("Consumer::read did not return every committed record");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * cap));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * cap * sizeof(wire::Record)));
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void BM_ring_produce_consume(benchmark::State& state) {
  const auto cap = static_cast<std::uint64_t>(state.range(0));
  // The consumer reads once at least this many records wait (or the iteration is ending):
  // 1 = it chases the producer record by record; larger = it reads in batches, as the reader
  // library does when it polls.
  const auto min_backlog = static_cast<std::uint64_t>(state.range(1));
  constexpr std::uint64_t kPerIteration = 1 << 20;
  constexpr std::size_t kBatch = 4096;
  TestRing r(cap);
  ring::Producer prod = r.producer();
  std::atomic<bool> stop{false};
  std::atomic<bool> bad{false};
  std::atomic<bool> flush{false};  // end of an iteration: read whatever is there
  std::uint64_t producer_full = 0;  // reserve attempts that found the ring full
  std::thread consumer([&] {
    ring::Consumer cons = r.consumer();
    std::vector<wire::Record> out(kBatch);
    std::uint64_t expected = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (min_backlog > 1 && cons.backlog() < min_backlog && !flush.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 64; ++i) cpu_relax();
        continue;
      }
      std::size_t n = 0;
      ring::ReadStatus st = cons.read(out.data(), kBatch, &n);
      if (st == ring::ReadStatus::kCorrupt) {
        bad.store(true);
        return;
      }
      // kUncommitted: the producer reserved a slot and has not written it yet; read again.
      for (std::size_t i = 0; i < n; ++i) {
        if (out[i].w1 != expected + i) bad.store(true, std::memory_order_relaxed);
      }
      expected += n;
      if (n == 0) cpu_relax();
    }
  });
  wire::Record rec = sample_record(0);
  for (auto _ : state) {
    flush.store(false, std::memory_order_relaxed);
    for (std::uint64_t i = 0; i < kPerIteration; ++i) {
      std::uint64_t pos;
      bool gave_up = false;
      while (!prod.try_reserve(1, &pos)) {
        ++producer_full;
        if (bad.load(std::memory_order_relaxed)) {
          gave_up = true;  // the consumer stopped: nobody will make room
          break;
        }
        cpu_relax();
      }
      if (gave_up) [[unlikely]]
        break;
      rec.w1 = pos;
      prod.put(pos, rec);
    }
    // The iteration ends when the consumer has read (and released) all of it.
    flush.store(true, std::memory_order_relaxed);
    const std::uint64_t head = r.header->ring_head.load(std::memory_order_relaxed);
    while (r.header->ring_tail.load(std::memory_order_acquire) != head) {
      if (bad.load(std::memory_order_relaxed)) break;
      cpu_relax();
    }
    if (bad.load(std::memory_order_relaxed)) {
      state.SkipWithError("the consumer saw records out of order, or a damaged ring");
      break;
    }
  }
  stop.store(true);
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kPerIteration));
  state.counters["full_waits_per_record"] = benchmark::Counter(
      static_cast<double>(producer_full) /
      static_cast<double>(state.iterations() * kPerIteration + (state.iterations() == 0)));
}

// The stack table with the interposer's default geometry (interposer/session.cc layout_for).
struct TestStacks {
  static constexpr std::uint64_t kSlots = 1u << 15;
  static constexpr std::uint64_t kFrames = std::uint64_t{1} << 19;
  std::unique_ptr<wire::SessionHeader> header{new wire::SessionHeader{}};
  Region<wire::StackSlot> slots{kSlots};
  Region<std::uint64_t> frames{kFrames};
  stacks::Interner interner{header.get(), slots.p, kSlots, frames.p, kFrames};
};

// `count` distinct plausible stacks of `depth` return addresses (text-segment-like values).
std::vector<std::uint64_t> make_stacks(std::uint32_t count, std::uint32_t depth) {
  std::vector<std::uint64_t> v(std::size_t{count} * depth);
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (auto& f : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = 0x555555554000ULL + (x & 0xFFFFFF);
  }
  return v;
}

constexpr std::uint32_t kStoredStacks = 4096;

void BM_stack_intern_hit(benchmark::State& state) {
  const auto depth = static_cast<std::uint32_t>(state.range(0));
  TestStacks t;
  std::vector<std::uint64_t> all = make_stacks(kStoredStacks, depth);
  for (std::uint32_t s = 0; s < kStoredStacks; ++s) {
    if (t.interner.intern(&all[std::size_t{s} * depth], depth) == 0) {
      state.SkipWithError("the stack table refused a stack while filling it");
      return;
    }
  }
  const std::uint64_t* frames = &all[std::size_t{kStoredStacks / 2} * depth];
  const std::uint32_t id = t.interner.intern(frames, depth);
  const std::uint64_t stored = t.header->stacks_used.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(frames);
    std::uint32_t got = t.interner.intern(frames, depth);
    benchmark::DoNotOptimize(got);
    if (got != id) [[unlikely]] {
      state.SkipWithError("intern returned another id for the same stack");
      break;
    }
  }
  if (t.header->stacks_used.load() != stored) state.SkipWithError("a hit stored the stack again");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_stack_intern_hit_many(benchmark::State& state) {
  const auto depth = static_cast<std::uint32_t>(state.range(0));
  TestStacks t;
  std::vector<std::uint64_t> all = make_stacks(kStoredStacks, depth);
  for (std::uint32_t s = 0; s < kStoredStacks; ++s) {
    if (t.interner.intern(&all[std::size_t{s} * depth], depth) == 0) {
      state.SkipWithError("the stack table refused a stack while filling it");
      return;
    }
  }
  const std::uint64_t stored = t.header->stacks_used.load();
  std::uint32_t s = 0;
  for (auto _ : state) {
    std::uint32_t got = t.interner.intern(&all[std::size_t{s} * depth], depth);
    benchmark::DoNotOptimize(got);
    s = (s + 1) & (kStoredStacks - 1);
  }
  if (t.header->stacks_used.load() != stored) state.SkipWithError("a hit stored a stack again");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

BENCHMARK(BM_ring_produce)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_ring_drain)->Args({1 << 20, 4096})->Args({1 << 20, 65536});
BENCHMARK(BM_ring_produce_consume)
    ->Args({1 << 16, 1})
    ->Args({1 << 16, 4096})
    ->Args({1 << 20, 4096})
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stack_intern_hit)->Arg(20)->Arg(64);
BENCHMARK(BM_stack_intern_hit_many)->Arg(20);

}  // namespace

BENCHMARK_MAIN();
