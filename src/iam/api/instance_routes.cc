// The minimal resource controller: /v2/resource_instances.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "iam/api/handler_support.h"
#include "iam/api/parse.h"
#include "iam/api/render.h"

namespace veil::iam::api::internal {
namespace {

ResourceAttributes InstanceResource(const ResourceInstance& r) {
  return {r.account_id, r.resource_id, r.guid, "", ""};
}

std::string TypeUri(std::string_view service) { return std::string(service) + "/instance"; }

// The instance the path names, once `action` on it is allowed. Another account's instance is
// answered as an unknown one (RequireNamed), judged as an instance of the caller's account of no
// service in particular (the service is not the caller's to learn).
Result<ResourceInstance> AuthorizedInstance(const IamApiDeps& deps, http::RequestContext& ctx,
                                            const Subject& caller, std::string_view action) {
  const std::string guid(ctx.request().PathParam("id").value_or(std::string_view()));
  auto r = deps.service->GetInstance(guid);
  if (!r && r.error().code != ErrorCode::kNotFound) return tl::unexpected(r.error());
  std::optional<NamedObject> object;
  if (r) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, action, InstanceResource(*r)));
    object = NamedObject{r->account_id, d.permitted};
    if (r->account_id == caller.account_id)
      SetTarget(ctx, r->crn, r->name, TypeUri(r->resource_id));
  }
  VEIL_TRY(RequireNamed(deps, caller, action, object, {caller.account_id, "", guid, "", ""},
                        Error(ErrorCode::kNotFound, "resource instance not found")));
  SetTarget(ctx, r->crn, r->name, TypeUri(r->resource_id));
  return std::move(*r);
}

Result<http::Response> CreateInstance(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  auto spec = VEIL_TRY_VALUE(ParseInstanceCreate(body, caller.account_id));
  SetTarget(ctx, "", spec.name, TypeUri(spec.resource_id));
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "resource-controller.instance.create",
                             {spec.account_id, spec.resource_id, "", "", ""}));
  ResourceInstance r = VEIL_TRY_VALUE(deps.service->CreateInstance(spec, caller.iam_id));
  SetTarget(ctx, r.crn, r.name, TypeUri(r.resource_id));
  ctx.event().message = "Resource Controller: create instance " + r.name;
  return Json(201, InstanceJson(r));
}

// GET /v2/resource_instances?resource_id&name&account_id: the instances the caller may read.
Result<http::Response> ListInstances(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  const std::string account = VEIL_TRY_VALUE(ListingAccount(ctx, caller));
  InstanceFilter filter;
  filter.resource_id = std::string(ctx.request().Query("resource_id").value_or(""));
  filter.name = std::string(ctx.request().Query("name").value_or(""));
  PageRequest page_request = VEIL_TRY_VALUE(ParsePageQuery(ctx.request().query));
  auto page = VEIL_TRY_VALUE(deps.service->ListInstances(account, filter, page_request));
  boost::json::array items;
  for (const ResourceInstance& r : page.items) {
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(
        caller, "resource-controller.instance.read", InstanceResource(r)));
    if (d.permitted) items.push_back(InstanceJson(r));
  }
  boost::json::object out;
  out["rows_count"] = static_cast<int64_t>(items.size());
  out["next_url"] = page.next.empty()
                        ? boost::json::value(nullptr)
                        : boost::json::value("/v2/resource_instances?pagetoken=" + page.next);
  out["resources"] = std::move(items);
  ctx.event().message = "Resource Controller: list instances";
  return Json(200, out);
}

Result<http::Response> GetInstance(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ResourceInstance r =
      VEIL_TRY_VALUE(AuthorizedInstance(deps, ctx, caller, "resource-controller.instance.read"));
  ctx.event().message = "Resource Controller: read instance " + r.name;
  return Json(200, InstanceJson(r));
}

Result<http::Response> DeleteInstance(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  ResourceInstance r =
      VEIL_TRY_VALUE(AuthorizedInstance(deps, ctx, caller, "resource-controller.instance.delete"));
  VEIL_TRY(deps.service->DeleteInstance(r.guid));
  ctx.event().severity = "warning";
  ctx.event().message = "Resource Controller: delete instance " + r.name;
  return http::Response::Empty(204);
}

}  // namespace

Status AddInstanceRoutes(http::Router& router, const IamApiDeps& deps) {
  using Ctx = http::RequestContext;
  VEIL_TRY(router.Add(
      "POST", "/v2/resource_instances", [deps](Ctx& ctx) { return CreateInstance(deps, ctx); },
      Authenticated("resource-controller.instance.create")));
  VEIL_TRY(router.Add(
      "GET", "/v2/resource_instances", [deps](Ctx& ctx) { return ListInstances(deps, ctx); },
      Authenticated("resource-controller.instance.list")));
  VEIL_TRY(router.Add(
      "GET", "/v2/resource_instances/{id}", [deps](Ctx& ctx) { return GetInstance(deps, ctx); },
      Authenticated("resource-controller.instance.read")));
  VEIL_TRY(router.Add(
      "DELETE", "/v2/resource_instances/{id}",
      [deps](Ctx& ctx) { return DeleteInstance(deps, ctx); },
      Authenticated("resource-controller.instance.delete")));
  return OkStatus();
}

}  // namespace veil::iam::api::internal
