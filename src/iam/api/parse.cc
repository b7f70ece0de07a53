#include "iam/api/parse.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/json.h"
#include "http/json_body.h"
#include "http/request.h"
#include "iam/jwt.h"

namespace veil::iam::api {
namespace {

constexpr size_t kMaxFormFields = 32;
constexpr size_t kMaxAuthzItems = 100;

Result<std::string> Component(std::string_view raw) {
  std::string plus(raw);
  for (char& c : plus) {
    if (c == '+') c = ' ';
  }
  auto decoded = http::PercentDecode(plus);
  if (!decoded) return InvalidArgument("malformed form encoding");
  return std::move(*decoded);
}

// An id field (iam_id, account_id): nullopt when absent or null; kInvalidArgument when empty,
// which names nothing and would only be looked up to be refused later.
Result<std::optional<std::string>> OptionalId(const boost::json::object& o, std::string_view name) {
  auto v = VEIL_TRY_VALUE(json::OptionalString(o, name));
  if (v && v->empty()) return InvalidArgument(std::string(name) + " must not be empty");
  return v;
}

Result<const boost::json::object*> Object(const boost::json::value& v) {
  if (!v.is_object()) return InvalidArgument("the body must be a JSON object");
  return &v.as_object();
}

Result<AuthzItem> ParseAuthzItem(const boost::json::value& v) {
  if (!v.is_object()) return InvalidArgument("each request must be an object");
  const boost::json::object& o = v.as_object();
  AuthzItem item;
  const boost::json::value* subject = o.if_contains("subject");
  if (subject == nullptr || !subject->is_object()) return InvalidArgument("subject is required");
  const boost::json::object& s = subject->as_object();
  if (auto body = VEIL_TRY_VALUE(json::OptionalString(s, "accessTokenBody"))) {
    item.access_token_body = std::move(*body);
  } else {
    const boost::json::value* attrs = s.if_contains("attributes");
    if (attrs == nullptr || !attrs->is_object()) {
      return InvalidArgument("subject needs attributes or accessTokenBody");
    }
    const boost::json::object& a = attrs->as_object();
    item.subject_id = VEIL_TRY_VALUE(json::OptionalString(a, "id")).value_or("");
    item.subject_service = VEIL_TRY_VALUE(json::OptionalString(a, "serviceName")).value_or("");
    item.subject_account = VEIL_TRY_VALUE(json::OptionalString(a, "accountId")).value_or("");
    item.subject_instance = VEIL_TRY_VALUE(json::OptionalString(a, "serviceInstance")).value_or("");
    if (item.subject_id.empty() == item.subject_service.empty()) {
      return InvalidArgument("subject attributes need exactly one of id and serviceName");
    }
  }
  item.action = VEIL_TRY_VALUE(json::RequiredString(o, "action"));
  const boost::json::value* resource = o.if_contains("resource");
  const boost::json::value* rattrs = resource != nullptr && resource->is_object()
                                         ? resource->as_object().if_contains("attributes")
                                         : nullptr;
  if (rattrs == nullptr || !rattrs->is_object()) {
    return InvalidArgument("resource.attributes is required");
  }
  const boost::json::object& r = rattrs->as_object();
  item.resource_account = VEIL_TRY_VALUE(json::RequiredString(r, "accountId"));
  item.resource_service = VEIL_TRY_VALUE(json::OptionalString(r, "serviceName")).value_or("");
  item.resource_instance = VEIL_TRY_VALUE(json::OptionalString(r, "serviceInstance")).value_or("");
  item.resource_type = VEIL_TRY_VALUE(json::OptionalString(r, "resourceType")).value_or("");
  item.resource = VEIL_TRY_VALUE(json::OptionalString(r, "resource")).value_or("");
  return item;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> fields;
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    if (fields.size() == kMaxFormFields) return InvalidArgument("too many form fields");
    size_t eq = pair.find('=');
    std::string name = VEIL_TRY_VALUE(Component(pair.substr(0, eq)));
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : VEIL_TRY_VALUE(Component(pair.substr(eq + 1)));
    fields.emplace_back(std::move(name), std::move(value));
  }
  return fields;
}

std::optional<std::string_view> FindField(
    const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

Result<PageRequest> ParsePageQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  PageRequest page;
  if (auto size = FindField(query, "pagesize")) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(size->data(), size->data() + size->size(), n);
    if (ec != std::errc() || ptr != size->data() + size->size() || n < 1 || n > 100) {
      return InvalidArgument("pagesize must be 1-100");
    }
    page.size = n;
  }
  if (auto token = FindField(query, "pagetoken")) page.token = std::string(*token);
  return page;
}

Result<IamService::ServiceIdSpec> ParseServiceIdCreate(const boost::json::value& body,
                                                       std::string_view caller_account) {
  const boost::json::object& o = *VEIL_TRY_VALUE(Object(body));
  IamService::ServiceIdSpec spec;
  spec.name = VEIL_TRY_VALUE(json::RequiredString(o, "name"));
  spec.description = VEIL_TRY_VALUE(json::OptionalString(o, "description")).value_or("");
  spec.account_id =
      VEIL_TRY_VALUE(OptionalId(o, "account_id")).value_or(std::string(caller_account));
  return spec;
}

Result<IamService::Update> ParseUpdate(const boost::json::value& body) {
  const boost::json::object& o = *VEIL_TRY_VALUE(Object(body));
  IamService::Update update;
  update.name = VEIL_TRY_VALUE(json::OptionalString(o, "name"));
  update.description = VEIL_TRY_VALUE(json::OptionalString(o, "description"));
  if (!update.name && !update.description) {
    return InvalidArgument("nothing to update: give name or description");
  }
  return update;
}

Result<ApiKeyCreate> ParseApiKeyCreate(const boost::json::value& body,
                                       std::string_view caller_iam_id) {
  const boost::json::object& o = *VEIL_TRY_VALUE(Object(body));
  ApiKeyCreate out;
  out.spec.name = VEIL_TRY_VALUE(json::RequiredString(o, "name"));
  out.spec.description = VEIL_TRY_VALUE(json::OptionalString(o, "description")).value_or("");
  out.spec.iam_id = VEIL_TRY_VALUE(OptionalId(o, "iam_id")).value_or(std::string(caller_iam_id));
  out.account_id = VEIL_TRY_VALUE(OptionalId(o, "account_id")).value_or("");
  if (const boost::json::value* store = o.if_contains("store_value")) {
    if (!store->is_bool()) return InvalidArgument("store_value must be a boolean");
    if (store->as_bool()) {
      return InvalidArgument("store_value true is not supported: Veil never keeps an API key");
    }
  }
  return out;
}

Result<IamService::InstanceSpec> ParseInstanceCreate(const boost::json::value& body,
                                                     std::string_view caller_account) {
  const boost::json::object& o = *VEIL_TRY_VALUE(Object(body));
  IamService::InstanceSpec spec;
  spec.name = VEIL_TRY_VALUE(json::RequiredString(o, "name"));
  spec.resource_id = VEIL_TRY_VALUE(json::RequiredString(o, "resource_id"));
  spec.target = VEIL_TRY_VALUE(json::OptionalString(o, "target")).value_or("");
  spec.account_id =
      VEIL_TRY_VALUE(OptionalId(o, "account_id")).value_or(std::string(caller_account));
  return spec;
}

Result<IamService::ResourceKeySpec> ParseResourceKeyCreate(const boost::json::value& body,
                                                           std::string_view caller_account) {
  const boost::json::object& o = *VEIL_TRY_VALUE(Object(body));
  IamService::ResourceKeySpec spec;
  spec.account_id = std::string(caller_account);
  spec.name = VEIL_TRY_VALUE(json::RequiredString(o, "name"));
  spec.source = VEIL_TRY_VALUE(json::RequiredString(o, "source"));
  const std::string role = VEIL_TRY_VALUE(json::RequiredString(o, "role"));
  spec.role = VEIL_TRY_VALUE(ParseResourceKeyRole(role));
  if (const boost::json::value* params = o.if_contains("parameters");
      params != nullptr && !params->is_null()) {
    if (!params->is_object()) return InvalidArgument("parameters must be an object");
    const boost::json::object& p = params->as_object();
    spec.hmac = VEIL_TRY_VALUE(json::OptionalBool(p, "HMAC")).value_or(false);
    if (p.contains("serviceid_crn")) {
      return InvalidArgument(
          "parameters.serviceid_crn is not supported: a resource key gets a service ID of its "
          "own");
    }
  }
  return spec;
}

Result<IamService::AccountSpec> ParseAccountCreate(const boost::json::value& body) {
  const boost::json::object& o = *VEIL_TRY_VALUE(Object(body));
  IamService::AccountSpec spec;
  spec.name = VEIL_TRY_VALUE(json::RequiredString(o, "name"));
  if (auto owner = VEIL_TRY_VALUE(json::OptionalString(o, "owner_name"))) spec.owner_name = *owner;
  spec.owner_email = VEIL_TRY_VALUE(json::OptionalString(o, "owner_email")).value_or("");
  // IBM names an existing user as the owner; a Veil account's first administrator is made with
  // it, and an identity of another account can never own one.
  if (o.contains("owner_iam_id")) {
    return InvalidArgument(
        "owner_iam_id is not supported: the account's first administrator is created with it "
        "(owner_name, owner_email)");
  }
  return spec;
}

Result<std::vector<Result<AuthzItem>>> ParseAuthzBatch(const boost::json::value& body) {
  if (!body.is_array() || body.as_array().empty()) {
    return InvalidArgument("the body must be a non-empty array of requests");
  }
  if (body.as_array().size() > kMaxAuthzItems) {
    return InvalidArgument("at most 100 requests per batch");
  }
  std::vector<Result<AuthzItem>> items;
  for (const boost::json::value& v : body.as_array()) items.push_back(ParseAuthzItem(v));
  return items;
}

Result<std::string> AccessTokenSubject(std::string_view access_token_body) {
  auto claims = DecodePayloadUnverified(access_token_body);
  const boost::json::value* id = claims ? claims->if_contains("iam_id") : nullptr;
  if (id == nullptr || !id->is_string()) {
    return InvalidArgument("accessTokenBody is not a token payload with an iam_id");
  }
  return std::string(id->as_string());
}

}  // namespace veil::iam::api
