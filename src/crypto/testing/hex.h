// Test vectors written as hex: Hex("00ff") is {0x00, 0xff}; aborts on text that is not hex.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/encoding.h"

namespace veil::crypto::testing {

inline std::vector<uint8_t> Hex(std::string_view hex) { return HexDecode(hex).value(); }

}  // namespace veil::crypto::testing
