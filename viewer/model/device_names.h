// One spelling of devices and device memory kinds for every front end (text, JSON, JUnit,
// the viewer), so a name in a report is the name in the viewer.
#pragma once

#include <cstdint>
#include <string>

#include "format.h"

namespace heaplens::model {

// A record's device field: "host" (0), "cuda:N" (1 + N), else "device D" (reserved numbers).
std::string device_name(std::uint32_t device);
// "device", "managed", "pinned_host", "async", "vmm", "array" ("unknown" for kUnknown).
const char* kind_name(wire::DeviceKind kind);

}  // namespace heaplens::model
