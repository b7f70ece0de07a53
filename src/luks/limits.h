// OpenLimits: how much work and memory an untrusted LUKS header may ask for before Veil lets
// libcryptsetup derive a key from it, and the checks that enforce them.
//
// A header names its own PBKDF costs, so an image from someone else could ask for 64 GiB of
// Argon2 memory or 2^32 PBKDF2 iterations. Veil checks every keyslot it is about to try, and the
// digest that verifies it, against these limits first; a keyslot over a limit is never handed to
// libcryptsetup (kResourceExhausted when no keyslot is within the limits).
//
// The defaults accept anything cryptsetup 2.6 creates with its defaults on a machine up to ~30x
// faster than a 2024 laptop core (docs/formats/luks.md, "Limits").
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/result.h"
#include "luks/header_info.h"

namespace veil::luks {

struct OpenLimits {
  // PBKDF2 iterations, for keyslots and for digests (~26 s at 3.9 M/s of SHA-256).
  uint64_t pbkdf2_max_iterations = 100'000'000;
  // Argon2 memory cost (cryptsetup's own default maximum is 1 GiB).
  uint64_t argon2_max_memory_kib = 1'048'576;
  // Argon2 time cost (passes); cryptsetup picks ~140 passes for 2 s with 1 MiB of memory.
  uint64_t argon2_max_time = 10'000;
  // Argon2 lanes, each a thread (cryptsetup creates at most 4).
  uint64_t argon2_max_parallel = 16;
  // Argon2 total work, time x memory in KiB: 64 GiB-passes (cryptsetup's default 2 s with 1 GiB
  // is 4-10 GiB-passes).
  uint64_t argon2_max_work_kib = uint64_t{64} << 20;
  // All the keyslots one passphrase is tried against, together: at most this many keyslots' worth
  // of the limits above (each keyslot's KDF plus the digest that checks it, as a fraction of
  // pbkdf2_max_iterations or argon2_max_work_kib). LUKS2 allows 32 keyslots: without a total, a
  // header with every one at the limit would cost ~15 minutes of CPU per wrong passphrase; with
  // it, at most twice the worst single keyslot (~52 s of PBKDF2 at the defaults). A keyslot that
  // would go over is not tried, like a keyslot over a limit.
  double total_work = 2.0;
};

// The keyslots to try for one passphrase, as OpenVolumeKey does, in cryptsetup's order (priority
// "high", then "normal"; "ignore" never): active, of a type libcryptsetup opens (luks1, luks2),
// bound to the digest of the data segment, within the limits, and together within total_work.
struct KeyslotChoice {
  std::vector<uint32_t> slots;
  // Why the first keyslot left out for its cost was left out (kResourceExhausted or
  // kUnimplemented), if one was.
  std::optional<Error> refused;
};
[[nodiscard]] KeyslotChoice ChooseKeyslots(const HeaderInfo& info, const OpenLimits& limits);

// kResourceExhausted naming the slot and the parameter when the keyslot's KDF is over a limit;
// kUnimplemented for a KDF type Veil does not know (its cost cannot be judged).
[[nodiscard]] Status CheckKeyslotCost(const KeyslotInfo& keyslot, const OpenLimits& limits);
// kResourceExhausted when the digest's PBKDF2 iterations are over the limit.
[[nodiscard]] Status CheckDigestCost(const DigestInfo& digest, const OpenLimits& limits);

// Checks that a container of `size_bytes` holds all its metadata and keyslot areas (kDataLoss,
// "truncated", otherwise) and the payload it claims (LUKS2 segments of fixed size; kOutOfRange,
// the input smaller than it claims, otherwise).
[[nodiscard]] Status CheckContainerSize(const HeaderInfo& info, uint64_t size_bytes);

}  // namespace veil::luks
