// The IAM data model: accounts, identities (users and service IDs), API key metadata and resource
// instances, as IamService hands them out. Policies live in policy.h.
//
// Identifier formats (docs/iam.md "Identifiers"):
//   account            32 lower-case hex characters (like IBM's BSS account id)
//   user               id = iam_id = "IBMid-<uuid>"
//   service ID         id = "ServiceId-<uuid>", iam_id = "iam-ServiceId-<uuid>"
//   API key            id = "ApiKey-<uuid>"
//   policy             <uuid>
//   resource instance  guid = <uuid>, crn =
//   crn:v1:veil:private:<service>:<region>:a/<acct>:<guid>::
//   resource key       guid = <uuid>, crn =
//   crn:v1:veil:private:<service>:<region>:a/<acct>:<instance guid>:resource-key:<guid>
//
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time.h"

namespace veil::iam {

inline constexpr std::string_view kUserPrefix = "IBMid-";
inline constexpr std::string_view kServiceIdPrefix = "ServiceId-";
inline constexpr std::string_view kServiceIdIamPrefix = "iam-ServiceId-";
inline constexpr std::string_view kApiKeyPrefix = "ApiKey-";
// The CRN service names of IAM's own parts.
inline constexpr std::string_view kIdentityService = "iam-identity";
inline constexpr std::string_view kAccessService = "iam-am";
inline constexpr std::string_view kResourceController = "resource-controller";
// The object storage service: its instances are the only ones with resource keys.
inline constexpr std::string_view kObjectStorageService = "cloud-object-storage";

struct Account {
  std::string id;
  std::string name;
  bool active = true;
  TimePoint created_at;
  std::string owner_iam_id;  // the first administrator; empty for accounts made without one
  std::string created_by;    // iam_id of the creator, "system" for the first account
};

enum class IdentityKind { kUser, kServiceId };

// A user or a service ID: something that holds API keys, gets tokens and is a policy subject.
struct Identity {
  IdentityKind kind = IdentityKind::kServiceId;
  std::string iam_id;  // "IBMid-<uuid>" | "iam-ServiceId-<uuid>"
  std::string id;      // "IBMid-<uuid>" | "ServiceId-<uuid>"
  std::string account_id;
  std::string name;
  std::string description;
  std::string email;  // users only; may be empty
  bool locked = false;
  int64_t version = 1;  // entity_tag; bumped by every change
  TimePoint created_at;
  TimePoint modified_at;
  std::string created_by;  // iam_id of the creator, "system" for the first account

  std::string crn() const;
};

// An API key's metadata. The key's value is never stored: only a salted hash of its secret part.
struct ApiKey {
  std::string id;      // "ApiKey-<uuid>"
  std::string iam_id;  // the owner (user or service ID)
  std::string account_id;
  std::string name;
  std::string description;
  bool locked = false;
  int64_t version = 1;
  TimePoint created_at;
  TimePoint modified_at;
  std::string created_by;

  std::string crn() const;
};

struct ResourceInstance {
  std::string guid;
  std::string crn;
  std::string account_id;
  std::string name;
  std::string resource_id;  // the service: "kms" | "cloud-object-storage"
  std::string region;       // the "target", "local" by default
  std::string state = "active";
  TimePoint created_at;
  TimePoint updated_at;
  std::string created_by;
};

// A resource key (IBM's "service credential") of a cloud-object-storage instance: a service ID of
// its own, named after the key, with an access policy granting `role` on the instance and an API
// key; with HMAC, also an S3 access key id whose secret is stored only sealed (SecretSealer).
struct ResourceKey {
  std::string guid;
  std::string crn;
  std::string account_id;
  std::string name;
  std::string instance_guid;  // the source: a cloud-object-storage instance of the account
  std::string source_crn;     // that instance's CRN
  std::string role;           // "Reader" | "Writer" | "Manager" (a generic service role)
  std::string iam_id;         // the key's service ID ("iam-ServiceId-<uuid>")
  std::string apikey_id;      // the service ID's API key ("ApiKey-<uuid>")
  std::string policy_id;      // the access policy granting `role` on the instance
  std::string access_key_id;  // 32 lower-case hex characters; empty without HMAC
  std::string state = "active";
  TimePoint created_at;
  TimePoint updated_at;
  std::string created_by;
};

// A page of a listing. `next` is the opaque token of the next page, empty on the last one.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next;
  int64_t offset = 0;
  int64_t limit = 0;
};

// Paging request: `token` is empty or a `next` from a previous page; `size` in 1..100.
struct PageRequest {
  std::string token;
  int64_t size = 20;
};

// The CRN of an identity or API key: crn:v1:veil:private:iam-identity::a/<acct>::<type>:<id>.
std::string IdentityCrn(std::string_view account_id, std::string_view type, std::string_view id);
// crn:v1:veil:private:<service>:<region>:a/<acct>:<guid>::
std::string InstanceCrn(std::string_view service, std::string_view region,
                        std::string_view account_id, std::string_view guid);

// crn:v1:veil:private:<service>:<region>:a/<acct>:<instance guid>:resource-key:<key guid>
std::string ResourceKeyCrn(std::string_view service, std::string_view region,
                           std::string_view account_id, std::string_view instance_guid,
                           std::string_view key_guid);

// True for a 32-character lower-case hex account id.
bool IsAccountId(std::string_view text);
// "iam-ServiceId-<uuid>" | "IBMid-<uuid>": the kind, or nullopt for anything else.
std::optional<IdentityKind> KindOfIamId(std::string_view iam_id);
// Maps "ServiceId-<uuid>" and "iam-ServiceId-<uuid>" to the iam_id; "IBMid-<uuid>" to itself;
// kInvalidArgument for anything else.
[[nodiscard]] Result<std::string> IamIdFromAnyId(std::string_view id);

}  // namespace veil::iam
