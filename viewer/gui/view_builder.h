// Builds the viewer's snapshots (view_data.h) from the model. Runs on the model thread; no GL.
#pragma once

#include <cstdint>

#include "frames.h"
#include "trace_model.h"
#include "view_data.h"

namespace heaplens::gui {

// The image to show first: the newest one still running, else the one with the most records.
std::uint32_t default_image(const model::TraceModel& m);

HeaderView build_header(const model::TraceModel& m, std::uint32_t image);
TimelineView build_timeline(const model::ImageModel& m);
SitesView build_sites(const model::ImageModel& m, model::FrameResolver& frames, SiteSort sort = SiteSort::kLive,
                      bool ascending = false);
// Live blocks born at least min_age_ns before the image's newest time (0: all live blocks), host
// sites and device sites (by device and kind) in one list, largest first. While the image runs
// and no age is asked, the host's groups come from the sites' live figures (cheap at any size;
// no largest block); otherwise, and always for devices, from the live set.
LeaksView build_leaks(const model::ImageModel& m, model::FrameResolver& frames, std::uint64_t min_age_ns);
TreeView build_tree(const model::ImageModel& m, model::FrameResolver& frames, bool live_bytes);
StackView build_stack(const model::ImageModel& m, model::FrameResolver& frames, std::uint32_t stack);

// One frame's name for tables and trees: its function, else file+offset in its module.
std::string frame_function(const model::Frame& f, const model::ImageModel& m);
// "file:line", else the module's file name, else "".
std::string frame_location(const model::Frame& f);

}  // namespace heaplens::gui
