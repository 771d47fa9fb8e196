#include "device_names.h"

namespace heaplens::model {

std::string device_name(std::uint32_t d) {
  if (d == wire::kDeviceHost) return "host";
  if (d >= wire::kDeviceCudaFirst && d < wire::kDeviceCudaFirst + wire::kMaxCudaDevices)
    return "cuda:" + std::to_string(d - wire::kDeviceCudaFirst);
  return "device " + std::to_string(d);
}

const char* kind_name(wire::DeviceKind k) {
  switch (k) {
    case wire::DeviceKind::kDevice: return "device";
    case wire::DeviceKind::kManaged: return "managed";
    case wire::DeviceKind::kPinnedHost: return "pinned_host";
    case wire::DeviceKind::kAsync: return "async";
    case wire::DeviceKind::kVmm: return "vmm";
    case wire::DeviceKind::kArray: return "array";
    case wire::DeviceKind::kUnknown:
    case wire::DeviceKind::kCount: break;
  }
  return "unknown";
}

}  // namespace heaplens::model
