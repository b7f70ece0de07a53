#include "iam/token_verifier.h"

#include <boost/json/value.hpp>
#include <utility>

#include "common/bytes.h"
#include "iam/jwt.h"

namespace veil::iam {
namespace {

// A NumericDate claim (NumericDateClaim); TimePoint::min() for an optional one that is absent.
Result<TimePoint> DateClaim(const boost::json::object& claims, std::string_view name,
                            bool required) {
  std::optional<TimePoint> t = VEIL_TRY_VALUE(NumericDateClaim(claims, name));
  if (t) return *t;
  if (required) return Unauthenticated("token has no " + std::string(name));
  return TimePoint::min();
}

std::string StringClaim(const boost::json::object& claims, std::string_view name) {
  const boost::json::value* v = claims.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

bool IsValidIssuer(std::string_view issuer) {
  constexpr std::string_view kPrefix = "https://iam";
  if (!issuer.starts_with(kPrefix) || issuer.size() > 256) return false;
  for (char c : issuer) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return issuer.size() > kPrefix.size();
}

TokenVerifier::TokenVerifier(IamStore& store, SigningKeyRing& keys, const Clock& clock,
                             TokenVerifierOptions options)
    : store_(store),
      keys_(keys),
      clock_(clock),
      options_(std::move(options)),
      cache_(options_.cache_capacity) {}

Result<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(store::Database& db, IamStore& store,
                                                             SigningKeyRing& keys,
                                                             const Clock& clock,
                                                             TokenVerifierOptions options) {
  if (!IsValidIssuer(options.issuer)) {
    return InvalidArgument("the token issuer must start with https://iam");
  }
  std::unique_ptr<TokenVerifier> v(new TokenVerifier(store, keys, clock, std::move(options)));
  TokenVerifier* self = v.get();
  v->subscription_ = VEIL_TRY_VALUE(db.Subscribe(
      kRevocationChannel, [self](std::string_view payload) { self->Revoke(payload); }));
  return v;
}

void TokenVerifier::Revoke(std::string_view payload) {
  // Bumped first: a verification that read the database before this revocation must not put its
  // (now stale) result into the cache.
  revocations_.fetch_add(1);
  const size_t space = payload.find(' ');
  if (space == std::string_view::npos) return;
  const std::string kind(payload.substr(0, space));
  const std::string id(payload.substr(space + 1));
  cache_.Drop([&](const VerifiedToken& t) {
    if (kind == "identity") return t.iam_id == id;
    if (kind == "apikey") return t.apikey_id == id;
    if (kind == "account") return t.account_id == id;
    return false;
  });
  revocations_.fetch_add(1);
}

Result<std::shared_ptr<const VerifiedToken>> TokenVerifier::Verify(std::string_view token) {
  if (token.size() > kMaxTokenSize) return Unauthenticated("token too long");
  const crypto::Sha256Digest digest = crypto::Sha256(AsBytes(token));
  if (auto hit = cache_.Find(digest, clock_.Now(), options_.leeway)) return hit;
  const uint64_t generation = revocations_.load();
  auto verified = VEIL_TRY_VALUE(VerifyUncached(token));
  if (revocations_.load() == generation) cache_.Insert(digest, verified);
  return verified;
}

Result<std::shared_ptr<const VerifiedToken>> TokenVerifier::VerifyUncached(std::string_view token) {
  ParsedJwt jwt = VEIL_TRY_VALUE(ParseJwt(token));
  if (jwt.header.alg != "RS256") return Unauthenticated("token algorithm is not RS256");
  auto key = keys_.PublicKeyFor(jwt.header.kid);
  if (!key) {
    if (key.error().code == ErrorCode::kNotFound) {
      return Unauthenticated("token signed by an unknown or expired key");
    }
    return tl::unexpected(key.error());
  }
  if (auto ok = key->Verify(crypto::SignatureAlgorithm::kRs256, AsBytes(jwt.signing_input),
                            jwt.signature);
      !ok) {
    if (ok.error().code == ErrorCode::kUnauthenticated) {
      return Unauthenticated("token signature does not verify");
    }
    return tl::unexpected(ok.error());
  }

  const boost::json::object& c = jwt.claims;
  if (StringClaim(c, "iss") != options_.issuer) return Unauthenticated("token from another issuer");
  const TimePoint now = clock_.Now();
  const TimePoint exp = VEIL_TRY_VALUE(DateClaim(c, "exp", true));
  const TimePoint iat = VEIL_TRY_VALUE(DateClaim(c, "iat", true));
  const TimePoint nbf = VEIL_TRY_VALUE(DateClaim(c, "nbf", false));
  if (now >= exp + options_.leeway) return Unauthenticated("token expired");
  if (iat > now + options_.leeway) return Unauthenticated("token issued in the future");
  if (nbf > now + options_.leeway) return Unauthenticated("token not valid yet");
  if (exp - iat > options_.max_lifetime) return Unauthenticated("token lifetime too long");

  auto t = std::make_shared<VerifiedToken>();
  t->iam_id = StringClaim(c, "iam_id");
  t->id = StringClaim(c, "id");
  t->name = StringClaim(c, "name");
  t->sub = StringClaim(c, "sub");
  t->sub_type = StringClaim(c, "sub_type");
  t->apikey_id = StringClaim(c, "apikey_id");
  t->jti = StringClaim(c, "jti");
  t->iat = iat;
  t->exp = exp;
  if (const boost::json::value* account = c.if_contains("account");
      account && account->is_object()) {
    if (const boost::json::value* bss = account->as_object().if_contains("bss");
        bss && bss->is_string()) {
      t->account_id = std::string(bss->as_string());
    }
  }
  if (t->iam_id.empty() || t->account_id.empty()) {
    return Unauthenticated("token names no identity or account");
  }
  VEIL_TRY(store_.CheckTokenSubject(t->iam_id, t->account_id, t->apikey_id));
  return std::shared_ptr<const VerifiedToken>(std::move(t));
}

}  // namespace veil::iam
