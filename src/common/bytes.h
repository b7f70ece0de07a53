// Byte-view helpers: the one place that reinterprets between text and bytes.
//
// Used by every library that hands text (JSON, headers, passwords) to byte-oriented code (hashes,
// ciphers, encoders) without copying. The views do not own memory: they are valid only while the
// viewed object lives and is not modified.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace veil {

// Views the characters of `text` as bytes (no copy).
inline std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Views `bytes` as characters (no copy). The bytes need not be valid UTF-8.
inline std::string_view AsStringView(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace veil
