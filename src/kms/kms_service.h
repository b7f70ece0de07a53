// KmsService: Key Protect's behaviour over the KmsStore and the HSM (docs/api-compatibility.md).
//
// The service knows keys, versions, states, policies, registrations and import tokens; it does
// not know HTTP nor IAM: the API layer (api/) resolves the `bluemix-instance`, authenticates and
// authorizes, then makes one call here. Every refusal is a KmsError with Key Protect's reason.
//
// Key material: root key versions are stored only as blobs wrapped by the HSM master key; wrap
// and unwrap run inside the HSM (hsm::KeyStore) with the version unwrapped into a non-extractable
// session object. Standard key payloads are sealed by the HSM. Plaintext that passes through Veil
// (an imported key, a DEK given to wrap or returned by unwrap) lives in SecretBytes only.
//
// Crash safety: every change is one database transaction, made after the HSM work it needs, so a
// crash leaves either the whole change or nothing (a key without a version never exists).
//
// Reads for wrap/unwrap come from a cache of keys and their versions; every change publishes the
// key id on kKeyChannel (in its transaction), and every replica drops that key from its cache.
//
// Registered services learn of lifecycle changes (disable, enable, delete, restore, rotate)
// through KeyEventListener, after the change committed.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "hsm/key_store.h"
#include "kms/kms_store.h"
#include "kms/model.h"
#include "store/database.h"

namespace veil::kms {

inline constexpr std::string_view kKeyChannel = "kms_key";
// Every instance policy change is announced here (payload: the instance GUID).
inline constexpr std::string_view kInstancePolicyChannel = "kms_instance_policy";

// Who acts (for createdBy, dual authorization and service-only calls).
struct Actor {
  std::string iam_id;
  bool is_service = false;
  std::string service_name;  // services only
};

// The KMS instance a request is about, as the resource controller knows it.
struct InstanceRef {
  std::string guid;
  std::string account_id;
  std::string crn;
};

// Holds the KMS instance `guid` inside `tx` until `tx` ends: kNotFound once the instance is
// deleted. veild wires the resource controller's iam::IamService::HoldInstance
// (iam/instance_guard.h explains the protocol).
using InstanceHold = std::function<Status(store::Tx& tx, std::string_view guid)>;

struct KmsOptions {
  // Required. Every insert that belongs to an instance (a key, a key ring, an instance policy,
  // an import token) holds the instance in its transaction, so that none lands in an instance
  // deleted meanwhile (the API resolves instances through a cache).
  InstanceHold hold_instance;
  std::string region = "local";
  std::chrono::hours purge_delay{4};             // after deletion, for KeyPurge
  std::chrono::hours restore_window{24 * 30};    // restore within 30 days
  std::chrono::hours auto_purge_after{24 * 90};  // metadata kept 90 days
  std::chrono::hours dual_auth_window{24 * 7};   // second approval within 7 days
  std::chrono::seconds restore_min_delay{30};    // restore no sooner than 30 s after delete
  size_t key_cache_capacity = 100000;
};

// Secure import (docs/api-compatibility.md): the fields of a create or rotate body that carry
// encrypted material.
struct ImportedMaterial {
  std::string payload;  // base64: plain material, or RSA-OAEP ciphertext with an import token
  std::string encrypted_nonce;
  std::string iv;
  std::string encryption_algorithm;  // "" (plain), RSAES_OAEP_SHA_256 | RSAES_OAEP_SHA_1
};

struct CreateKeySpec {
  std::string name;
  std::string description;
  std::vector<std::string> aliases;
  std::string key_ring_id = std::string(kDefaultKeyRing);
  bool extractable = false;
  std::optional<TimePoint> expires_at;
  std::optional<ImportedMaterial> material;  // absent: generate
};

struct ListKeysOptions {
  int64_t limit = 200;
  int64_t offset = 0;
  std::vector<KeyState> states;  // empty: 0, 1, 2, 3
  std::optional<bool> extractable;
  std::string key_ring_id;  // empty: all
};

struct WrapResult {
  std::string ciphertext;
  std::string key_version_id;
  std::optional<SecretBytes> generated;  // the DEK when the KMS generated it
};

struct UnwrapResult {
  SecretBytes plaintext;
  std::string key_version_id;  // the version that sealed the ciphertext
  // When the key was rotated since: the ciphertext under the newest version.
  std::optional<std::string> rewrapped;
  std::string rewrapped_version_id;
};

struct RewrapResult {
  std::string ciphertext;
  std::string key_version_id;             // the newest version
  std::string rewrapped_from_version_id;  // the version the old ciphertext used
};

struct ImportTokenView {
  ImportToken token;
  std::optional<std::string> nonce_b64;  // GET only
};

// One instance policy to write: its type (kInstancePolicyTypes) and its data.
struct InstancePolicyUpdate {
  std::string type;
  InstancePolicyData data;
};

struct InstancePolicyWriteOptions {
  // The caller's network address (API requests); empty for calls made inside veild, which the
  // allowedIP policy does not concern.
  std::string remote_address;
  // The caller, from an address the enabled allowedIP policy does not allow, confirms that it
  // replaces the allowedIP policy (the way back in for an owner the policy locked out).
  bool confirm_outside_allowed_ip = false;
};

struct InstancePolicyWrite {
  bool outside_allowed_ip = false;  // made from outside the allow-list, as confirmed
};

// A lifecycle change, as told to registered services.
struct KeyEvent {
  std::string event_id;
  std::string type;  // "disable" | "enable" | "delete" | "restore" | "rotate"
  std::string key_id;
  std::string key_crn;
  KeyState state = KeyState::kActive;
  std::string new_key_version_id;           // rotate
  std::string old_key_version_id;           // rotate
  std::vector<Registration> registrations;  // of the listener's service
  TimePoint time;
};

class KeyEventListener {
 public:
  virtual ~KeyEventListener() = default;
  // Called after the change committed, on the thread that made it. An error is logged; the
  // change stands (as Key Protect: the adopter must act on it).
  [[nodiscard]] virtual Status OnKeyEvent(const KeyEvent& event) = 0;
};

class KmsService {
 public:
  // Migrates the "kms" component and subscribes to kKeyChannel. Everything must outlive it.
  [[nodiscard]] static Result<std::unique_ptr<KmsService>> Create(store::Database& db,
                                                                  hsm::KeyStore& hsm,
                                                                  const Clock& clock,
                                                                  Random& random,
                                                                  KmsOptions options = {});
  ~KmsService();

  KmsStore& store() { return store_; }
  const KmsOptions& options() const { return options_; }

  // Tells `listener` of lifecycle changes to keys on which the service whose iam_id is
  // `service_iam_id` registered resources (registrations record their creator's iam_id).
  void AddListener(std::string service_iam_id, KeyEventListener* listener);

  // --- Keys
  [[nodiscard]] Result<Key> CreateKey(const InstanceRef& instance, const CreateKeySpec& spec,
                                      const Actor& actor);
  // By id or alias, in any state (404 KEY_NOT_FOUND_ERR when absent or purged).
  [[nodiscard]] Result<Key> GetKey(const InstanceRef& instance, std::string_view id_or_alias);
  // The payload of a standard key: 400 KEY_ROOT_REQ_ERR for root keys (they have none), and
  // only while the key is Active (KeyAction::kReadPayload): 409 KEY_ACTION_INVALID_STATE_ERR
  // when Suspended, Deactivated (also by expiry) or Pre-activation, 410 KEY_DELETED_ERR.
  [[nodiscard]] Result<SecretBytes> GetPayload(const Key& key);
  [[nodiscard]] Result<std::vector<Key>> ListKeys(const InstanceRef& instance,
                                                  const ListKeysOptions& options);
  [[nodiscard]] Result<int64_t> CountKeys(const InstanceRef& instance,
                                          const ListKeysOptions& options);
  [[nodiscard]] Result<Key> PatchKeyRing(const Key& key, std::string_view key_ring_id);

  // --- Actions
  [[nodiscard]] Result<WrapResult> Wrap(const Key& key, std::optional<SecretBytes> plaintext,
                                        const std::vector<std::string>& aad);
  [[nodiscard]] Result<UnwrapResult> Unwrap(const Key& key, std::string_view ciphertext,
                                            const std::vector<std::string>& aad);
  [[nodiscard]] Result<RewrapResult> Rewrap(const Key& key, std::string_view ciphertext,
                                            const std::vector<std::string>& aad);
  // A new version. Imported keys need `material` (new key material); generated ones must not.
  // With the instance's keyCreateImportAccess enforce_token, the material must come through the
  // import token (409 KEY_CREATE_IMPORT_ACCESS_ERR); secure material uses up the token as at
  // creation (RetrieveImportToken).
  [[nodiscard]] Result<Key> Rotate(const Key& key, std::optional<ImportedMaterial> material);
  [[nodiscard]] Result<Key> Disable(const Key& key);
  [[nodiscard]] Result<Key> Enable(const Key& key);
  [[nodiscard]] Result<Key> SetKeyForDeletion(const Key& key, const Actor& actor);
  [[nodiscard]] Result<Key> UnsetKeyForDeletion(const Key& key);
  [[nodiscard]] Result<Key> Delete(const Key& key, bool force, const Actor& actor);
  // Back to Active within the restore window. For an imported key, a `material` given must be
  // the key's current material (400 BAD_BODY_ERR otherwise, for root and standard keys alike),
  // and follows the instance's enforce_token as Rotate does.
  [[nodiscard]] Result<Key> Restore(const Key& key, std::optional<ImportedMaterial> material);
  [[nodiscard]] Status Purge(const Key& key);
  [[nodiscard]] Result<std::vector<KeyVersion>> ListVersions(const Key& key);
  // Tells the registered services again of the key's state ("sync").
  [[nodiscard]] Status Sync(const Key& key);

  // --- Aliases and key rings
  [[nodiscard]] Result<Key> CreateAlias(const Key& key, std::string_view alias);
  [[nodiscard]] Status DeleteAlias(const Key& key, std::string_view alias);
  [[nodiscard]] Result<KeyRing> CreateKeyRing(const InstanceRef& instance, std::string_view id,
                                              const Actor& actor);
  [[nodiscard]] Result<std::vector<KeyRing>> ListKeyRings(const InstanceRef& instance);
  // force: keys still in the ring (all Destroyed) move to "default".
  [[nodiscard]] Status DeleteKeyRing(const InstanceRef& instance, std::string_view id, bool force);

  // --- Policies
  [[nodiscard]] Result<Key> SetRotationPolicy(const Key& key, bool enabled, int interval_month);
  // Enables dual authorization on the key for good: once enabled (by this call, or at creation
  // under the instance's dualAuthDelete policy) it cannot be turned off (400 BAD_BODY_ERR),
  // as Key Protect documents; the key keeps it until it is deleted.
  [[nodiscard]] Result<Key> SetDualAuthPolicy(const Key& key, bool enabled);
  [[nodiscard]] Result<std::vector<InstancePolicy>> GetInstancePolicies(
      const InstanceRef& instance);
  // The allowedIP instance policy: OK, or kPermissionDenied (403 UNAUTHORIZED_ERR) when it is
  // enabled and `remote_address` lies in none of its blocks. From a cache that every policy
  // change invalidates (kInstancePolicyChannel).
  [[nodiscard]] Status CheckAllowedIp(const InstanceRef& instance, std::string_view remote_address);
  // Writes `updates` in one transaction (each policy_data already validated by the caller's
  // parser). When the enabled allowedIP policy does not allow options.remote_address, the caller
  // may only replace the allowedIP policy, alone and with options.confirm_outside_allowed_ip:
  // anything else is 403 UNAUTHORIZED_ERR. Turning dualAuthDelete off does not relax the keys
  // created while it was on (they carry dual authorization themselves).
  [[nodiscard]] Result<InstancePolicyWrite> PutInstancePolicies(
      const InstanceRef& instance, std::vector<InstancePolicyUpdate> updates, const Actor& actor,
      InstancePolicyWriteOptions options = {});
  // One policy given as its policy_data JSON text (ParseInstancePolicyData), as
  // PutInstancePolicies.
  [[nodiscard]] Status PutInstancePolicy(const InstanceRef& instance, std::string_view type,
                                         std::string_view data_json, const Actor& actor);

  // --- Registrations (service principals only for changes; a service updates and deletes only
  // the registrations it created: 403 RESOURCE_OWNER_ERR for another's)
  [[nodiscard]] Result<Registration> CreateRegistration(const Key& key, std::string_view crn,
                                                        std::string description,
                                                        bool prevent_key_deletion,
                                                        std::string key_version_id,
                                                        const Actor& actor);
  [[nodiscard]] Result<Registration> UpdateRegistration(const Key& key, std::string_view crn,
                                                        std::optional<std::string> description,
                                                        std::optional<bool> prevent_key_deletion,
                                                        std::optional<std::string> key_version_id,
                                                        const Actor& actor);
  [[nodiscard]] Status DeleteRegistration(const Key& key, std::string_view crn, const Actor& actor);
  [[nodiscard]] Result<std::vector<Registration>> ListRegistrations(const Key& key);
  // Registrations of the instance whose CRN matches `crn_query` ('*' matches any run of
  // characters), optionally only those with preventKeyDeletion.
  [[nodiscard]] Result<std::vector<Registration>> QueryRegistrations(
      const InstanceRef& instance, std::string_view crn_query,
      std::optional<bool> prevent_key_deletion, int64_t limit, int64_t offset);

  // --- Import token
  [[nodiscard]] Result<ImportToken> CreateImportToken(const InstanceRef& instance,
                                                      int64_t expiration_s, int64_t max_retrievals);
  // Counts one retrieval (409 IMPORT_TOKEN_EXPIRED_ERR once expired or used up).
  // Each retrieval allows one import (create, rotate or restore with secure material): an
  // import is refused once the token expired or as many imports as retrievals were made
  // (409 IMPORT_TOKEN_EXPIRED_ERR), and an encrypted nonce is accepted once (a replayed
  // payload: 400 INCORRECT_NONCE_ERR). A new token replaces the old one and its count.
  [[nodiscard]] Result<ImportTokenView> RetrieveImportToken(const InstanceRef& instance);

  // --- Background work (the scheduler calls it every minute): expired keys become
  // Deactivated, rotation policies rotate due keys, Destroyed keys past 90 days are purged,
  // stale dual-auth approvals are dropped. Returns how many keys changed.
  [[nodiscard]] Result<int> RunMaintenance();

  // Drops `key_id` from the cache (called for each kKeyChannel notification).
  void Invalidate(std::string_view key_id);
  // Drops the cached policies of `instance_id` (each kInstancePolicyChannel notification).
  void InvalidateInstance(std::string_view instance_id);

 private:
  struct CachedKey;
  struct CachedPolicies;
  [[nodiscard]] Result<std::shared_ptr<const CachedPolicies>> PoliciesOf(
      const std::string& instance_id);
  KmsService(store::Database& db, hsm::KeyStore& hsm, const Clock& clock, Random& random,
             KmsOptions options);

  // A secure import's claim on the import token, made good in the transaction that stores the
  // imported material (ConsumeImportToken).
  struct TokenUse {
    std::string token_id;
    std::string nonce_digest;  // hex SHA-256 of the iv and the encrypted nonce
  };
  struct ImportedPlain {
    SecretBytes plain;
    std::optional<TokenUse> use;  // secure imports only
  };

  [[nodiscard]] Result<std::shared_ptr<const CachedKey>> Load(std::string_view key_id);
  // The instance hold (KmsOptions::hold_instance), as 404 INSTANCE_NOT_FOUND_ERR.
  [[nodiscard]] Status HoldInstance(store::Tx& tx, std::string_view instance_id);
  // keyCreateImportAccess at creation: the kind of key, and enforce_token.
  [[nodiscard]] Status CheckCreateImportAccess(const InstanceRef& instance,
                                               const CreateKeySpec& spec);
  // In `tx`: whether the instance's dualAuthDelete policy is on (read in the transaction).
  [[nodiscard]] Result<bool> InstanceDualAuth(store::Tx& tx, const std::string& instance_id);
  // enforce_token for new material of an existing key (rotate, restore).
  [[nodiscard]] Status CheckEnforceToken(const std::string& instance_id,
                                         const ImportedMaterial& material);
  [[nodiscard]] Result<ImportedPlain> MaterialFromImport(const InstanceRef& instance,
                                                         const ImportedMaterial& material,
                                                         bool root);
  // The plain material of a secure import, checked against the instance's import token.
  [[nodiscard]] Result<ImportedPlain> OpenSecureImport(const InstanceRef& instance,
                                                       const ImportedMaterial& material);
  // In `tx`: the token `use` claims is still the instance's, unexpired, with a retrieval left
  // for this import, and its encrypted nonce was never used; records the use.
  [[nodiscard]] Status ConsumeImportToken(store::Tx& tx, const std::string& instance_id,
                                          const TokenUse& use);
  // The imported key's current material equals `material` (restore).
  [[nodiscard]] Result<std::optional<TokenUse>> CheckRestoredMaterial(
      const Key& key, const ImportedMaterial& material);
  // PutInstancePolicies' allowedIP rule: whether the write comes from outside the allow-list,
  // or 403 UNAUTHORIZED_ERR.
  [[nodiscard]] Result<bool> CheckPolicyWriteOrigin(
      const InstanceRef& instance, const std::vector<InstancePolicyUpdate>& updates,
      const InstancePolicyWriteOptions& options);
  // Reads the key inside one transaction, applies `change` (which may refuse), stamps updated_at,
  // bumps the revision, writes it and announces it on kKeyChannel; the key as written.
  [[nodiscard]] Result<Key> Mutate(const std::string& key_id,
                                   const std::function<Status(store::Tx&, Key&)>& change);
  [[nodiscard]] Result<Key> Transition(const Key& key, KeyAction action, KeyState to,
                                       std::string_view event_type);
  [[nodiscard]] Result<Key> RotateWith(const Key& key, hsm::WrappedKey wrapped,
                                       std::optional<TokenUse> use);
  [[nodiscard]] Result<std::string> Seal(const CachedKey& entry, const std::string& version_id,
                                         std::span<const uint8_t> plaintext,
                                         const std::vector<std::string>& aad);
  [[nodiscard]] Result<bool> DualAuthRequired(const Key& key);
  void Notify(const Key& key, std::string_view type, std::string_view old_version = {});

  store::Database& db_;
  KmsStore store_;
  hsm::KeyStore& hsm_;
  const Clock& clock_;
  Random& random_;
  KmsOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const CachedKey>> cache_;  // mu_
  uint64_t generation_ = 0;                                                  // mu_
  std::unordered_map<std::string, std::string> aliases_;  // mu_: "<instance>/<alias>" -> key id
  std::mutex listeners_mu_;
  std::multimap<std::string, KeyEventListener*> listeners_;  // listeners_mu_
  store::Subscription subscription_;
  std::mutex policies_mu_;
  std::unordered_map<std::string, std::shared_ptr<const CachedPolicies>> policies_;  // policies_mu_
  uint64_t policies_generation_ = 0;                                                 // policies_mu_
  store::Subscription policy_subscription_;
};

// The KEY_ACTION_INVALID_STATE_ERR / KEY_DELETED_ERR refusal for `action` in `state`, or OK.
[[nodiscard]] Status CheckKeyAction(const Key& key, KeyAction action);

}  // namespace veil::kms
