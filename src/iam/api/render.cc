#include "iam/api/render.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "common/bytes.h"

namespace veil::iam::api {
namespace {

std::string Time(TimePoint t) { return FormatRfc3339(t, TimePrecision::kMillis); }

}  // namespace

boost::json::object IdentityJson(const Identity& i) {
  boost::json::object o;
  o["id"] = i.id;
  o["iam_id"] = i.iam_id;
  o["entity_tag"] = std::to_string(i.version);
  o["crn"] = i.crn();
  o["locked"] = i.locked;
  o["created_at"] = Time(i.created_at);
  o["modified_at"] = Time(i.modified_at);
  o["account_id"] = i.account_id;
  o["name"] = i.name;
  o["description"] = i.description;
  if (i.kind == IdentityKind::kUser) {
    o["type"] = "user";
    if (!i.email.empty()) o["email"] = i.email;
  } else {
    o["type"] = "serviceid";
  }
  return o;
}

boost::json::object ApiKeyJson(const ApiKey& k, const SecretBytes* value) {
  boost::json::object o;
  o["id"] = k.id;
  o["entity_tag"] = std::to_string(k.version);
  o["crn"] = k.crn();
  o["locked"] = k.locked;
  o["created_at"] = Time(k.created_at);
  o["created_by"] = k.created_by;
  o["modified_at"] = Time(k.modified_at);
  o["name"] = k.name;
  o["description"] = k.description;
  o["iam_id"] = k.iam_id;
  o["account_id"] = k.account_id;
  if (value != nullptr) o["apikey"] = boost::json::string(AsStringView(value->Reveal()));
  return o;
}

boost::json::object PolicyJson(const Policy& p) {
  boost::json::object o = PolicySpecToJson(p);
  boost::json::array roles;
  for (const Role& r : p.roles) {
    boost::json::object role;
    role["role_id"] = r.role_id();
    role["display_name"] = r.name;
    role["description"] = RoleDescription(r);
    roles.push_back(std::move(role));
  }
  o["roles"] = std::move(roles);
  o["description"] = p.description;
  o["id"] = p.id;
  o["href"] = "/v1/policies/" + p.id;
  o["account_id"] = p.account_id;
  o["entity_tag"] = std::to_string(p.version);
  o["created_at"] = Time(p.created_at);
  o["created_by_id"] = p.created_by;
  o["last_modified_at"] = Time(p.modified_at);
  o["last_modified_by_id"] = p.modified_by;
  return o;
}

boost::json::object InstanceJson(const ResourceInstance& r) {
  boost::json::object o;
  o["id"] = r.crn;
  o["guid"] = r.guid;
  o["crn"] = r.crn;
  o["url"] = "/v2/resource_instances/" + r.guid;
  o["name"] = r.name;
  o["region_id"] = r.region;
  o["account_id"] = r.account_id;
  o["resource_id"] = r.resource_id;
  o["state"] = r.state;
  o["type"] = "service_instance";
  o["created_at"] = Time(r.created_at);
  o["updated_at"] = Time(r.updated_at);
  o["created_by"] = r.created_by;
  return o;
}

namespace {

boost::json::object KeyCredentialsJson(const ResourceKey& k, const std::string& role_id,
                                       const IamService::CreatedResourceKey* created) {
  boost::json::object c;
  if (created != nullptr) c["apikey"] = boost::json::string(AsStringView(created->apikey.Reveal()));
  c["iam_apikey_id"] = k.apikey_id;
  c["iam_apikey_name"] = "auto-generated-apikey-" + k.guid;
  c["iam_apikey_description"] = "Auto-generated for resource key " + k.guid;
  c["iam_role_crn"] = role_id;
  const std::string service_id = k.iam_id.substr(std::min(k.iam_id.size(), size_t{4}));
  c["iam_serviceid_crn"] = IdentityCrn(k.account_id, "serviceid", service_id);
  c["resource_instance_id"] = k.source_crn;
  if (!k.access_key_id.empty()) {
    boost::json::object hmac;
    hmac["access_key_id"] = k.access_key_id;
    if (created != nullptr) {
      hmac["secret_access_key"] =
          boost::json::string(AsStringView(created->secret_access_key.Reveal()));
    }
    c["cos_hmac_keys"] = std::move(hmac);
  }
  return c;
}

}  // namespace

boost::json::object ResourceKeyJson(const ResourceKey& k,
                                    const IamService::CreatedResourceKey* created) {
  const std::string role_id =
      Role{RoleKind::kService, k.role, ""}.role_id();  // a generic service role
  boost::json::object o;
  o["id"] = k.crn;
  o["guid"] = k.guid;
  o["crn"] = k.crn;
  o["url"] = "/v2/resource_keys/" + k.guid;
  o["name"] = k.name;
  o["account_id"] = k.account_id;
  o["source_crn"] = k.source_crn;
  o["resource_instance_url"] = "/v2/resource_instances/" + k.instance_guid;
  o["role"] = role_id;
  o["state"] = k.state;
  o["iam_compatible"] = true;
  o["created_at"] = Time(k.created_at);
  o["updated_at"] = Time(k.updated_at);
  o["created_by"] = k.created_by;
  o["credentials"] = KeyCredentialsJson(k, role_id, created);
  return o;
}

std::string AccountCrn(std::string_view operator_account, std::string_view account_id) {
  return "crn:v1:veil:private:enterprise::a/" + std::string(operator_account) +
         "::account:" + std::string(account_id);
}

boost::json::object AccountJson(const Account& a, std::string_view operator_account) {
  boost::json::object o;
  o["url"] = "/v1/accounts/" + a.id;
  o["id"] = a.id;
  o["crn"] = AccountCrn(operator_account, a.id);
  o["name"] = a.name;
  o["state"] = a.active ? "ACTIVE" : "SUSPENDED";
  o["owner_iam_id"] = a.owner_iam_id;
  o["is_enterprise_account"] = a.id == operator_account;
  o["created_at"] = Time(a.created_at);
  o["created_by"] = a.created_by;
  return o;
}

boost::json::object CreatedAccountJson(const IamService::CreatedAccount& created) {
  boost::json::object o;
  o["account_id"] = created.account.id;
  o["owner_iam_id"] = created.admin.iam_id;
  o["iam_apikey_id"] = created.key.id;
  o["iam_apikey"] = boost::json::string(AsStringView(created.apikey.Reveal()));
  return o;
}

boost::json::object JwksJson(const std::vector<PublishedKey>& keys) {
  boost::json::array list;
  for (const PublishedKey& k : keys) {
    boost::json::object o;
    o["kty"] = "RSA";
    o["kid"] = k.kid;
    o["alg"] = "RS256";
    o["use"] = "sig";
    o["n"] = k.jwk.n;
    o["e"] = k.jwk.e;
    list.push_back(std::move(o));
  }
  boost::json::object out;
  out["keys"] = std::move(list);
  return out;
}

boost::json::object TokenJson(const IssuedToken& t) {
  boost::json::object o;
  o["access_token"] = t.access_token;
  o["refresh_token"] = "not_supported";
  o["token_type"] = "Bearer";
  o["expires_in"] = t.expires_in.count();
  o["expiration"] =
      std::chrono::duration_cast<std::chrono::seconds>(t.expiration.time_since_epoch()).count();
  o["scope"] = "ibm openid";
  return o;
}

}  // namespace veil::iam::api
