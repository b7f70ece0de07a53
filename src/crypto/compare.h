// Constant-time comparison for MACs, signatures, tokens and key-check values.
//
// Use it wherever one side is secret or attacker-controlled and equality decides access: the time
// taken depends only on the lengths, never on where the first difference is. The lengths are not
// considered secret: different lengths return false at once.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <span>

namespace veil::crypto {

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace veil::crypto
