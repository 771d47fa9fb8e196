#include "trace_model.h"

namespace heaplens::model {

void TraceModel::on_image(const trace::ImageInfo& i) {
  // Image indexes are dense from 0 in a trace we wrote; a sparse or repeated one (a damaged
  // file the reader let through) still gets a model rather than an out-of-range write.
  if (i.image >= images_.size()) {
    if (i.image > images_.size() + 4096) return;
    images_.resize(i.image + 1);
  }
  if (!images_[i.image]) images_[i.image] = std::make_unique<ImageModel>(i, window_);
}

ImageModel* TraceModel::image(std::uint32_t index) {
  return index < images_.size() ? images_[index].get() : nullptr;
}

void TraceModel::on_records(std::uint32_t i, std::span<const wire::Record> records) {
  if (ImageModel* m = image(i)) m->on_records(records);
}
void TraceModel::on_stack(const trace::StackDef& s) {
  if (ImageModel* m = image(s.image)) m->on_stack(s);
}
void TraceModel::on_module(const trace::ModuleDef& d) {
  if (ImageModel* m = image(d.image)) m->on_module(d);
}
void TraceModel::on_stats(const trace::StatsSnapshot& s) {
  if (ImageModel* m = image(s.image)) m->on_stats(s);
}
void TraceModel::on_image_end(const trace::ImageEnd& e) {
  if (ImageModel* m = image(e.image)) m->on_end(e);
}
void TraceModel::on_symbol(const trace::SymbolDef& s) {
  if (ImageModel* m = image(s.image)) m->on_symbol(s);
}

void TraceModel::finish() {
  for (auto& a : images_) {
    if (!a || a->state() != ImageState::kVanished) continue;
    for (auto& b : images_) {
      // Both images of an exec may carry the same session name (the first was unlinked
      // before the second was created), so order them by start time.
      if (b && b != a && b->info().pid == a->info().pid &&
          b->info().start_realtime_ns >= a->info().start_realtime_ns) {
        a->mark_exec();
        break;
      }
    }
  }
}

}  // namespace heaplens::model
