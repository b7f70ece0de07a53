#include "disk/disk_reader.h"

#include <cstring>

#include "disk/qcow2_reader.h"
#include "disk/raw_reader.h"
#include "disk/vhd_reader.h"

namespace veil::disk {

std::string_view DiskFormatName(DiskFormat format) {
  switch (format) {
    case DiskFormat::kRaw:
      return "raw";
    case DiskFormat::kLuks:
      return "luks";
    case DiskFormat::kQcow2:
      return "qcow2";
    case DiskFormat::kVhd:
      return "vhd";
  }
  return "unknown";
}

DiskFormat DetectFormatFromHead(std::span<const uint8_t> head) {
  auto starts_with = [&](std::string_view magic) {
    return head.size() >= magic.size() && std::memcmp(head.data(), magic.data(), magic.size()) == 0;
  };
  if (starts_with("QFI\xfb")) return DiskFormat::kQcow2;
  if (starts_with("LUKS\xba\xbe")) return DiskFormat::kLuks;
  if (starts_with("conectix")) return DiskFormat::kVhd;
  return DiskFormat::kRaw;
}

Result<DiskFormat> DetectFormat(const RandomAccessFile& file) {
  uint8_t head[512] = {};
  size_t n = VEIL_TRY_VALUE(file.ReadAt(0, head));
  DiskFormat format = DetectFormatFromHead(std::span<const uint8_t>(head, n));
  if (format != DiskFormat::kRaw) return format;
  // A fixed VHD is raw data followed by its footer: look at the last 512 bytes.
  if (file.size() >= 512) {
    uint8_t tail[8] = {};
    size_t m = VEIL_TRY_VALUE(file.ReadAt(file.size() - 512, tail));
    if (m == sizeof(tail) && std::memcmp(tail, "conectix", 8) == 0) return DiskFormat::kVhd;
  }
  return DiskFormat::kRaw;
}

Status DiskReader::SetDecryptor(Decryptor /*decryptor*/, uint32_t /*sector_size*/) {
  return FailedPrecondition("a " + format_name() + " image is not encrypted by its container");
}

Result<std::vector<RawRun>> DiskReader::ReadRawAt(uint64_t /*offset*/,
                                                  std::span<uint8_t> /*out*/) const {
  return FailedPrecondition("raw host reads apply to qcow2 images only, not " + format_name());
}

namespace {

// Names the file in the error, and upcasts.
template <typename T>
Result<std::unique_ptr<DiskReader>> Opened(Result<std::unique_ptr<T>> reader,
                                           const std::string& name) {
  if (!reader) return tl::unexpected(reader.error().Wrap(name));
  return std::unique_ptr<DiskReader>(std::move(*reader));
}

}  // namespace

Result<std::unique_ptr<DiskReader>> OpenDiskFile(std::shared_ptr<const RandomAccessFile> file) {
  DiskFormat format = VEIL_TRY_VALUE(DetectFormat(*file));
  std::string name = file->name();
  switch (format) {
    case DiskFormat::kQcow2:
      return Opened(Qcow2Reader::Open(std::move(file)), name);
    case DiskFormat::kVhd:
      return Opened(VhdReader::Open(std::move(file)), name);
    case DiskFormat::kRaw:
    case DiskFormat::kLuks:
      break;
  }
  return std::unique_ptr<DiskReader>(std::make_unique<RawReader>(std::move(file), format));
}

Result<std::unique_ptr<DiskReader>> OpenDisk(const std::string& path) {
  std::unique_ptr<PosixFile> file = VEIL_TRY_VALUE(PosixFile::Open(path));
  return OpenDiskFile(std::move(file));
}

}  // namespace veil::disk
