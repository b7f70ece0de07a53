// Pure parsers of IAM request bodies and query parameters (no I/O, no database): the "parse"
// step of the handlers, unit-tested and fuzzable. Every error is kInvalidArgument naming the
// field, never quoting a value that may be a secret.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "iam/iam_service.h"
#include "iam/model.h"

namespace veil::iam::api {

// application/x-www-form-urlencoded: '&'-separated "name=value" pairs, '+' is a space,
// percent-escapes decoded. kInvalidArgument for a malformed escape, a NUL, or over 32 fields.
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> ParseForm(
    std::string_view body);

// The first value of `name` in a parsed form or query.
std::optional<std::string_view> FindField(
    const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name);

// pagesize (1-100, default 20) and pagetoken from a query.
//
// In the bodies below, an id field that is given (iam_id, account_id) must not be empty.
[[nodiscard]] Result<PageRequest> ParsePageQuery(
    const std::vector<std::pair<std::string, std::string>>& query);

// {"name", "description"?, "account_id"?}: account_id defaults to `caller_account`.
[[nodiscard]] Result<IamService::ServiceIdSpec> ParseServiceIdCreate(
    const boost::json::value& body, std::string_view caller_account);

// {"name"?, "description"?} for PUT on service IDs and API keys (at least one).
[[nodiscard]] Result<IamService::Update> ParseUpdate(const boost::json::value& body);

// {"name", "description"?, "iam_id"?, "account_id"?, "store_value"?}: iam_id defaults to
// `caller_iam_id`; store_value true is refused (Veil never keeps a key's value); account_id, if
// given, is returned for the caller to check against the owner's.
struct ApiKeyCreate {
  IamService::ApiKeySpec spec;
  std::string account_id;
};
[[nodiscard]] Result<ApiKeyCreate> ParseApiKeyCreate(const boost::json::value& body,
                                                     std::string_view caller_iam_id);

// {"name", "resource_id", "target"?, "account_id"?}: also accepts IBM's "resource_plan_id" and
// "resource_group" and ignores them.
[[nodiscard]] Result<IamService::InstanceSpec> ParseInstanceCreate(const boost::json::value& body,
                                                                   std::string_view caller_account);

// {"name", "source", "role", "parameters"?: {"HMAC"?: bool}} for POST /v2/resource_keys: source
// is the instance's GUID or CRN; role is read by ParseResourceKeyRole (iam_service.h) and given
// back as its name; account_id is the caller's. IBM's "resource_group_id" is ignored;
// parameters.serviceid_crn (IBM: use an existing service ID) is refused: a key always gets its
// own. Other parameters are ignored.
[[nodiscard]] Result<IamService::ResourceKeySpec> ParseResourceKeyCreate(
    const boost::json::value& body, std::string_view caller_account);

// {"name", "owner_name"? (default "admin"), "owner_email"?} for POST /v1/accounts; IBM's
// "parent" is ignored, "owner_iam_id" refused (the first administrator is made with the account).
[[nodiscard]] Result<IamService::AccountSpec> ParseAccountCreate(const boost::json::value& body);

// One request of a POST /v2/authz batch.
struct AuthzItem {
  // Exactly one of: an iam_id ("attributes":{"id"}), a service ("attributes":{"serviceName",
  // "accountId"?, "serviceInstance"?}), or a JWT payload segment ("accessTokenBody").
  std::string subject_id;
  std::string subject_service;
  std::string subject_account;
  std::string subject_instance;
  std::string access_token_body;
  std::string action;
  std::string resource_account;
  std::string resource_service;
  std::string resource_instance;
  std::string resource_type;
  std::string resource;
};
// The body of POST /v2/authz: an array of 1-100 items. A malformed item is returned as an
// error in its slot (the batch answers it with status "400"); a body that is not an array of
// objects, or holds too many, fails as a whole.
[[nodiscard]] Result<std::vector<Result<AuthzItem>>> ParseAuthzBatch(
    const boost::json::value& body);

// The iam_id of an accessTokenBody: the base64url payload segment of a JWT, a JSON object with a
// string "iam_id" (read with DecodePayloadUnverified, iam/jwt.h: not verified here, only a service
// may ask with one). kInvalidArgument otherwise.
[[nodiscard]] Result<std::string> AccessTokenSubject(std::string_view access_token_body);

}  // namespace veil::iam::api
