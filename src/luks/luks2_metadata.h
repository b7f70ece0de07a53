// The LUKS2 JSON metadata (LUKS2 spec §3): strict parsing into a HeaderInfo.
//
// The JSON text comes from a binary header whose checksum has already been verified, but it is
// still untrusted. It is parsed twice: first with a Boost.JSON SAX pass that rejects duplicate
// object keys (json-c, which cryptsetup uses, keeps the last one: a parser differential would let
// an image show Veil one PBKDF cost and cryptsetup another), non-integral numbers and nesting
// deeper than kMaxJsonDepth; then into a DOM whose structure is checked: config (json_size,
// keyslots_size, flags, requirements), keyslots (type, key_size, area, kdf, af, priority),
// digests (bound keyslots and segments exist), one crypt segment, and areas that stay inside the
// keyslots area without overlapping.
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
