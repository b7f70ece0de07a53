// Keys: create/import, list, total, get, metadata, patch, delete, restore, purge, versions.
#include "common/time.h"
#include "kms/api/handler_support.h"
#include "kms/api/render.h"
#include "kms/errors.h"

namespace veil::kms::api::internal {
namespace {

// The listing options of the query, and the key ring of the x-kms-key-ring header.
Result<ListKeysOptions> ListOptions(const http::RequestContext& ctx) {
  ListKeysOptions o = VEIL_TRY_VALUE(ParseListKeysQuery(ctx.request().query));
  if (auto ring = ctx.request().headers.Get("x-kms-key-ring"); ring && !ring->empty()) {
    o.key_ring_id = std::string(*ring);
  }
  return o;
}

Result<http::Response> CreateKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.secrets.create"));
  CreateKeySpec spec = VEIL_TRY_VALUE(ParseCreateKey(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  if (auto ring = ctx.request().headers.Get("x-kms-key-ring"); ring && !ring->empty()) {
    spec.key_ring_id = std::string(*ring);
  }
  ctx.event().request_data["keyType"] = std::string(kKeyType);
  Key key = VEIL_TRY_VALUE(deps.service->CreateKey(scope.instance, spec, scope.actor));
  DescribeKey(ctx, key, deps.service->options().region);
  ctx.event().message = "Key Protect: create " + std::string(key.is_root() ? "root" : "standard") +
                        " key " + key.name;
  if (ctx.request().headers.Get("prefer").value_or("") == "return=minimal") {
    boost::json::object minimal{
        {"id", key.id}, {"type", kKeyType}, {"crn", key.crn(deps.service->options().region)}};
    return Collection(201, kKeyType, boost::json::array{minimal});
  }
  return Collection(201, kKeyType,
                    boost::json::array{KeyJson(key, deps.service->options().region)});
}

Result<http::Response> ListKeys(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Listing listing = VEIL_TRY_VALUE(AuthorizeListing(deps, scope, "kms.secrets.list"));
  ListKeysOptions options = VEIL_TRY_VALUE(ListOptions(ctx));
  auto keys = VEIL_TRY_VALUE(listing.whole_instance
                                 ? deps.service->ListKeys(scope.instance, options)
                                 : KeysAllowedOneByOne(deps, scope, "kms.secrets.list", options));
  boost::json::array resources;
  for (const Key& k : keys) resources.push_back(KeyJson(k, deps.service->options().region));
  ctx.event().response_data["totalResources"] = static_cast<int64_t>(keys.size());
  ctx.event().message = "Key Protect: list keys";
  return Collection(200, kKeyType, std::move(resources));
}

Result<http::Response> HeadKeys(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Listing listing = VEIL_TRY_VALUE(AuthorizeListing(deps, scope, "kms.secrets.head"));
  ListKeysOptions options = VEIL_TRY_VALUE(ListOptions(ctx));
  int64_t total = 0;
  if (listing.whole_instance) {
    total = VEIL_TRY_VALUE(deps.service->CountKeys(scope.instance, options));
  } else {
    options.offset = 0;
    options.limit = INT64_MAX / 2;
    total = static_cast<int64_t>(
        VEIL_TRY_VALUE(KeysAllowedOneByOne(deps, scope, "kms.secrets.head", options)).size());
  }
  http::Response r = http::Response::Empty(200);
  r.headers.Set("Key-Total", std::to_string(total));
  ctx.event().response_data["totalResources"] = total;
  ctx.event().message = "Key Protect: count keys";
  return r;
}

Result<http::Response> GetKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  // Standard keys show their payload (ReaderPlus and up) while they are Active; root keys, and
  // standard keys in any other state, only their metadata (KeyAction::kReadPayload).
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.readmetadata"));
  ctx.event().message = "Key Protect: read key " + key.name;
  if (key.is_root() || !KeyActionAllowed(KeyAction::kReadPayload, key.state)) {
    ctx.event().action = "kms.secrets.read";
    return Collection(200, kKeyType,
                      boost::json::array{KeyJson(key, deps.service->options().region)});
  }
  ctx.event().action = "kms.secrets.read";
  VEIL_TRY(Authorize(deps, scope, "kms.secrets.read", key.id));
  SecretBytes payload = VEIL_TRY_VALUE(deps.service->GetPayload(key));
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(key, deps.service->options().region, &payload)});
}

Result<http::Response> GetMetadata(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.readmetadata"));
  ctx.event().message = "Key Protect: read metadata of key " + key.name;
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(key, deps.service->options().region)});
}

Result<http::Response> PatchKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.patch"));
  const std::string ring = VEIL_TRY_VALUE(ParseKeyRingPatch(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  Key updated = VEIL_TRY_VALUE(deps.service->PatchKeyRing(key, ring));
  DescribeKey(ctx, updated, deps.service->options().region);
  ctx.event().message = "Key Protect: move key " + key.name + " to key ring " + ring;
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(updated, deps.service->options().region)});
}

Result<http::Response> DeleteKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.delete"));
  bool force = VEIL_TRY_VALUE(BoolQuery(ctx.request().query, "force"));
  Key deleted = VEIL_TRY_VALUE(deps.service->Delete(key, force, scope.actor));
  DescribeKey(ctx, deleted, deps.service->options().region);
  ctx.event().message = "Key Protect: delete key " + key.name;
  if (!WantsRepresentation(ctx)) return http::Response::Empty(204);
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(deleted, deps.service->options().region)});
}

Result<http::Response> PurgeKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.purge"));
  VEIL_TRY(deps.service->Purge(key));
  ctx.event().message = "Key Protect: purge key " + key.name;
  if (!WantsRepresentation(ctx)) return http::Response::Empty(204);
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(key, deps.service->options().region)});
}

Result<http::Response> ListVersions(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.listkeyversions"));
  int64_t limit = VEIL_TRY_VALUE(IntQuery(ctx.request().query, "limit", 200, 1, kMaxListLimit));
  int64_t offset = VEIL_TRY_VALUE(IntQuery(ctx.request().query, "offset", 0, 0, INT64_MAX / 2));
  auto versions = VEIL_TRY_VALUE(deps.service->ListVersions(key));
  boost::json::array resources;
  for (int64_t i = offset; i < static_cast<int64_t>(versions.size()) && i < offset + limit; ++i) {
    resources.push_back(VersionJson(versions[static_cast<size_t>(i)]));
  }
  ctx.event().message = "Key Protect: list versions of key " + key.name;
  http::Response r = Collection(200, kVersionType, std::move(resources));
  if (VEIL_TRY_VALUE(BoolQuery(ctx.request().query, "totalCount"))) {
    r.headers.Set("Key-Version-Total", std::to_string(versions.size()));
  }
  return r;
}

}  // namespace

Result<http::Response> RestoreKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.restore"));
  ctx.event().action = "kms.secrets.restore";
  std::optional<ImportedMaterial> material =
      VEIL_TRY_VALUE(ParseRestore(VEIL_TRY_VALUE(ReadOptionalJson(ctx))));
  Key restored = VEIL_TRY_VALUE(deps.service->Restore(key, std::move(material)));
  DescribeKey(ctx, restored, deps.service->options().region);
  ctx.event().message = "Key Protect: restore key " + key.name;
  return Collection(201, kKeyType,
                    boost::json::array{KeyJson(restored, deps.service->options().region)});
}

Status AddKeyRoutes(http::Router& router, const KmsApiDeps& deps) {
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys", CreateKey, "kms.secrets.create"));
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys_with_policy_overrides", CreateKey,
                    "kms.secrets.create"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys", ListKeys, "kms.secrets.list"));
  VEIL_TRY(AddRoute(router, deps, "HEAD", "/api/v2/keys", HeadKeys, "kms.secrets.head"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys/{id}", GetKey, "kms.secrets.read"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys/{id}/metadata", GetMetadata,
                    "kms.secrets.readmetadata"));
  VEIL_TRY(AddRoute(router, deps, "PATCH", "/api/v2/keys/{id}", PatchKey, "kms.secrets.patch"));
  VEIL_TRY(AddRoute(router, deps, "DELETE", "/api/v2/keys/{id}", DeleteKey, "kms.secrets.delete"));
  VEIL_TRY(AddRoute(router, deps, "POST", "/api/v2/keys/{id}/restore", RestoreKey,
                    "kms.secrets.restore"));
  VEIL_TRY(
      AddRoute(router, deps, "DELETE", "/api/v2/keys/{id}/purge", PurgeKey, "kms.secrets.purge"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys/{id}/versions", ListVersions,
                    "kms.secrets.listkeyversions"));
  return OkStatus();
}

}  // namespace veil::kms::api::internal
