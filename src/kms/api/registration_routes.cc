// Registrations: which resources (CRNs) a root key protects. Changes are service-only.
#include "kms/api/handler_support.h"
#include "kms/api/render.h"
#include "kms/errors.h"

namespace veil::kms::api::internal {
namespace {

std::string CrnParam(const http::RequestContext& ctx) {
  return std::string(ctx.request().PathParam("crn").value_or(""));
}

void DescribeRegistration(http::RequestContext& ctx, std::string_view crn) {
  ctx.event().response_data["resourceCRN"] = std::string(crn);
}

Result<http::Response> CreateRegistration(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.registrations.create"));
  RegistrationFields body =
      VEIL_TRY_VALUE(ParseRegistration(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  std::string crn = CrnParam(ctx);
  DescribeRegistration(ctx, crn);
  Registration r = VEIL_TRY_VALUE(deps.service->CreateRegistration(
      key, crn, body.description.value_or(""), body.prevent_key_deletion.value_or(false),
      body.key_version_id.value_or(""), scope.actor));
  ctx.event().message = "Key Protect: register " + crn + " with key " + key.name;
  return Collection(201, kRegistrationType, boost::json::array{RegistrationJson(r)});
}

Result<http::Response> UpdateRegistration(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  const bool merge = ctx.request().method == "PUT";
  ctx.event().action = merge ? "kms.registrations.merge" : "kms.registrations.write";
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, ctx.event().action));
  RegistrationFields body =
      VEIL_TRY_VALUE(ParseRegistration(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  std::string crn = CrnParam(ctx);
  DescribeRegistration(ctx, crn);
  Registration r = VEIL_TRY_VALUE(deps.service->UpdateRegistration(
      key, crn, std::move(body.description), body.prevent_key_deletion,
      std::move(body.key_version_id), scope.actor));
  ctx.event().message = "Key Protect: update registration of " + crn;
  return Collection(200, kRegistrationType, boost::json::array{RegistrationJson(r)});
}

Result<http::Response> DeleteRegistration(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.registrations.delete"));
  std::string crn = CrnParam(ctx);
  DescribeRegistration(ctx, crn);
  VEIL_TRY(deps.service->DeleteRegistration(key, crn, scope.actor));
  ctx.event().message = "Key Protect: delete registration of " + crn;
  return http::Response::Empty(204);
}

Result<http::Response> ListKeyRegistrations(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.registrations.list"));
  auto list = VEIL_TRY_VALUE(deps.service->ListRegistrations(key));
  boost::json::array out;
  for (const Registration& r : list) out.push_back(RegistrationJson(r));
  ctx.event().response_data["totalResources"] = static_cast<int64_t>(list.size());
  ctx.event().message = "Key Protect: list registrations of key " + key.name;
  return Collection(200, kRegistrationType, std::move(out));
}

Result<http::Response> QueryRegistrations(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Listing listing = VEIL_TRY_VALUE(AuthorizeListing(deps, scope, "kms.registrations.list"));
  RegistrationQuery q = VEIL_TRY_VALUE(ParseRegistrationQuery(ctx.request().query));
  const std::string& query = q.crn_query;
  const std::optional<bool> prevent = q.prevent_key_deletion;
  const int64_t limit = q.limit;
  const int64_t offset = q.offset;
  std::vector<Registration> list;
  if (listing.whole_instance) {
    list = VEIL_TRY_VALUE(
        deps.service->QueryRegistrations(scope.instance, query, prevent, limit, offset));
  } else {
    // Only the registrations of keys the caller may list them for, paged after the filter.
    auto all = VEIL_TRY_VALUE(
        deps.service->QueryRegistrations(scope.instance, query, prevent, INT64_MAX / 2, 0));
    std::vector<Registration> allowed;
    for (Registration& r : all) {
      if (VEIL_TRY_VALUE(Allowed(deps, scope, "kms.registrations.list", r.key_id))) {
        allowed.push_back(std::move(r));
      }
    }
    if (allowed.empty()) VEIL_TRY(Authorize(deps, scope, "kms.registrations.list"));
    for (int64_t i = offset; i < static_cast<int64_t>(allowed.size()) && i < offset + limit; ++i) {
      list.push_back(std::move(allowed[static_cast<size_t>(i)]));
    }
  }
  boost::json::array out;
  for (const Registration& r : list) out.push_back(RegistrationJson(r));
  ctx.event().response_data["totalResources"] = static_cast<int64_t>(list.size());
  ctx.event().message = "Key Protect: list registrations";
  return Collection(200, kRegistrationType, std::move(out));
}

}  // namespace

Status AddRegistrationRoutes(http::Router& router, const KmsApiDeps& deps) {
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys/registrations", QueryRegistrations,
                    "kms.registrations.list"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys/{id}/registrations", ListKeyRegistrations,
                    "kms.registrations.list"));
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys/{id}/registrations/{crn}",
                    CreateRegistration, "kms.registrations.create"));
  VEIL_TRY(AddRoute(router, deps, "PATCH", "/api/v2/keys/{id}/registrations/{crn}",
                    UpdateRegistration, "kms.registrations.write"));
  VEIL_TRY(AddRoute(router, deps, "PUT", "/api/v2/keys/{id}/registrations/{crn}",
                    UpdateRegistration, "kms.registrations.merge"));
  VEIL_TRY(AddRoute(router, deps, "DELETE", "/api/v2/keys/{id}/registrations/{crn}",
                    DeleteRegistration, "kms.registrations.delete"));
  return OkStatus();
}

}  // namespace veil::kms::api::internal
