#include "kms/kms_service.h"

#include <algorithm>
#include <functional>

#include "common/crn.h"
#include "common/log.h"
#include "common/uuid.h"
#include "crypto/compare.h"
#include "kms/errors.h"
#include "kms/instance_policy.h"
#include "kms/ip_filter.h"
#include "kms/wdek.h"

namespace veil::kms {

struct KmsService::CachedKey {
  Key key;
  std::vector<StoredVersion> versions;  // oldest first

  const StoredVersion* Find(std::string_view version_id) const {
    for (const StoredVersion& v : versions) {
      if (v.version.id == version_id) return &v;
    }
    return nullptr;
  }
  const StoredVersion& Latest() const { return versions.back(); }
};

struct KmsService::CachedPolicies {
  std::vector<InstancePolicy> policies;
  bool ip_filter = false;  // allowedIP enabled
  std::vector<IpBlock> allowed;
};

namespace {

constexpr std::string_view kLog = "kms";

Error NotFoundKey(std::string_view id) {
  return KmsError(KmsReason::kKeyNotFound, "Key does not exist: " + std::string(id));
}

tl::unexpected<Error> StateError(const Key& key, KeyAction action) {
  if (key.state == KeyState::kDestroyed) {
    return KmsFail(KmsReason::kKeyDeleted, "Key has been deleted: the key cannot be used to " +
                                               std::string(KeyActionName(action)));
  }
  return KmsFail(KmsReason::kKeyActionInvalidState, "Key is not in a valid state: a key in state " +
                                                        std::string(KeyStateName(key.state)) +
                                                        " cannot " +
                                                        std::string(KeyActionName(action)));
}

// Months after `from`, by calendar arithmetic on the UTC date (day clamped to the month's end).
TimePoint AddMonths(TimePoint from, int months) {
  using namespace std::chrono;
  auto day_point = floor<days>(from);
  year_month_day ymd{day_point};
  auto time_of_day = from - day_point;
  year_month_day next = ymd + std::chrono::months(months);
  if (!next.ok()) next = next.year() / next.month() / last;
  return sys_days(next) + time_of_day;
}

// The data of the instance's policy of `type`, or none (a policy never set is disabled).
const InstancePolicyData* FindPolicy(const std::vector<InstancePolicy>& policies,
                                     std::string_view type) {
  for (const InstancePolicy& p : policies) {
    if (p.type == type) return &p.data;
  }
  return nullptr;
}

bool PolicyEnabled(const std::vector<InstancePolicy>& policies, std::string_view type) {
  const InstancePolicyData* data = FindPolicy(policies, type);
  return data != nullptr && data->enabled;
}

// Whether the instance's keyCreateImportAccess policy is enabled with enforce_token.
bool EnforcesToken(const std::vector<InstancePolicy>& policies) {
  const InstancePolicyData* access = FindPolicy(policies, "keyCreateImportAccess");
  return access != nullptr && access->enabled && access->enforce_token.value_or(false);
}

// The name, aliases, key ring and expiry of a key to create: BAD_BODY_ERR, KEY_ALIAS_QUOTA_ERR,
// KEY_EXPIRED_ERR.
Status ValidateCreateSpec(const CreateKeySpec& spec, TimePoint now) {
  if (auto s = ValidateKeyName(spec.name); !s)
    return KmsFail(KmsReason::kBadBody, s.error().message);
  if (spec.aliases.size() > kMaxAliasesPerKey) {
    return KmsFail(KmsReason::kKeyAliasQuota, "a key has at most 5 aliases");
  }
  for (const std::string& alias : spec.aliases) {
    if (auto s = ValidateAlias(alias); !s) return KmsFail(KmsReason::kBadBody, s.error().message);
  }
  if (auto s = ValidateKeyRingId(spec.key_ring_id); !s) {
    return KmsFail(KmsReason::kBadBody, s.error().message);
  }
  if (spec.expires_at && *spec.expires_at <= now) {
    return KmsFail(KmsReason::kKeyExpired, "expirationDate is in the past");
  }
  return OkStatus();
}

// The row of a new key with its first version (ids from `random`), Active, created now.
Key NewKey(const InstanceRef& instance, const CreateKeySpec& spec, const Actor& actor,
           TimePoint now, Random& random) {
  Key key;
  key.id = NewUuidV4String(random);
  key.instance_id = instance.guid;
  key.account_id = instance.account_id;
  key.name = spec.name;
  key.description = spec.description;
  key.key_ring_id = spec.key_ring_id;
  key.extractable = spec.extractable;
  key.imported = spec.material.has_value();
  key.state = KeyState::kActive;
  key.created_by = actor.iam_id;
  key.created_at = now;
  key.updated_at = now;
  key.expires_at = spec.expires_at;
  key.aliases = spec.aliases;
  std::sort(key.aliases.begin(), key.aliases.end());
  key.current.id = NewUuidV4String(random);
  key.current.key_id = key.id;
  key.current.seq = 1;
  key.current.created_at = now;
  return key;
}

// The second approval of a dual-authorized deletion: a first Manager's approval younger than
// `window`, and another user deleting. AUTHORIZATIONS_NOT_MET otherwise.
Status CheckSecondApproval(const Key& k, const Actor& actor, TimePoint now,
                           std::chrono::hours window) {
  const bool approved =
      !k.dual_auth_set_by.empty() && k.dual_auth_set_at && now - *k.dual_auth_set_at < window;
  if (!approved) {
    return KmsFail(KmsReason::kAuthorizationsNotMet,
                   "dual authorization: another Manager must first set the key for deletion");
  }
  if (k.dual_auth_set_by == actor.iam_id) {
    return KmsFail(KmsReason::kAuthorizationsNotMet,
                   "dual authorization: the second approval must come from another user");
  }
  return OkStatus();
}

// '*' matches any run of characters.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The key size a stored blob holds (hsm/key_store.h layouts).
int64_t MaterialBits(bool extractable, size_t blob_size) {
  const int64_t n = static_cast<int64_t>(blob_size);
  return extractable ? (n - 30) * 8 : (n - 10) * 8;
}

}  // namespace

Status CheckKeyAction(const Key& key, KeyAction action) {
  if (KeyActionAllowed(action, key.state)) return OkStatus();
  return StateError(key, action);
}

KmsService::KmsService(store::Database& db, hsm::KeyStore& hsm, const Clock& clock, Random& random,
                       KmsOptions options)
    : db_(db),
      store_(db),
      hsm_(hsm),
      clock_(clock),
      random_(random),
      options_(std::move(options)) {}

KmsService::~KmsService() {
  subscription_.Cancel();
  policy_subscription_.Cancel();
}

Result<std::unique_ptr<KmsService>> KmsService::Create(store::Database& db, hsm::KeyStore& hsm,
                                                       const Clock& clock, Random& random,
                                                       KmsOptions options) {
  if (!options.hold_instance) {
    return InvalidArgument("KmsService needs KmsOptions::hold_instance (the resource controller)");
  }
  VEIL_TRY(db.Migrate("kms", KmsMigrations()));
  std::unique_ptr<KmsService> service(new KmsService(db, hsm, clock, random, std::move(options)));
  KmsService* self = service.get();
  service->subscription_ = VEIL_TRY_VALUE(
      db.Subscribe(kKeyChannel, [self](std::string_view key_id) { self->Invalidate(key_id); }));
  service->policy_subscription_ = VEIL_TRY_VALUE(db.Subscribe(
      kInstancePolicyChannel, [self](std::string_view id) { self->InvalidateInstance(id); }));
  return service;
}

void KmsService::AddListener(std::string service_iam_id, KeyEventListener* listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.emplace(std::move(service_iam_id), listener);
}

void KmsService::Invalidate(std::string_view key_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  cache_.erase(std::string(key_id));
  // Any change to any key may add, drop or move an alias: aliases are few and changes rare.
  aliases_.clear();
}

void KmsService::InvalidateInstance(std::string_view instance_id) {
  std::lock_guard lock(policies_mu_);
  ++policies_generation_;
  policies_.erase(std::string(instance_id));
}

Result<std::shared_ptr<const KmsService::CachedPolicies>> KmsService::PoliciesOf(
    const std::string& instance_id) {
  uint64_t generation;
  {
    std::lock_guard lock(policies_mu_);
    auto it = policies_.find(instance_id);
    if (it != policies_.end()) return it->second;
    generation = policies_generation_;
  }
  auto entry = std::make_shared<CachedPolicies>();
  entry->policies = VEIL_TRY_VALUE(store_.GetInstancePolicies(db_, instance_id));
  if (const InstancePolicyData* ip = FindPolicy(entry->policies, "allowedIP"); ip && ip->enabled) {
    entry->ip_filter = true;  // enabled with no valid block allows nobody
    for (const std::string& text : ip->allowed_ip) {
      if (auto block = ParseIpBlock(text); block) entry->allowed.push_back(*block);
    }
  }
  std::lock_guard lock(policies_mu_);
  if (generation == policies_generation_) {
    if (policies_.size() >= options_.key_cache_capacity) policies_.clear();
    policies_[instance_id] = entry;
  }
  return std::shared_ptr<const CachedPolicies>(std::move(entry));
}

Status KmsService::CheckAllowedIp(const InstanceRef& instance, std::string_view remote_address) {
  auto policies = VEIL_TRY_VALUE(PoliciesOf(instance.guid));
  if (!policies->ip_filter || IpAllowed(policies->allowed, remote_address)) return OkStatus();
  return tl::unexpected(Error(ErrorCode::kPermissionDenied,
                              "the instance's allowedIP policy does not allow "
                              "requests from " +
                                  std::string(remote_address)));
}

Status KmsService::HoldInstance(store::Tx& tx, std::string_view instance_id) {
  auto held = options_.hold_instance(tx, instance_id);
  if (!held && held.error().code == ErrorCode::kNotFound) {
    return KmsFail(KmsReason::kInstanceNotFound, "the KMS instance was deleted");
  }
  return held;
}

Result<std::shared_ptr<const KmsService::CachedKey>> KmsService::Load(std::string_view key_id) {
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(std::string(key_id));
    if (it != cache_.end()) return it->second;
    generation = generation_;
  }
  auto key = store_.GetKey(db_, key_id);
  if (!key) {
    if (key.error().code == ErrorCode::kNotFound) return tl::unexpected(NotFoundKey(key_id));
    return tl::unexpected(key.error());
  }
  auto entry = std::make_shared<CachedKey>();
  entry->key = std::move(*key);
  entry->versions = VEIL_TRY_VALUE(store_.ListVersions(db_, key_id));
  if (entry->versions.empty()) return DataLoss("key " + std::string(key_id) + " has no version");
  std::lock_guard lock(mu_);
  // A change committed while we read would have bumped the generation: then serve this read
  // but do not cache it.
  if (generation == generation_) {
    if (cache_.size() >= options_.key_cache_capacity) cache_.clear();
    cache_[entry->key.id] = entry;
  }
  return std::shared_ptr<const CachedKey>(std::move(entry));
}

Result<Key> KmsService::GetKey(const InstanceRef& instance, std::string_view id_or_alias) {
  std::string id(id_or_alias);
  if (!IsUuidV4(id_or_alias)) {
    // Clients name keys by alias on every wrap (the README's `veil kms wrap images`): resolve it
    // from memory; every key change (kKeyChannel) empties this map.
    std::string alias_key = instance.guid + "/" + id;
    uint64_t generation;
    std::optional<std::string> cached;
    {
      std::lock_guard lock(mu_);
      auto it = aliases_.find(alias_key);
      if (it != aliases_.end()) cached = it->second;
      generation = generation_;
    }
    if (cached) {
      id = std::move(*cached);
    } else {
      auto by_alias = store_.KeyIdOfAlias(db_, instance.guid, id_or_alias);
      if (!by_alias) {
        if (by_alias.error().code == ErrorCode::kNotFound) {
          return tl::unexpected(NotFoundKey(id_or_alias));
        }
        return tl::unexpected(by_alias.error());
      }
      id = std::move(*by_alias);
      std::lock_guard lock(mu_);
      if (generation == generation_) {
        if (aliases_.size() >= options_.key_cache_capacity) aliases_.clear();
        aliases_[std::move(alias_key)] = id;
      }
    }
  }
  auto entry = VEIL_TRY_VALUE(Load(id));
  if (entry->key.instance_id != instance.guid) return tl::unexpected(NotFoundKey(id_or_alias));
  Key key = entry->key;
  // An expired key reads as Deactivated at once; the maintenance pass stores it.
  if (key.expires_at && *key.expires_at <= clock_.Now() &&
      (key.state == KeyState::kActive || key.state == KeyState::kSuspended)) {
    key.state = KeyState::kDeactivated;
  }
  return key;
}

Result<SecretBytes> KmsService::GetPayload(const Key& key) {
  if (key.is_root()) return KmsFail(KmsReason::kKeyRootReq, "root keys have no readable payload");
  // As Key Protect: a Suspended or Deactivated key's material is not handed out either.
  VEIL_TRY(CheckKeyAction(key, KeyAction::kReadPayload));
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  return hsm_.UnsealPayload(entry->Latest().material);
}

Result<std::vector<Key>> KmsService::ListKeys(const InstanceRef& instance,
                                              const ListKeysOptions& options) {
  KeyFilter filter{options.states, options.extractable, options.key_ring_id};
  if (filter.states.empty()) {
    filter.states = {KeyState::kPreActivation, KeyState::kActive, KeyState::kSuspended,
                     KeyState::kDeactivated};
  }
  return store_.ListKeys(db_, instance.guid, filter, options.limit, options.offset);
}

Result<int64_t> KmsService::CountKeys(const InstanceRef& instance, const ListKeysOptions& options) {
  KeyFilter filter{options.states, options.extractable, options.key_ring_id};
  if (filter.states.empty()) {
    filter.states = {KeyState::kPreActivation, KeyState::kActive, KeyState::kSuspended,
                     KeyState::kDeactivated};
  }
  return store_.CountKeys(db_, instance.guid, filter);
}

// ---------------------------------------------------------------------------------------------
// Create and import

Status KmsService::CheckEnforceToken(const std::string& instance_id,
                                     const ImportedMaterial& material) {
  auto cached = VEIL_TRY_VALUE(PoliciesOf(instance_id));
  if (!EnforcesToken(cached->policies) || !material.encrypted_nonce.empty()) return OkStatus();
  return KmsFail(KmsReason::kKeyCreateImportAccess,
                 "the instance policy keyCreateImportAccess requires an import token "
                 "(enforce_token): send the material encrypted, with encryptedNonce and iv");
}

Status KmsService::CheckCreateImportAccess(const InstanceRef& instance, const CreateKeySpec& spec) {
  auto cached = VEIL_TRY_VALUE(PoliciesOf(instance.guid));
  const InstancePolicyData* access = FindPolicy(cached->policies, "keyCreateImportAccess");
  if (access == nullptr || !access->enabled) return OkStatus();
  const bool imported = spec.material.has_value();
  std::string_view attribute = spec.extractable
                                   ? (imported ? "import_standard_key" : "create_standard_key")
                                   : (imported ? "import_root_key" : "create_root_key");
  const std::optional<bool>& allowed =
      spec.extractable ? (imported ? access->import_standard_key : access->create_standard_key)
                       : (imported ? access->import_root_key : access->create_root_key);
  if (!allowed.value_or(true)) {
    return KmsFail(KmsReason::kKeyCreateImportAccess,
                   "the instance policy keyCreateImportAccess forbids " + std::string(attribute));
  }
  return imported ? CheckEnforceToken(instance.guid, *spec.material) : OkStatus();
}

Result<bool> KmsService::InstanceDualAuth(store::Tx& tx, const std::string& instance_id) {
  auto policies = VEIL_TRY_VALUE(store_.GetInstancePolicies(tx, instance_id));
  return PolicyEnabled(policies, "dualAuthDelete");
}

Result<Key> KmsService::CreateKey(const InstanceRef& instance, const CreateKeySpec& spec,
                                  const Actor& actor) {
  const TimePoint now = clock_.Now();
  VEIL_TRY(ValidateCreateSpec(spec, now));
  VEIL_TRY(CheckCreateImportAccess(instance, spec));
  // The HSM work first, outside the transaction: a crash before the commit leaves nothing.
  hsm::WrappedKey material;
  std::optional<TokenUse> use;
  if (spec.material) {
    ImportedPlain imported =
        VEIL_TRY_VALUE(MaterialFromImport(instance, *spec.material, !spec.extractable));
    material = spec.extractable ? VEIL_TRY_VALUE(hsm_.SealPayload(imported.plain))
                                : VEIL_TRY_VALUE(hsm_.WrapRootKey(imported.plain));
    imported.plain.Wipe();
    use = std::move(imported.use);
  } else if (spec.extractable) {
    SecretBytes generated = random_.Secret(32);
    material = VEIL_TRY_VALUE(hsm_.SealPayload(generated));
  } else {
    material = VEIL_TRY_VALUE(hsm_.GenerateRootKey());
  }
  Key key = NewKey(instance, spec, actor, now, random_);
  key.material_bits = MaterialBits(key.extractable, material.size());
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(HoldInstance(tx, instance.guid));
    if (use) VEIL_TRY(ConsumeImportToken(tx, instance.guid, *use));
    // A key created while the instance's dualAuthDelete policy is on carries dual authorization
    // itself, for good: turning the instance policy off later does not relax it.
    key.dual_auth_delete = VEIL_TRY_VALUE(InstanceDualAuth(tx, instance.guid));
    if (key.key_ring_id != kDefaultKeyRing &&
        !VEIL_TRY_VALUE(store_.KeyRingExists(tx, instance.guid, key.key_ring_id))) {
      return KmsFail(KmsReason::kBadBody, "key ring " + key.key_ring_id + " does not exist");
    }
    auto inserted = store_.InsertKey(tx, key, material);
    if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
      return KmsFail(KmsReason::kDuplicateAlias, "an alias is already in use in this instance");
    }
    return inserted;
  }));
  log::Info(kLog, "created " + std::string(key.is_root() ? "root" : "standard") + " key " + key.id +
                      " in instance " + instance.guid);
  return key;
}

Result<Key> KmsService::Mutate(const std::string& key_id,
                               const std::function<Status(store::Tx&, Key&)>& change) {
  return db_.WithTransaction([&](store::Tx& tx) -> Result<Key> {
    Key updated = VEIL_TRY_VALUE(store_.GetKey(tx, key_id));
    VEIL_TRY(change(tx, updated));
    if (updated.updated_at < clock_.Now()) updated.updated_at = clock_.Now();
    ++updated.revision;
    VEIL_TRY(store_.UpdateKey(tx, updated));
    VEIL_TRY(tx.Notify(kKeyChannel, key_id));
    return updated;
  });
}

Result<Key> KmsService::PatchKeyRing(const Key& key, std::string_view key_ring_id) {
  if (auto s = ValidateKeyRingId(key_ring_id); !s) {
    return KmsFail(KmsReason::kBadBody, s.error().message);
  }
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx& tx, Key& k) -> Status {
    if (key_ring_id != kDefaultKeyRing &&
        !VEIL_TRY_VALUE(store_.KeyRingExists(tx, key.instance_id, key_ring_id))) {
      return KmsFail(KmsReason::kBadBody,
                     "key ring " + std::string(key_ring_id) + " does not exist");
    }
    k.key_ring_id = std::string(key_ring_id);
    return OkStatus();
  }));
  return updated;
}

// ---------------------------------------------------------------------------------------------
// Wrap, unwrap, rewrap

Result<std::string> KmsService::Seal(const CachedKey& entry, const std::string& version_id,
                                     std::span<const uint8_t> plaintext,
                                     const std::vector<std::string>& aad) {
  const StoredVersion* version = entry.Find(version_id);
  VEIL_CHECK(version != nullptr);
  Wdek wdek;
  wdek.iv = random_.Bytes(kWdekIvSize);
  wdek.handle = version_id;
  wdek.sealed = VEIL_TRY_VALUE(
      hsm_.Encrypt(version_id, version->material, wdek.iv, WdekAad(version_id, aad), plaintext));
  return FormatWdek(wdek);
}

Result<WrapResult> KmsService::Wrap(const Key& key, std::optional<SecretBytes> plaintext,
                                    const std::vector<std::string>& aad) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kWrap));
  if (!key.is_root()) return KmsFail(KmsReason::kKeyRootReq, "only root keys wrap");
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  WrapResult result;
  if (!plaintext) {
    result.generated = random_.Secret(32);
  } else if (plaintext->empty() || plaintext->size() > kMaxWrapPlaintext) {
    return KmsFail(KmsReason::kBadBody, "plaintext has 1 to 7,500 bytes");
  }
  const SecretBytes& dek = plaintext ? *plaintext : *result.generated;
  result.key_version_id = entry->Latest().version.id;
  result.ciphertext = VEIL_TRY_VALUE(Seal(*entry, result.key_version_id, dek.Reveal(), aad));
  return result;
}

Result<UnwrapResult> KmsService::Unwrap(const Key& key, std::string_view ciphertext,
                                        const std::vector<std::string>& aad) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kUnwrap));
  if (!key.is_root()) return KmsFail(KmsReason::kKeyRootReq, "only root keys unwrap");
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  auto wdek = ParseWdek(ciphertext);
  if (!wdek) return KmsFail(KmsReason::kUnprocessableCiphertext, wdek.error().message);
  const StoredVersion* version = entry->Find(wdek->handle);
  if (version == nullptr) {
    return KmsFail(KmsReason::kUnprocessableCiphertext,
                   "the ciphertext was not made by a version of this key");
  }
  auto plain = hsm_.Decrypt(wdek->handle, version->material, wdek->iv, WdekAad(wdek->handle, aad),
                            wdek->sealed);
  if (!plain) {
    if (plain.error().code == ErrorCode::kDataLoss ||
        plain.error().code == ErrorCode::kInvalidArgument) {
      return KmsFail(KmsReason::kUnprocessableCiphertext,
                     "the ciphertext does not verify with this key and aad");
    }
    return tl::unexpected(plain.error());
  }
  UnwrapResult result;
  result.plaintext = std::move(*plain);
  result.key_version_id = wdek->handle;
  const std::string& latest = entry->Latest().version.id;
  if (latest != wdek->handle) {
    result.rewrapped = VEIL_TRY_VALUE(Seal(*entry, latest, result.plaintext.Reveal(), aad));
    result.rewrapped_version_id = latest;
  }
  return result;
}

Result<RewrapResult> KmsService::Rewrap(const Key& key, std::string_view ciphertext,
                                        const std::vector<std::string>& aad) {
  UnwrapResult unwrapped = VEIL_TRY_VALUE(Unwrap(key, ciphertext, aad));
  RewrapResult result;
  result.rewrapped_from_version_id = unwrapped.key_version_id;
  if (unwrapped.rewrapped) {
    result.ciphertext = std::move(*unwrapped.rewrapped);
    result.key_version_id = unwrapped.rewrapped_version_id;
  } else {
    auto entry = VEIL_TRY_VALUE(Load(key.id));
    result.key_version_id = entry->Latest().version.id;
    result.ciphertext =
        VEIL_TRY_VALUE(Seal(*entry, result.key_version_id, unwrapped.plaintext.Reveal(), aad));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

Result<Key> KmsService::RotateWith(const Key& key, hsm::WrappedKey wrapped,
                                   std::optional<TokenUse> use) {
  std::string old_version;
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx& tx, Key& k) -> Status {
    VEIL_TRY(CheckKeyAction(k, KeyAction::kRotate));
    if (use) VEIL_TRY(ConsumeImportToken(tx, k.instance_id, *use));
    old_version = k.current.id;
    KeyVersion version;
    version.id = NewUuidV4String(random_);
    version.key_id = key.id;
    version.seq = k.current.seq + 1;
    version.created_at = clock_.Now();
    VEIL_TRY(store_.InsertVersion(tx, version, wrapped));
    k.current = version;
    k.material_bits = MaterialBits(false, wrapped.size());
    k.rotated_at = version.created_at;
    return OkStatus();
  }));
  log::Info(kLog, "rotated key " + key.id + " to version " + std::to_string(updated.current.seq));
  Notify(updated, "rotate", old_version);
  return updated;
}

Result<Key> KmsService::Rotate(const Key& key, std::optional<ImportedMaterial> material) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kRotate));
  if (!key.is_root()) return KmsFail(KmsReason::kKeyRootReq, "only root keys rotate");
  if (!key.imported) {
    if (material && !material->payload.empty()) {
      return KmsFail(KmsReason::kBadBody, "a generated key rotates without a payload");
    }
    return RotateWith(key, VEIL_TRY_VALUE(hsm_.GenerateRootKey()), std::nullopt);
  }
  if (!material || material->payload.empty()) {
    return KmsFail(KmsReason::kKeyPayloadReq, "rotating an imported key needs a new payload");
  }
  VEIL_TRY(CheckEnforceToken(key.instance_id, *material));
  InstanceRef instance{key.instance_id, key.account_id, ""};
  ImportedPlain imported = VEIL_TRY_VALUE(MaterialFromImport(instance, *material, true));
  hsm::WrappedKey wrapped = VEIL_TRY_VALUE(hsm_.WrapRootKey(imported.plain));
  imported.plain.Wipe();
  return RotateWith(key, std::move(wrapped), std::move(imported.use));
}

Result<Key> KmsService::Transition(const Key& key, KeyAction action, KeyState to,
                                   std::string_view event_type) {
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx&, Key& k) -> Status {
    VEIL_TRY(CheckKeyAction(k, action));
    k.state = to;
    return OkStatus();
  }));
  log::Info(kLog, "key " + key.id + " is now " + std::string(KeyStateName(to)));
  if (!event_type.empty()) Notify(updated, event_type);
  return updated;
}

Result<Key> KmsService::Disable(const Key& key) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kDisable));
  return Transition(key, KeyAction::kDisable, KeyState::kSuspended, "disable");
}

Result<Key> KmsService::Enable(const Key& key) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kEnable));
  return Transition(key, KeyAction::kEnable, KeyState::kActive, "enable");
}

Result<bool> KmsService::DualAuthRequired(const Key& key) {
  if (key.dual_auth_delete) return true;
  auto cached = VEIL_TRY_VALUE(PoliciesOf(key.instance_id));
  return PolicyEnabled(cached->policies, "dualAuthDelete");
}

Result<Key> KmsService::SetKeyForDeletion(const Key& key, const Actor& actor) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kDelete));
  if (!VEIL_TRY_VALUE(DualAuthRequired(key))) {
    return KmsFail(KmsReason::kNotDualAuth, "the key has no dual authorization policy");
  }
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx&, Key& k) -> Status {
    VEIL_TRY(CheckKeyAction(k, KeyAction::kDelete));
    k.dual_auth_set_by = actor.iam_id;
    k.dual_auth_set_at = clock_.Now();
    k.updated_at = *k.dual_auth_set_at;
    return OkStatus();
  }));
  return updated;
}

Result<Key> KmsService::UnsetKeyForDeletion(const Key& key) {
  if (!VEIL_TRY_VALUE(DualAuthRequired(key))) {
    return KmsFail(KmsReason::kNotDualAuth, "the key has no dual authorization policy");
  }
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx&, Key& k) -> Status {
    k.dual_auth_set_by.clear();
    k.dual_auth_set_at.reset();
    return OkStatus();
  }));
  return updated;
}

Result<Key> KmsService::Delete(const Key& key, bool force, const Actor& actor) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kDelete));
  const TimePoint now = clock_.Now();
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx& tx, Key& k) -> Status {
    VEIL_TRY(CheckKeyAction(k, KeyAction::kDelete));
    auto registrations = VEIL_TRY_VALUE(store_.ListRegistrations(tx, key.id));
    for (const Registration& r : registrations) {
      if (r.prevent_key_deletion) {
        return KmsFail(
            KmsReason::kPrevKeyDel,
            "a registration with preventKeyDeletion protects the key: " + r.resource_crn);
      }
    }
    if (!registrations.empty() && !force) {
      return KmsFail(KmsReason::kProtectedResource,
                     "the key protects " + std::to_string(registrations.size()) +
                         " registered resource(s): delete them first or use force=true");
    }
    // Decided on the row and the policies as this transaction reads them, not on the caller's
    // copy of the key, which may predate the policy.
    if (k.dual_auth_delete || VEIL_TRY_VALUE(InstanceDualAuth(tx, k.instance_id))) {
      VEIL_TRY(CheckSecondApproval(k, actor, now, options_.dual_auth_window));
    }
    k.state = KeyState::kDestroyed;
    k.deleted_by = actor.iam_id;
    k.deleted_at = now;
    k.dual_auth_set_by.clear();
    k.dual_auth_set_at.reset();
    k.updated_at = now;
    return OkStatus();
  }));
  log::Info(kLog, "deleted key " + key.id);
  Notify(updated, "delete");
  return updated;
}

Result<std::optional<KmsService::TokenUse>> KmsService::CheckRestoredMaterial(
    const Key& key, const ImportedMaterial& material) {
  InstanceRef instance{key.instance_id, key.account_id, ""};
  ImportedPlain imported = VEIL_TRY_VALUE(MaterialFromImport(instance, material, key.is_root()));
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  bool same = false;
  if (key.is_root()) {
    // AES-KWP is deterministic: the same material under the same master key wraps to the same
    // blob, so the payload proves itself without unwrapping anything.
    hsm::WrappedKey wrapped = VEIL_TRY_VALUE(hsm_.WrapRootKey(imported.plain));
    same = crypto::ConstantTimeEquals(wrapped, entry->Latest().material);
  } else {
    // A sealed payload is randomized (AES-GCM): compare with the unsealed one, in constant time.
    SecretBytes stored = VEIL_TRY_VALUE(hsm_.UnsealPayload(entry->Latest().material));
    same = stored.Equals(imported.plain);
  }
  imported.plain.Wipe();
  if (!same) return KmsFail(KmsReason::kBadBody, "the payload is not the key's material");
  return imported.use;
}

Result<Key> KmsService::Restore(const Key& key, std::optional<ImportedMaterial> material) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kRestore));
  const TimePoint now = clock_.Now();
  if (!key.deleted_at || now - *key.deleted_at > options_.restore_window) {
    return KmsFail(KmsReason::kKeyRestoreExpired, "a key can be restored only within 30 days");
  }
  if (now - *key.deleted_at < options_.restore_min_delay) {
    return KmsFail(KmsReason::kReqTooEarly, "wait 30 seconds after deletion before restoring");
  }
  std::optional<TokenUse> use;
  if (key.imported && material && !material->payload.empty()) {
    VEIL_TRY(CheckEnforceToken(key.instance_id, *material));
    use = VEIL_TRY_VALUE(CheckRestoredMaterial(key, *material));
  }
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx& tx, Key& k) -> Status {
    VEIL_TRY(CheckKeyAction(k, KeyAction::kRestore));
    if (use) VEIL_TRY(ConsumeImportToken(tx, k.instance_id, *use));
    k.state = KeyState::kActive;
    return OkStatus();
  }));
  log::Info(kLog, "key " + key.id + " is restored");
  Notify(updated, "restore");
  return updated;
}

Status KmsService::Purge(const Key& key) {
  VEIL_TRY(CheckKeyAction(key, KeyAction::kPurge).or_else([&](const Error&) -> Status {
    return KmsFail(KmsReason::kKeyActionInvalidState, "only a deleted key can be purged");
  }));
  if (!key.deleted_at || clock_.Now() - *key.deleted_at < options_.purge_delay) {
    return KmsFail(KmsReason::kReqTooEarly, "a key can be purged 4 hours after its deletion");
  }
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(store_.DeleteKey(tx, key.id));
    return tx.Notify(kKeyChannel, key.id);
  }));
  for (const StoredVersion& v : entry->versions) hsm_.Forget(v.version.id);
  log::Info(kLog, "purged key " + key.id);
  return OkStatus();
}

Result<std::vector<KeyVersion>> KmsService::ListVersions(const Key& key) {
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  std::vector<KeyVersion> out;
  for (auto it = entry->versions.rbegin(); it != entry->versions.rend(); ++it) {
    out.push_back(it->version);
  }
  return out;
}

Status KmsService::Sync(const Key& key) {
  std::string_view type = key.state == KeyState::kActive      ? "enable"
                          : key.state == KeyState::kDestroyed ? "delete"
                                                              : "disable";
  Notify(key, type);
  return OkStatus();
}

void KmsService::Notify(const Key& key, std::string_view type, std::string_view old_version) {
  std::vector<std::pair<std::string, KeyEventListener*>> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    if (listeners_.empty()) return;
    listeners.assign(listeners_.begin(), listeners_.end());
  }
  auto registrations = store_.ListRegistrations(db_, key.id);
  if (!registrations) {
    log::Warn(kLog, "cannot tell registered services of key " + key.id + ": " +
                        registrations.error().message);
    return;
  }
  for (const auto& [service, listener] : listeners) {
    KeyEvent event;
    event.event_id = NewUuidV4String(random_);
    event.type = std::string(type);
    event.key_id = key.id;
    event.key_crn = key.crn(options_.region);
    event.state = key.state;
    event.new_key_version_id = key.current.id;
    event.old_key_version_id = std::string(old_version);
    event.time = clock_.Now();
    for (const Registration& r : *registrations) {
      if (r.created_by == service) event.registrations.push_back(r);
    }
    if (event.registrations.empty()) continue;
    if (auto s = listener->OnKeyEvent(event); !s) {
      log::Warn(kLog, "registered service " + service + " refused the " + event.type +
                          " event of key " + key.id + ": " + s.error().message);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Aliases and key rings

Result<Key> KmsService::CreateAlias(const Key& key, std::string_view alias) {
  if (auto s = ValidateAlias(alias); !s) return KmsFail(KmsReason::kBadBody, s.error().message);
  if (key.state == KeyState::kDestroyed) return StateError(key, KeyAction::kGet);
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx& tx, Key& k) -> Status {
    if (std::find(k.aliases.begin(), k.aliases.end(), alias) != k.aliases.end()) {
      return OkStatus();  // idempotent
    }
    if (k.aliases.size() >= kMaxAliasesPerKey) {
      return KmsFail(KmsReason::kKeyAliasQuota, "a key has at most 5 aliases");
    }
    auto inserted = store_.InsertAlias(tx, key.instance_id, alias, key.id, clock_.Now());
    if (!inserted) {
      if (inserted.error().code == ErrorCode::kAlreadyExists) {
        return KmsFail(KmsReason::kDuplicateAlias,
                       "the alias " + std::string(alias) + " names another key");
      }
      return inserted;
    }
    k.aliases.push_back(std::string(alias));
    std::sort(k.aliases.begin(), k.aliases.end());
    return OkStatus();
  }));
  return updated;
}

Status KmsService::DeleteAlias(const Key& key, std::string_view alias) {
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    Key updated = VEIL_TRY_VALUE(store_.GetKey(tx, key.id));
    if (std::find(updated.aliases.begin(), updated.aliases.end(), alias) == updated.aliases.end()) {
      return KmsFail(KmsReason::kNotFound, "the key has no alias " + std::string(alias));
    }
    VEIL_TRY(store_.DeleteAlias(tx, key.instance_id, alias));
    updated.updated_at = clock_.Now();
    ++updated.revision;
    VEIL_TRY(store_.UpdateKey(tx, updated));
    return tx.Notify(kKeyChannel, key.id);
  });
}

Result<KeyRing> KmsService::CreateKeyRing(const InstanceRef& instance, std::string_view id,
                                          const Actor& actor) {
  if (auto s = ValidateKeyRingId(id); !s) return KmsFail(KmsReason::kBadBody, s.error().message);
  if (id == kDefaultKeyRing) return KmsFail(KmsReason::kConflict, "the key ring default exists");
  KeyRing ring{std::string(id), instance.guid, actor.iam_id, clock_.Now()};
  auto s = db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(HoldInstance(tx, instance.guid));
    return store_.InsertKeyRing(tx, ring);
  });
  if (!s) {
    if (s.error().code == ErrorCode::kAlreadyExists) {
      return KmsFail(KmsReason::kConflict, "the key ring " + std::string(id) + " exists");
    }
    return tl::unexpected(s.error());
  }
  return ring;
}

Result<std::vector<KeyRing>> KmsService::ListKeyRings(const InstanceRef& instance) {
  std::vector<KeyRing> rings = VEIL_TRY_VALUE(store_.ListKeyRings(db_, instance.guid));
  KeyRing def{std::string(kDefaultKeyRing), instance.guid, "", TimePoint{}};
  rings.insert(rings.begin(), def);
  return rings;
}

Status KmsService::DeleteKeyRing(const InstanceRef& instance, std::string_view id, bool force) {
  if (id == kDefaultKeyRing) return KmsFail(KmsReason::kBadReq, "the key ring default stays");
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    if (!VEIL_TRY_VALUE(store_.KeyRingExists(tx, instance.guid, id))) {
      return KmsFail(KmsReason::kNotFound, "key ring " + std::string(id) + " does not exist");
    }
    auto [all, live] = VEIL_TRY_VALUE(store_.CountKeysInRing(tx, instance.guid, id));
    if (live > 0 || (all > 0 && !force)) {
      return KmsFail(KmsReason::kKeyRingNotEmpty,
                     "the key ring holds keys" +
                         std::string(live > 0 ? "" : " (deleted ones: use force=true)"));
    }
    VEIL_TRY(store_.MoveKeysToRing(tx, instance.guid, id, kDefaultKeyRing));
    return store_.DeleteKeyRing(tx, instance.guid, id);
  });
}

// ---------------------------------------------------------------------------------------------
// Policies

Result<Key> KmsService::SetRotationPolicy(const Key& key, bool enabled, int interval_month) {
  if (!key.is_root())
    return KmsFail(KmsReason::kKeyRootReq, "only root keys have rotation policies");
  if (enabled && key.imported) {
    return KmsFail(KmsReason::kKeyRotationNotPermitted,
                   "an imported key rotates only with new material: no automatic rotation");
  }
  if ((enabled || interval_month != 0) && (interval_month < 1 || interval_month > 12)) {
    return KmsFail(KmsReason::kBadBody, "interval_month is 1 to 12");
  }
  if (key.state == KeyState::kDestroyed) return StateError(key, KeyAction::kGet);
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx&, Key& k) -> Status {
    k.rotation_enabled = enabled;
    k.rotation_interval_month = interval_month;
    return OkStatus();
  }));
  return updated;
}

Result<Key> KmsService::SetDualAuthPolicy(const Key& key, bool enabled) {
  if (key.state == KeyState::kDestroyed) return StateError(key, KeyAction::kGet);
  Key updated = VEIL_TRY_VALUE(Mutate(key.id, [&](store::Tx&, Key& k) -> Status {
    // Otherwise one Manager could turn dual authorization off and then delete alone.
    if (k.dual_auth_delete && !enabled) {
      return KmsFail(KmsReason::kBadBody,
                     "dualAuthDelete cannot be disabled once enabled: the key keeps dual "
                     "authorization until it is deleted");
    }
    k.dual_auth_delete = enabled;
    return OkStatus();
  }));
  return updated;
}

Result<std::vector<InstancePolicy>> KmsService::GetInstancePolicies(const InstanceRef& instance) {
  return store_.GetInstancePolicies(db_, instance.guid);
}

Result<bool> KmsService::CheckPolicyWriteOrigin(const InstanceRef& instance,
                                                const std::vector<InstancePolicyUpdate>& updates,
                                                const InstancePolicyWriteOptions& options) {
  const std::string& address = options.remote_address;
  if (address.empty()) return false;  // in process: not a network caller
  auto policies = VEIL_TRY_VALUE(PoliciesOf(instance.guid));
  if (!policies->ip_filter || IpAllowed(policies->allowed, address)) return false;
  // From outside the allow-list only the way back in: replacing allowedIP itself, confirmed.
  const bool only_allowed_ip = updates.size() == 1 && updates[0].type == "allowedIP";
  if (!only_allowed_ip || !options.confirm_outside_allowed_ip) {
    return tl::unexpected(Error(
        ErrorCode::kPermissionDenied,
        "the instance's allowedIP policy does not allow requests from " + address +
            (only_allowed_ip ? "; to replace the allowedIP policy from this address, confirm with "
                               "confirmOutsideAllowedIP=true"
                             : "")));
  }
  return true;
}

Result<InstancePolicyWrite> KmsService::PutInstancePolicies(
    const InstanceRef& instance, std::vector<InstancePolicyUpdate> updates, const Actor& actor,
    InstancePolicyWriteOptions options) {
  InstancePolicyWrite write;
  write.outside_allowed_ip = VEIL_TRY_VALUE(CheckPolicyWriteOrigin(instance, updates, options));
  const TimePoint now = clock_.Now();
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(HoldInstance(tx, instance.guid));
    for (const InstancePolicyUpdate& u : updates) {
      VEIL_TRY(store_.PutInstancePolicy(tx, instance.guid,
                                        InstancePolicy{u.type, u.data, actor.iam_id, now}));
    }
    return tx.Notify(kInstancePolicyChannel, instance.guid);
  }));
  if (write.outside_allowed_ip) {
    log::Warn(kLog, "allowedIP policy of instance " + instance.guid + " replaced by " +
                        actor.iam_id + " from outside its allow-list (" + options.remote_address +
                        ", confirmed)");
  }
  return write;
}

Status KmsService::PutInstancePolicy(const InstanceRef& instance, std::string_view type,
                                     std::string_view data_json, const Actor& actor) {
  if (!IsInstancePolicyType(type)) {
    return KmsFail(KmsReason::kBadBody, "unknown policy_type " + std::string(type));
  }
  InstancePolicyData data = VEIL_TRY_VALUE(ParseInstancePolicyData(type, data_json));
  std::vector<InstancePolicyUpdate> updates{{std::string(type), std::move(data)}};
  return PutInstancePolicies(instance, std::move(updates), actor).map([](InstancePolicyWrite) {});
}

// ---------------------------------------------------------------------------------------------
// Registrations

Result<Registration> KmsService::CreateRegistration(const Key& key, std::string_view crn,
                                                    std::string description,
                                                    bool prevent_key_deletion,
                                                    std::string key_version_id,
                                                    const Actor& actor) {
  if (!actor.is_service) {
    return KmsFail(KmsReason::kServiceOnly, "only a service can register its resources");
  }
  if (!key.is_root()) {
    return KmsFail(KmsReason::kKeyRootReqReg, "resources register only against root keys");
  }
  if (key.state == KeyState::kDestroyed) return StateError(key, KeyAction::kGet);
  if (!Crn::Parse(crn)) return KmsFail(KmsReason::kBadBody, "the resource CRN is malformed");
  auto entry = VEIL_TRY_VALUE(Load(key.id));
  const StoredVersion* version =
      key_version_id.empty() ? &entry->Latest() : entry->Find(key_version_id);
  if (version == nullptr) {
    return KmsFail(KmsReason::kKeyVersionInvalid, "keyVersionId is not a version of this key");
  }
  const TimePoint now = clock_.Now();
  Registration r;
  r.key_id = key.id;
  r.resource_crn = std::string(crn);
  r.instance_id = key.instance_id;
  r.created_by = actor.iam_id;
  r.created_at = now;
  r.updated_by = actor.iam_id;
  r.updated_at = now;
  r.description = std::move(description);
  r.prevent_key_deletion = prevent_key_deletion;
  r.key_version_id = version->version.id;
  r.key_version_created_at = version->version.created_at;
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    auto existing = store_.GetRegistration(tx, key.id, crn);
    if (existing) return KmsFail(KmsReason::kConflict, "the resource is already registered");
    if (existing.error().code != ErrorCode::kNotFound) return tl::unexpected(existing.error());
    return store_.UpsertRegistration(tx, r);
  }));
  return r;
}

Result<Registration> KmsService::UpdateRegistration(const Key& key, std::string_view crn,
                                                    std::optional<std::string> description,
                                                    std::optional<bool> prevent_key_deletion,
                                                    std::optional<std::string> key_version_id,
                                                    const Actor& actor) {
  if (!actor.is_service) {
    return KmsFail(KmsReason::kServiceOnly, "only a service can update its registrations");
  }
  std::shared_ptr<const CachedKey> entry = VEIL_TRY_VALUE(Load(key.id));
  Registration r;
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    auto existing = store_.GetRegistration(tx, key.id, crn);
    if (!existing) {
      if (existing.error().code == ErrorCode::kNotFound) {
        return KmsFail(KmsReason::kNotFound, "the resource is not registered with this key");
      }
      return tl::unexpected(existing.error());
    }
    r = std::move(*existing);
    // A service changes only its own registrations: another's (a retention registration with
    // preventKeyDeletion, say) is not its to relax.
    if (r.created_by != actor.iam_id) {
      return KmsFail(KmsReason::kResourceOwner, "the registration belongs to another service");
    }
    if (description) r.description = *description;
    if (prevent_key_deletion) r.prevent_key_deletion = *prevent_key_deletion;
    if (key_version_id) {
      const StoredVersion* v = entry->Find(*key_version_id);
      if (v == nullptr) {
        return KmsFail(KmsReason::kKeyVersionInvalid, "keyVersionId is not a version of this key");
      }
      r.key_version_id = v->version.id;
      r.key_version_created_at = v->version.created_at;
    }
    r.updated_by = actor.iam_id;
    r.updated_at = clock_.Now();
    return store_.UpsertRegistration(tx, r);
  }));
  return r;
}

Status KmsService::DeleteRegistration(const Key& key, std::string_view crn, const Actor& actor) {
  if (!actor.is_service) {
    return KmsFail(KmsReason::kServiceOnly, "only a service can delete its registrations");
  }
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    auto existing = store_.GetRegistration(tx, key.id, crn);
    if (!existing) {
      if (existing.error().code == ErrorCode::kNotFound) {
        return KmsFail(KmsReason::kNotFound, "the resource is not registered with this key");
      }
      return tl::unexpected(existing.error());
    }
    // As for updates: a service removes only its own registrations.
    if (existing->created_by != actor.iam_id) {
      return KmsFail(KmsReason::kResourceOwner, "the registration belongs to another service");
    }
    return store_.DeleteRegistration(tx, key.id, crn);
  });
}

Result<std::vector<Registration>> KmsService::ListRegistrations(const Key& key) {
  return store_.ListRegistrations(db_, key.id);
}

Result<std::vector<Registration>> KmsService::QueryRegistrations(
    const InstanceRef& instance, std::string_view crn_query,
    std::optional<bool> prevent_key_deletion, int64_t limit, int64_t offset) {
  auto all = VEIL_TRY_VALUE(store_.ListInstanceRegistrations(db_, instance.guid));
  std::vector<Registration> matched;
  for (Registration& r : all) {
    if (!crn_query.empty() && !GlobMatch(crn_query, r.resource_crn)) continue;
    if (prevent_key_deletion && r.prevent_key_deletion != *prevent_key_deletion) continue;
    matched.push_back(std::move(r));
  }
  std::vector<Registration> page;
  for (int64_t i = offset; i < static_cast<int64_t>(matched.size()) && i < offset + limit; ++i) {
    page.push_back(std::move(matched[static_cast<size_t>(i)]));
  }
  return page;
}

// ---------------------------------------------------------------------------------------------
// Maintenance

Result<int> KmsService::RunMaintenance() {
  const TimePoint now = clock_.Now();
  auto candidates = VEIL_TRY_VALUE(store_.ListMaintenanceCandidates(db_));
  auto instance_policies = [&](const std::string& instance) {
    auto p = store_.GetInstancePolicies(db_, instance);
    return p ? *p : std::vector<InstancePolicy>{};
  };
  int changed = 0;
  for (const Key& key : candidates) {
    if (key.state == KeyState::kDestroyed) {
      if (key.deleted_at && now - *key.deleted_at >= options_.auto_purge_after) {
        if (Purge(key)) ++changed;
      }
      continue;
    }
    if (key.expires_at && *key.expires_at <= now &&
        (key.state == KeyState::kActive || key.state == KeyState::kSuspended)) {
      KeyAction action = key.state == KeyState::kActive ? KeyAction::kDisable : KeyAction::kEnable;
      if (Transition(key, action, KeyState::kDeactivated, "disable")) ++changed;
      continue;
    }
    if (key.dual_auth_set_at && now - *key.dual_auth_set_at >= options_.dual_auth_window) {
      if (UnsetKeyForDeletion(key)) ++changed;
    }
    if (key.state != KeyState::kActive || !key.is_root() || key.imported) continue;
    bool enabled = key.rotation_enabled;
    int interval = key.rotation_interval_month;
    if (!enabled) {
      const InstancePolicyData* rotation =
          FindPolicy(instance_policies(key.instance_id), "rotation");
      enabled = rotation != nullptr && rotation->enabled;
      if (enabled) interval = rotation->interval_month.value_or(0);
    }
    if (!enabled || interval < 1) continue;
    TimePoint last = key.rotated_at.value_or(key.created_at);
    if (AddMonths(last, interval) > now) continue;
    if (auto r = Rotate(key, std::nullopt); r) {
      ++changed;
    } else {
      log::Warn(kLog, "scheduled rotation of key " + key.id + " failed: " + r.error().message);
    }
  }
  return changed;
}

}  // namespace veil::kms
