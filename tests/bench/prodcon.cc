// Larson-like producer/consumer: two threads, each allocating blocks of mixed small sizes,
// keeping a private working set (larson's churn) and handing a share of its blocks to the
// other thread, which frees them (cross-thread frees, the remote-free path of jemalloc's
// tcache/arena). Blocks travel in batches through a mutex-protected queue so the allocator,
// not the lock, dominates. The checksum is a sum, independent of the interleaving.
//
// usage: bench_prodcon [batches_per_thread]   (default 40000)
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 256;          // blocks per hand-over
constexpr int kLocalSlots = 4096;    // private working set per thread
constexpr size_t kMaxQueued = 64;    // batches in flight per direction (bounds memory)

struct Batch {
  void* blocks[kBatch];
  std::uint32_t sizes[kBatch];
};

class Queue {
 public:
  void push(Batch* b) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < kMaxQueued; });
    q_.push_back(b);
    not_empty_.notify_one();
  }
  // Returns nullptr when nothing is queued (non-blocking) unless wait is set.
  Batch* pop(bool wait) {
    std::unique_lock<std::mutex> lock(mu_);
    if (wait) not_empty_.wait(lock, [&] { return !q_.empty(); });
    if (q_.empty()) return nullptr;
    Batch* b = q_.front();
    q_.pop_front();
    not_full_.notify_one();
    return b;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Batch*> q_;
};

struct Rng {
  std::uint64_t s;
  std::uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(s >> 33);
  }
  std::uint32_t size() {
    std::uint32_t r = next();
    return (r & 3) ? 16 + ((r >> 2) & 127) : 64 + ((r >> 2) & 1023);  // 16..1087
  }
};

std::uint64_t consume(Batch* b) {
  std::uint64_t sum = 0;
  for (int i = 0; i < kBatch; ++i) {
    auto* p = static_cast<unsigned char*>(b->blocks[i]);
    sum += p[0] + p[b->sizes[i] - 1];
    std::free(p);
  }
  delete b;
  return sum;
}

void worker(int id, long batches, Queue* out, Queue* in, std::uint64_t* result) {
  Rng rng{0x1234567ull + static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull};
  std::vector<void*> local(kLocalSlots, nullptr);
  std::uint64_t sum = 0;
  long received = 0;
  for (long n = 0; n < batches; ++n) {
    auto* b = new Batch;
    for (int i = 0; i < kBatch; ++i) {
      // Larson's churn in the private working set...
      std::uint32_t slot = rng.next() % kLocalSlots;
      std::free(local[slot]);
      std::uint32_t ls = rng.size();
      auto* q = static_cast<unsigned char*>(std::malloc(ls));
      q[0] = static_cast<unsigned char>(ls);
      local[slot] = q;
      // ...and one block for the other thread.
      std::uint32_t sz = rng.size();
      auto* p = static_cast<unsigned char*>(std::malloc(sz));
      p[0] = static_cast<unsigned char>(i);
      p[sz - 1] = static_cast<unsigned char>(sz);
      b->blocks[i] = p;
      b->sizes[i] = sz;
    }
    out->push(b);
    while (Batch* r = in->pop(false)) {
      sum += consume(r);
      ++received;
    }
  }
  while (received < batches) {
    sum += consume(in->pop(true));
    ++received;
  }
  for (void* p : local) std::free(p);
  *result = sum;
}

}  // namespace

int main(int argc, char** argv) {
  long batches = argc > 1 ? std::atol(argv[1]) : 40000;
  Queue a_to_b;
  Queue b_to_a;
  std::uint64_t ra = 0;
  std::uint64_t rb = 0;
  std::thread ta(worker, 0, batches, &a_to_b, &b_to_a, &ra);
  std::thread tb(worker, 1, batches, &b_to_a, &a_to_b, &rb);
  ta.join();
  tb.join();
  std::printf("prodcon checksum %llu\n", static_cast<unsigned long long>(ra + rb));
  return 0;
}
