// VhdReader: the DiskReader of Microsoft VHD images (Virtual Hard Disk Image Format Specification
// 1.0; QEMU's "vpc" driver), fixed and dynamic.
//
// Fixed: the data followed by a 512-byte footer. Dynamic: a footer copy at offset 0, a dynamic
// header ("cxsparse"), a block allocation table (BAT) of 32-bit sector numbers, blocks of a
// power-of-two size each preceded by a sector bitmap, and the footer at the end. Like QEMU, a
// block's sector bitmap is not consulted: an allocated block reads as stored, an unallocated one
// as zeros.
//
// Virtual size: QEMU's rule, so that Veil and qemu-img see the same disk. Images made by
// Virtual PC and by qemu-img without force_size ("vpc ", "qemu") use the CHS geometry
// (cylinders x heads x sectors x 512), which rounds the size given at creation; Hyper-V ("win "),
// qemu-img with force_size ("qem2"), disk2vhd ("d2v "), XenServer ("tap\0"), XenConverter ("CTXS")
// and any image whose geometry is the CHS maximum use the footer's current_size.
//
// Refused: differencing VHDs (a parent image), VHDX (kInvalidArgument); bad footer or dynamic
// header checksums, a BAT or blocks past the end of the file, block sizes that are not a power
// of two, sizes above 2040 GiB (kDataLoss / kInvalidArgument).
//
// Thread-safety: see disk_reader.h.
#pragma once

#include <memory>

#include "disk/disk_reader.h"

namespace veil::disk {

class VhdReader final : public DiskReader {
 public:
  [[nodiscard]] static Result<std::unique_ptr<VhdReader>> Open(
      std::shared_ptr<const RandomAccessFile> file);

  DiskFormat format() const override { return DiskFormat::kVhd; }
  std::string format_name() const override { return dynamic_ ? "vhd-dynamic" : "vhd-fixed"; }
  uint64_t virtual_size() const override { return size_; }
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const override;
  [[nodiscard]] Result<std::vector<Extent>> Allocation(uint64_t offset,
                                                       uint64_t length) const override;

  bool dynamic() const { return dynamic_; }
  uint32_t block_size() const { return block_size_; }

 private:
  VhdReader() = default;

  std::shared_ptr<const RandomAccessFile> file_;
  bool dynamic_ = false;
  uint64_t size_ = 0;
  // Dynamic only.
  uint32_t block_size_ = 0;
  uint32_t bitmap_size_ = 0;
  std::vector<uint32_t> bat_;  // one entry per block of the virtual size
};

}  // namespace veil::disk
