// Registrations: which resources (CRNs) a root key protects. Changes are service-only.
#include <charconv>

#include "kms/api/handler_support.h"
#include "kms/errors.h"

namespace veil::kms::api::internal {
namespace {

// The registration fields of a body: a collection with one resource, or the object itself.
Result<boost::json::object> RegistrationBody(http::RequestContext& ctx) {
  auto body = VEIL_TRY_VALUE(ReadOptionalJson(ctx));
  if (!body) return boost::json::object();
  if (!body->is_object()) return KmsFail(KmsReason::kBadBody, "the body must be a JSON object");
  const boost::json::object& o = body->get_object();
  if (const auto* resources = o.if_contains("resources")) {
    if (!resources->is_array() || resources->get_array().size() != 1 ||
        !resources->get_array()[0].is_object()) {
      return KmsFail(KmsReason::kNumCollectionResource, "the collection must hold 1 registration");
    }
    return resources->get_array()[0].get_object();
  }
  return o;
}

Result<std::optional<std::string>> KeyVersionField(const boost::json::object& o) {
  if (auto id = VEIL_TRY_VALUE(OptString(o, "keyVersionId"))) return id;
  if (const auto* v = o.if_contains("keyVersion"); v && v->is_object()) {
    return OptString(v->get_object(), "id");
  }
  return std::optional<std::string>();
}

std::string CrnParam(const http::RequestContext& ctx) {
  return std::string(ctx.request().PathParam("crn").value_or(""));
}

void DescribeRegistration(http::RequestContext& ctx, std::string_view crn) {
  ctx.event().response_data["resourceCRN"] = std::string(crn);
}

Result<http::Response> CreateRegistration(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.registrations.create"));
  boost::json::object body = VEIL_TRY_VALUE(RegistrationBody(ctx));
  std::string crn = CrnParam(ctx);
  DescribeRegistration(ctx, crn);
  Registration r = VEIL_TRY_VALUE(deps.service->CreateRegistration(
      key, crn, VEIL_TRY_VALUE(OptString(body, "description")).value_or(""),
      VEIL_TRY_VALUE(OptBool(body, "preventKeyDeletion")).value_or(false),
      VEIL_TRY_VALUE(KeyVersionField(body)).value_or(""), scope.actor));
  ctx.event().message = "Key Protect: register " + crn + " with key " + key.name;
  return Collection(201, kRegistrationType, boost::json::array{RegistrationJson(r)});
}

Result<http::Response> UpdateRegistration(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  const bool merge = ctx.request().method == "PUT";
  ctx.event().action = merge ? "kms.registrations.merge" : "kms.registrations.write";
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, ctx.event().action));
  boost::json::object body = VEIL_TRY_VALUE(RegistrationBody(ctx));
  std::string crn = CrnParam(ctx);
  DescribeRegistration(ctx, crn);
  Registration r = VEIL_TRY_VALUE(
      deps.service->UpdateRegistration(key, crn, VEIL_TRY_VALUE(OptString(body, "description")),
                                       VEIL_TRY_VALUE(OptBool(body, "preventKeyDeletion")),
                                       VEIL_TRY_VALUE(KeyVersionField(body)), scope.actor));
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

Result<int64_t> QueryInt(const http::RequestContext& ctx, std::string_view name, int64_t fallback,
                         int64_t max) {
  auto text = ctx.request().Query(name);
  if (!text || text->empty()) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size() || v < 0 || v > max) {
    return KmsFail(KmsReason::kBadReq,
                   std::string(name) + " must be an integer 0 to " + std::to_string(max));
  }
  return v;
}

Result<http::Response> QueryRegistrations(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Listing listing = VEIL_TRY_VALUE(AuthorizeListing(deps, scope, "kms.registrations.list"));
  std::string query(ctx.request().Query("urlEncodedResourceCRNQuery").value_or(""));
  std::optional<bool> prevent;
  if (auto p = ctx.request().Query("preventKeyDeletion"); p && !p->empty()) {
    if (*p != "true" && *p != "false") {
      return KmsFail(KmsReason::kBadReq, "preventKeyDeletion must be true or false");
    }
    prevent = *p == "true";
  }
  int64_t limit = VEIL_TRY_VALUE(QueryInt(ctx, "limit", 200, 5000));
  int64_t offset = VEIL_TRY_VALUE(QueryInt(ctx, "offset", 0, INT64_MAX / 2));
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
