// Keys: create/import, list, total, get, metadata, patch, delete, restore, purge, versions.
#include <charconv>

#include "common/time.h"
#include "kms/api/handler_support.h"
#include "kms/errors.h"

namespace veil::kms::api::internal {
namespace {

constexpr int64_t kMaxListLimit = 5000;

Result<int64_t> IntQuery(const http::RequestContext& ctx, std::string_view name, int64_t fallback,
                         int64_t min, int64_t max) {
  auto text = ctx.request().Query(name);
  if (!text || text->empty()) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    return KmsFail(KmsReason::kBadReq, std::string(name) + " must be an integer from " +
                                           std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

Result<bool> BoolQuery(const http::RequestContext& ctx, std::string_view name) {
  auto text = ctx.request().Query(name);
  if (!text || text->empty() || *text == "false") return false;
  if (*text == "true") return true;
  return KmsFail(KmsReason::kBadReq, std::string(name) + " must be true or false");
}

Result<ListKeysOptions> ListOptions(const http::RequestContext& ctx) {
  ListKeysOptions o;
  o.limit = VEIL_TRY_VALUE(IntQuery(ctx, "limit", 200, 1, kMaxListLimit));
  o.offset = VEIL_TRY_VALUE(IntQuery(ctx, "offset", 0, 0, INT64_MAX / 2));
  if (auto states = ctx.request().Query("state"); states && !states->empty()) {
    std::string_view rest = *states;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      int value = -1;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
      auto state = KeyStateFromInt(value);
      if (ec != std::errc() || end != item.data() + item.size() || !state) {
        return KmsFail(KmsReason::kBadReq, "state must list key states from 0, 1, 2, 3, 5");
      }
      o.states.push_back(*state);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  if (auto extractable = ctx.request().Query("extractable"); extractable && !extractable->empty()) {
    if (*extractable != "true" && *extractable != "false") {
      return KmsFail(KmsReason::kBadReq, "extractable must be true or false");
    }
    o.extractable = *extractable == "true";
  }
  if (auto ring = ctx.request().headers.Get("x-kms-key-ring"); ring && !ring->empty()) {
    o.key_ring_id = std::string(*ring);
  }
  return o;
}

Result<http::Response> CreateKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.secrets.create"));
  boost::json::object r = VEIL_TRY_VALUE(ReadSingleResource(ctx));
  CreateKeySpec spec;
  spec.name = VEIL_TRY_VALUE(OptString(r, "name")).value_or("");
  spec.description = VEIL_TRY_VALUE(OptString(r, "description")).value_or("");
  spec.aliases = VEIL_TRY_VALUE(OptStringList(r, "aliases"));
  spec.extractable = VEIL_TRY_VALUE(OptBool(r, "extractable")).value_or(false);
  if (auto expiry = VEIL_TRY_VALUE(OptString(r, "expirationDate"))) {
    auto t = ParseRfc3339(*expiry);
    if (!t) return KmsFail(KmsReason::kBadBody, "expirationDate must be an RFC 3339 time");
    spec.expires_at = *t;
  }
  if (auto ring = ctx.request().headers.Get("x-kms-key-ring"); ring && !ring->empty()) {
    spec.key_ring_id = std::string(*ring);
  }
  spec.material = VEIL_TRY_VALUE(MaterialOf(r));
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
  auto body = VEIL_TRY_VALUE(ReadOptionalJson(ctx));
  if (!body || !body->is_object())
    return KmsFail(KmsReason::kNoBody, "PATCH needs {\"keyRingID\"}");
  auto ring = VEIL_TRY_VALUE(OptString(body->get_object(), "keyRingID"));
  if (!ring) return KmsFail(KmsReason::kBadBody, "keyRingID is required");
  Key updated = VEIL_TRY_VALUE(deps.service->PatchKeyRing(key, *ring, scope.actor));
  DescribeKey(ctx, updated, deps.service->options().region);
  ctx.event().message = "Key Protect: move key " + key.name + " to key ring " + *ring;
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(updated, deps.service->options().region)});
}

Result<http::Response> DeleteKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.delete"));
  bool force = VEIL_TRY_VALUE(BoolQuery(ctx, "force"));
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
  VEIL_TRY(deps.service->Purge(key, scope.actor));
  ctx.event().message = "Key Protect: purge key " + key.name;
  if (!WantsRepresentation(ctx)) return http::Response::Empty(204);
  return Collection(200, kKeyType,
                    boost::json::array{KeyJson(key, deps.service->options().region)});
}

Result<http::Response> ListVersions(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.listkeyversions"));
  int64_t limit = VEIL_TRY_VALUE(IntQuery(ctx, "limit", 200, 1, kMaxListLimit));
  int64_t offset = VEIL_TRY_VALUE(IntQuery(ctx, "offset", 0, 0, INT64_MAX / 2));
  auto versions = VEIL_TRY_VALUE(deps.service->ListVersions(key));
  boost::json::array resources;
  for (int64_t i = offset; i < static_cast<int64_t>(versions.size()) && i < offset + limit; ++i) {
    resources.push_back(VersionJson(versions[static_cast<size_t>(i)]));
  }
  ctx.event().message = "Key Protect: list versions of key " + key.name;
  http::Response r = Collection(200, kVersionType, std::move(resources));
  if (VEIL_TRY_VALUE(BoolQuery(ctx, "totalCount"))) {
    r.headers.Set("Key-Version-Total", std::to_string(versions.size()));
  }
  return r;
}

}  // namespace

// The import fields of a create, rotate or restore body; nullopt when `payload` is absent.
Result<std::optional<ImportedMaterial>> MaterialOf(const boost::json::object& o) {
  auto payload = VEIL_TRY_VALUE(OptString(o, "payload"));
  if (!payload) return std::optional<ImportedMaterial>();
  ImportedMaterial m;
  m.payload = std::move(*payload);
  m.encrypted_nonce = VEIL_TRY_VALUE(OptString(o, "encryptedNonce")).value_or("");
  m.iv = VEIL_TRY_VALUE(OptString(o, "iv")).value_or("");
  m.encryption_algorithm = VEIL_TRY_VALUE(OptString(o, "encryptionAlgorithm")).value_or("");
  if (!m.encrypted_nonce.empty() && m.iv.empty()) {
    return KmsFail(KmsReason::kIncorrectNonceIv, "encryptedNonce needs its iv");
  }
  return std::optional<ImportedMaterial>(std::move(m));
}

Result<http::Response> RestoreKey(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.secrets.restore"));
  ctx.event().action = "kms.secrets.restore";
  std::optional<ImportedMaterial> material;
  auto body = VEIL_TRY_VALUE(ReadOptionalJson(ctx));
  if (body && body->is_object() && body->get_object().contains("resources")) {
    // A body for restore arrives without the single-resource check: read it from the value.
    const auto& resources = body->get_object().at("resources");
    if (resources.is_array() && resources.get_array().size() == 1 &&
        resources.get_array()[0].is_object()) {
      material = VEIL_TRY_VALUE(MaterialOf(resources.get_array()[0].get_object()));
    }
  }
  Key restored = VEIL_TRY_VALUE(deps.service->Restore(key, std::move(material), scope.actor));
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
