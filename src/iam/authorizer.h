// Authorization: may this subject perform this action on this resource?
//
// Authorizer is the policy decision point services call (deny by default). LocalAuthorizer reads
// the policies from the database (with a small per-account cache that every policy change
// invalidates through Database::Notify); an HTTP implementation over POST /v2/authz will serve
// services that run apart from IAM.
//
// The rules (EvaluatePolicies, docs/iam.md "Authorization"):
//   - only policies of the resource's account count: a policy in another account grants nothing;
//   - a user or service ID is matched by access policies whose subject iam_id is theirs;
//   - a user may perform the iam-identity.user-apikey.* actions on their own user (their own API
//     keys) without a policy; a service ID has no such rule: it manages API keys, its own
//     included, only as a policy allows;
//   - a Veil service (server-protect, is, cloud-object-storage, ...) acting on a customer's
//     resource is matched only by authorization policies of that customer's account from that
//     source service (and instance, resource type, source account when the policy names them);
//   - every resource attribute a policy names must equal the request's; those it leaves out
//     match anything;
//   - one role of a matching policy must allow the action in the action tables (roles.h for the
//     hierarchy, action_table.h for the tables). Nothing else allows anything.
//
// Thread-safety: Authorizer implementations are safe to call from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "iam/action_table.h"
#include "iam/policy.h"
#include "store/database.h"

namespace veil::iam {

class IamStore;

// Who asks.
struct Subject {
  enum class Type { kUser, kServiceId, kService };
  Type type = Type::kUser;
  std::string iam_id;
  // Users and service IDs: their account. Services: the account on whose behalf they act (the
  // source resource's account); empty means the target resource's account.
  std::string account_id;
  std::string service_name;      // services only
  std::string service_instance;  // services only, optional: the source instance
  std::string resource_type;     // services only, optional: the source resource type
};

// The iam_id Veil gives its own service `service_name`: "crn-crn:v1:veil:public:<name>:::::".
std::string ServiceIamId(std::string_view service_name);
// The subject of Veil's service `service_name` acting for `account_id` (optionally from one of
// its instances), for in-process calls.
Subject ServiceSubject(std::string_view service_name, std::string_view account_id = {},
                       std::string_view service_instance = {});

// What is acted on. account_id is required: a resource outside every account is denied.
struct ResourceAttributes {
  std::string account_id;
  std::string service_name;
  std::string service_instance;
  std::string resource_type;
  std::string resource;
};

struct Decision {
  bool permitted = false;
  std::string reason;     // why (names the policy or what was missing); never a secret
  std::string policy_id;  // the policy that allowed it
};

// The decision for `policies` (those of resource.account_id), by the rules above. Pure.
Decision EvaluatePolicies(const std::vector<Policy>& policies, const ActionRegistry& registry,
                          const Subject& subject, std::string_view action,
                          const ResourceAttributes& resource);

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // The decision, or an error when it could not be made (kUnavailable: the store is down). A
  // denial is a Decision with permitted == false, not an error.
  [[nodiscard]] virtual Result<Decision> Authorize(const Subject& subject, std::string_view action,
                                                   const ResourceAttributes& resource) = 0;
};

// OK when permitted; kPermissionDenied "<action> is not allowed on <what>" otherwise, or the
// Authorizer's error.
[[nodiscard]] Status RequirePermission(Authorizer& authorizer, const Subject& subject,
                                       std::string_view action, const ResourceAttributes& resource);

// The Notify channel on which every policy change is announced (payload: the account id).
inline constexpr std::string_view kPolicyChannel = "iam_policy";

class LocalAuthorizer final : public Authorizer {
 public:
  // Subscribes to kPolicyChannel. `store`, `db` and `registry` must outlive the authorizer.
  // At most `max_cached_accounts` accounts' policies are cached (the cache empties when full).
  [[nodiscard]] static Result<std::unique_ptr<LocalAuthorizer>> Create(
      store::Database& db, IamStore& store, const ActionRegistry& registry,
      size_t max_cached_accounts = 1024);

  [[nodiscard]] Result<Decision> Authorize(const Subject& subject, std::string_view action,
                                           const ResourceAttributes& resource) override;

  // Drops the cached policies of `account_id` (called for each notification).
  void Invalidate(std::string_view account_id);

 private:
  LocalAuthorizer(IamStore& store, const ActionRegistry& registry, size_t max_cached_accounts);
  [[nodiscard]] Result<std::shared_ptr<const std::vector<Policy>>> PoliciesOf(
      const std::string& account_id);

  IamStore& store_;
  const ActionRegistry& registry_;
  const size_t max_cached_accounts_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<Policy>>> cache_;  // mu_
  uint64_t generation_ = 0;  // mu_: bumped by every invalidation
  store::Subscription subscription_;
};

}  // namespace veil::iam
