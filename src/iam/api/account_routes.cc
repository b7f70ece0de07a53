// The operator's accounts API (/v1/accounts), in the shapes of IBM's Enterprise Management API.
//
// Every call is judged on the operator's account (IamService::OperatorAccountId, the first
// account): the Enterprise service's "account" resources there. So only policies of the
// operator's account can allow it, and a tenant's administrator, whose policies all live in the
// tenant's account, is refused like anyone else (deny by default).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "iam/api/handler_support.h"
#include "iam/api/parse.h"
#include "iam/api/render.h"

namespace veil::iam::api::internal {
namespace {

constexpr std::string_view kAccountType = "enterprise/account";

// The account `id` (empty: every account) as the resource the operator's policies name.
ResourceAttributes AccountResource(std::string_view operator_account, std::string_view id) {
  return {std::string(operator_account), "enterprise", "", "account", std::string(id)};
}

Result<http::Response> CreateAccount(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  boost::json::value body = VEIL_TRY_VALUE(ReadJson(ctx));
  IamService::AccountSpec spec = VEIL_TRY_VALUE(ParseAccountCreate(body));
  const std::string op = VEIL_TRY_VALUE(deps.service->OperatorAccountId());
  SetTarget(ctx, AccountCrn(op, ""), spec.name, std::string(kAccountType));
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "enterprise.account.create",
                             AccountResource(op, "")));
  auto created = VEIL_TRY_VALUE(deps.service->CreateAccountWithAdmin(spec, caller.iam_id));
  SetTarget(ctx, AccountCrn(op, created.account.id), created.account.name,
            std::string(kAccountType));
  ctx.event().message = "Enterprise Management: create account " + created.account.name +
                        " with administrator " + created.admin.iam_id;
  return Json(201, CreatedAccountJson(created));
}

// Every account, for a caller allowed to read them all (a listing that would be empty for
// everyone else is refused instead, so that tenants learn nothing).
Result<http::Response> ListAccounts(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  PageRequest page_request = VEIL_TRY_VALUE(ParsePageQuery(ctx.request().query));
  const std::string op = VEIL_TRY_VALUE(deps.service->OperatorAccountId());
  SetTarget(ctx, AccountCrn(op, ""), "accounts", std::string(kAccountType));
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "enterprise.account.read",
                             AccountResource(op, "")));
  auto page = VEIL_TRY_VALUE(deps.service->ListAccounts(page_request));
  boost::json::array items;
  for (const Account& a : page.items) items.push_back(AccountJson(a, op));
  boost::json::object out;
  out["rows_count"] = static_cast<int64_t>(items.size());
  out["next_url"] = page.next.empty() ? boost::json::value(nullptr)
                                      : boost::json::value("/v1/accounts?pagetoken=" + page.next);
  out["resources"] = std::move(items);
  ctx.event().message = "Enterprise Management: list accounts";
  return Json(200, out);
}

Result<http::Response> GetAccount(const IamApiDeps& deps, http::RequestContext& ctx) {
  Subject caller = VEIL_TRY_VALUE(Caller(ctx));
  const std::string id(ctx.request().PathParam("id").value_or(""));
  const std::string op = VEIL_TRY_VALUE(deps.service->OperatorAccountId());
  SetTarget(ctx, AccountCrn(op, id), id, std::string(kAccountType));
  // Authorized before the lookup: whether an account exists is the operator's to know.
  VEIL_TRY(RequirePermission(*deps.authorizer, caller, "enterprise.account.read",
                             AccountResource(op, id)));
  Account account = VEIL_TRY_VALUE(deps.service->GetAccount(id));
  SetTarget(ctx, AccountCrn(op, id), account.name, std::string(kAccountType));
  ctx.event().message = "Enterprise Management: read account " + account.name;
  return Json(200, AccountJson(account, op));
}

}  // namespace

Status AddAccountRoutes(http::Router& router, const IamApiDeps& deps) {
  using Ctx = http::RequestContext;
  VEIL_TRY(router.Add(
      "POST", "/v1/accounts", [deps](Ctx& ctx) { return CreateAccount(deps, ctx); },
      Authenticated("enterprise.account.create")));
  VEIL_TRY(router.Add(
      "GET", "/v1/accounts", [deps](Ctx& ctx) { return ListAccounts(deps, ctx); },
      Authenticated("enterprise.account.list")));
  VEIL_TRY(router.Add(
      "GET", "/v1/accounts/{id}", [deps](Ctx& ctx) { return GetAccount(deps, ctx); },
      Authenticated("enterprise.account.read")));
  return OkStatus();
}

}  // namespace veil::iam::api::internal
