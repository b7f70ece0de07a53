#include "iam/iam_service.h"

#include <array>
#include <charconv>

#include "common/encoding.h"
#include "common/uuid.h"
#include "iam/api_key.h"
#include "iam/authorizer.h"
#include "iam/token_verifier.h"

namespace veil::iam {
namespace {

constexpr size_t kMaxName = 100;
constexpr std::string_view kFirstAccountMarker = "first_account";
constexpr size_t kMaxDescription = 1000;

constexpr std::array<std::string_view, 9> kKnownServices = {
    "iam-identity", "iam-am",         "resource-controller", "kms",       "cloud-object-storage",
    "is",           "server-protect", "hs-crypto",           "enterprise"};
constexpr std::array<std::string_view, 2> kInstanceServices = {"kms", "cloud-object-storage"};

bool HasControl(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

Status ValidateDescription(std::string_view description) {
  if (description.size() > kMaxDescription || HasControl(description)) {
    return InvalidArgument(
        "description must be at most 1000 characters without control "
        "characters");
  }
  return OkStatus();
}

Status CheckEntityTag(std::string_view if_match, int64_t version) {
  if (if_match.empty() || if_match == "*") return OkStatus();
  if (if_match != std::to_string(version)) {
    return FailedPrecondition("If-Match does not match the current entity_tag");
  }
  return OkStatus();
}

std::string Payload(std::string_view kind, std::string_view id) {
  return std::string(kind) + " " + std::string(id);
}

}  // namespace

Status ValidateName(std::string_view field, std::string_view name) {
  if (name.empty() || name.size() > kMaxName || HasControl(name)) {
    return InvalidArgument(std::string(field) +
                           " must be 1-100 characters without control "
                           "characters");
  }
  return OkStatus();
}

bool IsKnownServiceName(std::string_view name) {
  for (std::string_view s : kKnownServices) {
    if (s == name) return true;
  }
  return false;
}

Result<std::pair<int64_t, int64_t>> ResolvePage(const PageRequest& page) {
  if (page.size < 1 || page.size > 100) return InvalidArgument("pagesize must be 1-100");
  int64_t offset = 0;
  if (!page.token.empty()) {
    auto [ptr, ec] =
        std::from_chars(page.token.data(), page.token.data() + page.token.size(), offset);
    if (ec != std::errc() || ptr != page.token.data() + page.token.size() || offset < 0 ||
        offset > 1000000000) {
      return InvalidArgument("pagetoken is not valid");
    }
  }
  return std::make_pair(offset, page.size);
}

IamService::IamService(store::Database& db, const Clock& clock, Random& random,
                       IamServiceOptions options)
    : db_(db),
      store_(db),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      keys_(db),
      hmac_cache_(options_.hmac_cache) {}

Result<std::unique_ptr<IamService>> IamService::Create(store::Database& db, const Clock& clock,
                                                       Random& random, IamServiceOptions options) {
  VEIL_TRY(db.Migrate("iam", IamMigrations()));
  std::unique_ptr<IamService> s(new IamService(db, clock, random, std::move(options)));
  HmacCredentialCache* cache = &s->hmac_cache_;
  s->revocations_ = VEIL_TRY_VALUE(db.Subscribe(
      kRevocationChannel, [cache](std::string_view payload) { cache->Revoke(payload); }));
  return s;
}

Result<Account> IamService::CreateAccount(std::string_view name) {
  VEIL_TRY(ValidateName("name", name));
  Account a;
  a.id = HexEncode(random_.Bytes(16));
  a.name = std::string(name);
  a.active = true;
  a.created_at = clock_.Now();
  VEIL_TRY(store_.InsertAccount(db_, a));
  return a;
}

Result<Account> IamService::GetAccount(std::string_view id) {
  if (!IsAccountId(id)) return NotFound("account not found");
  return store_.GetAccount(id);
}

Status IamService::SetAccountActive(std::string_view id, bool active) {
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(store_.SetAccountActive(tx, id, active));
    if (!active) VEIL_TRY(tx.Notify(kRevocationChannel, Payload("account", id)));
    return OkStatus();
  });
}

Result<Identity> IamService::CreateUser(std::string_view account_id, std::string_view name,
                                        std::string_view email, std::string_view created_by) {
  VEIL_TRY(ValidateName("name", name));
  if (email.size() > 254 || HasControl(email)) return InvalidArgument("email is not valid");
  VEIL_TRY(GetAccount(account_id));
  Identity u;
  u.kind = IdentityKind::kUser;
  u.iam_id = std::string(kUserPrefix) + NewUuidV4String(random_);
  u.id = u.iam_id;
  u.account_id = std::string(account_id);
  u.name = std::string(name);
  u.email = std::string(email);
  u.created_at = u.modified_at = clock_.Now();
  u.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertIdentity(db_, u));
  return u;
}

Status IamService::ValidateAccountSpec(const AccountSpec& spec) {
  VEIL_TRY(ValidateName("name", spec.name));
  VEIL_TRY(ValidateName("owner_name", spec.owner_name));
  if (spec.owner_email.size() > 254 || HasControl(spec.owner_email)) {
    return InvalidArgument("owner_email is not valid");
  }
  return OkStatus();
}

// One transaction's work for a new account: the account, its first administrator (a user), the
// administrator's policy (Administrator and Manager on every resource of the account) and an API
// key for the administrator.
Result<IamService::CreatedAccount> IamService::InsertAccountWithAdmin(store::Tx& tx,
                                                                      const AccountSpec& spec,
                                                                      std::string_view created_by) {
  const TimePoint now = clock_.Now();
  CreatedAccount out;
  Identity& admin = out.admin;
  admin.kind = IdentityKind::kUser;
  admin.iam_id = std::string(kUserPrefix) + NewUuidV4String(random_);
  admin.id = admin.iam_id;
  Account& account = out.account;
  account.id = HexEncode(random_.Bytes(16));
  account.name = spec.name;
  account.created_at = now;
  account.owner_iam_id = admin.iam_id;
  account.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertAccount(tx, account));

  admin.account_id = account.id;
  admin.name = spec.owner_name;
  admin.email = spec.owner_email;
  admin.description = "the account's first administrator";
  admin.created_at = admin.modified_at = now;
  admin.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertIdentity(tx, admin));

  Policy policy;
  policy.type = PolicyType::kAccess;
  policy.id = NewUuidV4String(random_);
  policy.account_id = account.id;
  policy.subject = {{"iam_id", admin.iam_id}};
  Role administrator = VEIL_TRY_VALUE(Role::FromName("Administrator", ""));
  Role manager = VEIL_TRY_VALUE(Role::FromName("Manager", ""));
  policy.roles = {std::move(administrator), std::move(manager)};
  policy.resource = {{"accountId", account.id}};
  policy.description = "the account's first administrator: every resource of the account";
  policy.created_at = policy.modified_at = now;
  policy.created_by = policy.modified_by = std::string(created_by);
  VEIL_TRY(store_.InsertPolicy(tx, policy));

  GeneratedApiKey generated = GenerateApiKey(random_);
  std::vector<uint8_t> salt = random_.Bytes(kApiKeySaltSize);
  const ApiKeyHash hash = HashApiKeySecret(salt, generated.secret.Reveal());
  ApiKey& key = out.key;
  key.id = generated.id;
  key.iam_id = admin.iam_id;
  key.account_id = account.id;
  key.name = spec.apikey_name;
  key.description = "the first administrator's key, shown once when the account was created";
  key.created_at = key.modified_at = now;
  key.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertApiKey(tx, key, salt, hash));
  VEIL_TRY(tx.Notify(kPolicyChannel, account.id));
  out.apikey = std::move(generated.value);
  return out;
}

Result<IamService::CreatedAccount> IamService::CreateAccountWithAdmin(const AccountSpec& spec,
                                                                      std::string_view created_by) {
  VEIL_TRY(ValidateAccountSpec(spec));
  return db_.WithTransaction([&](store::Tx& tx) -> Result<CreatedAccount> {
    return InsertAccountWithAdmin(tx, spec, created_by);
  });
}

Result<Page<Account>> IamService::ListAccounts(const PageRequest& page) {
  auto [offset, limit] = VEIL_TRY_VALUE(ResolvePage(page));
  return store_.ListAccounts(offset, limit);
}

Result<std::string> IamService::OperatorAccountId() {
  auto first = VEIL_TRY_VALUE(FirstAccountId());
  if (!first) return FailedPrecondition("there is no operator account before the first start");
  return *first;
}

Result<std::optional<IamService::FirstAccount>> IamService::CreateFirstAccount(
    const std::function<Status(const SecretBytes& apikey)>& keep_key) {
  AccountSpec spec;
  spec.name = "Default";
  spec.apikey_name = "admin-apikey";
  return db_.WithTransaction([&](store::Tx& tx) -> Result<std::optional<FirstAccount>> {
    if (VEIL_TRY_VALUE(store_.GetMeta(tx, kFirstAccountMarker))) {
      return std::optional<FirstAccount>();
    }
    CreatedAccount created = VEIL_TRY_VALUE(InsertAccountWithAdmin(tx, spec, "system"));
    VEIL_TRY(store_.InsertMeta(tx, kFirstAccountMarker, created.account.id));
    VEIL_TRY(keep_key(created.apikey));
    return std::optional(FirstAccount{created.account.id, created.admin.iam_id, created.key.id});
  });
}

Result<std::optional<std::string>> IamService::FirstAccountId() {
  return store_.GetMeta(db_, kFirstAccountMarker);
}

Result<std::optional<Subject>> IamService::DecisionSubject(const Subject& caller,
                                                           const DecisionSubjectRef& ref) {
  if (!ref.service_name.empty()) {
    return std::optional<Subject>(
        ServiceSubject(ref.service_name, ref.service_account, ref.service_instance));
  }
  if (ref.iam_id.starts_with("crn-")) return InvalidArgument("give a service as serviceName");
  auto identity = GetIdentity(ref.iam_id);
  if (!identity) {
    if (identity.error().code != ErrorCode::kNotFound) return tl::unexpected(identity.error());
    return std::optional<Subject>();
  }
  if (caller.type != Subject::Type::kService && identity->account_id != caller.account_id) {
    return std::optional<Subject>();
  }
  Subject s;
  s.type = identity->kind == IdentityKind::kUser ? Subject::Type::kUser : Subject::Type::kServiceId;
  s.iam_id = identity->iam_id;
  s.account_id = identity->account_id;
  return std::optional<Subject>(std::move(s));
}

Result<Identity> IamService::GetIdentity(std::string_view any_id) {
  auto iam_id = IamIdFromAnyId(any_id);
  if (!iam_id) return NotFound("identity not found");
  return store_.GetIdentity(db_, *iam_id);
}

Result<Identity> IamService::ServiceIdOf(store::Executor& ex, std::string_view id) {
  auto iam_id = IamIdFromAnyId(id);
  if (!iam_id || KindOfIamId(*iam_id) != IdentityKind::kServiceId) {
    return NotFound("service ID not found");
  }
  auto identity = store_.GetIdentity(ex, *iam_id);
  if (!identity && identity.error().code == ErrorCode::kNotFound) {
    return NotFound("service ID not found");
  }
  return identity;
}

Result<Identity> IamService::CreateServiceId(const ServiceIdSpec& spec,
                                             std::string_view created_by) {
  VEIL_TRY(ValidateName("name", spec.name));
  VEIL_TRY(ValidateDescription(spec.description));
  auto account = GetAccount(spec.account_id);
  if (!account) return InvalidArgument("account_id names no account");
  Identity s;
  s.kind = IdentityKind::kServiceId;
  s.id = std::string(kServiceIdPrefix) + NewUuidV4String(random_);
  s.iam_id = "iam-" + s.id;
  s.account_id = spec.account_id;
  s.name = spec.name;
  s.description = spec.description;
  s.created_at = s.modified_at = clock_.Now();
  s.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertIdentity(db_, s));
  return s;
}

Result<Page<Identity>> IamService::ListServiceIds(std::string_view account_id,
                                                  const PageRequest& page) {
  auto [offset, limit] = VEIL_TRY_VALUE(ResolvePage(page));
  return store_.ListIdentities(account_id, IdentityKind::kServiceId, offset, limit);
}

Result<Identity> IamService::UpdateServiceId(std::string_view id, std::string_view if_match,
                                             const Update& update) {
  if (update.name) VEIL_TRY(ValidateName("name", *update.name));
  if (update.description) VEIL_TRY(ValidateDescription(*update.description));
  return db_.WithTransaction([&](store::Tx& tx) -> Result<Identity> {
    Identity out = VEIL_TRY_VALUE(ServiceIdOf(tx, id));
    if (out.locked) return FailedPrecondition("the service ID is locked");
    VEIL_TRY(CheckEntityTag(if_match, out.version));
    if (update.name) out.name = *update.name;
    if (update.description) out.description = *update.description;
    ++out.version;
    out.modified_at = clock_.Now();
    VEIL_TRY(store_.UpdateIdentity(tx, out));
    return out;
  });
}

Status IamService::DeleteServiceId(std::string_view id) {
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    Identity s = VEIL_TRY_VALUE(ServiceIdOf(tx, id));
    if (s.locked) return FailedPrecondition("the service ID is locked: unlock it first");
    if (auto key = VEIL_TRY_VALUE(keys_.KeyOfIdentity(tx, s.iam_id))) {
      return FailedPrecondition("the service ID is the identity of resource key " + *key +
                                ": delete the resource key instead");
    }
    VEIL_TRY(store_.DeleteIdentity(tx, s.iam_id));
    VEIL_TRY(tx.Notify(kRevocationChannel, Payload("identity", s.iam_id)));
    VEIL_TRY(tx.Notify(kPolicyChannel, s.account_id));
    return OkStatus();
  });
}

Result<Identity> IamService::SetServiceIdLocked(std::string_view id, bool locked) {
  return db_.WithTransaction([&](store::Tx& tx) -> Result<Identity> {
    Identity out = VEIL_TRY_VALUE(ServiceIdOf(tx, id));
    if (out.locked == locked) return out;
    out.locked = locked;
    ++out.version;
    out.modified_at = clock_.Now();
    VEIL_TRY(store_.UpdateIdentity(tx, out));
    if (locked) VEIL_TRY(tx.Notify(kRevocationChannel, Payload("identity", out.iam_id)));
    return out;
  });
}

Result<IamService::CreatedApiKey> IamService::CreateApiKey(const ApiKeySpec& spec,
                                                           std::string_view created_by) {
  VEIL_TRY(ValidateName("name", spec.name));
  VEIL_TRY(ValidateDescription(spec.description));
  auto owner = GetIdentity(spec.iam_id);
  if (!owner) {
    if (owner.error().code == ErrorCode::kNotFound) {
      return InvalidArgument("iam_id names no user or service ID");
    }
    return tl::unexpected(owner.error());
  }
  if (owner->locked) return FailedPrecondition("the owner of the API key is locked");
  GeneratedApiKey generated = GenerateApiKey(random_);
  std::vector<uint8_t> salt = random_.Bytes(kApiKeySaltSize);
  const ApiKeyHash hash = HashApiKeySecret(salt, generated.secret.Reveal());
  CreatedApiKey created;
  ApiKey& k = created.key;
  k.id = generated.id;
  k.iam_id = owner->iam_id;
  k.account_id = owner->account_id;
  k.name = spec.name;
  k.description = spec.description;
  k.created_at = k.modified_at = clock_.Now();
  k.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertApiKey(db_, k, salt, hash));
  created.value = std::move(generated.value);
  return created;
}

Result<ApiKey> IamService::GetApiKey(std::string_view id) {
  if (!id.starts_with(kApiKeyPrefix) || !IsUuidV4(id.substr(kApiKeyPrefix.size()))) {
    return NotFound("API key not found");
  }
  return store_.GetApiKey(db_, id);
}

Result<Page<ApiKey>> IamService::ListApiKeys(std::string_view account_id, std::string_view iam_id,
                                             const PageRequest& page) {
  auto [offset, limit] = VEIL_TRY_VALUE(ResolvePage(page));
  std::string owner;
  if (!iam_id.empty()) {
    auto resolved = IamIdFromAnyId(iam_id);
    if (!resolved) return InvalidArgument("iam_id is not a user or service ID");
    owner = std::move(*resolved);
  }
  return store_.ListApiKeys(account_id, owner, offset, limit);
}

Result<ApiKey> IamService::UpdateApiKey(std::string_view id, std::string_view if_match,
                                        const Update& update) {
  if (update.name) VEIL_TRY(ValidateName("name", *update.name));
  if (update.description) VEIL_TRY(ValidateDescription(*update.description));
  VEIL_TRY(GetApiKey(id));
  return db_.WithTransaction([&](store::Tx& tx) -> Result<ApiKey> {
    ApiKey out = VEIL_TRY_VALUE(store_.GetApiKey(tx, id));
    if (out.locked) return FailedPrecondition("the API key is locked");
    VEIL_TRY(CheckEntityTag(if_match, out.version));
    if (update.name) out.name = *update.name;
    if (update.description) out.description = *update.description;
    ++out.version;
    out.modified_at = clock_.Now();
    VEIL_TRY(store_.UpdateApiKey(tx, out));
    return out;
  });
}

Status IamService::DeleteApiKey(std::string_view id) {
  VEIL_TRY(GetApiKey(id));
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    ApiKey k = VEIL_TRY_VALUE(store_.GetApiKey(tx, id));
    if (k.locked) return FailedPrecondition("the API key is locked: unlock it first");
    VEIL_TRY(store_.DeleteApiKey(tx, id));
    VEIL_TRY(tx.Notify(kRevocationChannel, Payload("apikey", id)));
    return OkStatus();
  });
}

Result<ApiKey> IamService::SetApiKeyLocked(std::string_view id, bool locked) {
  VEIL_TRY(GetApiKey(id));
  return db_.WithTransaction([&](store::Tx& tx) -> Result<ApiKey> {
    ApiKey out = VEIL_TRY_VALUE(store_.GetApiKey(tx, id));
    if (out.locked == locked) return out;
    out.locked = locked;
    ++out.version;
    out.modified_at = clock_.Now();
    VEIL_TRY(store_.UpdateApiKey(tx, out));
    if (locked) VEIL_TRY(tx.Notify(kRevocationChannel, Payload("apikey", id)));
    return out;
  });
}

Status IamService::ValidatePolicy(std::string_view account_id, PolicySpec& spec) {
  auto resource_account = spec.ResourceValue("accountId");
  if (!resource_account || *resource_account != account_id) {
    return InvalidArgument("a policy can only name resources of its own account");
  }
  auto service = spec.ResourceValue("serviceName");
  if (service && !IsKnownServiceName(*service)) {
    return InvalidArgument("unknown serviceName " + std::string(*service));
  }
  if (auto instance = spec.ResourceValue("serviceInstance")) {
    bool instance_service = false;
    for (std::string_view s : kInstanceServices)
      instance_service = instance_service || service == s;
    if (instance_service) {
      auto found = store_.GetInstance(*instance);
      if (!found || found->account_id != account_id || found->resource_id != *service) {
        return InvalidArgument("serviceInstance names no " + std::string(*service) +
                               " instance of the account");
      }
    }
  }
  if (spec.type == PolicyType::kAccess) {
    auto iam_id = std::string(*spec.SubjectValue("iam_id"));
    auto subject = store_.GetIdentity(db_, iam_id);
    if (!subject) {
      if (subject.error().code != ErrorCode::kNotFound) return tl::unexpected(subject.error());
      return InvalidArgument("the subject iam_id names no user or service ID of the account");
    }
    if (subject->account_id != account_id) {
      return InvalidArgument("the subject iam_id names no user or service ID of the account");
    }
    return OkStatus();
  }
  if (!IsKnownServiceName(*spec.SubjectValue("serviceName"))) {
    return InvalidArgument("unknown source serviceName");
  }
  if (!spec.SubjectValue("accountId")) {
    spec.subject.insert(spec.subject.begin(), {"accountId", std::string(account_id)});
  } else if (!IsAccountId(*spec.SubjectValue("accountId"))) {
    return InvalidArgument("the source accountId is not an account id");
  }
  return OkStatus();
}

Status IamService::CheckNoSameGrant(store::Tx& tx, const Policy& p) {
  for (const Policy& existing : VEIL_TRY_VALUE(store_.ListPoliciesOfAccount(tx, p.account_id))) {
    if (existing.id != p.id && SameGrant(existing, p)) {
      return AlreadyExists("policy " + existing.id +
                           " already grants these roles to this subject on this resource");
    }
  }
  return OkStatus();
}

Result<Policy> IamService::CreatePolicy(std::string_view account_id, PolicySpec spec,
                                        std::string_view created_by) {
  VEIL_TRY(ValidatePolicy(account_id, spec));
  Policy p;
  static_cast<PolicySpec&>(p) = std::move(spec);
  p.id = NewUuidV4String(random_);
  p.account_id = std::string(account_id);
  p.created_at = p.modified_at = clock_.Now();
  p.created_by = p.modified_by = std::string(created_by);
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(CheckNoSameGrant(tx, p));
    VEIL_TRY(store_.InsertPolicy(tx, p));
    return tx.Notify(kPolicyChannel, p.account_id);
  }));
  return p;
}

Result<Policy> IamService::ReplacePolicy(std::string_view id, std::string_view if_match,
                                         PolicySpec spec, std::string_view modified_by) {
  Policy current = VEIL_TRY_VALUE(GetPolicy(id));
  VEIL_TRY(ValidatePolicy(current.account_id, spec));
  return db_.WithTransaction([&](store::Tx& tx) -> Result<Policy> {
    Policy out = VEIL_TRY_VALUE(store_.GetPolicy(tx, id));
    VEIL_TRY(CheckEntityTag(if_match, out.version));
    if (spec.type != out.type) return InvalidArgument("a policy's type cannot change");
    // A duplicate made before duplicates were refused can still be edited if it keeps its grant.
    const bool same_grant_as_before = SameGrant(out, spec);
    static_cast<PolicySpec&>(out) = spec;
    if (!same_grant_as_before) VEIL_TRY(CheckNoSameGrant(tx, out));
    ++out.version;
    out.modified_at = clock_.Now();
    out.modified_by = std::string(modified_by);
    VEIL_TRY(store_.ReplacePolicy(tx, out));
    VEIL_TRY(tx.Notify(kPolicyChannel, out.account_id));
    return out;
  });
}

Result<Policy> IamService::GetPolicy(std::string_view id) {
  if (!IsUuidV4(id)) return NotFound("policy not found");
  return store_.GetPolicy(db_, id);
}

Result<std::vector<Policy>> IamService::ListPolicies(std::string_view account_id) {
  return store_.ListPoliciesOfAccount(account_id);
}

Status IamService::DeletePolicy(std::string_view id) {
  Policy p = VEIL_TRY_VALUE(GetPolicy(id));
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(store_.DeletePolicy(tx, id));
    return tx.Notify(kPolicyChannel, p.account_id);
  });
}

Result<ResourceInstance> IamService::CreateInstance(const InstanceSpec& spec,
                                                    std::string_view created_by) {
  VEIL_TRY(ValidateName("name", spec.name));
  bool known = false;
  for (std::string_view s : kInstanceServices) known = known || s == spec.resource_id;
  if (!known) return InvalidArgument("resource_id must be kms or cloud-object-storage");
  if (!spec.target.empty() && spec.target != options_.region) {
    return InvalidArgument("target must be " + options_.region);
  }
  auto account = GetAccount(spec.account_id);
  if (!account) return InvalidArgument("account_id names no account");
  ResourceInstance r;
  r.guid = NewUuidV4String(random_);
  r.account_id = spec.account_id;
  r.name = spec.name;
  r.resource_id = spec.resource_id;
  r.region = options_.region;
  r.crn = InstanceCrn(r.resource_id, r.region, r.account_id, r.guid);
  r.created_at = r.updated_at = clock_.Now();
  r.created_by = std::string(created_by);
  VEIL_TRY(store_.InsertInstance(db_, r));
  return r;
}

Result<ResourceInstance> IamService::GetInstance(std::string_view guid) {
  if (!IsUuidV4(guid)) return NotFound("resource instance not found");
  return store_.GetInstance(guid);
}

Result<Page<ResourceInstance>> IamService::ListInstances(std::string_view account_id,
                                                         const InstanceFilter& filter,
                                                         const PageRequest& page) {
  auto [offset, limit] = VEIL_TRY_VALUE(ResolvePage(page));
  return store_.ListInstances(account_id, filter, offset, limit);
}

Status IamService::DeleteInstance(std::string_view guid) {
  // The guid and service of an instance never change: reading them outside the transaction is
  // safe. The row is deleted before the guard reads (instance_guard.h).
  const ResourceInstance instance = VEIL_TRY_VALUE(GetInstance(guid));
  InstanceGuard* guard = nullptr;
  {
    std::lock_guard lock(guards_mu_);
    auto it = guards_.find(instance.resource_id);
    if (it != guards_.end()) guard = it->second;
  }
  return db_.WithTransaction([&](store::Tx& tx) -> Status {
    // Resource keys are IAM's own: counted under the instance's row lock (taken as a key's
    // creation takes it), before the row goes (their rows refer to it).
    VEIL_TRY(store_.HoldInstance(tx, guid));
    if (const int64_t keys = VEIL_TRY_VALUE(keys_.CountOfInstance(tx, guid)); keys > 0) {
      return FailedPrecondition("the instance cannot be deleted: it has " + std::to_string(keys) +
                                " resource key(s); delete them first");
    }
    VEIL_TRY(store_.DeleteInstance(tx, guid));
    return guard != nullptr ? guard->BeforeDelete(tx, instance) : OkStatus();
  });
}

void IamService::SetInstanceGuard(std::string resource_id, InstanceGuard* guard) {
  std::lock_guard lock(guards_mu_);
  guards_[std::move(resource_id)] = guard;
}

Status IamService::HoldInstance(store::Tx& tx, std::string_view guid) {
  return store_.HoldInstance(tx, guid);
}

}  // namespace veil::iam
