// The LUKS2 JSON metadata (LUKS2 spec §3): strict parsing into a HeaderInfo.
//
// The JSON text comes from a binary header whose checksum has already been verified, but it is
// still untrusted. It is parsed twice: first with a Boost.JSON SAX pass that rejects duplicate
// object keys (json-c, which cryptsetup uses, keeps the last one: a parser differential would let
// an image show Veil one PBKDF cost and cryptsetup another), non-integral numbers, nesting
// deeper than kMaxJsonDepth and any text before the opening brace; then into a DOM whose
// structure is checked, at least as strictly as libcryptsetup 2.6's LUKS2_hdr_validate
// (lib/luks2/luks2_json_metadata.c) and its keyslot validation, because OpenVolumeKey hands what
// Veil accepts to libcryptsetup: config (json_size, keyslots_size, flags, a requirements object),
// keyslots (type, key_size, area, kdf, af, priority), one crypt segment named "0" (offset, a
// non-zero size or "dynamic", flags, iv_tweak, encryption, sector_size), digests and tokens whose
// references name existing keyslots and the segment, every luks2 keyslot and the segment bound to
// a digest, and areas that stay inside the keyslots area without overlapping. Every field read as
// a string must be a non-empty one, every object name and reference a decimal number without
// leading zeros. fuzz/luks_cryptsetup_diff_fuzz.cc checks the two parsers against each other.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "common/result.h"
#include "luks/header_info.h"
#include "luks/luks2_header.h"

namespace veil::luks {

inline constexpr size_t kMaxJsonDepth = 32;
inline constexpr uint32_t kLuks2MaxKeyslots = 32;

// kDataLoss for malformed or inconsistent metadata, kUnimplemented for valid features Veil does
// not support (requirements such as online reencryption, integrity, several segments).
[[nodiscard]] Result<HeaderInfo> ParseLuks2Metadata(const Luks2BinaryHeader& header);

}  // namespace veil::luks
