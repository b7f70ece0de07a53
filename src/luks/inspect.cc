#include "luks/inspect.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/file.h"
#include "luks/internal/fields.h"
#include "luks/internal/parse_header.h"
#include "luks/limits.h"
#include "luks/luks1_header.h"

namespace veil::luks {
namespace internal {

Result<ParsedHeader> ParseHeader(std::span<const uint8_t> bytes) {
  const bool magic = bytes.size() >= kLuksMagicSize + 2 &&
                     std::memcmp(bytes.data(), kLuksMagic, kLuksMagicSize) == 0;
  if (magic) {
    const uint16_t version = LoadBe16(bytes, kLuksMagicSize);
    if (version == 1) return ParsedHeader{VEIL_TRY_VALUE(ParseLuks1Header(bytes)), std::nullopt};
    if (version == 2) return ParseLuks2(bytes);
    return Unimplemented("LUKS version " + std::to_string(version) + " is not supported");
  }
  // No primary magic: only a LUKS2 secondary header (at one of the offsets of the spec's table)
  // could still make this a LUKS container.
  for (uint64_t off = 0x4000; off <= kMaxLuks2HeaderBytes; off *= 2) {
    if (bytes.size() >= off + kLuksMagicSize &&
        std::memcmp(bytes.data() + off, kLuks2SecondaryMagic, kLuksMagicSize) == 0) {
      return ParseLuks2(bytes);
    }
  }
  return InvalidArgument("not a LUKS image (no LUKS header magic)");
}

}  // namespace internal

Result<HeaderInfo> Inspect(std::span<const uint8_t> header_bytes) {
  auto parsed = VEIL_TRY_VALUE(internal::ParseHeader(header_bytes));
  return std::move(parsed.info);
}

namespace {

Error IoError(int err, const std::string& what) {
  const std::string message = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Error(ErrorCode::kNotFound, message);
    case EACCES:
    case EPERM:
      return Error(ErrorCode::kPermissionDenied, message);
    default:
      return Error(ErrorCode::kUnavailable, message);
  }
}

// Reads bytes [have, want) of the file into `bytes` (which already holds [0, have)).
Status ReadMore(int fd, std::vector<uint8_t>& bytes, uint64_t want, const std::string& path) {
  const size_t have = bytes.size();
  if (want <= have) return OkStatus();
  bytes.resize(static_cast<size_t>(want));
  size_t done = have;
  while (done < want) {
    const ssize_t n = ::pread(fd, bytes.data() + done, static_cast<size_t>(want - done),
                              static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(IoError(errno, "read " + path));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return OkStatus();
}

}  // namespace

Result<MetadataRegion> ReadMetadataRegion(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return tl::unexpected(IoError(errno, "open " + path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return tl::unexpected(IoError(errno, "stat " + path));
  MetadataRegion region;
  if (S_ISREG(st.st_mode)) {
    region.file_size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      return tl::unexpected(IoError(errno, "size of " + path));
    }
    region.file_size = size;
  } else {
    return InvalidArgument(path + " is not a regular file or a block device");
  }
  const uint64_t size = region.file_size;

  VEIL_TRY(
      ReadMore(fd.get(), region.bytes, std::min<uint64_t>(size, kLuks2BinaryHeaderSize), path));
  // LUKS2 needs both metadata copies: 2 * hdr_size when the primary names a plausible size, or
  // as far as the farthest secondary offset when it does not (cryptsetup's recovery scan).
  uint64_t want = kLuks2BinaryHeaderSize;
  const bool magic = region.bytes.size() >= 16 &&
                     std::memcmp(region.bytes.data(), kLuksMagic, kLuksMagicSize) == 0;
  if (magic && internal::LoadBe16(region.bytes, kLuksMagicSize) == 2) {
    const uint64_t hdr_size = internal::LoadBe64(region.bytes, 8);
    want = hdr_size <= kMaxLuks2HeaderBytes ? 2 * hdr_size
                                            : kMaxLuks2HeaderBytes + kLuks2BinaryHeaderSize;
  } else if (!magic) {
    want = kMaxLuks2HeaderBytes + kLuks2BinaryHeaderSize;
  }
  VEIL_TRY(ReadMore(fd.get(), region.bytes, std::min(size, want), path));

  // Then the keyslot areas, as far as the header declares them (bounded).
  const HeaderInfo info = VEIL_TRY_VALUE(Inspect(region.bytes));
  if (info.metadata_end_bytes > kMaxMetadataBytes) {
    return DataLoss("LUKS metadata and keyslots span " + std::to_string(info.metadata_end_bytes) +
                    " bytes (more than Veil reads: " + std::to_string(kMaxMetadataBytes) + ")");
  }
  VEIL_TRY(ReadMore(fd.get(), region.bytes, std::min(size, info.metadata_end_bytes), path));
  return region;
}

Result<HeaderInfo> InspectFile(const std::string& path) {
  const MetadataRegion region = VEIL_TRY_VALUE(ReadMetadataRegion(path));
  HeaderInfo info = VEIL_TRY_VALUE(Inspect(region.bytes));
  VEIL_TRY(CheckContainerSize(info, region.file_size));
  return info;
}

}  // namespace veil::luks
