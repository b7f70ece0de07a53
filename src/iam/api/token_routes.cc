// POST /identity/token, GET /identity/keys, GET /identity/userinfo.
#include <boost/json/object.hpp>
#include <chrono>

#include "common/strings.h"
#include "http/headers.h"
#include "iam/api/errors.h"
#include "iam/api/handler_support.h"
#include "iam/api/parse.h"
#include "iam/api/render.h"
#include "iam/api_key.h"

namespace veil::iam::api::internal {
namespace {

constexpr size_t kTokenBodyLimit = 4096;

std::string_view TypeUriOf(IdentityKind kind) {
  return kind == IdentityKind::kUser ? "service/security/account/user"
                                     : "service/security/account/serviceid";
}

// A refusal in the token endpoint's own codes; the event keeps the real reason.
http::Response Refuse(http::RequestContext& ctx, int status, std::string_view code,
                      std::string_view message, std::string_view reason) {
  ctx.event().reason_for_failure = std::string(reason);
  return IamErrorResponse(ctx, status, code, message);
}

// 429 with Retry-After: the client's bucket of login attempts is empty.
http::Response TooManyAttempts(http::RequestContext& ctx, const std::string& client,
                               std::chrono::seconds wait) {
  http::Response r =
      Refuse(ctx, 429, IamErrorCodeFor(429),
             "Too many failed API key logins from this client; retry later.",
             "too many failed API key logins from " + LoginRateLimiter::ClientKey(client));
  r.headers.Set("Retry-After", std::to_string(wait.count()));
  return r;
}

Result<http::Response> IssueToken(const IamApiDeps& deps, http::RequestContext& ctx) {
  const std::string client = ctx.request().remote_address;
  // The attempt is counted before anything else, so that guesses sent together are all counted;
  // it is given back when this request ends without a refused key.
  auto attempt = deps.limiter->Begin(client);
  if (!attempt) return TooManyAttempts(ctx, client, attempt.error());
  if (auto type = ctx.request().headers.Get("Content-Type");
      type &&
      !EqualsIgnoreCase(type->substr(0, type->find(';')), "application/x-www-form-urlencoded")) {
    return InvalidArgument("Content-Type must be application/x-www-form-urlencoded");
  }
  std::string body = VEIL_TRY_VALUE(ctx.request().body().ReadAll(kTokenBodyLimit));
  auto form = ParseForm(body);
  WipeString(body);
  if (!form) return tl::unexpected(form.error());
  struct WipeFields {  // the form holds the API key: overwrite it however we leave
    std::vector<std::pair<std::string, std::string>>& fields;
    ~WipeFields() {
      for (auto& [name, value] : fields) WipeString(value);
    }
  } wipe{*form};

  auto grant = FindField(*form, "grant_type");
  if (!grant || grant->empty()) {
    return Refuse(ctx, 400, kMissingPropertyCode, "Property missing or empty: grant_type",
                  "grant_type missing");
  }
  if (*grant != kApiKeyGrantType) {
    return InvalidArgument("unsupported grant_type: only " + std::string(kApiKeyGrantType));
  }
  auto apikey = FindField(*form, "apikey");
  // A key read from a file often brings its line end along: surrounding whitespace is not part
  // of any key.
  if (apikey) apikey = TrimAsciiSpace(*apikey);
  if (!apikey || apikey->empty()) {
    return Refuse(ctx, 400, kMissingPropertyCode, "Property missing or empty: apikey",
                  "apikey missing");
  }
  auto issued = deps.issuer->IssueForApiKey(*apikey);
  if (!issued) {
    if (issued.error().code != ErrorCode::kUnauthenticated) return tl::unexpected(issued.error());
    attempt->Refused();
    // One answer for every refusal (unknown, wrong secret, locked, deleted owner, disabled
    // account): the client learns nothing about the key.
    return Refuse(ctx, 400, kBadApiKeyCode, "Provided API key could not be found.",
                  issued.error().message);
  }
  const Identity& who = issued->subject;
  audit::Event& ev = ctx.event();
  ev.action = who.kind == IdentityKind::kUser ? "iam-identity.user-apikey.login"
                                              : "iam-identity.serviceid-apikey.login";
  ev.initiator.id = who.iam_id;
  ev.initiator.name = who.name;
  ev.initiator.type_uri = std::string(TypeUriOf(who.kind));
  ev.initiator.credential_type = "apikey";
  SetTarget(ctx, IdentityCrn(who.account_id, "apikey", issued->apikey_id), issued->apikey_id,
            "iam-identity/apikey");
  ev.message = "IAM Identity Service: login with API key " + issued->apikey_id;
  http::Response r = Json(200, TokenJson(*issued));
  r.headers.Set("Pragma", "no-cache");
  return r;
}

Result<http::Response> Keys(const IamApiDeps& deps, http::RequestContext& ctx) {
  auto keys = VEIL_TRY_VALUE(deps.keys->PublishedKeys());
  ctx.event().message = "IAM Identity Service: read token signing keys";
  http::Response r = http::Response::Json(200, JwksJson(keys));
  // Verifiers may cache the set briefly; an unknown kid makes them fetch again.
  r.headers.Set("Cache-Control", "max-age=60");
  return r;
}

Result<http::Response> Userinfo(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  Identity self = VEIL_TRY_VALUE(deps.service->GetIdentity(caller.iam_id));
  SetTarget(ctx, self.crn(), self.name,
            self.kind == IdentityKind::kUser ? "iam-identity/user" : "iam-identity/serviceid");
  ctx.event().message = "IAM Identity Service: read userinfo";
  return Json(200, IdentityJson(self));
}

}  // namespace

Status AddTokenRoutes(http::Router& router, const IamApiDeps& deps) {
  VEIL_TRY(router.Add(
      "POST", "/identity/token",
      [deps](http::RequestContext& ctx) { return IssueToken(deps, ctx); },
      Anonymous("iam-identity.apikey.login", kTokenBodyLimit)));
  VEIL_TRY(router.Add(
      "GET", "/identity/keys", [deps](http::RequestContext& ctx) { return Keys(deps, ctx); },
      Anonymous("iam-identity.keys.read")));
  VEIL_TRY(router.Add(
      "GET", "/identity/userinfo",
      [deps](http::RequestContext& ctx) { return Userinfo(deps, ctx); },
      Authenticated("iam-identity.userinfo.read")));
  return OkStatus();
}

}  // namespace veil::iam::api::internal
