// Readers for the fixed-size fields of on-disk LUKS headers (big-endian integers, NUL-terminated
// strings). Internal to src/luks.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace veil::luks::internal {

inline uint16_t LoadBe16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((uint16_t{b[at]} << 8) | b[at + 1]);
}
inline uint32_t LoadBe32(std::span<const uint8_t> b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}
inline uint64_t LoadBe64(std::span<const uint8_t> b, size_t at) {
  return (uint64_t{LoadBe32(b, at)} << 32) | LoadBe32(b, at + 4);
}

// The C string in the `size`-byte field at `at`: it must be NUL-terminated inside the field and
// contain no control character (so that it can be shown on a terminal); the bytes after the NUL
// must be zero when `zero_tail`. kDataLoss naming `field` otherwise.
[[nodiscard]] Result<std::string> FixedString(std::span<const uint8_t> b, size_t at, size_t size,
                                              std::string_view field, bool zero_tail);

// Whether `text` has no byte below 0x20 and no DEL.
bool IsDisplayable(std::string_view text);

// True when every byte of b[at, at + size) is zero.
bool AllZero(std::span<const uint8_t> b, size_t at, size_t size);

}  // namespace veil::luks::internal
