// Service IDs (/v1/serviceids) and API keys (/v1/apikeys).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "iam/api/handler_support.h"
#include "iam/api/parse.h"
#include "iam/api/render.h"

namespace veil::iam::api::internal {
namespace {

constexpr std::string_view kServiceIdType = "iam-identity/serviceid";
constexpr std::string_view kApiKeyType = "iam-identity/apikey";

enum class LockChange { kLock, kUnlock };

ResourceAttributes ServiceIdResource(std::string_view account, std::string_view id) {
  return {std::string(account), "iam-identity", "", "serviceid", std::string(id)};
}

std::string Param(const http::RequestContext& ctx, std::string_view name) {
  return std::string(ctx.request().PathParam(name).value_or(""));
}

// ---- service IDs ----

// The service ID the path names, once `action` on it is allowed (RequireNamed: another account's
// service ID is answered as an unknown one); sets it as the event's target.
Result<Identity> AuthorizedServiceId(const IamApiDeps& deps, http::RequestContext& ctx,
                                     const Subject& caller, std::string_view action) {
  const std::string id = Param(ctx, "id");
  auto found = deps.service->GetIdentity(id);
  if (!found && found.error().code != ErrorCode::kNotFound) return tl::unexpected(found.error());
  std::optional<NamedObject> object;
  if (found && found->kind == IdentityKind::kServiceId) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(
        caller, action, ServiceIdResource(found->account_id, found->id)));
    object = NamedObject{found->account_id, d.permitted};
    if (found->account_id == caller.account_id) {
      SetTarget(ctx, found->crn(), found->name, std::string(kServiceIdType));
    }
  }
  const std::string as_named = id.starts_with("iam-") ? id.substr(4) : id;
  VEIL_TRY(RequireNamed(deps, caller, action, object,
                        ServiceIdResource(caller.account_id, as_named),
                        Error(ErrorCode::kNotFound, "service ID not found")));
  SetTarget(ctx, found->crn(), found->name, std::string(kServiceIdType));
  return found;
}

Result<http::Response> CreateServiceId(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  auto spec = VEIL_TRY_VALUE(ParseServiceIdCreate(body, caller.account_id));
  SetTarget(ctx, IdentityCrn(spec.account_id, "serviceid", ""), spec.name,
            std::string(kServiceIdType));
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "iam-identity.serviceid.create",
                             ServiceIdResource(spec.account_id, "")));
  Identity created = VEIL_TRY_VALUE(deps.service->CreateServiceId(spec, caller.iam_id));
  SetTarget(ctx, created.crn(), created.name, std::string(kServiceIdType));
  ctx.event().message = "IAM Identity Service: create serviceid " + created.name;
  return Json(201, IdentityJson(created));
}

// Lists the account's service IDs the caller may read (a page may hold fewer than pagesize).
Result<http::Response> ListServiceIds(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  const std::string account = VEIL_TRY_VALUE(ListingAccount(ctx, caller));
  PageRequest page_request = VEIL_TRY_VALUE(ParsePageQuery(ctx.request().query));
  auto page = VEIL_TRY_VALUE(deps.service->ListServiceIds(account, page_request));
  boost::json::array items;
  for (const Identity& s : page.items) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, "iam-identity.serviceid.read",
                                                           ServiceIdResource(s.account_id, s.id)));
    if (d.permitted) items.push_back(IdentityJson(s));
  }
  boost::json::object out;
  out["offset"] = page.offset;
  out["limit"] = page.limit;
  if (!page.next.empty()) out["next"] = "/v1/serviceids?pagetoken=" + page.next;
  out["serviceids"] = std::move(items);
  SetTarget(ctx, IdentityCrn(account, "serviceid", ""), "serviceids", std::string(kServiceIdType));
  ctx.event().message = "IAM Identity Service: list serviceids";
  return Json(200, out);
}

Result<http::Response> GetServiceId(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  Identity s =
      VEIL_TRY_VALUE(AuthorizedServiceId(deps, ctx, caller, "iam-identity.serviceid.read"));
  ctx.event().message = "IAM Identity Service: read serviceid " + s.name;
  return Json(200, IdentityJson(s));
}

Result<http::Response> UpdateServiceId(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  auto update = VEIL_TRY_VALUE(ParseUpdate(body));
  Identity s =
      VEIL_TRY_VALUE(AuthorizedServiceId(deps, ctx, caller, "iam-identity.serviceid.update"));
  const std::string if_match(ctx.request().headers.Get("If-Match").value_or(""));
  Identity updated = VEIL_TRY_VALUE(deps.service->UpdateServiceId(s.id, if_match, update));
  ctx.event().message = "IAM Identity Service: update serviceid " + updated.name;
  return Json(200, IdentityJson(updated));
}

Result<http::Response> DeleteServiceId(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  Identity s =
      VEIL_TRY_VALUE(AuthorizedServiceId(deps, ctx, caller, "iam-identity.serviceid.delete"));
  VEIL_TRY(deps.service->DeleteServiceId(s.id));
  ctx.event().severity = "warning";
  ctx.event().message = "IAM Identity Service: delete serviceid " + s.name;
  return http::Response::Empty(204);
}

Result<http::Response> LockServiceId(const IamApiDeps& deps, http::RequestContext& ctx,
                                     LockChange change) {
  const bool lock = change == LockChange::kLock;
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  Identity s = VEIL_TRY_VALUE(AuthorizedServiceId(
      deps, ctx, caller, lock ? "iam-identity.serviceid.lock" : "iam-identity.serviceid.unlock"));
  VEIL_TRY(deps.service->SetServiceIdLocked(s.id, lock));
  ctx.event().message =
      std::string("IAM Identity Service: ") + (lock ? "lock" : "unlock") + " serviceid " + s.name;
  return http::Response::Empty(204);
}

// ---- API keys ----

// The action on keys of `owner_iam_id` ("iam-identity.serviceid-apikey.<verb>" or
// "...user-apikey.<verb>") and the resource it is judged on: the owner.
struct KeyAccess {
  std::string action;
  ResourceAttributes resource;
};

Result<KeyAccess> KeyAccessFor(std::string_view owner_iam_id, std::string_view account,
                               std::string_view verb) {
  auto kind = KindOfIamId(owner_iam_id);
  if (!kind) return InvalidArgument("iam_id is not a user or service ID");
  KeyAccess a;
  if (*kind == IdentityKind::kServiceId) {
    a.action = "iam-identity.serviceid-apikey." + std::string(verb);
    a.resource = ServiceIdResource(account, owner_iam_id.substr(4));  // "iam-ServiceId-..."
  } else {
    a.action = "iam-identity.user-apikey." + std::string(verb);
    a.resource = {std::string(account), "iam-identity", "", "user", std::string(owner_iam_id)};
  }
  return a;
}

// Requires the action on keys of `owner` (nullopt: the iam_id the request named has no identity)
// with RequireNamed: the authorizer lets users manage their own keys, service IDs (their own keys
// included) need a policy, and another account's identity is answered as an unknown one: for a
// caller allowed the action on that id in its own account, `missing`. `named_iam_id` is the
// owner as the request named it. Sets the event's action once the owner is known to the caller.
Status AuthorizeKeyAction(const IamApiDeps& deps, http::RequestContext& ctx, const Subject& caller,
                          const std::optional<Identity>& owner, std::string_view named_iam_id,
                          std::string_view verb, Error missing) {
  auto named = IamIdFromAnyId(named_iam_id);
  if (!named) return tl::unexpected(std::move(missing));
  const KeyAccess as_if_own = VEIL_TRY_VALUE(KeyAccessFor(*named, caller.account_id, verb));
  std::optional<NamedObject> object;
  if (owner) {
    KeyAccess access = VEIL_TRY_VALUE(KeyAccessFor(owner->iam_id, owner->account_id, verb));
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, access.action, access.resource));
    object = NamedObject{owner->account_id, d.permitted};
    if (owner->account_id == caller.account_id) ctx.event().action = access.action;
  }
  VEIL_TRY(
      RequireNamed(deps, caller, as_if_own.action, object, as_if_own.resource, std::move(missing)));
  ctx.event().action = as_if_own.action;
  return OkStatus();
}

// The identity `any_id` names, or nullopt when there is none.
Result<std::optional<Identity>> FindIdentity(const IamApiDeps& deps, std::string_view any_id) {
  auto found = deps.service->GetIdentity(any_id);
  if (found) return std::optional<Identity>(std::move(*found));
  if (found.error().code != ErrorCode::kNotFound) return tl::unexpected(found.error());
  return std::optional<Identity>();
}

// The API key the path names, once `verb` on its owner's keys is allowed. An unknown key, and a
// key of another account, are judged as one of the caller's own keys would be (the owner of a key
// the caller may not see is not the caller's to learn): 404 for a user, or a service ID allowed
// `verb` on its own keys; 403 otherwise.
Result<ApiKey> AuthorizedKey(const IamApiDeps& deps, http::RequestContext& ctx,
                             const Subject& caller, std::string_view verb) {
  auto key = deps.service->GetApiKey(Param(ctx, "id"));
  if (!key && key.error().code != ErrorCode::kNotFound) return tl::unexpected(key.error());
  const Error missing(ErrorCode::kNotFound, "API key not found");
  KeyAccess as_if_own{"iam-identity.serviceid-apikey." + std::string(verb),
                      {caller.account_id, "iam-identity", "", "", ""}};
  if (caller.type != Subject::Type::kService) {
    as_if_own = VEIL_TRY_VALUE(KeyAccessFor(caller.iam_id, caller.account_id, verb));
  }
  const std::string& action = as_if_own.action;
  if (!key) {
    VEIL_TRY(RequireNamed(deps, caller, action, std::nullopt, as_if_own.resource, missing));
    return tl::unexpected(missing);  // RequireNamed refuses: there is no object
  }
  KeyAccess access = VEIL_TRY_VALUE(KeyAccessFor(key->iam_id, key->account_id, verb));
  Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, access.action, access.resource));
  if (key->account_id == caller.account_id) {
    SetTarget(ctx, key->crn(), key->name, std::string(kApiKeyType));
    ctx.event().action = access.action;
  }
  VEIL_TRY(RequireNamed(deps, caller, action, NamedObject{key->account_id, d.permitted},
                        as_if_own.resource, missing));
  SetTarget(ctx, key->crn(), key->name, std::string(kApiKeyType));
  ctx.event().action = access.action;
  return key;
}

Result<http::Response> CreateApiKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  ApiKeyCreate request = VEIL_TRY_VALUE(ParseApiKeyCreate(body, caller.iam_id));
  std::optional<Identity> owner = VEIL_TRY_VALUE(FindIdentity(deps, request.spec.iam_id));
  VEIL_TRY(
      AuthorizeKeyAction(deps, ctx, caller, owner, request.spec.iam_id, "create",
                         Error(ErrorCode::kInvalidArgument, "iam_id names no user or service ID")));
  // Only once the owner is the caller's to see: the account check would tell another account's
  // identities from unknown ones.
  if (!request.account_id.empty() && request.account_id != owner->account_id) {
    return InvalidArgument("account_id is not the account of iam_id");
  }
  SetTarget(ctx, IdentityCrn(owner->account_id, "apikey", ""), request.spec.name,
            std::string(kApiKeyType));
  request.spec.iam_id = owner->iam_id;
  auto created = VEIL_TRY_VALUE(deps.service->CreateApiKey(request.spec, caller.iam_id));
  SetTarget(ctx, created.key.crn(), created.key.name, std::string(kApiKeyType));
  ctx.event().message =
      "IAM Identity Service: create apikey " + created.key.id + " for " + owner->iam_id;
  return Json(201, ApiKeyJson(created.key, &created.value));
}

// Lists the API keys of one owner (iam_id, default the caller).
Result<http::Response> ListApiKeys(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  PageRequest page_request = VEIL_TRY_VALUE(ParsePageQuery(ctx.request().query));
  const std::string wanted(ctx.request().Query("iam_id").value_or(caller.iam_id));
  std::optional<Identity> owner = VEIL_TRY_VALUE(FindIdentity(deps, wanted));
  VEIL_TRY(
      AuthorizeKeyAction(deps, ctx, caller, owner, wanted, "read",
                         Error(ErrorCode::kInvalidArgument, "iam_id names no user or service ID")));
  SetTarget(ctx, owner->crn(), owner->name, std::string(kApiKeyType));
  ctx.event().action = ctx.event().action.substr(0, ctx.event().action.rfind('.')) + ".list";
  auto page =
      VEIL_TRY_VALUE(deps.service->ListApiKeys(owner->account_id, owner->iam_id, page_request));
  boost::json::array items;
  for (const ApiKey& k : page.items) items.push_back(ApiKeyJson(k));
  boost::json::object out;
  out["offset"] = page.offset;
  out["limit"] = page.limit;
  if (!page.next.empty()) {
    out["next"] = "/v1/apikeys?iam_id=" + owner->iam_id + "&pagetoken=" + page.next;
  }
  out["apikeys"] = std::move(items);
  ctx.event().message = "IAM Identity Service: list apikeys of " + owner->iam_id;
  return Json(200, out);
}

Result<http::Response> GetApiKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ApiKey key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, caller, "read"));
  ctx.event().message = "IAM Identity Service: read apikey " + key.id;
  return Json(200, ApiKeyJson(key));
}

Result<http::Response> UpdateApiKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  auto update = VEIL_TRY_VALUE(ParseUpdate(body));
  ApiKey key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, caller, "update"));
  const std::string if_match(ctx.request().headers.Get("If-Match").value_or(""));
  ApiKey updated = VEIL_TRY_VALUE(deps.service->UpdateApiKey(key.id, if_match, update));
  ctx.event().message = "IAM Identity Service: update apikey " + key.id;
  return Json(200, ApiKeyJson(updated));
}

Result<http::Response> DeleteApiKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ApiKey key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, caller, "delete"));
  VEIL_TRY(deps.service->DeleteApiKey(key.id));
  ctx.event().severity = "warning";
  ctx.event().message = "IAM Identity Service: delete apikey " + key.id;
  return http::Response::Empty(204);
}

Result<http::Response> LockApiKey(const IamApiDeps& deps, http::RequestContext& ctx,
                                  LockChange change) {
  const bool lock = change == LockChange::kLock;
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ApiKey key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, caller, lock ? "lock" : "unlock"));
  VEIL_TRY(deps.service->SetApiKeyLocked(key.id, lock));
  ctx.event().message =
      std::string("IAM Identity Service: ") + (lock ? "lock" : "unlock") + " apikey " + key.id;
  return http::Response::Empty(204);
}

}  // namespace

Status AddIdentityRoutes(http::Router& router, const IamApiDeps& deps) {
  using Ctx = http::RequestContext;
  VEIL_TRY(router.Add(
      "POST", "/v1/serviceids", [deps](Ctx& ctx) { return CreateServiceId(deps, ctx); },
      Authenticated("iam-identity.serviceid.create")));
  VEIL_TRY(router.Add(
      "GET", "/v1/serviceids", [deps](Ctx& ctx) { return ListServiceIds(deps, ctx); },
      Authenticated("iam-identity.serviceid.list")));
  VEIL_TRY(router.Add(
      "GET", "/v1/serviceids/{id}", [deps](Ctx& ctx) { return GetServiceId(deps, ctx); },
      Authenticated("iam-identity.serviceid.read")));
  VEIL_TRY(router.Add(
      "PUT", "/v1/serviceids/{id}", [deps](Ctx& ctx) { return UpdateServiceId(deps, ctx); },
      Authenticated("iam-identity.serviceid.update")));
  VEIL_TRY(router.Add(
      "DELETE", "/v1/serviceids/{id}", [deps](Ctx& ctx) { return DeleteServiceId(deps, ctx); },
      Authenticated("iam-identity.serviceid.delete")));
  VEIL_TRY(router.Add(
      "POST", "/v1/serviceids/{id}/lock",
      [deps](Ctx& ctx) { return LockServiceId(deps, ctx, LockChange::kLock); },
      Authenticated("iam-identity.serviceid.lock")));
  VEIL_TRY(router.Add(
      "DELETE", "/v1/serviceids/{id}/lock",
      [deps](Ctx& ctx) { return LockServiceId(deps, ctx, LockChange::kUnlock); },
      Authenticated("iam-identity.serviceid.unlock")));

  VEIL_TRY(router.Add(
      "POST", "/v1/apikeys", [deps](Ctx& ctx) { return CreateApiKey(deps, ctx); },
      Authenticated("iam-identity.apikey.create")));
  VEIL_TRY(router.Add(
      "GET", "/v1/apikeys", [deps](Ctx& ctx) { return ListApiKeys(deps, ctx); },
      Authenticated("iam-identity.apikey.list")));
  VEIL_TRY(router.Add(
      "GET", "/v1/apikeys/{id}", [deps](Ctx& ctx) { return GetApiKey(deps, ctx); },
      Authenticated("iam-identity.apikey.read")));
  VEIL_TRY(router.Add(
      "PUT", "/v1/apikeys/{id}", [deps](Ctx& ctx) { return UpdateApiKey(deps, ctx); },
      Authenticated("iam-identity.apikey.update")));
  VEIL_TRY(router.Add(
      "DELETE", "/v1/apikeys/{id}", [deps](Ctx& ctx) { return DeleteApiKey(deps, ctx); },
      Authenticated("iam-identity.apikey.delete")));
  VEIL_TRY(router.Add(
      "POST", "/v1/apikeys/{id}/lock",
      [deps](Ctx& ctx) { return LockApiKey(deps, ctx, LockChange::kLock); },
      Authenticated("iam-identity.apikey.lock")));
  VEIL_TRY(router.Add(
      "DELETE", "/v1/apikeys/{id}/lock",
      [deps](Ctx& ctx) { return LockApiKey(deps, ctx, LockChange::kUnlock); },
      Authenticated("iam-identity.apikey.unlock")));
  return OkStatus();
}

}  // namespace veil::iam::api::internal
