// GF(2^128) doubling of an XTS tweak in an SSE2 register (x86-64), shared by the two AES-XTS
// engines of crypto/xts.cc and crypto/internal/xts_vaes.cc.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>

namespace veil::crypto::internal {

// Multiplication by alpha (IEEE 1619 5.2) on a tweak held in an SSE register (lanes are 32-bit,
// little-endian): each 64-bit half shifts left by one; bit 63 carries into bit 64 and bit 127
// folds back as 0x87.
inline __m128i MulAlpha(__m128i t) {
  const __m128i poly = _mm_set_epi32(0, 1, 0, 0x87);
  const __m128i carries = _mm_shuffle_epi32(_mm_srai_epi32(t, 31), 0x13);
  return _mm_xor_si128(_mm_add_epi64(t, t), _mm_and_si128(carries, poly));
}

}  // namespace veil::crypto::internal
#endif
