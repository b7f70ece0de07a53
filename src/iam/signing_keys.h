// SigningKeyRing: the RS256 keys that sign and verify access tokens. No private key is ever at
// rest (docs/iam.md "Signing keys"):
//   - each veild process generates its RSA-2048 key pair in memory when the ring is created, and
//     a new one every `rotation` (default 24 h; lazily: the first Sign() after the current key's
//     retirement generates the next one);
//   - before a key signs anything, its PUBLIC half is published in the database with its kid and
//     not_after = retirement + token lifetime + leeway, the last moment a token it signed can
//     still be valid;
//   - verification keys are the union of the unexpired published keys, so tokens survive a
//     restart (the new process verifies its predecessor's tokens) and replicas sharing one
//     database verify each other's tokens; a kid unknown in memory triggers one reload from the
//     database (at most one per `refresh_interval`), then is refused;
//   - keys past not_after are dropped from memory and deleted from the database.
// The private key exists only in this object (crypto::PrivateKey, OpenSSL memory); nothing in the
// data directory holds it.
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "crypto/sign.h"
#include "iam/iam_store.h"

namespace veil::iam {

struct SigningKeyOptions {
  std::chrono::seconds rotation{24 * 3600};
  // Longest token lifetime and the verification leeway: how long a retired key keeps verifying.
  std::chrono::seconds token_lifetime{3600};
  std::chrono::seconds leeway{5};
  // Least time between two reloads of the published keys for an unknown kid.
  std::chrono::milliseconds refresh_interval{1000};
  // Names this replica in the published rows (informational).
  std::string holder = "veild";
  // Makes a new key; default: an RSA-2048 key from OpenSSL. Tests inject pre-made keys.
  std::function<Result<crypto::PrivateKey>()> generate;
};

// A published key, as the JWKS lists it.
struct PublishedKey {
  std::string kid;
  crypto::RsaPublicJwk jwk;
  TimePoint created_at;
  TimePoint not_after;
};

class SigningKeyRing {
 public:
  // Loads the published keys, generates and publishes this process's first key, and prunes
  // expired rows. `store`, `clock` and `random` must outlive the ring.
  [[nodiscard]] static Result<std::unique_ptr<SigningKeyRing>> Create(IamStore& store,
                                                                      const Clock& clock,
                                                                      Random& random,
                                                                      SigningKeyOptions options);
  ~SigningKeyRing();

  struct Signature {
    std::string kid;
    std::vector<uint8_t> bytes;
  };
  // Signs with the current key (rotating first when it is due). Errors: those of key generation
  // or publication (kUnavailable when the database is), kInternal from OpenSSL.
  [[nodiscard]] Result<Signature> Sign(std::span<const uint8_t> data);

  // Generates, publishes and switches to a new key now; the old one keeps verifying until its
  // not_after.
  [[nodiscard]] Status Rotate();

  std::string current_kid() const;

  // The verification key of `kid`. kNotFound when unknown after at most one reload (or when the
  // reload was rate-limited), or expired.
  [[nodiscard]] Result<crypto::PublicKey> PublicKeyFor(std::string_view kid);

  // Every unexpired published key (read from the database: all replicas' keys).
  [[nodiscard]] Result<std::vector<PublishedKey>> PublishedKeys();

 private:
  struct Current;
  struct Verifier {
    crypto::PublicKey key;
    TimePoint not_after;
  };
  SigningKeyRing(IamStore& store, const Clock& clock, Random& random, SigningKeyOptions options);
  [[nodiscard]] Status RotateLocked();  // rotate_mu_ held
  [[nodiscard]] Status Reload();
  std::shared_ptr<const Current> current() const;

  IamStore& store_;
  const Clock& clock_;
  Random& random_;
  const SigningKeyOptions options_;

  std::mutex rotate_mu_;  // one rotation at a time
  mutable std::mutex mu_;
  std::shared_ptr<const Current> current_;                  // mu_
  std::map<std::string, Verifier, std::less<>> verifiers_;  // mu_
  MonotonicTime last_reload_{};                             // mu_
  bool reloaded_once_ = false;                              // mu_
};

}  // namespace veil::iam
