// The KMS ciphertext (WDEK): what wrap returns and unwrap takes (docs/formats/wdek.md).
//
//   ciphertext = base64( JSON object, keys in this order, no spaces:
//     {"ciphertext":"<base64 of AES-256-GCM(DEK) || 16-byte tag>",
//      "iv":"<base64 of the 12-byte GCM nonce>",
//      "version":"4.0.0",
//      "handle":"<the key version id (uuid) whose material sealed it>"} )
//
// Associated data: "veil-kms-wdek/v1" 0x00 <key version id> 0x00, then for each string of the
// request's `aad` list its length as 4 big-endian bytes and its bytes. The version id binds the
// ciphertext to the material that made it; the length prefixes make ["ab","c"] differ from
// ["a","bc"]. The aad list is not stored: unwrap must give the same list in the same order.
//
// ParseWdek accepts only this shape, byte for byte as FormatWdek writes it (any other base64,
// JSON, key order, spacing, escape or field is kInvalidArgument, which the API answers with 422
// UNPROCESSABLE_CIPHERTEXT_ERR); it checks lengths, not the tag.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::kms {

inline constexpr std::string_view kWdekVersion = "4.0.0";
inline constexpr size_t kWdekIvSize = 12;
inline constexpr size_t kWdekTagSize = 16;
// Upper bounds of a wrap request (Key Protect's): a DEK of at most 7,500 bytes (a standard key's),
// up to 255 aad strings of up to 255 characters each.
inline constexpr size_t kMaxWrapPlaintext = 7500;
inline constexpr size_t kMaxAadEntries = 255;
inline constexpr size_t kMaxAadEntryLength = 255;
// A WDEK string longer than this cannot be one Veil made.
inline constexpr size_t kMaxWdekText = 16 * 1024;

struct Wdek {
  std::vector<uint8_t> sealed;  // ciphertext || tag
  std::vector<uint8_t> iv;      // 12 bytes
  std::string handle;           // key version id
};

std::string FormatWdek(const Wdek& wdek);
[[nodiscard]] Result<Wdek> ParseWdek(std::string_view text);

// The associated data bound into the GCM tag, as above.
std::vector<uint8_t> WdekAad(std::string_view version_id, const std::vector<std::string>& aad);

}  // namespace veil::kms
