// TokenVerifier: decides whether a bearer token is a valid Veil access token, and who it names.
//
// A token is accepted only when, in this order (each failure is kUnauthenticated, with a reason
// that never quotes the token):
//   1. it is a compact JWS of at most 8 KiB whose header has alg exactly "RS256" (so "none",
//      HS256 keyed with the public key, RS384, ... are refused) and a kid;
//   2. the kid names a published, unexpired signing key (one reload of the key set, rate-limited,
//      before an unknown kid is refused) and the RS256 signature verifies under it;
//   3. iss equals the configured issuer (which starts with "https://iam"); exp, iat are numbers;
//      now < exp + leeway; iat <= now + leeway; nbf (if any) <= now + leeway; exp - iat is at
//      most the longest lifetime IAM issues;
//   4. iam_id and account.bss are strings, and the identity still exists, is not locked and is in
//      that account, which is active; the API key it was issued for (claim apikey_id) still
//      exists and is not locked (IamStore::CheckTokenSubject).
// Revocation: deleting or locking a service ID, user or API key, or disabling an account,
// publishes a notification on kRevocationChannel; the verifier drops the cached tokens it names,
// and step 4 refuses them from then on. So a token stays valid until it expires unless its
// identity, API key or account is deleted, locked or disabled.
//
// Cache: an accepted token is kept in a VerifiedTokenCache until its exp + leeway, so a request
// repeating it costs one SHA-256 of the token and a map lookup (no RSA, no database).
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "iam/iam_store.h"
#include "iam/signing_keys.h"
#include "iam/token_cache.h"
#include "store/database.h"

namespace veil::iam {

// Notifications "identity <iam_id>", "apikey <ApiKey-id>", "account <account id>".
inline constexpr std::string_view kRevocationChannel = "iam_revoke";

struct TokenVerifierOptions {
  std::string issuer;  // must start with "https://iam"
  std::chrono::seconds leeway{5};
  std::chrono::seconds max_lifetime{3600};
  size_t cache_capacity = 100000;
};

class TokenVerifier {
 public:
  // Subscribes to kRevocationChannel. kInvalidArgument for an issuer not starting with
  // "https://iam". `db`, `store`, `keys` and `clock` must outlive the verifier.
  [[nodiscard]] static Result<std::unique_ptr<TokenVerifier>> Create(store::Database& db,
                                                                     IamStore& store,
                                                                     SigningKeyRing& keys,
                                                                     const Clock& clock,
                                                                     TokenVerifierOptions options);

  // The token's bearer, or kUnauthenticated (why, see above); kUnavailable/kInternal when the
  // checks could not be made (the database is down).
  [[nodiscard]] Result<std::shared_ptr<const VerifiedToken>> Verify(std::string_view token);

  // Applies one revocation notification (see kRevocationChannel).
  void Revoke(std::string_view payload);

  size_t cached() const { return cache_.size(); }
  const TokenVerifierOptions& options() const { return options_; }

 private:
  TokenVerifier(IamStore& store, SigningKeyRing& keys, const Clock& clock,
                TokenVerifierOptions options);
  [[nodiscard]] Result<std::shared_ptr<const VerifiedToken>> VerifyUncached(std::string_view token);

  IamStore& store_;
  SigningKeyRing& keys_;
  const Clock& clock_;
  const TokenVerifierOptions options_;
  VerifiedTokenCache cache_;
  std::atomic<uint64_t> revocations_{0};
  store::Subscription subscription_;
};

// True when `issuer` is acceptable: "https://iam" followed by a host and path.
bool IsValidIssuer(std::string_view issuer);

}  // namespace veil::iam
