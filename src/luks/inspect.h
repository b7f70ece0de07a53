// Inspect: Veil's own strict parser of LUKS1 and LUKS2 headers (untrusted bytes).
//
// Used by `veil image inspect`, by the image service at import, and by OpenVolumeKey() to check
// an image before libcryptsetup is ever asked to derive a key from it. Bytes are trusted in a fixed
// order (as cryptsetup's lib/luks2 does):
//   1. magic and version, then the sanity of every offset and size in the binary header;
//   2. LUKS2 only: the SHA-256 checksum of each binary header + JSON area (checksum field zeroed),
//      for the primary header and the secondary one at hdr_size;
//   3. LUKS2 only: the JSON area, at most 4 MiB by construction, parsed with Boost.JSON after a
//      pass that rejects duplicate keys, nesting deeper than 16 and non-integral numbers; then
//      its structure (config, keyslots, digests, segments) against the binary header.
// Keyslot areas must lie inside the keyslots area (LUKS2) or between the header and the payload
// (LUKS1), and must not overlap each other or the headers.
//
// Errors:
//   kInvalidArgument  not a LUKS image (no LUKS magic): "not a LUKS image"
//   kDataLoss         truncated or corrupt header: bad checksum, impossible offsets, bad JSON,
//                     overlapping areas, a file too short for the areas it declares
//   kUnimplemented    valid but unsupported: another LUKS version, LUKS2 requirements (online
//                     reencryption), integrity protection, several data segments
// Inspect never derives a key and never needs a passphrase.
//
// Thread-safety: pure functions; InspectFile reads the file with its own descriptor.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "luks/header_info.h"

namespace veil::luks {

// The LUKS2 JSON area is at most 4 MiB - 4 KiB (LUKS2 spec, table 1).
inline constexpr uint64_t kMaxLuks2HeaderBytes = uint64_t{4} << 20;
// cryptsetup's LUKS2_MAX_KEYSLOTS_SIZE.
inline constexpr uint64_t kMaxLuks2KeyslotsBytes = uint64_t{128} << 20;
// Metadata Veil will ever read or copy: two LUKS2 headers and the largest keyslots area.
inline constexpr uint64_t kMaxMetadataBytes = 2 * kMaxLuks2HeaderBytes + kMaxLuks2KeyslotsBytes;

// Parses the header at the start of `header_bytes`. The bytes need not include the keyslot areas
// (nor, for LUKS2, the secondary header: its absence is a warning). Pure and fuzzed.
[[nodiscard]] Result<HeaderInfo> Inspect(std::span<const uint8_t> header_bytes);

// Reads the metadata of the container at `path` (a file or block device), inspects it and checks
// with CheckContainerSize that the file holds the areas and payload it declares.
// kNotFound / kPermissionDenied / kUnavailable for I/O errors.
[[nodiscard]] Result<HeaderInfo> InspectFile(const std::string& path);

// Reads the metadata region of the container at `path`: up to `metadata_end_bytes` (at most
// kMaxMetadataBytes), and returns those bytes with the file's size. Used by InspectFile and
// OpenVolumeKey so that the bytes checked are the bytes opened.
struct MetadataRegion {
  std::vector<uint8_t> bytes;
  uint64_t file_size = 0;
};
[[nodiscard]] Result<MetadataRegion> ReadMetadataRegion(const std::string& path);

}  // namespace veil::luks
