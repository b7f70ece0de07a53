// IamStore: IAM's tables and the SQL IAM runs on them (portable SQL, docs/storage.md); the
// statements on iam_resource_keys are ResourceKeyStore's (resource_key_store.h).
//
// Schema (component "iam", IamMigrations(); docs/formats/iam.md is the byte-exact description):
//   iam_accounts, iam_identities (users and service IDs), iam_apikeys (salt and hash only),
//   iam_policies (the policy as JSON), iam_resource_instances, iam_signing_keys (public keys
//   only), iam_meta (first-start marker), iam_resource_keys (migration 3: sealed HMAC secrets
//   only).
// Functions taking a store::Executor& run on a Database or inside a transaction (Tx).
//
// Errors: those of the Database (kNotFound when a row is missing, kAlreadyExists on a duplicate
// key, kUnavailable when busy), and kDataLoss when a stored row does not parse.
//
// Thread-safety: as the Database: any function from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "iam/model.h"
#include "iam/policy.h"
#include "store/database.h"

namespace veil::iam {

std::vector<store::Migration> IamMigrations();

// What a login needs in one read: the key, its salt and hash, its owner and the owner's account.
struct ApiKeyCredential {
  ApiKey key;
  std::vector<uint8_t> salt;
  std::vector<uint8_t> hash;
  Identity owner;
  Account account;
};

// A published signing key (public part only).
struct SigningKeyRow {
  std::string kid;
  std::string n;  // base64url modulus
  std::string e;  // base64url exponent
  int64_t created_at_ms = 0;
  int64_t not_after_ms = 0;  // drop from the JWKS after this
  std::string holder;        // the replica that holds the private key (informational)
};

struct InstanceFilter {
  std::string resource_id;  // empty: any
  std::string name;         // empty: any
};

class IamStore {
 public:
  explicit IamStore(store::Database& db) : db_(db) {}

  store::Database& db() { return db_; }

  [[nodiscard]] Status InsertAccount(store::Executor& ex, const Account& account);
  [[nodiscard]] Result<Account> GetAccount(std::string_view id);
  // Every account, oldest first.
  [[nodiscard]] Result<Page<Account>> ListAccounts(int64_t offset, int64_t limit);
  [[nodiscard]] Status SetAccountActive(store::Executor& ex, std::string_view id, bool active);

  [[nodiscard]] Status InsertIdentity(store::Executor& ex, const Identity& identity);
  [[nodiscard]] Result<Identity> GetIdentity(store::Executor& ex, std::string_view iam_id);
  [[nodiscard]] Result<Page<Identity>> ListIdentities(std::string_view account_id,
                                                      IdentityKind kind, int64_t offset,
                                                      int64_t limit);
  // Writes name, description, locked, version and modified_at of an existing identity.
  [[nodiscard]] Status UpdateIdentity(store::Executor& ex, const Identity& identity);
  // Deletes the identity, its API keys and the access policies naming it.
  [[nodiscard]] Status DeleteIdentity(store::Executor& ex, std::string_view iam_id);

  [[nodiscard]] Status InsertApiKey(store::Executor& ex, const ApiKey& key,
                                    std::span<const uint8_t> salt, std::span<const uint8_t> hash);
  [[nodiscard]] Result<ApiKey> GetApiKey(store::Executor& ex, std::string_view id);
  [[nodiscard]] Result<ApiKeyCredential> GetApiKeyCredential(std::string_view id);
  // Keys of `account_id`, of one owner when `iam_id` is not empty.
  [[nodiscard]] Result<Page<ApiKey>> ListApiKeys(std::string_view account_id,
                                                 std::string_view iam_id, int64_t offset,
                                                 int64_t limit);
  [[nodiscard]] Status UpdateApiKey(store::Executor& ex, const ApiKey& key);
  [[nodiscard]] Status DeleteApiKey(store::Executor& ex, std::string_view id);

  // Whether a token's subject still stands: the identity exists, is not locked and belongs to
  // `account_id`, which exists and is active; and, when `apikey_id` is not empty, that key
  // exists, is not locked and belongs to the identity. kUnauthenticated naming what failed.
  [[nodiscard]] Status CheckTokenSubject(std::string_view iam_id, std::string_view account_id,
                                         std::string_view apikey_id);

  [[nodiscard]] Status InsertPolicy(store::Executor& ex, const Policy& policy);
  [[nodiscard]] Result<Policy> GetPolicy(store::Executor& ex, std::string_view id);
  [[nodiscard]] Status ReplacePolicy(store::Executor& ex, const Policy& policy);
  [[nodiscard]] Status DeletePolicy(store::Executor& ex, std::string_view id);
  [[nodiscard]] Result<std::vector<Policy>> ListPoliciesOfAccount(std::string_view account_id);
  [[nodiscard]] Result<std::vector<Policy>> ListPoliciesOfAccount(store::Executor& ex,
                                                                  std::string_view account_id);

  [[nodiscard]] Status InsertInstance(store::Executor& ex, const ResourceInstance& instance);
  [[nodiscard]] Result<ResourceInstance> GetInstance(std::string_view guid);
  [[nodiscard]] Result<Page<ResourceInstance>> ListInstances(std::string_view account_id,
                                                             const InstanceFilter& filter,
                                                             int64_t offset, int64_t limit);
  [[nodiscard]] Status DeleteInstance(store::Executor& ex, std::string_view guid);
  // Writes the active instance's row without changing it, which locks the row until the
  // transaction ends (instance_guard.h). kNotFound when no active instance has this GUID.
  [[nodiscard]] Status HoldInstance(store::Executor& ex, std::string_view guid);

  [[nodiscard]] Status PublishSigningKey(const SigningKeyRow& row);
  // Keys with not_after_ms > now_ms.
  [[nodiscard]] Result<std::vector<SigningKeyRow>> ListSigningKeys(int64_t now_ms);
  // Deletes keys with not_after_ms <= now_ms.
  [[nodiscard]] Status PruneSigningKeys(int64_t now_ms);

  // iam_meta: a name -> value table for one-time markers (the first start).
  [[nodiscard]] Result<std::optional<std::string>> GetMeta(store::Executor& ex,
                                                           std::string_view name);
  [[nodiscard]] Status InsertMeta(store::Executor& ex, std::string_view name,
                                  std::string_view value);

 private:
  store::Database& db_;
};

}  // namespace veil::iam
