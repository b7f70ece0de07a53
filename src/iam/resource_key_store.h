// ResourceKeyStore: the SQL of resource keys (table iam_resource_keys, migration 3 of component
// "iam" in IamMigrations(); docs/formats/iam.md has the columns). IamService creates and deletes
// a key in one transaction with its service ID, policy and API key (IamStore).
//
// Functions taking a store::Executor& run on a Database or inside a transaction (Tx).
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
#include "store/database.h"

namespace veil::iam {

// What an HMAC lookup needs in one read: the key with its sealed secret, and whether its service
// ID and account still stand.
struct HmacKeyRow {
  ResourceKey key;
  std::vector<uint8_t> sealed_secret;
  bool identity_locked = false;
  bool account_active = true;
};

struct ResourceKeyFilter {
  std::string name;  // empty: any
};

class ResourceKeyStore {
 public:
  explicit ResourceKeyStore(store::Database& db) : db_(db) {}

  // `sealed_secret` is empty exactly when key.access_key_id is.
  [[nodiscard]] Status Insert(store::Executor& ex, const ResourceKey& key,
                              std::span<const uint8_t> sealed_secret);
  [[nodiscard]] Result<ResourceKey> Get(store::Executor& ex, std::string_view guid);
  // Keys of `account_id`, oldest first.
  [[nodiscard]] Result<Page<ResourceKey>> List(std::string_view account_id,
                                               const ResourceKeyFilter& filter, int64_t offset,
                                               int64_t limit);
  [[nodiscard]] Status Delete(store::Executor& ex, std::string_view guid);
  // How many keys the instance `instance_guid` has.
  [[nodiscard]] Result<int64_t> CountOfInstance(store::Executor& ex,
                                                std::string_view instance_guid);
  // The guid of the key whose service ID is `iam_id`, or nullopt.
  [[nodiscard]] Result<std::optional<std::string>> KeyOfIdentity(store::Executor& ex,
                                                                 std::string_view iam_id);
  // The active key with this access key id, joined with its service ID and account.
  [[nodiscard]] Result<HmacKeyRow> GetHmac(std::string_view access_key_id);

 private:
  store::Database& db_;
};

}  // namespace veil::iam
