// IamService's resource keys (iam_service.h "Resource keys"; docs/iam.md "Resource keys"): IBM's
// service credentials of cloud-object-storage instances, each a service ID of its own with an
// access policy on the instance, an API key and, with HMAC, an S3 access key pair.
#include <array>

#include "common/crn.h"
#include "common/uuid.h"
#include "iam/api_key.h"
#include "iam/iam_service.h"
#include "iam/token_verifier.h"

namespace veil::iam {
namespace {

constexpr std::array<std::string_view, 3> kKeyRoles = {"Reader", "Writer", "Manager"};

// Everything one new resource key writes, made before its transaction.
struct KeyParts {
  IamService::CreatedResourceKey out;
  Identity identity;
  Policy policy;
  ApiKey apikey;
  std::vector<uint8_t> salt;
  ApiKeyHash hash{};
};

struct KeyPartsSpec {
  const ResourceInstance* instance = nullptr;
  std::string_view name;
  std::string_view role;
  std::string_view created_by;
  TimePoint now;
};

// The key's service ID: named after the key, in the instance's account.
Identity KeyIdentity(Random& random, const KeyPartsSpec& s, std::string_view key_guid) {
  Identity id;
  id.kind = IdentityKind::kServiceId;
  id.id = std::string(kServiceIdPrefix) + NewUuidV4String(random);
  id.iam_id = "iam-" + id.id;
  id.account_id = s.instance->account_id;
  id.name = std::string(s.name);
  id.description = "The identity of resource key " + std::string(key_guid) + " of " +
                   std::string(kObjectStorageService) + " instance " + s.instance->guid;
  id.created_at = id.modified_at = s.now;
  id.created_by = std::string(s.created_by);
  return id;
}

// The access policy: the key's role on its instance, nothing else.
Result<Policy> KeyPolicy(Random& random, const KeyPartsSpec& s, const Identity& identity,
                         std::string_view key_guid) {
  Policy p;
  p.type = PolicyType::kAccess;
  p.id = NewUuidV4String(random);
  p.account_id = s.instance->account_id;
  p.subject = {{"iam_id", identity.iam_id}};
  Role role = VEIL_TRY_VALUE(Role::FromName(s.role, kObjectStorageService));
  p.roles = {std::move(role)};
  p.resource = {{"accountId", s.instance->account_id},
                {"serviceName", std::string(kObjectStorageService)},
                {"serviceInstance", s.instance->guid}};
  p.description = "resource key " + std::string(key_guid);
  p.created_at = p.modified_at = s.now;
  p.created_by = p.modified_by = std::string(s.created_by);
  return p;
}

Result<KeyParts> MakeKeyParts(Random& random, const KeyPartsSpec& s) {
  KeyParts parts;
  ResourceKey& k = parts.out.key;
  k.guid = NewUuidV4String(random);
  k.crn = ResourceKeyCrn(kObjectStorageService, s.instance->region, s.instance->account_id,
                         s.instance->guid, k.guid);
  k.account_id = s.instance->account_id;
  k.name = std::string(s.name);
  k.instance_guid = s.instance->guid;
  k.source_crn = s.instance->crn;
  k.role = std::string(s.role);
  k.created_at = k.updated_at = s.now;
  k.created_by = std::string(s.created_by);
  parts.identity = KeyIdentity(random, s, k.guid);
  parts.policy = VEIL_TRY_VALUE(KeyPolicy(random, s, parts.identity, k.guid));
  // IBM's names for a resource key's API key.
  GeneratedApiKey generated = GenerateApiKey(random);
  parts.salt = random.Bytes(kApiKeySaltSize);
  parts.hash = HashApiKeySecret(parts.salt, generated.secret.Reveal());
  ApiKey& a = parts.apikey;
  a.id = generated.id;
  a.iam_id = parts.identity.iam_id;
  a.account_id = k.account_id;
  a.name = "auto-generated-apikey-" + k.guid;
  a.description = "Auto-generated for resource key " + k.guid;
  a.created_at = a.modified_at = s.now;
  a.created_by = std::string(s.created_by);
  parts.out.apikey = std::move(generated.value);
  k.iam_id = parts.identity.iam_id;
  k.apikey_id = a.id;
  k.policy_id = parts.policy.id;
  return parts;
}

// The GUID of a resource key id: the GUID itself or the key's CRN.
std::string KeyGuidOf(std::string_view id) {
  if (!id.starts_with("crn:")) return std::string(id);
  auto crn = Crn::Parse(id);
  if (!crn || crn->resource_type != "resource-key") return std::string();
  return crn->resource;
}

Error NoSuchInstance() {
  return Error(ErrorCode::kNotFound, "source names no resource instance of the account");
}

}  // namespace

Result<std::string> ParseResourceKeyRole(std::string_view text) {
  std::string name(text);
  if (text.starts_with("crn:")) {
    auto crn = Crn::Parse(text);
    const bool role_crn = crn && (crn->cname == "veil" || crn->cname == "bluemix") &&
                          crn->ctype == "public" && crn->service == "iam" && crn->region.empty() &&
                          crn->account.empty() && crn->service_instance.empty() &&
                          (crn->resource_type == "serviceRole" || crn->resource_type == "role");
    name = role_crn ? crn->resource : std::string();
  }
  for (std::string_view r : kKeyRoles) {
    if (r == name) return std::string(r);
  }
  return InvalidArgument(
      "role must be Reader, Writer or Manager, or the role_id of one "
      "(crn:v1:bluemix:public:iam::::serviceRole:Writer)");
}

std::string InstanceGuidOf(std::string_view source) {
  if (!source.starts_with("crn:")) return std::string(source);
  auto crn = Crn::Parse(source);
  if (!crn || !crn->resource_type.empty() || !crn->resource.empty()) return std::string(source);
  return crn->service_instance;
}

void IamService::SetSecretSealer(SecretSealer* sealer) { sealer_.store(sealer); }

Result<ResourceInstance> IamService::KeySource(const ResourceKeySpec& spec) {
  auto instance = GetInstance(InstanceGuidOf(spec.source));
  if (!instance) {
    if (instance.error().code == ErrorCode::kNotFound) return tl::unexpected(NoSuchInstance());
    return tl::unexpected(instance.error());
  }
  // Another account's instance is not found either: the caller learns nothing about it.
  if (instance->account_id != spec.account_id) return tl::unexpected(NoSuchInstance());
  if (instance->resource_id != kObjectStorageService) {
    return InvalidArgument(
        "source must be a cloud-object-storage instance: resource keys are "
        "object storage credentials");
  }
  if (instance->state != "active") return FailedPrecondition("the source instance is not active");
  return instance;
}

Result<IamService::CreatedResourceKey> IamService::CreateResourceKey(const ResourceKeySpec& spec,
                                                                     std::string_view created_by) {
  VEIL_TRY(ValidateName("name", spec.name));
  const std::string role = VEIL_TRY_VALUE(ParseResourceKeyRole(spec.role));
  SecretSealer* sealer = sealer_.load();
  if (spec.hmac && sealer == nullptr) {
    return FailedPrecondition("HMAC credentials need a secret sealer (the HSM): none is set");
  }
  const ResourceInstance instance = VEIL_TRY_VALUE(KeySource(spec));
  KeyParts parts =
      VEIL_TRY_VALUE(MakeKeyParts(random_, {&instance, spec.name, role, created_by, clock_.Now()}));
  std::vector<uint8_t> sealed;
  if (spec.hmac) {
    // Sealed before the transaction: the HSM is not called with the database held.
    HmacKeys hmac = GenerateHmacKeys(random_);
    sealed = VEIL_TRY_VALUE(sealer->Seal(HmacPayload(hmac)));
    parts.out.key.access_key_id = std::move(hmac.access_key_id);
    parts.out.secret_access_key = std::move(hmac.secret_access_key);
  }
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    // The instance's row lock, as any creation in an instance takes it (instance_guard.h): a
    // deletion either counted this key or made this fail.
    VEIL_TRY(store_.HoldInstance(tx, instance.guid));
    VEIL_TRY(store_.InsertIdentity(tx, parts.identity));
    VEIL_TRY(store_.InsertPolicy(tx, parts.policy));
    VEIL_TRY(store_.InsertApiKey(tx, parts.apikey, parts.salt, parts.hash));
    VEIL_TRY(keys_.Insert(tx, parts.out.key, sealed));
    return tx.Notify(kPolicyChannel, instance.account_id);
  }));
  return std::move(parts.out);
}

Result<ResourceKey> IamService::GetResourceKey(std::string_view id) {
  const std::string guid = KeyGuidOf(id);
  if (!IsUuidV4(guid)) return NotFound("resource key not found");
  return keys_.Get(db_, guid);
}

Result<Page<ResourceKey>> IamService::ListResourceKeys(std::string_view account_id,
                                                       const ResourceKeyFilter& filter,
                                                       const PageRequest& page) {
  auto [offset, limit] = VEIL_TRY_VALUE(ResolvePage(page));
  return keys_.List(account_id, filter, offset, limit);
}

Status IamService::DeleteResourceKey(std::string_view id) {
  const ResourceKey key = VEIL_TRY_VALUE(GetResourceKey(id));
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(keys_.Delete(tx, key.guid));
    // The service ID with its policies and API keys: its tokens and its access key go with it.
    VEIL_TRY(store_.DeleteIdentity(tx, key.iam_id));
    VEIL_TRY(tx.Notify(kRevocationChannel, "identity " + key.iam_id));
    return tx.Notify(kPolicyChannel, key.account_id);
  });
}

Result<HmacCredential> IamService::LookupHmacCredential(std::string_view access_key_id) {
  if (!IsAccessKeyId(access_key_id)) return NotFound("no HMAC credential has this access key id");
  const TimePoint now = clock_.Now();
  if (auto hit = hmac_cache_.Find(access_key_id, now)) return std::move(*hit);
  const uint64_t generation = hmac_cache_.generation();
  auto row = keys_.GetHmac(access_key_id);
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) {
      return NotFound("no active resource key has access key id " + std::string(access_key_id));
    }
    return tl::unexpected(row.error());
  }
  if (row->identity_locked || !row->account_active) {
    return NotFound("the resource key of access key id " + std::string(access_key_id) +
                    " is locked or its account disabled");
  }
  SecretSealer* sealer = sealer_.load();
  if (sealer == nullptr) return FailedPrecondition("no secret sealer (the HSM) is set");
  const SecretBytes payload = VEIL_TRY_VALUE(sealer->Unseal(row->sealed_secret));
  SecretBytes secret = VEIL_TRY_VALUE(SecretOfHmacPayload(payload, access_key_id));
  HmacCredential c;
  c.access_key_id = std::string(access_key_id);
  c.secret_access_key = std::move(secret);
  c.resource_key_id = row->key.guid;
  c.account_id = row->key.account_id;
  c.instance_guid = row->key.instance_guid;
  c.iam_id = row->key.iam_id;
  c.name = row->key.name;
  c.role = row->key.role;
  hmac_cache_.Insert(c, now, generation);
  return c;
}

}  // namespace veil::iam
