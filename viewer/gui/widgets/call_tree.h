#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace heaplens::gui {

// One recorded stack and what it stands for (bytes, allocations...). frames[0] is the
// function that allocated (innermost); frames.back() is the outermost caller (main, a thread
// start).
struct StackSample {
  std::span<const std::uint32_t> frames;
  double value;
};

enum class Direction {
  kTopDown,   // roots at the outermost callers: main -> ... -> the allocating function
  kBottomUp,  // roots at the allocating functions, then their callers outward
};

using NodeId = std::uint32_t;
inline constexpr NodeId kRootNode = 0;
inline constexpr NodeId kNoNode = 0xffffffffu;
// The key of the synthetic root ("all"); real frame keys must differ from it.
inline constexpr std::uint32_t kRootKey = 0xffffffffu;

struct CallNode {
  std::uint32_t key;
  NodeId parent;                // kNoNode for the root
  std::vector<NodeId> children;  // by total descending, then by key ascending
  double self = 0;              // value of the samples whose path ends here
  double total = 0;             // value of the samples whose path passes through here
  int depth = 0;                // the root is 0
};

// A path tree: nodes[kRootNode] is the synthetic root whose total is the sum of all samples
// (its self: samples with no frames). Every sample is one path from the root, in the order
// `direction` gives, and adds its value once to every node on that path. Recursion therefore
// shows as repeated keys along a path (main -> f -> g -> f), each node counted once per
// sample: no node's total exceeds the samples through it, and the children of a node never
// add up to more than its total.
// self means "the path ends here": in a top-down tree that is the allocating function itself,
// in a bottom-up tree the outermost caller (the allocating function's own cost is then the
// total of the root's children).
struct CallTree {
  Direction direction = Direction::kTopDown;
  std::vector<CallNode> nodes;

  double root_total() const { return nodes.empty() ? 0 : nodes[kRootNode].total; }
};

// Samples with a NaN or infinite value are skipped.
CallTree build_call_tree(std::span<const StackSample> samples, Direction direction);

// The child of `parent` with frame key `key`, or kNoNode.
NodeId find_child(const CallTree& tree, NodeId parent, std::uint32_t key);

// Keys from below the root down to `node` (empty for the root or an unknown node): a way to
// name a node that survives rebuilding the tree from newer data.
std::vector<std::uint32_t> key_path(const CallTree& tree, NodeId node);

// The node a key path names, or the deepest node along it that still exists (the root when
// none does).
NodeId resolve_key_path(const CallTree& tree, std::span<const std::uint32_t> keys);

}  // namespace heaplens::gui
