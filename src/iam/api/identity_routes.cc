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

// Locates a service ID (404 if there is none), sets it as the event's target and requires
// `action` on it.
Result<Identity> AuthorizedServiceId(const IamApiDeps& deps, http::RequestContext& ctx,
                                     const Subject& caller, std::string_view action) {
  auto found = deps.service->GetIdentity(Param(ctx, "id"));
  if (!found || found->kind != IdentityKind::kServiceId) {
    if (!found && found.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(found.error());
    }
    return NotFound("service ID not found");
  }
  SetTarget(ctx, found->crn(), found->name, std::string(kServiceIdType));
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, action,
                             ServiceIdResource(found->account_id, found->id)));
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
  const std::string account = AccountParam(ctx, caller);
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

// Requires the action on keys of the owner (the authorizer lets users manage their own keys;
// service IDs, their own keys included, need a policy). Sets the event's action.
Status AuthorizeKeyAction(const IamApiDeps& deps, http::RequestContext& ctx, const Subject& caller,
                          std::string_view owner_iam_id, std::string_view owner_account,
                          std::string_view verb) {
  KeyAccess access = VEIL_TRY_VALUE(KeyAccessFor(owner_iam_id, owner_account, verb));
  ctx.event().action = access.action;
  return RequirePermission(*deps.authorizer, caller, access.action, access.resource);
}

Result<ApiKey> AuthorizedKey(const IamApiDeps& deps, http::RequestContext& ctx,
                             const Subject& caller, std::string_view verb) {
  auto key = deps.service->GetApiKey(Param(ctx, "id"));
  if (!key) return tl::unexpected(key.error());
  SetTarget(ctx, key->crn(), key->name, std::string(kApiKeyType));
  VEIL_TRY(AuthorizeKeyAction(deps, ctx, caller, key->iam_id, key->account_id, verb));
  return key;
}

Result<http::Response> CreateApiKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  ApiKeyCreate request = VEIL_TRY_VALUE(ParseApiKeyCreate(body, caller.iam_id));
  auto owner = deps.service->GetIdentity(request.spec.iam_id);
  if (!owner) {
    if (owner.error().code != ErrorCode::kNotFound) return tl::unexpected(owner.error());
    return InvalidArgument("iam_id names no user or service ID");
  }
  if (!request.account_id.empty() && request.account_id != owner->account_id) {
    return InvalidArgument("account_id is not the account of iam_id");
  }
  SetTarget(ctx, IdentityCrn(owner->account_id, "apikey", ""), request.spec.name,
            std::string(kApiKeyType));
  VEIL_TRY(AuthorizeKeyAction(deps, ctx, caller, owner->iam_id, owner->account_id, "create"));
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
  auto owner = deps.service->GetIdentity(wanted);
  if (!owner) {
    if (owner.error().code != ErrorCode::kNotFound) return tl::unexpected(owner.error());
    return InvalidArgument("iam_id names no user or service ID");
  }
  SetTarget(ctx, owner->crn(), owner->name, std::string(kApiKeyType));
  VEIL_TRY(AuthorizeKeyAction(deps, ctx, caller, owner->iam_id, owner->account_id, "read"));
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
