// KmsStore: the KMS's tables and every SQL statement the KMS runs (portable SQL, docs/storage.md).
//
// Schema (component "kms", KmsMigrations(); docs/formats/kms-store.md):
//   kms_keys           one row per key (metadata, state, policies, dual-auth approval)
//   kms_key_versions   one row per version: the material wrapped by the HSM master key
//   kms_aliases        (instance, alias) -> key
//   kms_key_rings      (instance, ring)
//   kms_registrations  (key, resource CRN)
//   kms_instance_policies  (instance, type) -> JSON
//   kms_import_tokens  one per instance: RSA key and nonce sealed by the HSM
//   kms_import_token_uses  (token, digest of an encrypted nonce): one row per secure import
//
// Errors: those of the Database (kNotFound when a row is missing, kAlreadyExists on a duplicate,
// kUnavailable when busy), and kDataLoss when a stored row does not parse.
//
// Thread-safety: as the Database.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "kms/model.h"
#include "store/database.h"

namespace veil::kms {

std::vector<store::Migration> KmsMigrations();

struct StoredVersion {
  KeyVersion version;
  std::vector<uint8_t> material;  // wrapped by the master key (root) or sealed (standard)
};

// What an instance holds that its deletion must not orphan.
struct InstanceContents {
  int64_t keys = 0;           // in any state: purged keys are gone
  int64_t registrations = 0;  // of any of its keys
};

struct KeyFilter {
  std::vector<KeyState> states;
  std::optional<bool> extractable;
  std::string key_ring_id;
};

class KmsStore {
 public:
  explicit KmsStore(store::Database& db) : db_(db) {}
  store::Database& db() { return db_; }

  // Inserts the key row and its first version (the key's `current`).
  [[nodiscard]] Status InsertKey(store::Executor& ex, const Key& key,
                                 std::span<const uint8_t> material);
  // The key with its aliases and current version. kNotFound when absent.
  [[nodiscard]] Result<Key> GetKey(store::Executor& ex, std::string_view id);
  // The key id an alias names in `instance_id`. kNotFound when none.
  [[nodiscard]] Result<std::string> KeyIdOfAlias(store::Executor& ex, std::string_view instance_id,
                                                 std::string_view alias);
  // Writes every mutable field when the stored revision equals key.revision - 1 (optimistic:
  // kFailedPrecondition "the key changed meanwhile" otherwise).
  [[nodiscard]] Status UpdateKey(store::Executor& ex, const Key& key);
  [[nodiscard]] Status DeleteKey(store::Executor& ex, std::string_view id);
  [[nodiscard]] Result<std::vector<Key>> ListKeys(store::Executor& ex, std::string_view instance_id,
                                                  const KeyFilter& filter, int64_t limit,
                                                  int64_t offset);
  [[nodiscard]] Result<int64_t> CountKeys(store::Executor& ex, std::string_view instance_id,
                                          const KeyFilter& filter);
  // Keys of every instance that the maintenance pass may have to change.
  [[nodiscard]] Result<std::vector<Key>> ListMaintenanceCandidates(store::Executor& ex);

  // Versions, oldest first, with their material.
  [[nodiscard]] Result<std::vector<StoredVersion>> ListVersions(store::Executor& ex,
                                                                std::string_view key_id);
  [[nodiscard]] Status InsertVersion(store::Executor& ex, const KeyVersion& version,
                                     std::span<const uint8_t> material);
  // The version with the highest seq. kNotFound for none.
  [[nodiscard]] Result<KeyVersion> LatestVersion(store::Executor& ex, std::string_view key_id);

  [[nodiscard]] Status InsertAlias(store::Executor& ex, std::string_view instance_id,
                                   std::string_view alias, std::string_view key_id, TimePoint at);
  [[nodiscard]] Status DeleteAlias(store::Executor& ex, std::string_view instance_id,
                                   std::string_view alias);

  [[nodiscard]] Status InsertKeyRing(store::Executor& ex, const KeyRing& ring);
  [[nodiscard]] Result<std::vector<KeyRing>> ListKeyRings(store::Executor& ex,
                                                          std::string_view instance_id);
  [[nodiscard]] Result<bool> KeyRingExists(store::Executor& ex, std::string_view instance_id,
                                           std::string_view id);
  [[nodiscard]] Status DeleteKeyRing(store::Executor& ex, std::string_view instance_id,
                                     std::string_view id);
  // Keys in the ring: (all, not Destroyed).
  [[nodiscard]] Result<std::pair<int64_t, int64_t>> CountKeysInRing(store::Executor& ex,
                                                                    std::string_view instance_id,
                                                                    std::string_view ring);
  [[nodiscard]] Status MoveKeysToRing(store::Executor& ex, std::string_view instance_id,
                                      std::string_view from, std::string_view to);

  [[nodiscard]] Status UpsertRegistration(store::Executor& ex, const Registration& r);
  [[nodiscard]] Result<Registration> GetRegistration(store::Executor& ex, std::string_view key_id,
                                                     std::string_view crn);
  [[nodiscard]] Status DeleteRegistration(store::Executor& ex, std::string_view key_id,
                                          std::string_view crn);
  [[nodiscard]] Result<std::vector<Registration>> ListRegistrations(store::Executor& ex,
                                                                    std::string_view key_id);
  [[nodiscard]] Result<std::vector<Registration>> ListInstanceRegistrations(
      store::Executor& ex, std::string_view instance_id);

  [[nodiscard]] Result<std::vector<InstancePolicy>> GetInstancePolicies(
      store::Executor& ex, std::string_view instance_id);
  [[nodiscard]] Status PutInstancePolicy(store::Executor& ex, std::string_view instance_id,
                                         const InstancePolicy& policy);

  // Inserts or replaces the instance's token; the uses of the replaced one are dropped.
  [[nodiscard]] Status PutImportToken(store::Executor& ex, const ImportToken& token);
  [[nodiscard]] Result<ImportToken> GetImportToken(store::Executor& ex,
                                                   std::string_view instance_id);
  [[nodiscard]] Status SetImportTokenRemaining(store::Executor& ex, std::string_view instance_id,
                                               int64_t remaining);
  // One secure import with the token: kAlreadyExists when `nonce_digest` was used before.
  [[nodiscard]] Status RecordImportTokenUse(store::Executor& ex, std::string_view instance_id,
                                            std::string_view token_id,
                                            std::string_view nonce_digest, TimePoint at);
  [[nodiscard]] Result<int64_t> CountImportTokenUses(store::Executor& ex,
                                                     std::string_view token_id);

  [[nodiscard]] Result<InstanceContents> CountInstanceContents(store::Executor& ex,
                                                               std::string_view instance_id);
  // Removes what an instance without keys still has: key rings, instance policies, the import
  // token and its uses.
  [[nodiscard]] Status DeleteInstanceData(store::Executor& ex, std::string_view instance_id);

 private:
  store::Database& db_;
};

}  // namespace veil::kms
