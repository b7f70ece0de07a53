#include "disk/raw_reader.h"

#include <algorithm>

namespace veil::disk {

Result<size_t> RawReader::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > size_) {
    return OutOfRange("read at " + std::to_string(offset) + " past the size " +
                      std::to_string(size_));
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
  VEIL_TRY(ReadExactly(*file_, offset, out.first(n), "raw image data"));
  return n;
}

Result<std::vector<Extent>> RawReader::Allocation(uint64_t offset, uint64_t length) const {
  if (offset >= size_) return std::vector<Extent>{};
  return file_->DataExtents(offset, std::min(length, size_ - offset));
}

}  // namespace veil::disk
