#include "crypto/internal/xts_vaes.h"

#include <openssl/crypto.h>

#include <cstring>

#include "common/result.h"

#if defined(__x86_64__) && !defined(VEIL_XTS_PORTABLE)
// GCC 12's AVX-512 intrinsics fill unused operands with _mm512_undefined_*(), a self-initialised
// variable that -Wuninitialized reports at the header's lines once inlined: silenced for this file
// (from before the header, where those lines are).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "crypto/internal/gf128.h"
#define VEIL_XTS_VAES 1
#endif

namespace veil::crypto::internal {

#if defined(VEIL_XTS_VAES)

namespace {

// ---- Key expansion (FIPS 197 5.2) with AES-NI's AESKEYGENASSIST, 128-bit registers. ----

#define VEIL_AESNI __attribute__((target("aes,sse4.1")))

// One step of the schedule: w[i..i+3] from w[i-Nk..] (in `key`) and the assisted word (`assist`,
// already broadcast to all four lanes).
VEIL_AESNI inline __m128i ExpandStep(__m128i key, __m128i assist) {
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, assist);
}

// AESKEYGENASSIST takes its round constant as an immediate: one instantiation per constant.
template <int kRcon>
VEIL_AESNI inline __m128i Assist(__m128i key) {
  return _mm_aeskeygenassist_si128(key, kRcon);
}

VEIL_AESNI void Expand128(const uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  auto next = [&](int i, __m128i assist) {
    rk[i] = ExpandStep(rk[i - 1], _mm_shuffle_epi32(assist, 0xff));
  };
  next(1, Assist<0x01>(rk[0]));
  next(2, Assist<0x02>(rk[1]));
  next(3, Assist<0x04>(rk[2]));
  next(4, Assist<0x08>(rk[3]));
  next(5, Assist<0x10>(rk[4]));
  next(6, Assist<0x20>(rk[5]));
  next(7, Assist<0x40>(rk[6]));
  next(8, Assist<0x80>(rk[7]));
  next(9, Assist<0x1b>(rk[8]));
  next(10, Assist<0x36>(rk[9]));
}

VEIL_AESNI void Expand256(const uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  // Even round keys take RotWord(SubWord(w)) ^ rcon (lane 3), odd ones SubWord(w) (lane 2).
  auto even = [&](int i, __m128i assist) {
    rk[i] = ExpandStep(rk[i - 2], _mm_shuffle_epi32(assist, 0xff));
  };
  auto odd = [&](int i) {
    rk[i] = ExpandStep(rk[i - 2], _mm_shuffle_epi32(Assist<0x00>(rk[i - 1]), 0xaa));
  };
  even(2, Assist<0x01>(rk[1]));
  odd(3);
  even(4, Assist<0x02>(rk[3]));
  odd(5);
  even(6, Assist<0x04>(rk[5]));
  odd(7);
  even(8, Assist<0x08>(rk[7]));
  odd(9);
  even(10, Assist<0x10>(rk[9]));
  odd(11);
  even(12, Assist<0x20>(rk[11]));
  odd(13);
  even(14, Assist<0x40>(rk[13]));
}

VEIL_AESNI void ExpandKeys(const uint8_t* key, size_t half, VaesXtsKeys* keys) {
  __m128i enc[15], dec[15], tweak[15];
  const int rounds = half == 16 ? 10 : 14;
  if (half == 16) {
    Expand128(key, enc);
    Expand128(key + half, tweak);
  } else {
    Expand256(key, enc);
    Expand256(key + half, tweak);
  }
  // The equivalent inverse cipher (FIPS 197 5.3.5): reversed order, InvMixColumns on the middle.
  dec[0] = enc[rounds];
  for (int i = 1; i < rounds; ++i) dec[i] = _mm_aesimc_si128(enc[rounds - i]);
  dec[rounds] = enc[0];
  for (int i = 0; i <= rounds; ++i) {
    _mm_store_si128(reinterpret_cast<__m128i*>(keys->data_enc + 16 * i), enc[i]);
    _mm_store_si128(reinterpret_cast<__m128i*>(keys->data_dec + 16 * i), dec[i]);
    _mm_store_si128(reinterpret_cast<__m128i*>(keys->tweak_enc + 16 * i), tweak[i]);
  }
  keys->rounds = rounds;
  OPENSSL_cleanse(enc, sizeof enc);
  OPENSSL_cleanse(dec, sizeof dec);
  OPENSSL_cleanse(tweak, sizeof tweak);
}

// ---- The sector loop: four blocks per 512-bit register, four registers in flight. ----

#define VEIL_VAES __attribute__((target("avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,sse4.1")))

// Multiplies each 128-bit lane (a tweak, little-endian) by alpha^N in GF(2^128) mod
// x^128 + x^7 + x^2 + x + 1 (IEEE 1619 5.2), for 0 < N < 64: shift each 128-bit lane left by N
// bits; the N bits that leave the lane fold back as their carry-less product with 0x87.
template <int N>
VEIL_VAES inline __m512i MulAlphaPow(__m512i t, __m512i poly) {
  const __m512i carry = _mm512_srli_epi64(t, 64 - N);  // the top N bits of each 64-bit half
  const __m512i shifted = _mm512_slli_epi64(t, N);
  const __m512i into_high = _mm512_bslli_epi128(carry, 8);    // low half's bits into the high half
  const __m512i out_of_lane = _mm512_bsrli_epi128(carry, 8);  // the high half's, as a number
  const __m512i folded = _mm512_clmulepi64_epi128(out_of_lane, poly, 0x00);
  return _mm512_ternarylogic_epi64(shifted, into_high, folded, 0x96);  // three-way XOR
}

template <int kRounds>
VEIL_VAES inline __m512i EncryptBlocks(__m512i x, const __m512i* rk) {
  x = _mm512_xor_si512(x, rk[0]);
#pragma GCC unroll 16
  for (int r = 1; r < kRounds; ++r) x = _mm512_aesenc_epi128(x, rk[r]);
  return _mm512_aesenclast_epi128(x, rk[kRounds]);
}

// Sixteen consecutive blocks (four registers) of one sector, whose tweaks are g[0..3]: out =
// AES(in ^ g) ^ g, where the first round key is folded into the first XOR.
template <int kRounds, bool kEncrypt>
VEIL_VAES inline void CryptSixteen(const uint8_t* in, uint8_t* out, const __m512i* g,
                                   const __m512i* rk) {
  __m512i x[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    x[i] = _mm512_ternarylogic_epi64(_mm512_loadu_si512(in + 64 * i), g[i], rk[0], 0x96);
  }
#pragma GCC unroll 16
  for (int r = 1; r < kRounds; ++r) {
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      x[i] = kEncrypt ? _mm512_aesenc_epi128(x[i], rk[r]) : _mm512_aesdec_epi128(x[i], rk[r]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    x[i] = kEncrypt ? _mm512_aesenclast_epi128(x[i], rk[kRounds])
                    : _mm512_aesdeclast_epi128(x[i], rk[kRounds]);
    _mm512_storeu_si512(out + 64 * i, _mm512_xor_si512(x[i], g[i]));
  }
}

template <int kRounds, bool kEncrypt>
VEIL_VAES void Sectors(const VaesXtsKeys& keys, const uint8_t* in, uint8_t* out, size_t sectors,
                       size_t sector_size, uint64_t first_sector, uint64_t tweak_step) {
  __m512i rk[kRounds + 1], tk[kRounds + 1];
  const uint8_t* data_keys = kEncrypt ? keys.data_enc : keys.data_dec;
  for (int r = 0; r <= kRounds; ++r) {
    rk[r] = _mm512_broadcast_i32x4(
        _mm_load_si128(reinterpret_cast<const __m128i*>(data_keys + 16 * r)));
    tk[r] = _mm512_broadcast_i32x4(
        _mm_load_si128(reinterpret_cast<const __m128i*>(keys.tweak_enc + 16 * r)));
  }
  const __m512i poly = _mm512_set1_epi64(0x87);
  alignas(64) uint8_t initial[64];          // four sectors' first tweaks
  const size_t groups = sector_size / 256;  // of sixteen blocks
  uint64_t sector = first_sector;
  for (size_t s = 0; s < sectors; s += 4) {
    // The first tweaks of up to four sectors at once: AES-enc(key2, sector number as 128-bit LE).
    // Lanes past the last sector encrypt numbers nobody uses.
    const uint64_t s0 = sector, s1 = s0 + tweak_step, s2 = s1 + tweak_step, s3 = s2 + tweak_step;
    const __m512i numbers =
        _mm512_set_epi64(0, static_cast<int64_t>(s3), 0, static_cast<int64_t>(s2), 0,
                         static_cast<int64_t>(s1), 0, static_cast<int64_t>(s0));
    _mm512_store_si512(initial, EncryptBlocks<kRounds>(numbers, tk));
    sector = s3 + tweak_step;
    const size_t batch = sectors - s < 4 ? sectors - s : 4;
    for (size_t k = 0; k < batch; ++k) {
      // Lanes of `base`: the tweaks of blocks 0..3; each register further on is alpha^4 ahead.
      const __m128i t0 = _mm_load_si128(reinterpret_cast<const __m128i*>(initial + 16 * k));
      const __m128i t1 = MulAlpha(t0), t2 = MulAlpha(t1), t3 = MulAlpha(t2);
      __m512i base = _mm512_zextsi128_si512(t0);
      base = _mm512_inserti32x4(base, t1, 1);
      base = _mm512_inserti32x4(base, t2, 2);
      base = _mm512_inserti32x4(base, t3, 3);
      const size_t offset = (s + k) * sector_size;
      for (size_t g = 0; g < groups; ++g) {
        const __m512i tweaks[4] = {base, MulAlphaPow<4>(base, poly), MulAlphaPow<8>(base, poly),
                                   MulAlphaPow<12>(base, poly)};
        CryptSixteen<kRounds, kEncrypt>(in + offset + 256 * g, out + offset + 256 * g, tweaks, rk);
        base = MulAlphaPow<16>(base, poly);
      }
    }
  }
  // Round keys and tweaks derive from the key: leave none on the stack.
  OPENSSL_cleanse(rk, sizeof rk);
  OPENSSL_cleanse(tk, sizeof tk);
  OPENSSL_cleanse(initial, sizeof initial);
}

}  // namespace

bool VaesXtsAvailable() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vaes") &&
           __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("aes");
  }();
  return available;
}

void VaesXtsExpandKeys(const uint8_t* key, size_t key_bytes, VaesXtsKeys* keys) {
  VEIL_CHECK(VaesXtsAvailable() && (key_bytes == 32 || key_bytes == 64));
  ExpandKeys(key, key_bytes / 2, keys);
}

void VaesXtsSectors(const VaesXtsKeys& keys, const uint8_t* in, uint8_t* out, size_t sectors,
                    size_t sector_size, uint64_t first_sector, uint64_t tweak_step, bool encrypt) {
  VEIL_CHECK(VaesXtsAvailable() && sector_size % 256 == 0 && sector_size >= 512);
  if (keys.rounds == 10) {
    encrypt ? Sectors<10, true>(keys, in, out, sectors, sector_size, first_sector, tweak_step)
            : Sectors<10, false>(keys, in, out, sectors, sector_size, first_sector, tweak_step);
  } else {
    encrypt ? Sectors<14, true>(keys, in, out, sectors, sector_size, first_sector, tweak_step)
            : Sectors<14, false>(keys, in, out, sectors, sector_size, first_sector, tweak_step);
  }
}

#else  // not x86-64: the OpenSSL paths of xts.cc only

bool VaesXtsAvailable() { return false; }

void VaesXtsExpandKeys(const uint8_t*, size_t, VaesXtsKeys*) {
  VEIL_CHECK_MSG(false, "VAES AES-XTS is not built on this architecture");
}

void VaesXtsSectors(const VaesXtsKeys&, const uint8_t*, uint8_t*, size_t, size_t, uint64_t,
                    uint64_t, bool) {
  VEIL_CHECK_MSG(false, "VAES AES-XTS is not built on this architecture");
}

#endif

}  // namespace veil::crypto::internal

#if defined(VEIL_XTS_VAES)
#pragma GCC diagnostic pop
#endif
