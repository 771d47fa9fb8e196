#include "device_summary.h"

#include "device_names.h"

namespace heaplens::model {

namespace {

DeviceSummary summarize(const ImageModel& m, std::uint32_t device) {
  const DeviceStats& s = m.device(device);
  DeviceSummary d;
  d.device = device;
  d.name = device_name(device);
  d.allocs = s.allocs;
  d.alloc_bytes = s.alloc_bytes;
  d.frees = s.frees;
  d.live_bytes = s.live_bytes;
  d.live_blocks = s.live_blocks;
  d.peak_bytes = device == wire::kDeviceHost ? m.peak_bytes() : Estimate{s.peak_bytes};
  d.peak_time_ns = s.peak_time_ns;
  if (device == wire::kDeviceHost) return d;
  for (std::size_t k = 0; k < kDeviceKinds; ++k)
    if (s.kinds[k].allocs > 0) d.kinds.emplace_back(static_cast<wire::DeviceKind>(k), s.kinds[k]);
  d.pool = m.device_pool(device);
  return d;
}

// What sampling can miss of the host: every figure is an estimate; the peak also states the
// bytes that can go unseen entirely (about 3 sampling intervals, see approximate()).
void approximate_host(DeviceSummary* d, double interval) {
  for (Estimate* e : {&d->allocs, &d->alloc_bytes, &d->frees, &d->live_bytes, &d->live_blocks}) *e = approximate(*e);
  d->peak_bytes = approximate(d->peak_bytes, 3 * interval);
}

}  // namespace

std::vector<DeviceSummary> summarize_devices(const ImageModel& m) {
  std::vector<DeviceSummary> out;
  out.push_back(summarize(m, wire::kDeviceHost));
  if (m.sampled()) approximate_host(&out.back(), static_cast<double>(m.info().sample_interval));
  for (std::uint32_t d = 1; d < ImageModel::kDevices; ++d)
    if (m.device(d).used) out.push_back(summarize(m, d));
  return out;
}

}  // namespace heaplens::model
