// The Stats chunk grows by appending fields: the CUDA caching pool's (flag and 8 counters for
// each of 8 devices) come after every older field, round-trip through writer and reader, and a
// chunk of an older writer (without them) reads with the pool off.
#include "trace_test_util.h"

namespace heaplens::trace {
namespace {

using test::Collector;
using test::Raw;
using test::TempDir;

constexpr std::uint32_t kFieldsBeforePool = static_cast<std::uint32_t>(StatsField::kHeapRetained) + 1;

TEST_CASE("the pool's Stats fields are appended after the older ones", "[trace]") {
  CHECK(static_cast<std::uint32_t>(StatsField::kCudaPool) == kFieldsBeforePool);
  CHECK(pool_field(0, PoolCounter::kReservedBytes) == StatsField::kPoolFirst);
  CHECK(static_cast<std::uint32_t>(pool_field(kPoolDevices - 1, PoolCounter::kTrims)) + 1 ==
        static_cast<std::uint32_t>(StatsField::kCount));
  CHECK(static_cast<std::uint32_t>(pool_field(1, PoolCounter::kReservedBytes)) ==
        static_cast<std::uint32_t>(StatsField::kPoolFirst) + kPoolCounters);
}

TEST_CASE("a Stats chunk with the pool's fields round-trips", "[trace]") {
  TempDir dir;
  std::string path = dir.file("pool.hltrace");
  std::string error;
  auto w = TraceWriter::create(path, &error);
  REQUIRE(w);
  ImageInfo info;
  REQUIRE(w->add_image(info));
  StatsSnapshot st;
  st.set(StatsField::kHeapRetained, 5);
  st.set(StatsField::kCudaPool, 1);
  for (std::uint32_t d = 0; d < kPoolDevices; ++d)
    for (std::uint32_t c = 0; c < kPoolCounters; ++c)
      st.set(pool_field(d, static_cast<PoolCounter>(c)), 1000 * (d + 1) + c);
  REQUIRE(w->add_stats(st));
  REQUIRE(w->close());
  Collector got;
  ReadResult r = read_trace(path, got);
  INFO(r.message);
  REQUIRE(r.status == ReadResult::Status::kComplete);
  REQUIRE(got.stats.size() == 1);
  CHECK(got.stats[0].get(StatsField::kHeapRetained) == 5);
  CHECK(got.stats[0].get(StatsField::kCudaPool) == 1);
  CHECK(got.stats[0].get(pool_field(0, PoolCounter::kReservedBytes)) == 1000);
  CHECK(got.stats[0].get(pool_field(3, PoolCounter::kHits)) == 4004);
  CHECK(got.stats[0].get(pool_field(7, PoolCounter::kTrims)) == 8007);
}

TEST_CASE("an older writer's Stats chunk (no pool fields) reads with the pool off", "[trace]") {
  TempDir dir;
  std::string path = dir.file("old.hltrace");
  Raw old;
  old.u32(0).u32(kFieldsBeforePool);
  for (std::uint32_t k = 0; k < kFieldsBeforePool; ++k) old.u64(10 + k);
  Raw body;
  body.bytes(test::image_chunk(0).data()).chunk(ChunkKind::kStats, old).bytes(test::end_chunk().data());
  test::spit(path, test::file_header() + test::frame(body.data()));
  Collector got;
  ReadResult r = read_trace(path, got);
  INFO(r.message);
  REQUIRE(r.status == ReadResult::Status::kComplete);
  REQUIRE(got.stats.size() == 1);
  CHECK(got.stats[0].get(StatsField::kHeapRetained) == 10 + kFieldsBeforePool - 1);
  CHECK(got.stats[0].get(StatsField::kCudaPool) == 0);
  CHECK(got.stats[0].get(pool_field(0, PoolCounter::kReservedBytes)) == 0);
}

}  // namespace
}  // namespace heaplens::trace
