// The CUDA layer's tables of device blocks and VMM handles (interposer/cuda/device_blocks.h):
// lookups stay right through insertions and backward-shift deletions, and VMM physical
// memory is freed exactly when its handle is released and its last mapping is gone.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "cuda/device_blocks.h"

namespace cuda = heaplens::cuda;
using heaplens::wire::DeviceKind;

namespace {

cuda::DeviceBlock block(std::uint64_t size, std::uint32_t device = 1) {
  return {size, device, DeviceKind::kDevice, heaplens::wire::DeviceApi::kRuntime};
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> g_gone;
void on_gone(std::uint64_t handle, const cuda::DeviceBlock& b) { g_gone.emplace_back(handle, b.size); }

}  // namespace

TEST_CASE("device blocks: random adds and removes agree with a map", "[cuda]") {
  std::mt19937_64 rng(7);
  std::map<std::uint64_t, std::uint64_t> truth;
  // Few distinct keys with clustered values: long probe runs, many shifts on deletion.
  auto key = [&] { return 0x7f0000000000ULL + (rng() % 3000) * 256; };
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t k = key();
    cuda::DeviceBlock b;
    if (rng() % 2 == 0 && truth.size() < 20000) {
      if (truth.count(k)) continue;
      REQUIRE(cuda::blocks_add(k, block(i + 1)));
      truth[k] = static_cast<std::uint64_t>(i + 1);
    } else {
      bool had = truth.count(k) != 0;
      REQUIRE(cuda::blocks_remove(k, &b) == had);
      if (had) {
        REQUIRE(b.size == truth[k]);
        truth.erase(k);
      }
    }
  }
  for (auto& [k, size] : truth) {
    cuda::DeviceBlock b;
    REQUIRE(cuda::blocks_find(k, &b));
    REQUIRE(b.size == size);
    REQUIRE(cuda::blocks_remove(k, &b));
    REQUIRE_FALSE(cuda::blocks_find(k, &b));
  }
  cuda::DeviceBlock b;
  REQUIRE_FALSE(cuda::blocks_remove(0, &b));
  REQUIRE_FALSE(cuda::blocks_add(0, block(1)));
}

TEST_CASE("device blocks: a full table refuses, and frees make room again", "[cuda]") {
  std::vector<std::uint64_t> added;
  for (std::uint64_t k = 1;; ++k) {
    if (!cuda::blocks_add(k * 4096, block(k))) break;
    added.push_back(k * 4096);
    REQUIRE(added.size() <= (std::size_t{1} << 16));
  }
  REQUIRE(added.size() == (std::size_t{1} << 16) - (std::size_t{1} << 13));
  cuda::DeviceBlock b;
  REQUIRE(cuda::blocks_remove(added.back(), &b));
  REQUIRE(cuda::blocks_add(0xabc123, block(9)));
  REQUIRE(cuda::blocks_remove(0xabc123, &b));
  added.pop_back();
  for (std::uint64_t k : added) REQUIRE(cuda::blocks_remove(k, &b));
}

TEST_CASE("VMM: memory goes at release when unmapped, else at the last unmap", "[cuda]") {
  g_gone.clear();
  cuda::DeviceBlock b;
  // Released while never mapped: gone at once.
  REQUIRE(cuda::vmm_created(11, block(2 << 20)));
  REQUIRE(cuda::vmm_released(11, &b));
  REQUIRE(b.size == (2u << 20));
  // Mapped twice, released, unmapped one at a time: gone with the second unmap.
  REQUIRE(cuda::vmm_created(12, block(4 << 20)));
  cuda::vmm_mapped(0x10000000, 2 << 20, 12);
  cuda::vmm_mapped(0x20000000, 2 << 20, 12);
  REQUIRE_FALSE(cuda::vmm_released(12, &b));
  cuda::vmm_unmapped(0x10000000, 2 << 20, on_gone);
  REQUIRE(g_gone.empty());
  cuda::vmm_unmapped(0x20000000, 2 << 20, on_gone);
  REQUIRE(g_gone.size() == 1);
  REQUIRE(g_gone[0] == std::make_pair(std::uint64_t{12}, std::uint64_t{4} << 20));
  // Unmapped before release: gone at the release.
  REQUIRE(cuda::vmm_created(13, block(1 << 20)));
  cuda::vmm_mapped(0x30000000, 1 << 20, 13);
  cuda::vmm_unmapped(0x30000000, 1 << 20, on_gone);
  REQUIRE(g_gone.size() == 1);
  REQUIRE(cuda::vmm_released(13, &b));
  // One unmap over a range covering mappings of two released handles frees both; a
  // mapping outside the range stays.
  REQUIRE(cuda::vmm_created(14, block(1 << 20)));
  REQUIRE(cuda::vmm_created(15, block(1 << 20)));
  cuda::vmm_mapped(0x40000000, 1 << 20, 14);
  cuda::vmm_mapped(0x40100000, 1 << 20, 15);
  cuda::vmm_mapped(0x50000000, 1 << 20, 15);
  REQUIRE_FALSE(cuda::vmm_released(14, &b));
  REQUIRE_FALSE(cuda::vmm_released(15, &b));
  g_gone.clear();
  cuda::vmm_unmapped(0x40000000, 2 << 20, on_gone);
  REQUIRE(g_gone.size() == 1);
  REQUIRE(g_gone[0].first == 14);
  cuda::vmm_unmapped(0x50000000, 1 << 20, on_gone);
  REQUIRE(g_gone.size() == 2);
  REQUIRE(g_gone[1].first == 15);
  // Handles heaplens never saw (created before it started) are left alone.
  REQUIRE_FALSE(cuda::vmm_released(99, &b));
  cuda::vmm_mapped(0x60000000, 1 << 20, 99);
  cuda::vmm_unmapped(0x60000000, 1 << 20, on_gone);
  REQUIRE(g_gone.size() == 2);
}
