#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace heaplens::gui {

// Where the flame graph gets a frame's name: either a table indexed by frame key, or a
// function (plus its context) for keys that are not dense. The returned view must stay valid
// until the widget returns.
struct FrameLabels {
  std::span<const std::string> by_key;
  std::string_view (*lookup)(const void* context, std::uint32_t key) = nullptr;
  const void* context = nullptr;

  // "all" for kRootKey, "?" for a key the table does not hold.
  std::string_view operator()(std::uint32_t key) const;
};

}  // namespace heaplens::gui
