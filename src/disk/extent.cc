#include "disk/extent.h"

namespace veil::disk {

void AppendExtent(std::vector<Extent>* extents, uint64_t offset, uint64_t length, bool data) {
  if (length == 0) return;
  if (!extents->empty()) {
    Extent& last = extents->back();
    if (last.data == data && last.offset + last.length == offset) {
      last.length += length;
      return;
    }
  }
  extents->push_back(Extent{offset, length, data});
}

}  // namespace veil::disk
