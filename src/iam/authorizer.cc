#include "iam/authorizer.h"

#include <utility>

#include "common/crn.h"
#include "iam/iam_store.h"

namespace veil::iam {
namespace {

constexpr std::string_view kOwnKeyActionPrefix = "iam-identity.user-apikey.";

// Every attribute the policy names equals the request's.
bool ResourceMatches(const Policy& p, const ResourceAttributes& r) {
  for (const PolicyAttribute& a : p.resource) {
    const std::string* have = nullptr;
    if (a.name == "accountId") {
      have = &r.account_id;
    } else if (a.name == "serviceName") {
      have = &r.service_name;
    } else if (a.name == "serviceInstance") {
      have = &r.service_instance;
    } else if (a.name == "resourceType") {
      have = &r.resource_type;
    } else if (a.name == "resource") {
      have = &r.resource;
    }
    // An attribute Veil does not know matches nothing (deny by default).
    if (have == nullptr || *have != a.value) return false;
  }
  return true;
}

bool SubjectMatches(const Policy& p, const Subject& s, const ResourceAttributes& r) {
  if (s.type == Subject::Type::kService) {
    if (p.type != PolicyType::kAuthorization) return false;
    const std::string& acting_for = s.account_id.empty() ? r.account_id : s.account_id;
    for (const PolicyAttribute& a : p.subject) {
      const std::string* have = nullptr;
      if (a.name == "serviceName") {
        have = &s.service_name;
      } else if (a.name == "accountId") {
        have = &acting_for;
      } else if (a.name == "serviceInstance") {
        have = &s.service_instance;
      } else if (a.name == "resourceType") {
        have = &s.resource_type;
      }
      if (have == nullptr || *have != a.value) return false;
    }
    return true;
  }
  if (p.type != PolicyType::kAccess) return false;
  // Policies name subjects of their own account; a subject of another account is a stranger.
  if (!s.account_id.empty() && s.account_id != p.account_id) return false;
  auto iam_id = p.SubjectValue("iam_id");
  return iam_id && !s.iam_id.empty() && *iam_id == s.iam_id;
}

// A user acting on their own API keys: an iam-identity.user-apikey.* action on the user itself,
// in the user's account. Users manage their own keys without a policy (as IBM's users do);
// service IDs have no such rule, so that a leaked service-ID key cannot mint more keys or unlock
// one an administrator locked unless a policy says it may.
bool IsOwnUserKeyAction(const Subject& s, std::string_view action, const ResourceAttributes& r) {
  return s.type == Subject::Type::kUser && !s.iam_id.empty() && !s.account_id.empty() &&
         action.starts_with(kOwnKeyActionPrefix) && r.account_id == s.account_id &&
         r.service_name == "iam-identity" && r.service_instance.empty() &&
         r.resource_type == "user" && r.resource == s.iam_id;
}

std::string Describe(std::string_view action, const ResourceAttributes& r) {
  std::string what = std::string(action) + " is not allowed on ";
  what += r.service_name.empty() ? std::string("account resources") : r.service_name;
  if (!r.service_instance.empty()) what += " instance " + r.service_instance;
  if (!r.resource_type.empty()) what += " " + r.resource_type;
  if (!r.resource.empty()) what += " " + r.resource;
  return what;
}

}  // namespace

std::string ServiceIamId(std::string_view service_name) {
  Crn crn;
  crn.ctype = "public";
  crn.region = "";
  crn.service = std::string(service_name);
  return "crn-" + crn.ToString();
}

Subject ServiceSubject(std::string_view service_name, std::string_view account_id,
                       std::string_view service_instance) {
  Subject s;
  s.type = Subject::Type::kService;
  s.iam_id = ServiceIamId(service_name);
  s.service_name = std::string(service_name);
  s.account_id = std::string(account_id);
  s.service_instance = std::string(service_instance);
  return s;
}

Decision EvaluatePolicies(const std::vector<Policy>& policies, const ActionRegistry& registry,
                          const Subject& subject, std::string_view action,
                          const ResourceAttributes& resource) {
  Decision d;
  if (resource.account_id.empty()) {
    d.reason = "the resource belongs to no account";
    return d;
  }
  if (registry.TableFor(action) == nullptr || !registry.TableFor(action)->Knows(action)) {
    d.reason = "unknown action " + std::string(action);
    return d;
  }
  if (IsOwnUserKeyAction(subject, action, resource)) {
    d.permitted = true;
    d.reason = "a user manages their own API keys";
    return d;
  }
  for (const Policy& p : policies) {
    if (p.account_id != resource.account_id) continue;
    if (!SubjectMatches(p, subject, resource) || !ResourceMatches(p, resource)) continue;
    for (const Role& role : p.roles) {
      if (registry.Allows(role, action)) {
        d.permitted = true;
        d.policy_id = p.id;
        d.reason = "allowed by policy " + p.id + " (role " + role.name + ")";
        return d;
      }
    }
  }
  d.reason = subject.type == Subject::Type::kService
                 ? "no authorization from " + subject.service_name + " in account " +
                       resource.account_id + ": " + Describe(action, resource)
                 : Describe(action, resource);
  return d;
}

Status RequirePermission(Authorizer& authorizer, const Subject& subject, std::string_view action,
                         const ResourceAttributes& resource) {
  Decision d = VEIL_TRY_VALUE(authorizer.Authorize(subject, action, resource));
  if (!d.permitted) return PermissionDenied(d.reason);
  return OkStatus();
}

LocalAuthorizer::LocalAuthorizer(IamStore& store, const ActionRegistry& registry,
                                 size_t max_cached_accounts)
    : store_(store), registry_(registry), max_cached_accounts_(max_cached_accounts) {}

Result<std::unique_ptr<LocalAuthorizer>> LocalAuthorizer::Create(store::Database& db,
                                                                 IamStore& store,
                                                                 const ActionRegistry& registry,
                                                                 size_t max_cached_accounts) {
  std::unique_ptr<LocalAuthorizer> a(new LocalAuthorizer(store, registry, max_cached_accounts));
  LocalAuthorizer* self = a.get();
  a->subscription_ = VEIL_TRY_VALUE(db.Subscribe(
      kPolicyChannel, [self](std::string_view account) { self->Invalidate(account); }));
  return a;
}

void LocalAuthorizer::Invalidate(std::string_view account_id) {
  std::lock_guard lock(mu_);
  cache_.erase(std::string(account_id));
  ++generation_;
}

Result<std::shared_ptr<const std::vector<Policy>>> LocalAuthorizer::PoliciesOf(
    const std::string& account_id) {
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(account_id); it != cache_.end()) return it->second;
    generation = generation_;
  }
  auto loaded = std::make_shared<const std::vector<Policy>>(
      VEIL_TRY_VALUE(store_.ListPoliciesOfAccount(account_id)));
  std::lock_guard lock(mu_);
  // A change announced while we read may be missing from what we read: use it once, keep it not.
  if (generation == generation_) {
    if (cache_.size() >= max_cached_accounts_) cache_.clear();
    cache_[account_id] = loaded;
  }
  return loaded;
}

Result<Decision> LocalAuthorizer::Authorize(const Subject& subject, std::string_view action,
                                            const ResourceAttributes& resource) {
  if (resource.account_id.empty()) {
    return EvaluatePolicies({}, registry_, subject, action, resource);
  }
  auto policies = VEIL_TRY_VALUE(PoliciesOf(resource.account_id));
  return EvaluatePolicies(*policies, registry_, subject, action, resource);
}

}  // namespace veil::iam
