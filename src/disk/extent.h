// Extent: a byte range of a virtual disk (or of a host file) that either holds data or reads as
// zeros. Readers report them so that writers can keep holes as holes (sparse raw output,
// unallocated qcow2 clusters).
//
// Thread-safety: a value.
#pragma once

#include <cstdint>
#include <vector>

namespace veil::disk {

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  // true: the range may hold non-zero bytes (it is allocated); false: it reads as zeros and holds
  // no data (a hole, an unallocated or zero-flagged cluster, an unallocated VHD block).
  bool data = false;

  bool operator==(const Extent&) const = default;
};

// Appends [offset, offset + length) to `extents`, merging it into the last extent when they touch
// and agree on `data`. Zero-length ranges are dropped.
void AppendExtent(std::vector<Extent>* extents, uint64_t offset, uint64_t length, bool data);

}  // namespace veil::disk
