#include "widgets/call_tree.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace heaplens::gui {
namespace {

std::uint64_t edge(NodeId parent, std::uint32_t key) { return (std::uint64_t{parent} << 32) | key; }

}  // namespace

CallTree build_call_tree(std::span<const StackSample> samples, Direction direction) {
  CallTree tree;
  tree.direction = direction;
  tree.nodes.push_back(CallNode{kRootKey, kNoNode, {}, 0, 0, 0});
  std::unordered_map<std::uint64_t, NodeId> child_of;

  auto step = [&](NodeId at, std::uint32_t key, double value) {
    auto [it, inserted] = child_of.try_emplace(edge(at, key), static_cast<NodeId>(tree.nodes.size()));
    if (inserted) tree.nodes.push_back(CallNode{key, at, {}, 0, 0, tree.nodes[at].depth + 1});
    tree.nodes[it->second].total += value;
    return it->second;
  };

  for (const StackSample& s : samples) {
    if (!std::isfinite(s.value)) continue;
    tree.nodes[kRootNode].total += s.value;
    NodeId at = kRootNode;
    if (direction == Direction::kTopDown) {
      for (auto f = s.frames.rbegin(); f != s.frames.rend(); ++f) at = step(at, *f, s.value);
    } else {
      for (std::uint32_t key : s.frames) at = step(at, key, s.value);
    }
    tree.nodes[at].self += s.value;
  }

  for (NodeId id = 1; id < tree.nodes.size(); ++id) tree.nodes[tree.nodes[id].parent].children.push_back(id);
  for (CallNode& n : tree.nodes) {
    std::sort(n.children.begin(), n.children.end(), [&](NodeId a, NodeId b) {
      const CallNode &x = tree.nodes[a], &y = tree.nodes[b];
      return x.total != y.total ? x.total > y.total : x.key < y.key;
    });
  }
  return tree;
}

NodeId find_child(const CallTree& tree, NodeId parent, std::uint32_t key) {
  if (parent >= tree.nodes.size()) return kNoNode;
  for (NodeId c : tree.nodes[parent].children) {
    if (tree.nodes[c].key == key) return c;
  }
  return kNoNode;
}

std::vector<std::uint32_t> key_path(const CallTree& tree, NodeId node) {
  std::vector<std::uint32_t> keys;
  if (node >= tree.nodes.size()) return keys;
  for (NodeId at = node; at != kRootNode && at != kNoNode; at = tree.nodes[at].parent) {
    keys.push_back(tree.nodes[at].key);
  }
  std::reverse(keys.begin(), keys.end());
  return keys;
}

NodeId resolve_key_path(const CallTree& tree, std::span<const std::uint32_t> keys) {
  if (tree.nodes.empty()) return kNoNode;
  NodeId at = kRootNode;
  for (std::uint32_t key : keys) {
    const NodeId next = find_child(tree, at, key);
    if (next == kNoNode) break;
    at = next;
  }
  return at;
}

}  // namespace heaplens::gui
