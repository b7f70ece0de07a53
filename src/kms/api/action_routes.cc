// Key actions, in both forms: POST /keys/{id}/actions/<name> and POST /keys/{id}?action=<name>.
#include <boost/json/array.hpp>

#include "common/encoding.h"
#include "kms/api/handler_support.h"
#include "kms/api/render.h"
#include "kms/errors.h"

namespace veil::kms::api::internal {
namespace {

boost::json::object VersionRef(const std::string& id) { return {{"id", id}}; }

using ActionFn = Result<http::Response> (*)(const KmsApiDeps&, http::RequestContext&, const Scope&,
                                            const Key&);

Result<http::Response> DoWrap(const KmsApiDeps& deps, http::RequestContext& ctx, const Scope&,
                              const Key& key) {
  WrapRequest request = VEIL_TRY_VALUE(ParseWrap(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  WrapResult r = VEIL_TRY_VALUE(deps.service->Wrap(key, std::move(request.plaintext), request.aad));
  boost::json::object out;
  out["ciphertext"] = r.ciphertext;
  out["keyVersion"] = VersionRef(r.key_version_id);
  if (r.generated) out["plaintext"] = Base64Encode(r.generated->Reveal());
  ctx.event().response_data["keyVersionId"] = r.key_version_id;
  ctx.event().message = "Key Protect: wrap with key " + key.name;
  return JsonResponse(200, out);
}

Result<http::Response> DoUnwrap(const KmsApiDeps& deps, http::RequestContext& ctx, const Scope&,
                                const Key& key) {
  CiphertextRequest request =
      VEIL_TRY_VALUE(ParseCiphertextRequest(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  UnwrapResult r = VEIL_TRY_VALUE(deps.service->Unwrap(key, request.ciphertext, request.aad));
  boost::json::object out;
  out["plaintext"] = Base64Encode(r.plaintext.Reveal());
  out["keyVersion"] = VersionRef(r.key_version_id);
  ctx.event().response_data["keyVersionId"] = r.key_version_id;
  if (r.rewrapped) {
    out["ciphertext"] = *r.rewrapped;
    out["rewrappedKeyVersion"] = VersionRef(r.rewrapped_version_id);
    ctx.event().response_data["rewrappedKeyVersionId"] = r.rewrapped_version_id;
  }
  ctx.event().message = "Key Protect: unwrap with key " + key.name;
  return JsonResponse(200, out);
}

Result<http::Response> DoRewrap(const KmsApiDeps& deps, http::RequestContext& ctx, const Scope&,
                                const Key& key) {
  CiphertextRequest request =
      VEIL_TRY_VALUE(ParseCiphertextRequest(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  RewrapResult r = VEIL_TRY_VALUE(deps.service->Rewrap(key, request.ciphertext, request.aad));
  boost::json::object out;
  out["ciphertext"] = r.ciphertext;
  out["keyVersion"] = VersionRef(r.rewrapped_from_version_id);
  out["rewrappedKeyVersion"] = VersionRef(r.key_version_id);
  ctx.event().response_data["keyVersionId"] = r.rewrapped_from_version_id;
  ctx.event().response_data["rewrappedKeyVersionId"] = r.key_version_id;
  ctx.event().message = "Key Protect: rewrap with key " + key.name;
  return JsonResponse(200, out);
}

Result<http::Response> DoRotate(const KmsApiDeps& deps, http::RequestContext& ctx, const Scope&,
                                const Key& key) {
  std::optional<ImportedMaterial> material =
      VEIL_TRY_VALUE(ParseRotate(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  Key rotated = VEIL_TRY_VALUE(deps.service->Rotate(key, std::move(material)));
  DescribeKey(ctx, rotated, deps.service->options().region);
  ctx.event().message = "Key Protect: rotate key " + key.name;
  return http::Response::Empty(204);
}

// disable, enable, setKeyForDeletion, unsetKeyForDeletion: the outcome of one KmsService call,
// 204.
Result<http::Response> Lifecycle(const KmsApiDeps& deps, http::RequestContext& ctx, const Key& key,
                                 Result<Key> changed, std::string_view what) {
  Key k = VEIL_TRY_VALUE(std::move(changed));
  DescribeKey(ctx, k, deps.service->options().region);
  ctx.event().message = "Key Protect: " + std::string(what) + " key " + key.name;
  return http::Response::Empty(204);
}

Result<http::Response> DoSync(const KmsApiDeps& deps, http::RequestContext& ctx, const Scope&,
                              const Key& key) {
  VEIL_TRY(deps.service->Sync(key));
  ctx.event().message = "Key Protect: sync key " + key.name;
  return http::Response::Empty(204);
}

struct ActionInfo {
  std::string_view name;
  std::string_view audit_action;
  ActionFn fn;
};

constexpr ActionInfo kActions[] = {
    {"wrap", "kms.secrets.wrap", DoWrap},
    {"unwrap", "kms.secrets.unwrap", DoUnwrap},
    {"rewrap", "kms.secrets.rewrap", DoRewrap},
    {"rotate", "kms.secrets.rotate", DoRotate},
    {"disable", "kms.secrets.disable",
     [](const KmsApiDeps& d, http::RequestContext& c, const Scope&, const Key& k) {
       return Lifecycle(d, c, k, d.service->Disable(k), "disable");
     }},
    {"enable", "kms.secrets.enable",
     [](const KmsApiDeps& d, http::RequestContext& c, const Scope&, const Key& k) {
       return Lifecycle(d, c, k, d.service->Enable(k), "enable");
     }},
    {"setKeyForDeletion", "kms.secrets.setkeyfordeletion",
     [](const KmsApiDeps& d, http::RequestContext& c, const Scope& s, const Key& k) {
       return Lifecycle(d, c, k, d.service->SetKeyForDeletion(k, s.actor), "set for deletion");
     }},
    {"unsetKeyForDeletion", "kms.secrets.unsetkeyfordeletion",
     [](const KmsApiDeps& d, http::RequestContext& c, const Scope&, const Key& k) {
       return Lifecycle(d, c, k, d.service->UnsetKeyForDeletion(k), "unset for deletion");
     }},
    {"sync", "kms.secrets.sync", DoSync},
};

Result<http::Response> Dispatch(const KmsApiDeps& deps, http::RequestContext& ctx,
                                std::string_view name) {
  if (name == "restore") {
    // Named before anything can refuse it: a refused restore is audited as one.
    ctx.event().action = "kms.secrets.restore";
    return RestoreKey(deps, ctx);
  }
  for (const ActionInfo& a : kActions) {
    if (a.name != name) continue;
    ctx.event().action = std::string(a.audit_action);
    Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
    Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, a.audit_action));
    return a.fn(deps, ctx, scope, key);
  }
  return KmsFail(KmsReason::kBadReq, "unknown key action " + std::string(name));
}

Result<http::Response> ActionByPath(const KmsApiDeps& deps, http::RequestContext& ctx) {
  return Dispatch(deps, ctx, ctx.request().PathParam("action").value_or(""));
}

Result<http::Response> ActionByQuery(const KmsApiDeps& deps, http::RequestContext& ctx) {
  auto action = ctx.request().Query("action");
  if (!action || action->empty()) {
    return KmsFail(KmsReason::kBadReq, "POST /keys/{id} needs ?action=<name>");
  }
  return Dispatch(deps, ctx, *action);
}

}  // namespace

Status AddActionRoutes(http::Router& router, const KmsApiDeps& deps) {
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys/{id}/actions/{action}", ActionByPath, ""));
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys/{id}", ActionByQuery, ""));
  return OkStatus();
}

}  // namespace veil::kms::api::internal
