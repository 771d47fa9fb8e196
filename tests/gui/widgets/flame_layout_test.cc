#include <vector>

#include <catch2/catch.hpp>

#include "sample_stacks.h"

#include "widgets/call_tree.h"
#include "widgets/flame_layout.h"

using namespace heaplens::gui;
using namespace heaplens::gui::test;

namespace {

struct Expected {
  std::vector<std::uint32_t> path;
  int depth;
  double x, w;
};

void check_layout(const CallTree& t, const std::vector<FlameRect>& got, const std::vector<Expected>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("rect " << i);
    CHECK(key_path(t, got[i].node) == want[i].path);
    CHECK(got[i].depth == want[i].depth);
    CHECK(got[i].x == Approx(want[i].x));
    CHECK(got[i].w == Approx(want[i].w));
  }
}

}  // namespace

TEST_CASE("flame_layout: widths proportional to totals, pre-order, children left to right") {
  const CallTree t = build_call_tree(kSamples, Direction::kTopDown);
  // Root total 27 across 270: ten units a sample value.
  check_layout(t, flame_layout(t, 270, 0),
               {{{}, 0, 0, 270},
                {{kMain}, 1, 0, 250},
                {{kMain, kF}, 2, 0, 180},
                {{kMain, kF, kSiteA}, 3, 0, 100},
                {{kMain, kF, kSiteB}, 3, 100, 50},
                {{kMain, kF, kF}, 3, 150, 30},
                {{kMain, kF, kF, kSiteA}, 4, 150, 30},
                {{kMain, kG}, 2, 180, 70},
                {{kMain, kG, kSiteA}, 3, 180, 70}});
}

TEST_CASE("flame_layout: nodes narrower than min_width go, with their subtrees") {
  const CallTree t = build_call_tree(kSamples, Direction::kTopDown);
  check_layout(t, flame_layout(t, 270, 40),
               {{{}, 0, 0, 270},
                {{kMain}, 1, 0, 250},
                {{kMain, kF}, 2, 0, 180},
                {{kMain, kF, kSiteA}, 3, 0, 100},
                {{kMain, kF, kSiteB}, 3, 100, 50},
                {{kMain, kG}, 2, 180, 70},
                {{kMain, kG, kSiteA}, 3, 180, 70}});
}

TEST_CASE("flame_layout: a focus spans the width under its full-width ancestors") {
  const CallTree t = build_call_tree(kSamples, Direction::kTopDown);
  const NodeId f = resolve_key_path(t, std::vector<std::uint32_t>{kMain, kF});
  check_layout(t, flame_layout(t, 180, 0, f),
               {{{}, 0, 0, 180},
                {{kMain}, 1, 0, 180},
                {{kMain, kF}, 2, 0, 180},
                {{kMain, kF, kSiteA}, 3, 0, 100},
                {{kMain, kF, kSiteB}, 3, 100, 50},
                {{kMain, kF, kF}, 3, 150, 30},
                {{kMain, kF, kF, kSiteA}, 4, 150, 30}});
}

TEST_CASE("flame_layout: degenerate input") {
  const CallTree t = build_call_tree(kSamples, Direction::kTopDown);
  CHECK(flame_layout(CallTree{}, 100, 1).empty());
  CHECK(flame_layout(t, 0, 1).empty());
  CHECK(flame_layout(t, -5, 1).empty());
  CHECK(flame_layout(t, 100, 1, 999).empty());
  const CallTree empty = build_call_tree({}, Direction::kTopDown);
  const auto only_root = flame_layout(empty, 100, 1);
  REQUIRE(only_root.size() == 1);
  CHECK(only_root[0].w == 100);
  // Everything narrower than min_width: just the root.
  CHECK(flame_layout(t, 270, 1000).size() == 1);
}
