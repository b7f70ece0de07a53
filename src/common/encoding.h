// Strict Base64, Base64url and hex codecs.
//
// Encoders never fail. Decoders accept exactly one spelling of each byte string and reject
// everything else with kInvalidArgument: characters outside the alphabet, whitespace or line
// breaks, missing or misplaced padding, impossible lengths, and non-canonical trailing bits (the
// unused low bits of the last character must be zero). Error messages name the offset of the
// offending character, never the input itself (it may be a secret).
//
//   Base64     RFC 4648 §4, alphabet A-Z a-z 0-9 + /, always padded with '=' to a multiple of 4.
//   Base64url  RFC 4648 §5, alphabet A-Z a-z 0-9 - _, never padded (as in JWS/JWK); a decoder
//              input containing '=' is rejected.
//   Hex        encoder writes lower case; decoder accepts either case; even length.
//
// The *Secret decoders write straight into a SecretBytes and keep no other copy of the decoded
// bytes; the encoded input is the caller's to wipe.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil {

std::string Base64Encode(std::span<const uint8_t> data);
std::string Base64UrlEncode(std::span<const uint8_t> data);
std::string HexEncode(std::span<const uint8_t> data);
// Appends the two lower-case hex digits of `byte` to `out` (for escapes such as \x1f or \u001f
// and for ids written in groups).
void AppendHex(std::string* out, uint8_t byte);
// Writes HexEncode(data) into `out`, for text that must not leave a SecretBytes. Precondition:
// out.size() == 2 * data.size().
void HexEncodeInto(std::span<const uint8_t> data, std::span<uint8_t> out);

[[nodiscard]] Result<std::vector<uint8_t>> Base64Decode(std::string_view text);
[[nodiscard]] Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);
[[nodiscard]] Result<std::vector<uint8_t>> HexDecode(std::string_view text);

// Percent-decodes a URL path segment or query component: %XX (either case) becomes its byte,
// everything else is kept ('+' too). kInvalidArgument on a malformed or truncated escape, or on
// a NUL byte (encoded or not), which no name or value of Veil's may hold.
[[nodiscard]] Result<std::string> PercentDecode(std::string_view text);

// `text` as XML character data or attribute value: & < > " ' as entities; the control
// characters XML 1.0 cannot spell (all below 0x20 but tab and newline) as a space.
void AppendXmlEscaped(std::string& out, std::string_view text);

[[nodiscard]] Result<SecretBytes> DecodeBase64Secret(std::string_view text);
[[nodiscard]] Result<SecretBytes> DecodeBase64UrlSecret(std::string_view text);
[[nodiscard]] Result<SecretBytes> DecodeHexSecret(std::string_view text);

}  // namespace veil
