#include "iam/token_issuer.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/uuid.h"
#include "iam/api_key.h"
#include "iam/jwt.h"

namespace veil::iam {

boost::json::object TokenClaims(const Identity& subject, std::string_view apikey_id,
                                std::string_view jti, TimePoint iat, std::chrono::seconds lifetime,
                                std::string_view issuer) {
  const bool user = subject.kind == IdentityKind::kUser;
  const std::string identifier =
      user ? subject.iam_id.substr(kUserPrefix.size()) : subject.id;  // "<uuid>" | "ServiceId-..."
  const std::string sub = user && !subject.email.empty() ? subject.email : identifier;
  const std::string sub_type = user ? "user" : "ServiceId";
  const int64_t iat_s =
      std::chrono::duration_cast<std::chrono::seconds>(iat.time_since_epoch()).count();

  boost::json::object claims;
  claims["iam_id"] = subject.iam_id;
  claims["id"] = subject.iam_id;
  claims["realmid"] = user ? "IBMid" : "iam";
  claims["jti"] = jti;
  claims["identifier"] = identifier;
  claims["name"] = subject.name;
  claims["sub"] = sub;
  claims["sub_type"] = sub_type;
  boost::json::object authn;
  authn["sub"] = sub;
  authn["iam_id"] = subject.iam_id;
  authn["name"] = subject.name;
  authn["sub_type"] = sub_type;
  claims["authn"] = std::move(authn);
  boost::json::object account;
  account["valid"] = true;
  account["bss"] = subject.account_id;
  claims["account"] = std::move(account);
  claims["iat"] = iat_s;
  claims["exp"] = iat_s + lifetime.count();
  claims["iss"] = issuer;
  claims["grant_type"] = kApiKeyGrantType;
  claims["scope"] = "ibm openid";
  claims["client_id"] = "default";
  claims["acr"] = 1;
  claims["amr"] = boost::json::array{"pwd"};
  if (!apikey_id.empty()) claims["apikey_id"] = apikey_id;
  return claims;
}

TokenIssuer::TokenIssuer(IamStore& store, SigningKeyRing& keys, const Clock& clock, Random& random,
                         TokenIssuerOptions options)
    : store_(store), keys_(keys), clock_(clock), random_(random), options_(std::move(options)) {}

Result<IssuedToken> TokenIssuer::IssueForApiKey(std::string_view apikey) {
  auto parsed = ParseApiKey(apikey);
  if (!parsed) return Unauthenticated("malformed API key");
  auto credential = store_.GetApiKeyCredential(parsed->id);
  if (!credential) {
    if (credential.error().code == ErrorCode::kNotFound) {
      return Unauthenticated("unknown API key");
    }
    return tl::unexpected(credential.error());
  }
  // The secret is checked before any state, so that only the key's holder learns its state
  // (through the audit trail; the client gets the same answer for every refusal).
  if (!ApiKeySecretMatches(credential->salt, credential->hash, parsed->secret.Reveal())) {
    return Unauthenticated("API key " + parsed->id + ": wrong secret");
  }
  if (credential->key.locked) return Unauthenticated("API key " + parsed->id + " is locked");
  if (credential->owner.locked) {
    return Unauthenticated("the owner of API key " + parsed->id + " is locked");
  }
  if (!credential->account.active) {
    return Unauthenticated("the account of API key " + parsed->id + " is disabled");
  }
  return IssueFor(credential->owner, parsed->id);
}

Result<IssuedToken> TokenIssuer::IssueFor(const Identity& subject, std::string_view apikey_id) {
  // Whole seconds: the claims carry seconds, and exp must not outlive the key's not_after.
  const TimePoint iat = std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now());
  boost::json::object claims = TokenClaims(subject, apikey_id, NewUuidV4String(random_), iat,
                                           options_.lifetime, options_.issuer);
  // The kid goes into the header, so the key is chosen before signing: sign with the current
  // key, and if it rotated in between (once a day), sign again with the new one.
  for (int attempt = 0;; ++attempt) {
    JwtHeader header{"RS256", keys_.current_kid(), "JWT"};
    std::string input = JwtSigningInput(header, claims);
    auto sig = VEIL_TRY_VALUE(keys_.Sign(AsBytes(input)));
    if (sig.kid != header.kid && attempt < 2) continue;
    if (sig.kid != header.kid) return Internal("signing key changed while signing");
    IssuedToken t;
    t.access_token = std::move(input) + "." + Base64UrlEncode(sig.bytes);
    t.expires_in = options_.lifetime;
    t.expiration = iat + options_.lifetime;
    t.subject = subject;
    t.apikey_id = std::string(apikey_id);
    return t;
  }
}

}  // namespace veil::iam
