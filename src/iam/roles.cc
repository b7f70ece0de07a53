#include "iam/roles.h"

#include <array>

#include "common/crn.h"

namespace veil::iam {
namespace {

constexpr std::array<std::string_view, 4> kPlatform = {"Viewer", "Operator", "Editor",
                                                       "Administrator"};
constexpr std::array<std::string_view, 3> kGenericService = {"Reader", "Writer", "Manager"};

struct SpecificRole {
  std::string_view service;
  std::string_view name;
};
constexpr std::array<SpecificRole, 3> kSpecific = {{
    {"kms", "ReaderPlus"},
    {"kms", "KeyPurge"},
    {"kms", "KmipAdapterManager"},
}};

int Rank(std::string_view name, const auto& ladder) {
  for (size_t i = 0; i < ladder.size(); ++i) {
    if (ladder[i] == name) return static_cast<int>(i) + 1;
  }
  return 0;
}

}  // namespace

std::string Role::role_id() const {
  Crn crn;
  crn.ctype = "public";
  crn.region = "";
  crn.service = service.empty() ? "iam" : service;
  crn.resource_type = kind == RoleKind::kPlatform ? "role" : "serviceRole";
  crn.resource = name;
  return crn.ToString();
}

Result<Role> Role::Parse(std::string_view role_id) {
  auto crn = Crn::Parse(role_id);
  if (!crn) return InvalidArgument("malformed role_id");
  if ((crn->cname != "veil" && crn->cname != "bluemix") || crn->ctype != "public" ||
      !crn->region.empty() || !crn->account.empty() || !crn->service_instance.empty()) {
    return InvalidArgument(
        "malformed role_id (want crn:v1:veil:public:<service>::::<kind>:<name>)");
  }
  Role role;
  role.name = crn->resource;
  if (crn->resource_type == "role") {
    if (crn->service != "iam" || Rank(role.name, kPlatform) == 0) {
      return InvalidArgument("unknown platform role " + role.name);
    }
    role.kind = RoleKind::kPlatform;
    return role;
  }
  if (crn->resource_type != "serviceRole") return InvalidArgument("unknown role kind in role_id");
  role.kind = RoleKind::kService;
  if (crn->service == "iam") {
    if (Rank(role.name, kGenericService) == 0) {
      return InvalidArgument("unknown service role " + role.name);
    }
    return role;
  }
  for (const SpecificRole& s : kSpecific) {
    if (s.service == crn->service && s.name == role.name) {
      role.service = crn->service;
      return role;
    }
  }
  return InvalidArgument("unknown service role " + role.name + " of " + crn->service);
}

Result<Role> Role::FromName(std::string_view name, std::string_view service) {
  Role role;
  role.name = std::string(name);
  if (Rank(name, kPlatform) != 0) return role;
  role.kind = RoleKind::kService;
  if (Rank(name, kGenericService) != 0) return role;
  for (const SpecificRole& s : kSpecific) {
    if (s.service == service && s.name == name) {
      role.service = std::string(service);
      return role;
    }
  }
  return InvalidArgument("unknown role " + std::string(name) +
                         (service.empty() ? std::string() : " for " + std::string(service)));
}

bool Implies(const Role& held, const Role& needed) {
  if (held.kind != needed.kind) return false;
  if (held == needed) return true;
  if (held.kind == RoleKind::kPlatform) {
    return Rank(held.name, kPlatform) >= Rank(needed.name, kPlatform) &&
           Rank(needed.name, kPlatform) > 0;
  }
  // Generic service roles form one ladder.
  if (held.service.empty() && needed.service.empty()) {
    return Rank(held.name, kGenericService) >= Rank(needed.name, kGenericService) &&
           Rank(needed.name, kGenericService) > 0;
  }
  // ReaderPlus (of a service) includes the generic Reader.
  if (held.name == "ReaderPlus" && needed.service.empty() && needed.name == "Reader") return true;
  return false;
}

const std::vector<Role>& KnownRoles() {
  static const std::vector<Role>* roles = [] {
    auto* out = new std::vector<Role>();
    for (std::string_view n : kPlatform) out->push_back({RoleKind::kPlatform, std::string(n), ""});
    for (std::string_view n : kGenericService) {
      out->push_back({RoleKind::kService, std::string(n), ""});
    }
    for (const SpecificRole& s : kSpecific) {
      out->push_back({RoleKind::kService, std::string(s.name), std::string(s.service)});
    }
    return out;
  }();
  return *roles;
}

std::string_view RoleDescription(const Role& role) {
  const std::string& n = role.name;
  if (n == "Viewer") return "View resources; no changes.";
  if (n == "Operator") return "Viewer, plus configure and operate resources.";
  if (n == "Editor") return "Operator, plus create, change and delete resources.";
  if (n == "Administrator") return "Editor, plus manage access (policies) and lock resources.";
  if (n == "Reader") return "Read-only actions on a service's data (e.g. KMS wrap and unwrap).";
  if (n == "Writer") return "Reader, plus create and change a service's data.";
  if (n == "Manager") return "Writer, plus every other service action.";
  if (n == "ReaderPlus") return "Reader, plus retrieving key material.";
  if (n == "KeyPurge") return "Purge deleted keys; granted explicitly only.";
  if (n == "KmipAdapterManager") return "Manage KMIP adapters.";
  return "";
}

}  // namespace veil::iam
