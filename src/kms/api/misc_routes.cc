// Aliases, key rings and the import token.
#include "common/encoding.h"
#include "kms/api/handler_support.h"
#include "kms/api/render.h"
#include "kms/errors.h"

namespace veil::kms::api::internal {
namespace {

Result<http::Response> CreateAlias(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.createalias"));
  std::string alias(ctx.request().PathParam("alias").value_or(""));
  Key updated = VEIL_TRY_VALUE(deps.service->CreateAlias(key, alias));
  ctx.event().message = "Key Protect: add alias " + alias + " to key " + key.name;
  boost::json::object o{{"keyId", updated.id},
                        {"alias", alias},
                        {"creationDate", FormatRfc3339Seconds(updated.updated_at)},
                        {"createdBy", scope.actor.iam_id}};
  return Collection(201, kKeyAliasType, boost::json::array{o});
}

Result<http::Response> DeleteAlias(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.deletealias"));
  std::string alias(ctx.request().PathParam("alias").value_or(""));
  VEIL_TRY(deps.service->DeleteAlias(key, alias));
  ctx.event().message = "Key Protect: remove alias " + alias + " from key " + key.name;
  return http::Response::Empty(204);
}

Result<http::Response> CreateKeyRing(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.keyrings.create"));
  std::string id(ctx.request().PathParam("id").value_or(""));
  KeyRing ring = VEIL_TRY_VALUE(deps.service->CreateKeyRing(scope.instance, id, scope.actor));
  ctx.event().message = "Key Protect: create key ring " + id;
  return Collection(201, kKeyRingType, boost::json::array{KeyRingJson(ring)});
}

Result<http::Response> ListKeyRings(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.keyrings.list"));
  auto rings = VEIL_TRY_VALUE(deps.service->ListKeyRings(scope.instance));
  boost::json::array out;
  for (const KeyRing& r : rings) out.push_back(KeyRingJson(r));
  ctx.event().message = "Key Protect: list key rings";
  return Collection(200, kKeyRingType, std::move(out));
}

Result<http::Response> DeleteKeyRing(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.keyrings.delete"));
  std::string id(ctx.request().PathParam("id").value_or(""));
  bool force = ctx.request().Query("force").value_or("") == "true";
  VEIL_TRY(deps.service->DeleteKeyRing(scope.instance, id, force));
  ctx.event().message = "Key Protect: delete key ring " + id;
  return http::Response::Empty(204);
}

Result<http::Response> CreateImportToken(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.importtoken.create"));
  ImportTokenRequest request =
      VEIL_TRY_VALUE(ParseImportTokenCreate(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  ImportToken t = VEIL_TRY_VALUE(
      deps.service->CreateImportToken(scope.instance, request.expiration, request.max_retrievals));
  ctx.event().message = "Key Protect: create import token";
  return JsonResponse(200, ImportTokenJson(t));
}

Result<http::Response> GetImportToken(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.importtoken.read"));
  ImportTokenView view = VEIL_TRY_VALUE(deps.service->RetrieveImportToken(scope.instance));
  boost::json::object o = ImportTokenJson(view.token);
  const std::string& pem = view.token.public_key_pem;
  o["payload"] = Base64Encode({reinterpret_cast<const uint8_t*>(pem.data()), pem.size()});
  if (view.nonce_b64) o["nonce"] = *view.nonce_b64;
  ctx.event().message = "Key Protect: retrieve import token";
  return JsonResponse(200, o);
}

}  // namespace

Status AddMiscRoutes(http::Router& router, const KmsApiDeps& deps) {
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys/{id}/aliases/{alias}", CreateAlias,
                    "kms.secrets.createalias"));
  VEIL_TRY(AddRoute(router, deps, "DELETE", "/api/v2/keys/{id}/aliases/{alias}", DeleteAlias,
                    "kms.secrets.deletealias"));
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/key_rings/{id}", CreateKeyRing,
                    "kms.keyrings.create"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/key_rings", ListKeyRings, "kms.keyrings.list"));
  VEIL_TRY(AddRoute(router, deps, "DELETE", "/api/v2/key_rings/{id}", DeleteKeyRing,
                    "kms.keyrings.delete"));
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/import_token", CreateImportToken,
                    "kms.importtoken.create"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/import_token", GetImportToken,
                    "kms.importtoken.read"));
  return OkStatus();
}

}  // namespace veil::kms::api::internal
