// The resource controller's resource keys: /v2/resource_keys (IBM's service credentials of
// cloud-object-storage instances, with HMAC keys for S3 clients). docs/iam.md "Resource keys".
//
// Judged on the key's instance, {account, cloud-object-storage, instance GUID}, as IBM judges
// credentials on their instance: resource-controller.key.read (Viewer), .create and .delete
// (Editor). Creating one also needs the key's role on the instance: nobody hands out more than
// it holds (ObjectStorageActionOfRole). The secret access key and the API key are in the
// creation's answer only; no event, log line or error carries them.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "iam/action_table.h"
#include "iam/api/handler_support.h"
#include "iam/api/parse.h"
#include "iam/api/render.h"

namespace veil::iam::api::internal {
namespace {

constexpr std::string_view kCreate = "resource-controller.key.create";
constexpr std::string_view kRead = "resource-controller.key.read";
constexpr std::string_view kDelete = "resource-controller.key.delete";
constexpr std::string_view kTypeUri = "cloud-object-storage/resource-key";

ResourceAttributes KeyResource(const ResourceKey& k) {
  return {k.account_id, std::string(kObjectStorageService), k.instance_guid, "", ""};
}

// The key the path names, once `action` on it is allowed. Another account's key is answered as
// an unknown one (RequireNamed), judged as a key of the caller's object storage.
Result<ResourceKey> AuthorizedKey(const IamApiDeps& deps, http::RequestContext& ctx,
                                  const Subject& caller, std::string_view action) {
  const std::string id(ctx.request().PathParam("id").value_or(std::string_view()));
  auto k = deps.service->GetResourceKey(id);
  if (!k && k.error().code != ErrorCode::kNotFound) return tl::unexpected(k.error());
  std::optional<NamedObject> object;
  if (k) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, action, KeyResource(*k)));
    object = NamedObject{k->account_id, d.permitted};
    if (k->account_id == caller.account_id) SetTarget(ctx, k->crn, k->name, std::string(kTypeUri));
  }
  VEIL_TRY(RequireNamed(deps, caller, action, object,
                        {caller.account_id, std::string(kObjectStorageService), "", "", ""},
                        Error(ErrorCode::kNotFound, "resource key not found")));
  return std::move(*k);
}

// The source instance of a new key, once the caller may create keys of it and holds the role it
// is to hand out. Another account's instance is answered as an unknown one. An instance of
// another service goes on to the service, which refuses it (400).
Status AuthorizeSource(const IamApiDeps& deps, const Subject& caller,
                       const IamService::ResourceKeySpec& spec) {
  const std::string guid = InstanceGuidOf(spec.source);
  auto r = deps.service->GetInstance(guid);
  if (!r && r.error().code != ErrorCode::kNotFound) return tl::unexpected(r.error());
  std::optional<NamedObject> object;
  if (r) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(
        caller, kCreate, {r->account_id, r->resource_id, r->guid, "", ""}));
    object = NamedObject{r->account_id, d.permitted};
  }
  VEIL_TRY(RequireNamed(
      deps, caller, kCreate, object,
      {caller.account_id, std::string(kObjectStorageService), guid, "", ""},
      Error(ErrorCode::kNotFound, "source names no resource instance of the account")));
  if (r->resource_id != kObjectStorageService) return OkStatus();
  Decision holds =
      VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, ObjectStorageActionOfRole(spec.role),
                                                {r->account_id, r->resource_id, r->guid, "", ""}));
  if (!holds.permitted) {
    return PermissionDenied("a resource key with role " + spec.role +
                            " can be created only by a caller that holds " + spec.role +
                            " on the instance itself");
  }
  return OkStatus();
}

Result<http::Response> CreateKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  const IamService::ResourceKeySpec spec =
      VEIL_TRY_VALUE(ParseResourceKeyCreate(body, caller.account_id));
  SetTarget(ctx, "", spec.name, std::string(kTypeUri));
  VEIL_TRY(AuthorizeSource(deps, caller, spec));
  const IamService::CreatedResourceKey created =
      VEIL_TRY_VALUE(deps.service->CreateResourceKey(spec, caller.iam_id));
  const ResourceKey& k = created.key;
  SetTarget(ctx, k.crn, k.name, std::string(kTypeUri));
  ctx.event().message = "Resource Controller: create resource key " + k.name;
  // Ids only: never the API key nor the secret access key.
  boost::json::object& data = ctx.event().response_data;
  data["resource_key_id"] = k.guid;
  data["source_crn"] = k.source_crn;
  data["role"] = k.role;
  data["iam_serviceid"] = k.iam_id;
  data["iam_apikey_id"] = k.apikey_id;
  if (!k.access_key_id.empty()) data["access_key_id"] = k.access_key_id;
  return Json(201, ResourceKeyJson(k, &created));
}

// GET /v2/resource_keys?name&account_id&pagesize&pagetoken: the keys the caller may read.
Result<http::Response> ListKeys(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  const std::string account = VEIL_TRY_VALUE(ListingAccount(ctx, caller));
  ResourceKeyFilter filter;
  filter.name = std::string(ctx.request().Query("name").value_or(""));
  PageRequest page_request = VEIL_TRY_VALUE(ParsePageQuery(ctx.request().query));
  auto page = VEIL_TRY_VALUE(deps.service->ListResourceKeys(account, filter, page_request));
  boost::json::array items;
  for (const ResourceKey& k : page.items) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, kRead, KeyResource(k)));
    if (d.permitted) items.push_back(ResourceKeyJson(k));
  }
  boost::json::object out;
  out["rows_count"] = static_cast<int64_t>(items.size());
  out["next_url"] = page.next.empty()
                        ? boost::json::value(nullptr)
                        : boost::json::value("/v2/resource_keys?pagetoken=" + page.next);
  out["resources"] = std::move(items);
  ctx.event().message = "Resource Controller: list resource keys";
  return Json(200, out);
}

Result<http::Response> GetKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ResourceKey k = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, caller, kRead));
  ctx.event().message = "Resource Controller: read resource key " + k.name;
  return Json(200, ResourceKeyJson(k));
}

Result<http::Response> DeleteKey(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ResourceKey k = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, caller, kDelete));
  VEIL_TRY(deps.service->DeleteResourceKey(k.guid));
  ctx.event().severity = "warning";
  ctx.event().message = "Resource Controller: delete resource key " + k.name;
  if (!k.access_key_id.empty()) ctx.event().response_data["access_key_id"] = k.access_key_id;
  return http::Response::Empty(204);
}

}  // namespace

Status AddResourceKeyRoutes(http::Router& router, const IamApiDeps& deps) {
  using Ctx = http::RequestContext;
  VEIL_TRY(router.Add(
      "POST", "/v2/resource_keys", [deps](Ctx& ctx) { return CreateKey(deps, ctx); },
      Authenticated(std::string(kCreate))));
  VEIL_TRY(router.Add(
      "GET", "/v2/resource_keys", [deps](Ctx& ctx) { return ListKeys(deps, ctx); },
      Authenticated("resource-controller.key.list")));
  VEIL_TRY(router.Add(
      "GET", "/v2/resource_keys/{id}", [deps](Ctx& ctx) { return GetKey(deps, ctx); },
      Authenticated(std::string(kRead))));
  VEIL_TRY(router.Add(
      "DELETE", "/v2/resource_keys/{id}", [deps](Ctx& ctx) { return DeleteKey(deps, ctx); },
      Authenticated(std::string(kDelete))));
  return OkStatus();
}

}  // namespace veil::iam::api::internal
