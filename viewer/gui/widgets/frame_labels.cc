#include "widgets/frame_labels.h"

#include "widgets/call_tree.h"

namespace heaplens::gui {

std::string_view FrameLabels::operator()(std::uint32_t key) const {
  if (key == kRootKey) return "all";
  if (lookup != nullptr) return lookup(context, key);
  if (key < by_key.size()) return by_key[key];
  return "?";
}

}  // namespace heaplens::gui
