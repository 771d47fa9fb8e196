#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "sample_stacks.h"

#include "widgets/call_tree.h"

using namespace heaplens::gui;
using namespace heaplens::gui::test;  // kSamples: stacks A 10, B 5, C 7, D 3 (f calls itself), none 2

namespace {

NodeId at(const CallTree& t, std::vector<std::uint32_t> keys) {
  const NodeId n = resolve_key_path(t, keys);
  REQUIRE(key_path(t, n) == keys);  // the whole path exists
  return n;
}

std::vector<std::uint32_t> child_keys(const CallTree& t, NodeId n) {
  std::vector<std::uint32_t> keys;
  for (NodeId c : t.nodes[n].children) keys.push_back(t.nodes[c].key);
  return keys;
}

}  // namespace

TEST_CASE("build_call_tree: top-down totals, self values and order") {
  const CallTree t = build_call_tree(kSamples, Direction::kTopDown);
  REQUIRE(t.nodes.size() == 9);  // root, main, f, g, A, B, f, A (under f f), A (under g)
  CHECK(t.nodes[kRootNode].key == kRootKey);
  CHECK(t.root_total() == 27);
  CHECK(t.nodes[kRootNode].self == 2);  // the empty stack
  CHECK(child_keys(t, kRootNode) == std::vector<std::uint32_t>{kMain});

  const NodeId main = at(t, {kMain});
  CHECK(t.nodes[main].total == 25);
  CHECK(t.nodes[main].self == 0);
  CHECK(child_keys(t, main) == std::vector<std::uint32_t>{kF, kG});  // 18 before 7

  // Recursion: the outer f counts stack D once (10 + 5 + 3), not once per occurrence.
  const NodeId f = at(t, {kMain, kF});
  CHECK(t.nodes[f].total == 18);
  CHECK(t.nodes[f].self == 0);
  CHECK(child_keys(t, f) == std::vector<std::uint32_t>{kSiteA, kSiteB, kF});  // 10, 5, 3
  const NodeId inner_f = at(t, {kMain, kF, kF});
  CHECK(t.nodes[inner_f].total == 3);
  CHECK(t.nodes[inner_f].depth == 3);
  CHECK(t.nodes[at(t, {kMain, kF, kF, kSiteA})].self == 3);
  CHECK(t.nodes[at(t, {kMain, kF, kSiteA})].self == 10);
  CHECK(t.nodes[at(t, {kMain, kF, kSiteB})].self == 5);
  CHECK(t.nodes[at(t, {kMain, kG, kSiteA})].total == 7);

  // Every node: children never exceed it, and total = self + children.
  for (const CallNode& n : t.nodes) {
    double sum = n.self;
    for (NodeId c : n.children) sum += t.nodes[c].total;
    CHECK(sum == n.total);
  }
}

TEST_CASE("build_call_tree: bottom-up roots at the allocating functions") {
  const CallTree t = build_call_tree(kSamples, Direction::kBottomUp);
  CHECK(t.root_total() == 27);
  CHECK(child_keys(t, kRootNode) == std::vector<std::uint32_t>{kSiteA, kSiteB});
  const NodeId a = at(t, {kSiteA});
  CHECK(t.nodes[a].total == 20);  // A, C, D
  CHECK(t.nodes[a].self == 0);
  CHECK(child_keys(t, a) == std::vector<std::uint32_t>{kF, kG});  // 13, 7
  CHECK(t.nodes[at(t, {kSiteA, kF})].total == 13);
  CHECK(t.nodes[at(t, {kSiteA, kF, kMain})].self == 10);  // paths end at the outermost caller
  CHECK(t.nodes[at(t, {kSiteA, kF, kF, kMain})].self == 3);
  CHECK(t.nodes[at(t, {kSiteA, kG, kMain})].self == 7);
  CHECK(t.nodes[at(t, {kSiteB})].total == 5);
}

TEST_CASE("build_call_tree: ties order by key, bad values are skipped, empty input") {
  const std::vector<std::uint32_t> s9 = {9}, s4 = {4}, s7 = {7};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<StackSample> samples = {{s9, 1}, {s4, 1}, {s7, 2}, {s9, nan},
                                            {s4, std::numeric_limits<double>::infinity()}};
  const CallTree t = build_call_tree(samples, Direction::kTopDown);
  CHECK(child_keys(t, kRootNode) == std::vector<std::uint32_t>{7, 4, 9});
  CHECK(t.root_total() == 4);

  const CallTree empty = build_call_tree({}, Direction::kBottomUp);
  REQUIRE(empty.nodes.size() == 1);
  CHECK(empty.root_total() == 0);
}

TEST_CASE("key paths name nodes across rebuilds") {
  const CallTree t = build_call_tree(kSamples, Direction::kTopDown);
  const NodeId inner_f = at(t, {kMain, kF, kF});
  CHECK(key_path(t, kRootNode).empty());
  CHECK(key_path(t, 12345).empty());
  CHECK(find_child(t, kRootNode, kMain) != kNoNode);
  CHECK(find_child(t, kRootNode, kF) == kNoNode);

  // A newer tree with an extra stack first: ids move, the key path still finds f -> f.
  const std::vector<std::uint32_t> extra = {kG, kSiteB, kMain};
  std::vector<StackSample> more = {{extra, 100}};
  more.insert(more.end(), kSamples.begin(), kSamples.end());
  const CallTree newer = build_call_tree(more, Direction::kTopDown);
  const NodeId again = resolve_key_path(newer, key_path(t, inner_f));
  CHECK(newer.nodes[again].key == kF);
  CHECK(newer.nodes[again].total == 3);
  // A path that no longer exists stops at its deepest surviving node.
  const std::vector<std::uint32_t> gone = {kMain, kF, 77, 78};
  CHECK(resolve_key_path(newer, gone) == at(newer, {kMain, kF}));
}
