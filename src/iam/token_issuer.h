// TokenIssuer: the API key grant (POST /identity/token) — an API key in, a signed access token
// out.
//
// The access token is a JWT signed RS256 by the SigningKeyRing, header {"alg":"RS256","typ":"JWT",
// "kid"}, with IBM's claims (docs/api-compatibility.md, "Access tokens"):
//   iam_id, id, realmid ("iam" for service IDs, "IBMid" for users), jti (random UUID),
//   identifier, name, sub, sub_type ("ServiceId" | "user"), authn {sub, iam_id, name, sub_type},
//   account {valid: true, bss: <account id>}, iat, exp (iat + lifetime), iss, grant_type
//   ("urn:ibm:params:oauth:grant-type:apikey"), scope ("ibm openid"), client_id ("default"),
//   acr (1), amr (["pwd"]),
// plus Veil's apikey_id (the key it was issued for, so that deleting or locking the key revokes
// the token; see token_verifier.h).
//
// A key is refused (kUnauthenticated, the reason in the message, never the key) when it is
// malformed, unknown, its secret does not match, it or its owner is locked, or the owner's
// account is disabled. Callers must answer every such case alike (the API says BXNIM0415E).
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "iam/iam_store.h"
#include "iam/model.h"
#include "iam/signing_keys.h"

namespace veil::iam {

inline constexpr std::string_view kApiKeyGrantType = "urn:ibm:params:oauth:grant-type:apikey";

struct TokenIssuerOptions {
  std::string issuer = "https://iam.veil.local/identity";
  std::chrono::seconds lifetime{3600};
};

struct IssuedToken {
  std::string access_token;
  std::chrono::seconds expires_in{0};
  TimePoint expiration;
  // Who it is for, for the caller's audit event.
  Identity subject;
  std::string apikey_id;
};

class TokenIssuer {
 public:
  // `store`, `keys`, `clock` and `random` must outlive the issuer.
  TokenIssuer(IamStore& store, SigningKeyRing& keys, const Clock& clock, Random& random,
              TokenIssuerOptions options);

  // Exchanges an API key (its text) for an access token. Errors: kUnauthenticated as above;
  // the store's and the signer's errors otherwise.
  [[nodiscard]] Result<IssuedToken> IssueForApiKey(std::string_view apikey);

  // Signs a token for `subject` (of `account_id`) as if issued for API key `apikey_id`, without
  // any check: for tests and for callers that authenticated the subject themselves.
  [[nodiscard]] Result<IssuedToken> IssueFor(const Identity& subject, std::string_view apikey_id);

  const TokenIssuerOptions& options() const { return options_; }

 private:
  IamStore& store_;
  SigningKeyRing& keys_;
  const Clock& clock_;
  Random& random_;
  const TokenIssuerOptions options_;
};

// The claims above for `subject`, issued at `iat` for `lifetime`. Pure; for tests and the issuer.
boost::json::object TokenClaims(const Identity& subject, std::string_view apikey_id,
                                std::string_view jti, TimePoint iat, std::chrono::seconds lifetime,
                                std::string_view issuer);

}  // namespace veil::iam
