// IAM roles: platform roles (Viewer, Operator, Editor, Administrator), the generic service roles
// (Reader, Writer, Manager) and service-specific roles (the KMS's ReaderPlus, KeyPurge,
// KmipAdapterManager), their role_id CRNs, and the hierarchy between them.
//
// role_id shapes (IBM's, docs/api-compatibility.md, with Veil's CRN cname "veil"):
//   platform          crn:v1:veil:public:iam::::role:<Name>
//   generic service   crn:v1:veil:public:iam::::serviceRole:<Name>
//   service-specific  crn:v1:veil:public:<service>::::serviceRole:<Name>
// Parse() also accepts IBM's cname "bluemix" in place of "veil", so that policies written for
// IBM Cloud load unchanged; role_id() always answers with "veil".
//
// Hierarchy (Implies): Administrator > Editor > Operator > Viewer; Manager > Writer > Reader;
// ReaderPlus > Reader. KeyPurge and KmipAdapterManager imply nothing and are implied by nothing:
// they must be granted explicitly, even to a Manager (as in Key Protect). A platform role never
// implies a service role, nor the other way round.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::iam {

enum class RoleKind { kPlatform, kService };

struct Role {
  RoleKind kind = RoleKind::kPlatform;
  std::string name;     // "Viewer", "Reader", "ReaderPlus", ...
  std::string service;  // the owning service of a service-specific role; empty otherwise

  // The canonical role_id CRN (cname "veil").
  std::string role_id() const;
  // Parses a role_id CRN; kInvalidArgument for a malformed CRN or an unknown role.
  [[nodiscard]] static Result<Role> Parse(std::string_view role_id);
  // The role called `name` as it applies to `service` ("Reader", "kms" -> the generic Reader;
  // "ReaderPlus", "kms" -> kms's ReaderPlus; "Viewer", any -> the platform Viewer), for CLIs and
  // tests. kInvalidArgument for a name unknown for that service.
  [[nodiscard]] static Result<Role> FromName(std::string_view name, std::string_view service);

  friend bool operator==(const Role&, const Role&) = default;
};

// True when holding `held` gives everything `needed` gives (including held == needed).
bool Implies(const Role& held, const Role& needed);

// The platform and generic service roles, and every service-specific role Veil knows.
const std::vector<Role>& KnownRoles();

// One line about what a role is for (rendered as the role's description in policies).
std::string_view RoleDescription(const Role& role);

}  // namespace veil::iam
