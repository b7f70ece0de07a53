#include "luks/luks2_header.h"

#include <array>
#include <cstring>

#include "crypto/compare.h"
#include "crypto/hash.h"
#include "luks/internal/fields.h"
#include "luks/luks1_header.h"
#include "luks/luks2_metadata.h"

namespace veil::luks {
namespace {

using internal::AllZero;
using internal::FixedString;
using internal::LoadBe16;
using internal::LoadBe64;

// Binary header field offsets (LUKS2 spec, figure 2).
constexpr size_t kVersionAt = 6, kHdrSizeAt = 8, kSeqidAt = 16, kLabelAt = 24, kLabelSize = 48;
constexpr size_t kCsumAlgAt = 72, kCsumAlgSize = 32, kUuidAt = 168, kUuidSize = 40;
constexpr size_t kSubsystemAt = 208, kHdrOffsetAt = 256, kPaddingAt = 264, kCsumAt = 448;
constexpr size_t kCsumSize = 64, kPadding4096At = 512;

// Spec table 1: the possible hdr_size values (= offsets of the secondary header).
constexpr std::array<uint64_t, 9> kHdrSizes = {0x4000,  0x8000,   0x10000,  0x20000, 0x40000,
                                               0x80000, 0x100000, 0x200000, 0x400000};

bool ValidHdrSize(uint64_t size) {
  for (uint64_t s : kHdrSizes) {
    if (s == size) return true;
  }
  return false;
}

// An image of which only one metadata copy is usable. libcryptsetup would recover the other copy
// from it, and first probes the device for other signatures (blkid): a device that is also, say,
// a romfs where the damaged copy was is "ambiguous" and refused. Veil cannot probe as blkid does,
// so it refuses every such image; `cryptsetup repair` makes it whole again.
Error OneCopy(const std::string& why) {
  return Error(ErrorCode::kDataLoss,
               why +
                   ": only one of the two LUKS2 metadata copies is usable (repair the image "
                   "with cryptsetup repair)");
}

std::string Where(uint64_t offset) {
  return offset == 0 ? std::string("primary LUKS2 header")
                     : "secondary LUKS2 header at offset " + std::to_string(offset);
}

}  // namespace

Result<Luks2BinaryHeader> ReadLuks2Copy(std::span<const uint8_t> bytes, uint64_t offset) {
  const std::string where = Where(offset);
  if (offset > bytes.size() || bytes.size() - offset < kLuks2BinaryHeaderSize) {
    return DataLoss(where + ": truncated (the binary header needs 4096 bytes)");
  }
  const auto b = bytes.subspan(offset);
  const uint8_t* magic = offset == 0 ? kLuksMagic : kLuks2SecondaryMagic;
  if (std::memcmp(b.data(), magic, kLuksMagicSize) != 0) return DataLoss(where + ": bad magic");
  if (LoadBe16(b, kVersionAt) != 2) return DataLoss(where + ": version is not 2");

  Luks2BinaryHeader h;
  h.primary = offset == 0;
  h.hdr_size = LoadBe64(b, kHdrSizeAt);
  h.seqid = LoadBe64(b, kSeqidAt);
  h.hdr_offset = LoadBe64(b, kHdrOffsetAt);
  if (h.hdr_offset != offset) {
    return DataLoss(where + ": hdr_offset " + std::to_string(h.hdr_offset) +
                    " does not match its position");
  }
  if (h.hdr_size < kHdrSizes.front() || h.hdr_size > kHdrSizes.back()) {
    return DataLoss(where + ": invalid hdr_size " + std::to_string(h.hdr_size) +
                    " (not within 16 KiB..4 MiB)");
  }
  if (offset != 0 && h.hdr_size != offset) {
    return DataLoss(where + ": hdr_size " + std::to_string(h.hdr_size) +
                    " does not match its position");
  }
  const std::string csum_alg =
      VEIL_TRY_VALUE(FixedString(b, kCsumAlgAt, kCsumAlgSize, where + " csum_alg", false));
  if (csum_alg != "sha256") {
    return Unimplemented(where + ": checksum algorithm '" + csum_alg + "' (Veil verifies sha256)");
  }
  if (b.size() < h.hdr_size) {
    return DataLoss(where + ": truncated (hdr_size is " + std::to_string(h.hdr_size) + " bytes, " +
                    std::to_string(b.size()) + " present)");
  }
  // Checksum over the binary header with its csum field zeroed, then the JSON area.
  static constexpr uint8_t kZeroCsum[kCsumSize] = {};
  crypto::Sha256Hasher hasher;
  hasher.Update(b.subspan(0, kCsumAt));
  hasher.Update(kZeroCsum);
  hasher.Update(b.subspan(kCsumAt + kCsumSize, h.hdr_size - kCsumAt - kCsumSize));
  const crypto::Sha256Digest digest = hasher.Finish();
  if (!crypto::ConstantTimeEquals(digest, b.subspan(kCsumAt, crypto::kSha256Size))) {
    return DataLoss(where + ": checksum mismatch (damaged header)");
  }
  return h;
}

Status CheckLuks2Copy(std::span<const uint8_t> bytes, Luks2BinaryHeader& h) {
  const uint64_t offset = h.hdr_offset;
  const std::string where = Where(offset);
  const auto b = bytes.subspan(offset, h.hdr_size);
  if (!ValidHdrSize(h.hdr_size)) {
    return DataLoss(where + ": invalid hdr_size " + std::to_string(h.hdr_size) +
                    " (not one of the spec's table 1)");
  }
  h.label = VEIL_TRY_VALUE(FixedString(b, kLabelAt, kLabelSize, where + " label", true));
  (void)VEIL_TRY_VALUE(FixedString(b, kCsumAlgAt, kCsumAlgSize, where + " csum_alg", true));
  h.uuid = VEIL_TRY_VALUE(FixedString(b, kUuidAt, kUuidSize, where + " UUID", true));
  h.subsystem =
      VEIL_TRY_VALUE(FixedString(b, kSubsystemAt, kLabelSize, where + " subsystem", true));
  if (!AllZero(b, kPaddingAt, kCsumAt - kPaddingAt) ||
      !AllZero(b, kPadding4096At, kLuks2BinaryHeaderSize - kPadding4096At)) {
    return DataLoss(where + ": padding is not zero");
  }
  if (!AllZero(b, kCsumAt + crypto::kSha256Size, kCsumSize - crypto::kSha256Size)) {
    return DataLoss(where + ": checksum field has bytes after the SHA-256 digest");
  }
  const auto area = b.subspan(kLuks2BinaryHeaderSize);
  const auto nul = std::find(area.begin(), area.end(), uint8_t{0});
  if (nul == area.end()) return DataLoss(where + ": JSON area is not NUL-terminated");
  const size_t json_size = static_cast<size_t>(nul - area.begin());
  if (!AllZero(area, json_size, area.size() - json_size)) {
    return DataLoss(where + ": JSON area has non-zero bytes after the terminating NUL");
  }
  h.json = std::string_view(reinterpret_cast<const char*>(area.data()), json_size);
  return OkStatus();
}

Result<ParsedHeader> ParseLuks2(std::span<const uint8_t> bytes) {
  struct Copy {
    Luks2BinaryHeader header;
    HeaderInfo info;
  };
  // A copy whose checksum verifies is there, and must then be valid through and through: an
  // error in it refuses the image rather than sending Veil to the other copy. Nothing honest
  // writes such a copy, and libcryptsetup would not look for the secondary where Veil might: it
  // scans for one only when the primary is absent or damaged. Both copies must be there (see
  // OneCopy) unless the bytes end before the secondary.
  auto complete = [&](Luks2BinaryHeader header) -> Result<Copy> {
    VEIL_TRY(CheckLuks2Copy(bytes, header));
    HeaderInfo info = VEIL_TRY_VALUE(ParseLuks2Metadata(header));
    return Copy{std::move(header), std::move(info)};
  };
  // Absent or damaged is kDataLoss; a checksum Veil cannot verify refuses the image at once.
  auto usable = [](const Result<Luks2BinaryHeader>& r) -> Status {
    if (!r && r.error().code != ErrorCode::kDataLoss) return tl::unexpected(r.error());
    return OkStatus();
  };

  std::vector<std::string> warnings;
  std::optional<Copy> primary;
  std::optional<Copy> secondary;
  auto p = ReadLuks2Copy(bytes, 0);
  VEIL_TRY(usable(p));
  if (p) {
    primary = VEIL_TRY_VALUE(complete(*p));
    const uint64_t off = primary->header.hdr_size;
    if (bytes.size() < 2 * off) {
      warnings.push_back("secondary LUKS2 header not in the bytes inspected");
    } else {
      auto s = ReadLuks2Copy(bytes, off);
      VEIL_TRY(usable(s));
      if (!s)
        return tl::unexpected(
            OneCopy("the secondary LUKS2 header is unusable: " + s.error().message));
      secondary = VEIL_TRY_VALUE(complete(*s));
    }
  } else {
    // As cryptsetup does, look for the secondary copy at every offset it may have, and take the
    // first one that is there.
    for (uint64_t off : kHdrSizes) {
      if (bytes.size() < off + kLuks2BinaryHeaderSize ||
          std::memcmp(bytes.data() + off, kLuks2SecondaryMagic, kLuksMagicSize) != 0) {
        continue;
      }
      auto s = ReadLuks2Copy(bytes, off);
      VEIL_TRY(usable(s));
      if (s) {
        (void)VEIL_TRY_VALUE(complete(*s));
        return tl::unexpected(OneCopy("the primary LUKS2 header is unusable (" + p.error().message +
                                      "), the secondary at " + std::to_string(off) + " is valid"));
      }
    }
    return MakeError(p.error().code, p.error().message + "; no usable secondary header either");
  }

  ParsedHeader out;
  if (secondary) {
    const uint64_t size = primary->header.hdr_size;
    if (secondary->header.seqid != primary->header.seqid) {
      warnings.push_back("primary and secondary LUKS2 headers differ (seqid " +
                         std::to_string(primary->header.seqid) + " and " +
                         std::to_string(secondary->header.seqid) + "); using the newer");
    }
    if (secondary->header.seqid > primary->header.seqid) {
      out.info = std::move(secondary->info);
      out.unused_copy = std::make_pair(uint64_t{0}, size);
    } else {
      out.info = std::move(primary->info);
      out.unused_copy = std::make_pair(size, 2 * size);
    }
  } else {
    out.info = std::move(primary->info);  // the bytes end before the secondary
  }
  for (auto& w : warnings) out.info.warnings.push_back(std::move(w));
  return out;
}

}  // namespace veil::luks
