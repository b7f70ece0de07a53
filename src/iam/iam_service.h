// IamService: IAM's operations on accounts, users, service IDs, API keys, policies, resource
// instances and resource keys — the rules, ids and timestamps — over IamStore and
// ResourceKeyStore (the resource-key operations are in resource_keys.cc). It knows nothing of HTTP
// and does not authorize: the API layer authorizes (Authorizer) before it calls in.
//
// Rules kept here:
//   - names are 1-100 characters without control characters; descriptions at most 1000;
//   - a locked service ID or API key cannot be changed or deleted (unlock first: 409), and can
//     neither log in nor keep using its tokens (docs/iam.md: Veil's lock is IBM's lock plus a
//     login freeze, as the issue asks);
//   - an If-Match that is not empty or "*" must equal the current entity_tag (else 409);
//   - a policy names only resources of its own account, an access policy only subjects of its
//     own account; an authorization policy's source accountId defaults to the policy's account;
//   - every change that affects cached decisions or tokens is announced after its commit:
//     policies on kPolicyChannel (authorizer.h), deletions and locks on kRevocationChannel
//     (token_verifier.h), which also empties the HMAC credential cache of what it names;
//   - a resource key is a service ID of its own with a policy and an API key, made and deleted
//     with it in one transaction; that service ID cannot be deleted by itself (409), and an
//     instance that has resource keys cannot be deleted (409).
//
// Errors: kInvalidArgument for bad input (naming the field), kNotFound, kFailedPrecondition
// (locked, entity tag mismatch), kAlreadyExists, and the store's errors.
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "iam/authorizer.h"
#include "iam/hmac_credentials.h"
#include "iam/iam_store.h"
#include "iam/instance_guard.h"
#include "iam/model.h"
#include "iam/policy.h"
#include "iam/resource_key_store.h"
#include "iam/secret_sealer.h"
#include "store/database.h"

namespace veil::iam {

struct IamServiceOptions {
  std::string region = "local";  // the only accepted resource instance "target"
  HmacCacheOptions hmac_cache;   // LookupHmacCredential's cache
};

// Service names policies may name: IAM's own parts, Veil's services and the source services of
// service-to-service authorizations.
bool IsKnownServiceName(std::string_view name);

// kInvalidArgument naming `field` unless `name` is 1-100 characters without control characters.
[[nodiscard]] Status ValidateName(std::string_view field, std::string_view name);

// The role of a resource key: "Reader", "Writer" or "Manager", given as that name or as a role_id
// of it (crn:v1:veil|bluemix:public:iam::::serviceRole:<Name>; "role:<Name>" is taken as the
// same role). kInvalidArgument for anything else.
[[nodiscard]] Result<std::string> ParseResourceKeyRole(std::string_view text);

// The GUID a resource key's `source` names: the text itself, or the service_instance of an
// instance CRN (crn:v1:...:<service>:<region>:a/<acct>:<guid>::). Anything else comes back as it
// is (and then names no instance).
std::string InstanceGuidOf(std::string_view source);

class IamService {
 public:
  // Applies IAM's migrations. `db`, `clock` and `random` must outlive the service.
  [[nodiscard]] static Result<std::unique_ptr<IamService>> Create(store::Database& db,
                                                                  const Clock& clock,
                                                                  Random& random,
                                                                  IamServiceOptions options = {});

  IamStore& store() { return store_; }
  const Clock& clock() const { return clock_; }

  // A bare account, without an administrator (tests and internal use; the operator's API uses
  // CreateAccountWithAdmin).
  [[nodiscard]] Result<Account> CreateAccount(std::string_view name);
  [[nodiscard]] Result<Account> GetAccount(std::string_view id);

  struct AccountSpec {
    std::string name;
    std::string owner_name = "admin";  // the first administrator's name
    std::string owner_email;           // optional
    std::string apikey_name = "admin-apikey";
  };
  struct CreatedAccount {
    Account account;
    Identity admin;      // the first administrator, a user
    ApiKey key;          // the administrator's API key
    SecretBytes apikey;  // its value: shown once, never stored
  };
  // Creates, in one transaction, an account, its first administrator (a user) with an access
  // policy granting Administrator and Manager on every resource of the account (KeyPurge
  // excepted: it is explicit only), and an API key for the administrator. kInvalidArgument for a
  // bad name, owner_name or owner_email. The caller (the operator's API) authorizes.
  [[nodiscard]] Result<CreatedAccount> CreateAccountWithAdmin(const AccountSpec& spec,
                                                              std::string_view created_by);
  // Every account, oldest first (the operator's listing).
  [[nodiscard]] Result<Page<Account>> ListAccounts(const PageRequest& page);
  // The operator's account: the first account, made at the first start. Policies in it decide
  // who may use the accounts API (docs/iam.md "Accounts and the operator").
  // kFailedPrecondition before the first start.
  [[nodiscard]] Result<std::string> OperatorAccountId();
  // Disabling an account revokes every token of its identities.
  [[nodiscard]] Status SetAccountActive(std::string_view id, bool active);
  [[nodiscard]] Result<Identity> CreateUser(std::string_view account_id, std::string_view name,
                                            std::string_view email, std::string_view created_by);

  // Creates, in one transaction and only if it never happened before, the first account
  // ("Default"), as CreateAccountWithAdmin does (admin user "admin", created by "system"), calling
  // `keep_key` with the key's text before the commit (a failure rolls everything back; it may be
  // called again if the transaction is retried). nullopt when the first account exists already.
  // Used by EnsureFirstAccount (bootstrap.h).
  struct FirstAccount {
    std::string account_id;
    std::string admin_iam_id;
    std::string apikey_id;
  };
  [[nodiscard]] Result<std::optional<FirstAccount>> CreateFirstAccount(
      const std::function<Status(const SecretBytes& apikey)>& keep_key);
  // The first account's id, or nullopt before the first start.
  [[nodiscard]] Result<std::optional<std::string>> FirstAccountId();

  // A user or service ID by "IBMid-...", "ServiceId-..." or "iam-ServiceId-...".
  [[nodiscard]] Result<Identity> GetIdentity(std::string_view any_id);

  // Whom one authorization question (POST /v2/authz) is about: a Veil service (service_name,
  // with the account it acts for and its instance), or else an identity's iam_id (given, or read
  // from a token payload by the API layer).
  struct DecisionSubjectRef {
    std::string iam_id;
    std::string service_name;
    std::string service_account;
    std::string service_instance;
  };
  // The subject `ref` names as far as `caller` may know it: nullopt for an iam_id that names no
  // identity and, to anyone but a Veil service, for an identity of another account, so that the
  // answer tells nothing of other accounts. kInvalidArgument for a service's iam_id ("crn-...":
  // give a service by name); the store's errors otherwise.
  [[nodiscard]] Result<std::optional<Subject>> DecisionSubject(const Subject& caller,
                                                               const DecisionSubjectRef& ref);

  struct ServiceIdSpec {
    std::string account_id;
    std::string name;
    std::string description;
  };
  struct Update {
    std::optional<std::string> name;
    std::optional<std::string> description;
  };

  [[nodiscard]] Result<Identity> CreateServiceId(const ServiceIdSpec& spec,
                                                 std::string_view created_by);
  [[nodiscard]] Result<Page<Identity>> ListServiceIds(std::string_view account_id,
                                                      const PageRequest& page);
  [[nodiscard]] Result<Identity> UpdateServiceId(std::string_view id, std::string_view if_match,
                                                 const Update& update);
  // Deletes the service ID, its API keys and the access policies naming it; its tokens are
  // refused from then on.
  [[nodiscard]] Status DeleteServiceId(std::string_view id);
  [[nodiscard]] Result<Identity> SetServiceIdLocked(std::string_view id, bool locked);

  struct ApiKeySpec {
    std::string iam_id;  // the owner: a user or service ID
    std::string name;
    std::string description;
  };
  struct CreatedApiKey {
    ApiKey key;
    SecretBytes value;  // the key's text: shown once, never stored
  };
  [[nodiscard]] Result<CreatedApiKey> CreateApiKey(const ApiKeySpec& spec,
                                                   std::string_view created_by);
  [[nodiscard]] Result<ApiKey> GetApiKey(std::string_view id);
  // Keys of `account_id`, of one owner when `iam_id` is not empty.
  [[nodiscard]] Result<Page<ApiKey>> ListApiKeys(std::string_view account_id,
                                                 std::string_view iam_id, const PageRequest& page);
  [[nodiscard]] Result<ApiKey> UpdateApiKey(std::string_view id, std::string_view if_match,
                                            const Update& update);
  [[nodiscard]] Status DeleteApiKey(std::string_view id);
  [[nodiscard]] Result<ApiKey> SetApiKeyLocked(std::string_view id, bool locked);

  [[nodiscard]] Result<Policy> CreatePolicy(std::string_view account_id, PolicySpec spec,
                                            std::string_view created_by);
  [[nodiscard]] Result<Policy> ReplacePolicy(std::string_view id, std::string_view if_match,
                                             PolicySpec spec, std::string_view modified_by);
  [[nodiscard]] Result<Policy> GetPolicy(std::string_view id);
  [[nodiscard]] Result<std::vector<Policy>> ListPolicies(std::string_view account_id);
  [[nodiscard]] Status DeletePolicy(std::string_view id);

  struct InstanceSpec {
    std::string account_id;
    std::string name;
    std::string resource_id;  // "kms" | "cloud-object-storage"
    std::string target;       // the region; empty means the default
  };
  [[nodiscard]] Result<ResourceInstance> CreateInstance(const InstanceSpec& spec,
                                                        std::string_view created_by);
  [[nodiscard]] Result<ResourceInstance> GetInstance(std::string_view guid);
  [[nodiscard]] Result<Page<ResourceInstance>> ListInstances(std::string_view account_id,
                                                             const InstanceFilter& filter,
                                                             const PageRequest& page);
  // Deletes the instance, in one transaction with its service's InstanceGuard (when one is set):
  // kFailedPrecondition (409) when the instance has resource keys, or when the guard refuses
  // because the instance still holds resources.
  [[nodiscard]] Status DeleteInstance(std::string_view guid);

  // The guard of the instances of `resource_id` ("kms"), asked before each deletion
  // (instance_guard.h). Not owned; it must outlive the service. Set while wiring, before serving.
  void SetInstanceGuard(std::string resource_id, InstanceGuard* guard);
  struct ResourceKeySpec {
    std::string account_id;  // the caller's: the source must be an instance of this account
    std::string name;
    std::string source;  // the instance's GUID or CRN (InstanceGuidOf)
    std::string role;    // as ParseResourceKeyRole reads it
    bool hmac = false;   // also an S3 access key pair
  };
  struct CreatedResourceKey {
    ResourceKey key;
    SecretBytes apikey;             // the service ID's API key: shown once, stored hashed
    SecretBytes secret_access_key;  // 48 hex characters, shown once, stored sealed; empty
                                    // without HMAC
  };
  // Creates, in one transaction, a resource key of the cloud-object-storage instance `source`:
  // a new service ID named after the key, an access policy granting it `role` on the instance
  // (serviceName cloud-object-storage, serviceInstance the GUID), an API key of that service ID,
  // and with `hmac` an access key pair whose secret is sealed by the SecretSealer first.
  // kInvalidArgument for a bad name or role, or a source that is no cloud-object-storage
  // instance; kNotFound when the source names no instance of spec.account_id (another account's
  // is not found either); kFailedPrecondition when the instance is not active, or for HMAC
  // without a sealer; the sealer's and the store's errors.
  [[nodiscard]] Result<CreatedResourceKey> CreateResourceKey(const ResourceKeySpec& spec,
                                                             std::string_view created_by);
  // By GUID or CRN. kNotFound otherwise.
  [[nodiscard]] Result<ResourceKey> GetResourceKey(std::string_view id);
  [[nodiscard]] Result<Page<ResourceKey>> ListResourceKeys(std::string_view account_id,
                                                           const ResourceKeyFilter& filter,
                                                           const PageRequest& page);
  // Deletes, in one transaction, the key, its service ID, the service ID's policies and API keys
  // (and so the HMAC credential): its tokens and its access key are refused from the commit on.
  [[nodiscard]] Status DeleteResourceKey(std::string_view id);

  // The HMAC credential of `access_key_id`, its secret unsealed, for the object storage service
  // to check a SigV4 signature and authorize the request as `iam_id`. kNotFound when no active
  // resource key has that access key id, or its service ID is locked or its account disabled;
  // kFailedPrecondition without a sealer; kDataLoss when the sealed secret does not unseal or is
  // another key's. Cached (HmacCredentialCache: 1024 entries, 60 s by default); a deletion, a
  // lock of the service ID or a disabled account empties the entries it names at once.
  [[nodiscard]] Result<HmacCredential> LookupHmacCredential(std::string_view access_key_id);

  // The sealer of HMAC secrets. Not owned; it must outlive the service. Set while wiring, before
  // serving (may be set later: creating an HMAC key fails until it is).
  void SetSecretSealer(SecretSealer* sealer);

  // Inside a service's transaction `tx`, before it inserts anything that belongs to the instance
  // `guid`: holds the instance until `tx` ends, so that a deletion either waits for `tx` and then
  // sees the insert, or went first and makes this fail (instance_guard.h). kNotFound when no
  // active instance has this GUID.
  [[nodiscard]] Status HoldInstance(store::Tx& tx, std::string_view guid);

 private:
  IamService(store::Database& db, const Clock& clock, Random& random, IamServiceOptions options);
  [[nodiscard]] Result<ResourceInstance> KeySource(const ResourceKeySpec& spec);
  [[nodiscard]] Result<Identity> ServiceIdOf(store::Executor& ex, std::string_view id);
  [[nodiscard]] Status ValidatePolicy(std::string_view account_id, PolicySpec& spec);
  // kAlreadyExists naming the policy of the account (other than `p` itself) that grants what `p`
  // grants: a duplicate would only hide the one to delete.
  [[nodiscard]] Status CheckNoSameGrant(store::Tx& tx, const Policy& p);
  [[nodiscard]] static Status ValidateAccountSpec(const AccountSpec& spec);
  [[nodiscard]] Result<CreatedAccount> InsertAccountWithAdmin(store::Tx& tx,
                                                              const AccountSpec& spec,
                                                              std::string_view created_by);

  store::Database& db_;
  IamStore store_;
  const Clock& clock_;
  Random& random_;
  const IamServiceOptions options_;
  std::mutex guards_mu_;
  std::map<std::string, InstanceGuard*, std::less<>> guards_;  // guards_mu_
  ResourceKeyStore keys_;
  std::atomic<SecretSealer*> sealer_{nullptr};
  HmacCredentialCache hmac_cache_;
  store::Subscription revocations_;  // last: unsubscribed before the cache goes
};

// Paging parameters: kInvalidArgument for a size outside 1..100 or a token that is not one this
// service handed out. Returns (offset, limit).
[[nodiscard]] Result<std::pair<int64_t, int64_t>> ResolvePage(const PageRequest& page);

}  // namespace veil::iam
