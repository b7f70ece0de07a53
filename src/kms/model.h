// The KMS data model: keys, their versions, key rings, aliases, registrations, policies and import
// tokens, as KmsService hands them out; and Key Protect's state table (docs/api-compatibility.md).
//
// Identifiers (docs/kms.md "Identifiers"):
//   key, key version, import token   <uuid v4>
//   key CRN   crn:v1:veil:private:kms:<region>:a/<account>:<instance>:key:<key id>
//   key ring  1-100 characters [A-Za-z0-9-]; every instance has the ring "default"
//   alias     2-90 characters [A-Za-z0-9_-], not a UUID v4, not a reserved word
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time.h"

namespace veil::kms {

// Key states (Key Protect's integers): Pre-activation 0, Active 1, Suspended 2, Deactivated 3,
// Destroyed 5. "Purged" is the absence of the key.
enum class KeyState : int {
  kPreActivation = 0,
  kActive = 1,
  kSuspended = 2,
  kDeactivated = 3,
  kDestroyed = 5,
};

std::string_view KeyStateName(KeyState state);
// kInvalidArgument for an integer that is not a state.
[[nodiscard]] Result<KeyState> KeyStateFromInt(int64_t value);

// What can be done to a key; KeyActionAllowed() is Key Protect's table of key states.
enum class KeyAction {
  kGet,
  kList,
  kRotate,
  kWrap,
  kUnwrap,  // unwrap and rewrap
  kDisable,
  kEnable,
  kDelete,
  kRestore,
  kPurge,
  kReadPayload,  // a standard key's material (GET /keys/{id})
};

std::string_view KeyActionName(KeyAction action);

//            Active Suspended Deactivated Destroyed
//   get        ✓       ✓          ✓           ✓
//   list       ✓       ✓          ✓
//   rotate     ✓                  ✓
//   wrap       ✓
//   unwrap     ✓                  ✓              (and rewrap)
//   disable    ✓
//   enable             ✓
//   delete     ✓       ✓          ✓
//   restore                                   ✓
//   purge                                     ✓  (4 hours after deletion, KeyPurge role)
//   read payload ✓                                (standard keys, as Key Protect)
// Pre-activation allows get, list and delete.
bool KeyActionAllowed(KeyAction action, KeyState state);

inline constexpr std::string_view kDefaultKeyRing = "default";
inline constexpr size_t kMaxAliasesPerKey = 5;
inline constexpr size_t kMaxStandardPayload = 7500;

// One version of a key's material; the material itself is a blob wrapped by the HSM master key.
struct KeyVersion {
  std::string id;
  std::string key_id;
  int64_t seq = 0;  // 1, 2, ... in rotation order
  TimePoint created_at;
};

struct Key {
  std::string id;
  std::string instance_id;
  std::string account_id;
  std::string name;
  std::string description;
  std::string key_ring_id = std::string(kDefaultKeyRing);
  bool extractable = false;  // false: root key; true: standard key
  bool imported = false;
  KeyState state = KeyState::kActive;
  std::string created_by;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> rotated_at;
  std::optional<TimePoint> expires_at;
  std::string deleted_by;
  std::optional<TimePoint> deleted_at;
  bool dual_auth_delete = false;
  bool rotation_enabled = false;
  int rotation_interval_month = 0;  // 1..12 when set
  // Dual authorization: the first Manager's approval, valid for 7 days.
  std::string dual_auth_set_by;
  std::optional<TimePoint> dual_auth_set_at;
  std::vector<std::string> aliases;
  KeyVersion current;           // the newest version (what wrap uses)
  int64_t material_bits = 256;  // of the current version (AES key or payload size)
  int64_t revision = 1;

  bool is_root() const { return !extractable; }
  std::string crn(std::string_view region) const;
};

struct KeyRing {
  std::string id;
  std::string instance_id;
  std::string created_by;
  TimePoint created_at;
};

struct Registration {
  std::string key_id;
  std::string resource_crn;
  std::string instance_id;
  std::string created_by;
  TimePoint created_at;
  std::string updated_by;
  TimePoint updated_at;
  std::string description;
  bool prevent_key_deletion = false;
  std::string key_version_id;
  TimePoint key_version_created_at;
};

// An instance policy's policy_data (kms/instance_policy.h reads and writes its JSON form). Each
// attribute belongs to the policy type named beside it; an unset attribute was not given.
struct InstancePolicyData {
  bool enabled = false;
  std::optional<int> interval_month;           // rotation: 1-12
  std::vector<std::string> allowed_ip;         // allowedIP: CIDR blocks
  std::optional<std::string> allowed_network;  // allowedNetwork
  // keyCreateImportAccess: an unset create/import attribute allows, an unset enforce_token does
  // not enforce.
  std::optional<bool> create_root_key;
  std::optional<bool> create_standard_key;
  std::optional<bool> import_root_key;
  std::optional<bool> import_standard_key;
  std::optional<bool> enforce_token;

  bool operator==(const InstancePolicyData&) const = default;
};

// An instance policy (docs/kms.md): its type (kInstancePolicyTypes) and data.
struct InstancePolicy {
  std::string type;  // dualAuthDelete | rotation | allowedNetwork | allowedIP | metrics |
                     // keyCreateImportAccess
  InstancePolicyData data;
  std::string updated_by;
  TimePoint updated_at;
};

// The instance's secure-import token. The RSA private key is sealed by the HSM.
struct ImportToken {
  std::string id;
  std::string instance_id;
  TimePoint created_at;
  TimePoint expires_at;
  int64_t max_retrievals = 1;
  int64_t remaining_retrievals = 1;
  std::string public_key_pem;
  std::vector<uint8_t> sealed_private_key;  // PEM of the RSA key, sealed by the HSM
  std::vector<uint8_t> sealed_nonce;        // the nonce, sealed by the HSM
};

// Validation of names given by clients.
[[nodiscard]] Status ValidateAlias(std::string_view alias);
[[nodiscard]] Status ValidateKeyRingId(std::string_view id);
[[nodiscard]] Status ValidateKeyName(std::string_view name);

}  // namespace veil::kms
