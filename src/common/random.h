// Random: the seam for randomness (key material, IVs, ids, jitter).
//
// Production code receives a Random& (an OsRandom, built in apps/*/main.cc); tests pass a
// SeededRandom to get reproducible ids and keys. Fill() never fails: if the operating system's
// CSPRNG cannot produce bytes the process aborts, because no caller can do anything sensible with
// "no randomness" and silently weaker keys are worse than a crash.
//
// Thread-safety: all implementations here are safe to call from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "common/secret_bytes.h"

namespace veil {

class Random {
 public:
  virtual ~Random() = default;

  // Fills `out` with random bytes (public values: IVs, nonces, ids).
  virtual void Fill(std::span<uint8_t> out) = 0;
  // Fills `out` with random bytes that will be kept secret (keys). Implementations may draw them
  // from a separate generator; the default is Fill().
  virtual void FillSecret(std::span<uint8_t> out) { Fill(out); }

  std::vector<uint8_t> Bytes(size_t n);
  // `n` random bytes drawn with FillSecret(), never copied outside the SecretBytes.
  SecretBytes Secret(size_t n);
  uint64_t Uint64();
  // Uniform in [0, bound), without modulo bias. Precondition: bound > 0.
  uint64_t Uniform(uint64_t bound);
};

// The operating system's CSPRNG through OpenSSL: RAND_bytes for Fill(), RAND_priv_bytes (a
// separate DRBG instance, as OpenSSL recommends for private values) for FillSecret().
class OsRandom final : public Random {
 public:
  void Fill(std::span<uint8_t> out) override;
  void FillSecret(std::span<uint8_t> out) override;
};

// A deterministic stream (SplitMix64) for tests: the same seed gives the same bytes on every
// machine. NOT cryptographically secure; never use outside tests and benchmarks.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void Fill(std::span<uint8_t> out) override;

 private:
  std::mutex mu_;
  uint64_t state_;
};

}  // namespace veil
