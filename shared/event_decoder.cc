#include "event_decoder.h"

namespace heaplens::reader {

bool EventDecoder::feed(const wire::Record& r, Event* out) {
  wire::Fields f = wire::decode(r);
  switch (f.op) {
    case wire::Op::kExt: {
      std::uint8_t bit = static_cast<std::uint8_t>(1u << (f.flags & 3));
      if (have_ext_ & bit) {
        ++malformed_;  // each kind at most once per event: the first one stands
        return false;
      }
      have_ext_ |= bit;
      ext_[f.flags & 3] = r.w1;
      return false;
    }
    case wire::Op::kTime:
      // Time never goes back; a smaller value is a producer's late write, not a new time.
      if (r.w1 > time_ns_) time_ns_ = r.w1;
      break;
    case wire::Op::kThread:
      if (f.thread != 0) tids_[f.thread] = static_cast<std::int64_t>(r.w1 & 0xFFFFFFFF);
      else ++malformed_;
      break;
    case wire::Op::kEnd:
      ended_ = true;
      if (r.w1 > time_ns_) time_ns_ = r.w1;
      break;
    case wire::Op::kAlloc:
    case wire::Op::kFree:
    case wire::Op::kRealloc:
    default: {
      if (f.op == wire::Op::kEmpty) {
        ++malformed_;
        break;
      }
      Event e;
      e.op = f.op;
      e.flags = f.flags;
      e.device = f.device;
      e.thread_slot = f.thread;
      e.tid = tids_[f.thread];
      e.stack = f.stack;
      e.address = f.address;
      e.size = f.size;
      if (have_ext_ & (1u << wire::kExtAddress)) {
        if (f.address == wire::kAddressEscape) e.address = ext_[wire::kExtAddress];
        else ++malformed_;
      }
      if (have_ext_ & (1u << wire::kExtSize)) {
        if (f.size == wire::kSizeEscape) e.size = ext_[wire::kExtSize];
        else ++malformed_;
      }
      if (have_ext_ & (1u << wire::kExtDevice)) {
        if (f.device != wire::kDeviceHost) {
          e.device_kind = wire::device_ext_kind(ext_[wire::kExtDevice]);
          e.device_api = wire::device_ext_api(ext_[wire::kExtDevice]);
        } else {
          ++malformed_;
        }
      }
      if (have_ext_ & (1u << wire::kExtStream)) {
        if (f.device != wire::kDeviceHost) e.stream = ext_[wire::kExtStream];
        else ++malformed_;
      }
      have_ext_ = 0;
      e.time_ns = time_ns_;
      *out = e;
      return true;
    }
  }
  if (have_ext_) ++malformed_;  // an Ext must precede its event directly
  have_ext_ = 0;
  return false;
}

}  // namespace heaplens::reader
