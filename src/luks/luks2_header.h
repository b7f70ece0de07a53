// The LUKS2 binary header (LUKS2 spec §2.1) and the choice between the primary and secondary
// copies of the metadata.
//
// A LUKS2 container starts with two copies of the metadata: the primary (magic "LUKS\xba\xbe")
// at offset 0 and the secondary ("SKUL\xba\xbe") at hdr_size, each a 4096-byte binary header
// followed by the JSON area, hdr_size bytes in all, with a SHA-256 checksum over those bytes
// (checksum field zeroed). hdr_size is one of 16 KiB .. 4 MiB (spec table 1).
//
// Used by Inspect() and OpenVolumeKey(); callers go through inspect.h.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "common/result.h"
#include "luks/header_info.h"

namespace veil::luks {

inline constexpr size_t kLuks2BinaryHeaderSize = 4096;
inline constexpr uint8_t kLuks2SecondaryMagic[6] = {'S', 'K', 'U', 'L', 0xba, 0xbe};

// The decoded fields of one binary header whose checksum has been verified.
struct Luks2BinaryHeader {
  bool primary = true;
  uint64_t hdr_size = 0;
  uint64_t seqid = 0;
  uint64_t hdr_offset = 0;
  std::string label;
  std::string subsystem;
  std::string uuid;
  // The JSON text (up to its terminating NUL), a view into the parsed bytes.
  std::string_view json;
};

// Whether the copy of the metadata at `offset` of `bytes` (the primary when offset is 0) is there
// at all, decided as libcryptsetup's hdr_read_disk decides it: magic, version 2, hdr_offset equal
// to `offset`, hdr_size within 16 KiB..4 MiB (a secondary's equal to its offset), and the checksum.
// kDataLoss when the copy is absent, truncated or damaged (the other copy may still serve);
// kUnimplemented for a checksum algorithm other than sha256 (Veil cannot tell whether that copy is
// damaged). Fills hdr_size, seqid, hdr_offset and primary.
[[nodiscard]] Result<Luks2BinaryHeader> ReadLuks2Copy(std::span<const uint8_t> bytes,
                                                      uint64_t offset);

// Veil's further checks of a copy that ReadLuks2Copy found: hdr_size from the spec's table,
// NUL-terminated zero-padded strings, zero padding, zeros after the SHA-256 in the checksum field,
// a NUL-terminated JSON area with only zeros after the NUL. Fills label, subsystem, uuid and json
// (a view into `bytes`). kDataLoss for anything wrong.
[[nodiscard]] Status CheckLuks2Copy(std::span<const uint8_t> bytes, Luks2BinaryHeader& header);

// A parsed header of either version.
struct ParsedHeader {
  HeaderInfo info;
  // LUKS2: the byte range [first, second) of the metadata copy that was NOT chosen (the older,
  // or on a tie the secondary). OpenVolumeKey blanks it in its private copy so that libcryptsetup
  // can only see the metadata that Veil validated.
  std::optional<std::pair<uint64_t, uint64_t>> unused_copy;
};

// Reads the primary header and, when `bytes` holds it, the secondary one at the primary's
// hdr_size. Every copy whose checksum verifies must also pass CheckLuks2Copy and hold valid JSON
// metadata, or the image is refused; the copy with the higher seqid is used (the primary on a
// tie), as cryptsetup does. Both copies must be valid: an image with one absent or damaged copy
// is kDataLoss (libcryptsetup would recover it, but refuses to on a device that holds another
// signature, which only blkid can tell); only when the bytes end before the secondary is the
// primary alone used, with a warning. If the primary is absent or damaged, the secondary is looked
// for at every offset of the spec's table, for the error message. kDataLoss when no copy is valid.
[[nodiscard]] Result<ParsedHeader> ParseLuks2(std::span<const uint8_t> bytes);

}  // namespace veil::luks
