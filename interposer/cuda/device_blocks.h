// What heaplens knows about the device blocks a program holds: their device, kind and size
// (a free names only the pointer, and the record of a free must name the block's device,
// whichever device is current when it is freed), and the VMM API's handles and mappings
// (physical memory is freed only once its handle is released and every mapping of it is
// gone).
//
// Fixed-size tables in memory mapped on first use: the hooks run inside someone else's
// process and must not allocate from it. A spin lock guards them: device allocations are
// rare and slow (microseconds in the driver), so it is never contended for long. A full table
// is said once on stderr; the blocks it cannot hold are recorded but their frees are not.
#pragma once

#include <cstdint>

#include "../../shared/format.h"

namespace heaplens::cuda {

struct DeviceBlock {
  std::uint64_t size = 0;
  std::uint32_t device = 0;  // the record's device field (1 + ordinal)
  wire::DeviceKind kind = wire::DeviceKind::kUnknown;
  wire::DeviceApi api = wire::DeviceApi::kUnknown;
};

// Blocks by address (device pointers, pinned host memory, array handles).
bool blocks_add(std::uint64_t address, const DeviceBlock& b) noexcept;
bool blocks_find(std::uint64_t address, DeviceBlock* out) noexcept;
bool blocks_remove(std::uint64_t address, DeviceBlock* out) noexcept;

// VMM: cuMemCreate'd handles and their mappings.
bool vmm_created(std::uint64_t handle, const DeviceBlock& b) noexcept;
// cuMemRelease: true when the physical memory goes now (no mapping left); *out is the block.
bool vmm_released(std::uint64_t handle, DeviceBlock* out) noexcept;
void vmm_mapped(std::uint64_t va, std::uint64_t size, std::uint64_t handle) noexcept;
// cuMemUnmap of [va, va+size): calls gone(handle, block) for each handle whose memory goes
// with it (released, and this was its last mapping).
void vmm_unmapped(std::uint64_t va, std::uint64_t size,
                  void (*gone)(std::uint64_t handle, const DeviceBlock& b)) noexcept;

}  // namespace heaplens::cuda
