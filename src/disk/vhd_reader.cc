#include "disk/vhd_reader.h"

#include <algorithm>
#include <cstring>

#include "disk/internal/big_endian.h"

namespace veil::disk {

namespace {

using internal::LoadBe16;
using internal::LoadBe32;
using internal::LoadBe64;

constexpr uint64_t kFooterSize = 512;
constexpr uint64_t kDynHeaderSize = 1024;
constexpr uint32_t kTypeFixed = 2;
constexpr uint32_t kTypeDynamic = 3;
constexpr uint32_t kTypeDifferencing = 4;
constexpr uint32_t kUnallocated = 0xffffffff;
// QEMU's limits: 2040 GiB, and the CHS maximum that means "use current_size".
constexpr uint64_t kMaxSectors = 0xff000000;
constexpr uint64_t kMaxGeometrySectors = 65535ULL * 16 * 255;
// The BAT held in memory: 16 Mi entries (64 MiB), i.e. 32 TiB of 2 MiB blocks.
constexpr uint64_t kMaxBatEntries = uint64_t{1} << 24;

// Footer (512 bytes) and dynamic header (1024 bytes) field offsets.
constexpr size_t kFooterDataOffset = 16;
constexpr size_t kFooterCreatorApp = 28;
constexpr size_t kFooterCurrentSize = 48;
constexpr size_t kFooterCylinders = 56;
constexpr size_t kFooterHeads = 58;
constexpr size_t kFooterSectorsPerTrack = 59;
constexpr size_t kFooterType = 60;
constexpr size_t kFooterChecksum = 64;
constexpr size_t kDynTableOffset = 16;
constexpr size_t kDynMaxTableEntries = 28;
constexpr size_t kDynBlockSize = 32;
constexpr size_t kDynChecksum = 36;

std::string Num(uint64_t v) { return std::to_string(v); }

// One's complement of the byte sum, the checksum field itself counted as zero.
uint32_t Checksum(const uint8_t* data, size_t size, size_t checksum_at) {
  uint32_t sum = 0;
  for (size_t i = 0; i < size; ++i) {
    if (i >= checksum_at && i < checksum_at + 4) continue;
    sum += data[i];
  }
  return ~sum;
}

bool HasCookie(const uint8_t* p) { return std::memcmp(p, "conectix", 8) == 0; }

// The disk's size in sectors: the CHS geometry, or the footer's current size for the creators
// that write it as the truth (QEMU's rule) and when the geometry is at its maximum.
uint64_t FooterSectors(const uint8_t* footer) {
  const uint64_t chs = uint64_t{LoadBe16(footer + kFooterCylinders)} * footer[kFooterHeads] *
                       footer[kFooterSectorsPerTrack];
  const char* app = reinterpret_cast<const char*>(footer + kFooterCreatorApp);
  const bool uses_current_size =
      std::memcmp(app, "win ", 4) == 0 || std::memcmp(app, "qem2", 4) == 0 ||
      std::memcmp(app, "d2v ", 4) == 0 || std::memcmp(app, "CTXS", 4) == 0 ||
      std::memcmp(app, "tap\0", 4) == 0;
  uint64_t sectors = chs;
  if (uses_current_size || chs == kMaxGeometrySectors) {
    sectors = LoadBe64(footer + kFooterCurrentSize) / 512;
  }
  return sectors;
}

// The block allocation table of a dynamic disk: `needed` entries for the virtual size, each
// pointing to a block (bitmap and data, `block_span` bytes) inside the file, or unallocated.
Result<std::vector<uint32_t>> ReadBat(const RandomAccessFile& file, const uint8_t* dyn,
                                      uint64_t needed, uint64_t block_span) {
  const uint64_t file_size = file.size();
  const uint64_t max_entries = LoadBe32(dyn + kDynMaxTableEntries);
  if (max_entries < needed) {
    return DataLoss("VHD BAT has " + Num(max_entries) + " entries, the virtual size needs " +
                    Num(needed));
  }
  if (needed > kMaxBatEntries) {
    return InvalidArgument("VHD BAT of " + Num(needed) + " entries exceeds the limit of " +
                           Num(kMaxBatEntries));
  }
  const uint64_t bat_offset = LoadBe64(dyn + kDynTableOffset);
  if (bat_offset > file_size || needed * 4 > file_size - bat_offset) {
    return DataLoss("VHD BAT at " + Num(bat_offset) + " lies past the end of the file (" +
                    Num(file_size) + " bytes)");
  }
  std::vector<uint8_t> raw(needed * 4);
  VEIL_TRY(ReadExactly(file, bat_offset, raw, "VHD BAT"));
  std::vector<uint32_t> bat(needed);
  for (uint64_t i = 0; i < needed; ++i) {
    uint32_t entry = LoadBe32(&raw[i * 4]);
    if (entry != kUnallocated) {
      uint64_t at = uint64_t{entry} * 512;
      if (at > file_size || block_span > file_size - at) {
        return DataLoss("VHD BAT entry " + Num(i) + " points to a block at " + Num(at) +
                        " past the end of the file (" + Num(file_size) + " bytes)");
      }
    }
    bat[i] = entry;
  }
  return bat;
}

}  // namespace

Result<std::unique_ptr<VhdReader>> VhdReader::Open(std::shared_ptr<const RandomAccessFile> file) {
  const uint64_t file_size = file->size();
  if (file_size < kFooterSize) {
    return DataLoss("VHD truncated: the file has " + Num(file_size) + " bytes, a footer needs 512");
  }
  uint8_t head[kFooterSize];
  uint8_t tail[kFooterSize];
  VEIL_TRY(ReadExactly(*file, 0, head, "VHD footer copy"));
  VEIL_TRY(ReadExactly(*file, file_size - kFooterSize, tail, "VHD footer"));
  // QEMU's order: a footer copy at offset 0 means a dynamic (or differencing) disk; otherwise the
  // footer at the end describes a fixed disk.
  const bool at_head = HasCookie(head);
  if (!at_head && !HasCookie(tail)) return InvalidArgument("not a VHD image (no footer cookie)");
  const uint8_t* footer = at_head ? head : tail;
  if (Checksum(footer, kFooterSize, kFooterChecksum) != LoadBe32(footer + kFooterChecksum)) {
    return DataLoss("VHD footer checksum mismatch: the image is damaged");
  }
  const uint32_t type = LoadBe32(footer + kFooterType);
  if (type == kTypeDifferencing) {
    return InvalidArgument("differencing VHD (with a parent image) is not supported");
  }
  if (type != kTypeFixed && type != kTypeDynamic) {
    return DataLoss("VHD disk type " + Num(type) + " is unknown");
  }
  if (at_head && type == kTypeFixed) {
    return DataLoss("VHD footer copy at offset 0 describes a fixed disk");
  }

  auto reader = std::unique_ptr<VhdReader>(new VhdReader());
  VhdReader& r = *reader;
  r.dynamic_ = type == kTypeDynamic;

  const uint64_t sectors = FooterSectors(footer);
  if (sectors > kMaxSectors) {
    return InvalidArgument("VHD virtual size of " + Num(sectors) +
                           " sectors exceeds the format's 2040 GiB");
  }
  r.size_ = sectors * 512;

  if (!r.dynamic_) {
    if (r.size_ > file_size - kFooterSize) {
      return DataLoss("fixed VHD of " + Num(r.size_) + " bytes holds only " +
                      Num(file_size - kFooterSize) + " bytes of data: the image is truncated");
    }
    r.file_ = std::move(file);
    return reader;
  }

  const uint64_t dyn_offset = LoadBe64(footer + kFooterDataOffset);
  if (dyn_offset > file_size || kDynHeaderSize > file_size - dyn_offset) {
    return DataLoss("VHD dynamic header at " + Num(dyn_offset) +
                    " lies past the end of the file (" + Num(file_size) + " bytes)");
  }
  uint8_t dyn[kDynHeaderSize];
  VEIL_TRY(ReadExactly(*file, dyn_offset, dyn, "VHD dynamic header"));
  if (std::memcmp(dyn, "cxsparse", 8) != 0) {
    return DataLoss("VHD dynamic header has a bad cookie");
  }
  if (Checksum(dyn, kDynHeaderSize, kDynChecksum) != LoadBe32(dyn + kDynChecksum)) {
    return DataLoss("VHD dynamic header checksum mismatch: the image is damaged");
  }
  r.block_size_ = LoadBe32(dyn + kDynBlockSize);
  if (r.block_size_ < 512 || (r.block_size_ & (r.block_size_ - 1)) != 0) {
    return DataLoss("VHD block size " + Num(r.block_size_) +
                    " is not a power of two of at least 512");
  }
  // One bit per 512-byte sector, padded to whole sectors.
  const uint64_t bitmap_bytes = (uint64_t{r.block_size_} / 512 + 7) / 8;
  r.bitmap_size_ = static_cast<uint32_t>((bitmap_bytes + 511) & ~uint64_t{511});

  const uint64_t needed = (r.size_ + r.block_size_ - 1) / r.block_size_;
  const uint64_t block_span = uint64_t{r.bitmap_size_} + r.block_size_;
  r.bat_ = VEIL_TRY_VALUE(ReadBat(*file, dyn, needed, block_span));
  r.file_ = std::move(file);
  return reader;
}

Result<size_t> VhdReader::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > size_) {
    return OutOfRange("read at " + Num(offset) + " past the virtual size " + Num(size_));
  }
  const uint64_t n = std::min<uint64_t>(out.size(), size_ - offset);
  if (!dynamic_) {
    VEIL_TRY(ReadExactly(*file_, offset, out.first(n), "VHD data"));
    return static_cast<size_t>(n);
  }
  uint64_t done = 0;
  while (done < n) {
    const uint64_t pos = offset + done;
    const uint64_t block = pos / block_size_;
    const uint64_t within = pos % block_size_;
    const uint64_t len = std::min(n - done, block_size_ - within);
    std::span<uint8_t> dst = out.subspan(done, len);
    if (bat_[block] == kUnallocated) {
      std::memset(dst.data(), 0, dst.size());
    } else {
      uint64_t at = uint64_t{bat_[block]} * 512 + bitmap_size_ + within;
      VEIL_TRY(ReadExactly(*file_, at, dst, "VHD block"));
    }
    done += len;
  }
  return static_cast<size_t>(n);
}

Result<std::vector<Extent>> VhdReader::Allocation(uint64_t offset, uint64_t length) const {
  std::vector<Extent> extents;
  if (offset >= size_) return extents;
  const uint64_t end = offset + std::min(length, size_ - offset);
  if (!dynamic_) return file_->DataExtents(offset, end - offset);
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t block = pos / block_size_;
    const uint64_t next = std::min(end, (block + 1) * block_size_);
    AppendExtent(&extents, pos, next - pos, bat_[block] != kUnallocated);
    pos = next;
  }
  return extents;
}

}  // namespace veil::disk
