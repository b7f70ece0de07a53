// RawReader: the DiskReader of a raw image (the file's bytes are the disk), also used for a raw
// LUKS container (format kLuks), whose bytes Veil reads as they are and src/luks interprets.
// Allocation comes from the host file's holes (SEEK_DATA/SEEK_HOLE) when the file system knows
// them, else everything is data.
//
// Thread-safety: see disk_reader.h.
#pragma once

#include <memory>

#include "disk/disk_reader.h"

namespace veil::disk {

class RawReader final : public DiskReader {
 public:
  RawReader(std::shared_ptr<const RandomAccessFile> file, DiskFormat format)
      : file_(std::move(file)), format_(format), size_(file_->size()) {}

  DiskFormat format() const override { return format_; }
  std::string format_name() const override { return std::string(DiskFormatName(format_)); }
  uint64_t virtual_size() const override { return size_; }
  // kDataLoss when the file shrank since it was opened.
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const override;
  [[nodiscard]] Result<std::vector<Extent>> Allocation(uint64_t offset,
                                                       uint64_t length) const override;

 private:
  std::shared_ptr<const RandomAccessFile> file_;
  DiskFormat format_;
  uint64_t size_;
};

}  // namespace veil::disk
