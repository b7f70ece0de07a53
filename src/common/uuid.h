// UUIDs (RFC 9562, formerly RFC 4122): generation of version 4 (random) ids and strict parsing.
//
// Veil issues every resource id as a UUIDv4 in the canonical form: 36 characters, lower-case hex,
// hyphens at offsets 8, 13, 18 and 23 ("xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx", V in 8..b). Ids are
// compared as strings, so only the canonical form is valid: IsUuidV4 rejects upper case, braces,
// "urn:uuid:" prefixes and missing hyphens. Uuid::Parse is the lenient reader for text from
// outside (either case) that yields the canonical form through ToString().
//
// Thread-safety: values and pure functions; NewUuidV4 is as thread-safe as the Random passed in.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/result.h"

namespace veil {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  // Parses "8-4-4-4-12" hex groups in either case; anything else -> kInvalidArgument.
  [[nodiscard]] static Result<Uuid> Parse(std::string_view text);

  // The canonical lower-case form.
  std::string ToString() const;
  // The version nibble (4 for random UUIDs).
  int version() const { return bytes[6] >> 4; }
  // True for the RFC variant (bits 10xx).
  bool is_rfc_variant() const { return (bytes[8] & 0xc0) == 0x80; }

  friend bool operator==(const Uuid&, const Uuid&) = default;
};

// A new random (version 4, RFC variant) UUID drawn from `random`.
Uuid NewUuidV4(Random& random);
// NewUuidV4(random).ToString().
std::string NewUuidV4String(Random& random);

// True iff `text` is the canonical lower-case form of a version 4, RFC-variant UUID.
bool IsUuidV4(std::string_view text);

}  // namespace veil
