#include "event_decoder.h"

namespace heaplens::reader {

bool EventDecoder::feed(const wire::Record& r, Event* out) {
  wire::Fields f = wire::decode(r);
  switch (f.op) {
    case wire::Op::kExt: {
      std::uint8_t kind = f.flags;
      if (kind == wire::kExtAddress && !have_address_) {
        have_address_ = true;
        ext_address_ = r.w1;
      } else if (kind == wire::kExtSize && !have_size_) {
        have_size_ = true;
        ext_size_ = r.w1;
      } else {
        ++malformed_;
      }
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
      if (have_address_) {
        if (f.address == wire::kAddressEscape) e.address = ext_address_;
        else ++malformed_;
      }
      if (have_size_) {
        if (f.size == wire::kSizeEscape) e.size = ext_size_;
        else ++malformed_;
      }
      have_address_ = have_size_ = false;
      e.time_ns = time_ns_;
      *out = e;
      return true;
    }
  }
  if (have_address_ || have_size_) ++malformed_;  // an Ext must precede its event directly
  have_address_ = have_size_ = false;
  return false;
}

}  // namespace heaplens::reader
