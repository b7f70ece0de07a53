#include "common/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/result.h"

namespace veil {

std::vector<uint8_t> Random::Bytes(size_t n) {
  std::vector<uint8_t> out(n);
  Fill(out);
  return out;
}

SecretBytes Random::Secret(size_t n) {
  SecretBytes out(n);
  FillSecret(out.RevealMutable());
  return out;
}

uint64_t Random::Uint64() {
  uint8_t b[8];
  Fill(b);
  uint64_t v = 0;
  std::memcpy(&v, b, sizeof(v));
  return v;
}

uint64_t Random::Uniform(uint64_t bound) {
  VEIL_CHECK(bound > 0);
  // Reject the top partial range so that every residue is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  for (;;) {
    uint64_t v = Uint64();
    if (v < limit) return v % bound;
  }
}

namespace {

template <typename Fn>
void FillInChunks(std::span<uint8_t> out, Fn fn) {
  // The OpenSSL API takes an int length.
  constexpr size_t kChunk = size_t{1} << 30;
  while (!out.empty()) {
    const size_t n = std::min(out.size(), kChunk);
    VEIL_CHECK_MSG(fn(out.data(), static_cast<int>(n)) == 1, "the OS random generator failed");
    out = out.subspan(n);
  }
}

}  // namespace

void OsRandom::Fill(std::span<uint8_t> out) { FillInChunks(out, RAND_bytes); }

void OsRandom::FillSecret(std::span<uint8_t> out) { FillInChunks(out, RAND_priv_bytes); }

void SeededRandom::Fill(std::span<uint8_t> out) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < out.size()) {
    // SplitMix64 (Steele, Lea, Flood 2014).
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (int k = 0; k < 8 && i < out.size(); ++k, ++i) {
      out[i] = static_cast<uint8_t>(z >> (8 * k));
    }
  }
}

}  // namespace veil
