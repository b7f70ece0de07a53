#include "kms/model.h"

#include <array>

#include "common/crn.h"
#include "common/uuid.h"

namespace veil::kms {

std::string_view KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kPreActivation:
      return "Pre-activation";
    case KeyState::kActive:
      return "Active";
    case KeyState::kSuspended:
      return "Suspended";
    case KeyState::kDeactivated:
      return "Deactivated";
    case KeyState::kDestroyed:
      return "Destroyed";
  }
  return "Unknown";
}

Result<KeyState> KeyStateFromInt(int64_t value) {
  switch (value) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 5:
      return static_cast<KeyState>(value);
    default:
      return InvalidArgument("unknown key state " + std::to_string(value));
  }
}

std::string_view KeyActionName(KeyAction action) {
  switch (action) {
    case KeyAction::kGet:
      return "get";
    case KeyAction::kList:
      return "list";
    case KeyAction::kRotate:
      return "rotate";
    case KeyAction::kWrap:
      return "wrap";
    case KeyAction::kUnwrap:
      return "unwrap";
    case KeyAction::kDisable:
      return "disable";
    case KeyAction::kEnable:
      return "enable";
    case KeyAction::kDelete:
      return "delete";
    case KeyAction::kRestore:
      return "restore";
    case KeyAction::kPurge:
      return "purge";
    case KeyAction::kReadPayload:
      return "read the payload";
  }
  return "unknown";
}

bool KeyActionAllowed(KeyAction action, KeyState state) {
  using S = KeyState;
  switch (action) {
    case KeyAction::kGet:
      return true;
    case KeyAction::kList:
      return state != S::kDestroyed;
    case KeyAction::kRotate:
    case KeyAction::kUnwrap:
      return state == S::kActive || state == S::kDeactivated;
    case KeyAction::kWrap:
    case KeyAction::kDisable:
    case KeyAction::kReadPayload:
      return state == S::kActive;
    case KeyAction::kEnable:
      return state == S::kSuspended;
    case KeyAction::kDelete:
      return state != S::kDestroyed;
    case KeyAction::kRestore:
    case KeyAction::kPurge:
      return state == S::kDestroyed;
  }
  return false;
}

std::string Key::crn(std::string_view region) const {
  Crn c;
  c.service = "kms";
  c.region = std::string(region);
  c.account = account_id;
  c.service_instance = instance_id;
  c.resource_type = "key";
  c.resource = id;
  return c.ToString();
}

namespace {

constexpr std::array<std::string_view, 16> kReservedAliases = {
    "allowed_ip",   "key",           "keys",    "metadata", "policy", "policies",
    "registration", "registrations", "ring",    "rings",    "rotate", "wrap",
    "unwrap",       "rewrap",        "version", "versions"};

bool IsNameChar(char c, bool underscore) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         (underscore && c == '_');
}

}  // namespace

Status ValidateAlias(std::string_view alias) {
  if (alias.size() < 2 || alias.size() > 90) {
    return InvalidArgument("an alias has 2 to 90 characters");
  }
  for (char c : alias) {
    if (!IsNameChar(c, true)) {
      return InvalidArgument("an alias has only letters, digits, '-' and '_'");
    }
  }
  if (IsUuidV4(alias)) return InvalidArgument("an alias must not be a UUID");
  for (std::string_view reserved : kReservedAliases) {
    if (alias == reserved) return InvalidArgument("'" + std::string(alias) + "' is reserved");
  }
  return OkStatus();
}

Status ValidateKeyRingId(std::string_view id) {
  if (id.empty() || id.size() > 100)
    return InvalidArgument("a key ring id has 1 to 100 characters");
  for (char c : id) {
    if (!IsNameChar(c, false)) {
      return InvalidArgument("a key ring id has only letters, digits and '-'");
    }
  }
  return OkStatus();
}

Status ValidateKeyName(std::string_view name) {
  if (name.size() < 2 || name.size() > 90)
    return InvalidArgument("a key name has 2 to 90 characters");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return InvalidArgument("a key name has no control characters");
  }
  return OkStatus();
}

}  // namespace veil::kms
