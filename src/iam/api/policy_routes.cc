// Policies (/v1/policies) and the policy decision point (POST /v2/authz).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "common/bytes.h"
#include "common/crn.h"
#include "common/encoding.h"
#include "iam/api/handler_support.h"
#include "iam/api/parse.h"
#include "iam/api/render.h"

namespace veil::iam::api::internal {
namespace {

constexpr std::string_view kPolicyType = "iam-am/policy";
// How long a PDP client may cache a decision (POST /v2/authz obligation).
constexpr int64_t kDecisionMaxAgeSeconds = 60;

// What a policy is about: its target resource (for an authorization policy, the target service).
ResourceAttributes TargetOf(const PolicySpec& p) {
  ResourceAttributes r;
  r.account_id = std::string(p.ResourceValue("accountId").value_or(""));
  r.service_name = std::string(p.ResourceValue("serviceName").value_or(""));
  r.service_instance = std::string(p.ResourceValue("serviceInstance").value_or(""));
  r.resource_type = std::string(p.ResourceValue("resourceType").value_or(""));
  r.resource = std::string(p.ResourceValue("resource").value_or(""));
  return r;
}

std::string PolicyCrn(std::string_view account, std::string_view id) {
  Crn crn;
  crn.service = "iam-am";
  crn.region = "";
  crn.account = std::string(account);
  crn.resource_type = "policy";
  crn.resource = std::string(id);
  return crn.ToString();
}

// Reading a policy: its subject may, and so may whoever may read its target.
Result<bool> MayRead(const IamApiDeps& deps, const Subject& caller, const Policy& p) {
  if (p.type == PolicyType::kAccess && p.SubjectValue("iam_id") == caller.iam_id &&
      caller.account_id == p.account_id) {
    return true;
  }
  Decision d =
      VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, "iam-am.policy.read", TargetOf(p)));
  return d.permitted;
}

// The policy the path names, once the caller may `action` it: `may` decides on a policy that
// exists (reading: MayRead; changing: the action on its target). Another account's policy is
// answered as an unknown one (RequireNamed), judged as a policy on the caller's whole account.
template <typename May>
Result<Policy> AuthorizedPolicy(const IamApiDeps& deps, http::RequestContext& ctx,
                                const Subject& caller, std::string_view action, May may) {
  auto p = deps.service->GetPolicy(ctx.request().PathParam("id").value_or(std::string_view()));
  if (!p && p.error().code != ErrorCode::kNotFound) return tl::unexpected(p.error());
  std::optional<NamedObject> object;
  if (p) {
    auto allowed = VEIL_TRY_VALUE(may(*p));  // not inside the braces (kms/api/parse.cc)
    object = NamedObject{p->account_id, std::move(allowed)};
    if (p->account_id == caller.account_id) {
      SetTarget(ctx, PolicyCrn(p->account_id, p->id), p->id, std::string(kPolicyType));
    }
  }
  VEIL_TRY(RequireNamed(deps, caller, action, object, {caller.account_id, "", "", "", ""},
                        Error(ErrorCode::kNotFound, "policy not found")));
  SetTarget(ctx, PolicyCrn(p->account_id, p->id), p->id, std::string(kPolicyType));
  return std::move(*p);
}

// Whether the caller may `action` on the target of `p`.
Result<bool> MayChange(const IamApiDeps& deps, const Subject& caller, std::string_view action,
                       const Policy& p) {
  Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, action, TargetOf(p)));
  return d.permitted;
}

Result<http::Response> CreatePolicy(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  PolicySpec spec = VEIL_TRY_VALUE(ParsePolicySpec(body));
  const ResourceAttributes target = TargetOf(spec);
  SetTarget(ctx, PolicyCrn(target.account_id, ""), "policy", std::string(kPolicyType));
  // Granting access to a resource needs Administrator on it: a policy naming another account's
  // resources is judged by that account's policies, where the caller has none.
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "iam-am.policy.create", target));
  Policy created =
      VEIL_TRY_VALUE(deps.service->CreatePolicy(target.account_id, std::move(spec), caller.iam_id));
  SetTarget(ctx, PolicyCrn(created.account_id, created.id), created.id, std::string(kPolicyType));
  ctx.event().message = "IAM Access Management: create " +
                        std::string(PolicyTypeName(created.type)) + " policy " + created.id;
  return Json(201, PolicyJson(created));
}

// GET /v1/policies?account_id&iam_id&type&service_name: the account's policies the caller may
// read, filtered.
Result<http::Response> ListPolicies(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  const std::string account = VEIL_TRY_VALUE(ListingAccount(ctx, caller));
  const http::Request& req = ctx.request();
  const auto iam_id = req.Query("iam_id");
  const auto type = req.Query("type");
  const auto service = req.Query("service_name");
  auto policies = VEIL_TRY_VALUE(deps.service->ListPolicies(account));
  boost::json::array items;
  for (const Policy& p : policies) {
    if (iam_id && p.SubjectValue("iam_id") != *iam_id) continue;
    if (type && PolicyTypeName(p.type) != *type) continue;
    if (service && p.ResourceValue("serviceName") != *service) continue;
    if (!VEIL_TRY_VALUE(MayRead(deps, caller, p))) continue;
    items.push_back(PolicyJson(p));
  }
  boost::json::object out;
  out["policies"] = std::move(items);
  SetTarget(ctx, PolicyCrn(account, ""), "policies", std::string(kPolicyType));
  ctx.event().message = "IAM Access Management: list policies";
  return Json(200, out);
}

Result<http::Response> GetPolicy(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  Policy p =
      VEIL_TRY_VALUE(AuthorizedPolicy(deps, ctx, caller, "iam-am.policy.read",
                                      [&](const Policy& q) { return MayRead(deps, caller, q); }));
  ctx.event().message = "IAM Access Management: read policy " + p.id;
  return Json(200, PolicyJson(p));
}

Result<http::Response> ReplacePolicy(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  PolicySpec spec = VEIL_TRY_VALUE(ParsePolicySpec(body));
  // Both the old and the new target: a policy cannot be moved onto what the caller does not
  // administer.
  Policy current = VEIL_TRY_VALUE(AuthorizedPolicy(
      deps, ctx, caller, "iam-am.policy.update",
      [&](const Policy& q) { return MayChange(deps, caller, "iam-am.policy.update", q); }));
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "iam-am.policy.update", TargetOf(spec)));
  const std::string if_match(ctx.request().headers.Get("If-Match").value_or(""));
  Policy updated = VEIL_TRY_VALUE(
      deps.service->ReplacePolicy(current.id, if_match, std::move(spec), caller.iam_id));
  ctx.event().message = "IAM Access Management: update policy " + updated.id;
  return Json(200, PolicyJson(updated));
}

Result<http::Response> DeletePolicy(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  Policy p = VEIL_TRY_VALUE(AuthorizedPolicy(
      deps, ctx, caller, "iam-am.policy.delete",
      [&](const Policy& q) { return MayChange(deps, caller, "iam-am.policy.delete", q); }));
  VEIL_TRY(deps.service->DeletePolicy(p.id));
  ctx.event().severity = "warning";
  ctx.event().message = "IAM Access Management: delete policy " + p.id;
  return http::Response::Empty(204);
}

// ---- POST /v2/authz ----

boost::json::object ItemError(std::string_view status, std::string_view message) {
  boost::json::object error;
  error["message"] = message;
  boost::json::object out;
  out["status"] = status;
  out["error"] = std::move(error);
  return out;
}

// Who may ask about whom: a Veil service about anyone; anyone about themselves; and whoever may
// read the policies of the resource (Viewer on it), since the answer tells them nothing more.
// A token payload is trusted only from a service (it is not verified here). `subject` is nullopt
// when the item names no identity the caller may know of.
Result<bool> MayAsk(const IamApiDeps& deps, const Subject& caller, const AuthzItem& item,
                    const std::optional<Subject>& subject, const ResourceAttributes& resource) {
  if (caller.type == Subject::Type::kService) return true;
  if (!item.access_token_body.empty()) return false;
  if (subject && subject->type != Subject::Type::kService && subject->iam_id == caller.iam_id) {
    return true;
  }
  Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, "iam-am.policy.read", resource));
  return d.permitted;
}

// The subject of one item as far as the caller may know it (IamService::DecisionSubject): whether
// the caller may ask is decided before an unknown subject is told apart from a known one, so the
// 404 of an unknown subject says nothing about other accounts.
Result<std::optional<Subject>> VisibleSubject(const IamApiDeps& deps, const Subject& caller,
                                              const AuthzItem& item) {
  IamService::DecisionSubjectRef ref;
  ref.service_name = item.subject_service;
  ref.service_account = item.subject_account;
  ref.service_instance = item.subject_instance;
  ref.iam_id = item.subject_id;
  if (ref.service_name.empty() && !item.access_token_body.empty()) {
    ref.iam_id = VEIL_TRY_VALUE(AccessTokenSubject(item.access_token_body));
  }
  return deps.service->DecisionSubject(caller, ref);
}

Result<http::Response> Authz(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  auto items = VEIL_TRY_VALUE(ParseAuthzBatch(body));
  boost::json::array responses;
  int permitted = 0;
  for (const Result<AuthzItem>& item : items) {
    if (!item) {
      responses.push_back(ItemError("400", item.error().message));
      continue;
    }
    ResourceAttributes resource{item->resource_account, item->resource_service,
                                item->resource_instance, item->resource_type, item->resource};
    auto subject = VisibleSubject(deps, caller, *item);
    if (!subject) {
      if (subject.error().code != ErrorCode::kInvalidArgument) {
        return tl::unexpected(subject.error());
      }
      responses.push_back(ItemError("400", subject.error().message));
      continue;
    }
    if (!VEIL_TRY_VALUE(MayAsk(deps, caller, *item, *subject, resource))) {
      responses.push_back(ItemError("403", "not allowed to ask about this subject"));
      continue;
    }
    if (!*subject) {
      responses.push_back(ItemError("404", "the subject names no user or service ID"));
      continue;
    }
    Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(**subject, item->action, resource));
    if (d.permitted) ++permitted;
    boost::json::object decision;
    decision["permitted"] = d.permitted;
    decision["reason"] = d.reason;
    boost::json::object subject_attrs;
    subject_attrs["id"] = (*subject)->iam_id;
    boost::json::object obligation;
    obligation["actions"] = boost::json::array{boost::json::string(item->action)};
    obligation["maxCacheAgeSeconds"] = kDecisionMaxAgeSeconds;
    obligation["subject"] = boost::json::object{{"attributes", std::move(subject_attrs)}};
    decision["obligation"] = std::move(obligation);
    boost::json::object response;
    response["authorizationDecision"] = std::move(decision);
    response["status"] = "200";
    responses.push_back(std::move(response));
  }
  boost::json::object out;
  out["responses"] = std::move(responses);
  ctx.event().response_data["requests"] = static_cast<int64_t>(items.size());
  ctx.event().response_data["permitted"] = permitted;
  ctx.event().message = "IAM Access Management: authorization decisions";
  return Json(200, out);
}

}  // namespace

Status AddPolicyRoutes(http::Router& router, const IamApiDeps& deps) {
  using Ctx = http::RequestContext;
  VEIL_TRY(router.Add(
      "POST", "/v1/policies", [deps](Ctx& ctx) { return CreatePolicy(deps, ctx); },
      Authenticated("iam-am.policy.create")));
  VEIL_TRY(router.Add(
      "GET", "/v1/policies", [deps](Ctx& ctx) { return ListPolicies(deps, ctx); },
      Authenticated("iam-am.policy.list")));
  VEIL_TRY(router.Add(
      "GET", "/v1/policies/{id}", [deps](Ctx& ctx) { return GetPolicy(deps, ctx); },
      Authenticated("iam-am.policy.read")));
  VEIL_TRY(router.Add(
      "PUT", "/v1/policies/{id}", [deps](Ctx& ctx) { return ReplacePolicy(deps, ctx); },
      Authenticated("iam-am.policy.update")));
  VEIL_TRY(router.Add(
      "DELETE", "/v1/policies/{id}", [deps](Ctx& ctx) { return DeletePolicy(deps, ctx); },
      Authenticated("iam-am.policy.delete")));
  VEIL_TRY(router.Add(
      "POST", "/v2/authz", [deps](Ctx& ctx) { return Authz(deps, ctx); },
      Authenticated("iam-am.authz.read")));
  return OkStatus();
}

}  // namespace veil::iam::api::internal
